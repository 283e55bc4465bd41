"""Selective judging: the accuracy-coverage curve and the coverage at a target accuracy, by brute force."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from judgekit.agreement.selective import coverage_at_accuracy, selective_curve
from judgekit.errors import BadInput


def _judge(seed: int, n: int = 300, undecided: float = 0.05):
    """A judge whose confidence predicts being right; a few undecided (invalid) items; tied confidences."""
    rng = np.random.default_rng(seed)
    confidence = np.round(rng.uniform(0.5, 1.0, n), 2)  # rounding makes ties
    correct = (rng.random(n) < confidence).astype(int)
    confidence = confidence.astype(object)
    confidence[rng.random(n) < undecided] = None
    return confidence, correct


def _brute_force(confidence, correct, target, level):
    decided = [c for c in confidence if c is not None]
    best = (0.0, None)
    for t in sorted(set(decided), reverse=True):
        kept = [y for c, y in zip(confidence, correct) if c is not None and c >= t]
        low, _ = proportion_confint(sum(kept), len(kept), alpha=1 - level, method="beta")
        low = 0.0 if sum(kept) == 0 else low
        if low >= target and len(kept) / len(confidence) > best[0]:
            best = (len(kept) / len(confidence), t)
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_curve_equals_counting_by_threshold(seed):
    confidence, correct = _judge(seed)
    curve = selective_curve(confidence, correct)
    thresholds = sorted({c for c in confidence if c is not None}, reverse=True)
    assert list(curve.threshold) == pytest.approx(thresholds)
    for t, kept, right, coverage in zip(curve.threshold, curve.kept, curve.right, curve.coverage):
        mask = [c is not None and c >= t for c in confidence]
        assert kept == sum(mask) and right == sum(y for y, m in zip(correct, mask) if m)
        assert coverage == pytest.approx(sum(mask) / len(confidence))
    assert curve.coverage[-1] < 1.0  # undecided items are never covered
    # A confidence that predicts correctness: the most confident tenth beats the whole.
    assert curve.accuracy[np.searchsorted(curve.coverage, 0.1)] > curve.accuracy[-1]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("target", [0.8, 0.9])
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_coverage_at_target_equals_a_scan_with_clopper_pearson(seed, target, level):
    confidence, correct = _judge(seed)
    got = coverage_at_accuracy(confidence, correct, target=target, level=level, n_resamples=200)
    coverage, threshold = _brute_force(confidence, correct, target, level)
    assert got.coverage == pytest.approx(coverage)
    assert got.threshold == (pytest.approx(threshold) if threshold is not None else None)
    if threshold is not None:
        kept = [y for c, y in zip(confidence, correct) if c is not None and c >= threshold]
        assert got.kept == len(kept) and got.accuracy == pytest.approx(np.mean(kept))
        assert got.accuracy_lower_bound >= target
        low, high = got.coverage_ci[1:]
        assert low <= got.coverage <= high or abs(got.coverage - low) < 0.05


def test_a_perfect_judge_covers_everything_it_decides():
    confidence = np.linspace(0.5, 1.0, 100)
    got = coverage_at_accuracy(confidence, np.ones(100), target=0.9)
    # Clopper-Pearson lower bound with 100/100 right: 0.025 ** (1/100) = 0.9638 >= 0.9.
    assert got.accuracy_lower_bound == pytest.approx(0.025 ** (1 / 100))
    assert got.coverage == 1.0 and got.threshold == 0.5


def test_an_unreachable_target_covers_nothing():
    confidence, correct = np.linspace(0.5, 1.0, 50), np.tile([1, 0], 25)
    got = coverage_at_accuracy(confidence, correct, target=0.99)
    assert got.coverage == 0.0 and got.threshold is None and got.kept == 0


def test_seeded_and_reproducible():
    confidence, correct = _judge(4)
    first = coverage_at_accuracy(confidence, correct, seed=3)
    assert coverage_at_accuracy(confidence, correct, seed=3) == first


@pytest.mark.parametrize("kwargs, message", [({"target": 1.0}, "--target-accuracy: 1.0"),
                                             ({"level": 0}, "confidence level: 0")])
def test_bad_parameters(kwargs, message):
    with pytest.raises(BadInput, match=message):
        coverage_at_accuracy([0.6, 0.7], [1, 0], **kwargs)
