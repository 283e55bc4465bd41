"""The classify run kind through report, compare, trust, route and plan, checked against scikit-learn and
statsmodels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import run_dirs
from conftest import run_judgekit
from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score, confusion_matrix, matthews_corrcoef
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from judgekit.analysis.compare import Options, compare
from judgekit.analysis.summary import summary_frame
from judgekit.records import Usage
from judgekit.runs.run_dir import read_run

LABELS = ("fail", "pass")
N = 120


def _truth(seed: int = 7) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["fail" if x < 0.2 else "pass" for x in rng.random(N)]  # a 20 % problem rate, like HaluEval's


def _judge(truth: list[str], accuracy: float, seed: int, *, invalid: float = 0.0) -> list[str | None]:
    rng = np.random.default_rng(seed)
    out: list[str | None] = []
    for label in truth:
        draw = rng.random()
        if draw < invalid:
            out.append(None)
        elif draw < invalid + accuracy * (1 - invalid):
            out.append(label)
        else:
            out.append("pass" if label == "fail" else "fail")
    return out


def _write(path: Path, truth: list[str], said: list[str | None], *, judge: str = "openai:j",
           confidence: list[float] | None = None, complete: bool = True, votes=None) -> Path:
    examples = run_dirs.outputs(truth, prefix="h/", votes=lambda i: tuple(votes[i]) if votes else ())
    return run_dirs.classify_run(path, said, examples=examples, confidence=confidence, verdict_usage=Usage(calls=1),
                                 judge=judge, complete=complete, labels=LABELS, headline="cohen_kappa",
                                 strategy="classify_binary")


def test_report_json_is_the_issues_shape_and_equals_scikit_learn(tmp_path, monkeypatch, capsys):
    truth = _truth()
    said = _judge(truth, 0.85, 1, invalid=0.05)
    run = _write(tmp_path / "v2", truth, said)
    code, out, err = run_judgekit(monkeypatch, capsys, "report", run, "--format", "json", "--resamples", "200")
    assert code == 0, err
    data = json.loads(out)
    assert data["kind"] == "classify"
    row = data["runs"][0]
    for key in ("kind", "labels", "positive_label", "n", "accuracy", "accuracy_ci", "balanced_accuracy", "mcc",
                "cohen_kappa", "cohen_kappa_ci", "confusion", "per_class", "base_rate_human", "base_rate_judge",
                "invalid_rate"):
        assert key in row, key
    assert row["labels"] == list(LABELS) and row["positive_label"] == "fail" and row["n"] == N
    # an invalid verdict is its own category: disagreement under the default policy ``wrong``
    shown = [s if s is not None else "invalid" for s in said]
    assert row["accuracy"] == pytest.approx(np.mean([s == t for s, t in zip(shown, truth)]))
    assert row["cohen_kappa"] == pytest.approx(cohen_kappa_score(truth, shown))
    assert row["mcc"] == pytest.approx(matthews_corrcoef(truth, shown))
    assert row["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(truth, shown))
    expected = confusion_matrix(truth, shown, labels=[*LABELS, "invalid"])[:2]
    assert row["confusion"] == {"labels": list(LABELS), "columns": [*LABELS, "invalid"], "matrix": expected.tolist()}
    low, high = row["cohen_kappa_ci"]
    assert low < row["cohen_kappa"] < high
    assert row["base_rate_human"]["fail"] == pytest.approx(truth.count("fail") / N)
    assert row["invalid_rate"] == pytest.approx(said.count(None) / N)
    assert row["headline"] == "cohen_kappa"
    frame = summary_frame(read_run(run), Options(n_resamples=200))
    figures = [name for name in frame.index if name not in ("n", "n_clusters")]
    assert figures[0] == "cohen_kappa" and frame.loc["cohen_kappa", "value"] == pytest.approx(row["cohen_kappa"])


def test_a_constant_judge_rides_the_base_rate_and_ranks_last_by_kappa(tmp_path):
    truth = _truth()
    always_pass = _write(tmp_path / "always", truth, ["pass"] * N)
    decent = _write(tmp_path / "decent", truth, _judge(truth, 0.78, 2))
    data = compare([read_run(always_pass), read_run(decent)], Options(n_resamples=100))
    board = data["leaderboard"]
    constant = next(r for r in board if r["run"].endswith("always"))
    assert constant["accuracy"] == pytest.approx(truth.count("pass") / N) and constant["accuracy"] > 0.75
    assert constant["cohen_kappa"] == pytest.approx(0.0) and constant["mcc"] is None
    assert board[0]["run"].endswith("decent") and board[0]["ranked_by"] == "cohen_kappa"
    by_accuracy = compare([read_run(always_pass), read_run(decent)], Options(n_resamples=100), rank_by="accuracy")
    assert by_accuracy["leaderboard"][0]["ranked_by"] == "accuracy"


def test_compare_tests_two_prompt_versions_with_exact_mcnemar_and_holm(tmp_path, monkeypatch, capsys):
    truth = _truth()
    runs = [_write(tmp_path / f"v{k}", truth, _judge(truth, accuracy, 10 + k))
            for k, accuracy in enumerate((0.70, 0.80, 0.92))]
    code, out, err = run_judgekit(monkeypatch, capsys, "compare", *runs, "--format", "json", "--resamples", "100",
                                  "--rank-by", "mcc")
    assert code == 0, err
    data = json.loads(out)
    assert data["kind"] == "classify" and all(r["ranked_by"] == "mcc" for r in data["leaderboard"])
    said = {str(p): [v.label for v in read_run(p).verdicts] for p in runs}
    raw = []
    for pair in data["comparisons"]:
        one, two = said[pair["run_1"]], said[pair["run_2"]]
        right_1 = np.array([a == t for a, t in zip(one, truth)])
        right_2 = np.array([b == t for b, t in zip(two, truth)])
        table = [[np.sum(right_1 & right_2), np.sum(right_1 & ~right_2)],
                 [np.sum(~right_1 & right_2), np.sum(~right_1 & ~right_2)]]
        assert pair["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue)
        assert pair["test"].startswith("McNemar exact")
        assert pair["difference"] == pytest.approx(matthews_corrcoef(truth, one) - matthews_corrcoef(truth, two))
        raw.append(pair["p_value"])
    holm = multipletests(raw, method="holm")[1]
    assert [p["p_holm"] for p in data["comparisons"]] == pytest.approx(list(holm))
    code, _, err = run_judgekit(monkeypatch, capsys, "compare", *runs, "--rank-by", "f1:maybe")
    assert code == 2 and "f1:LABEL" in err


def test_incomplete_runs_are_flagged_and_unranked(tmp_path):
    truth = _truth()
    done = _write(tmp_path / "done", truth, _judge(truth, 0.8, 3))
    stopped = _write(tmp_path / "stopped", truth, _judge(truth, 0.99, 4), complete=False)
    board = compare([read_run(done), read_run(stopped)], Options(n_resamples=50))["leaderboard"]
    assert [r["rank"] for r in board] == [1, None] and board[1]["run"].endswith("stopped")


def test_trust_route_and_plan_work_on_a_classify_run(tmp_path, monkeypatch, capsys):
    truth = _truth()
    said = _judge(truth, 0.85, 5)
    rng = np.random.default_rng(6)
    confidence = [float(np.clip(0.9 + 0.08 * rng.standard_normal(), 0.5, 1.0)) if s == t
                  else float(np.clip(0.65 + 0.1 * rng.standard_normal(), 0.5, 1.0)) for s, t in zip(said, truth)]
    run = _write(tmp_path / "conf", truth, said, confidence=confidence)
    row = compare([read_run(run)], Options(n_resamples=50))["leaderboard"][0]
    assert row["calibration"]["source"] == "label probability" and row["calibration"]["n"] == N
    code, out, err = run_judgekit(monkeypatch, capsys, "trust", run, "--format", "json", "--resamples", "100")
    assert code == 0, err
    assert json.loads(out)["runs"][0]["selective"]["coverage"] is not None
    tasks = tmp_path / "to_label.jsonl"
    code, _, err = run_judgekit(monkeypatch, capsys, "route", run, "--target-accuracy", "0.9", "--out", tasks,
                                "--resamples", "100")
    assert code == 0, err
    first = json.loads(tasks.read_text(encoding="utf-8").splitlines()[0])
    assert {"input", "output", "context", "reason", "label"} <= set(first) and "response_a" not in first
    other = _write(tmp_path / "other", truth, _judge(truth, 0.75, 8))
    code, out, err = run_judgekit(monkeypatch, capsys, "plan", "paired", "--pilot", run, "--pilot", other,
                                  "--format", "json", "--simulations", "200", "--sizes", "50,200")
    assert code == 0, err
    assert "120 shared items" in json.loads(out)["source"]


def test_several_annotators_give_the_judge_against_each_and_the_human_ceiling(tmp_path):
    truth = _truth()
    rng = np.random.default_rng(9)
    votes = [tuple(t if rng.random() < 0.85 else ("pass" if t == "fail" else "fail") for _ in range(3)) for t in truth]
    gold = [max(LABELS, key=v.count) for v in votes]
    run = _write(tmp_path / "crowd", gold, _judge(gold, 0.8, 11), votes=votes)
    row = compare([read_run(run)], Options(n_resamples=50))["leaderboard"][0]
    annotators = row["annotators"]
    assert annotators["n_annotators"] == 3 and len(annotators["vs_annotator"]) == 3
    assert 0 < annotators["leave_one_out_human"] <= 1 and annotators["fleiss_kappa_humans"] is not None
    assert row["alt_test"] is not None and row["alt_test"]["epsilon"] == 0.2


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_writes_one_row_per_output_and_reads_back_equal(tmp_path, monkeypatch, capsys, fmt):
    from judgekit.report.export import read_export

    truth = _truth()
    said = _judge(truth, 0.8, 12, invalid=0.05)
    run = _write(tmp_path / "run", truth, said)
    out = tmp_path / f"rows.{fmt}"
    code, _, err = run_judgekit(monkeypatch, capsys, "export", run, "--format", fmt, "--out", out)
    assert code == 0, err
    frame = read_export(out)
    assert len(frame) == N and list(frame["label"].fillna("")) == [s or "" for s in said]
    assert frame.equals(read_run(run).to_pandas())
