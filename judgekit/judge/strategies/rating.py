"""Rating: score each response on its own, then compare the scores (LLMBar "Rating",
Zeng et al. 2024, arXiv 2310.07641; single-answer grading in Zheng et al. 2023, arXiv 2306.05685).

No presentation order exists, so the verdict has one order entry (``swapped``
False) carrying both scores. Equal scores are an explicit tie. Each reply is
kept in ``details`` under its stage name (``rate_a``, ``rate_b``).
"""

from __future__ import annotations

import asyncio

from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies.base import Calls, Strategy, register
from judgekit.judge.strategies.common import SINGLE_VARIABLES, read_score
from judgekit.records import Example, OrderResult, Verdict


@register("rating")
class Rating(Strategy):
    """``rate`` scores each response alone; the higher score wins."""

    templates = ("rate",)
    variables = SINGLE_VARIABLES
    reads = "score"

    def calls_per_item(self, protocol: Protocol) -> int:
        return 2

    async def run(self, protocol: Protocol, example: Example, calls: Calls) -> Verdict:
        replies = await asyncio.gather(*(
            calls.ask("rate", stage=f"rate_{label}", instruction=example.instruction, response=response,
                      reference=example.reference)
            for label, response in (("a", example.response_a), ("b", example.response_b))
        ))
        scores = {label: read_score(protocol, c.text) for label, c in zip("ab", replies)}
        raw = f"[a]\n{replies[0].text}\n[b]\n{replies[1].text}"
        texts = {"rate_a": replies[0].text, "rate_b": replies[1].text}
        if None in scores.values():
            order = OrderResult(swapped=False, raw=raw, winner=None)
            return Verdict(example_id=example.id, winner=None, orders=(order,), invalid_reason="unparseable",
                           details={"scores": scores, **texts}, usage=calls.usage())
        winner = "a" if scores["a"] > scores["b"] else "b" if scores["b"] > scores["a"] else "tie"
        order = OrderResult(swapped=False, raw=raw, winner=winner, scores=scores)
        return Verdict(example_id=example.id, winner=winner, orders=(order,), details={"scores": scores, **texts},
                       usage=calls.usage())
