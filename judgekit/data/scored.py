"""Turning a scored card's records into ScoredExamples: wide or long score columns."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from judgekit.data.cards import Card, ScoredFields
from judgekit.data.files import Row, is_missing, plain, require
from judgekit.errors import BadInput
from judgekit.records import CriterionScores, ScoredExample


def to_scored_examples(card: Card, rows: list[Row], name: str) -> list[ScoredExample]:
    """One example per response; in the long form, a response's criteria come from several rows."""
    f = card.scored
    assert f is not None
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        key, fields = _read_row(card, f, row, name)
        if key not in merged:
            merged[key] = fields
            continue
        first = merged[key]
        for criterion in fields["criteria"]:
            if criterion in first["criteria"]:
                raise BadInput(f"{name}: {row.where}: field '{f.criterion or f.id}': "
                               f"second set of '{criterion}' scores for example '{key}'")
        if f.criterion is None:
            raise BadInput(f"{name}: {row.where}: field '{f.id}': duplicate id '{key}'")
        first["criteria"].update(fields["criteria"])
    examples = []
    for key, fields in merged.items():
        try:
            examples.append(ScoredExample(id=f"{card.id}/{key}", subset=card.id, **fields))
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise BadInput(f"{name}: example '{key}': field '{where}': {first['msg']}") from None
    return examples


def _read_row(card: Card, f: ScoredFields, row: Row, name: str) -> tuple[str, dict[str, Any]]:
    low, high = f.scale
    if f.criterion:
        columns = {str(plain(require(row, f.criterion, name))): f.scores}
    else:
        columns = dict(f.criteria)
    criteria = {c: CriterionScores(scores=_scores(row, cols, name, low, high), low=low, high=high)
                for c, cols in columns.items()}
    input_id = _text(row, f.input, name)
    system = _text(row, f.system, name) if f.system else None
    if f.id:
        key = _text(row, f.id, name)
    elif f.criterion:
        key = f"{input_id}/{system}"
    else:
        key = str(row.index)
    response = _text(row, f.response, name) if f.response else ""
    if f.response and not response.strip() and not card.allow_empty_responses:
        raise BadInput(f"{name}: {row.where}: field '{f.response}': empty response")
    fields = {
        "input_id": input_id,
        "instruction": "\n\n".join(t for t in (_text(row, c, name) for c in f.instruction) if t.strip()),
        "response": response,
        "system": system,
        "criteria": criteria,
        "reference": _text(row, f.reference, name) if f.reference else None,
        "metadata": {c: plain(row.data.get(c)) for c in f.metadata},
    }
    return key, fields


def _scores(row: Row, columns: tuple[str, ...], name: str, low: float, high: float) -> tuple[float, ...]:
    scores = []
    for column in columns:
        if column not in row.data:
            raise BadInput(f"{name}: {row.where}: field '{column}': missing")
        value = plain(row.data[column])
        if is_missing(value) or (isinstance(value, str) and not value.strip()):
            continue
        try:
            score = float(value)
        except (TypeError, ValueError):
            raise BadInput(f"{name}: {row.where}: field '{column}': score {value!r} is not a number") from None
        if not low <= score <= high:
            raise BadInput(f"{name}: {row.where}: field '{column}': score {score:g} is outside the scale "
                           f"{low:g}-{high:g}")
        scores.append(score)
    return tuple(scores)


def _text(row: Row, column: str, name: str) -> str:
    value = require(row, column, name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list)):
        raise BadInput(f"{name}: {row.where}: field '{column}': expected text, got {type(value).__name__}")
    return str(value)
