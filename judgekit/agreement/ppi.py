"""A population mean from a judge's verdicts on every item and human labels on a random few.

The setting (Angelopoulos, Bates, Fannjiang, Jordan & Zrnic, "Prediction-powered
inference", Science 2023, arXiv 2301.09633): a judge gives a prediction f on
each of n + N items; humans give the true value Y on n of them, drawn
uniformly at random. The quantity wanted is the population mean of Y (a pass
rate, a win rate, a mean score). Five estimators of it:

- **naive**: the judge's mean over all items, with an interval that treats the
  judge as truth. Its interval is narrow and, for any judge that errs in one
  direction more than the other, centred on the wrong value: not valid.
- **classical**: the human mean over the n labelled items (CLT interval). Valid,
  ignores the judge.
- **ppi** (λ = 1): the judge's mean on the unlabelled items, corrected by the
  judge's mean error on the labelled ones (the *rectifier*):
  θ̂ = mean(f̃) + mean(Y − f).
- **ppi++** (Angelopoulos, Duchi & Zrnic, "PPI++: Efficient Prediction-Powered
  Inference", arXiv 2311.01453): θ̂_λ = λ·mean(f̃) + mean(Y − λ·f), with λ
  chosen from the data to minimise the variance; λ = 0 is the classical
  estimate, so the tuned interval is asymptotically never wider than it.
- **rogan-gladen** (Rogan & Gladen, "Estimating prevalence from the results of
  a screening test", Am. J. Epidemiol. 1978), binary outcomes only: the judge's
  positive rate p̂ on the unlabelled items corrected by its sensitivity Se and
  specificity Sp measured on the labelled ones,
  π̂ = (p̂ + Sp − 1) / (Se + Sp − 1).

Notation: ``labels`` Y and ``predictions`` f are aligned over the labelled
items (n), ``predictions_unlabelled`` f̃ over the others (N). Every interval
is two-sided at level 1 − α with the normal quantile z = Φ⁻¹(1 − α/2).

Variances follow the reference implementation (``ppi-python``, the authors'
package; tests check equality to 1e-9): population standard deviations
(divisor n, not n − 1), and for PPI
σ̂² = λ²·Var(f̃)/N + Var(Y − λ·f)/n. The tuned λ is
Cov(Y, f) / ((1 + n/N)·Var(f ∪ f̃)), the covariance over the labelled items
(divisor n), the variance over all n + N predictions (divisor n + N − 1),
clipped to [0, 1] as the reference package does.

Clustered items (responses sharing an input) are not independent. Given
cluster codes for every item, the variance is the cluster-robust (sandwich)
one: the estimate is a sum of per-item terms (f̃_j − mean f̃)·λ/N and
(r_i − mean r)/n with r = Y − λ·f; the terms are summed within each cluster
(an item's labelled and unlabelled neighbours together, so their covariance
counts) and the variance is G/(G − 1)·Σ_c (cluster sum)² over the G clusters
(the CR1 small-sample factor). Where every cluster is one item this is the
plain variance above times G/(G − 1), so callers pass no codes then. λ is
tuned with the independent-items formula either way: any fixed λ gives a
valid interval, the tuning only buys width.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from judgekit.errors import BadInput

__all__ = [
    "MeanEstimate",
    "RoganGladen",
    "classical_mean",
    "naive_mean",
    "ppi_lambda",
    "ppi_mean",
    "ppi_variance_terms",
    "rogan_gladen",
    "z_value",
]


class MeanEstimate(NamedTuple):
    """A point estimate of a mean, its interval at level 1 − α, its standard error and (PPI) the λ used."""

    estimate: float
    low: float
    high: float
    se: float
    lam: float | None = None


class RoganGladen(NamedTuple):
    """The judge's positive rate corrected for its error rates, with the ingredients shown."""

    estimate: float
    """Clipped to [0, 1] (the raw correction can leave it); NaN when Se + Sp ≤ 1."""
    low: float
    high: float
    se: float
    """Delta-method standard error (NaN for a bootstrap interval)."""
    raw: float
    """The unclipped estimate."""
    sensitivity: float
    specificity: float
    judge_rate: float
    """p̂: the judge's positive rate on the unlabelled items."""
    interval: str
    """``delta`` or ``bootstrap`` (percentile; ``cluster bootstrap`` when resampling clusters)."""


def z_value(alpha: float) -> float:
    """The two-sided normal quantile Φ⁻¹(1 − α/2)."""
    from scipy.stats import norm  # heavy: load on use

    _check_alpha(alpha)
    return float(norm.ppf(1 - alpha / 2))


def naive_mean(predictions: np.ndarray, *, alpha: float = 0.05, groups: np.ndarray | None = None) -> MeanEstimate:
    """The judge's mean over all items with a CLT interval as if its predictions were the truth (not valid).

    Args:
        predictions: f on every item (labelled and unlabelled), shape (n + N,).
        alpha: 1 − the interval's level.
        groups: cluster code per item, or None for independent items.
    """
    f = _vector(predictions, "predictions", minimum=2)
    return _mean_with_interval(f, alpha, groups)


def classical_mean(labels: np.ndarray, *, alpha: float = 0.05, groups: np.ndarray | None = None) -> MeanEstimate:
    """The human mean over the labelled items with its CLT interval (``ppi_py.classical_mean_ci``)."""
    y = _vector(labels, "labels", minimum=2)
    return _mean_with_interval(y, alpha, groups)


def ppi_lambda(labels: np.ndarray, predictions: np.ndarray, predictions_unlabelled: np.ndarray) -> float:
    """The PPI++ power-tuning λ for a mean, clipped to [0, 1] (0 when the judge's predictions are constant).

    λ = Cov(Y, f) / ((1 + n/N)·Var(f ∪ f̃)): the λ minimising the estimate's
    variance λ²·Var(f̃)/N + Var(Y − λ·f)/n (PPI++ §6, the mean case).
    """
    y, f, u = _three(labels, predictions, predictions_unlabelled)
    n, N = len(y), len(u)
    covariance = float(np.mean((y - y.mean()) * (f - f.mean())))
    spread = float(np.var(np.concatenate([f, u]), ddof=1))
    if spread == 0:
        return 0.0
    return float(np.clip(covariance / ((1 + n / N) * spread), 0.0, 1.0))


def ppi_mean(
    labels: np.ndarray,
    predictions: np.ndarray,
    predictions_unlabelled: np.ndarray,
    *,
    lam: float | None = 1.0,
    alpha: float = 0.05,
    groups: np.ndarray | None = None,
    groups_unlabelled: np.ndarray | None = None,
) -> MeanEstimate:
    """The prediction-powered estimate of a mean and its interval.

    Args:
        labels: Y on the labelled items, shape (n,).
        predictions: f on the same items, shape (n,).
        predictions_unlabelled: f̃ on the other items, shape (N,).
        lam: 1 for PPI, None to tune it (PPI++), any other value as given (0: classical).
        alpha: 1 − the interval's level.
        groups, groups_unlabelled: cluster codes of the labelled and the unlabelled items,
            in one numbering (both or neither); None: independent items.

    Returns:
        The estimate, its interval, standard error and the λ used.

    Examples:
        >>> import numpy as np
        >>> y = np.array([1, 0, 1, 1, 0, 1.0]); f = np.array([1, 0, 1, 0, 0, 1.0])
        >>> round(ppi_mean(y, f, np.array([1, 1, 0, 1.0])).estimate, 4)  # 0.75 + mean(y - f) = 0.75 + 1/6
        0.9167
    """
    y, f, u = _three(labels, predictions, predictions_unlabelled)
    if lam is None:
        lam = ppi_lambda(y, f, u)
    lam = float(lam)
    if not math.isfinite(lam):
        raise BadInput(f"ppi: λ must be a finite number, got {lam}")
    estimate = float(lam * u.mean() + (y - lam * f).mean())
    variance = ppi_variance_terms(y, f, u, lam, groups=groups, groups_unlabelled=groups_unlabelled)
    return _interval(estimate, math.sqrt(variance), alpha, lam)


def ppi_variance_terms(
    labels: np.ndarray,
    predictions: np.ndarray,
    predictions_unlabelled: np.ndarray,
    lam: float,
    *,
    groups: np.ndarray | None = None,
    groups_unlabelled: np.ndarray | None = None,
) -> float:
    """The variance of the PPI estimate at λ: λ²·Var(f̃)/N + Var(Y − λ·f)/n, or its clustered form."""
    y, f, u = _three(labels, predictions, predictions_unlabelled)
    n, N = len(y), len(u)
    rectifier = y - lam * f
    if (groups is None) != (groups_unlabelled is None):
        raise BadInput("ppi: give cluster codes for both the labelled and the unlabelled items, or for neither")
    if groups is None:
        imputed_sd = np.std(lam * u) / math.sqrt(N)
        rectifier_sd = np.std(rectifier) / math.sqrt(n)
        return float(imputed_sd**2 + rectifier_sd**2)
    terms = np.concatenate([(rectifier - rectifier.mean()) / n, lam * (u - u.mean()) / N])
    codes = np.concatenate([_codes(groups, n, "groups"), _codes(groups_unlabelled, N, "groups_unlabelled")])
    return _sandwich(terms, codes)


def rogan_gladen(
    labels: np.ndarray,
    predictions: np.ndarray,
    predictions_unlabelled: np.ndarray,
    *,
    alpha: float = 0.05,
    interval: str = "delta",
    n_resamples: int = 2000,
    seed: int = 0,
    groups: np.ndarray | None = None,
    groups_unlabelled: np.ndarray | None = None,
) -> RoganGladen:
    """Prevalence of the positive class corrected by the judge's sensitivity and specificity.

    Se and Sp come from the labelled items, the judge's positive rate p̂ from
    the unlabelled ones (two independent samples, as in Rogan & Gladen's
    design). The delta-method variance (Rogan & Gladen 1978; Greenland 1988)
    treats the three as independent binomial proportions:

        Var(π̂) ≈ [p̂(1−p̂)/N + π̂²·Se(1−Se)/n₁ + (1−π̂)²·Sp(1−Sp)/n₀] / (Se + Sp − 1)²

    with n₁, n₀ the labelled positives and negatives. ``interval="bootstrap"``
    resamples the labelled and the unlabelled items separately (or whole
    clusters, given codes) and takes percentiles. The estimate and bounds are
    clipped to [0, 1]; when Se + Sp ≤ 1 the judge carries no information about
    the class and everything is NaN.

    Args:
        labels, predictions: Y and f in {0, 1} on the labelled items.
        predictions_unlabelled: f̃ in {0, 1} on the other items.
        interval: ``delta`` or ``bootstrap``.

    Examples:
        >>> import numpy as np
        >>> y = np.array([1] * 10 + [0] * 40); f = np.array([1] * 8 + [0] * 2 + [1] * 4 + [0] * 36)
        >>> rg = rogan_gladen(y, f, np.array([1] * 30 + [0] * 70))  # Se 0.8, Sp 0.9, p̂ 0.3
        >>> round(rg.estimate, 4)  # (0.3 + 0.9 - 1) / (0.8 + 0.9 - 1) = 0.2 / 0.7
        0.2857
    """
    y, f, u = _three(labels, predictions, predictions_unlabelled)
    for name, values in (("labels", y), ("predictions", f), ("predictions_unlabelled", u)):
        if not np.isin(values, (0.0, 1.0)).all():
            raise BadInput(f"rogan-gladen: {name} must be 0 or 1 (a binary outcome)")
    if interval not in ("delta", "bootstrap"):
        raise BadInput(f"rogan-gladen: interval {interval!r} is not delta or bootstrap")
    positives, negatives = y == 1, y == 0
    if not positives.any() or not negatives.any():
        missing = "positive" if not positives.any() else "negative"
        raise BadInput(f"rogan-gladen: no labelled {missing} item, so the judge's "
                       f"{'sensitivity' if missing == 'positive' else 'specificity'} is unknown")
    sens = float(f[positives].mean())
    spec = float(1 - f[negatives].mean())
    rate = float(u.mean())
    raw = _corrected(rate, sens, spec)
    nan = float("nan")
    if not math.isfinite(raw):
        return RoganGladen(nan, nan, nan, nan, nan, sens, spec, rate, interval)
    estimate = min(max(raw, 0.0), 1.0)
    if interval == "delta" and groups is None:
        youden = sens + spec - 1
        variance = (rate * (1 - rate) / len(u) + raw**2 * sens * (1 - sens) / positives.sum()
                    + (1 - raw) ** 2 * spec * (1 - spec) / negatives.sum()) / youden**2
        se = math.sqrt(variance)
        half = z_value(alpha) * se
        return RoganGladen(estimate, max(raw - half, 0.0), min(raw + half, 1.0), se, raw, sens, spec, rate, "delta")
    draws = _rogan_gladen_draws(y, f, u, n_resamples=n_resamples, seed=seed, groups=groups,
                                groups_unlabelled=groups_unlabelled)
    low, high = np.nanquantile(draws, [alpha / 2, 1 - alpha / 2]) if np.isfinite(draws).any() else (nan, nan)
    method = "cluster bootstrap" if groups is not None else "bootstrap"
    return RoganGladen(estimate, float(np.clip(low, 0, 1)), float(np.clip(high, 0, 1)), nan, raw, sens, spec, rate,
                       method)


def _corrected(rate, sens, spec):
    """(p̂ + Sp − 1)/(Se + Sp − 1), NaN where Se + Sp ≤ 1 (elementwise for arrays)."""
    youden = np.asarray(sens + spec - 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(youden > 0, (rate + spec - 1) / np.where(youden > 0, youden, 1.0), np.nan)
    return float(value) if value.ndim == 0 else value


def _rogan_gladen_draws(y, f, u, *, n_resamples, seed, groups, groups_unlabelled) -> np.ndarray:
    """Raw Rogan–Gladen estimates over bootstrap resamples (NaN where a resample leaves Se + Sp ≤ 1)."""
    rng = np.random.default_rng(seed)
    if groups is None:
        # the labelled items fall in four cells, the unlabelled in two: multinomial draws of the cell counts
        cells = np.array([np.sum((y == 1) & (f == 1)), np.sum((y == 1) & (f == 0)),
                          np.sum((y == 0) & (f == 1)), np.sum((y == 0) & (f == 0))], dtype=float)
        counts = rng.multinomial(len(y), cells / cells.sum(), size=n_resamples).astype(float)
        rate = rng.binomial(len(u), u.mean(), size=n_resamples) / len(u)
        tp, fn, fp, tn = counts.T
    else:
        codes = np.concatenate([_codes(groups, len(y), "groups"),
                                _codes(groups_unlabelled, len(u), "groups_unlabelled")])
        labelled = np.r_[np.ones(len(y)), np.zeros(len(u))]
        yy, ff = np.r_[y, np.zeros(len(u))], np.r_[f, u]
        per_item = np.column_stack([labelled * yy * ff, labelled * yy * (1 - ff), labelled * (1 - yy) * ff,
                                    labelled * (1 - yy) * (1 - ff), (1 - labelled) * ff, 1 - labelled])
        size = int(codes.max()) + 1
        per_cluster = np.zeros((size, per_item.shape[1]))
        np.add.at(per_cluster, codes, per_item)
        draws = rng.integers(0, size, size=(n_resamples, size))
        weights = np.zeros((n_resamples, size))
        np.add.at(weights, (np.arange(n_resamples)[:, None], draws), 1.0)
        tp, fn, fp, tn, judged, count = (weights @ per_cluster).T
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = judged / count
    with np.errstate(divide="ignore", invalid="ignore"):
        sens = tp / (tp + fn)
        spec = tn / (tn + fp)
    return _corrected(rate, sens, spec)


def _mean_with_interval(x: np.ndarray, alpha: float, groups: np.ndarray | None) -> MeanEstimate:
    if groups is None:
        se = float(np.std(x) / math.sqrt(len(x)))
    else:
        se = math.sqrt(_sandwich((x - x.mean()) / len(x), _codes(groups, len(x), "groups")))
    return _interval(float(x.mean()), se, alpha, None)


def _interval(estimate: float, se: float, alpha: float, lam: float | None) -> MeanEstimate:
    half = z_value(alpha) * se
    return MeanEstimate(estimate, estimate - half, estimate + half, se, lam)


def _sandwich(terms: np.ndarray, codes: np.ndarray) -> float:
    """G/(G − 1)·Σ_c (Σ_{i∈c} term_i)²: the cluster-robust variance of a sum of centred per-item terms."""
    sums = np.bincount(codes, weights=terms)
    used = np.bincount(codes) > 0
    g = int(used.sum())
    if g < 2:
        raise BadInput(f"clustered variance needs at least two clusters, got {g}")
    return float(g / (g - 1) * np.sum(sums[used] ** 2))


def _codes(groups: np.ndarray, length: int, name: str) -> np.ndarray:
    codes = np.asarray(groups)
    if codes.shape != (length,) or not np.issubdtype(codes.dtype, np.integer) or (codes < 0).any():
        raise BadInput(f"ppi: {name} must be {length} non-negative integer cluster codes")
    return codes.astype(np.int64)


def _three(labels, predictions, predictions_unlabelled) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = _vector(labels, "labels", minimum=2)
    f = _vector(predictions, "predictions", minimum=2)
    u = _vector(predictions_unlabelled, "predictions_unlabelled", minimum=1)
    if len(y) != len(f):
        raise BadInput(f"ppi: {len(y)} labels but {len(f)} predictions on the labelled items")
    return y, f, u


def _vector(values, name: str, *, minimum: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise BadInput(f"ppi: {name} must be one-dimensional, got shape {array.shape}")
    if len(array) < minimum:
        raise BadInput(f"ppi: {name} needs at least {minimum} values, got {len(array)}")
    if not np.isfinite(array).all():
        raise BadInput(f"ppi: {name} holds a missing or infinite value")
    return array


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise BadInput(f"--alpha: {alpha} is not in (0, 1)")
