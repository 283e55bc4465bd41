"""The HTML page for pointwise runs: leaderboard, correlation table, judge-vs-human plots per criterion.

Self-contained like ``judgekit.html_report`` (figures inlined as PNG data
URIs, nothing loaded from the network, run-dir text autoescaped).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.figure import Figure

from judgekit import __version__
from judgekit.errors import BadInput
from judgekit.plots import figure_data_uri
from judgekit.rundir import Run
from judgekit.score_report import TABLE_FIGURES, compare, criteria_of, criterion_items

_ENV = Environment(loader=PackageLoader("judgekit", "templates"), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=True, lstrip_blocks=True)
_ENV.filters["num"] = lambda value: "–" if value is None else f"{value:.3f}"
_ENV.filters["ci"] = lambda bounds: "" if not bounds else f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"


def judge_vs_human_figure(run: Run, *, columns: int = 3) -> Figure:
    """One scatter per criterion: the judge's score against the human mean, with the y = x line."""
    criteria = criteria_of(run)
    rows = max(1, -(-len(criteria) // columns))
    fig = Figure(figsize=(3.2 * columns, 3.0 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, criterion in zip(axes.ravel(), criteria):
        items = criterion_items(run, criterion)
        human = np.array([np.mean(h) for h in items.humans])
        judge = np.array([np.nan if s is None else s for s in items.judge], dtype=float)
        ok = np.isfinite(judge)
        example = next(e for e in run.examples if criterion in e.criteria)
        low, high = example.criteria[criterion].low, example.criteria[criterion].high
        ax.scatter(human[ok], judge[ok], s=8, alpha=0.35, linewidths=0)
        ax.plot([low, high], [low, high], color="grey", linewidth=0.8, linestyle="--")
        ax.set(xlim=(low - 0.2, high + 0.2), ylim=(low - 0.2, high + 0.2), xlabel="human mean",
               ylabel="judge", title=f"{criterion} ({int(ok.sum())} rated, {int((~ok).sum())} invalid)")
        ax.title.set_fontsize(9)
    for ax in axes.ravel()[len(criteria):]:
        ax.set_visible(False)
    return fig


def render_scored_html(runs: Sequence[Run], *, title: str, by: str = "item_kendall", criterion: str | None = None,
                       confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0) -> str:
    """The whole page as one string."""
    if not runs:
        raise BadInput("html report: no run dirs given")
    data = compare(runs, by=by, criterion=criterion, confidence=confidence, n_resamples=n_resamples, seed=seed)
    by_path = {str(run.path): run for run in runs}
    plots = [{"rank": row["rank"], "row": row,
              "figure": figure_data_uri(judge_vs_human_figure(by_path[row["run"]]))} for row in data["leaderboard"]]
    return _ENV.get_template("score_report.html.j2").render(
        title=title, version=__version__, generated=datetime.now(UTC).isoformat(timespec="seconds"),
        confidence=confidence, data=data, figures=TABLE_FIGURES, plots=plots,
    )
