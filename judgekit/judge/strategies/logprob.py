"""Order-debiased pairwise verdicts read from next-token log-probabilities.

Instead of parsing a generated answer, we force the answer prefix
``Output (`` (the LLMBar answer format, Zeng et al. 2024, arXiv 2310.07641)
and read how likely the next token is ``a`` versus ``b`` (``margins``). One
forward pass per presentation order gives a margin ``log P(first slot) - log
P(second slot)``. Small judges lean heavily toward one slot; following the
swap-and-average calibration of Wang et al. 2023 ("Large Language Models are
not Fair Evaluators", arXiv 2305.17926) and the position-swap check of Zheng
et al. 2023 (arXiv 2306.05685), we map both orders' margins into the
canonical a/b frame and average them. A constant pull toward one slot adds
with opposite signs in the two orders and cancels, so the combined verdict
cannot depend on the order: it is consistent by construction. Each order's
own margin and winner stay in ``Verdict.orders``, so the single-order
verdicts' positional agreement remains measurable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies.base import Calls, PairwiseStrategy, order_name, register
from judgekit.judge.strategies.common import PAIR_VARIABLES, pair_values
from judgekit.judge.strategies.margins import order_result, winner_of
from judgekit.records import Example, OrderResult, Usage, Verdict


def combine(example_id: str, orders: Sequence[OrderResult], details: dict[str, Any], usage: Usage) -> Verdict:
    """The order-debiased verdict: the sign of the mean canonical margin over the orders."""
    if any(o.margin is None for o in orders):
        return Verdict(
            example_id=example_id, winner=None, orders=tuple(orders),
            invalid_reason="no_answer_logprobs", details=details, usage=usage,
        )
    margin = sum(o.margin for o in orders) / len(orders)
    return Verdict(
        example_id=example_id, winner=winner_of(margin), orders=tuple(orders),
        details={**details, "margin": margin}, usage=usage,
    )


@register("logprob")
class Logprob(PairwiseStrategy):
    """One logprob call per presentation order; the mean canonical margin decides. How sure it was is the
    pairwise default: sigmoid(|mean margin|) (``base.margin_confidences``)."""

    combines_orders = True
    templates = ("compare",)
    variables = PAIR_VARIABLES
    needs_logprobs = True
    needs_continuation = True

    def calls_per_item(self, protocol: Protocol) -> int:
        return len(protocol.swaps)

    async def run(self, protocol: Protocol, example: Example, calls: Calls[Example]) -> Verdict:
        """Orders run one after the other, not concurrently, so on a local engine the
        second prompt reuses the KV cache of the first (they share the instruction)."""
        results, distributions = [], {}
        for swapped in protocol.swaps:
            completion = await calls.ask("compare", swapped=swapped, **pair_values(example, swapped))
            result, distribution = order_result(completion, swapped)
            results.append(result)
            distributions[order_name(swapped)] = dict(distribution) if distribution is not None else None
        return combine(example.id, results, {"top_logprobs": distributions}, calls.usage())
