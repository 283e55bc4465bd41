"""The HTML page: one self-contained page per ``judgekit report|compare --format html``.

It lays out what ``judgekit.analysis.page.page_data`` computed: the
leaderboard with CIs, figures drawn from those numbers and inlined as PNG
data URIs, the paired-significance matrix, and the items where a judge
disagreed with the humans, with its raw text. It loads nothing from the
network. All text from run dirs goes through Jinja's autoescape, so a
response containing ``<script>`` shows as text. Each run kind has its own
template; the parts every kind shares (the leaderboard, the table of every
figure, the significance matrix) are macros in ``_page.html.j2``. Nothing
here computes a figure.

Every number the page shows from ``page_data`` also sits, unrounded, in a
``data-value`` (or ``data-low``/``data-high``, ``data-p``...) attribute of
its cell, so a test or a script reads the page's figures without parsing
rounded text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.figure import Figure

from judgekit.report.plots import (
    STAR_BELOW,
    accuracy_figure,
    bias_figure,
    confusion_figure,
    figure_data_uri,
    judge_vs_human_figure,
    run_labels,
    significance_figure,
)
from judgekit.report.trust_html import trust_section
from judgekit.version import __version__

MAX_ITEMS_PER_RUN = 200
"""Disagreements listed per run; the rest are counted, so a page of many runs stays readable."""

MAX_HEATMAP_RUNS = 20
"""Above this many runs the significance heatmap would be unreadable; the table still holds every pair."""

ENV = Environment(loader=PackageLoader("judgekit.report", "templates"), autoescape=select_autoescape(["html", "j2"]),
                  trim_blocks=True, lstrip_blocks=True)
ENV.filters["num"] = lambda value: "–" if value is None else f"{value:.3f}"
ENV.filters["ci"] = lambda bounds: "" if not bounds else f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"
ENV.filters["p"] = lambda value: "–" if value is None else f"{value:.2g}"
ENV.filters["signed"] = lambda value: "–" if value is None else f"{value + 0.0:+.3f}"


def render_html(data: dict[str, Any], *, title: str = "judgekit report") -> str:
    """The whole page as one string, from ``page_data``'s result."""
    board = data["leaderboard"]
    labels = dict(zip((row["run"] for row in board), run_labels(board), strict=True))
    anchors = {row["run"]: f"run-{i}" for i, row in enumerate(board, start=1)}
    tested = _tested(data)
    columns, matrix = significance_matrix(board, tested)
    common = {
        "title": title, "version": __version__, "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "confidence": data["confidence"], "data": data, "leaderboard": board, "labels": labels, "anchors": anchors,
        "ranking": data["ranking"], "comparisons": tested, "max_items": MAX_ITEMS_PER_RUN,
        "methods": sorted({row["ci_method"] for row in board}),
        "tests": sorted({_test_family(pair["test"]) for pair in tested}),
        "matrix": matrix, "matrix_columns": columns, "star_below": STAR_BELOW,
        "by_rank": {f"#{row['rank']}": labels[row["run"]] for row in board if row["rank"] is not None},
        "invalid": {row["run"]: row["invalid_rate"] for row in board},
        "sections": [{"label": labels[row["run"]], "row": row, "anchor": anchors[row["run"]],
                      **data["pages"][row["run"]]} for row in board],
    }
    template, extra = _KINDS[data["kind"]]
    return ENV.get_template(template).render(**(common | extra(data, board, labels)))


def significance_heatmap(data: Mapping[str, Any]) -> Figure | None:
    """The heatmap of paired differences a page embeds (None when nothing was tested or there are too many runs)."""
    tested = _tested(data)
    board = data["leaderboard"]
    if not tested or len(board) > MAX_HEATMAP_RUNS:
        return None
    return significance_figure(board, tested)


def significance_matrix(board: Sequence[Mapping[str, Any]], tested: Sequence[Mapping[str, Any]]
                        ) -> tuple[list[str], list[tuple[str, list[dict[str, Any] | None]]]]:
    """Columns (``#rank``) and rows of the page's significance table; a cell is one tested pair seen from its row.

    Below the diagonal a pair is read the other way round: its difference and
    interval change sign and its per-item counts swap, nothing else.
    """
    ranks = {row["run"]: row["rank"] for row in board if row.get("rank") is not None}
    names = [f"#{r}" for r in sorted(ranks.values())]
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for pair in tested:
        if pair["difference"] is None:
            continue
        one, two = f"#{ranks[pair['run_1']]}", f"#{ranks[pair['run_2']]}"
        ci = pair.get("difference_ci")
        shared = {"n": pair["n"], "figure": pair["figure"], "p": pair["p_value"], "holm": pair["p_holm"],
                  "bh": pair["q_bh"], "star": pair["p_holm"] is not None and pair["p_holm"] < STAR_BELOW}
        cells[one, two] = shared | {"difference": pair["difference"], "ci": ci, "row_better": pair["items_1_better"],
                                    "column_better": pair["items_2_better"]}
        cells[two, one] = shared | {"difference": -pair["difference"], "ci": [-ci[1], -ci[0]] if ci else None,
                                    "row_better": pair["items_2_better"], "column_better": pair["items_1_better"]}
    return names, [(row, [cells.get((row, col)) for col in names]) for row in names]


def _tested(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [pair for pair in data["comparisons"] if pair["p_value"] is not None]


def _test_family(name: str) -> str:
    """A test's name without its per-pair counts: the page names each family once."""
    return name.split(" (")[0].split(", exact")[0].split(", Monte")[0]


def _pairwise(data: dict[str, Any], board: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    names = [labels[row["run"]] for row in board]
    trust = trust_section([data["pages"][row["run"]]["trust"] for row in board], names,
                          target_accuracy=data["target_accuracy"])
    # the invalid rate of the verdicts the ranked figure scores: the final verdict's for accuracy_final
    invalid = {row["run"]: row["final_invalid_rate"] if row["ranked_by"] == "accuracy_final" else row["invalid_rate"]
               for row in board}
    heatmap = significance_heatmap(data)
    return {"figures": {"accuracy": figure_data_uri(accuracy_figure(board, labels=names)),
                        "bias": figure_data_uri(bias_figure(board, labels=names, title=""))},
            "significance": figure_data_uri(heatmap) if heatmap is not None else None,
            "trust": trust, "probes": {labels[run]: rows for run, rows in data.get("probes", {}).items()},
            "invalid": invalid}


def _pointwise(data: dict[str, Any], board: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    return {"plots": {row["run"]: figure_data_uri(judge_vs_human_figure(data["pages"][row["run"]]["points"]))
                      for row in board}}


def _classify(data: dict[str, Any], board: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    return {"confusions": {row["run"]: figure_data_uri(confusion_figure(row["confusion"], title=labels[row["run"]]))
                           for row in board if row.get("confusion")}}


_KINDS: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "pairwise": ("report.html.j2", _pairwise),
    "pointwise": ("score_report.html.j2", _pointwise),
    "classify": ("classify_report.html.j2", _classify),
}
