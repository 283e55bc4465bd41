"""Multi-rater reliability against published worked examples and the reference libraries."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from judgekit.agreement import (
    fleiss_kappa,
    human_ceiling,
    krippendorff_alpha,
    majority_label,
    pairwise_cohen_kappas,
    rater_agreement,
    rater_vs_gold,
)
from judgekit.errors import BadInput

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers,
# 12 units, values 1..5, None = not rated. Published: nominal .743, ordinal .815,
# interval .849.
KRIPPENDORFF_2011 = pd.DataFrame(
    {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    },
    dtype=object,
)

# Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, counts per
# category 1..5; kappa = 0.210.
FLEISS_COUNTS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def _random_ratings(seed: int, n: int = 200, raters: int = 4, missing: float = 0.1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = rng.choice(["a", "b", "tie"], n, p=[0.45, 0.4, 0.15])
    columns = {}
    for j in range(raters):
        noise = rng.choice(["a", "b", "tie"], n)
        col = np.where(rng.random(n) < 0.75, truth, noise).astype(object)
        col[rng.random(n) < missing] = None
        columns[f"r{j}"] = col
    return pd.DataFrame(columns)


@pytest.mark.parametrize(("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_published_example(level, published):
    assert krippendorff_alpha(KRIPPENDORFF_2011, level=level) == pytest.approx(published, abs=5e-4)


def test_fleiss_published_example():
    # Expand the count table into one column per rater (rater j gets the j-th vote).
    rows = [np.repeat(np.arange(1, 6), counts) for counts in FLEISS_COUNTS]
    ratings = pd.DataFrame(rows, columns=[f"r{j}" for j in range(14)])
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa(ratings) == pytest.approx(sm_fleiss(FLEISS_COUNTS))


@pytest.mark.parametrize("seed", [0, 1])
def test_fleiss_uses_complete_items_like_statsmodels(seed):
    ratings = _random_ratings(seed)
    complete = ratings.dropna()
    assert len(complete) < len(ratings)
    codes = complete.replace({"a": 0, "b": 1, "tie": 2}).to_numpy(dtype=int)
    table, _ = aggregate_raters(codes, n_cat=3)
    assert fleiss_kappa(ratings, labels=["a", "b", "tie"]) == pytest.approx(sm_fleiss(table))


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_matches_krippendorff_with_declared_order(level):
    ratings = _random_ratings(3)
    order = ["b", "tie", "a"]  # declared order gives the ordinal/interval values 0, 1, 2
    values = ratings.replace({"b": 0, "tie": 1, "a": 2}).to_numpy(dtype=float).T
    expected = krippendorff.alpha(values, level_of_measurement=level, value_domain=[0, 1, 2])
    assert krippendorff_alpha(ratings, level=level, labels=order) == pytest.approx(expected)


def test_alpha_interval_uses_numeric_label_values():
    ratings = pd.DataFrame({"x": ["1", "2", "5", "5"], "y": ["1", "3", "5", None]})
    expected = krippendorff.alpha(np.array([[1, 2, 5, 5], [1, 3, 5, np.nan]]), level_of_measurement="interval")
    assert krippendorff_alpha(ratings, level="interval") == pytest.approx(expected)


def test_pairwise_and_vs_gold_match_sklearn():
    ratings = _random_ratings(4, raters=3)
    kappas = pairwise_cohen_kappas(ratings)
    assert list(kappas) == ["r0|r1", "r0|r2", "r1|r2"]
    both = ratings[["r0", "r2"]].dropna()
    assert kappas["r0|r2"] == pytest.approx(cohen_kappa_score(both.r0, both.r2))
    gold = majority_label(ratings)
    vs = rater_vs_gold(ratings, gold)
    mask = ratings.r1.notna() & pd.Series(gold).notna()
    assert vs["r1"].n == mask.sum()
    assert vs["r1"].accuracy == pytest.approx(np.mean(ratings.r1[mask] == pd.Series(gold)[mask]))
    assert vs["r1"].cohen_kappa == pytest.approx(cohen_kappa_score(ratings.r1[mask], pd.Series(gold)[mask].astype(str)))


def test_perfect_agreement_and_symmetry():
    same = pd.DataFrame({"x": ["a", "b", "tie", "a"], "y": ["a", "b", "tie", "a"], "z": ["a", "b", "tie", "a"]})
    assert fleiss_kappa(same) == pytest.approx(1.0)
    assert krippendorff_alpha(same) == pytest.approx(1.0)
    assert pairwise_cohen_kappas(same) == pytest.approx({"x|y": 1.0, "x|z": 1.0, "y|z": 1.0})
    ratings = _random_ratings(5, raters=2)
    swapped = pairwise_cohen_kappas(ratings[["r1", "r0"]])["r1|r0"]
    assert pairwise_cohen_kappas(ratings)["r0|r1"] == pytest.approx(swapped)


def test_ceiling_by_hand():
    # Three raters, 4 items. Leave-one-out majorities of the other two need both to agree:
    # x vs maj(y,z): items 0,1,3 have y==z -> a,b,a; x says a,b,b -> 2/3.
    # y vs maj(x,z): items 0,1,2 -> a,b,tie; y says a,b,a -> 2/3.
    # z vs maj(x,y): items 0,1 -> a,b; z says a,b -> 2/2.  Pooled: 6/8.
    ratings = pd.DataFrame({"x": ["a", "b", "tie", "b"], "y": ["a", "b", "a", "a"], "z": ["a", "b", "tie", "a"]})
    ceiling = human_ceiling(ratings)
    assert ceiling.leave_one_out_accuracy == pytest.approx(6 / 8)
    assert ceiling.mean_pairwise_kappa == pytest.approx(np.mean(list(pairwise_cohen_kappas(ratings).values())))
    assert majority_label(ratings) == ["a", "b", "tie", "a"]


def test_rater_agreement_splits_gold_from_raters():
    ratings = _random_ratings(6, raters=3).assign(gold=lambda d: majority_label(d))
    result = rater_agreement(ratings, gold="gold", level="ordinal", labels=["a", "tie", "b"])
    assert result.raters == ("r0", "r1", "r2")
    assert set(result.vs_gold) == {"r0", "r1", "r2"}
    assert result.fleiss_kappa == pytest.approx(fleiss_kappa(ratings[["r0", "r1", "r2"]], labels=["a", "tie", "b"]))


def test_undeclared_label_is_named():
    ratings = pd.DataFrame({"x": ["a", "b"], "y": ["a", "maybe"]})
    with pytest.raises(BadInput, match="row 2, column 'y': label 'maybe' is not one of a, b, tie"):
        fleiss_kappa(ratings, labels=["a", "b", "tie"])
