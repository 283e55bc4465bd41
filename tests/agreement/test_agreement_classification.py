"""Classifier-judge agreement: every figure against scikit-learn, statsmodels and krippendorff."""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    matthews_corrcoef,
    precision_recall_fscore_support,
)
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

from judgekit.agreement.classification import (
    classification_agreement,
    multi_annotator_summary,
)
from judgekit.agreement.uncertainty import (
    bootstrap_ci,
    cluster_codes,
    mean_statistic,
    resample_weights,
)
from judgekit.errors import BadInput

BINARY = ("fail", "pass")
HUMAN = ["pass", "pass", "fail", "pass", "fail", "fail", "pass", "pass", "fail", "pass"]
JUDGE = ["pass", None, "fail", "fail", "pass", None, "pass", "pass", "fail", "pass"]
# valid items: 0 2 3 4 6 7 8 9 -> right on 0 2 6 7 8 9 (6 of 8); item 1 (pass) and 5 (fail) invalid


def _sentinel(judge):
    return ["invalid" if v is None else v for v in judge]


def _sklearn_figures(human, pred, labels):
    """The reference figures on plain label arrays (None for sklearn's NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true" for the sentinel
        precision, recall, f1, support = precision_recall_fscore_support(
            human, pred, labels=list(labels), zero_division=np.nan
        )
        kappa = cohen_kappa_score(human, pred)
        return {
            "accuracy": accuracy_score(human, pred),
            "balanced_accuracy": balanced_accuracy_score(human, pred),
            "mcc": matthews_corrcoef(human, pred),
            "cohen_kappa": None if np.isnan(kappa) else kappa,
            "per_class": {
                label: {
                    "precision": None if np.isnan(precision[c]) else precision[c],
                    "recall": None if np.isnan(recall[c]) else recall[c],
                    "f1": None if np.isnan(f1[c]) else f1[c],
                    "support": int(support[c]),
                }
                for c, label in enumerate(labels)
            },
        }


def _assert_matches_sklearn(result, human, pred, labels, *, check_accuracy=True):
    ref = _sklearn_figures(human, pred, labels)
    if check_accuracy:
        assert result.accuracy.estimate == pytest.approx(ref["accuracy"])
    assert result.balanced_accuracy.estimate == pytest.approx(ref["balanced_accuracy"])
    assert result.cohen_kappa.estimate == pytest.approx(ref["cohen_kappa"])
    assert result.mcc.estimate == pytest.approx(ref["mcc"])
    for label in labels:
        for key in ("precision", "recall", "f1", "support"):
            assert result.per_class[label][key] == pytest.approx(ref["per_class"][label][key]), (label, key)


def test_binary_wrong_policy_matches_sklearn_with_an_invalid_category():
    result = classification_agreement(HUMAN, JUDGE, labels=BINARY, positive_label="pass")
    pred = _sentinel(JUDGE)
    assert result.n == 10 and result.n_invalid == 2 and result.invalid_rate == pytest.approx(0.2)
    assert result.confusion == confusion_matrix(HUMAN, pred, labels=[*BINARY, "invalid"])[:2].tolist()
    assert result.confusion == [[2, 1, 1], [1, 4, 1]]
    assert result.accuracy.estimate == pytest.approx(6 / 10)
    _assert_matches_sklearn(result, HUMAN, pred, BINARY)
    low, high = proportion_confint(6, 10, alpha=0.05, method="wilson")
    assert (result.accuracy.low, result.accuracy.high) == pytest.approx((low, high))
    assert result.tpr == pytest.approx(4 / 6) and result.tnr == pytest.approx(2 / 4)
    assert result.base_rate_human == pytest.approx({"fail": 0.4, "pass": 0.6})
    assert result.base_rate_judge == pytest.approx({"fail": 0.3, "pass": 0.5, "invalid": 0.2})


def test_binary_exclude_drops_invalid_items_from_every_figure():
    result = classification_agreement(HUMAN, JUDGE, labels=BINARY, positive_label="pass", invalid="exclude")
    valid = [i for i, v in enumerate(JUDGE) if v is not None]
    human, pred = [HUMAN[i] for i in valid], [JUDGE[i] for i in valid]
    assert result.accuracy.estimate == pytest.approx(6 / 8)
    _assert_matches_sklearn(result, human, pred, BINARY)
    low, high = proportion_confint(6, 8, alpha=0.05, method="wilson")
    assert (result.accuracy.low, result.accuracy.high) == pytest.approx((low, high))
    assert result.confusion == [[2, 1, 1], [1, 4, 1]]  # the table still shows every item
    assert result.tpr == pytest.approx(4 / 5)


@pytest.mark.parametrize(("policy", "credit"), [("half", 0.5), ("coin", 0.5)])
def test_binary_half_and_coin_change_accuracy_only(policy, credit):
    wrong = classification_agreement(HUMAN, JUDGE, labels=BINARY)
    result = classification_agreement(HUMAN, JUDGE, labels=BINARY, invalid=policy)
    count = 6 + 2 * credit
    assert result.accuracy.estimate == pytest.approx(count / 10)
    low, high = proportion_confint(count, 10, alpha=0.05, method="wilson")
    assert (result.accuracy.low, result.accuracy.high) == pytest.approx((low, high))
    _assert_matches_sklearn(result, HUMAN, _sentinel(JUDGE), BINARY, check_accuracy=False)
    assert result.cohen_kappa == wrong.cohen_kappa and result.mcc == wrong.mcc


CATS = ("harmful", "borderline", "safe")


def test_three_labels_match_sklearn_under_each_policy():
    rng = np.random.default_rng(7)
    human = rng.choice(CATS, 120, p=[0.2, 0.3, 0.5]).tolist()
    judge = [h if rng.random() < 0.6 else str(rng.choice(CATS)) for h in human]
    for i in rng.choice(120, 9, replace=False):
        judge[i] = None
    wrong = classification_agreement(human, judge, labels=CATS)
    _assert_matches_sklearn(wrong, human, _sentinel(judge), CATS)
    assert np.array(wrong.confusion).shape == (3, 4)
    assert wrong.tpr is None and wrong.tnr is None  # not a binary set
    valid = [i for i, v in enumerate(judge) if v is not None]
    excluded = classification_agreement(human, judge, labels=CATS, invalid="exclude")
    _assert_matches_sklearn(excluded, [human[i] for i in valid], [judge[i] for i in valid], CATS)
    right = sum(h == p for h, p in zip(human, judge, strict=True))
    coin = classification_agreement(human, judge, labels=CATS, invalid="coin")
    assert coin.accuracy.estimate == pytest.approx((right + 9 / 3) / 120)
    half = classification_agreement(human, judge, labels=CATS, invalid="half")
    assert half.accuracy.estimate == pytest.approx((right + 9 / 2) / 120)
    assert coin.balanced_accuracy == wrong.balanced_accuracy == half.balanced_accuracy


def test_constant_majority_judge_has_high_accuracy_and_no_skill():
    human = ["pass"] * 80 + ["fail"] * 20
    judge = ["pass"] * 100
    result = classification_agreement(human, judge, labels=BINARY, positive_label="pass")
    assert result.accuracy.estimate == pytest.approx(0.8) == result.base_rate_human["pass"]
    assert result.base_rate_judge == {"fail": 0.0, "pass": 1.0}
    assert result.balanced_accuracy.estimate == pytest.approx(0.5) == balanced_accuracy_score(human, judge)
    assert result.cohen_kappa.estimate == pytest.approx(0.0) == cohen_kappa_score(human, judge)
    assert result.mcc is None and matthews_corrcoef(human, judge) == 0.0  # sklearn's 0 means undefined here
    assert (result.tpr, result.tnr) == (1.0, 0.0)
    assert result.per_class["fail"]["precision"] is None and result.per_class["fail"]["f1"] == 0.0
    assert result.confusion == [[0, 20], [0, 80]]  # no invalid column without invalid verdicts


def test_unknown_labels_and_bad_options_raise_naming_the_value():
    with pytest.raises(BadInput, match=r"human\[2\].*'maybe'"):
        classification_agreement(["pass", "fail", "maybe"], ["pass", "fail", "pass"], labels=BINARY)
    with pytest.raises(BadInput, match=r"judge\[1\].*'PASS'"):
        classification_agreement(["pass", "fail"], ["pass", "PASS"], labels=BINARY)
    with pytest.raises(BadInput, match="positive_label"):
        classification_agreement(HUMAN, JUDGE, labels=BINARY, positive_label="yes")
    with pytest.raises(BadInput, match="policy"):
        classification_agreement(HUMAN, JUDGE, labels=BINARY, invalid="llmbar")
    with pytest.raises(BadInput, match="invalid"):
        classification_agreement(["valid"], ["invalid"], labels=("valid", "invalid"))
    with pytest.raises(BadInput, match="items"):
        classification_agreement(HUMAN, JUDGE[:-1], labels=BINARY)


def test_items_without_a_human_label_are_left_out():
    human = [*HUMAN, None, None]
    result = classification_agreement(human, [*JUDGE, "pass", None], labels=BINARY)
    assert result.n == 10 and result.n_invalid == 2
    assert result == classification_agreement(HUMAN, JUDGE, labels=BINARY)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_random_data_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = tuple(f"l{c}" for c in range(int(rng.integers(2, 5))))
    n = 300
    human = rng.choice(labels, n).tolist()
    judge = [h if rng.random() < 0.55 else str(rng.choice(labels)) for h in human]
    for i in np.flatnonzero(rng.random(n) < 0.1):
        judge[i] = None
    result = classification_agreement(human, judge, labels=labels, n_resamples=300, seed=seed)
    pred = _sentinel(judge)
    _assert_matches_sklearn(result, human, pred, labels)
    assert np.array(result.confusion).tolist() == confusion_matrix(human, pred, labels=[*labels, "invalid"])[
        : len(labels)
    ].tolist()
    for interval in (result.accuracy, result.balanced_accuracy, result.mcc, result.cohen_kappa):
        assert interval.low <= interval.estimate <= interval.high
        assert interval.high - interval.low > 0.01


def test_bootstrap_intervals_are_sklearn_figures_of_resampled_items():
    rng = np.random.default_rng(11)
    n, b = 200, 200
    human = rng.choice(CATS, n).tolist()
    judge = [h if rng.random() < 0.6 else str(rng.choice(CATS)) for h in human]
    result = classification_agreement(human, judge, labels=CATS, n_resamples=b, seed=5, confidence=0.9)
    weights = resample_weights(n, n_resamples=b, seed=5)
    for name, metric in [("balanced_accuracy", balanced_accuracy_score), ("mcc", matthews_corrcoef),
                         ("cohen_kappa", cohen_kappa_score)]:
        values = [metric(human, judge, sample_weight=weights[r]) for r in range(b)]
        low, high = np.quantile(values, [0.05, 0.95])
        interval = getattr(result, name)
        assert (interval.low, interval.high) == pytest.approx((low, high), abs=1e-6), name


def test_clusters_give_a_cluster_bootstrap_accuracy_interval():
    rng = np.random.default_rng(3)
    human = rng.choice(BINARY, 150).tolist()
    judge = [h if rng.random() < 0.7 else None for h in human]
    clusters = cluster_codes([i // 5 for i in range(150)])
    result = classification_agreement(human, judge, labels=BINARY, clusters=clusters, n_resamples=400)
    right = np.array([h == p for h, p in zip(human, judge, strict=True)], dtype=float)
    expected = bootstrap_ci(mean_statistic(right), n_resamples=400, clusters=clusters)
    assert result.accuracy == pytest.approx(expected)
    wilson = classification_agreement(human, judge, labels=BINARY, n_resamples=400).accuracy
    assert wilson.estimate == pytest.approx(result.accuracy.estimate)
    assert (wilson.low, wilson.high) != pytest.approx((result.accuracy.low, result.accuracy.high))


# three annotators, five items; item 3 ties (no vs yes, one missing)
YN = ("no", "yes")
VOTES = [
    ["yes", "yes", "no", "no", "yes"],
    ["yes", "no", "no", None, "yes"],
    ["yes", "yes", "yes", "yes", "no"],
]
JUDGE_YN = ["yes", "yes", "no", "yes", None]


def test_multi_annotator_summary_by_hand_and_against_references():
    summary = multi_annotator_summary(VOTES, JUDGE_YN, labels=YN, n_resamples=200)
    assert (summary.n_items, summary.n_annotators, summary.majority_skipped) == (5, 3, 1)
    assert summary.judge_vs_majority.n == 4
    assert summary.judge_vs_majority.accuracy.estimate == pytest.approx(3 / 4)
    for j, row in enumerate(VOTES):
        both = [i for i, v in enumerate(row) if v is not None]
        human, pred = [row[i] for i in both], _sentinel([JUDGE_YN[i] for i in both])
        versus = summary.judge_vs_annotator[j]
        assert versus.accuracy.estimate == pytest.approx(accuracy_score(human, pred))
        assert versus.cohen_kappa.estimate == pytest.approx(cohen_kappa_score(human, pred))
    complete = np.array([[{"no": 0, "yes": 1}[row[i]] for row in VOTES] for i in (0, 1, 2, 4)])
    assert summary.fleiss_items == 4
    assert summary.fleiss_kappa == pytest.approx(sm_fleiss_kappa(aggregate_raters(complete)[0], method="fleiss"))
    coded = {"no": 7.0, "yes": 3.0, None: np.nan}  # nominal alpha ignores the coding
    humans = np.array([[coded[v] for v in row] for row in VOTES])
    with_judge = np.vstack([humans, [coded[v] for v in JUDGE_YN]])
    assert summary.alpha_humans == pytest.approx(krippendorff.alpha(humans, level_of_measurement="nominal"))
    assert summary.alpha_humans_and_judge == pytest.approx(
        krippendorff.alpha(with_judge, level_of_measurement="nominal")
    )
    assert summary.alpha_humans_and_judge != pytest.approx(summary.alpha_humans)
    # leave-one-out: annotators 1/2, 1/2, 1/4 against the others' majority; the judge 1, 1, 2/4
    assert summary.loo_human_accuracy == pytest.approx((0.5 + 0.5 + 0.25) / 3)
    assert summary.loo_judge_accuracy == pytest.approx((1 + 1 + 0.5) / 3)
    excluded = multi_annotator_summary(VOTES, JUDGE_YN, labels=YN, invalid="exclude", n_resamples=200)
    assert excluded.loo_judge_accuracy == pytest.approx((1 + 1 + 2 / 3) / 3)


def test_multi_annotator_summary_random_fleiss_and_alpha():
    rng = np.random.default_rng(21)
    truth = rng.choice(CATS, 80)
    votes = [[t if rng.random() < 0.7 else str(rng.choice(CATS)) for t in truth] for _ in range(4)]
    for row in votes:
        for i in rng.choice(80, 6, replace=False):
            row[i] = None
    judge = [t if rng.random() < 0.6 else str(rng.choice(CATS)) for t in truth]
    summary = multi_annotator_summary(votes, judge, labels=CATS, n_resamples=100)
    codes = np.array([[np.nan if v is None else CATS.index(v) for v in row] for row in votes])
    complete = codes[:, ~np.isnan(codes).any(axis=0)].T.astype(int)
    assert summary.fleiss_items == len(complete) < 80
    assert summary.fleiss_kappa == pytest.approx(sm_fleiss_kappa(aggregate_raters(complete)[0], method="fleiss"))
    assert summary.alpha_humans == pytest.approx(krippendorff.alpha(codes, level_of_measurement="nominal"))
    assert 0 < summary.loo_judge_accuracy < summary.loo_human_accuracy < 1


def test_multi_annotator_summary_rejects_unknown_labels_and_ragged_votes():
    with pytest.raises(BadInput, match=r"votes\[1\]\[0\].*'maybe'|votes\[1\].*'maybe'"):
        multi_annotator_summary([["yes"], ["maybe"]], ["yes"], labels=YN)
    with pytest.raises(BadInput, match=r"votes\[0\]"):
        multi_annotator_summary([["yes", "no"]], ["yes"], labels=YN)


def test_a_label_humans_never_use_leaves_balanced_accuracy_as_sklearn_does():
    # nobody labelled "borderline": its recall is undefined and does not count, its precision is 0
    human = ["harmful", "safe", "safe", "harmful", "safe", "safe", "harmful", "safe"]
    judge = ["harmful", "borderline", "safe", "borderline", "safe", "harmful", "harmful", "safe"]
    result = classification_agreement(human, judge, labels=CATS)
    _assert_matches_sklearn(result, human, judge, CATS)
    assert result.balanced_accuracy.estimate == pytest.approx((2 / 3 + 3 / 5) / 2)
    assert result.per_class["borderline"] == {"precision": 0.0, "recall": None, "f1": 0.0, "support": 0}


def test_clusters_follow_the_items_that_keep_a_human_label():
    human = [*HUMAN, None, *HUMAN]
    judge = [*JUDGE, "pass", *JUDGE]
    keys = [*range(10), 99, *range(10)]  # item i and item 11 + i share a cluster
    result = classification_agreement(human, judge, labels=BINARY, clusters=cluster_codes(keys))
    kept = [k for k, h in zip(keys, human, strict=True) if h is not None]
    expected = classification_agreement([*HUMAN, *HUMAN], [*JUDGE, *JUDGE], labels=BINARY,
                                        clusters=cluster_codes(kept))
    assert result == expected and result.n == 20
