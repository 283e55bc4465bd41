"""``judgekit estimate``: a system's pass rate, win rate or mean score from judge verdicts plus a few human labels."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from judgekit.cli.options import FORMAT, OutputFormat


class Interval(str, Enum):
    delta = "delta"
    bootstrap = "bootstrap"


def register(app: typer.Typer) -> None:
    """Attach ``estimate`` to the main app."""
    app.command("estimate")(estimate_command)


def estimate_command(
    run: Path = typer.Argument(..., help="The judge run: its verdicts on every item (labelled or not)."),
    human: Path = typer.Option(..., "--human", help="Human labels on a uniformly random subset of the run's items "
                                                    "(CSV, JSONL or Parquet)."),
    mapping: str | None = typer.Option(
        None, "--mapping", help="The human file's columns: id=COL (or content columns, e.g. input=q,response=a) and "
                                "label=COL (label=h1+h2+h3 for several annotators). Default: id=id,label=label."),
    labels: str | None = typer.Option(None, "--labels", help="Raw values to the run's labels, e.g. yes=fail,no=pass "
                                                                "(pairwise: 1=a,2=b,0=tie)."),
    target: str | None = typer.Option(
        None, "--target", help="pass_rate (classify), win_rate[:SYSTEM] (pairwise; default response a), "
                               "mean_score[:CRITERION] (pointwise). Default: the run kind's."),
    positive: str | None = typer.Option(None, "--positive", help="pass_rate: the label whose rate is estimated "
                                                                    "(default pass, else the run's positive label)."),
    method: list[str] | None = typer.Option(
        None, "--method", help="ppi++, ppi, classical, naive or rogan-gladen; repeat for several (default: all)."),
    alpha: float = typer.Option(0.05, "--alpha", help="1 - the intervals' level."),
    clusters: bool = typer.Option(True, "--clusters/--no-clusters",
                                  help="Clustered variance when items share an input (default) or independent items."),
    rg_interval: Interval = typer.Option(Interval.delta, "--rg-interval",
                                         help="Rogan-Gladen interval: delta method or bootstrap (clustered data: "
                                              "always a cluster bootstrap)."),
    resamples: int = typer.Option(2000, "--resamples", min=1, help="Bootstrap resamples (Rogan-Gladen)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    format: OutputFormat = FORMAT,
) -> None:
    """Prediction-powered inference: unbiased estimates with valid intervals from a judge plus human labels.

    Shows naive (judge only, not valid), classical (humans only), ppi, ppi++ and,
    for pass rates, Rogan-Gladen side by side. The human labels must be a uniform
    random sample of the run's items (judgekit route --sample random). See docs/estimate.md.

    Example: judgekit estimate runs/halueval-judge --human labels.csv --mapping id=id,label=human --positive pass
    """
    from judgekit.analysis.estimate import METHODS, estimate_figures
    from judgekit.report.estimate import estimate_json, print_estimate
    from judgekit.runs.run_dir import read_run

    figures = estimate_figures(
        read_run(run), human, target=target, positive=positive, mapping=mapping, labels=labels,
        methods=tuple(method) if method else METHODS, alpha=alpha, clusters=clusters,
        rogan_gladen_interval=rg_interval.value, n_resamples=resamples, seed=seed,
    )
    if format is OutputFormat.json:
        typer.echo(estimate_json(figures))
        return
    print_estimate(figures, Console())
