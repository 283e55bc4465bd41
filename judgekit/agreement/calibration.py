"""Is the judge's confidence worth anything? Reliability diagram, ECE, Brier score, recalibration.

Input per item: ``confidence`` c ∈ [0, 1] that the judge's winner is right
(a logprob margin through a sigmoid, a vote share, a normalised rating gap)
and ``correct`` (1 if the winner equals gold). REFERENCES E2:

- reliability diagram: items binned by confidence, accuracy against mean
  confidence per bin. Bins as scikit-learn's ``calibration_curve`` makes them:
  ``uniform`` (equal width on [0, 1]) or ``quantile`` (equal mass); an item
  on an inner edge goes to the lower bin.
- ECE = Σ_b (n_b / n) · |acc_b − conf_b| over those bins (Guo et al. 2017).
- Brier = mean((c − correct)²).
- A calibration map (isotonic, or logistic on logit c, from scikit-learn) is
  cross-fitted: items are split into k folds and each fold's calibrated
  confidence comes from a map fitted on the other folds only, so calibrated
  figures are never measured on the data they were fitted on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from judgekit.errors import BadInput

STRATEGIES: tuple[str, ...] = ("uniform", "quantile")
METHODS: tuple[str, ...] = ("isotonic", "logistic")


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability diagram (only non-empty bins are listed)."""

    lower: float
    upper: float
    n: int
    confidence: float
    """Mean confidence of the bin's items."""
    accuracy: float
    """Share of the bin's items whose winner is right."""


@dataclass(frozen=True)
class Calibration:
    """Calibration of one judge's confidences, raw and after a cross-fitted map."""

    n: int
    n_bins: int
    strategy: str
    ece: float
    brier: float
    bins: tuple[ReliabilityBin, ...]
    method: str
    folds: int
    calibrated_ece: float
    calibrated_brier: float
    calibrated_bins: tuple[ReliabilityBin, ...]
    calibrated: np.ndarray
    """Each item's out-of-fold calibrated confidence."""


def brier_score(confidence: Sequence[float] | np.ndarray, correct: Sequence[float] | np.ndarray) -> float:
    """mean((c − correct)²): squared error of the confidence as a probability of being right."""
    c, y = _check(confidence, correct)
    return float(np.mean((c - y) ** 2))


def reliability_bins(
    confidence: Sequence[float] | np.ndarray,
    correct: Sequence[float] | np.ndarray,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
) -> tuple[ReliabilityBin, ...]:
    """The non-empty bins of the reliability diagram, lowest confidence first."""
    c, y = _check(confidence, correct)
    edges = _edges(c, n_bins, strategy)
    ids = np.searchsorted(edges[1:-1], c)
    out = []
    for b in range(len(edges) - 1):
        inside = ids == b
        if inside.any():
            out.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), int(inside.sum()),
                                      float(c[inside].mean()), float(y[inside].mean())))
    return tuple(out)


def expected_calibration_error(
    confidence: Sequence[float] | np.ndarray,
    correct: Sequence[float] | np.ndarray,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
) -> float:
    """ECE = Σ_b (n_b / n) · |acc_b − conf_b| over ``reliability_bins``."""
    bins = reliability_bins(confidence, correct, n_bins=n_bins, strategy=strategy)
    n = sum(b.n for b in bins)
    return float(sum(b.n / n * abs(b.accuracy - b.confidence) for b in bins))


def cross_fitted(
    confidence: Sequence[float] | np.ndarray,
    correct: Sequence[float] | np.ndarray,
    *,
    method: str = "isotonic",
    folds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Out-of-fold calibrated confidences: fold k is mapped by a map fitted on the other folds.

    Folds are stratified by ``correct`` (scikit-learn's ``StratifiedKFold``,
    shuffled with ``seed``) so every training part sees right and wrong items
    when there are enough of each; a training part with only one outcome maps
    everything to that outcome's rate.
    """
    from sklearn.model_selection import KFold, StratifiedKFold  # heavy: load on use

    c, y = _check(confidence, correct)
    if method not in METHODS:
        raise BadInput(f"method {method!r} is not one of {', '.join(METHODS)}")
    if folds < 2:
        raise BadInput(f"folds: {folds} is below 2 (cross-fitting needs a held-out fold)")
    if len(c) < folds:
        raise BadInput(f"folds: {folds} folds need at least {folds} items, got {len(c)}")
    labels = y.astype(int)
    stratify = np.bincount(labels, minlength=2).min() >= folds
    splitter = (StratifiedKFold if stratify else KFold)(n_splits=folds, shuffle=True, random_state=seed)
    out = np.empty(len(c))
    for train, test in splitter.split(c.reshape(-1, 1), labels):
        out[test] = _fit_map(c[train], labels[train], method)(c[test])
    return out


def calibration(
    confidence: Sequence[float] | np.ndarray,
    correct: Sequence[float] | np.ndarray,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
    method: str = "isotonic",
    folds: int = 5,
    seed: int = 0,
) -> Calibration:
    """All calibration figures of one judge, raw and cross-fitted."""
    c, y = _check(confidence, correct)
    mapped = cross_fitted(c, y, method=method, folds=folds, seed=seed)
    return Calibration(
        n=len(c), n_bins=n_bins, strategy=strategy,
        ece=expected_calibration_error(c, y, n_bins=n_bins, strategy=strategy),
        brier=brier_score(c, y),
        bins=reliability_bins(c, y, n_bins=n_bins, strategy=strategy),
        method=method, folds=folds,
        calibrated_ece=expected_calibration_error(mapped, y, n_bins=n_bins, strategy=strategy),
        calibrated_brier=brier_score(mapped, y),
        calibrated_bins=reliability_bins(mapped, y, n_bins=n_bins, strategy=strategy),
        calibrated=mapped,
    )


def _fit_map(c: np.ndarray, y: np.ndarray, method: str):
    """A fitted confidence -> probability-of-right map (a function of an array)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2:
        rate = float(y.mean())
        return lambda x: np.full(len(x), rate)
    if method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(c, y)
        return iso.predict
    model = LogisticRegression().fit(_logit(c).reshape(-1, 1), y)
    return lambda x: model.predict_proba(_logit(x).reshape(-1, 1))[:, 1]


def _logit(c: np.ndarray) -> np.ndarray:
    p = np.clip(c, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _edges(c: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    if strategy not in STRATEGIES:
        raise BadInput(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if n_bins < 1:
        raise BadInput(f"n_bins: {n_bins} is below 1")
    if strategy == "quantile":
        return np.percentile(c, np.linspace(0, 1, n_bins + 1) * 100)
    return np.linspace(0.0, 1.0, n_bins + 1)


def _check(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(confidence, dtype=float)
    y = np.asarray(correct, dtype=float)
    if c.ndim != 1 or y.shape != c.shape:
        raise BadInput(f"confidence and correct: expected two 1-D arrays of one length, got {c.shape} and {y.shape}")
    if len(c) == 0:
        raise BadInput("confidence: no items")
    if np.isnan(c).any() or (c < 0).any() or (c > 1).any():
        raise BadInput(f"confidence[{int(np.flatnonzero(np.isnan(c) | (c < 0) | (c > 1))[0])}]: not in [0, 1]")
    if not np.isin(y, (0.0, 1.0)).all():
        raise BadInput(f"correct[{int(np.flatnonzero(~np.isin(y, (0.0, 1.0)))[0])}]: not 0 or 1")
    return c, y
