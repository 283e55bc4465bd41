"""A run's row as a table of figures, the headline first: ``Run.summary()`` and the end-of-run table."""

from __future__ import annotations

import math

import pandas as pd

from judgekit.analysis.kind import Options
from judgekit.analysis.kinds import KINDS
from judgekit.records import RunRecords

_USAGE = ("calls", "cache_hits", "retries", "tokens_in", "tokens_out", "cost_usd")


def summary_frame(run: RunRecords, options: Options = Options()) -> pd.DataFrame:
    """Figures (value, CI bounds) of the run's kind, the headline first; the numbers are ``Kind.row``'s.

    Figures the run cannot define are left out. Refusals, timeouts and (when
    there were any) forced-prefix restarts follow the figures: they say how far
    to trust them.
    """
    kind = KINDS[run.manifest.kind]
    row = kind.row(run, options)
    first = row["headline"]
    rows: dict[str, tuple[float, float, float]] = {"n": (row["n"], math.nan, math.nan)}
    if row["n_clusters"] is not None:
        rows["n_clusters"] = (row["n_clusters"], math.nan, math.nan)
    for name in (first, *(f for f in kind.summary_figures if f != first)):
        if row.get(name) is not None:
            low, high = row.get(f"{name}_ci") or (math.nan, math.nan)
            rows[name] = (row[name], low, high)
    rows["refused"] = (sum(v.refused for v in run.verdicts), math.nan, math.nan)
    for name in _USAGE:
        rows[name] = (row[name], math.nan, math.nan)
    usage = run.manifest.usage
    rows["timeouts"] = (usage.timeouts, math.nan, math.nan)
    if usage.prefix_restarts:  # only then: a warning, not a figure every run needs
        rows["prefix_restarts"] = (usage.prefix_restarts, math.nan, math.nan)
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["value", "ci_low", "ci_high"])
    frame.attrs |= {"headline": first, "ci_method": row["ci_method"], "complete": row["complete"]}
    return frame
