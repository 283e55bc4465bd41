"""Turning a classify card's records into LabelledOutputs: label values, annotators' votes, grouped records.

Three layouts of human labels are read (``ClassifyFields``):

- one ``label`` column holding the gold label (an empty cell: an unlabelled
  output, judged but not scored);
- several ``label`` columns, one per annotator, or one column whose cells are
  lists (one entry per annotator): the votes, an empty entry being an
  annotator who did not label;
- ``group``: one record per annotator's label, the records sharing the group
  columns' values being one output (its id, unless mapped, is the position
  of its first record).

With votes, gold is the label more annotators gave than any other, and None
when two labels tie for most: no figure then rests on a tie-break.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pydantic import ValidationError

from judgekit.data.cards import Card, ClassifyFields, label_key
from judgekit.data.files import Row, is_missing, plain
from judgekit.errors import BadInput
from judgekit.records import LabelledOutput

_ABSENT = object()


def to_labelled_outputs(card: Card, rows: list[Row], name: str) -> list[LabelledOutput]:
    """One output per record (or per group of records); a duplicate id is refused."""
    f = card.classify
    assert f is not None
    if f.extract:
        rows = [_extracted(f, row, name) for row in rows]
    if f.group:
        return _grouped(card, f, rows, name)
    outputs: list[LabelledOutput] = []
    first_seen: dict[str, str] = {}
    unmapped_ids: dict[str, str] = {}
    for row in rows:
        fields = _fields(card, f, row, name)
        gold, votes = _human_labels(f, row, name)
        output = _output(card, row, name, fields, gold, votes)
        if output.id in first_seen:
            raise BadInput(f"{name}: {row.where}: field '{f.id or '_row'}': duplicate id '{fields['key']}' "
                           f"(first at {first_seen[output.id]})")
        first_seen[output.id] = row.where
        if f.id is None and not is_missing(row.data.get("id")):  # as pairwise files: a repeated id column
            value = label_key(plain(row.data["id"]))          # means the file is not what the mapping says
            if value in unmapped_ids:
                raise BadInput(f"{name}: {row.where}: field 'id': duplicate id '{value}' "
                               f"(first at {unmapped_ids[value]}), though the mapping does not use it")
            unmapped_ids[value] = row.where
        outputs.append(output)
    return outputs


def plurality(votes: tuple[str | None, ...]) -> str | None:
    """The label given more often than any other; None when two tie for most or nobody labelled."""
    ranked = Counter(v for v in votes if v is not None).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def lookup(row: Row, column: str, name: str) -> Any:
    """A cell by column name; a dotted name reaches into nested objects when no column has that exact name.

    A missing column is bad input naming the record and column; an empty value is returned as None.
    """
    if column in row.data:
        value = row.data[column]
    else:
        value = row.data
        for part in column.split("."):
            if not isinstance(value, dict) or part not in value:
                raise BadInput(f"{name}: {row.where}: field '{column}': missing")
            value = value[part]
    return None if is_missing(value) else plain(value)


def _grouped(card: Card, f: ClassifyFields, rows: list[Row], name: str) -> list[LabelledOutput]:
    """One output per distinct value of the group columns: each record one annotator's label, in file order."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(label_key(_required(row, c, name)) for c in f.group), []).append(row)
    outputs = []
    for members in groups.values():
        first = members[0]
        fields = _fields(card, f, first, name)
        for row in members[1:]:
            other = _fields(card, f, row, name)
            differs = next((k for k in fields if fields[k] != other[k] and (k != "key" or f.id)), None)
            if differs is not None:
                raise BadInput(f"{name}: {row.where}: field '{_column_of(f, differs)}': differs from {first.where}, "
                               f"an earlier record of the same output (group {'+'.join(f.group)})")
        votes = tuple(_label(f, row, f.label[0], _scalar(row, f.label[0], name), name) for row in members)
        outputs.append(_output(card, first, name, fields, plurality(votes), votes))
    return outputs


def _fields(card: Card, f: ClassifyFields, row: Row, name: str) -> dict[str, Any]:
    """Everything of an output but its human labels, read from one record."""
    output = _text(row, f.response, name)
    if not output.strip() and not card.allow_empty_responses:
        raise BadInput(f"{name}: {row.where}: field '{f.response}': empty response")
    context = _joined(row, f.context, name)
    return {
        "key": _text(row, f.id, name) if f.id else str(row.index),
        "input": _joined(row, f.input, name),
        "output": output,
        "context": context or None,
        "reference": _optional(row, f.reference, name),
        "system": _optional(row, f.system, name),
        "cluster": _optional(row, f.cluster, name),
        "metadata": {c: lookup(row, c, name) for c in f.metadata},
    }


def _column_of(f: ClassifyFields, field: str) -> str:
    columns = {"key": f.id or "_row", "input": "+".join(f.input), "output": f.response,
               "context": "+".join(f.context), "reference": f.reference, "system": f.system, "cluster": f.cluster}
    return columns.get(field) or "+".join(f.metadata)


def _human_labels(f: ClassifyFields, row: Row, name: str) -> tuple[str | None, tuple[str | None, ...]]:
    """(gold, votes): one gold column; or the annotators' labels, from several columns or one list cell; or
    none at all (no label column)."""
    if not f.label:
        return None, ()
    if len(f.label) == 1:
        column = f.label[0]
        cell = lookup(row, column, name)
        if not isinstance(cell, (list, tuple)):
            return _label(f, row, column, cell, name), ()
        votes = tuple(_label(f, row, column, value, name) for value in cell)
    else:
        votes = tuple(_label(f, row, column, lookup(row, column, name), name) for column in f.label)
    return plurality(votes), votes


def _label(f: ClassifyFields, row: Row, column: str, value: Any, name: str) -> str | None:
    """A raw label value as its label name; empty is None (not labelled), an unmapped value is bad input."""
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        return None
    raw = label_key(value)
    if raw not in f.labels:
        raise BadInput(f"{name}: {row.where}: field '{column}': label '{raw}' is not in the label set "
                       f"(raw values: {', '.join(f.labels)})")
    return f.labels[raw]


def _output(card: Card, row: Row, name: str, fields: dict[str, Any], gold: str | None,
            votes: tuple[str | None, ...]) -> LabelledOutput:
    values = {k: v for k, v in fields.items() if k != "key"}
    try:
        return LabelledOutput(id=f"{card.id}/{fields['key']}", gold=gold, votes=votes, subset=card.id, **values)
    except ValidationError as e:
        first = e.errors()[0]
        raise BadInput(f"{name}: {row.where}: field '{first['loc'][0]}': {first['msg']}") from None


def _extracted(f: ClassifyFields, row: Row, name: str) -> Row:
    """The record with the columns each ``extract`` pattern's named groups make."""
    data = dict(row.data)
    for column, pattern in f.extract.items():
        match = re.search(pattern, _text(row, column, name))
        if match is None:
            raise BadInput(f"{name}: {row.where}: field '{column}': does not match its extract pattern")
        data.update(match.groupdict())
    return Row(row.where, row.index, data)


def _required(row: Row, column: str, name: str) -> Any:
    value = lookup(row, column, name)
    if value is None:
        raise BadInput(f"{name}: {row.where}: field '{column}': missing")
    return value


def _scalar(row: Row, column: str, name: str) -> Any:
    value = lookup(row, column, name)
    if isinstance(value, (list, tuple)):
        raise BadInput(f"{name}: {row.where}: field '{column}': holds a list, but with 'group' each record "
                       "holds one annotator's label")
    return value


def _text(row: Row, column: str, name: str) -> str:
    value = _required(row, column, name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list, tuple)):
        raise BadInput(f"{name}: {row.where}: field '{column}': expected text, got {type(value).__name__}")
    return str(value)


def _optional(row: Row, column: str | None, name: str) -> str | None:
    if column is None or lookup(row, column, name) is None:
        return None
    return _text(row, column, name)


def _joined(row: Row, columns: tuple[str, ...], name: str) -> str:
    """The columns' non-blank texts joined by a blank line; an empty cell counts as blank."""
    parts = [_optional(row, c, name) for c in columns]
    return "\n\n".join(p for p in parts if p and p.strip())
