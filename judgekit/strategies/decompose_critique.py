"""Decompose, then critique (DeCRIM, Ferraz et al. 2024, arXiv 2410.06458).

A ``decompose`` call lists the instruction's constraints (once per example);
a ``critique`` call per response judges each constraint satisfied or not,
with a reason. The response satisfying the larger share of constraints wins;
equal shares tie. The critiques are kept in ``details``.
"""

from __future__ import annotations

from typing import Any

from judgekit.records import Example, Verdict
from judgekit.strategies import checklist
from judgekit.strategies.checklist import decompose, judge_items
from judgekit.strategies.common import Calls

OPTIONS = frozenset()
VERDICT_WORDS = {"satisfied": True, "not satisfied": False, "unsatisfied": False}


def required_templates(protocol: Any) -> tuple[str, ...]:
    return ("decompose", "critique")


def template_variables(protocol: Any) -> frozenset[str]:
    return checklist.template_variables(protocol)


def calls_per_item(protocol: Any) -> int:
    return 3


async def run(protocol: Any, example: Example, call_path: Any) -> Verdict:
    calls = Calls(protocol, example, call_path)
    constraints, decomposition = await decompose(calls)
    if not constraints:
        return Verdict(example_id=example.id, winner=None, invalid_reason="no_constraints",
                       details={"decompose": decomposition}, usage=calls.usage())
    result = await judge_items(calls, "critique", constraints, VERDICT_WORDS)
    details = {"constraints": constraints, "critiques": result.details["answers"],
               "satisfied_share": result.details["satisfied_share"], "decompose": decomposition,
               "critique_a": result.details["critique_a"], "critique_b": result.details["critique_b"]}
    return result.model_copy(update={"details": details})
