"""Selective judging: let the judge decide only where it is confident, send the rest to people.

Selective prediction (El-Yaniv & Wiener 2010; Geifman & El-Yaniv 2017),
REFERENCES E2. The judge keeps an item when its confidence is at least a
threshold t. Coverage is the share of *all* items kept (an invalid verdict,
which has no confidence, is never kept), and selective accuracy is the share
right among the kept ones (1 − selective risk). Lowering t traces the
accuracy–coverage curve; every distinct confidence is a threshold.

Coverage at a target accuracy: the largest coverage whose accuracy's *lower*
confidence bound is at or above the target. The bound is the lower end of the
two-sided exact Clopper–Pearson interval (Clopper & Pearson 1934) at
``confidence`` (0.95 by default, i.e. a one-sided 97.5 % bound), computed
for each threshold on its own. It is not adjusted for scanning thresholds,
so read it as a pointwise guarantee. Its CI comes from a seeded item
bootstrap of the whole rule: resample items, find the coverage again, and
take percentiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from judgekit.agreement.uncertainty import Interval, resample_weights
from judgekit.errors import BadInput


@dataclass(frozen=True)
class SelectiveCurve:
    """The accuracy–coverage curve: one point per distinct confidence, most confident first."""

    threshold: np.ndarray
    """Keep items whose confidence is at least this."""
    kept: np.ndarray
    """Items kept at the threshold."""
    right: np.ndarray
    """Kept items whose winner is right."""
    n_items: int
    """All items, the undecided included (the coverage denominator)."""

    @property
    def coverage(self) -> np.ndarray:
        return self.kept / self.n_items

    @property
    def accuracy(self) -> np.ndarray:
        return self.right / self.kept


@dataclass(frozen=True)
class TargetCoverage:
    """How much the judge may decide while its accuracy's lower bound stays at the target."""

    target_accuracy: float
    confidence: float
    """Level of the Clopper–Pearson interval whose lower end is the bound."""
    coverage: float
    """0 when no threshold reaches the target."""
    coverage_ci: Interval
    threshold: float | None
    """Keep items with confidence ≥ this; None when no threshold reaches the target."""
    kept: int
    accuracy: float
    """Selective accuracy at the threshold (NaN when nothing is kept)."""
    accuracy_lower_bound: float
    n_items: int


def selective_curve(
    confidence: Sequence[float | None] | np.ndarray, correct: Sequence[float] | np.ndarray
) -> SelectiveCurve:
    """The curve over all items; a confidence of None/NaN is an undecided item, never kept."""
    c, y = _check(confidence, correct)
    decided = ~np.isnan(c)
    order = np.argsort(-c[decided], kind="stable")
    c_sorted, y_sorted = c[decided][order], y[decided][order]
    if len(c_sorted) == 0:
        empty = np.array([], dtype=float)
        return SelectiveCurve(empty, empty, empty, len(c))
    last_of_group = np.flatnonzero(np.r_[c_sorted[1:] != c_sorted[:-1], True])
    return SelectiveCurve(
        threshold=c_sorted[last_of_group],
        kept=(last_of_group + 1).astype(float),
        right=np.cumsum(y_sorted)[last_of_group],
        n_items=len(c),
    )


def coverage_at_accuracy(
    confidence: Sequence[float | None] | np.ndarray,
    correct: Sequence[float] | np.ndarray,
    *,
    target: float = 0.9,
    level: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> TargetCoverage:
    """The largest coverage whose accuracy's Clopper–Pearson lower bound is ≥ ``target``, with a CI."""
    if not 0 < target < 1:
        raise BadInput(f"--target-accuracy: {target} is not in (0, 1)")
    if not 0 < level < 1:
        raise BadInput(f"confidence level: {level} is not in (0, 1)")
    c, y = _check(confidence, correct)
    curve = selective_curve(c, y)
    lower = _lower_bound(curve.right, curve.kept, level)
    best = _largest_passing(lower, target)
    boot = _bootstrap_coverage(c, y, target, level, n_resamples, seed)
    low, high = np.percentile(boot, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    if best is None:
        coverage, interval = 0.0, Interval(0.0, float(low), float(high))
        return TargetCoverage(target, level, coverage, interval, None, 0, float("nan"), float("nan"), len(c))
    coverage = float(curve.coverage[best])
    return TargetCoverage(
        target_accuracy=target, confidence=level, coverage=coverage,
        coverage_ci=Interval(coverage, float(low), float(high)), threshold=float(curve.threshold[best]),
        kept=int(curve.kept[best]), accuracy=float(curve.accuracy[best]),
        accuracy_lower_bound=float(lower[best]), n_items=len(c),
    )


def _lower_bound(right: np.ndarray, kept: np.ndarray, level: float) -> np.ndarray:
    """Lower end of the two-sided Clopper–Pearson interval: Beta(α/2; k, n − k + 1), 0 when k = 0."""
    from scipy.stats import beta  # heavy: load on use

    with np.errstate(invalid="ignore"):
        bound = beta.ppf((1 - level) / 2, right, kept - right + 1)
    return np.where(right > 0, bound, 0.0)


def _largest_passing(lower: np.ndarray, target: float) -> int | None:
    passing = np.flatnonzero(lower >= target)
    return int(passing[-1]) if len(passing) else None


def _bootstrap_coverage(c: np.ndarray, y: np.ndarray, target: float, level: float, n_resamples: int,
                        seed: int) -> np.ndarray:
    """The coverage rule on each item resample (weights: how often each item is drawn)."""
    weights = resample_weights(len(c), n_resamples=n_resamples, seed=seed)
    decided = ~np.isnan(c)
    order = np.argsort(-c[decided], kind="stable")
    c_sorted, y_sorted = c[decided][order], y[decided][order]
    if len(c_sorted) == 0:
        return np.zeros(n_resamples)
    last_of_group = np.flatnonzero(np.r_[c_sorted[1:] != c_sorted[:-1], True])
    w = weights[:, decided][:, order].astype(np.float64)
    kept = np.cumsum(w, axis=1)[:, last_of_group]
    right = np.cumsum(w * y_sorted, axis=1)[:, last_of_group]
    lower = _lower_bound(right, kept, level)
    passing = lower >= target
    any_pass = passing.any(axis=1)
    last = passing.shape[1] - 1 - np.argmax(passing[:, ::-1], axis=1)
    covered = np.take_along_axis(kept, last[:, None], axis=1)[:, 0]
    return np.where(any_pass, covered / len(c), 0.0)


def _check(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    c = np.array([np.nan if v is None else v for v in confidence], dtype=float)
    y = np.asarray(correct, dtype=float)
    if c.ndim != 1 or y.shape != c.shape:
        raise BadInput(f"confidence and correct: expected two 1-D arrays of one length, got {c.shape} and {y.shape}")
    if len(c) == 0:
        raise BadInput("confidence: no items")
    bad = ~np.isnan(c) & ((c < 0) | (c > 1))
    if bad.any():
        raise BadInput(f"confidence[{int(np.flatnonzero(bad)[0])}]: not in [0, 1]")
    if not np.isin(y, (0.0, 1.0)).all():
        raise BadInput(f"correct[{int(np.flatnonzero(~np.isin(y, (0.0, 1.0)))[0])}]: not 0 or 1")
    return c, y
