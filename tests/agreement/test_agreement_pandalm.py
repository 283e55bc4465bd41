"""PandaLM (3 human annotators, two recorded judges): our figures equal the libraries'."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from judgekit.agreement import (
    cohen_kappa,
    fleiss_kappa,
    human_ceiling,
    krippendorff_alpha,
    majority_label,
    pairwise_summary,
    proportion_ci,
)

HUMAN = {0: "tie", 1: "a", 2: "b"}
GPT = {"1": "a", "2": "b", "Tie": "tie", "garbage": None}
ANNOTATORS = ["annotator1", "annotator2", "annotator3"]


@pytest.fixture
def pandalm(data_dir):
    folder = data_dir / "pandalm" / "data"
    humans = pd.DataFrame(json.loads((folder / "testset-v1.json").read_text()))
    gpt = json.loads((folder / "gpt-3.5-turbo-testset-v1.json").read_text())
    panda = json.loads((folder / "pandalm-7b-testset-v1.json").read_text())
    assert list(humans.idx) == [r["idx"] for r in gpt] == [r["idx"] for r in panda]
    votes = humans[ANNOTATORS].replace(HUMAN).astype(object)
    return {
        "votes": votes,
        "raw": humans[ANNOTATORS].to_numpy(dtype=int),
        "gpt-3.5-turbo": np.array([GPT[r["gpt_result"]] for r in gpt], dtype=object),
        "pandalm-7b": np.array([HUMAN[r["pandalm_result"]] for r in panda], dtype=object),
    }


def test_human_agreement_equals_statsmodels_and_krippendorff(pandalm):
    raw = pandalm["raw"]
    table, _ = aggregate_raters(raw, n_cat=3)
    assert fleiss_kappa(pandalm["votes"]) == pytest.approx(sm_fleiss(table))
    assert krippendorff_alpha(pandalm["votes"]) == pytest.approx(
        krippendorff.alpha(raw.T.astype(float), level_of_measurement="nominal")
    )
    # The upstream filtering toward agreement (PROVENANCE.md) shows: kappa ~0.86.
    assert 0.8 < fleiss_kappa(pandalm["votes"]) < 0.9
    ceiling = human_ceiling(pandalm["votes"])
    assert ceiling.mean_pairwise_kappa == pytest.approx(
        np.mean([cohen_kappa_score(raw[:, i], raw[:, j]) for i, j in [(0, 1), (0, 2), (1, 2)]])
    )


@pytest.mark.parametrize("judge", ["gpt-3.5-turbo", "pandalm-7b"])
def test_judges_vs_human_majority_equal_sklearn(pandalm, judge):
    gold = np.array(majority_label(pandalm["votes"]), dtype=object)
    assert not any(g is None for g in gold)  # no three-way splits in PandaLM
    pred = pandalm[judge]
    named = np.where(pd.isna(pred), "invalid", pred)
    summary = pairwise_summary(gold, pred, seed=0)
    assert summary.accuracy.estimate == pytest.approx(np.mean(named == gold))
    assert summary.cohen_kappa.estimate == pytest.approx(cohen_kappa_score(gold, named))
    labels = ["a", "b", "tie", "invalid"]
    table = pd.crosstab(pd.Categorical(gold, labels), pd.Categorical(named, labels), dropna=False).to_numpy()
    assert cohen_kappa(gold, pred) == pytest.approx(sm_cohens_kappa(table).kappa)
    assert summary.accuracy.low < summary.accuracy.estimate < summary.accuracy.high
    assert summary.cohen_kappa.low < summary.cohen_kappa.estimate < summary.cohen_kappa.high
    # Accuracy is a plain proportion here: the bootstrap interval sits on Wilson's.
    wilson = proportion_ci(int(np.sum(named == gold)), len(gold))
    assert summary.accuracy.low == pytest.approx(wilson.low, abs=0.01)
    assert summary.accuracy.high == pytest.approx(wilson.high, abs=0.01)
    # PROVENANCE.md's quick check: ~0.70 (gpt-3.5-turbo) and ~0.67 (PandaLM-7B) exact match.
    assert summary.accuracy.estimate == pytest.approx({"gpt-3.5-turbo": 0.70, "pandalm-7b": 0.67}[judge], abs=0.01)
    expected_invalid = 25 / 999 if judge == "gpt-3.5-turbo" else 0.0
    assert summary.invalid_rate.estimate == pytest.approx(expected_invalid)
