"""The HTML page: one self-contained page per ``judgekit report|compare --format html``.

It lays out what ``judgekit.analysis.page.page_data`` computed: the
leaderboard with CIs, figures drawn from those numbers and inlined as PNG
data URIs, the paired-significance matrix, and the items where a judge
disagreed with the humans, with its raw text. It loads nothing from the
network. All text from run dirs goes through Jinja's autoescape, so a
response containing ``<script>`` shows as text. Each run kind has its own
template; nothing here computes a figure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from judgekit import __version__
from judgekit.report.plots import (
    accuracy_figure,
    bias_figure,
    confusion_figure,
    figure_data_uri,
    judge_vs_human_figure,
    run_labels,
    significance_figure,
    significance_table,
)
from judgekit.report.trust_html import trust_section

MAX_ITEMS_PER_RUN = 200
"""Disagreements listed per run; the rest are counted, so a page of many runs stays readable."""

MAX_HEATMAP_RUNS = 20
"""Above this many runs the significance heatmap would be unreadable; the table still holds every pair."""

ENV = Environment(loader=PackageLoader("judgekit.report", "templates"), autoescape=select_autoescape(["html", "j2"]),
                  trim_blocks=True, lstrip_blocks=True)
ENV.filters["num"] = lambda value: "–" if value is None else f"{value:.3f}"
ENV.filters["ci"] = lambda bounds: "" if not bounds else f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"


def render_html(data: dict[str, Any], *, title: str = "judgekit report") -> str:
    """The whole page as one string, from ``page_data``'s result."""
    board = data["leaderboard"]
    labels = dict(zip((row["run"] for row in board), run_labels(board), strict=True))
    anchors = {row["run"]: f"run-{i}" for i, row in enumerate(board, start=1)}
    tested = [pair for pair in data["comparisons"] if pair["p_value"] is not None]
    _, cells = significance_table(board, tested)
    common = {
        "title": title, "version": __version__, "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "confidence": data["confidence"], "data": data, "leaderboard": board, "labels": labels, "anchors": anchors,
        "ranking": data["ranking"], "comparisons": tested, "max_items": MAX_ITEMS_PER_RUN,
        "methods": sorted({row["ci_method"] for row in board}),
        "tests": sorted({_test_family(pair["test"]) for pair in tested}),
        "matrix": [(name, [cells.loc[name, col] for col in cells.columns]) for name in cells.index],
        "matrix_columns": list(cells.columns),
        "significance": figure_data_uri(significance_figure(board, tested))
        if tested and len(board) <= MAX_HEATMAP_RUNS else None,
        "sections": [{"label": labels[row["run"]], "row": row, "anchor": anchors[row["run"]],
                      **data["pages"][row["run"]]} for row in board],
    }
    template, extra = _KINDS[data["kind"]]
    return ENV.get_template(template).render(**common, **extra(data, board, labels))


def _test_family(name: str) -> str:
    """A test's name without its per-pair counts: the page names each family once."""
    return name.split(" (")[0].split(", exact")[0].split(", Monte")[0]


def _pairwise(data: dict[str, Any], board: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    names = [labels[row["run"]] for row in board]
    trust = trust_section([data["pages"][row["run"]]["trust"] for row in board], names,
                          target_accuracy=data["target_accuracy"])
    return {"figures": {"accuracy": figure_data_uri(accuracy_figure(board, labels=names)),
                        "bias": figure_data_uri(bias_figure(board, labels=names, title=""))},
            "trust": trust, "probes": {labels[run]: rows for run, rows in data.get("probes", {}).items()}}


def _pointwise(data: dict[str, Any], board: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    return {"plots": {row["run"]: figure_data_uri(judge_vs_human_figure(data["pages"][row["run"]]["points"]))
                      for row in board},
            "figures_shown": ("item_pearson", "item_spearman", "item_kendall", "system_pearson", "system_spearman",
                              "system_kendall", "mae", "alpha_interval_with_judge")}


def _classify(data: dict[str, Any], board: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    return {"confusions": {row["run"]: figure_data_uri(confusion_figure(row["confusion"], title=labels[row["run"]]))
                           for row in board if row.get("confusion")}}


_KINDS: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "pairwise": ("report.html.j2", _pairwise),
    "pointwise": ("score_report.html.j2", _pointwise),
    "classify": ("classify_report.html.j2", _classify),
}
