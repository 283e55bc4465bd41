"""Reading records from JSON, JSON Lines, CSV and Parquet, with errors that name file and line."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, NamedTuple

from judgekit.errors import BadInput
from judgekit.records import json_lines

ROW = "_row"
"""Pseudo-column: the 0-based position of a record in its file."""
POSITION = "_position"
"""Pseudo-column of ``csv-lists`` files: the record's position within its row's lists."""


class Row(NamedTuple):
    where: str
    """``line N`` or ``record N`` (1-based) for error messages."""
    index: int
    """0-based position in the file."""
    data: dict[str, Any]


def format_of(name: str, declared: str | None) -> str:
    if declared:
        return declared
    suffix = name.rsplit(".", 1)[-1].lower()
    if suffix not in ("json", "jsonl", "csv", "parquet"):  # csv-lists is never guessed
        raise BadInput(f"{name}: unknown file type '.{suffix}' (expected .json, .jsonl, .csv or .parquet)")
    return suffix


def read_rows(data: bytes, name: str, fmt: str, records: str | None = None) -> list[Row]:
    """The file's records; ``records`` is the dotted path to the list inside a JSON file holding one object."""
    if fmt == "parquet":
        return _parquet_rows(data, name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise BadInput(f"{name}:{line}: undecodable bytes (not UTF-8) at byte {e.start}") from None
    if fmt == "csv":
        return _csv_rows(text, name)
    if fmt == "csv-lists":
        return _csv_list_rows(text, name)
    if records is not None:
        return _nested_rows(text, name, records)
    if fmt == "json" and text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as e:
            raise BadInput(f"{name}:{e.lineno}: invalid JSON ({e.msg})") from None
        return [Row(f"record {i + 1}", i, _object(r, name, f"record {i + 1}")) for i, r in enumerate(records)]
    return _jsonl_rows(text, name)


def _nested_rows(text: str, name: str, path: str) -> list[Row]:
    """The records of a JSON object's list at ``path`` (JUDGE-BENCH's ``{"instances": [...]}``)."""
    try:
        node = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadInput(f"{name}:{e.lineno}: invalid JSON ({e.msg})") from None
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            raise BadInput(f"{name}: no list of records at '{path}' (no key '{key}')")
        node = node[key]
    if not isinstance(node, list):
        raise BadInput(f"{name}: '{path}' holds a {type(node).__name__}, not a list of records")
    return [Row(f"record {i + 1}", i, _object(r, name, f"record {i + 1}")) for i, r in enumerate(node)]


def _jsonl_rows(text: str, name: str) -> list[Row]:
    rows = []
    for lineno, record in json_lines(text, name):
        rows.append(Row(f"line {lineno}", len(rows), _object(record, name, f"line {lineno}")))
    return rows


def _object(record: Any, name: str, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise BadInput(f"{name}: {where}: a record must be a JSON object, got {type(record).__name__}")
    for field, value in record.items():
        if not _is_text(value):
            raise BadInput(f"{name}: {where}: field '{field}': a lone surrogate (a \\uD800-\\uDFFF escape "
                           "without its pair) is not text")
    return record


def _is_text(value: Any) -> bool:
    """Whether every string in a JSON value is real text: JSON may escape half a UTF-16 pair
    (``"\\ud800"``), which no file, hash or request can encode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_is_text(k) and _is_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_text(v) for v in value)
    return True


def _csv_rows(text: str, name: str) -> list[Row]:
    _, records = csv_records(text, name)
    return [Row(f"record {i + 1}", i, r) for i, r in enumerate(records)]


def csv_records(text: str, name: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and one dict per data row, every cell as text; blank lines are skipped.

    A row with more or fewer fields than the header is an error naming its
    line: pandas would silently take a surplus first field as the index and
    shift every column (a trailing comma is enough).
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
        if len(set(header)) < len(header):
            twice = next(c for c in header if header.count(c) > 1)
            raise BadInput(f"{name}:1: column '{twice}' appears twice in the header")
        records = []
        for fields in reader:
            if not fields:
                continue
            if len(fields) != len(header):
                raise BadInput(f"{name}:{reader.line_num}: {len(fields)} fields, but the header has {len(header)}")
            records.append(dict(zip(header, fields)))
    except csv.Error as e:
        raise BadInput(f"{name}:{reader.line_num}: not readable as CSV ({e})") from None
    return header, records


def _csv_list_rows(text: str, name: str) -> list[Row]:
    """CSV whose cells hold lists of equal length (HANNA's layout): one record per row and position.

    A cell that is not a list (the row's name) repeats in each of its row's
    records; records are numbered in reading order (row r, position k is
    r * length + k when all rows have the same length) and keep k as ``_position``.
    """
    records: list[Row] = []
    for row in _csv_rows(text, name):
        lists = {c: _list_cell(v, name, row.where, c) for c, v in row.data.items()}
        lengths = {len(v) for v in lists.values() if v is not None}
        if len(lengths) != 1:
            raise BadInput(f"{name}: {row.where}: list cells differ in length ({sorted(lengths)})"
                           if lengths else f"{name}: {row.where}: no list cells")
        (length,) = lengths
        for k in range(length):
            data = {c: (v[k] if v is not None else row.data[c]) for c, v in lists.items()}
            data[POSITION] = k
            records.append(Row(f"{row.where} position {k}", len(records), data))
    return records


def _list_cell(value: str, name: str, where: str, column: str) -> list | None:
    if not value.lstrip().startswith("["):
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        raise BadInput(f"{name}: {where}: field '{column}': not a JSON list") from None
    return parsed


def _parquet_rows(data: bytes, name: str) -> list[Row]:
    import pandas as pd
    import pyarrow as pa

    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except (OSError, ValueError, pa.ArrowException) as e:
        raise BadInput(f"{name}: not readable as Parquet ({str(e).splitlines()[0]})") from None
    return [Row(f"record {i + 1}", i, {c: _python(v) for c, v in r.items()})
            for i, r in enumerate(frame.to_dict("records"))]


def _python(value: Any) -> Any:
    """A Parquet cell with its arrays as lists (a list column reads as numpy arrays), at any depth:
    a list is then a list everywhere, never unwrapped to its one element or failing as a scalar."""
    if getattr(value, "ndim", 0):
        return [_python(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {k: _python(v) for k, v in value.items()}
    return value


def require(row: Row, column: str, name: str) -> Any:
    value = row.data.get(column)
    if column not in row.data or is_missing(value):
        raise BadInput(f"{name}: {row.where}: field '{column}': missing")
    return plain(value)


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def plain(value: Any) -> Any:
    """numpy scalars (from Parquet) as Python values."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, dict, str)) else value
