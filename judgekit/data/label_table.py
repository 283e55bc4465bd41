"""Read a table of labels (CSV, JSONL or Parquet) into text labels, one column per rater.

Every cell becomes a string label or None: an empty cell (or JSON null) is a
missing rating, and numbers lose float noise so a 1 read as ``1.0`` still
matches the declared label ``1``. Errors name the file, the row and the column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from judgekit.data.files import csv_records
from judgekit.errors import BadInput

FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def read_label_table(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """The named columns of a label file as text labels (None for missing).

    Raises BadInput for a missing or unreadable file, an unknown format, or a
    column the file does not have.
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise BadInput(f"{path}: unknown table format '{path.suffix}' (use .csv, .jsonl or .parquet)")
    if not path.is_file():
        raise BadInput(f"{path}: file not found")
    frame = _read(path, kind)
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise BadInput(f"{path}: column '{absent[0]}' not found (columns: {', '.join(map(str, frame.columns))})")
    return frame[list(columns)].map(_as_label).astype(object)


def _read(path: Path, kind: str) -> pd.DataFrame:
    try:
        if kind == "csv":
            header, records = csv_records(path.read_text(encoding="utf-8-sig"), str(path))
            return pd.DataFrame(records, columns=header, dtype=object)
        if kind == "parquet":
            return pd.read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise BadInput(f"{path}: cannot read as {kind} ({_first_line(e)})") from None
    return _read_jsonl(path)


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise BadInput(f"{path}: not UTF-8 text (byte {e.start})") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise BadInput(f"{path}:{lineno}: invalid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise BadInput(f"{path}:{lineno}: expected a JSON object per line")
        rows.append(row)
    return pd.DataFrame(rows)


def _as_label(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
