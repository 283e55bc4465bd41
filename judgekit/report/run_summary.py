"""The end-of-run table: a run's summary figures, the headline first, then calls, cost and time."""

from __future__ import annotations

import pandas as pd
from rich.table import Table

from judgekit.records import Manifest


def summary_table(frame: pd.DataFrame, manifest: Manifest, *, elapsed_s: float | None = None) -> Table:
    """The end-of-run table of ``judgekit.analysis.summary.summary_frame``: the headline first, rates, calls,
    cost, time."""
    table = Table(title=f"{manifest.judge} · {manifest.protocol} · {manifest.dataset}",
                  caption=f"headline: {frame.attrs['headline']}; intervals: {frame.attrs['ci_method']}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    for name, row in frame.iterrows():
        value, low, high = row["value"], row["ci_low"], row["ci_high"]
        if name in ("n", "n_clusters", "refused", "calls", "cache_hits", "retries", "timeouts", "prefix_restarts",
                    "tokens_in", "tokens_out"):
            shown = f"{int(value):,}"
        elif name == "cost_usd":
            shown = f"${value:.4f}"
        else:
            shown = f"{value:.3f}"
        table.add_row(str(name), shown, "" if pd.isna(low) else f"[{low:.3f}, {high:.3f}]")
    if elapsed_s is not None:
        table.add_row("time_s", f"{elapsed_s:.1f}", "")
    return table

