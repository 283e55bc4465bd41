"""Checklist judging with DRFR (InFoBench, Qin et al. 2024, arXiv 2401.03601).

The instruction becomes yes/no questions: the example's own checklist when it
has one, otherwise one ``decompose`` call (made once per example and shared
by both responses). A ``check`` call per response answers every question;
DRFR (decomposed requirements following ratio) = satisfied / total. Higher
DRFR wins; equal DRFR is a tie. Per-question answers go in ``details``; the replies are the calls
``decompose``, ``check_a`` and ``check_b``.
"""

from __future__ import annotations

import asyncio

from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies.base import Calls, PairwiseStrategy, register
from judgekit.judge.strategies.common import SINGLE_VARIABLES
from judgekit.judge.strategies.parsing import parse_list, parse_numbered
from judgekit.records import Example, OrderResult, Verdict

YES_NO = {"yes": True, "no": False}
ITEM_VARIABLES = SINGLE_VARIABLES | {"items"}
"""What a checklist or critique template may use: one response and the items."""


async def decompose(calls: Calls[Example]) -> list[str]:
    """The judge's list of items for the instruction."""
    completion = await calls.ask("decompose", instruction=calls.example.instruction)
    return parse_list(completion.text)


async def judge_items(calls: Calls[Example], template: str, items: list[str], words: dict[str, bool]) -> Verdict:
    """Ask ``template`` about every item for each response; the higher satisfied share wins.

    A response whose reply leaves an item unanswered makes the verdict invalid.
    The calls are ``<template>_a`` and ``<template>_b``.
    """
    example = calls.example
    replies = await asyncio.gather(*(
        calls.ask(template, stage=f"{template}_{label}", instruction=example.instruction, response=response,
                  items=items, reference=example.reference)
        for label, response in (("a", example.response_a), ("b", example.response_b))
    ))
    answers, shares = {}, {}
    for label, reply in zip("ab", replies):
        parsed = parse_numbered(reply.text, words)
        answers[label] = [
            {"item": item, "satisfied": parsed[i][0] if i in parsed else None, "reason": parsed.get(i, (None, ""))[1]}
            for i, item in enumerate(items, start=1)
        ]
        complete = all(i in parsed for i in range(1, len(items) + 1))
        shares[label] = sum(parsed[i][0] for i in range(1, len(items) + 1)) / len(items) if complete else None
    raw = f"[a]\n{replies[0].text}\n[b]\n{replies[1].text}"
    details = {"items": items, "answers": answers, "satisfied_share": shares}
    if None in shares.values():
        order = OrderResult(swapped=False, raw=raw, winner=None)
        return Verdict(example_id=example.id, winner=None, orders=(order,), invalid_reason="unparseable",
                       details=details, usage=calls.usage())
    winner = "a" if shares["a"] > shares["b"] else "b" if shares["b"] > shares["a"] else "tie"
    order = OrderResult(swapped=False, raw=raw, winner=winner, scores=shares)
    return Verdict(example_id=example.id, winner=winner, orders=(order,), details=details, usage=calls.usage())


@register("checklist")
class Checklist(PairwiseStrategy):
    """Yes/no questions (the dataset's, else ``decompose``d), ``check`` per response; DRFR decides."""

    templates = ("decompose", "check")
    variables = ITEM_VARIABLES

    def calls_per_item(self, protocol: Protocol) -> str:
        return "2-3 (3 when the judge writes the checklist)"

    async def run(self, protocol: Protocol, example: Example, calls: Calls[Example]) -> Verdict:
        questions, source = list(example.checklist), "dataset"
        if not questions:
            questions, source = await decompose(calls), "judge"
        if not questions:
            return Verdict(example_id=example.id, winner=None, invalid_reason="no_questions", usage=calls.usage())
        result = await judge_items(calls, "check", questions, YES_NO)
        details = {**result.details, "question_source": source, "drfr": result.details["satisfied_share"]}
        return result.model_copy(update={"details": details})
