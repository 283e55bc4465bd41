"""``judgekit report`` and ``judgekit compare``: figures and leaderboards over run dirs."""

from __future__ import annotations

import io
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from judgekit.cli.output_file import check_out, write_text
from judgekit.errors import BadInput


class ReportFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"
    html = "html"


class CompareFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"
    html = "html"


_RUNS_HELP = "Run dirs (from judgekit run or judgekit import)."
_POLICY_HELP = "Count invalid verdicts as: wrong, llmbar, exclude, half or coin (default: each run's own policy)."
_EPSILON_HELP = "Alt-test margin for runs over items with several human votes (0.2 experts, 0.1 crowd)."
_TARGET_HELP = "HTML: the accuracy at which to report the coverage the judge may decide alone."
_RESAMPLES_HELP = "Bootstrap resamples for the confidence intervals."
_OUT_HELP = "Write the output to this file instead of stdout (html: one self-contained page)."
_FORCE_HELP = "Let --out replace an existing file."
_ITEMS_HELP = "Resample items even where items share an instruction or question id (default: resample those clusters)."
_RANK_HELP = ("Rank by: headline (each run's own figure: pairwise accuracy_final where the protocol combines both "
              "orders, accuracy otherwise; pointwise item_kendall; classify cohen_kappa), or a figure of the runs' "
              "kind: pairwise accuracy_final|accuracy; classify kappa|mcc|balanced_accuracy|f1:LABEL|accuracy.")


def register(app: typer.Typer) -> None:
    """Attach both commands to the main app."""
    app.command("report")(report_command)
    app.command("compare")(compare_command)


def report_command(
    runs: list[Path] = typer.Argument(..., help=_RUNS_HELP),
    format: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f", help="table, markdown, json or html."),
    invalid_policy: str | None = typer.Option(None, "--invalid-policy", help=_POLICY_HELP),
    resamples: int = typer.Option(1000, "--resamples", min=1, help=_RESAMPLES_HELP),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resamples."),
    item_bootstrap: bool = typer.Option(False, "--item-bootstrap", help=_ITEMS_HELP),
    epsilon: float = typer.Option(0.2, "--epsilon", help=_EPSILON_HELP),
    target_accuracy: float = typer.Option(0.9, "--target-accuracy", help=_TARGET_HELP),
    by: str | None = typer.Option(None, "--by",
                                  help="Also give every figure per group of items: an item "
                                       "field (subset, system, cluster, ...) or a metadata key."),
    out: Path | None = typer.Option(None, "--out", "-o", help=_OUT_HELP),
    force: bool = typer.Option(False, "--force", help=_FORCE_HELP),
) -> None:
    """The headline figure first, then accuracies (with CIs), agreement, invalid and tie rates, kappa, biases, cost.

    With --by FIELD, each run's figures per group too (JSON: runs[i].groups.VALUE, each a whole row).

    Example: judgekit report runs/gpt4-vanilla runs/gpt4-cot --format html --out report.html
    Example: judgekit report runs/pandalm-gpt35 --by cmp_key --format markdown
    """
    from judgekit.analysis.compare import Options, report  # numpy/pandas: load only for this command
    from judgekit.report.tables import render_report

    options = Options(invalid_policy=invalid_policy, n_resamples=resamples, seed=seed, clusters=not item_bootstrap,
                      epsilon=epsilon, target_accuracy=target_accuracy)
    check_out(out, force)
    read = _read(runs)
    if format is ReportFormat.html:
        _emit(_page(read, options, "judgekit report", "headline", by), out)
    else:
        _emit(render_report(report(read, options, by=by), format.value), out)


def compare_command(
    runs: list[Path] = typer.Argument(..., help=_RUNS_HELP),
    format: CompareFormat = typer.Option(CompareFormat.table, "--format", "-f", help="table, markdown, json or html."),
    invalid_policy: str | None = typer.Option(None, "--invalid-policy", help=_POLICY_HELP),
    resamples: int = typer.Option(1000, "--resamples", min=1, help=_RESAMPLES_HELP),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resamples."),
    item_bootstrap: bool = typer.Option(False, "--item-bootstrap", help=_ITEMS_HELP),
    epsilon: float = typer.Option(0.2, "--epsilon", help=_EPSILON_HELP),
    target_accuracy: float = typer.Option(0.9, "--target-accuracy", help=_TARGET_HELP),
    rank_by: str = typer.Option("headline", "--rank-by", help=_RANK_HELP + " Pointwise runs: a score figure, e.g. "
                                "item_kendall (the headline), system_spearman, mae."),
    criterion: str | None = typer.Option(None, "--criterion",
                                         help="Pointwise runs: rank on this criterion "
                                              "(default: the mean over criteria)."),
    out: Path | None = typer.Option(None, "--out", "-o", help=_OUT_HELP),
    force: bool = typer.Option(False, "--force", help=_FORCE_HELP),
) -> None:
    """Leaderboard with CIs and biases; paired tests on shared examples with Holm and BH adjustments.

    Pointwise runs (scores against human scores) get the correlation table per
    criterion and a ranking by --rank-by, with paired cluster-bootstrap differences.

    Example: judgekit compare runs/* --format markdown
    """
    from judgekit.analysis.compare import Options, compare  # numpy/pandas: load only for this command
    from judgekit.report.tables import render_compare

    options = Options(invalid_policy=invalid_policy, n_resamples=resamples, seed=seed, clusters=not item_bootstrap,
                      epsilon=epsilon, criterion=criterion, target_accuracy=target_accuracy)
    check_out(out, force)
    read = _read(runs)
    if format is CompareFormat.html:
        _emit(_page(read, options, "judgekit compare", rank_by), out)
    else:
        _emit(render_compare(compare(read, options, rank_by=rank_by), format.value), out)


def _page(runs: list, options: Any, title: str, rank_by: str, by: str | None = None) -> str:
    """The HTML page (matplotlib loads only when a page is asked for)."""
    from judgekit.analysis.page import page_data
    from judgekit.report.html import render_html

    return render_html(page_data(runs, options, rank_by=rank_by, by=by), title=title)


def _read(paths: list[Path]) -> list:
    from judgekit.runs.run_dir import read_run

    seen: set[Path] = set()
    for path in paths:
        if path.resolve() in seen:
            raise BadInput(f"{path}: given twice")
        seen.add(path.resolve())
    return [read_run(path) for path in paths]


def _emit(rendered: Any, out: Path | None) -> None:
    """Print, or write to ``out`` in one atomic step (a rich table is written as plain text)."""
    if out is None:
        _show(rendered)
        return
    if not isinstance(rendered, str):
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(rendered)
        rendered = console.export_text()
    write_text(out, rendered)


def _show(rendered: Any) -> None:
    if isinstance(rendered, str):
        typer.echo(rendered, nl=not rendered.endswith("\n"))
    else:  # piped output keeps whole rows instead of the 80-column default
        console = Console()
        Console(width=None if console.is_terminal else 200).print(rendered)
