"""Pairwise metrics: hand-worked cases, invariants, and the reference libraries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa

from judgekit.agreement import (
    accuracy,
    accuracy_both_orders,
    cohen_kappa,
    compare_judges,
    invalid_rate,
    pairwise_summary,
    positional_agreement,
    tie_rate,
)
from judgekit.errors import BadInput

GOLD = ["a", "b", "a", "b", "a", "b"]
FIRST = ["a", "a", None, "b", "a", "tie"]
SECOND = ["a", "b", None, "a", "b", "b"]


def _random_judge(seed: int, n: int = 400, invalid: float = 0.08):
    rng = np.random.default_rng(seed)
    gold = rng.choice(["a", "b", "tie"], n, p=[0.45, 0.45, 0.1])
    noisy = rng.choice(["a", "b", "tie"], n, p=[0.4, 0.4, 0.2])
    pred = np.where(rng.random(n) < 0.7, gold, noisy).astype(object)
    pred[rng.random(n) < invalid] = None
    return gold, pred


def test_accuracy_policies_by_hand():
    # first order: right on items 0, 3, 4; item 2 invalid; 6 items.
    assert accuracy(GOLD, FIRST) == pytest.approx(3 / 6)  # wrong
    assert accuracy(GOLD, FIRST, invalid="llmbar") == pytest.approx(3 / 6)
    assert accuracy(GOLD, FIRST, invalid="exclude") == pytest.approx(3 / 5)
    assert accuracy(GOLD, FIRST, invalid="half") == pytest.approx(3.5 / 6)
    coin = accuracy(GOLD, FIRST, invalid="coin", seed=3)
    assert coin in (pytest.approx(3 / 6), pytest.approx(4 / 6))
    assert coin == accuracy(GOLD, FIRST, invalid="coin", seed=3)


def test_half_is_the_coin_expectation():
    gold, pred = _random_judge(0)
    coins = [accuracy(gold, pred, invalid="coin", seed=s) for s in range(400)]
    assert np.mean(coins) == pytest.approx(accuracy(gold, pred, invalid="half"), abs=0.003)


def test_both_orders_and_positional_agreement_by_hand():
    # both right: items 0 and 3? item 3 second says a (wrong) -> only item 0.
    assert accuracy_both_orders(GOLD, FIRST, SECOND) == pytest.approx(1 / 6)
    # same winner: items 0 only among valid; item 2 is invalid in both orders.
    assert positional_agreement(FIRST, SECOND) == pytest.approx(1 / 6)
    assert positional_agreement(FIRST, SECOND, invalid_agree=True) == pytest.approx(2 / 6)
    assert invalid_rate(FIRST) == pytest.approx(1 / 6)
    assert tie_rate(FIRST) == pytest.approx(1 / 6)


def test_summary_matches_the_plain_functions():
    summary = pairwise_summary(GOLD, FIRST, SECOND, invalid="llmbar")
    # LLMBar Acc = (correct_False + correct_True) / 2 = (3/6 + 3/6) / 2.
    assert summary.accuracy.estimate == pytest.approx((3 / 6 + 3 / 6) / 2)
    assert summary.accuracy_first_order.estimate == pytest.approx(accuracy(GOLD, FIRST))
    assert summary.accuracy_second_order.estimate == pytest.approx(accuracy(GOLD, SECOND))
    assert summary.positional_agreement.estimate == pytest.approx(2 / 6)
    assert summary.invalid_rate.estimate == pytest.approx(2 / 12)
    assert summary.tie_rate.estimate == pytest.approx(1 / 12)
    expected_kappa = (cohen_kappa(GOLD, FIRST) + cohen_kappa(GOLD, SECOND)) / 2
    assert summary.cohen_kappa.estimate == pytest.approx(expected_kappa)
    assert summary.accuracy_final is None


def test_summary_single_order_leaves_order_fields_empty():
    summary = pairwise_summary(GOLD, FIRST)
    assert summary.accuracy == summary.accuracy_first_order
    assert summary.accuracy_second_order is None and summary.positional_agreement is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kappa_matches_sklearn_and_statsmodels_with_invalid_as_a_category(seed):
    gold, pred = _random_judge(seed)
    named = np.where(pd.isna(pred), "invalid", pred)
    ours = cohen_kappa(gold, pred)
    assert ours == pytest.approx(cohen_kappa_score(gold, named))
    labels = ["a", "b", "tie", "invalid"]
    table = np.array([[np.sum((gold == r) & (named == c)) for c in labels] for r in labels])
    assert ours == pytest.approx(sm_cohens_kappa(table).kappa)


def test_kappa_exclude_and_half_match_sklearn():
    gold, pred = _random_judge(5)
    valid = ~pd.isna(pred)
    excluded = cohen_kappa_score(gold[valid], pred[valid].astype(str))
    assert cohen_kappa(gold, pred, invalid="exclude") == pytest.approx(excluded)
    # half: each invalid item becomes half an "a" vote and half a "b" vote.
    bad = ~valid
    y_true = np.concatenate([gold[valid], gold[bad], gold[bad]])
    y_pred = np.concatenate([pred[valid].astype(str), ["a"] * bad.sum(), ["b"] * bad.sum()])
    weights = np.concatenate([np.ones(valid.sum()), np.full(2 * bad.sum(), 0.5)])
    half = cohen_kappa_score(y_true, y_pred, sample_weight=weights)
    assert cohen_kappa(gold, pred, invalid="half") == pytest.approx(half)


def test_kappa_by_hand():
    # p_o = 3/4; gold marginals a 1/2, b 1/2; judge a 1/4, b 3/4;
    # p_e = 1/2 * 1/4 + 1/2 * 3/4 = 1/2; kappa = (3/4 - 1/2) / (1 - 1/2) = 1/2.
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "b", "b", "b"]) == pytest.approx(0.5)
    # An invalid verdict is its own category: p_o = 2/4; judge a 2/4, b 1/4, invalid 1/4;
    # p_e = 1/2 * 2/4 + 1/2 * 1/4 = 3/8; kappa = (1/2 - 3/8) / (5/8) = 1/5.
    assert cohen_kappa(["a", "a", "b", "b"], ["a", None, "b", "a"]) == pytest.approx(0.2)


def test_kappa_invariants():
    gold, pred = _random_judge(7, invalid=0)
    assert cohen_kappa(gold, gold) == pytest.approx(1.0)
    # Symmetric: swapping the raters' roles leaves kappa unchanged.
    assert cohen_kappa(gold, pred) == pytest.approx(cohen_kappa(pred, gold))
    # Constant on the same label on both sides: chance agreement is 1, kappa undefined.
    assert np.isnan(cohen_kappa(["a", "a"], ["a", "a"]))


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    gold, pred = _random_judge(9)
    one = pairwise_summary(gold, pred, pred[::-1], seed=4)
    two = pairwise_summary(gold, pred, pred[::-1], seed=4)
    other = pairwise_summary(gold, pred, pred[::-1], seed=5)
    assert one == two
    assert one.accuracy != other.accuracy
    for interval in (one.accuracy, one.cohen_kappa, one.positional_agreement, one.tie_rate):
        assert interval.low <= interval.estimate <= interval.high
        assert interval.low < interval.high


def test_compare_judges_difference_and_mcnemar():
    gold, better = _random_judge(11, invalid=0.0)
    _, worse = _random_judge(12, invalid=0.3)
    result = compare_judges(gold, [better], [worse])
    diff = accuracy(gold, better) - accuracy(gold, worse)
    assert result.accuracy_difference.estimate == pytest.approx(diff)
    assert result.accuracy_difference.low > 0
    assert result.test.name == "McNemar exact" and result.test.p_value < 0.01
    same = compare_judges(gold, [better], [better])
    assert same.accuracy_difference.estimate == 0 and same.test.p_value == 1.0


def test_bad_labels_and_lengths_are_named():
    with pytest.raises(BadInput, match=r"pred\[1\]: winner 'c'"):
        accuracy(["a", "b"], ["a", "c"])
    with pytest.raises(BadInput, match="pred: has 1 items but reference has 2"):
        accuracy(["a", "b"], ["a"])
    with pytest.raises(BadInput, match="gold\\[0\\]: gold label is missing"):
        accuracy([None, "b"], ["a", "b"])
    with pytest.raises(BadInput, match="policy 'sometimes'"):
        accuracy(["a"], ["a"], invalid="sometimes")

