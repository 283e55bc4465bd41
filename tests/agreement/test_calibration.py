"""Calibration figures equal scikit-learn's on the same data; cross-fitting never scores its own fit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import StratifiedKFold

from judgekit.agreement.calibration import (
    brier_score,
    calibration,
    cross_fitted,
    expected_calibration_error,
    reliability_bins,
)
from judgekit.errors import BadInput


def _overconfident(seed: int, n: int = 500):
    """Confidences in [0.5, 1] whose true hit rate is lower than they claim."""
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0.5, 1.0, n)
    correct = (rng.random(n) < 0.5 + 0.6 * (confidence - 0.5)).astype(int)
    return confidence, correct


@pytest.mark.parametrize("seed", [0, 1])
def test_brier_equals_sklearn(seed):
    confidence, correct = _overconfident(seed)
    assert brier_score(confidence, correct) == pytest.approx(brier_score_loss(correct, confidence), abs=1e-12)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [5, 10, 15])
def test_reliability_bins_equal_calibration_curve(strategy, n_bins):
    confidence, correct = _overconfident(2)
    confidence[:5] = [0.6, 0.7, 0.8, 0.9, 1.0]  # items exactly on bin edges
    prob_true, prob_pred = calibration_curve(correct, confidence, n_bins=n_bins, strategy=strategy)
    bins = reliability_bins(confidence, correct, n_bins=n_bins, strategy=strategy)
    assert [b.accuracy for b in bins] == pytest.approx(list(prob_true))
    assert [b.confidence for b in bins] == pytest.approx(list(prob_pred))
    assert sum(b.n for b in bins) == len(confidence)
    # ECE from sklearn's curve and the bin counts, written out.
    edges = (np.linspace(0, 1, n_bins + 1) if strategy == "uniform"
             else np.percentile(confidence, np.linspace(0, 1, n_bins + 1) * 100))
    counts = np.bincount(np.searchsorted(edges[1:-1], confidence), minlength=n_bins)
    counts = counts[counts > 0]
    expected = np.sum(counts / len(confidence) * np.abs(prob_true - prob_pred))
    assert expected_calibration_error(confidence, correct, n_bins=n_bins, strategy=strategy) == pytest.approx(expected)


def test_a_calibrated_judge_has_small_ece_and_an_overconfident_one_does_not():
    rng = np.random.default_rng(3)
    confidence = rng.uniform(0.5, 1.0, 5000)
    honest = (rng.random(5000) < confidence).astype(int)
    assert expected_calibration_error(confidence, honest) < 0.03
    over, correct = _overconfident(3, 5000)
    assert expected_calibration_error(over, correct) > 0.08


def test_cross_fitting_equals_a_fold_by_fold_isotonic_fit():
    confidence, correct = _overconfident(4)
    got = cross_fitted(confidence, correct, method="isotonic", folds=5, seed=11)
    want = np.empty(len(confidence))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=11).split(confidence.reshape(-1, 1), correct):
        fit = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(confidence[train], correct[train])
        want[test] = fit.predict(confidence[test])
    assert got == pytest.approx(want)


def test_logistic_cross_fitting_equals_a_fold_by_fold_platt_fit():
    """Platt scaling on logit(c), fitted on the other folds only."""
    from sklearn.linear_model import LogisticRegression

    confidence, correct = _overconfident(5)
    got = cross_fitted(confidence, correct, method="logistic", folds=4, seed=2)
    logit = np.log(confidence.clip(1e-6, 1 - 1e-6) / (1 - confidence.clip(1e-6, 1 - 1e-6))).reshape(-1, 1)
    want = np.empty(len(confidence))
    for train, test in StratifiedKFold(4, shuffle=True, random_state=2).split(logit, correct):
        want[test] = LogisticRegression().fit(logit[train], correct[train]).predict_proba(logit[test])[:, 1]
    assert got == pytest.approx(want)


def test_recalibration_fixes_an_overconfident_judge_out_of_fold():
    confidence, correct = _overconfident(6, 3000)
    result = calibration(confidence, correct, method="isotonic", folds=5)
    assert result.ece > 0.08 and result.calibrated_ece < result.ece / 2
    assert result.calibrated_brier < result.brier
    # In-sample isotonic is optimistic: it scores better than the honest cross-fitted figure.
    in_sample = IsotonicRegression(y_min=0, y_max=1).fit(confidence, correct).predict(confidence)
    assert brier_score(in_sample, correct) < result.calibrated_brier
    logistic = calibration(confidence, correct, method="logistic")
    assert logistic.calibrated_ece < logistic.ece


@pytest.mark.parametrize("args, message", [
    (([0.5, 1.2], [1, 0]), r"confidence\[1\]: not in \[0, 1\]"),
    (([0.5, 0.7], [1, 2]), r"correct\[1\]: not 0 or 1"),
    (([0.5], [1, 0]), "two 1-D arrays of one length"),
])
def test_bad_input(args, message):
    with pytest.raises(BadInput, match=message):
        brier_score(*args)


def test_one_outcome_in_a_training_part_maps_to_its_rate():
    confidence = np.linspace(0.5, 1, 20)
    assert cross_fitted(confidence, np.ones(20), folds=4) == pytest.approx(np.ones(20))
