"""Run dirs as a flat table: one row per (example, presentation order), for pandas, R, a spreadsheet.

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
from judgekit.records import RunRecords



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
    "details": "string",  # the protocol's extras as JSON text (checklist answers, stage texts, ...)
}
"""Column name -> pandas dtype, in output order."""


def to_frame(runs: Iterable[RunRecords]) -> pd.DataFrame:
    """The rows of every run, one per (example, order), in each run's example order."""
    rows = [row for run in runs for row in _rows(run)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype(COLUMNS)


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


def write_export(frame: pd.DataFrame, fmt: str, out: Path | None) -> str | None:
    """Write ``frame`` as ``fmt`` (one of FORMATS) to ``out`` atomically, or return it as text when ``out`` is None."""
    if fmt not in FORMATS:
        raise BadInput(f"export: unknown format '{fmt}'; expected one of {', '.join(FORMATS)}")
    if out is None:
        if fmt == "parquet":
            raise BadInput("export --format parquet: needs --out FILE (parquet is binary)")
        return _text(frame, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            tmp.write_text(_text(frame, fmt), encoding="utf-8")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return None


def _text(frame: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return frame.to_csv(index=False, na_rep="")
    return frame.to_json(orient="records", lines=True, force_ascii=False)


def read_export(path: str | Path) -> pd.DataFrame:
    """Read an export back (format from the suffix) with the dtypes :func:`to_frame` gives.

    In CSV an empty cell is missing; ``raw`` is missing exactly when the row has
    no order, so an empty ``raw`` on an order row is restored as empty text.
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix == "parquet":
        frame = pd.read_parquet(path)
    elif suffix == "csv":
        frame = pd.read_csv(path, dtype=COLUMNS, keep_default_na=False, na_values={c: [""] for c in COLUMNS})
        frame.loc[frame["order_index"].notna() & frame["raw"].isna(), "raw"] = ""
    elif suffix in ("jsonl", "json"):
        frame = pd.read_json(path, lines=True, dtype=False)
    else:
        raise BadInput(f"{path}: unknown export format '{path.suffix}'; expected .csv, .parquet or .jsonl")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise BadInput(f"{path}: not a judgekit export (no column '{missing[0]}')")
    return frame[list(COLUMNS)].astype(COLUMNS)
