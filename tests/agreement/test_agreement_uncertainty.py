"""Bootstrap, proportion intervals and McNemar against scipy / statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from judgekit.agreement import bootstrap_ci, mcnemar_exact, mean_statistic, proportion_ci, resample_weights


def test_resample_weights_are_seeded_counts():
    w = resample_weights(50, n_resamples=200, seed=3)
    assert w.shape == (200, 50)
    assert np.all(w.sum(axis=1) == 50)  # each resample draws n items
    assert np.array_equal(w, resample_weights(50, n_resamples=200, seed=3))
    assert not np.array_equal(w, resample_weights(50, n_resamples=200, seed=4))
    with pytest.raises(ValueError):
        w[0, 0] = 1  # shared between callers, so read-only


def test_bootstrap_mean_matches_an_explicit_index_loop():
    rng = np.random.default_rng(0)
    values = rng.random(80)
    ours = bootstrap_ci(mean_statistic(values), n_resamples=500, seed=7, confidence=0.9)
    # The same resamples, drawn and averaged one by one.
    idx = np.random.default_rng(7).integers(0, 80, size=(500, 80))
    means = values[idx].mean(axis=1)
    assert ours.estimate == pytest.approx(values.mean())
    assert ours.low == pytest.approx(np.quantile(means, 0.05))
    assert ours.high == pytest.approx(np.quantile(means, 0.95))


def test_bootstrap_interval_shrinks_with_more_items():
    rng = np.random.default_rng(1)
    small = bootstrap_ci(mean_statistic(rng.random(50) < 0.7))
    large = bootstrap_ci(mean_statistic(rng.random(5000) < 0.7))
    assert (large.high - large.low) < (small.high - small.low) / 5


@pytest.mark.parametrize("method", ["wilson", "beta"])
@pytest.mark.parametrize(("count", "nobs"), [(37, 50), (0, 20), (20, 20), (1, 1), (7, 2000)])
def test_proportion_ci_is_statsmodels(method, count, nobs):
    interval = proportion_ci(count, nobs, method=method, confidence=0.9)
    low, high = proportion_confint(count, nobs, alpha=0.1, method=method)
    assert interval == pytest.approx((count / nobs, low, high), rel=1e-9, abs=1e-12)
    assert np.isnan(proportion_ci(0, 0, method=method).estimate)


def test_mcnemar_is_the_binomial_test_on_discordant_pairs():
    rng = np.random.default_rng(2)
    right_1 = rng.random(300) < 0.75
    right_2 = np.where(rng.random(300) < 0.15, ~right_1, right_1) & (rng.random(300) < 0.95)
    result = mcnemar_exact(right_1, right_2)
    b, c = np.sum(right_1 & ~right_2), np.sum(~right_1 & right_2)
    assert (result.only_first_right, result.only_second_right) == (b, c)
    assert result.pvalue == pytest.approx(binomtest(int(b), int(b + c), 0.5).pvalue)
    assert mcnemar_exact(right_1, right_1).pvalue == 1.0
