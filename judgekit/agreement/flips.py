"""Flip rates: how often a verdict changes, and whether one change moves it more than another.

A perturbation of the judge's prompt (a paraphrased rubric, renamed labels)
flips some verdicts; so does merely asking again, when the judge samples or
its server is not deterministic. Only the part of the probe's flip rate
above the rerun flip rate is the prompt's doing, so the two are set side by
side and differenced.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from judgekit.agreement.uncertainty import Interval, proportion_ci


def flip_rate(before: Sequence[str | None], after: Sequence[str | None], *, confidence: float = 0.95) -> Interval:
    """Share of items whose verdict differs between two sequences (None, an invalid verdict, is a verdict
    too), with its Wilson interval."""
    if len(before) != len(after):
        raise ValueError(f"flip_rate: {len(before)} verdicts before, {len(after)} after")
    flips = sum(x != y for x, y in zip(before, after, strict=True))
    return proportion_ci(flips, len(before), confidence=confidence)


def excess(probe: Interval, rerun: Interval) -> Interval:
    """``probe - rerun`` with Newcombe's square-and-add interval, built from the two rates' own intervals.

    Newcombe (1998), "Interval estimation for the difference between independent proportions: comparison
    of eleven methods", Statistics in Medicine 17:873-890, method 10: with Wilson intervals on both rates
    this is exactly that method (``statsmodels``' ``confint_proportions_2indep(method="newcomb")``); any
    other interval the rerun rate comes with is used as given. It treats the two rates as independent; on
    the same items they are usually positively correlated, which makes the interval conservative (wider).
    """
    difference = probe.estimate - rerun.estimate
    low = difference - math.hypot(probe.estimate - probe.low, rerun.high - rerun.estimate)
    high = difference + math.hypot(probe.high - probe.estimate, rerun.estimate - rerun.low)
    return Interval(difference, max(low, -1.0), min(high, 1.0))
