"""Paired tests and multiplicity: the sign-flip test against brute force and scipy, Holm/BH against statsmodels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import permutation_test
from statsmodels.stats.multitest import multipletests

from judgekit.agreement import (
    adjust_p_values,
    bootstrap_ci,
    cluster_codes,
    compare_judges,
    mcnemar_exact,
    mean_statistic,
    paired_test,
    sign_flip_test,
)


def _brute_force(d: np.ndarray) -> float:
    """Share of all 2^n sign patterns (zeros included) whose |sum| reaches the observed |sum|."""
    observed = abs(d.sum())
    hits = [abs(np.dot(signs, d)) >= observed - 1e-12 for signs in itertools.product((-1, 1), repeat=len(d))]
    return float(np.mean(hits))


@pytest.mark.parametrize("seed", range(6))
def test_exact_sign_flip_equals_brute_force_enumeration(seed):
    rng = np.random.default_rng(seed)
    d = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=12)
    p, name = sign_flip_test(d)
    assert p == pytest.approx(_brute_force(d), abs=1e-12)
    assert "exact" in name and "items" in name


@pytest.mark.parametrize("seed", range(4))
def test_exact_convolution_equals_brute_force_and_full_enumeration(seed):
    """Beyond the enumeration limit, differences on a lattice still get the exact p (forced here on 14 items)."""
    rng = np.random.default_rng(seed)
    d = rng.choice([-1.0, -0.75, -0.5, 0.25, 0.5, 1.0], size=14)
    p, name = sign_flip_test(d, max_exact=5)
    assert "by convolution" in name
    assert p == pytest.approx(_brute_force(d), rel=1e-9, abs=1e-12)
    assert p == pytest.approx(sign_flip_test(d, max_exact=20)[0], rel=1e-9, abs=1e-12)
    balanced = np.array([1.0, -1.0, 0.5, -0.5, 0.5, -0.5, 0.25] * 2)  # also an observed sum near zero
    assert sign_flip_test(balanced, max_exact=3)[0] == pytest.approx(_brute_force(balanced), rel=1e-9)


def test_large_two_order_comparisons_stay_exact():
    rng = np.random.default_rng(5)
    d = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=3000, p=[0.15, 0.2, 0.3, 0.2, 0.15])
    p, name = sign_flip_test(d)
    assert "exact" in name and "by convolution" in name
    mc, mc_name = sign_flip_test(d + 1e-7 * rng.random(3000), n_resamples=10_000)  # off the lattice: Monte Carlo
    assert "Monte Carlo" in mc_name and abs(p - mc) < 4 * np.sqrt(p * (1 - p) / 10_000) + 1e-3
    assert 0.01 < p < 0.99  # a p-value where the two can disagree


@pytest.mark.parametrize(("plus", "minus"), [(1300, 1200), (40, 12), (3, 0), (500, 500)])
def test_convolution_on_many_differences_matches_scipy_binomial(plus, minus):
    """Thousands of ±1 differences and six ±½: the lattice path's binomial masses and tails match scipy.stats."""
    from scipy.stats import binom

    d = np.array([1.0] * plus + [-1.0] * minus + [0.5, -0.5] * 3)
    p, name = sign_flip_test(d, max_exact=3)
    assert "by convolution" in name
    k, observed = plus + minus, abs(plus - minus)
    x = np.arange(k + 1)
    expected = 0.0
    for signs in itertools.product((-1, 1), repeat=6):  # every pattern of the six ±½ flips, each 1/64
        reaches = np.abs(2 * x - k + 0.5 * sum(signs)) >= observed - 1e-9
        expected += float(np.sum(binom.pmf(x[reaches], k, 0.5))) / 64
    assert p == pytest.approx(expected, rel=1e-9)


def test_clustered_sign_flip_flips_whole_clusters():
    d = np.array([1.0, 0.5, -0.5, 1.0, 0.0, 0.5, -1.0, 1.0, 0.5])
    keys = ["q1", "q1", "q2", "q3", "q3", "q3", "q4", "q5", "q5"]
    clusters = cluster_codes(keys)
    p, name = sign_flip_test(d, clusters=clusters)
    sums = np.array([sum(x for x, k in zip(d, keys) if k == q) for q in ("q1", "q2", "q3", "q4", "q5")])
    assert p == pytest.approx(_brute_force(sums), abs=1e-12)
    assert "5 clusters" in name


def test_monte_carlo_sign_flip_matches_scipy_permutation_test():
    rng = np.random.default_rng(7)
    n = 80
    x = rng.random(n)  # scores off any lattice: the Monte-Carlo path
    y = rng.random(n) - 0.08
    p, name = sign_flip_test(x - y, n_resamples=40_000, seed=1)
    assert "Monte Carlo (40000 resamples, seed 1)" in name
    reference = permutation_test((x, y), lambda a, b, axis: np.mean(a - b, axis=axis), permutation_type="samples",
                                 vectorized=True, n_resamples=40_000, alternative="two-sided", random_state=2)
    error = 4 * np.sqrt(2 * p * (1 - p) / 40_000)  # two independent Monte-Carlo estimates
    assert abs(p - reference.pvalue) < max(error, 2e-3)
    assert 0.001 < p < 0.999  # a case where the comparison means something


def test_sign_flip_on_binary_scores_is_mcnemar():
    rng = np.random.default_rng(3)
    right_1, right_2 = rng.random(60) < 0.7, rng.random(60) < 0.5
    mcnemar = mcnemar_exact(right_1, right_2)
    p, _ = sign_flip_test(right_1.astype(float) - right_2.astype(float))  # exact by convolution
    assert p == pytest.approx(mcnemar.pvalue, rel=1e-9)
    test = paired_test(right_1.astype(float), right_2.astype(float))
    assert test.name == "McNemar exact" and test.p_value == mcnemar.pvalue
    assert (test.only_1_higher, test.only_2_higher) == (mcnemar.only_first_right, mcnemar.only_second_right)


def test_two_order_judges_get_the_item_level_test():
    gold = ["a", "b"] * 15
    judge_1 = (["a", "b"] * 15, ["a", "a"] * 15)  # right in order 1 always, in order 2 half the time
    judge_2 = (["b", "b"] * 15, ["b", "b"] * 15)
    result = compare_judges(gold, judge_1, judge_2, test_resamples=5000)
    scores_1 = np.array([1.0, 0.5] * 15)
    scores_2 = np.array([0.0, 1.0] * 15)
    assert result.test.name.startswith("sign-flip permutation over items")
    assert result.test.p_value == pytest.approx(paired_test(scores_1, scores_2, n_resamples=5000).p_value)
    assert (result.test.only_1_higher, result.test.only_2_higher) == (15, 15)


@pytest.mark.parametrize("seed", range(6))
def test_holm_and_bh_equal_statsmodels(seed):
    rng = np.random.default_rng(seed)
    m = [1, 2, 6, 25, 200, 7][seed]
    raw = list(rng.beta(0.3, 1.0, size=m))
    if seed == 5:  # ties, a 1 and a 0
        raw = [0.001, 0.04, 0.04, 0.2, 1.0, 0.0, 0.012]
    adjusted = adjust_p_values(raw)
    assert adjusted.p_holm == pytest.approx(list(multipletests(raw, method="holm")[1]), abs=1e-15)
    assert adjusted.q_bh == pytest.approx(list(multipletests(raw, method="fdr_bh")[1]), abs=1e-15)
    assert adjust_p_values([]).p_holm == []


def test_cluster_bootstrap_widens_with_correlated_clusters_and_equals_items_when_singletons():
    rng = np.random.default_rng(0)
    cluster_effect = np.repeat(rng.random(30) < 0.5, 6).astype(float)  # 30 clusters of 6 identical items
    values = cluster_effect
    keys = np.repeat(np.arange(30), 6).tolist()
    items = bootstrap_ci(mean_statistic(values), n_resamples=2000)
    clustered = bootstrap_ci(mean_statistic(values), n_resamples=2000, clusters=cluster_codes(keys))
    assert clustered.high - clustered.low > 1.8 * (items.high - items.low)  # about sqrt(6) wider
    singletons = bootstrap_ci(mean_statistic(values), n_resamples=2000, clusters=cluster_codes(range(180)))
    assert singletons == items
