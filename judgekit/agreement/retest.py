"""Test-retest agreement: one judge asked the same items several times, verdicts or scores compared.

Verdicts are an (items, repeats) array of category codes (0..k-1; an invalid
verdict is a category of its own, so turning invalid is a change). For each
item, the share of its repeat pairs that agree is Fleiss' (1971) per-item
agreement P_i = sum_j n_ij (n_ij - 1) / (m (m - 1)), with n_ij the repeats
giving category j and m the repeats; its complement is the chance that two
repeats of that item, drawn without replacement, disagree. The *rerun flip
rate* is the mean of those complements over the items: the share of
(item, repeat pair) verdicts that differ, every item weighing the same.

Scores are an (items, repeats) array of numbers; their test-retest
reliability is the intraclass correlation ICC(2,1) of Shrout & Fleiss (1979):
two-way random effects, absolute agreement, one measurement, the form Koo &
Li (2016) recommend for test-retest.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from judgekit.agreement.uncertainty import Interval, bootstrap_ci, mean_statistic
from judgekit.errors import BadInput


@dataclass(frozen=True)
class RepeatAgreement:
    """How one judge's repeated verdicts on the same items agree."""

    item_agreement: np.ndarray
    """Per item: the share of its repeat pairs giving the same verdict (1 = never changed)."""
    changed: np.ndarray
    """Per item: True when some repeat gave another verdict than the rest."""
    fleiss_kappa: float
    """Fleiss' kappa with the repeats as raters; NaN when every verdict is the same."""

    @property
    def mean_agreement(self) -> float:
        return float(self.item_agreement.mean())

    @property
    def changed_rate(self) -> float:
        """The share of items whose verdict changed at least once across the repeats."""
        return float(self.changed.mean())


def repeat_agreement(codes: np.ndarray, k: int) -> RepeatAgreement:
    """Agreement of an (items, repeats) array of codes in 0..k-1 (module docstring)."""
    counts = category_counts(codes, k)
    m = codes.shape[1]
    agreement = (counts * (counts - 1)).sum(axis=1) / (m * (m - 1))
    return RepeatAgreement(item_agreement=agreement, changed=counts.max(axis=1) < m, fleiss_kappa=_fleiss(counts))


def flip_rate(codes: np.ndarray, k: int, *, confidence: float = 0.95, n_resamples: int = 1000,
              seed: int = 0) -> Interval:
    """The rerun flip rate (module docstring) with a percentile bootstrap interval over items."""
    counts = category_counts(codes, k)
    m = codes.shape[1]
    disagreement = 1 - (counts * (counts - 1)).sum(axis=1) / (m * (m - 1))
    return bootstrap_ci(mean_statistic(disagreement), confidence=confidence, n_resamples=n_resamples, seed=seed)


def category_counts(codes: np.ndarray, k: int) -> np.ndarray:
    """(items, k): how many repeats gave each category.

    BadInput unless codes are (items >= 1, repeats >= 2) in 0..k-1.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] < 1 or codes.shape[1] < 2:
        raise BadInput(f"repeat agreement needs an (items, repeats) array with at least one item and two "
                       f"repeats, got shape {codes.shape}")
    if codes.min() < 0 or codes.max() >= k:
        raise BadInput(f"repeat agreement: codes must lie in 0..{k - 1}")
    return np.stack([np.sum(codes == c, axis=1) for c in range(k)], axis=1)


def _fleiss(counts: np.ndarray) -> float:
    from statsmodels.stats.inter_rater import fleiss_kappa  # heavy (scipy): load on use

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(fleiss_kappa(counts, method="fleiss"))


def icc_absolute(scores: np.ndarray) -> float:
    """ICC(2,1) of an (items, repeats) score array: (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n).

    MSR, MSC and MSE are the two-way ANOVA's mean squares of rows (items),
    columns (repeats) and residual (Shrout & Fleiss 1979, Table 1). NaN with
    fewer than two items, or when every score is the same.
    """
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise BadInput(f"ICC needs an (items, repeats) array with at least two repeats, got shape {x.shape}")
    n, k = x.shape
    if n < 2:
        return float("nan")
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_error = np.sum((x - grand) ** 2) - ss_rows - ss_cols
    msr, msc, mse = ss_rows / (n - 1), ss_cols / (k - 1), ss_error / ((n - 1) * (k - 1))
    denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    return float((msr - mse) / denominator) if denominator > 0 else float("nan")


def item_sd(scores: np.ndarray) -> np.ndarray:
    """Per item, the standard deviation of its scores across repeats (n - 1 in the denominator)."""
    x = np.asarray(scores, dtype=np.float64)
    return x.std(axis=1, ddof=1)
