"""Rating: score each response on its own, then compare the scores (LLMBar "Rating",
Zeng et al. 2024, arXiv 2310.07641; single-answer grading in Zheng et al. 2023, arXiv 2306.05685).

No presentation order exists, so the verdict has one order entry (``swapped``
False) carrying both scores. Equal scores are an explicit tie. The replies are
the calls ``rate_a`` and ``rate_b`` (kept in the verdict's ``transcript``). How sure the judge was is
the gap between the two scores over the run's spread of scores (:meth:`Rating.confidence`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies.base import Calls, PairwiseStrategy, register
from judgekit.judge.strategies.common import SINGLE_VARIABLES, read_score
from judgekit.records import Example, OrderResult, Verdict


@register("rating")
class Rating(PairwiseStrategy):
    """``rate`` scores each response alone; the higher score wins."""

    templates = ("rate",)
    variables = SINGLE_VARIABLES
    reads = "score"
    confidence_source = "rating gap"

    def calls_per_item(self, protocol: Protocol) -> int:
        return 2

    async def run(self, protocol: Protocol, example: Example, calls: Calls[Example]) -> Verdict:
        replies = await asyncio.gather(*(
            calls.ask("rate", stage=f"rate_{label}", instruction=example.instruction, response=response,
                      reference=example.reference)
            for label, response in (("a", example.response_a), ("b", example.response_b))
        ))
        scores = {label: read_score(protocol, c.text) for label, c in zip("ab", replies)}
        raw = f"[a]\n{replies[0].text}\n[b]\n{replies[1].text}"
        if None in scores.values():
            order = OrderResult(swapped=False, raw=raw, winner=None)
            return Verdict(example_id=example.id, winner=None, orders=(order,), invalid_reason="unparseable",
                           details={"scores": scores}, usage=calls.usage())
        winner = "a" if scores["a"] > scores["b"] else "b" if scores["b"] > scores["a"] else "tie"
        order = OrderResult(swapped=False, raw=raw, winner=winner, scores=scores)
        return Verdict(example_id=example.id, winner=winner, orders=(order,), details={"scores": scores},
                       usage=calls.usage())

    def confidence(self, results: Sequence[Verdict]) -> list[float | None]:
        """0.5 + 0.5 · |mean(s_a − s_b)| / range over the orders' scores, the range being the spread of all
        scores in the run; equal scores are 0.5."""
        return rating_gaps(results)


def rating_gaps(verdicts: Sequence[Verdict]) -> list[float | None]:
    """Each verdict's rating-gap confidence (see :meth:`Rating.confidence`); None without two scores."""
    scores = [s for v in verdicts for o in v.orders if o.scores for s in o.scores.values()]
    spread = (max(scores) - min(scores)) if scores else 0.0
    out: list[float | None] = []
    for verdict in verdicts:
        gaps = [o.scores["a"] - o.scores["b"] for o in verdict.orders
                if o.scores and "a" in o.scores and "b" in o.scores]
        out.append(0.5 + 0.5 * min(1.0, abs(sum(gaps) / len(gaps)) / spread) if gaps and spread > 0 else None)
    return out
