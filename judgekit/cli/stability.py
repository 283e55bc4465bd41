"""``judgekit stability`` (ask the judge again: test-retest) and ``judgekit drift`` (two runs of "the same" judge)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from judgekit.cli.options import FORMAT, OutputFormat
from judgekit.errors import BadInput


class PageFormat(str, Enum):
    """``stability``'s output: a table, JSON, or the HTML page (written into the stability dir)."""

    table = "table"
    json = "json"
    html = "html"


PAGE = "stability.html"
"""The HTML page's name inside the stability dir."""


def stability(
    run: Path = typer.Argument(..., help="A run dir to repeat, or a stability dir to report."),
    repeats: int | None = typer.Option(None, "--repeats", "-k", min=2, help="Judge the run's items K more times."),
    temperature: float | None = typer.Option(None, "--temperature",
                                                help="Sampling temperature of the repeats (default: the run's)."),
    protocol: str | None = typer.Option(None, "--protocol", "-p",
                                           help="The run's protocol spec file, when it is not a built-in one."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                       help="The stability dir (default RUN-stability); an existing one is resumed."),
    base_url: str | None = typer.Option(None, "--base-url",
                                           help="OpenAI-compatible server URL (default: the run's)."),
    concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="Model calls in flight at once."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the response cache."),
    format: PageFormat = typer.Option(PageFormat.table, "--format", "-f",
                                      help="table, json, or html (written to DIR/stability.html)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Judge a run's items K more times with the same judge and protocol; report how much the verdicts move.

    Example: judgekit stability runs/gpt4o-mini-rules --repeats 5 --temperature 0.7
    """
    import asyncio

    from judgekit.analysis.stability import stability_figures
    from judgekit.report.stability import stability_html, stability_table
    from judgekit.runs.run_dir import is_run_dir
    from judgekit.runs.stability import read_repeats, run_repeats

    if repeats is None:
        if is_run_dir(run):
            raise BadInput(f"{run}: a run dir; pass --repeats K to judge its items K more times")
        path = run
    else:
        path = out or run.with_name(f"{run.name}-stability")
        handle, examples, source = _judge_of(run, protocol, temperature, base_url, concurrency, no_cache)
        if not quiet:
            Console(stderr=True).print(f"{path}: {repeats} repeats of {len(examples)} items", highlight=False)

        async def go() -> None:
            try:
                await run_repeats(handle, source.manifest.dataset, source.manifest.dataset_hash, examples,
                                  repeats=repeats, out=path)
            finally:
                await handle.aclose()

        asyncio.run(go())
    data = stability_figures(read_repeats(path))
    console = Console()
    if format is PageFormat.json:
        console.print_json(json.dumps(data, allow_nan=False))
    elif format is PageFormat.html:
        (path / PAGE).write_text(stability_html(data), encoding="utf-8")
        console.print(f"page: {path / PAGE}", highlight=False, soft_wrap=True)
    else:
        console.print(stability_table(data))
        console.print(f"stability dir: {path}", highlight=False, soft_wrap=True)


def _judge_of(run: Path, protocol: str | None, temperature: float | None, base_url: str | None, concurrency: int,
              no_cache: bool) -> tuple[Any, list, Any]:
    """The run's judge and protocol, loaded again (with its label set and settings), its items, the run."""
    from judgekit.judge.api import load_judge
    from judgekit.judge.protocol import LabelSet
    from judgekit.runs.run_dir import is_run_dir, read_run

    if not is_run_dir(run):
        raise BadInput(f"{run}: not a run dir (no manifest.json)")
    source = read_run(run)
    manifest = source.manifest
    if manifest.source is not None:
        raise BadInput(f"{run}: imported from {manifest.source}; a recorded judge cannot be asked again")
    stored_url = manifest.params.get("base_url")
    if base_url is None and stored_url and "?" in stored_url:
        raise BadInput(f"{run}: the run's server URL has query values, which a run dir keeps only as hashes; "
                       "pass --base-url")
    labels = LabelSet(names=manifest.labels, positive=manifest.positive_label) if manifest.kind == "classify" else None
    handle = load_judge(manifest.judge, protocol or manifest.protocol, base_url=base_url or stored_url,
                        judge_model=manifest.judge_model,
                        temperature=temperature if temperature is not None else manifest.params.get("temperature"),
                        max_tokens=manifest.params.get("max_tokens"), concurrency=concurrency, cache=not no_cache,
                        labels=labels)
    return handle, list(source.examples), source


def drift(
    run_a: Path = typer.Argument(...,
                                 help="The earlier run dir (another date, provider version, quantisation, server)."),
    run_b: Path = typer.Argument(..., help="The later run dir of the same judge on the same items."),
    by_order: bool = typer.Option(False, "--by-order", help="Also each presentation order's verdicts (pairwise runs)."),
    format: OutputFormat = FORMAT,
) -> None:
    """How two runs of "the same" judge on the same items differ: changed items, transitions, κ, paired test.

    Example: judgekit drift runs/chatgpt-0301 runs/chatgpt --format json
    """
    from judgekit.analysis.drift import drift_figures
    from judgekit.report.stability import drift_table
    from judgekit.runs.run_dir import read_run

    data = drift_figures(read_run(run_a), read_run(run_b), by_order=by_order)
    console = Console()
    if format is OutputFormat.json:
        console.print_json(json.dumps(data, allow_nan=False))
        return
    if not console.is_terminal:
        console = Console(width=140)
    console.print(drift_table(data))


def register(app: typer.Typer) -> None:
    app.command("stability")(stability)
    app.command("drift")(drift)
