"""The HTML report: one self-contained page per ``judgekit report|compare --format html``.

The page holds what a reader needs to judge the judges without the terminal:
the leaderboard with CIs, the figures of ``judgekit.plots`` inlined as PNG
data URIs, the paired-significance matrix, and the items where a judge
disagreed with the humans, with each order's raw judge text. It loads nothing
from the network. All text from run dirs goes through Jinja's autoescape, so
a response containing ``<script>`` shows as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from judgekit import __version__
from judgekit.errors import BadInput
from judgekit.plots import (
    accuracy_figure,
    bias_figure,
    figure_data_uri,
    run_labels,
    significance_figure,
    significance_table,
)
from judgekit.records import Example, Verdict
from judgekit.report import Options, compare
from judgekit.rundir import Run
from judgekit.score_html import render_scored_html
from judgekit.score_report import DEFAULT_RANK_BY, is_pointwise
from judgekit.trust import TrustOptions
from judgekit.trust_html import trust_section

MAX_ITEMS_PER_RUN = 200
"""Disagreements listed per run; the rest are counted, so a page of many runs stays readable."""

MAX_HEATMAP_RUNS = 20
"""Above this many runs the significance heatmap would be unreadable; the table still holds every pair."""

_ENV = Environment(loader=PackageLoader("judgekit", "templates"), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=True, lstrip_blocks=True)
_ENV.filters["num"] = lambda value: "–" if value is None else f"{value:.3f}"
_ENV.filters["ci"] = lambda bounds: "" if not bounds else f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"


@dataclass(frozen=True)
class Disagreement:
    """One item where at least one presentation order's winner differs from the human label."""

    example: Example
    verdict: Verdict
    wrong_orders: int


def render_html(runs: Sequence[Run], options: Options = Options(), *, title: str = "judgekit report",
                rank_by: str = "headline", criterion: str | None = None,
                target_accuracy: float = 0.9) -> str:
    """The whole page as one string: leaderboard, figures, significance matrix, disagreements."""
    if not runs:
        raise BadInput("html report: no run dirs given")
    if is_pointwise(runs):
        return render_scored_html(runs, title=title, by=DEFAULT_RANK_BY if rank_by == "headline" else rank_by,
                                  criterion=criterion, confidence=options.confidence,
                                  n_resamples=options.n_resamples, seed=options.seed)
    data = compare(runs, options, rank_by=rank_by)
    board = data["leaderboard"]
    labels = dict(zip((row["run"] for row in board), run_labels(board), strict=True))
    by_path = {str(run.path): run for run in runs}
    _, cells = significance_table(board, data["comparisons"])
    names = [labels[row["run"]] for row in board]
    figures = {
        "accuracy": figure_data_uri(accuracy_figure(board, labels=names)),
        "bias": figure_data_uri(bias_figure(board, labels=names, title="")),
        "significance": figure_data_uri(significance_figure(board, data["comparisons"]))
        if data["comparisons"] and len(board) <= MAX_HEATMAP_RUNS else None,
    }
    anchors = {row["run"]: f"run-{i}" for i, row in enumerate(board, start=1)}
    trust = trust_section([by_path[row["run"]] for row in board], [labels[row["run"]] for row in board],
                          TrustOptions(epsilon=options.epsilon, target_accuracy=target_accuracy,
                                       n_resamples=options.n_resamples, seed=options.seed))
    sections = [_run_section(by_path[row["run"]], row, labels[row["run"]], anchors[row["run"]]) for row in board]
    return _ENV.get_template("report.html.j2").render(
        title=title, version=__version__, generated=datetime.now(UTC).isoformat(timespec="seconds"),
        confidence=options.confidence, leaderboard=board, labels=labels, figures=figures,
        matrix=[(name, [cells.loc[name, col] for col in cells.columns]) for name in cells.index],
        matrix_columns=list(cells.columns), comparisons=data["comparisons"], sections=sections,
        max_items=MAX_ITEMS_PER_RUN, trust=trust, ranking=data["ranking"], anchors=anchors,
        methods=sorted({row["ci_method"] for row in board}),
        tests=sorted({pair["test"] for pair in data["comparisons"]}),
        probes={labels[run]: rows for run, rows in data.get("probes", {}).items()},
    )


def disagreements(run: Run) -> list[Disagreement]:
    """Items with a gold label where some order's winner (None when unparseable) is not the gold."""
    verdicts = {v.example_id: v for v in run.verdicts}
    found = []
    for example in run.examples:
        verdict = verdicts.get(example.id)
        if example.gold is None or verdict is None:
            continue
        winners = [order.winner for order in verdict.orders] or [verdict.winner]
        wrong = sum(winner != example.gold for winner in winners)
        if wrong:
            found.append(Disagreement(example, verdict, wrong))
    return found


def _run_section(run: Run, row: dict[str, Any], label: str, anchor: str) -> dict[str, Any]:
    items = disagreements(run)
    return {"label": label, "row": row, "shown": items[:MAX_ITEMS_PER_RUN], "n_items": len(items),
            "anchor": anchor}
