"""Decompose, then critique (DeCRIM, Ferraz et al. 2024, arXiv 2410.06458).

A ``decompose`` call lists the instruction's constraints (once per example);
a ``critique`` call per response judges each constraint satisfied or not,
with a reason. The response satisfying the larger share of constraints wins;
equal shares tie. The critiques are kept in ``details``; the replies are the calls ``decompose``,
``critique_a`` and ``critique_b``.
"""

from __future__ import annotations

from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies.base import Calls, PairwiseStrategy, register
from judgekit.judge.strategies.checklist import ITEM_VARIABLES, decompose, judge_items
from judgekit.records import Example, Verdict

VERDICT_WORDS = {"satisfied": True, "not satisfied": False, "unsatisfied": False}


@register("decompose_critique")
class DecomposeCritique(PairwiseStrategy):
    """``decompose`` into constraints, ``critique`` each response; the larger satisfied share wins."""

    templates = ("decompose", "critique")
    variables = ITEM_VARIABLES

    def calls_per_item(self, protocol: Protocol) -> int:
        return 3

    async def run(self, protocol: Protocol, example: Example, calls: Calls[Example]) -> Verdict:
        constraints = await decompose(calls)
        if not constraints:
            return Verdict(example_id=example.id, winner=None, invalid_reason="no_constraints", usage=calls.usage())
        result = await judge_items(calls, "critique", constraints, VERDICT_WORDS)
        details = {"constraints": constraints, "critiques": result.details["answers"],
                   "satisfied_share": result.details["satisfied_share"]}
        return result.model_copy(update={"details": details})
