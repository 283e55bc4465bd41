"""A run's row as a table of figures, the headline first: ``Run.summary()`` and the end-of-run table."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

from judgekit.analysis.kind import Options
from judgekit.analysis.kinds import KINDS
from judgekit.records import RunRecords

if TYPE_CHECKING:
    import pandas as pd

_USAGE = ("calls", "cache_hits", "retries", "tokens_in", "tokens_out", "cost_usd")


class RunSummary(NamedTuple):
    """What the end-of-run table shows; plain data, so a run's last step loads no pandas."""

    figures: dict[str, tuple[float, float, float]]
    """Figure -> (value, CI low, CI high), the headline first; NaN where a figure has no interval."""
    headline: str
    ci_method: str
    complete: bool


def run_summary(run: RunRecords, options: Options = Options()) -> RunSummary:
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
    return RunSummary(rows, first, row["ci_method"], row["complete"])


def summary_frame(run: RunRecords, options: Options = Options()) -> pd.DataFrame:
    """``run_summary`` as a DataFrame (columns value, ci_low, ci_high; the headline, CI method and
    completeness in ``attrs``): what ``Run.summary()`` returns."""
    import pandas as pd  # heavy: load on use

    summary = run_summary(run, options)
    frame = pd.DataFrame.from_dict(summary.figures, orient="index", columns=["value", "ci_low", "ci_high"])
    frame.attrs |= {"headline": summary.headline, "ci_method": summary.ci_method, "complete": summary.complete}
    return frame
