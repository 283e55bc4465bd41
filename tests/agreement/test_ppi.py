"""judgekit.agreement.ppi against the authors' package (ppi-python), statsmodels and hand-worked numbers.

ppi-python (Angelopoulos et al.; ``ppi_py``) is a test-only dependency: its
numba and gdown requirements are too heavy to ship. Every case compares the
point estimate, both bounds and (where tuned) λ to 1e-9.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from ppi_py import classical_mean_ci, ppi_mean_ci, ppi_mean_pointestimate
from ppi_py.ppi import _calc_lam_glm

from judgekit.agreement.ppi import (
    classical_mean,
    naive_mean,
    ppi_lambda,
    ppi_mean,
    ppi_variance_terms,
    rogan_gladen,
    z_value,
)
from judgekit.errors import BadInput

TOLERANCE = 1e-9


def _binary(n: int, N: int, *, rate: float, sens: float, spec: float, seed: int):
    rng = np.random.default_rng(seed)
    truth = (rng.random(n + N) < rate).astype(float)
    said = np.where(truth == 1, rng.random(n + N) < sens, rng.random(n + N) >= spec).astype(float)
    return truth[:n], said[:n], said[n:]


def _continuous(n: int, N: int, *, slope: float, noise: float, seed: int):
    rng = np.random.default_rng(seed)
    truth = rng.normal(3.0, 1.0, n + N)
    said = 1.0 + slope * truth + rng.normal(0, noise, n + N)
    return truth[:n], said[:n], said[n:]


def _quartered(arrays):
    """The judge's scores divided by 4: Cov(Y, f) / Var(f) near 4, so λ clips at 1."""
    y, f, u = arrays
    return y, f / 4, u / 4


SYNTHETIC = {
    "binary, good judge": _binary(200, 3000, rate=0.2, sens=0.85, spec=0.9, seed=1),
    "binary, weak judge, few labels": _binary(12, 400, rate=0.5, sens=0.6, spec=0.55, seed=2),
    "binary, as many labels as not": _binary(500, 500, rate=0.7, sens=0.95, spec=0.8, seed=3),
    "scores, biased scale": _continuous(150, 5000, slope=0.6, noise=0.5, seed=4),
    "scores, λ clipped to 0 (anti-correlated)": _continuous(80, 900, slope=-0.8, noise=0.3, seed=5),
    "scores, λ clipped to 1 (judge on a quarter of the scale)": _quartered(
        _continuous(300, 2000, slope=1.0, noise=0.1, seed=6)),
}


def _assert_equal(ours, low, high, estimate):
    assert abs(ours.low - float(np.ravel(low)[0])) <= TOLERANCE
    assert abs(ours.high - float(np.ravel(high)[0])) <= TOLERANCE
    assert abs(ours.estimate - float(np.ravel(estimate)[0])) <= TOLERANCE


@pytest.mark.parametrize("case", list(SYNTHETIC))
@pytest.mark.parametrize("alpha", [0.05, 0.1])
@pytest.mark.parametrize("lam", [None, 1.0, 0.3, 0.0])
def test_ppi_mean_equals_ppi_python(case, alpha, lam):
    y, f, u = SYNTHETIC[case]
    ours = ppi_mean(y, f, u, lam=lam, alpha=alpha)
    low, high = ppi_mean_ci(y, f, u, alpha=alpha, lam=lam)
    _assert_equal(ours, low, high, ppi_mean_pointestimate(y, f, u, lam=lam))


@pytest.mark.parametrize("case", list(SYNTHETIC))
def test_tuned_lambda_equals_ppi_pythons_and_hits_both_clips(case):
    y, f, u = SYNTHETIC[case]
    theta = ppi_mean_pointestimate(y, f, u, lam=1)
    reference = _calc_lam_glm(y - theta, f - theta, u - theta, np.eye(1), clip=True)
    assert abs(ppi_lambda(y, f, u) - float(reference)) <= TOLERANCE
    assert abs(ppi_mean(y, f, u, lam=None).lam - float(reference)) <= TOLERANCE
    if "clipped to 0" in case:
        assert ppi_lambda(y, f, u) == 0.0
    if "clipped to 1" in case:
        assert ppi_lambda(y, f, u) == 1.0
    if case == "binary, good judge":
        assert 0 < ppi_lambda(y, f, u) < 1


@pytest.mark.parametrize("case", list(SYNTHETIC))
def test_classical_equals_ppi_python_and_ppi_at_lambda_zero(case):
    y, f, u = SYNTHETIC[case]
    low, high = classical_mean_ci(y, alpha=0.05)
    _assert_equal(classical_mean(y), low, high, y.mean())
    at_zero = ppi_mean(y, f, u, lam=0.0)
    assert at_zero.estimate == pytest.approx(y.mean(), abs=1e-12) and at_zero.se == pytest.approx(classical_mean(y).se)


def test_tuned_interval_is_never_wider_than_classical_or_ppi_on_these_cases():
    for y, f, u in SYNTHETIC.values():
        tuned = ppi_mean(y, f, u, lam=None)
        # λ minimises the variance asymptotically; on data the tuned width is within a hair of the better one
        assert tuned.se <= min(classical_mean(y).se, ppi_mean(y, f, u).se) * 1.02


def test_naive_interval_is_the_judges_mean_treated_as_truth():
    _, f, u = SYNTHETIC["binary, good judge"]
    everything = np.concatenate([f, u])
    naive = naive_mean(everything)
    low, high = classical_mean_ci(everything, alpha=0.05)
    _assert_equal(naive, low, high, everything.mean())
    # this judge over-flags (1 − specificity = 0.1 on 80 % negatives: expected rate 0.25, truth 0.2)
    assert naive.low - 0.2 > 4 * naive.se


def test_hand_worked_ppi():
    # y - f = (0, 0, 0, 1, 0, 0): rectifier mean 1/6; f̃ mean 3/4; PPI = 0.75 + 1/6 = 0.916666...
    y = np.array([1, 0, 1, 1, 0, 1.0])
    f = np.array([1, 0, 1, 0, 0, 1.0])
    u = np.array([1, 1, 0, 1.0])
    result = ppi_mean(y, f, u, alpha=0.05)
    assert result.estimate == pytest.approx(0.75 + 1 / 6, abs=1e-15)
    # Var(f̃) = 3/16 (divisor N), Var(y - f) = 5/36 (divisor n): se² = (3/16)/4 + (5/36)/6
    assert result.se == pytest.approx(math.sqrt(3 / 64 + 5 / 216), abs=1e-15)
    assert result.high - result.estimate == pytest.approx(1.959963984540054 * result.se, abs=1e-12)


# ---- clustered variance -------------------------------------------------------------------------------------------


def test_clustered_mean_variance_equals_statsmodels_cluster_robust_intercept():
    import statsmodels.api as sm

    rng = np.random.default_rng(11)
    groups = np.repeat(np.arange(40), rng.integers(1, 8, 40))
    y = rng.normal(0, 1, 40)[groups] + rng.normal(0, 1, len(groups))
    fit = sm.OLS(y, np.ones((len(y), 1))).fit(cov_type="cluster", cov_kwds={"groups": groups})
    ours = classical_mean(y, groups=groups)
    assert ours.estimate == pytest.approx(fit.params[0], abs=1e-12)
    assert ours.se == pytest.approx(fit.bse[0], rel=1e-10)
    assert ours.se > classical_mean(y).se * 1.3  # shared cluster effects: the iid interval is too narrow


def test_clustered_ppi_with_singleton_clusters_is_the_iid_variance_times_the_small_sample_factor():
    y, f, u = SYNTHETIC["scores, biased scale"]
    n, N = len(y), len(u)
    codes = np.arange(n + N)
    clustered = ppi_variance_terms(y, f, u, 0.7, groups=codes[:n], groups_unlabelled=codes[n:])
    plain = ppi_variance_terms(y, f, u, 0.7)
    assert clustered == pytest.approx(plain * (n + N) / (n + N - 1), rel=1e-12)


def test_clustered_ppi_counts_a_clusters_labelled_and_unlabelled_items_together():
    rng = np.random.default_rng(12)
    clusters = rng.integers(0, 30, 600)
    effect = rng.normal(0, 1, 30)[clusters]
    truth = effect + rng.normal(0, 0.5, 600)
    said = effect + rng.normal(0, 0.5, 600)
    labelled = rng.random(600) < 0.3
    args = (truth[labelled], said[labelled], said[~labelled])
    wide = ppi_mean(*args, lam=1.0, groups=clusters[labelled], groups_unlabelled=clusters[~labelled])
    narrow = ppi_mean(*args, lam=1.0)
    assert wide.estimate == narrow.estimate and wide.se > 2 * narrow.se


# ---- Rogan–Gladen -------------------------------------------------------------------------------------------------


def test_rogan_gladen_hand_worked():
    # 10 labelled positives, 8 flagged: Se = 0.8; 40 negatives, 4 flagged: Sp = 0.9; p̂ = 30/100 = 0.3
    y = np.array([1] * 10 + [0] * 40, dtype=float)
    f = np.array([1] * 8 + [0] * 2 + [1] * 4 + [0] * 36, dtype=float)
    u = np.array([1] * 30 + [0] * 70, dtype=float)
    rg = rogan_gladen(y, f, u, alpha=0.05)
    assert (rg.sensitivity, rg.specificity, rg.judge_rate) == pytest.approx((0.8, 0.9, 0.3))
    assert rg.estimate == pytest.approx(0.2 / 0.7, abs=1e-15)
    # Var = [0.3·0.7/100 + π²·0.8·0.2/10 + (1 − π)²·0.9·0.1/40] / 0.7², π = 2/7
    pi = 2 / 7
    variance = (0.0021 + pi**2 * 0.016 + (1 - pi) ** 2 * 0.00225) / 0.49
    assert rg.se == pytest.approx(math.sqrt(variance), abs=1e-15)
    assert rg.high - rg.raw == pytest.approx(z_value(0.05) * rg.se, abs=1e-12) and rg.interval == "delta"


def test_rogan_gladen_delta_interval_agrees_with_its_bootstrap_on_a_large_sample():
    y, f, u = _binary(2000, 20000, rate=0.3, sens=0.8, spec=0.85, seed=21)
    delta = rogan_gladen(y, f, u)
    boot = rogan_gladen(y, f, u, interval="bootstrap", n_resamples=4000, seed=3)
    assert boot.estimate == delta.estimate and boot.interval == "bootstrap"
    assert boot.low == pytest.approx(delta.low, abs=0.004) and boot.high == pytest.approx(delta.high, abs=0.004)
    assert abs(delta.estimate - 0.3) < 2 * delta.se  # corrected back to the true prevalence
    assert np.concatenate([f, u]).mean() - 0.3 > 3 * delta.se  # the judge's own rate (expected 0.345) is off


def test_rogan_gladen_cluster_bootstrap_is_wider_when_clusters_share_outcomes():
    rng = np.random.default_rng(22)
    clusters = rng.integers(0, 40, 3000)
    truth = (rng.random(40)[clusters] < 0.35).astype(float)
    said = np.where(truth == 1, rng.random(3000) < 0.85, rng.random(3000) >= 0.9).astype(float)
    lab = rng.random(3000) < 0.2
    args = (truth[lab], said[lab], said[~lab])
    plain = rogan_gladen(*args)
    clustered = rogan_gladen(*args, groups=clusters[lab], groups_unlabelled=clusters[~lab], n_resamples=1000)
    assert clustered.interval == "cluster bootstrap"
    assert clustered.high - clustered.low > 2 * (plain.high - plain.low)


def test_rogan_gladen_clips_to_the_unit_interval_and_is_undefined_for_an_uninformative_judge():
    y = np.array([1] * 10 + [0] * 10, dtype=float)
    f = np.array([1] * 9 + [0] + [1] * 1 + [0] * 9, dtype=float)  # Se 0.9, Sp 0.9
    low_rate = rogan_gladen(y, f, np.zeros(50))  # p̂ = 0 < 1 − Sp: the raw estimate is negative
    assert low_rate.raw < 0 and low_rate.estimate == 0.0 and low_rate.low == 0.0
    coin = np.array([1, 0] * 5 + [1, 0] * 5, dtype=float)  # Se 0.5, Sp 0.5
    useless = rogan_gladen(y, coin, np.ones(50))
    assert math.isnan(useless.estimate) and math.isnan(useless.low)


def test_bad_arrays_are_one_line_bad_input():
    with pytest.raises(BadInput, match="no labelled positive"):
        rogan_gladen(np.zeros(10), np.zeros(10), np.ones(5))
    with pytest.raises(BadInput, match="must be 0 or 1"):
        rogan_gladen(np.array([0.5, 1, 0]), np.array([1, 1, 0.0]), np.ones(3))
    with pytest.raises(BadInput, match="at least 2"):
        ppi_mean(np.array([1.0]), np.array([1.0]), np.ones(3))
    with pytest.raises(BadInput, match="3 labels but 2 predictions"):
        ppi_mean(np.ones(3), np.ones(2), np.ones(3))
    with pytest.raises(BadInput, match="alpha"):
        classical_mean(np.ones(5), alpha=1.5)
    with pytest.raises(BadInput, match="both"):
        ppi_mean(np.ones(3), np.ones(3), np.ones(3), groups=np.arange(3))
