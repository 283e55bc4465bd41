"""Label budgets: simulated power equals closed forms where they exist, and the alt-test planner is the alt-test."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_judgekit
from scipy.stats import binom
from statsmodels.stats.proportion import proportion_confint

from judgekit.agreement import alt_test
from judgekit.agreement.plan import (
    alt_test_differences,
    paired_cells,
    plan_above,
    plan_alt_test,
    plan_ci,
    plan_paired,
    simulated_pool,
)
from judgekit.errors import BadInput

SIMULATIONS = 20000
TOLERANCE = 4 * np.sqrt(0.25 / SIMULATIONS)  # four standard errors of a simulated share


def exact_power_above(n: int, accuracy: float, baseline: float, alpha: float) -> float:
    """One-sided exact binomial test: reject when P(K >= k | baseline) <= alpha; power under accuracy."""
    k_crit = next(k for k in range(n + 2) if k == n + 1 or binom.sf(k - 1, n, baseline) <= alpha)
    return float(binom.sf(k_crit - 1, n, accuracy))


@pytest.mark.parametrize("accuracy, baseline", [(0.8, 0.7), (0.65, 0.5), (0.9, 0.85)])
def test_above_equals_the_exact_binomial_power(accuracy, baseline):
    sizes = [20, 50, 100, 200]
    plan = plan_above(accuracy, baseline=baseline, alpha=0.05, sizes=sizes, simulations=SIMULATIONS, seed=1)
    for row in plan.rows:
        assert row.power == pytest.approx(exact_power_above(row.n, accuracy, baseline, 0.05), abs=TOLERANCE)


@pytest.mark.parametrize("accuracy, half_width", [(0.8, 0.05), (0.6, 0.08)])
def test_ci_equals_the_exact_binomial_sum(accuracy, half_width):
    sizes = [50, 150, 250, 400]
    plan = plan_ci(accuracy, half_width=half_width, sizes=sizes, simulations=SIMULATIONS, seed=2)
    for row in plan.rows:
        k = np.arange(row.n + 1)
        low, high = proportion_confint(k, row.n, alpha=0.05, method="wilson")
        exact = binom.pmf(k, row.n, accuracy)[(high - low) / 2 <= half_width].sum()
        assert row.power == pytest.approx(exact, abs=TOLERANCE)


def test_paired_equals_the_exact_mcnemar_power():
    cells = paired_cells(0.8, 0.7, 0.3)
    assert cells.sum() == pytest.approx(1) and cells[0] + cells[1] == pytest.approx(0.8)
    plan = plan_paired(cells, alpha=0.05, sizes=[60, 150], simulations=SIMULATIONS, seed=3)
    discordant = cells[1] + cells[2]
    for row in plan.rows:
        exact = 0.0
        for d in range(1, row.n + 1):
            b = np.arange(d + 1)
            p = np.minimum(1, 2 * binom.cdf(np.minimum(b, d - b), d, 0.5))
            exact += binom.pmf(d, row.n, discordant) * binom.pmf(b, d, cells[1] / discordant)[p < 0.05].sum()
        assert row.power == pytest.approx(exact, abs=TOLERANCE)


def test_alt_test_planner_runs_the_alt_test_on_each_resample():
    """One simulation per plan: its pass/fail is alt_test's on the same drawn items."""
    humans, judge = simulated_pool(annotators=3, annotator_accuracy=0.8, judge_accuracy=0.78, labels=3,
                                   size=3000, seed=5)
    humans[np.random.default_rng(0).random(humans.shape) < 0.2] = -1  # some missing labels
    d = alt_test_differences(humans, judge)
    names = ["h1", "h2", "h3"]
    outcomes = set()
    for seed in range(24):
        plan = plan_alt_test(d, epsilon=0.1, sizes=[120], simulations=1, seed=seed)
        idx = np.random.default_rng(seed).integers(0, len(d), size=(1, 120))[0]
        frame = pd.DataFrame(humans[idx], columns=names).astype(object).where(humans[idx] >= 0, None)
        result = alt_test(frame, pd.DataFrame({"j": judge[idx].astype(object)}), epsilon=0.1)
        assert plan.rows[0].power == float(result.candidates["j"].passed)
        outcomes.add(result.candidates["j"].passed)
    assert outcomes == {True, False}  # the case is on the edge, so both happen


def test_alt_test_power_grows_with_items_and_is_seeded():
    humans, judge = simulated_pool(annotators=3, annotator_accuracy=0.85, judge_accuracy=0.82, labels=3)
    d = alt_test_differences(humans, judge)
    plan = plan_alt_test(d, epsilon=0.15, sizes=[20, 60, 200, 600], simulations=150, seed=0)
    powers = [r.power for r in plan.rows]
    assert powers[0] == 0.0  # below --min-items no annotator is tested
    assert powers[-1] > 0.8 and powers[-1] >= powers[1]
    assert plan_alt_test(d, epsilon=0.15, sizes=[20, 60, 200, 600], simulations=150, seed=0) == plan


def test_cli_tables_and_json(monkeypatch, capsys):
    code, out, err = run_judgekit(monkeypatch, capsys, "plan", "above", "--accuracy", "0.8", "--baseline", "0.7",
                                  "--sizes", "50,100,200", "--simulations", "500", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert [r["n"] for r in doc["rows"]] == [50, 100, 200] and doc["seed"] == 0 and doc["simulations"] == 500
    assert doc["needed"] == next((r["n"] for r in doc["rows"] if r["power"] >= 0.8), None)
    code, out, err = run_judgekit(monkeypatch, capsys, "plan", "alt-test", "--annotators", "3",
                                  "--annotator-accuracy", "0.85", "--judge-accuracy", "0.8", "--sizes", "40,200",
                                  "--simulations", "50")
    assert code == 0 and "pass the alt-test" in out and "needed for 80% power" in out


@pytest.mark.parametrize("args, message", [
    (["plan", "ci", "--half-width", "0.7"], "--half-width: 0.7"),
    (["plan", "above", "--baseline", "0.7", "--sizes", "10,x"], "--sizes: '10,x'"),
    (["plan", "paired", "--accuracy", "0.9", "--accuracy-2", "0.2", "--correlation", "0.9"], "--correlation: 0.9"),
    (["plan", "paired", "--pilot", "a"], "--pilot: give exactly two runs"),
])
def test_cli_bad_input(monkeypatch, capsys, args, message):
    code, out, err = run_judgekit(monkeypatch, capsys, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_simulated_pool_has_the_stated_accuracies():
    humans, judge = simulated_pool(annotators=4, annotator_accuracy=0.7, judge_accuracy=0.6, labels=3, seed=1)
    # Agreement of two independent raters with accuracy a over K labels: a^2 + (1-a)^2/(K-1).
    agree = np.mean(humans[:, 0] == humans[:, 1])
    assert agree == pytest.approx(0.7 ** 2 + 0.3 ** 2 / 2, abs=0.015)
    assert np.mean(judge == humans[:, 2]) == pytest.approx(0.7 * 0.6 + 0.3 * 0.4 / 2, abs=0.015)
    with pytest.raises(BadInput, match="--annotators: 1"):
        simulated_pool(annotators=1, annotator_accuracy=0.7, judge_accuracy=0.6)
