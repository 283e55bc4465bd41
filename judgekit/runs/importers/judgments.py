"""One record's recorded judge cells as a verdict: a pair's orders, an output's label, a response's scores.

A recorded value the mapping cannot read is never dropped or guessed at:

- a pair's order whose cell is empty or holds a value ``--labels`` does not
  map is an invalid order (its raw value kept); the final verdict combines
  the orders by the ``order_conflict`` rule (``judgekit.judge.orders``);
- an output's label likewise is an invalid classification with its raw value;
- a score is read as a number (anything else is bad input naming the file,
  record and column); several recorded samples are averaged, empty cells
  left out; a recorded value outside the scale follows ``--out-of-scale``:
  ``invalid`` (the rating is invalid, ``out_of_range``, its values kept as
  its raw text) or ``keep`` (taken as recorded).

``order2`` is the verdict with the responses swapped. Projects record it
either as the slot shown (``display``: "a" is the response shown first,
which is response_b) or as the original response (``canonical``); the
manifest states which was assumed (REFERENCES F3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from judgekit.data.cards import label_key
from judgekit.data.files import Row
from judgekit.data.labelled import lookup
from judgekit.errors import BadInput
from judgekit.judge.orders import final_winner
from judgekit.records import (
    Classification,
    CriterionRating,
    Example,
    LabelledOutput,
    OrderConflict,
    OrderResult,
    Rating,
    ScoredExample,
    Verdict,
)

Order2In = Literal["display", "canonical"]
OutOfScale = Literal["invalid", "keep"]
OUT_OF_SCALE = ("invalid", "keep")

_FROM_DISPLAY = {"a": "b", "b": "a", "tie": "tie"}
"""A swapped order's slot label as the original response: the slot shown first is response_b."""


@dataclass(frozen=True)
class JudgeColumns:
    """Where a record holds the recorded judge's answer, and the judge's name."""

    order1: str | None = None
    """Pairs: the verdict with response_a shown first."""
    order2: str | None = None
    """Pairs: the verdict with the responses swapped."""
    raw1: str | None = None
    raw2: str | None = None
    """Pairs: the judge's raw texts of each order, kept beside the verdicts."""
    label: str | None = None
    """Labelled outputs: the judge's label."""
    scores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Scores: criterion -> the recorded score column(s), several samples averaged."""
    judge_model: str | None = None


def pairwise_verdict(example: Example, row: Row, judge: JudgeColumns, values: dict[str, str], *, order2_in: Order2In,
                     rule: OrderConflict | None, name: str) -> Verdict:
    """The pair's recorded orders (``judge.order1``, ``judge.order2``) and their final winner under ``rule``."""
    orders, recorded = [], {}
    for swapped, column, raw_column in ((False, judge.order1, judge.raw1), (True, judge.order2, judge.raw2)):
        if column is None:
            continue
        value = _cell(row, column, name)
        winner = values.get(value) if value else None
        if winner is not None and swapped and order2_in == "display":
            winner = _FROM_DISPLAY[winner]
        raw = value
        if raw_column is not None:
            recorded[column] = value
            raw = _cell(row, raw_column, name)
        orders.append(OrderResult(swapped=swapped, raw=raw, winner=winner))
    final = final_winner([o.winner for o in orders], rule)
    return Verdict(example_id=example.id, winner=final.winner, orders=tuple(orders),
                   invalid_reason=final.invalid_reason, details={"recorded": recorded} if recorded else {})


def classification(example: LabelledOutput, row: Row, column: str, values: dict[str, str], *,
                   name: str) -> Classification:
    """The output's recorded label; an empty or unmapped value is an invalid label with its raw value."""
    value = _cell(row, column, name)
    label = values.get(value) if value else None
    return Classification(example_id=example.id, label=label, raw=value,
                          invalid_reason=None if label is not None else "unparseable")


def rating(example: ScoredExample, row: Row, scores: dict[str, tuple[str, ...]], *, out_of_scale: OutOfScale,
           name: str) -> Rating:
    """The response's recorded score per mapped criterion (the mean of its samples)."""
    criteria = {}
    for criterion, columns in scores.items():
        if criterion in example.criteria:
            human = example.criteria[criterion]
            criteria[criterion] = _score(row, columns, human.low, human.high, out_of_scale, name)
    return Rating(example_id=example.id, criteria=criteria)


def _score(row: Row, columns: tuple[str, ...], low: float, high: float, out_of_scale: OutOfScale,
           name: str) -> CriterionRating:
    samples = []
    for column in columns:
        value = lookup(row, column, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            samples.append(float(value))
        except (TypeError, ValueError):
            raise BadInput(f"{name}: {row.where}: field '{column}': {value!r} is not a number") from None
    raw = ", ".join(map(repr, samples))
    if not samples:
        return CriterionRating(score=None, raw=raw, invalid_reason="missing")
    if out_of_scale == "invalid" and (min(samples) < low or max(samples) > high):
        return CriterionRating(score=None, raw=raw, invalid_reason="out_of_range")
    return CriterionRating(score=sum(samples) / len(samples), raw=raw)


def _cell(row: Row, column: str, name: str) -> str:
    """A cell as text (``label_key``: 1, 1.0 and "1" alike); empty when blank."""
    value = lookup(row, column, name)
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        raise BadInput(f"{name}: {row.where}: field '{column}': expected one value, got {type(value).__name__}")
    return label_key(value)
