"""IFEval's files and the program's verdicts on them (Zhou et al. 2023, arXiv 2311.07911).

Two file shapes, as IFEval writes them:

- inputs (``input_data.jsonl``): ``key``, ``prompt``, ``instruction_id_list``
  and ``kwargs`` (one argument object per instruction);
- responses: ``prompt`` and ``response``, joined to the inputs by the exact
  prompt text, as IFEval's own evaluation does.

A response whose prompt is an earlier wording of an input's prompt (IFEval
changed key 2785's after GPT-4's responses were collected) is scored
against that earlier wording and its arguments, which are what the model was
asked: ``meta_datasets/ifeval/earlier_prompts.jsonl`` holds them.

From the joined pairs come the verdicts (``data.verify``), IFEval's four
figures, the rows of the single-output dataset (one per response and
instruction, the program's strict verdict as the label) and pairs of two
models' responses that the program orders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judgekit.data.files import Row, format_of, read_rows
from judgekit.data.verify import LIBRARY, bad_kwargs, check, describe, is_registered
from judgekit.errors import BadInput
from judgekit.resources import meta_datasets_root

EARLIER_PROMPTS = "ifeval/earlier_prompts.jsonl"
"""Inside meta_datasets/: earlier wordings of IFEval prompts, in the inputs' format."""
PASS, FAIL = "pass", "fail"
CHECK_ONE = "The model was given this prompt:\n\n{prompt}\n\nCheck this one instruction of it: {constraint}"
"""What a judge of one instruction reads as the input: the whole prompt (a request to repeat needs it), then
the one instruction, in the checker's own wording, so the instruction shown is the one the label checks."""


@dataclass(frozen=True)
class Prompt:
    """One IFEval input: a prompt and the instructions (id, arguments) in it."""

    key: Any
    prompt: str
    instructions: tuple[tuple[str, dict[str, Any]], ...]


@dataclass(frozen=True)
class Answer:
    """A response joined to the prompt it answers."""

    prompt: Prompt
    response: str
    where: str
    """``FILE: line N`` of the response, for messages."""


@dataclass(frozen=True)
class InstructionCheck:
    """The program's verdict on one instruction of one answer."""

    key: Any
    instruction_index: int
    instruction_id: str
    strict: bool | None
    loose: bool | None
    unverifiable: str | None
    """Why there is no verdict (strict and loose are then None)."""

    def as_item(self) -> dict[str, Any]:
        return {"key": self.key, "instruction_index": self.instruction_index, "instruction_id": self.instruction_id,
                "strict": self.strict, "loose": self.loose, "unverifiable": self.unverifiable}


def read_prompts(path: Path | None, rows: list[Row] | None = None, name: str | None = None) -> list[Prompt]:
    """IFEval inputs from a file (or rows already read from one); bad records name file, line and field."""
    if rows is None:
        assert path is not None
        name = str(path)
        rows = _rows(path)
    assert name is not None
    prompts, seen = [], {}
    for row in rows:
        prompt = _prompt(row, name)
        if prompt.key in seen:
            raise BadInput(f"{name}: {row.where}: field 'key': duplicate key "
                           f"{prompt.key!r} (first at {seen[prompt.key]})")
        seen[prompt.key] = row.where
        prompts.append(prompt)
    if not prompts:
        raise BadInput(f"{name}: holds no IFEval inputs")
    return prompts


def read_answers(path: Path, prompts: Sequence[Prompt]) -> list[Answer]:
    """The responses in file order, each joined to its prompt by the exact prompt text (or an earlier wording).

    A response to no known prompt, or a second response to one, is bad input naming its line.
    """
    name = str(path)
    by_text = {p.prompt: p for p in prompts}
    keys = {p.key for p in prompts}
    earlier = {p.prompt: p for p in _earlier_prompts() if p.key in keys and p.prompt not in by_text}
    answers, answered = [], {}
    for row in _rows(path):
        text, response = _text(row, "prompt", name), row.data.get("response")
        if not isinstance(response, str):
            raise BadInput(f"{name}: {row.where}: field 'response': expected text, got "
                           f"{'nothing' if response is None else type(response).__name__}")
        prompt = by_text.get(text) or earlier.get(text)
        if prompt is None:
            raise BadInput(f"{name}: {row.where}: field 'prompt': matches no prompt of the IFEval inputs "
                           f"({_cut(text)})")
        if prompt.key in answered:
            raise BadInput(f"{name}: {row.where}: field 'prompt': prompt {prompt.key!r} already answered at "
                           f"{answered[prompt.key]}")
        answered[prompt.key] = row.where
        answers.append(Answer(prompt, response, f"{name}: {row.where}"))
    if not answers:
        raise BadInput(f"{name}: holds no responses")
    return answers


def check_answers(answers: Sequence[Answer]) -> list[list[InstructionCheck]]:
    """The program's verdict on every instruction of every answer (per answer, in instruction order)."""
    return [[_check(answer, i) for i in range(len(answer.prompt.instructions))] for answer in answers]


def figures(checks: Sequence[Sequence[InstructionCheck]]) -> dict[str, Any]:
    """IFEval's prompt- and instruction-level accuracy, strict and loose, per-type pass rates and every item.

    An unverifiable instruction is not counted as followed (a prompt passes
    only when every instruction is verified to pass); it is listed with its
    reason, and counted in ``n_unverifiable``.
    """
    items = [c for per_answer in checks for c in per_answer]
    types: dict[str, list[InstructionCheck]] = {}
    for c in items:
        types.setdefault(c.instruction_id, []).append(c)
    n_prompts, n_items = len(checks), len(items)
    return {
        "verifier": LIBRARY,
        "n_prompts": n_prompts,
        "n_instructions": n_items,
        "n_unverifiable": sum(c.unverifiable is not None for c in items),
        "prompt_strict": _share(sum(all(c.strict for c in a) for a in checks), n_prompts),
        "instruction_strict": _share(sum(bool(c.strict) for c in items), n_items),
        "prompt_loose": _share(sum(all(c.loose for c in a) for a in checks), n_prompts),
        "instruction_loose": _share(sum(bool(c.loose) for c in items), n_items),
        "per_instruction": {
            kind: {"n": len(found), "strict": _share(sum(bool(c.strict) for c in found), len(found)),
                   "loose": _share(sum(bool(c.loose) for c in found), len(found)),
                   "unverifiable": sum(c.unverifiable is not None for c in found)}
            for kind, found in sorted(types.items())},
        "items": [c.as_item() for c in items],
    }


def instruction_rows(answers: Sequence[Answer], checks: Sequence[Sequence[InstructionCheck]]) -> list[Row]:
    """One record per (response, instruction) for a single-output dataset: the checker's wording of the
    constraint (``constraint``; ``task`` sets it after the prompt), the response, and the strict verdict
    (``pass``/``fail``; empty when unverifiable)."""
    rows = []
    for answer, per_answer in zip(answers, checks, strict=True):
        p = answer.prompt
        for c in per_answer:
            instruction_id, kwargs = p.instructions[c.instruction_index]
            constraint = _description(p, c.instruction_index)
            rows.append(Row(answer.where, len(rows), {
                "item": f"{p.key}:{c.instruction_index}", "key": str(p.key), "prompt": p.prompt,
                "instruction_index": c.instruction_index, "instruction_id": instruction_id, "kwargs": kwargs,
                "constraint": constraint, "task": CHECK_ONE.format(prompt=p.prompt, constraint=constraint),
                "response": answer.response,
                "strict": _label(c.strict), "loose": _label(c.loose), "unverifiable": c.unverifiable}))
    return rows


def prompt_rows(answers: Sequence[Answer], checks: Sequence[Sequence[InstructionCheck]]) -> list[Row]:
    """One record per response: the prompt, the response, the prompt-level strict verdict (``fail`` when an
    instruction fails, empty when none fails but one is unverifiable) and its instructions as a checklist."""
    rows = []
    for answer, per_answer in zip(answers, checks, strict=True):
        p = answer.prompt
        verdicts = [c.strict for c in per_answer]
        label = FAIL if False in verdicts else None if None in verdicts else PASS
        rows.append(Row(answer.where, len(rows), {
            "item": str(p.key), "key": str(p.key), "prompt": p.prompt, "response": answer.response, "strict": label,
            "instructions": [{"instruction_id": i, "kwargs": kw, "description": _description(p, n)}
                             for n, (i, kw) in enumerate(p.instructions)],
            "unverifiable": "; ".join(c.unverifiable for c in per_answer if c.unverifiable) or None}))
    return rows


def verified_rows(rows: list[Row], name: str, responses: Path, level: str) -> tuple[list[Row], str]:
    """A program-verified card's records: its inputs (``rows``) joined with ``responses`` and checked, one
    record per instruction (``level`` instruction) or per response (prompt); and where the verdicts came from."""
    prompts = read_prompts(None, rows, name)
    answers = read_answers(responses, prompts)
    checks = check_answers(answers)
    made = instruction_rows(answers, checks) if level == "instruction" else prompt_rows(answers, checks)
    return made, f"responses {responses}, verdicts by {LIBRARY}"


@dataclass(frozen=True)
class ProgramPairs:
    """Two models' responses to the same prompts, ordered by how many instructions each satisfies."""

    pairs: list[dict[str, Any]]
    """Pairwise records in judgekit's field names (id, instruction, response_a, response_b, gold, ...)."""
    ties: list[Any]
    """Keys of prompts where both satisfy as many instructions: dropped."""
    unverifiable: list[Any]
    """Keys of prompts with an instruction the program cannot check in either response: dropped."""
    unmatched: list[Any]
    """Keys answered by one file only, or answered to different wordings of the prompt: dropped."""


def program_pairs(first: Sequence[Answer], first_checks: Sequence[Sequence[InstructionCheck]],
                  second: Sequence[Answer], second_checks: Sequence[Sequence[InstructionCheck]],
                  names: tuple[str, str]) -> ProgramPairs:
    """A pair per prompt both files answer where one response strictly satisfies more instructions.

    Which response is ``a`` is a seeded coin per prompt, so the better one is
    not always in the same slot; ``generator_a``/``generator_b`` name the
    files' models.
    """
    other = {a.prompt.key: (a, c) for a, c in zip(second, second_checks, strict=True)}
    found = ProgramPairs([], [], [], [])
    for answer, checks in zip(first, first_checks, strict=True):
        key = answer.prompt.key
        answer_2, checks_2 = other.pop(key, (None, None))
        if answer_2 is None or answer_2.prompt != answer.prompt:
            found.unmatched.append(key)
            continue
        if any(c.strict is None for c in (*checks, *checks_2)):
            found.unverifiable.append(key)
            continue
        counts = (sum(bool(c.strict) for c in checks), sum(bool(c.strict) for c in checks_2))
        if counts[0] == counts[1]:
            found.ties.append(key)
            continue
        slots = [(answer.response, names[0], counts[0]), (answer_2.response, names[1], counts[1])]
        if _swapped(key):
            slots.reverse()
        (response_a, generator_a, met_a), (response_b, generator_b, met_b) = slots
        found.pairs.append({
            "id": str(key), "instruction": answer.prompt.prompt, "response_a": response_a, "response_b": response_b,
            "gold": "a" if met_a > met_b else "b", "generator_a": generator_a, "generator_b": generator_b,
            "instructions": len(checks), "satisfied_a": met_a, "satisfied_b": met_b,
            "instruction_ids": [i for i, _ in answer.prompt.instructions]})
    found.unmatched.extend(other)
    return found


def _swapped(key: Any) -> bool:
    """A seeded coin per prompt: whether the first file's response goes in slot b."""
    return hashlib.sha256(f"ifeval-pairs/{key}".encode()).digest()[0] % 2 == 1


def _check(answer: Answer, index: int) -> InstructionCheck:
    p = answer.prompt
    instruction_id, kwargs = p.instructions[index]
    found = check(instruction_id, kwargs, prompt=p.prompt, response=answer.response, seed=_seed(p, index))
    return InstructionCheck(p.key, index, instruction_id, found.strict, found.loose, found.unverifiable)


def _description(prompt: Prompt, index: int) -> str:
    instruction_id, kwargs = prompt.instructions[index]
    if not is_registered(instruction_id):
        return instruction_id
    return describe(instruction_id, kwargs, seed=_seed(prompt, index))


def _seed(prompt: Prompt, index: int) -> str:
    """One seed per (prompt, instruction): a checker that draws draws the same every run."""
    return f"ifeval/{prompt.key}/{index}"


def _prompt(row: Row, name: str) -> Prompt:
    where = f"{name}: {row.where}"
    key = row.data.get("key")
    if not isinstance(key, (int, str)) or isinstance(key, bool):
        raise BadInput(f"{where}: field 'key': expected an integer or text")
    ids, kwargs = row.data.get("instruction_id_list"), row.data.get("kwargs")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise BadInput(f"{where}: field 'instruction_id_list': expected a non-empty list of instruction ids")
    if not isinstance(kwargs, list) or len(kwargs) != len(ids) or not all(isinstance(k, dict) for k in kwargs):
        raise BadInput(f"{where}: field 'kwargs': expected one argument object per instruction ({len(ids)})")
    for i, (instruction_id, arguments) in enumerate(zip(ids, kwargs)):
        wrong = bad_kwargs(instruction_id, arguments) if is_registered(instruction_id) else None
        if wrong:
            raise BadInput(f"{where}: field 'kwargs[{i}]': {wrong}")
    return Prompt(key, _text(row, "prompt", name), tuple(zip(ids, kwargs)))


def _earlier_prompts() -> list[Prompt]:
    file = meta_datasets_root().joinpath(EARLIER_PROMPTS)
    name = f"judgekit/meta_datasets/{EARLIER_PROMPTS}"
    return read_prompts(None, read_rows(file.read_bytes(), name, "jsonl"), name)


def _rows(path: Path) -> list[Row]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a folder; give a .jsonl file") from None
    return read_rows(data, str(path), format_of(path.name, None))


def _text(row: Row, column: str, name: str) -> str:
    value = row.data.get(column)
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{name}: {row.where}: field '{column}': expected non-empty text")
    return value


def _label(verdict: bool | None) -> str | None:
    return None if verdict is None else PASS if verdict else FAIL


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def _cut(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= width else flat[: width - 1] + "…")

