"""``judgekit sweep FILE.yaml``: a grid of judges x protocols x datasets, then a leaderboard."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from judgekit.errors import BadInput, JudgekitError


def sweep(
    file: Path = typer.Argument(..., help="Sweep file (YAML): judges, protocols, datasets, root, concurrency."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Root for the run dirs (overrides the file's root)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Processes to judge each run in (judgekit run --workers); runs then go one by one.",
    ),
) -> None:
    """Run every judge x protocol x dataset cell (resuming finished work), then compare them.

    Example: judgekit sweep sweeps/llmbar.yaml --out runs/llmbar-sweep
    """
    import asyncio

    from judgekit.analysis.compare import compare
    from judgekit.report.tables import render_compare
    from judgekit.runs.run_dir import read_run
    from judgekit.runs.runner import LiveProgress
    from judgekit.runs.sweep import cells, load_sweep, run_sweep

    spec = load_sweep(file)
    root = out or (Path(spec.root) if spec.root else None)
    if root is None:
        raise BadInput(f"{file}: no 'root' key; add one or pass --out")
    if not quiet:
        Console(stderr=True).print(f"{root}: {len(cells(spec))} runs", highlight=False)

    async def go():
        with LiveProgress(enabled=not quiet) as live:
            return await run_sweep(spec, root, progress=live, workers=workers)

    done, failed = asyncio.run(go())
    if done:
        wide = Console().is_terminal  # piped output gets room for the whole leaderboard
        Console(width=None if wide else 200).print(render_compare(compare([read_run(p) for p in done]), "table"))
    for line in failed:
        Console(stderr=True).print(f"failed: {line}", markup=False, highlight=False, soft_wrap=True)
    if failed:
        raise JudgekitError(f"{len(failed)} of {len(done) + len(failed)} runs failed; rerun the sweep to resume them")


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
