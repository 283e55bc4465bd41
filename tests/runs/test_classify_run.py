"""Classify runs end to end: a CSV of labelled outputs -> ``judgekit run`` against a scripted OpenAI-compatible
server through the real SDK -> ``judgekit report --format json``, figures checked against scikit-learn."""

from __future__ import annotations

import csv
import json
import math
import re

import pytest
from conftest import run_judgekit
from servers import Reply, ScriptedServer
from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score, confusion_matrix, matthews_corrcoef

from judgekit.runs.run_dir import read_run

MAPPING = "id=id,input=question,response=answer,label=hallucinated,positive=fail"
LABELS = "yes=fail,no=pass"
UNSURE = 5
"""The row whose answer the scripted judge does not label."""


def _rows() -> list[dict[str, str]]:
    """16 answers: every third says WRONG (the judge fails those), every fourth is a human fail."""
    return [{"id": f"q{i}", "question": f"Question {i}?", "answer": f"{'WRONG' if i % 3 == 0 else 'right'} answer {i}",
             "hallucinated": "yes" if i % 4 == 0 else "no"} for i in range(16)]


def _csv(tmp_path, rows) -> str:
    path = tmp_path / "labels.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "question", "answer", "hallucinated"])
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def _judge(call) -> str:
    """Reasoning, then the label on the last line; "maybe" for one answer (an invalid verdict)."""
    number = int(re.search(r"(?:WRONG|right) answer (\d+)", call.prompt)[1])
    if number == UNSURE:
        return "Could go either way.\nmaybe"
    return "The answer looks invented.\nfail" if "WRONG answer" in call.prompt else "Nothing wrong here.\npass"


def _run(monkeypatch, capsys, server, *args):
    return run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url", server.openai_url,
                        "--quiet", *args)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")  # the judge's invalid category
def test_csv_run_reports_the_figures_scikit_learn_gives(tmp_path, monkeypatch, capsys):
    rows = _rows()
    with ScriptedServer(answer=_judge) as server:
        code, out, err = _run(monkeypatch, capsys, server, "--protocol", "classify/binary", "--dataset",
                              _csv(tmp_path, rows), "--mapping", MAPPING, "--labels", LABELS, "--out", tmp_path / "run")
        assert code == 0, err
        assert server.total_answered() == 16
    assert "cohen_kappa" in out
    run = read_run(tmp_path / "run")
    m = run.manifest
    assert (m.kind, m.labels, m.positive_label, m.headline, m.strategy) == (
        "classify", ("fail", "pass"), "fail", "cohen_kappa", "classify_binary")
    unsure = next(v for v in run.verdicts if v.example_id == f"labels/q{UNSURE}")
    assert (unsure.label, unsure.invalid_reason, unsure.raw) == (None, "unknown_label", "Could go either way.\nmaybe")

    code, out, err = run_judgekit(monkeypatch, capsys, "report", tmp_path / "run", "--format", "json",
                                  "--resamples", "50")
    assert code == 0, err
    row = json.loads(out)["runs"][0]
    human = ["fail" if r["hallucinated"] == "yes" else "pass" for r in rows]
    judged = ["invalid" if i == UNSURE else "fail" if i % 3 == 0 else "pass" for i in range(16)]
    assert row["kind"] == "classify" and row["labels"] == ["fail", "pass"] and row["n"] == 16
    assert row["confusion"]["columns"] == ["fail", "pass", "invalid"]
    assert row["confusion"]["matrix"] == confusion_matrix(human, judged,
                                                          labels=["fail", "pass", "invalid"])[:2].tolist()
    assert row["cohen_kappa"] == pytest.approx(cohen_kappa_score(human, judged))
    assert row["mcc"] == pytest.approx(matthews_corrcoef(human, judged))
    assert row["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(human, judged))
    assert row["accuracy"] == pytest.approx(sum(h == j for h, j in zip(human, judged)) / 16)
    assert row["invalid_rate"] == pytest.approx(1 / 16)
    assert row["cohen_kappa_ci"][0] <= row["cohen_kappa"] <= row["cohen_kappa_ci"][1]


def test_bad_label_values_and_empty_files_are_one_line_errors(tmp_path, monkeypatch, capsys):
    rows = _rows()
    rows[6]["hallucinated"] = "perhaps"
    path = _csv(tmp_path, rows)
    code, out, err = run_judgekit(monkeypatch, capsys, "run", "--protocol", "classify/binary", "--dataset", path,
                                  "--mapping", MAPPING, "--labels", LABELS, "--dry-run")
    assert code == 2 and out == ""
    assert err.strip() == (f"error: {path}: record 7: field 'hallucinated': label 'perhaps' is not in the label set "
                           "(raw values: yes, no)")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--protocol", "classify/binary", "--dataset", empty,
                                "--mapping", MAPPING, "--labels", LABELS, "--dry-run")
    assert code == 2 and str(empty) in err and "holds no examples" in err and len(err.strip().splitlines()) == 1
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,question,answer,hallucinated\n", encoding="utf-8")
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--protocol", "classify/binary", "--dataset", header_only,
                                "--mapping", MAPPING, "--labels", LABELS, "--dry-run")
    assert code == 2 and str(header_only) in err and len(err.strip().splitlines()) == 1


def test_protocols_of_another_kind_or_label_count_are_refused(tmp_path, monkeypatch, capsys):
    path = _csv(tmp_path, _rows())
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--protocol", "llmbar/vanilla", "--dataset", path,
                                "--mapping", MAPPING, "--labels", LABELS, "--dry-run")
    assert code == 2 and "holds labelled outputs (classify)" in err
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--protocol", "classify/categorical", "--dry-run")
    assert code == 2 and "rates labelled outputs (classify) but --dataset llmbar/natural-40 holds pairs" in err
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--protocol", "classify/binary", "--dataset", path,
                                "--mapping", MAPPING, "--labels", "yes=fail,no=pass,unsure=unsure", "--dry-run")
    assert code == 2 and "a binary protocol needs two labels; the data has 3" in err


def test_dry_run_counts_one_call_per_output(tmp_path, monkeypatch, capsys):
    code, out, err = run_judgekit(monkeypatch, capsys, "run", "--protocol", "classify/binary", "--dataset",
                                  _csv(tmp_path, _rows()), "--mapping", MAPPING, "--labels", LABELS, "--dry-run",
                                  "--judge", "openai:gpt-4o-mini")
    assert code == 0, err
    assert re.search(r"items:\s+16\n\s+calls:\s+16 \(1 per item\)", out)
    assert int(re.search(r"tokens in:\s+about ([\d,]+)", out)[1].replace(",", "")) > 16 * 50  # the prompts rendered


def test_logprob_classify_reads_top_logprobs_through_the_sdk(tmp_path, monkeypatch, capsys):
    def answer(call):
        wrong = "WRONG answer" in call.prompt
        a, b = (math.log(0.8), math.log(0.2)) if wrong else (math.log(0.3), math.log(0.7))
        letter = "A" if wrong else "B"
        return Reply(f"Answer: ( {letter} )", logprobs=[{"Answer:": -0.01}, {"(": -0.01}, {"A": a, "B": b}, {")": 0.0}])

    with ScriptedServer(answer=answer) as server:
        code, _, err = _run(monkeypatch, capsys, server, "--protocol", "logprob/classify", "--dataset",
                            _csv(tmp_path, _rows()), "--mapping", MAPPING, "--labels", LABELS, "--out",
                            tmp_path / "run")
    assert code == 0, err
    verdicts = {v.example_id: v for v in read_run(tmp_path / "run").verdicts}
    wrong, right = verdicts["labels/q3"], verdicts["labels/q1"]
    assert (wrong.label, wrong.confidence) == ("fail", pytest.approx(0.8))
    assert right.label == "pass" and right.probabilities == pytest.approx({"fail": 0.3, "pass": 0.7})


def test_a_staged_card_runs_by_id_into_a_classify_run_dir(data_dir, tmp_path, monkeypatch, capsys):
    prompts = []

    def answer(call):
        prompts.append(call.prompt)
        return "fail"

    with ScriptedServer(answer=answer) as server:
        code, _, err = _run(monkeypatch, capsys, server, "--protocol", "classify/categorical", "--dataset", "halueval",
                            "--limit", "5", "--out", tmp_path / "run")
    assert code == 0, err
    run = read_run(tmp_path / "run")
    assert (run.manifest.kind, run.manifest.labels, run.manifest.positive_label, run.manifest.headline) == (
        "classify", ("fail", "pass"), "fail", "cohen_kappa")
    assert [v.label for v in run.verdicts] == ["fail"] * 5 and run.manifest.dataset == "halueval"
    assert len(prompts) == 5 and all("- fail: The answer contains hallucinated content" in p for p in prompts)


def test_a_sweep_binds_each_classify_cell_to_its_datasets_labels(tmp_path, monkeypatch, capsys):
    data = _csv(tmp_path, _rows())
    card = tmp_path / "mine.yaml"
    card.write_text(f"id: mine\ndescription: d\nlicense: MIT\ncitation: c\nlocal: {data}\nclassify:\n"
                    "  id: id\n  input: question\n  response: answer\n  label: hallucinated\n"
                    "  labels: {'yes': fail, 'no': pass}\n  positive: fail\n", encoding="utf-8")
    with ScriptedServer(answer=_judge) as server:
        sweep = tmp_path / "sweep.yaml"
        sweep.write_text(json.dumps({"root": str(tmp_path / "sweep"), "judges": [
            {"spec": "openai:judge", "base_url": server.openai_url}], "protocols": ["classify/binary"],
            "datasets": [str(card)]}), encoding="utf-8")
        code, _, err = run_judgekit(monkeypatch, capsys, "sweep", sweep, "--quiet")
    assert code == 0, err
    (run_path,) = (tmp_path / "sweep").iterdir()
    run = read_run(run_path)
    assert run.manifest.labels == ("fail", "pass") and len(run.verdicts) == 16
    assert sum(v.label is None for v in run.verdicts) == 1


def test_evaluate_binds_a_classify_datasets_labels(tmp_path):
    import judgekit
    from judgekit.data import load_dataset

    dataset = load_dataset(_csv(tmp_path, _rows()), mapping=MAPPING, labels=LABELS)
    with ScriptedServer(answer=_judge) as server:
        judge = judgekit.load_judge("openai:judge", protocol="classify/binary", base_url=server.openai_url)
        try:
            run = judgekit.evaluate(judge, dataset, out=tmp_path / "run")
        finally:
            judge.close()
    assert run.manifest.kind == "classify" and run.manifest.positive_label == "fail"
    assert [v.label for v in run.verdicts[:4]] == ["fail", "pass", "pass", "fail"]
