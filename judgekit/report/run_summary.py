"""The end-of-run table: a run's summary figures, the headline first, then calls, cost and time."""

from __future__ import annotations

import math
from collections.abc import Mapping

from rich.table import Table

from judgekit.records import Manifest

_COUNTS = ("n", "n_clusters", "refused", "calls", "cache_hits", "retries", "timeouts", "prefix_restarts",
           "tokens_in", "tokens_out")


def summary_table(figures: Mapping[str, tuple[float, float, float]], manifest: Manifest, *, headline: str,
                  ci_method: str, elapsed_s: float | None = None) -> Table:
    """The end-of-run table of ``judgekit.analysis.summary.run_summary``'s figures (value, CI low, CI high):
    the headline first, rates, calls, cost, time."""
    table = Table(title=f"{manifest.judge} · {manifest.protocol} · {manifest.dataset}",
                  caption=f"headline: {headline}; intervals: {ci_method}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    for name, (value, low, high) in figures.items():
        if name in _COUNTS:
            shown = f"{int(value):,}"
        elif name == "cost_usd":
            shown = f"${value:.4f}"
        else:
            shown = f"{value:.3f}"
        table.add_row(name, shown, "" if low is None or math.isnan(low) else f"[{low:.3f}, {high:.3f}]")
    if elapsed_s is not None:
        table.add_row("time_s", f"{elapsed_s:.1f}", "")
    return table
