"""The trust section of the HTML page (alt-test, calibration, selective judging), one fragment for all runs.

The figures come from ``judgekit.analysis.trust.trust_figures`` (through the
page data); this only draws and lays them out. ``judgekit.report.html``
places it on the report and compare pages. The per-annotator alt-test table
of each run sits in a closed ``<details>``, one click away.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from judgekit.report.plots import figure_data_uri
from judgekit.report.trust_plots import coverage_figure, reliability_figure

_ENV = Environment(loader=PackageLoader("judgekit.report", "templates"), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=True, lstrip_blocks=True)
_ENV.filters["num"] = lambda value: "–" if value is None else f"{value:.3f}"
_ENV.filters["ci"] = lambda bounds: "" if not bounds else f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"


def trust_section(figures_per_run: Sequence[dict[str, Any] | None], labels: Sequence[str], *,
                  target_accuracy: float) -> Markup:
    """The section's HTML for runs named by ``labels``, from each run's ``trust_figures`` (None: none)."""
    alt_rows, confident = [], []
    for figures, label in zip(figures_per_run, labels, strict=True):
        if figures is None:
            continue
        alt = figures["alt_test"]
        if alt is not None:
            for candidate in alt["candidates"].values():
                alt_rows.append({"label": label, "epsilon": f"{alt['epsilon']:g}", "q": f"{alt['q']:g}",
                                 "min_items": alt["min_items"], "c": candidate})
        if figures["calibration"] is not None and figures["selective"] is not None:
            confident.append({
                "label": label, "source": figures["confidence_source"], "cal": figures["calibration"],
                "sel": figures["selective"],
                "reliability": figure_data_uri(reliability_figure(figures["calibration"])),
                "coverage": figure_data_uri(coverage_figure(figures["selective"])),
            })
    html = _ENV.get_template("trust.html.j2").render(alt_rows=alt_rows, confident=confident,
                                                     target=f"{target_accuracy:g}")
    return Markup(html)
