"""Swap and synthesize: judge both orders with reasoning; if they disagree, a third call
reads both rationales and decides (LLMBar "Swap", Zeng et al. 2024, arXiv 2310.07641).

The synthesis sees the outputs in the original order; its template is told
that the second rationale saw them the other way round (the call ``synthesize``). Agreeing orders need
no synthesis; an unparseable order makes the verdict invalid (as everywhere).
"""

from __future__ import annotations

import asyncio

from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies.base import Calls, PairwiseStrategy, register
from judgekit.judge.strategies.common import PAIR_VARIABLES, judge_order, pair_values, parse_slot, to_label
from judgekit.records import Example, Verdict


@register("swap_synthesize")
class SwapSynthesize(PairwiseStrategy):
    """Both orders; a ``synthesize`` call settles them when they disagree."""

    combines_orders = True
    templates = ("compare", "synthesize")
    variables = PAIR_VARIABLES | {"rationale_1", "rationale_2"}
    reads = "slot"
    needs_both_orders = True

    def calls_per_item(self, protocol: Protocol) -> str:
        return "2-3 (3 when the orders disagree)"

    async def run(self, protocol: Protocol, example: Example, calls: Calls[Example]) -> Verdict:
        original, swapped = await asyncio.gather(judge_order(calls, False), judge_order(calls, True))
        if original.winner is None or swapped.winner is None:
            winner, reason = None, "unparseable"
        elif original.winner == swapped.winner:
            winner, reason = original.winner, None
        else:
            completion = await calls.ask(
                "synthesize", stage="synthesize", rationale_1=original.raw, rationale_2=swapped.raw,
                **pair_values(example, False),
            )
            winner = to_label(parse_slot(protocol, completion.text), False)
            reason = None if winner is not None else "unparseable"
        return Verdict(example_id=example.id, winner=winner, orders=(original, swapped), invalid_reason=reason,
                       usage=calls.usage())
