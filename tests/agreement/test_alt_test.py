"""The alt-test (REFERENCES E1) equals an independent loop-by-loop implementation of its definition."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import run_judgekit
from scipy.stats import ttest_rel
from statsmodels.stats.multitest import multipletests

from judgekit.agreement.alt_test import alt_test
from judgekit.errors import BadInput

GPT = {"1": "a", "2": "b", "Tie": "tie", "garbage": None}
HUMAN = {0: "tie", 1: "a", 2: "b"}
ANNOTATORS = ["annotator1", "annotator2", "annotator3"]


def reference_alt_test(humans: list[dict], judge: list, epsilon, q, alignment, min_items):
    """E1 written out item by item: humans[i] maps annotator -> label on item i."""

    def score(x, others):
        if alignment == "accuracy":
            return sum(o == x for o in others) / len(others)
        return -math.sqrt(sum((float(x) - float(o)) ** 2 for o in others) / len(others))

    names = sorted({h for row in humans for h in row})
    kept = [i for i, row in enumerate(humans) if len(row) >= 2 and judge[i] is not None]
    tested = {}
    for h in names:
        items = [i for i in kept if h in humans[i]]
        if len(items) < min_items:
            continue
        w_h, w_f = [], []
        for i in items:
            others = [label for other, label in humans[i].items() if other != h]
            s_h, s_f = score(humans[i][h], others), score(judge[i], others)
            w_h.append(1.0 if s_h >= s_f else 0.0)
            w_f.append(1.0 if s_f >= s_h else 0.0)
        # mean(W_h - W_f) < eps  <=>  mean(W_h - (W_f + eps)) < 0: the paired t-test.
        p = ttest_rel(w_h, [w + epsilon for w in w_f], alternative="less").pvalue
        tested[h] = (len(items), float(p), float(np.mean(w_f)))
    rejected = multipletests([t[1] for t in tested.values()], alpha=q, method="fdr_by")[0]
    omega = float(np.mean(rejected))
    rho = float(np.mean([t[2] for t in tested.values()]))
    per = {h: (n, p, bool(r), adv) for (h, (n, p, adv)), r in zip(tested.items(), rejected)}
    return omega, rho, per, len(kept)


def _as_rows(frame: pd.DataFrame) -> list[dict]:
    return [{h: v for h, v in row.items() if v is not None and not pd.isna(v)} for row in frame.to_dict("records")]


def _check_equal(result, reference):
    omega, rho, per, n_kept = reference
    assert result.winning_rate == pytest.approx(omega)
    assert result.advantage_probability == pytest.approx(rho)
    assert result.passed == (omega >= 0.5)
    assert result.n_items == n_kept
    assert set(result.annotators) == set(per)
    for h, (n, p, rejected, advantage) in per.items():
        got = result.annotators[h]
        assert (got.n, got.rejected) == (n, rejected)
        assert got.p_value == pytest.approx(p, rel=1e-9, abs=1e-300)
        assert got.advantage == pytest.approx(advantage)


@pytest.fixture
def pandalm(data_dir):
    folder = data_dir / "pandalm" / "data"
    humans = pd.DataFrame(json.loads((folder / "testset-v1.json").read_text()))
    gpt = json.loads((folder / "gpt-3.5-turbo-testset-v1.json").read_text())
    panda = json.loads((folder / "pandalm-7b-testset-v1.json").read_text())
    votes = humans[ANNOTATORS].replace(HUMAN).astype(object)
    judges = pd.DataFrame({
        "gpt-3.5-turbo": [GPT[r["gpt_result"]] for r in gpt],
        "pandalm-7b": [HUMAN[r["pandalm_result"]] for r in panda],
    }, dtype=object)
    return votes, judges


@pytest.mark.parametrize("epsilon", [0.1, 0.2])
def test_pandalm_recorded_judges_equal_the_reference(pandalm, epsilon):
    votes, judges = pandalm
    result = alt_test(votes, judges, epsilon=epsilon)
    for name in judges:
        reference = reference_alt_test(_as_rows(votes), list(judges[name]), epsilon, 0.05, "accuracy", 30)
        _check_equal(result.candidates[name], reference)
    gpt = result.candidates["gpt-3.5-turbo"]
    assert gpt.n_items == 999 - 25 and gpt.items_left_out == 25  # the 25 unparseable verdicts
    assert result.candidates["pandalm-7b"].n_items == 999
    # Three annotators agreeing on 879 of 999 items: a judge at ~0.7 accuracy loses to each of them.
    for c in result.candidates.values():
        assert 0.5 < c.advantage_probability < 0.9
        assert set(c.annotators) == set(ANNOTATORS) and not c.annotators_left_out


def _sparse(seed: int, n_items=400, n_annotators=8, coverage=0.35, labels=("a", "b", "tie")):
    """Annotators who each label a random subset; a judge that copies the truth 70% of the time."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(labels, n_items)
    table = {}
    for h in range(n_annotators):
        skill = rng.uniform(0.6, 0.95)
        labelled = rng.random(n_items) < coverage
        noisy = np.where(rng.random(n_items) < skill, truth, rng.choice(labels, n_items))
        table[f"h{h}"] = [v if keep else None for v, keep in zip(noisy, labelled)]
    judge = np.where(rng.random(n_items) < 0.7, truth, rng.choice(labels, n_items)).astype(object)
    judge[rng.random(n_items) < 0.05] = None  # a few invalid verdicts
    return pd.DataFrame(table, dtype=object), pd.DataFrame({"judge": judge}, dtype=object)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("epsilon", [0.05, 0.15, 0.3])
def test_sparse_designs_equal_the_reference(seed, epsilon):
    humans, judge = _sparse(seed)
    result = alt_test(humans, judge, epsilon=epsilon, q=0.05, min_items=30)
    reference = reference_alt_test(_as_rows(humans), list(judge["judge"]), epsilon, 0.05, "accuracy", 30)
    _check_equal(result.candidates["judge"], reference)


def test_neg_rmse_on_scores_equals_the_reference():
    rng = np.random.default_rng(7)
    truth = rng.integers(1, 6, 300)
    humans = pd.DataFrame({f"h{j}": np.clip(truth + rng.integers(-1, 2, 300), 1, 5).astype(float)
                           for j in range(4)})
    humans = humans.mask(rng.random(humans.shape) < 0.2)
    judge = pd.DataFrame({"judge": np.clip(truth + rng.integers(-2, 3, 300), 1, 5).astype(float)})
    result = alt_test(humans, judge, epsilon=0.15, alignment="neg_rmse")
    reference = reference_alt_test(_as_rows(humans), list(judge["judge"]), 0.15, 0.05, "neg_rmse", 30)
    _check_equal(result.candidates["judge"], reference)


def test_benjamini_yekutieli_follows_the_step_up_definition():
    """Reject the k smallest p-values, k the largest rank with p_(k) <= k/m * q / H_m."""
    humans, judge = _sparse(3, n_items=1500, n_annotators=10, coverage=0.5)
    result = alt_test(humans, judge, epsilon=0.12).candidates["judge"]
    p = np.array([a.p_value for a in result.annotators.values()])
    m = len(p)
    harmonic = sum(1 / k for k in range(1, m + 1))
    ranked = np.sort(p)
    under = [k for k in range(1, m + 1) if ranked[k - 1] <= k / m * 0.05 / harmonic]
    k_max = max(under, default=0)
    expected = p <= ranked[k_max - 1] if k_max else np.zeros(m, bool)
    assert [a.rejected for a in result.annotators.values()] == list(expected)
    assert 0 < k_max < m  # the case separates: some rejected, some not


def test_few_items_leave_annotators_out_and_count_them():
    humans, judge = _sparse(4, n_items=120, n_annotators=6, coverage=0.3)
    result = alt_test(humans, judge, min_items=30).candidates["judge"]
    per_annotator = {h: int(sum(1 for i in range(120) if humans[h][i] is not None
                                and humans.iloc[i].notna().sum() >= 2 and judge["judge"][i] is not None))
                     for h in humans}
    assert result.annotators_left_out == {h: n for h, n in per_annotator.items() if n < 30}
    assert set(result.annotators) == {h for h, n in per_annotator.items() if n >= 30}
    assert result.items_left_out == 120 - result.n_items


def test_no_annotator_left_gives_undefined_rates_not_a_crash():
    humans, judge = _sparse(5, n_items=40, n_annotators=3, coverage=0.4)
    result = alt_test(humans, judge, min_items=30).candidates["judge"]
    assert result.annotators == {} and len(result.annotators_left_out) == 3
    assert math.isnan(result.winning_rate) and math.isnan(result.advantage_probability)
    assert result.passed is False


def test_constant_differences_take_the_t_tests_limit():
    """An annotator who always ties the judge: d = 0 everywhere, so mean(d) < ε for sure (p = 0)."""
    humans = pd.DataFrame({"h1": ["a"] * 40, "h2": ["a"] * 40, "h3": ["a"] * 40}, dtype=object)
    judge = pd.DataFrame({"same": ["a"] * 40, "other": ["b"] * 40}, dtype=object)
    result = alt_test(humans, judge, epsilon=0.2)
    assert all(a.p_value == 0.0 and a.rejected for a in result.candidates["same"].annotators.values())
    assert result.candidates["same"].passed and result.candidates["same"].advantage_probability == 1.0
    assert all(a.p_value == 1.0 for a in result.candidates["other"].annotators.values())
    assert not result.candidates["other"].passed


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alignment": "kappa"}, "alignment 'kappa'"),
        ({"q": 1.5}, "q: 1.5"),
        ({"epsilon": -0.1}, "epsilon: -0.1"),
        ({"min_items": 1}, "min-items: 1"),
    ],
)
def test_bad_parameters_are_bad_input(kwargs, message):
    humans, judge = _sparse(0, n_items=50)
    with pytest.raises(BadInput, match=message):
        alt_test(humans, judge, **kwargs)


def test_neg_rmse_names_a_non_numeric_cell():
    humans = pd.DataFrame({"h1": ["1", "2"], "h2": ["2", "x"]}, dtype=object)
    with pytest.raises(BadInput, match=r"row 2, column 'h2': 'x' is not a number"):
        alt_test(humans, pd.DataFrame({"j": ["1", "2"]}), alignment="neg_rmse")


def _write_csv(tmp_path, humans, judges):
    path = tmp_path / "labels.csv"
    pd.concat([humans, judges], axis=1).to_csv(path, index=False)
    return path


def test_cli_json_follows_the_contract(tmp_path, monkeypatch, capsys):
    humans, judge = _sparse(0)
    second = pd.DataFrame({"coin": np.random.default_rng(1).choice(["a", "b"], len(judge)).astype(object)})
    path = _write_csv(tmp_path, humans, pd.concat([judge, second], axis=1))
    code, out, err = run_judgekit(monkeypatch, capsys, "agreement", path, "--raters", ",".join(humans),
                                  "--alt-test", "judge,coin", "--epsilon", "0.15", "--q", "0.1",
                                  "--alignment", "accuracy", "--min-items", "40", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["raters"] == list(humans)  # candidates are not raters
    alt = doc["alt_test"]
    assert {"epsilon", "q", "alignment", "candidates"} <= set(alt)
    assert (alt["epsilon"], alt["q"], alt["alignment"]) == (0.15, 0.1, "accuracy")
    assert set(alt["candidates"]) == {"judge", "coin"}
    expected = alt_test(humans, pd.concat([judge, second], axis=1), epsilon=0.15, q=0.1, min_items=40)
    for name, c in alt["candidates"].items():
        assert {"winning_rate", "advantage_probability", "passed", "annotators"} <= set(c)
        want = expected.candidates[name]
        assert c["winning_rate"] == pytest.approx(want.winning_rate)
        assert c["advantage_probability"] == pytest.approx(want.advantage_probability)
        assert c["passed"] is want.passed
        assert c["items_left_out"] == want.items_left_out and c["annotators_left_out"] == want.annotators_left_out
        for h, a in c["annotators"].items():
            assert set(a) == {"n", "p_value", "rejected", "advantage"}
            assert a["n"] == want.annotators[h].n and a["p_value"] == pytest.approx(want.annotators[h].p_value)
    assert alt["candidates"]["coin"]["advantage_probability"] < alt["candidates"]["judge"]["advantage_probability"]


def test_cli_sparse_design_says_fleiss_is_undefined_and_still_tests(tmp_path, monkeypatch, capsys):
    """30 annotators, each on ~8% of 600 items: no item has every label, so Fleiss' kappa is undefined."""
    humans, judge = _sparse(2, n_items=600, n_annotators=30, coverage=0.08)
    path = _write_csv(tmp_path, humans, judge)
    args = ["agreement", path, "--raters", ",".join(humans), "--alt-test", "judge", "--min-items", "30"]
    code, out, err = run_judgekit(monkeypatch, capsys, *args, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["fleiss_kappa"] is None
    assert any("fleiss_kappa undefined: no item was labelled by all 30 raters" in n for n in doc["notes"])
    assert doc["krippendorff_alpha"] is not None
    c = doc["alt_test"]["candidates"]["judge"]
    assert c["annotators_left_out"] and c["annotators"]  # some left out (counted), others tested
    assert len(c["annotators_left_out"]) + len(c["annotators"]) == 30
    code, out, err = run_judgekit(monkeypatch, capsys, *args)
    assert code == 0 and "fleiss_kappa undefined" in out and "annotators left out" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--alt-test", "h0"], "--alt-test: 'h0' is also one of --raters"),
        (["--alt-test", "nobody"], "column 'nobody' not found"),
        (["--alt-test", "judge", "--labels", "a,b"], "label 'tie' is not one of a, b"),
        (["--alt-test", "judge", "--alignment", "neg_rmse"], "is not a number (alignment neg_rmse)"),
        (["--alt-test", "judge", "--q", "0"], "q: 0.0 is not in (0, 1)"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, monkeypatch, capsys, args, message):
    humans, judge = _sparse(0, n_items=60)
    path = _write_csv(tmp_path, humans, judge)
    code, out, err = run_judgekit(monkeypatch, capsys, "agreement", path, "--raters", ",".join(humans), *args)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "labels.csv" in lines[0] or message.startswith("--")  # a usage error names the option instead
