"""Pairwise comparison: one call per presentation order, the answer parsed to a slot.

The plain LLMBar-style judge (Zeng et al. 2024, arXiv 2310.07641); judging
both orders exposes position bias (Zheng et al. 2023, arXiv 2306.05685).
With ``decide_by: logprobs`` each order's answer is read from the reply's
log-probabilities instead of its text (see ``common.judge_order``); the
order-debiased logprob judge is ``judgekit.strategies.logprob``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from judgekit.records import Example, Verdict
from judgekit.strategies.common import PAIR_VARIABLES, Calls, judge_order, verdict

OPTIONS = frozenset()


def required_templates(protocol: Any) -> tuple[str, ...]:
    return ("compare",)


def template_variables(protocol: Any) -> frozenset[str]:
    return PAIR_VARIABLES


def calls_per_item(protocol: Any) -> int:
    return len(protocol.swaps)


async def run(protocol: Any, example: Example, call_path: Any) -> Verdict:
    calls = Calls(protocol, example, call_path)
    orders = await asyncio.gather(*(judge_order(calls, swapped) for swapped in protocol.swaps))
    return verdict(calls, orders)
