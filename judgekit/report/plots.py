"""Figures of a report: accuracy with CI bars, bias bars, heatmaps of a judge × judge or judge × set table.

Each function takes the plain rows that ``judgekit.analysis.compare`` produces (or a
pandas table) and returns a matplotlib Figure, so the same figure shows in a
notebook and, through ``figure_data_uri``, inside the self-contained HTML page.
Nothing here picks a backend: notebooks keep theirs, tests and the HTML page
use Agg.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

BIASES = (
    ("position_bias", "position (first-slot wins)", 0.5),
    ("length_bias", "length (longer wins vs humans)", None),
    ("self_preference_bias", "self-preference (EO)", 0.0),
)
"""Bias fields of a report row, their axis label, and the value of an unbiased judge (None: no fixed one)."""

STAR_BELOW = 0.05
"""A paired difference is starred (and its table cell shaded) when its Holm-adjusted p is below this."""

_ROW_INCH = 0.32
"""Height per bar: keeps labels legible from 2 to 60 judges."""


def run_labels(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Short names for runs: only the parts (judge, protocol, dataset) that differ between them.

    Falls back to the run path where two runs would still share a name.
    """
    parts = [name for name in ("judge", "protocol", "dataset") if len({row.get(name) for row in rows}) > 1]
    labels = [" · ".join(str(row.get(name)) for name in parts or ["judge"]) for row in rows]
    shared = {label for label in labels if labels.count(label) > 1}
    return [f"{label} ({_short_path(row.get('run', str(i)))})" if label in shared else label
            for i, (label, row) in enumerate(zip(labels, rows, strict=True))]


def accuracy_figure(rows: Sequence[Mapping[str, Any]], *, labels: Sequence[str] | None = None,
                    title: str = "Accuracy against human labels") -> Figure:
    """One horizontal bar per run: its headline accuracy with CI bars; the matching invalid rate beside it.

    A row's figure is the one it is ranked by (``ranked_by``), else its
    ``headline``: the final verdict's accuracy for two-order protocols.
    """
    labels = list(labels or run_labels(rows))
    figures = [row.get("ranked_by") or row.get("headline") or "accuracy" for row in rows]
    acc = np.array([_number(row.get(name)) for row, name in zip(rows, figures, strict=True)])
    low, high = _ci_errors(rows, figures, acc)
    invalid = np.array([_number(row.get("final_invalid_rate" if name == "accuracy_final" else "invalid_rate"), 0.0)
                        for row, name in zip(rows, figures, strict=True)])
    fig = _figure(len(rows), width=7.5)
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    ax.barh(y, np.nan_to_num(acc), color="#4878a8")
    ax.errorbar(acc, y, xerr=[low, high], fmt="none", ecolor="black", capsize=3)
    for yi, value, rate in zip(y, acc, invalid, strict=True):
        text = "no item" if math.isnan(value) else f"{value:.3f}" + (f"  (invalid {rate:.1%})" if rate else "")
        ax.text(0.01, yi, text, va="center", ha="left", color="white" if value > 0.3 else "black", fontsize=8)
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 1)
    ax.axvline(0.5, color="grey", lw=0.8, ls=":")
    named = " / ".join(sorted(set(figures)))
    ax.set_xlabel(f"{named} (bars: 95% CI; accuracy_final = the protocol's combined verdict)")
    ax.set_title(title, loc="left")
    fig.tight_layout()
    return fig


def bias_figure(rows: Sequence[Mapping[str, Any]], *, labels: Sequence[str] | None = None,
                title: str = "Biases") -> Figure:
    """One panel per bias, one bar per run, CI bars where the rows carry ``<bias>_ci``.

    A dotted line marks the unbiased value (0.5 first-slot wins, 0 self-preference).
    A run without a figure (e.g. no generators known) gets no bar and "n/a".
    """
    labels = list(labels or run_labels(rows))
    fig = _figure(len(rows), width=11, extra=0.6)
    axes = fig.subplots(1, len(BIASES), sharey=True)
    y = np.arange(len(rows))[::-1]
    for ax, (name, header, neutral) in zip(axes, BIASES, strict=True):
        values = np.array([_number(row.get(name)) for row in rows])
        low, high = _ci_errors(rows, [name] * len(rows), values)
        ax.barh(y, np.nan_to_num(values), color="#c08040")
        ax.errorbar(values, y, xerr=[low, high], fmt="none", ecolor="black", capsize=3)
        for yi, value in zip(y, values, strict=True):
            if math.isnan(value):
                ax.text(0.02, yi, "n/a", va="center", fontsize=8, color="grey", transform=ax.get_yaxis_transform())
        if neutral is not None:
            ax.axvline(neutral, color="grey", lw=0.8, ls=":")
        ax.set_xlim(-1 if name == "self_preference_bias" else 0, 1)
        ax.set_title(header, fontsize=9)
    axes[0].set_yticks(y, labels)
    if title:
        fig.suptitle(title, x=0.01, ha="left")
    fig.tight_layout()
    return fig


def heatmap(table: pd.DataFrame, *, title: str = "", annotations: pd.DataFrame | None = None,
            cmap: str = "viridis", vmin: float | None = None, vmax: float | None = None,
            fmt: str = "{:.2f}", colorbar: str = "") -> Figure:
    """A labelled heatmap of a numeric table (NaN cells left blank), each cell annotated.

    ``annotations`` (same shape) replaces the default text, e.g. "+0.05\\np=0.01".
    """
    values = table.to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    fig = Figure(figsize=(max(4.0, 1.0 + 0.9 * n_cols), max(2.5, 1.0 + 0.45 * n_rows)))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(n_cols), [str(c) for c in table.columns], rotation=35, ha="right")
    ax.set_yticks(range(n_rows), [str(r) for r in table.index])
    for i in range(n_rows):
        for j in range(n_cols):
            value = values[i, j]
            if annotations is not None:
                text = annotations.iat[i, j]
            else:
                text = "" if math.isnan(value) else fmt.format(value)
            if text:
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color=_ink(image, value))
    fig.colorbar(image, ax=ax, label=colorbar, shrink=0.8)
    ax.set_title(title, loc="left")
    fig.tight_layout()
    return fig


def significance_table(leaderboard: Sequence[Mapping[str, Any]],
                       comparisons: Sequence[Mapping[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Holm-adjusted p matrix by rank (what the cells are coloured by), and cell texts: Δ, raw p, Holm p.

    A star marks a difference that holds after Holm's correction over all pairs.
    The heatmap shows only the first line (Δ and the star); the page's table and
    the cells' hover text carry the p-values.
    """
    ranks = {row["run"]: row["rank"] for row in leaderboard if row.get("rank") is not None}
    names = [f"#{r}" for r in sorted(ranks.values())]
    adjusted = pd.DataFrame(np.nan, index=names, columns=names)
    text = pd.DataFrame("", index=names, columns=names)
    for pair in comparisons:
        i, j = f"#{ranks[pair['run_1']]}", f"#{ranks[pair['run_2']]}"
        d = pair["difference"]
        if d is None:
            continue
        holm = pair["p_holm"]
        star = "*" if holm < STAR_BELOW else ""
        for row, col, value in ((i, j, d), (j, i, -d)):
            adjusted.loc[row, col] = holm
            text.loc[row, col] = f"{value + 0.0:+.3f}{star}\np={pair['p_value']:.2g} holm={holm:.2g}"
    return adjusted, text


def significance_figure(leaderboard: Sequence[Mapping[str, Any]],
                        comparisons: Sequence[Mapping[str, Any]]) -> Figure:
    """Heatmap coloured by Holm-adjusted p (dark: a difference that survives correction); * marks holm < 0.05."""
    adjusted, text = significance_table(leaderboard, comparisons)
    shown = text.map(lambda cell: cell.split("\n")[0])
    return heatmap(adjusted, annotations=shown, cmap="viridis", vmin=0.0, vmax=1.0,
                   title="Row − column difference; colour: Holm-adjusted p over all pairs (* < 0.05)",
                   colorbar="Holm-adjusted p")


def judge_vs_human_figure(points: Mapping[str, Mapping[str, Any]], *, columns: int = 3) -> Figure:
    """One scatter per criterion: the judge's score against the human mean, with the y = x line."""
    rows = max(1, -(-len(points) // columns))
    fig = Figure(figsize=(3.2 * columns, 3.0 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, (criterion, found) in zip(axes.ravel(), points.items()):
        human = np.array(found["human"], dtype=float)
        judge = np.array([np.nan if s is None else s for s in found["judge"]], dtype=float)
        ok = np.isfinite(judge)
        low, high = found["low"], found["high"]
        ax.scatter(human[ok], judge[ok], s=8, alpha=0.35, linewidths=0)
        ax.plot([low, high], [low, high], color="grey", linewidth=0.8, linestyle="--")
        ax.set(xlim=(low - 0.2, high + 0.2), ylim=(low - 0.2, high + 0.2), xlabel="human mean",
               ylabel="judge", title=f"{criterion} ({int(ok.sum())} rated, {int((~ok).sum())} invalid)")
        ax.title.set_fontsize(9)
    for ax in axes.ravel()[len(points):]:
        ax.set_visible(False)
    return fig


def confusion_figure(confusion: Mapping[str, Any], *, title: str = "") -> Figure:
    """The confusion matrix as a heatmap of counts: rows the human label, columns the judge's."""
    table = pd.DataFrame(confusion["matrix"], index=[f"human: {x}" for x in confusion["labels"]],
                         columns=[f"judge: {x}" for x in confusion["columns"]], dtype=float)
    return heatmap(table, title=title, cmap="Blues", fmt="{:.0f}", colorbar="outputs")


def figure_data_uri(fig: Figure, *, dpi: int = 110) -> str:
    """The figure as a ``data:image/png;base64,...`` URI, for an HTML page with no external files."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _ink(image: Any, value: float) -> str:
    """Black or white text, whichever reads better on the cell's colour (relative luminance)."""
    if math.isnan(value):
        return "black"
    red, green, blue, _ = image.cmap(image.norm(value))
    return "black" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.45 else "white"


def _figure(n_rows: int, *, width: float, extra: float = 0.0) -> Figure:
    return Figure(figsize=(width, 1.2 + extra + _ROW_INCH * max(n_rows, 2)))


def _number(value: Any, default: float = math.nan) -> float:
    return default if value is None else float(value)


def _ci_errors(rows: Sequence[Mapping[str, Any]], names: Sequence[str],
               values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Error-bar lengths below and above each value (row i's figure is names[i]); 0 without an interval."""
    low, high = np.zeros(len(rows)), np.zeros(len(rows))
    for i, (row, name) in enumerate(zip(rows, names, strict=True)):
        ci = row.get(f"{name}_ci")
        if ci and not math.isnan(values[i]):
            low[i], high[i] = max(values[i] - ci[0], 0.0), max(ci[1] - values[i], 0.0)
    return low, high


def _short_path(path: str) -> str:
    return "/".join(str(path).replace("\\", "/").rstrip("/").split("/")[-2:])
