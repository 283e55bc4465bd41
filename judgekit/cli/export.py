"""``judgekit export``: run dirs as one flat CSV, Parquet or JSON-lines table."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from judgekit.cli.output_file import check_out


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"
    jsonl = "jsonl"


def register(app: typer.Typer) -> None:
    """Attach the command to the main app."""
    app.command("export")(export_command)


def export_command(
    runs: list[Path] = typer.Argument(..., help="Run dirs (from judgekit run or judgekit import)."),
    format: ExportFormat = typer.Option(ExportFormat.csv, "--format", "-f", help="csv, parquet or jsonl."),
    out: Path | None = typer.Option(None, "--out", "-o", help="File to write (default stdout; parquet needs one)."),
    force: bool = typer.Option(False, "--force", help="Let --out replace an existing file."),
) -> None:
    """One row per (example, presentation order): ids, gold, winners, raw text, margins, scores, usage.

    Example: judgekit export runs/gpt4-vanilla runs/gpt4-cot --format parquet --out verdicts.parquet
    """
    from judgekit.report.export import to_frame, write_export  # pandas: load only for this command
    from judgekit.runs.run_dir import read_run

    check_out(out, force)
    frame = to_frame([read_run(path) for path in runs])
    text = write_export(frame, format.value, out)
    if text is not None:
        sys.stdout.write(text)
    else:
        Console(stderr=True).print(f"wrote {len(frame):,} rows to {out}", markup=False, highlight=False)
