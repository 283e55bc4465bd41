"""Figures of the trust figures: reliability diagram and accuracy–coverage curve.

They take the JSON-ready dicts of ``judgekit.analysis.trust.trust_figures`` (its
``calibration`` and ``selective`` parts) and return matplotlib Figures, which
the HTML page inlines through ``plots.figure_data_uri`` and a notebook shows
as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure


def reliability_figure(calibration: Mapping[str, Any], *, title: str = "") -> Figure:
    """Accuracy against mean confidence per bin, raw and cross-fitted, with the diagonal of perfect calibration."""
    fig = Figure(figsize=(4.2, 3.8), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="calibrated")
    for key, name, colour in (("reliability", f"raw (ECE {calibration['ece']:.3f})", "#4878a8"),
                              ("calibrated_reliability",
                               f"{calibration['method']}, cross-fitted (ECE {calibration['calibrated_ece']:.3f})",
                               "#c08040")):
        bins = calibration[key]
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color=colour,
                label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"confidence ({calibration['binning']})")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, loc="upper left")
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def coverage_figure(selective: Mapping[str, Any], *, title: str = "") -> Figure:
    """Selective accuracy against coverage, the target accuracy, and the coverage that keeps it."""
    fig = Figure(figsize=(4.6, 3.8), layout="constrained")
    ax = fig.subplots()
    curve = selective["curve"]
    ax.step(curve["coverage"], curve["accuracy"], where="post", color="#4878a8", label="accuracy on kept items")
    target = selective["target_accuracy"]
    ax.axhline(target, color="#999999", linestyle="--", linewidth=1, label=f"target {target:g}")
    if selective["threshold"] is not None:
        low, high = selective["coverage_ci"]
        ax.axvspan(low, high, color="#c08040", alpha=0.15)
        ax.axvline(selective["coverage"], color="#c08040", linewidth=1.5,
                   label=f"coverage {selective['coverage']:.2f} [{low:.2f}, {high:.2f}]")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of items the judge decides)")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, loc="lower left")
    if title:
        ax.set_title(title, fontsize=9)
    return fig
