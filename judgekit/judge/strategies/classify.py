"""Classify strategies: one output judged alone, answered with one label of the data's label set.

The label set is the data's, not the spec's: ``bind_labels`` puts it into
the protocol when a run starts (``Protocol.label_set``), so one spec judges
pass/fail, safe/unsafe/unsure or any categories, and a user's own rubric is a
spec file with no Python. Templates get the labels and what each means as
variables (``CLASSIFY_VARIABLES``); a spec may describe labels itself
(``options.labels``, name -> description, over the dataset card's) and say
what to judge (``options.rubric``). Few-shot examples come from the file the
spec's ``examples:`` names (in-context examples, Brown et al. 2020,
arXiv 2005.14165).

- ``classify`` (any number of labels) and ``classify_binary`` (exactly two):
  the judge answers with a label name, alone or on the last line after its
  reasoning (Wei et al. 2022, arXiv 2201.11903). Read strictly
  (:func:`read_label`): anything else is an invalid Classification keeping
  its raw text, ``unknown_label`` when the answer slot holds a word that is
  not a label, ``unparseable`` otherwise.
- ``logprob_classify``: the labels are shown as lettered options and the
  answer prefix is forced; the probabilities of the option letters at the
  answer position give the label (the likeliest) and its confidence,
  renormalised over the options (letters rather than label words, as in
  multiple-choice prompting, Robinson et al., ICLR 2023, arXiv 2210.12353:
  each option is one token whatever the tokenizer, where label words such
  as "unsafe" and "unsure" may share their first token). Works with the
  embedded model and any backend returning ``top_logprobs``; without them
  the Classification is invalid (``no_answer_logprobs``).
- ``classify_checklist``: yes/no items (the spec's ``options.items``, else
  the output's own program-checkable instructions (``INSTRUCTIONS_KEY``),
  else decomposed from the input by the judge, as InFoBench, Qin et al.
  2024, arXiv 2401.03601); the output passes only when every item passes
  (the all-constraints-met aggregation of DeCRIM, Ferraz et al. 2024, arXiv
  2410.06458). Needs a two-label set with a positive (problem) label: any
  failed item gives the positive label. With ``verify: program`` an item
  that maps to a registered IFEval instruction is answered by its checker
  and the judge is asked only the rest (code where it can, a judge where it
  cannot: RLCF, Viswanathan et al. 2025, arXiv 2507.18624); each answer
  says its ``source``, and ``details`` count ``decided_by`` source and give
  the item-level DRFR (satisfied / items).

An item the server refuses is an invalid Classification (``refused``, the
server's reason as raw text and in ``details["refused"]``).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import Field

from judgekit.backends.base import Completion, Refused
from judgekit.errors import BadInput
from judgekit.judge.protocol import LabelSet, Protocol, StrategyOptions
from judgekit.judge.strategies.base import Calls, ClassifyStrategy, get_strategy, options_of, register
from judgekit.judge.strategies.checklist import YES_NO
from judgekit.judge.strategies.parsing import clean, parse_list, parse_numbered
from judgekit.records import Classification, LabelledOutput

CLASSIFY_VARIABLES = frozenset({"input", "output", "context", "reference", "labels", "descriptions",
                                "positive_label", "rubric", "examples", "choices"})
"""What a classify template may use: the output and its input, the label set (``labels``: names in order;
``descriptions``: name -> meaning, '' when none; ``choices``: ``{key, label, description}`` with key the
option letter), the spec's rubric and the few-shot examples (``{input, output, label, context, note}``)."""

LETTERS = string.ascii_uppercase

_LEAD = re.compile(
    r"(?:(?:therefore|thus|so|hence|overall|in\s+conclusion|in\s+summary)\b,?\s*)?"
    r"(?:(?:the|my)\s+)?(?:final\s+)?(?:answer|label|verdict|decision|classification|category|judge?ment)"
    r"(?:\s+is)?\s*[:=\-]?\s*"
)
"""A lead-in announcing the label on the last line: "Label: fail", "Therefore, the final answer is pass"."""
_EDGES = " .!?:;,\"'()[]{}<>"
"""Wrapping a label may carry and still count as the label alone: "[[fail]]", "(pass).", "'unsafe'"."""


def bind_labels(protocol: Protocol, labels: LabelSet) -> Protocol:
    """The protocol with the data's label set bound, after checking that spec and data fit together.

    The spec's own label descriptions and few-shot labels must be labels of
    the data, no two labels may read the same in an answer, and the strategy
    may ask more (two labels, a problem label).
    """
    source = protocol.source
    strategy = get_strategy(protocol.strategy)
    if not isinstance(strategy, ClassifyStrategy):
        raise BadInput(f"{source}: strategy {strategy.name} does not judge labelled outputs")
    if len(labels.names) < 2:
        raise BadInput(f"{source}: the data's label set needs at least two labels, got {', '.join(labels.names)}")
    spelled: dict[str, str] = {}
    for name in labels.names:
        if _norm(name) in spelled:
            raise BadInput(f"labels '{spelled[_norm(name)]}' and '{name}' read the same in a judge's answer; "
                           "rename one")
        spelled[_norm(name)] = name
    known = ", ".join(labels.names)
    for name in options_of(protocol, ClassifyOptions).labels:
        if name not in labels.names:
            raise BadInput(f"{source}: options.labels: '{name}' is not one of the data's labels ({known})")
    for i, shot in enumerate(protocol.examples, start=1):
        if shot["label"] not in labels.names:
            raise BadInput(f"{source}: examples: example {i}'s label '{shot['label']}' is not one of the data's "
                           f"labels ({known})")
    strategy.check_labels(protocol, labels)
    return protocol.model_copy(update={"label_set": labels})


def read_label(text: str, names: Sequence[str]) -> tuple[str | None, str | None]:
    """(label, invalid reason) of a reply whose last line is one label, maybe after a lead-in.

    Only the last line counts (reasoning comes first); case, markdown
    emphasis and wrapping punctuation are forgiven, and ``_``/``-``/spaces in
    a label name are read alike. A last line that is a lead-in followed by
    anything else, or a single word, is ``unknown_label``: the judge answered,
    with something not in the set. Any other last line is ``unparseable``.
    """
    lines = [c for c in (clean(line) for line in text.splitlines()) if c]
    if not lines:
        return None, "unparseable"
    spelled = {_norm(n): n for n in names}
    last = lines[-1].strip(_EDGES)
    if _norm(last) in spelled:
        return spelled[_norm(last)], None
    lead = _LEAD.match(last)
    answer = last[lead.end():].strip(_EDGES) if lead else last
    if _norm(answer) in spelled:
        return spelled[_norm(answer)], None
    if lead or len(answer.split()) == 1:
        return None, "unknown_label"
    return None, "unparseable"


def choice_distribution(top_logprobs: Sequence[Mapping[str, float]] | None,
                        keys: Sequence[str]) -> tuple[dict[str, float], Mapping[str, float]] | None:
    """(option key -> probability renormalised over the options, the position read), or None.

    Read at the first position whose likeliest token is an option letter
    (``A`` or `` A``), so a backend that writes "Answer: (A)" out in full
    instead of continuing the forced prefix is still read. An option absent
    from the top-k list counts 0.
    """
    for position in top_logprobs or ():
        if not position or max(position, key=position.__getitem__).strip() not in keys:
            continue
        mass = {k: sum(math.exp(position[t]) for t in (k, " " + k) if t in position) for k in keys}
        total = sum(mass.values())
        return {k: m / total for k, m in mass.items()}, position
    return None


def _norm(label: str) -> str:
    return " ".join(re.split(r"[\s_\-]+", label.strip().lower()))


def template_values(protocol: Protocol, example: LabelledOutput) -> dict[str, Any]:
    """What the templates see for one output under the protocol's bound label set."""
    labels = bound(protocol)
    options = options_of(protocol, ClassifyOptions)
    described = {**labels.descriptions, **options.labels}
    descriptions = {name: " ".join(described.get(name, "").split()) for name in labels.names}
    return {
        "input": example.input, "output": example.output, "context": example.context, "reference": example.reference,
        "labels": list(labels.names), "descriptions": descriptions, "positive_label": labels.positive,
        "rubric": " ".join((options.rubric or "").split()),
        "examples": [{"context": None, "note": None, **shot} for shot in protocol.examples],
        "choices": [{"key": key, "label": name, "description": descriptions[name]}
                    for key, name in zip(LETTERS, labels.names)],
    }


def bound(protocol: Protocol) -> LabelSet:
    if protocol.label_set is None:
        raise BadInput(f"{protocol.source}: a classify protocol judges labelled outputs and takes their label set "
                       "from the data; run it on a classify dataset (a card, or --mapping with label= and --labels)")
    return protocol.label_set


def refused(example: LabelledOutput, refusal: Refused, calls: Calls[LabelledOutput],
            details: dict[str, Any] | None = None) -> Classification:
    return Classification(example_id=example.id, label=None, raw=refusal.reason, invalid_reason="refused",
                          details={**(details or {}), "refused": refusal.reason}, usage=calls.usage())


class ClassifyOptions(StrategyOptions):
    rubric: str | None = None
    """What to judge."""
    labels: dict[str, str] = {}
    """Label name -> what it means, over the dataset card's descriptions."""


class OneCall(ClassifyStrategy):
    """One ``classify`` call per output, which the subclass reads (:meth:`ask` makes it)."""

    Options = ClassifyOptions
    templates = ("classify",)
    variables = CLASSIFY_VARIABLES
    takes_examples = True

    def calls_per_item(self, protocol: Protocol) -> int:
        return 1

    async def ask(self, protocol: Protocol, example: LabelledOutput,
                  calls: Calls[LabelledOutput]) -> Completion | Classification:
        """The one call, or the refused item's invalid Classification."""
        try:
            return await calls.ask("classify", **template_values(protocol, example))
        except Refused as refusal:
            return refused(example, refusal, calls)


@register("classify")
class Classify(OneCall):
    """The judge answers with a label name (alone, or on the last line after its reasoning)."""

    async def run(self, protocol: Protocol, example: LabelledOutput, calls: Calls[LabelledOutput]) -> Classification:
        completion = await self.ask(protocol, example, calls)
        if isinstance(completion, Classification):
            return completion
        label, reason = read_label(completion.text, bound(protocol).names)
        return Classification(example_id=example.id, label=label, raw=completion.text, invalid_reason=reason,
                              usage=calls.usage())


@register("classify_binary")
class Binary(Classify):
    """As ``classify``, for a two-label set (its prompt may speak of the problem label and the other one)."""

    def check_labels(self, protocol: Protocol, labels: LabelSet) -> None:
        if len(labels.names) != 2:
            raise BadInput(f"{protocol.source}: a binary protocol needs two labels; the data has "
                           f"{len(labels.names)} ({', '.join(labels.names)}): use classify/categorical")


@register("logprob_classify")
class LogprobClassify(OneCall):
    """Lettered options, a forced answer prefix; the option letters' probabilities decide."""

    needs_logprobs = True
    needs_continuation = True

    def check_labels(self, protocol: Protocol, labels: LabelSet) -> None:
        if len(labels.names) > len(LETTERS):
            raise BadInput(f"{protocol.source}: {len(labels.names)} labels, but options are lettered A-Z")

    async def run(self, protocol: Protocol, example: LabelledOutput, calls: Calls[LabelledOutput]) -> Classification:
        completion = await self.ask(protocol, example, calls)
        if isinstance(completion, Classification):
            return completion
        names = bound(protocol).names
        keys = LETTERS[: len(names)]
        found = choice_distribution(completion.top_logprobs, keys)
        if found is None:
            return Classification(example_id=example.id, label=None, raw=completion.text,
                                  invalid_reason="no_answer_logprobs", usage=calls.usage())
        by_key, position = found
        probabilities = {name: by_key[key] for key, name in zip(keys, names)}
        ranked = sorted(probabilities.values(), reverse=True)
        details = {"top_logprobs": dict(position)}
        if ranked[0] == ranked[1]:
            return Classification(example_id=example.id, label=None, raw=completion.text,
                                  invalid_reason="tied_probabilities", probabilities=probabilities,
                                  details=details, usage=calls.usage())
        label = max(probabilities, key=probabilities.__getitem__)
        return Classification(example_id=example.id, label=label, raw=completion.text, confidence=ranked[0],
                              probabilities=probabilities, details=details, usage=calls.usage())


class ChecklistOptions(ClassifyOptions):
    items: list[Annotated[str, Field(pattern=r"\S")]] | None = Field(None, min_length=1)
    """Yes/no questions (YES = the output passes it); none: the data's instructions, else decomposed."""
    verify: Literal["program"] | None = None
    """``program``: items a program can check are checked by it, the judge answers the rest."""


@register("classify_checklist")
class ChecklistClassify(OneCall):
    """Yes/no items (the spec's, the data's instructions, else decomposed from the input); the output passes
    only if all pass. With ``verify: program``, items a program can check are answered by it."""

    Options = ChecklistOptions
    variables = CLASSIFY_VARIABLES | {"items"}

    def required_templates(self, protocol: Protocol) -> tuple[str, ...]:
        return ("check",) if options_of(protocol, ChecklistOptions).items else ("decompose", "check")

    def calls_per_item(self, protocol: Protocol) -> int:
        return 1 if options_of(protocol, ChecklistOptions).items else 2

    def check_labels(self, protocol: Protocol, labels: LabelSet) -> None:
        if len(labels.names) != 2 or labels.positive is None:
            raise BadInput(f"{protocol.source}: a checklist passes or fails an output: it needs two labels, one of "
                           f"them the problem label (the data has {', '.join(labels.names)}, problem label: "
                           f"{labels.positive or 'none'}; name it with positive=LABEL in --mapping)")

    async def run(self, protocol: Protocol, example: LabelledOutput, calls: Calls[LabelledOutput]) -> Classification:
        labels = bound(protocol)
        options = options_of(protocol, ChecklistOptions)
        values = template_values(protocol, example)
        instructions = [] if options.items else list(example.metadata.get(INSTRUCTIONS_KEY) or ())
        items, details = list(options.items or ()), {"item_source": "spec"}
        if instructions:
            items, details = [i["description"] for i in instructions], {"item_source": "data"}
        program = (program_answers(example, instructions) if options.verify == "program"
                   and instructions else [None] * len(items))
        try:
            if not items:
                decomposed = await calls.ask("decompose", **values)
                items, details = parse_list(decomposed.text), {"item_source": "judge"}
                program = [None] * len(items)
                if not items:
                    return Classification(example_id=example.id, label=None, raw=decomposed.text,
                                          invalid_reason="no_items", details=details, usage=calls.usage())
            asked = [item for item, found in zip(items, program, strict=True)
                     if found is None or found["passed"] is None]
            reply = await calls.ask("check", **values, items=asked) if asked else None
        except Refused as refusal:
            return refused(example, refusal, calls, details)
        parsed = iter(parse_numbered(reply.text, YES_NO).get(i, (None, "")) for i in range(1, len(asked) + 1)) \
            if reply is not None else iter(())
        answers = []
        for item, found in zip(items, program, strict=True):
            if found is not None and found["passed"] is not None:
                answers.append({"item": item, **found})
                continue
            passed, reason = next(parsed)
            answers.append({"item": item, "passed": passed, "reason": reason, "source": "judge",
                            **({"unverifiable": found["unverifiable"]} if found is not None else {})})
        raw = reply.text if reply is not None else "every item decided by program"
        decided = [a for a in answers if a["passed"] is not None]
        details = {**details, "items": items, "answers": answers,
                   "decided_by": {source: sum(a["source"] == source for a in answers)
                                  for source in ("program", "judge")},
                   "drfr": sum(a["passed"] for a in decided) / len(answers) if len(decided) == len(answers) else None}
        if len(decided) < len(answers):
            return Classification(example_id=example.id, label=None, raw=raw, invalid_reason="unparseable",
                                  details=details, usage=calls.usage())
        passing = next(name for name in labels.names if name != labels.positive)
        label = passing if all(a["passed"] for a in answers) else labels.positive
        return Classification(example_id=example.id, label=label, raw=raw, details=details, usage=calls.usage())


INSTRUCTIONS_KEY = "instructions"
"""An output's metadata key for its checklist as program-checkable instructions: a list of ``{instruction_id,
kwargs, description}`` (IFEval's ids and arguments; the ``ifeval/prompts`` dataset carries them). The
descriptions are the checklist's items."""


def program_answers(example: LabelledOutput, instructions: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """Per item, the program's answer (``passed`` None when it cannot check it, with the reason), or None for an
    item no program checks. Strict mode: the response as written."""
    from judgekit.data import verify  # loads NLTK and the checkers: only for protocols that verify

    answers: list[dict[str, Any] | None] = []
    for index, instruction in enumerate(instructions):
        if not verify.is_registered(instruction["instruction_id"]):
            answers.append(None)
            continue
        found = verify.check(instruction["instruction_id"], instruction.get("kwargs") or {}, prompt=example.input,
                             response=example.output, seed=f"{example.id}/{index}")
        answers.append({"passed": found.strict, "reason": found.unverifiable or "", "source": "program",
                        "unverifiable": found.unverifiable})
    return answers
