"""Pairwise comparison: one call per presentation order, the answer parsed to a slot.

The plain LLMBar-style judge (Zeng et al. 2024, arXiv 2310.07641); judging
both orders exposes position bias (Zheng et al. 2023, arXiv 2306.05685).
The judge that reads each order's answer from log-probabilities instead of
the text is ``judgekit.judge.strategies.logprob``.
"""

from __future__ import annotations

import asyncio

from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies.base import Calls, PairwiseStrategy, register
from judgekit.judge.strategies.common import PAIR_VARIABLES, judge_order, verdict
from judgekit.records import Example, Verdict


@register("pairwise")
class Pairwise(PairwiseStrategy):
    """One comparing call per order; agreeing orders decide, disagreeing ones follow ``order_conflict``."""

    templates = ("compare",)
    variables = PAIR_VARIABLES
    reads = "slot"

    def calls_per_item(self, protocol: Protocol) -> int:
        return len(protocol.swaps)

    async def run(self, protocol: Protocol, example: Example, calls: Calls[Example]) -> Verdict:
        orders = await asyncio.gather(*(judge_order(calls, swapped) for swapped in protocol.swaps))
        return verdict(calls, orders)
