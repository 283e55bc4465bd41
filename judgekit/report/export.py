"""Run dirs as a flat table for pandas, R, a spreadsheet: one row per verdict part, columns by run kind.

Pairwise runs give one row per (example, presentation order); pointwise runs
one per (response, criterion); classify runs one per output.

The run dir's verdict lines nest (orders inside verdicts, usage inside both);
analysis tools want one rectangle. Each row carries the example's ids and human
labels, the order's own winner, raw text, margin and scores, and the verdict's
final winner, usage and details. Usage is the whole verdict's (the run dir does
not split it by order), so its columns are named ``verdict_*`` and repeat on
every order row of a verdict: sum them over ``order_index == 0`` rows only.
A verdict with no per-order results gives one row with the order fields empty.

Every column has a fixed nullable dtype (:data:`COLUMNS`), so a frame read back
with :func:`read_export` equals :meth:`Run.to_pandas` whatever the format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from judgekit.errors import BadInput
from judgekit.records import CallText, RunRecords

FORMATS = ("csv", "parquet", "jsonl")

COLUMNS: dict[str, str] = {
    "run": "string",  # the run dir's path
    "judge": "string",
    "protocol": "string",
    "dataset": "string",
    "example_id": "string",
    "subset": "string",
    "gold": "string",  # a, b, tie; empty for unlabelled pairs
    "votes": "string",  # the individual human votes, comma-joined (e.g. "a,a,b")
    "generator_a": "string",
    "generator_b": "string",
    "order_index": "Int64",  # 0, 1, ... in the protocol's order; empty when the verdict has no orders
    "order": "string",  # original (response_a shown first) or swapped
    "order_winner": "string",  # this order's winner in the canonical a/b frame; empty if unparseable
    "raw": "string",  # the judge's raw text for this order
    "margin": "Float64",  # log P(a) - log P(b), canonical frame, logprob protocols only
    "score_a": "Float64",  # per-response scores (rating, checklist protocols)
    "score_b": "Float64",
    "winner": "string",  # the verdict's final winner; empty means invalid
    "invalid_reason": "string",
    "verdict_calls": "Int64",
    "verdict_cache_hits": "Int64",
    "verdict_tokens_in": "Int64",
    "verdict_tokens_out": "Int64",
    "verdict_cost_usd": "Float64",
    "verdict_latency_s": "Float64",
    "details": "string",  # the protocol's extras as JSON text (checklist answers, panel members, ...)
    "transcript": "string",  # the verdict's other calls' replies as JSON text: stage (or stage/order) -> text
}
"""Column name -> pandas dtype, in output order."""


POINTWISE_COLUMNS: dict[str, str] = {
    "run": "string", "judge": "string", "protocol": "string", "dataset": "string", "example_id": "string",
    "input_id": "string", "system": "string", "subset": "string",
    "criterion": "string",
    "human_scores": "string",  # the annotators' scores, comma-joined
    "human_mean": "Float64",
    "score": "Float64",  # the judge's score; empty when invalid
    "raw": "string", "invalid_reason": "string",
    "verdict_calls": "Int64", "verdict_cache_hits": "Int64", "verdict_tokens_in": "Int64",
    "verdict_tokens_out": "Int64",
    "verdict_cost_usd": "Float64", "verdict_latency_s": "Float64",
}
"""Pointwise runs: one row per (response, criterion rated)."""

CLASSIFY_COLUMNS: dict[str, str] = {
    "run": "string", "judge": "string", "protocol": "string", "dataset": "string", "example_id": "string",
    "system": "string", "subset": "string",
    "gold": "string",  # the human label; empty for unlabelled outputs or tied votes
    "votes": "string",  # the annotators' labels, comma-joined, empty where one did not label
    "label": "string",  # the judge's label; empty means invalid
    "confidence": "Float64",
    "raw": "string", "invalid_reason": "string",
    "verdict_calls": "Int64", "verdict_cache_hits": "Int64", "verdict_tokens_in": "Int64",
    "verdict_tokens_out": "Int64",
    "verdict_cost_usd": "Float64", "verdict_latency_s": "Float64",
    "details": "string", "transcript": "string",
}
"""Classify runs: one row per output."""


def to_frame(runs: Iterable[RunRecords]) -> pd.DataFrame:
    """The rows of every run in each run's example order; all runs must be of one kind."""
    runs = list(runs)
    kinds = {run.manifest.kind for run in runs}
    if len(kinds) > 1:
        raise BadInput(f"export: runs of different kinds ({', '.join(sorted(kinds))}) have different columns; "
                       "export each kind on its own")
    kind = kinds.pop() if kinds else "pairwise"
    columns, rows_of = _KINDS[kind]
    frame = pd.DataFrame([row for run in runs for row in rows_of(run)], columns=list(columns))
    return frame.astype(columns)


def _usage(usage: Any) -> dict[str, Any]:
    return {"verdict_calls": usage.calls, "verdict_cache_hits": usage.cache_hits,
            "verdict_tokens_in": usage.tokens_in, "verdict_tokens_out": usage.tokens_out,
            "verdict_cost_usd": usage.cost_usd, "verdict_latency_s": usage.latency_s}


def _run_fields(run: RunRecords) -> dict[str, Any]:
    manifest = run.manifest
    return {"run": str(run.path), "judge": manifest.judge, "protocol": manifest.protocol,
            "dataset": manifest.dataset}


def _pointwise_rows(run: RunRecords) -> Iterator[dict[str, Any]]:
    examples = {e.id: e for e in run.examples}
    for rating in run.verdicts:
        example = examples[rating.example_id]
        for criterion, rated in rating.criteria.items():
            human = example.criteria.get(criterion)
            scores = human.scores if human is not None else ()
            yield {**_run_fields(run), "example_id": example.id, "input_id": example.input_id,
                   "system": example.system, "subset": example.subset, "criterion": criterion,
                   "human_scores": ",".join(f"{s:g}" for s in scores) or None,
                   "human_mean": human.mean if human is not None else None, "score": rated.score,
                   "raw": rated.raw, "invalid_reason": rated.invalid_reason, **_usage(rating.usage)}


def _classify_rows(run: RunRecords) -> Iterator[dict[str, Any]]:
    examples = {e.id: e for e in run.examples}
    for verdict in run.verdicts:
        example = examples[verdict.example_id]
        yield {**_run_fields(run), "example_id": example.id, "system": example.system, "subset": example.subset,
               "gold": example.gold, "votes": ",".join(v or "" for v in example.votes) or None,
               "label": verdict.label, "confidence": verdict.confidence, "raw": verdict.raw,
               "invalid_reason": verdict.invalid_reason, **_usage(verdict.usage),
               "details": json.dumps(verdict.details, ensure_ascii=False, sort_keys=True) if verdict.details else None,
               "transcript": _transcript(verdict.transcript)}


def _rows(run: RunRecords) -> Iterator[dict[str, Any]]:
    manifest = run.manifest
    examples = {e.id: e for e in run.examples}
    for verdict in run.verdicts:
        example = examples[verdict.example_id]
        usage = verdict.usage
        shared = {
            "run": str(run.path), "judge": manifest.judge, "protocol": manifest.protocol,
            "dataset": manifest.dataset, "example_id": example.id, "subset": example.subset,
            "gold": example.gold, "votes": ",".join(example.votes) or None,
            "generator_a": example.generator_a, "generator_b": example.generator_b,
            "winner": verdict.winner, "invalid_reason": verdict.invalid_reason,
            "verdict_calls": usage.calls, "verdict_cache_hits": usage.cache_hits,
            "verdict_tokens_in": usage.tokens_in, "verdict_tokens_out": usage.tokens_out,
            "verdict_cost_usd": usage.cost_usd, "verdict_latency_s": usage.latency_s,
            "details": json.dumps(verdict.details, ensure_ascii=False, sort_keys=True) if verdict.details else None,
            "transcript": _transcript(verdict.transcript),
        }
        if not verdict.orders:
            yield shared
        for index, order in enumerate(verdict.orders):
            scores = order.scores or {}
            yield {
                **shared, "order_index": index, "order": "swapped" if order.swapped else "original",
                "order_winner": order.winner, "raw": order.raw, "margin": order.margin,
                "score_a": scores.get("a"), "score_b": scores.get("b"),
            }


def _transcript(calls: Iterable[CallText]) -> str | None:
    """A record's transcript as JSON text, each reply under its stage (``stage/order`` for a call in an order)."""
    texts = {f"{c.stage}/{c.order}" if c.order else c.stage: c.text for c in calls}
    return json.dumps(texts, ensure_ascii=False) if texts else None


_KINDS = {"pairwise": (COLUMNS, _rows), "pointwise": (POINTWISE_COLUMNS, _pointwise_rows),
          "classify": (CLASSIFY_COLUMNS, _classify_rows)}


def write_export(frame: pd.DataFrame, fmt: str, out: Path | None) -> str | None:
    """Write ``frame`` as ``fmt`` (one of FORMATS) to ``out`` atomically, or return it as text when ``out`` is None."""
    if fmt not in FORMATS:
        raise BadInput(f"export: unknown format '{fmt}'; expected one of {', '.join(FORMATS)}")
    if out is None:
        if fmt == "parquet":
            raise BadInput("export --format parquet: needs --out FILE (parquet is binary)")
        return _text(frame, fmt)
    tmp = out.with_name(f".{out.name[:200]}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            tmp.write_text(_text(frame, fmt), encoding="utf-8")
        tmp.replace(out)
    except OSError as e:
        raise BadInput(f"--out {out}: cannot write ({e.strerror.lower()})") from None
    finally:
        if tmp.exists():  # (unlinking a missing file on a read-only file system fails too)
            tmp.unlink()
    return None


def _text(frame: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        # RFC 4180: a lone \r is quoted too
        return _formulas_as_text(frame).to_csv(index=False, na_rep="", lineterminator="\r\n")
    return frame.to_json(orient="records", lines=True, force_ascii=False)


FORMULA_START = "^[=+\\-@\t\r']"
"""A cell a spreadsheet would run as a formula (OWASP's list: = + - @ tab, carriage return), or one
that starts with the quote that marks the others."""


def _formulas_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that start like a formula, with a ``'`` in front: a spreadsheet shows them as text.

    A judge's reply is steered by the texts it judges, so a prompt injection could otherwise make
    an exported cell run ``=HYPERLINK(...)`` or a command (OWASP, "CSV Injection"). A cell that
    already starts with ``'`` gets one more, so :func:`read_export` takes exactly one off any cell.
    """
    frame = frame.copy()
    for column in frame.columns[frame.dtypes == "string"]:
        marked = frame[column].str.contains(FORMULA_START, regex=True, na=False)
        frame.loc[marked, column] = "'" + frame.loc[marked, column]
    return frame


def read_export(path: str | Path) -> pd.DataFrame:
    """Read an export back (format from the suffix) with the dtypes :func:`to_frame` gives.

    In CSV an empty cell is missing; ``raw`` is missing exactly when the row has
    no order, so an empty ``raw`` on an order row is restored as empty text.
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    columns = _columns_of(path, suffix)
    if suffix == "parquet":
        frame = pd.read_parquet(path)
    elif suffix == "csv":
        frame = pd.read_csv(path, dtype=columns, keep_default_na=False, na_values={c: [""] for c in columns})
        for column in frame.columns[frame.dtypes == "string"]:  # undo _formulas_as_text
            quoted = frame[column].str.startswith("'", na=False)
            frame.loc[quoted, column] = frame.loc[quoted, column].str[1:]
        if "order_index" in columns:
            frame.loc[frame["order_index"].notna() & frame["raw"].isna(), "raw"] = ""
    elif suffix in ("jsonl", "json"):
        frame = pd.read_json(path, lines=True, dtype=False)
    else:
        raise BadInput(f"{path}: unknown export format '{path.suffix}'; expected .csv, .parquet or .jsonl")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BadInput(f"{path}: not a judgekit export (no column '{missing[0]}')")
    return frame[list(columns)].astype(columns)


def _columns_of(path: Path, suffix: str) -> dict[str, str]:
    """The kind's columns an export holds, told by the column only that kind has."""
    if suffix == "parquet":
        names = set(pd.read_parquet(path).columns) if path.is_file() else set()
    elif suffix in ("csv", "jsonl", "json") and path.is_file():
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        names = set(json.loads(first)) if suffix != "csv" and first.strip() else set(first.split(","))
    else:
        names = set()
    if "criterion" in names:
        return POINTWISE_COLUMNS
    if "label" in names and "order_index" not in names:
        return CLASSIFY_COLUMNS
    return COLUMNS
