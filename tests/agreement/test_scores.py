"""Pointwise figures against scipy and krippendorff on the same numbers, and the clustered bootstrap."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from scipy import stats

from judgekit.agreement.scores import (
    ALPHA_LEVELS,
    METHODS,
    correlation,
    item_level,
    krippendorff_alpha_scores,
    score_agreement,
    system_level,
)
from judgekit.agreement.uncertainty import resample_weights
from judgekit.errors import BadInput

SCIPY = {"pearson": stats.pearsonr, "spearman": stats.spearmanr, "kendall": stats.kendalltau}


def _data(seed: int = 1, inputs: int = 20, systems: int = 6):
    rng = np.random.default_rng(seed)
    input_ids = [f"i{c}" for c in range(inputs) for _ in range(systems)]
    system_ids = [f"s{s}" for _ in range(inputs) for s in range(systems)]
    humans = [tuple(rng.integers(1, 6, size=3).astype(float)) for _ in input_ids]
    mean = np.array([np.mean(h) for h in humans])
    judge = np.clip(np.round(mean + rng.normal(0, 1, len(mean))), 1, 5)
    judge[[3, 50]] = np.nan  # two invalid ratings
    return judge, humans, mean, np.array(input_ids), np.array(system_ids)


def _scipy_levels(judge, mean, inputs, systems, method):
    f = SCIPY[method]
    ok = np.isfinite(judge)
    per_input = [f(judge[(inputs == c) & ok], mean[(inputs == c) & ok])[0] for c in dict.fromkeys(inputs)]
    item = np.mean([v for v in per_input if np.isfinite(v)])
    names = list(dict.fromkeys(systems))
    sx = [judge[(systems == s) & ok].mean() for s in names]
    sy = [mean[(systems == s) & ok].mean() for s in names]
    return item, f(sx, sy)[0], f(judge[ok], mean[ok])[0]


@pytest.mark.parametrize("method", METHODS)
def test_every_level_equals_scipy(method):
    judge, humans, mean, inputs, systems = _data()
    result = score_agreement(list(judge), humans, list(inputs), list(systems), n_resamples=200)
    item, system, pooled = _scipy_levels(judge, mean, inputs, systems, method)
    assert result.figures[f"item_{method}"].estimate == pytest.approx(item, abs=1e-12)
    assert result.figures[f"system_{method}"].estimate == pytest.approx(system, abs=1e-12)
    assert result.figures[f"dataset_{method}"].estimate == pytest.approx(pooled, abs=1e-12)
    assert item_level(judge, mean, inputs, method) == pytest.approx(item, abs=1e-12)
    assert system_level(judge, mean, systems, method) == pytest.approx(system, abs=1e-12)
    assert (result.n, result.n_invalid, result.n_inputs, result.n_systems) == (120, 2, 20, 6)


def test_mae_and_alpha_equal_the_reference_packages():
    judge, humans, mean, inputs, systems = _data(seed=4)
    result = score_agreement(list(judge), humans, list(inputs), list(systems), n_resamples=200)
    ok = np.isfinite(judge)
    assert result.figures["mae"].estimate == pytest.approx(np.mean(np.abs(judge[ok] - mean[ok])), abs=1e-12)
    data = np.array(humans).T
    for level in ALPHA_LEVELS:
        assert result.figures[f"alpha_{level}_humans"].estimate == pytest.approx(
            krippendorff.alpha(data, level_of_measurement=level), abs=1e-12)
        assert result.figures[f"alpha_{level}_with_judge"].estimate == pytest.approx(
            krippendorff.alpha(np.vstack([data, judge]), level_of_measurement=level), abs=1e-12)


@pytest.mark.parametrize("level", ALPHA_LEVELS)
def test_alpha_with_missing_ratings_and_uneven_units(level):
    rng = np.random.default_rng(7)
    table = rng.integers(1, 8, size=(4, 40)).astype(float)
    table[rng.random(table.shape) < 0.3] = np.nan
    ratings = [tuple(v for v in column if np.isfinite(v)) for column in table.T]
    expected = krippendorff.alpha(table, level_of_measurement=level, value_domain=np.arange(1, 8.0))
    assert krippendorff_alpha_scores(ratings, level) == pytest.approx(expected, abs=1e-12)


def test_one_bootstrap_resample_is_the_figures_of_the_drawn_inputs():
    """The interval comes from resampling inputs whole: check one resample by rebuilding its data."""
    judge, humans, mean, inputs, systems = _data(seed=2, inputs=12, systems=5)
    weights = resample_weights(12, n_resamples=5, seed=3)[0].astype(int)
    names = list(dict.fromkeys(inputs))
    pick = np.concatenate([np.nonzero(inputs == names[c])[0] for c in range(12) for _ in range(weights[c])])
    # the drawn copies of one input become separate inputs, as the bootstrap sees them
    copies = np.concatenate([[f"{c}-{k}"] * 5 for c in range(12) for k in range(weights[c])])
    from judgekit.agreement import scores

    x, y = judge, mean
    valid = np.isfinite(x)
    cluster = np.repeat(np.arange(12), 5)
    system = np.tile(np.arange(5), 12)
    for method in METHODS:
        item = scores._item_statistic(x, y, cluster, 12, method)
        sysstat = scores._system_statistic(x, y, valid, cluster, 12, system, 5, method)
        pooled = scores._pooled_statistic(x, y, valid, cluster, 12, method)
        rx, ry = judge[pick], mean[pick]
        want_item, want_system, want_pooled = _scipy_levels(rx, ry, copies, systems[pick], method)
        assert float(item.fn(weights @ item.terms)) == pytest.approx(want_item, abs=1e-9)
        assert float(sysstat.fn(weights @ sysstat.terms)) == pytest.approx(want_system, abs=1e-9)
        assert float(pooled.fn(weights @ pooled.terms)) == pytest.approx(want_pooled, abs=1e-9)
    alpha = scores._alpha_statistic([humans[i] for i in range(60)], cluster, 12, "ordinal")
    drawn = np.array([humans[i] for i in pick]).T
    assert float(alpha.fn(weights @ alpha.terms)) == pytest.approx(
        krippendorff.alpha(drawn, level_of_measurement="ordinal"), abs=1e-9)


def test_intervals_bracket_the_estimate_and_shrink_with_more_inputs():
    small = score_agreement(*_args(_data(seed=5, inputs=10)), n_resamples=300)
    large = score_agreement(*_args(_data(seed=5, inputs=80)), n_resamples=300)
    for name, interval in large.figures.items():
        assert interval.low <= interval.estimate <= interval.high, name
    def width(result):
        return result.figures["dataset_pearson"].high - result.figures["dataset_pearson"].low

    assert width(large) < width(small)


def _args(data):
    judge, humans, _, inputs, systems = data
    return list(judge), humans, list(inputs), list(systems)


def test_correlation_is_undefined_for_constant_or_short_input():
    assert np.isnan(correlation(np.array([3.0, 3.0, 3.0]), np.array([1.0, 2.0, 3.0]), "kendall"))
    assert np.isnan(correlation(np.array([1.0]), np.array([2.0]), "pearson"))
    assert correlation(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]), "spearman") == pytest.approx(-1)


def test_all_invalid_judge_gives_undefined_correlations_not_an_error():
    judge, humans, _, inputs, systems = _data()
    result = score_agreement([None] * len(humans), humans, list(inputs), list(systems), n_resamples=50)
    assert result.n_invalid == len(humans)
    assert np.isnan(result.figures["item_kendall"].estimate)
    assert np.isnan(result.figures["mae"].estimate)
    assert np.isfinite(result.figures["alpha_interval_humans"].estimate)


def test_bad_input_is_named():
    with pytest.raises(BadInput, match="differ in length"):
        score_agreement([1.0], [(1.0,), (2.0,)], ["a"], ["s"])
    with pytest.raises(BadInput, match="method"):
        correlation(np.ones(3), np.ones(3), "cosine")
