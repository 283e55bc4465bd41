"""``judgekit versions``: every judge version run on a split, its dev and test figures, and how many looked at test."""

from __future__ import annotations

import io
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from judgekit.cli.output_file import check_out, write_text
from judgekit.errors import BadInput


class VersionsFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"
    html = "html"


def register(app: typer.Typer) -> None:
    """Attach ``versions`` to the main app."""
    app.command("versions")(versions_command)


def versions_command(
    split: Path = typer.Argument(..., help="A split dir (judgekit split) whose runs the ledger records."),
    final: str | None = typer.Option(None, "--final", help="The version you chose before looking at test "
                                                               "(v2, or a prefix of its hash): "
                                                               "the report leads with it."),
    format: VersionsFormat = typer.Option(VersionsFormat.table, "--format", "-f",
                                          help="table, markdown, json or html."),
    resamples: int = typer.Option(1000, "--resamples", min=1, help="Bootstrap resamples for the intervals."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resamples."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout."),
    force: bool = typer.Option(False, "--force", help="Let --out replace an existing file."),
) -> None:
    """Each judge version's dev and test figures, cost and tokens per 1,000 items, and paired tests on test.

    Each version is tested against the best version scored on test before it,
    with Holm's adjustment over all those tests. With more than one version
    scored on test, says how many: the best of k on one test set is optimistic.

    Example: judgekit versions splits/halueval --final v3 --format html --out versions.html
    """
    from judgekit.analysis.compare import Options
    from judgekit.analysis.versions import versions_table
    from judgekit.data.split_dir import read_split
    from judgekit.report.versions import render_versions
    from judgekit.runs.ledger import read_ledger
    from judgekit.runs.run_dir import is_run_dir, read_run

    check_out(out, force)
    if out is not None and split.resolve() in out.absolute().parents:
        raise BadInput(f"--out {out}: is inside the split dir {split}, which judgekit never writes; write it elsewhere")
    info = read_split(split).info
    ledger = read_ledger(split)
    paths = {e.run for e in ledger.entries if e.event == "finished"}
    runs = {path: read_run(path) for path in sorted(paths) if is_run_dir(path)}
    table = versions_table(ledger.entries, runs, kind=info.kind, options=Options(n_resamples=resamples, seed=seed),
                           final=final)
    data = {"split": {"path": str(split), "source": info.source, "dev": info.dev.n, "test": info.test.n},
            **table, "damaged_lines": ledger.damaged}
    rendered = render_versions(data, format.value)
    if out is not None:
        write_text(out, rendered if isinstance(rendered, str) else _plain(rendered))
    elif isinstance(rendered, str):
        typer.echo(rendered, nl=not rendered.endswith("\n"))
    else:
        console = Console()
        Console(width=None if console.is_terminal else 200).print(rendered)


def _plain(rendered: object) -> str:
    """A rich renderable as plain text, for --out."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(rendered)
    return console.export_text()
