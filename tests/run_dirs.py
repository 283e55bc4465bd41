"""Synthetic run dirs for tests, written by judgekit's own writer (``judgekit.runs.run_dir``).

One builder per run kind: ``pairwise_run`` (orders, ties, invalid orders, a combined
verdict), ``pointwise_run`` (criteria, systems, inputs) and ``classify_run`` (labels,
no label). Each takes what the judge said, item by item, and makes plain items to
match unless a test passes its own (``pairs``, ``scored`` and ``outputs`` make them
with a field or two changed). Fewer answers than items is a run stopped part-way.
Manifest fields a test cares about go in as keywords (``usage`` is the run's total;
``verdict_usage`` what each verdict records); the rest are fixed placeholders. The
run is complete unless ``complete=False``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from judgekit.records import (
    Classification,
    CriterionRating,
    CriterionScores,
    Example,
    LabelledOutput,
    Manifest,
    OrderResult,
    Rating,
    ScoredExample,
    Usage,
    Verdict,
)
from judgekit.runs.run_dir import RunDir

STARTED = "2026-12-01T00:00:00+00:00"
PROTOCOLS = {"pairwise": "llmbar/vanilla", "pointwise": "pointwise/likert", "classify": "classify/binary"}
KINDS = {Example: "pairwise", ScoredExample: "pointwise", LabelledOutput: "classify"}

Field = Any | Callable[[int], Any]
"""An item field given to ``pairs``/``scored``/``outputs``: one value for every item, or a function of its index."""


def write_run(path: Path, examples: Sequence, verdicts: Sequence, *, complete: bool = True, **fields: Any) -> Path:
    """A run dir holding ``verdicts`` (appended in this order) for ``examples``; ``fields`` go into its manifest."""
    kind = KINDS[type(examples[0])]
    manifest = Manifest(**{"kind": kind, "judge": "openai:judge", "protocol": PROTOCOLS[kind], "dataset": "toy",
                           "package_version": "0", "started_at": STARTED, "n_examples": len(examples), **fields})
    made = RunDir.create(path, manifest, examples)
    try:
        for verdict in verdicts:
            made.append(verdict)
        if complete:
            made.update(complete=True, n_verdicts=len(verdicts))
    finally:
        made.close()
    return Path(path)


def _value(field: Field, i: int) -> Any:
    return field(i) if callable(field) else field


def _fields(fields: dict[str, Field], i: int) -> dict[str, Any]:
    return {name: _value(field, i) for name, field in fields.items()}


def pairs(n: int, *, gold: str | Sequence[str | None] = "ab", prefix: str = "toy/", **fields: Field) -> list[Example]:
    """``n`` pairs ``{prefix}{i}``; gold cycles through ``gold`` (``"ab"``: a, b, a, ...)."""
    plain = {"instruction": lambda i: f"question {i}", "response_a": lambda i: f"answer A{i}",
             "response_b": lambda i: f"answer B{i}"}
    return [Example(id=f"{prefix}{i}", gold=gold[i % len(gold)], **_fields({**plain, **fields}, i)) for i in range(n)]


def pairwise_run(path: Path, picks: Sequence[Sequence[str | None]], *, examples: Sequence[Example] | None = None,
                 winners: Sequence[str | None] | None = None, raws: Field = None, verdict_usage: Usage | None = None,
                 **fields: Any) -> Path:
    """One verdict per pick: the winner each order gave, the order shown as stored first (one order: a 1-tuple).

    An order's winner None is an invalid order; a verdict with no winner whose orders are all invalid is invalid.
    The verdict's winner is ``winners[i]`` when given, else the orders' when they agree, else None.
    ``raws``: each order's raw text, a function of (index, order) or one text; ``"says {winner}"`` by default.
    """
    examples = pairs(len(picks)) if examples is None else examples
    verdicts = []
    for i, (example, pick) in enumerate(zip(examples, picks)):
        orders = tuple(OrderResult(swapped=k == 1, raw=_raw(raws, i, k, winner), winner=winner)
                       for k, winner in enumerate(pick))
        winner = winners[i] if winners is not None else (pick[0] if len(set(pick)) == 1 else None)
        invalid = "unparseable" if winner is None and all(w is None for w in pick) else None
        verdicts.append(Verdict(example_id=example.id, winner=winner, orders=orders, invalid_reason=invalid,
                                usage=verdict_usage or Usage()))
    return write_run(path, examples, verdicts, **fields)


def _raw(raws: Field, i: int, order: int, winner: str | None) -> str:
    if raws is None:
        return f"says {winner}"
    return raws(i, order) if callable(raws) else raws


def scored(human: Sequence[dict[str, Sequence[float]] | Sequence[float]], *, inputs: Sequence[str] | None = None,
           systems: Sequence[str | None] | None = None, prefix: str = "s/", **fields: Field) -> list[ScoredExample]:
    """One response per entry of ``human``: its human scores per criterion, or for ``fluency`` alone.

    Response i answers input ``inputs[i]`` (``in{i}`` by default) and comes from ``systems[i]``.
    """
    items = []
    for i, scores in enumerate(human):
        criteria = scores if isinstance(scores, dict) else {"fluency": scores}
        input_id = inputs[i] if inputs is not None else f"in{i}"
        plain = {"instruction": f"prompt {input_id}", "response": f"response {i}",
                 "system": systems[i] if systems is not None else None}
        items.append(ScoredExample(id=f"{prefix}{i}", input_id=input_id, **{**plain, **_fields(fields, i)},
                                   criteria={name: CriterionScores(scores=tuple(s)) for name, s in criteria.items()}))
    return items


def pointwise_run(path: Path, scores: Sequence[float | None | dict[str, float | None]], *,
                  examples: Sequence[ScoredExample] | None = None, verdict_usage: Usage | None = None,
                  **fields: Any) -> Path:
    """One rating per entry of ``scores``: one score for every criterion of its item, or a score per criterion.

    A score None is an invalid rating. Items without human scores unless ``examples`` are given.
    """
    examples = scored([()] * len(scores)) if examples is None else examples
    ratings = []
    for example, score in zip(examples, scores):
        given = score if isinstance(score, dict) else dict.fromkeys(example.criteria, score)
        ratings.append(Rating(example_id=example.id, usage=verdict_usage or Usage(),
                              criteria={name: _rating(s) for name, s in given.items()}))
    return write_run(path, examples, ratings, **fields)


def _rating(score: float | None) -> CriterionRating:
    if score is None:
        return CriterionRating(score=None, raw="no score", invalid_reason="unparseable")
    return CriterionRating(score=float(score), raw=f"Score: {score}")


def outputs(gold: Sequence[str | None], *, prefix: str = "c/", **fields: Field) -> list[LabelledOutput]:
    """One output per entry of ``gold``, labelled with it (None: no human label)."""
    plain = {"input": lambda i: f"question {i}", "output": lambda i: f"answer {i}"}
    return [LabelledOutput(id=f"{prefix}{i}", gold=label, **_fields({**plain, **fields}, i))
            for i, label in enumerate(gold)]


def classify_run(path: Path, said: Sequence[str | None], *, examples: Sequence[LabelledOutput] | None = None,
                 raws: Field = None, confidence: Sequence[float] | None = None, verdict_usage: Usage | None = None,
                 labels: tuple[str, ...] = ("fail", "pass"), positive_label: str | None = "fail",
                 **fields: Any) -> Path:
    """One classification per entry of ``said``: the judge's label, None for none (an invalid verdict).

    ``raws``: each verdict's raw text, a function of the index or one text; ``"verdict: {label}"`` by default.
    """
    examples = outputs([None] * len(said)) if examples is None else examples
    verdicts = [Classification(example_id=example.id, label=label, invalid_reason=None if label else "unparseable",
                               raw=f"verdict: {label}" if raws is None else _value(raws, i),
                               confidence=confidence[i] if confidence is not None else None,
                               usage=verdict_usage or Usage())
                for i, (example, label) in enumerate(zip(examples, said))]
    return write_run(path, examples, verdicts, labels=labels, positive_label=positive_label, **fields)
