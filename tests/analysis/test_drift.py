"""``judgekit drift``: two runs of the same judge model on the same items, and ``compare``'s drift section."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from conftest import run_judgekit
from sklearn.metrics import cohen_kappa_score

from judgekit.runs.run_dir import read_run

CONTRACT = {"n", "changed", "changed_rate", "transitions", "cohen_kappa", "p_value", "headline_a", "headline_b",
            "items"}
SLOT = {"1": "a", "2": "b"}


def llmbar_runs(data_dir, tmp_path, monkeypatch, capsys):
    """LLMBar's recorded Vanilla runs of ChatGPT-0301 (A) and ChatGPT (B) on Natural, imported."""
    paths = []
    for model in ("ChatGPT-0301", "ChatGPT"):
        source = data_dir / "llmbar" / "Dataset" / "LLMBar" / "Natural" / "evaluators" / model / "Vanilla"
        code, _, err = run_judgekit(monkeypatch, capsys, "import", "llmbar", source, "--out", tmp_path / model)
        assert code == 0, err
        paths.append((source, tmp_path / model))
    return paths


def recorded_verdicts(source, swapped: bool | None = None) -> list[str]:
    """Each item's verdict read straight from LLMBar's result.json: per order, or both orders agreeing (else tie)."""
    verdicts = []
    for item in json.loads((source / "result.json").read_text(encoding="utf-8")):
        result = item["results"][0]
        orders = [SLOT.get(result[f"swap = {flag}"]["winner"], "invalid") for flag in (False, True)]
        if swapped is not None:
            verdicts.append(orders[swapped])
        else:
            verdicts.append(orders[0] if orders[0] == orders[1] else "tie")
    return verdicts


def test_drift_between_two_recorded_chatgpt_runs(data_dir, tmp_path, monkeypatch, capsys):
    (source_a, run_a), (source_b, run_b) = llmbar_runs(data_dir, tmp_path, monkeypatch, capsys)
    code, out, err = run_judgekit(monkeypatch, capsys, "drift", run_a, run_b, "--format", "json", "--by-order")
    assert code == 0, err
    data = json.loads(out)
    assert CONTRACT <= set(data)
    a, b = recorded_verdicts(source_a), recorded_verdicts(source_b)
    hand: dict[str, Counter] = {}
    for x, y in zip(a, b):
        hand.setdefault(x, Counter())[y] += 1
    assert data["transitions"] == {x: dict(row) for x, row in hand.items()}
    assert data["n"] == 100 and data["changed"] == sum(x != y for x, y in zip(a, b)) == len(data["items"])
    assert data["changed_rate"] == pytest.approx(data["changed"] / 100)
    assert data["cohen_kappa"] == pytest.approx(cohen_kappa_score(a, b))
    for order, swapped in (("original", False), ("swapped", True)):
        pa, pb = recorded_verdicts(source_a, swapped), recorded_verdicts(source_b, swapped)
        assert data["by_order"][order]["changed"] == sum(x != y for x, y in zip(pa, pb))
        assert data["by_order"][order]["cohen_kappa"] == pytest.approx(cohen_kappa_score(pa, pb))
    # the headline and its paired test are compare's, on the same pairs
    code, out, err = run_judgekit(monkeypatch, capsys, "compare", run_a, run_b, "--format", "json")
    assert code == 0, err
    compared = json.loads(out)
    assert compared["comparisons"][0]["p_value"] == pytest.approx(data["p_value"])
    accuracy = {row["run"]: row["accuracy"] for row in compared["leaderboard"]}
    assert (data["headline_a"], data["headline_b"]) == (accuracy[str(run_a)], accuracy[str(run_b)])
    drift = compared["drift"]  # both runs are of gpt-3.5-turbo
    assert len(drift) == 1 and drift[0]["judge_model"] == "gpt-3.5-turbo"
    assert {k: drift[0][k] for k in CONTRACT} == {k: data[k] for k in CONTRACT}
    # the table prints the transition table and the paired test
    code, out, _ = run_judgekit(monkeypatch, capsys, "drift", run_a, run_b)
    assert code == 0 and "A \\ B" in out and f"{data['changed']} of 100 items changed" in out
    assert "paired test (sign-flip" in out and f"p = {data['p_value']:.2g}" in out


def test_runs_of_different_models_get_no_drift_section(data_dir, tmp_path, monkeypatch, capsys):
    source = data_dir / "llmbar" / "Dataset" / "LLMBar" / "Natural" / "evaluators"
    for model in ("GPT-4", "ChatGPT"):
        code, _, err = run_judgekit(monkeypatch, capsys, "import", "llmbar", source / model / "Vanilla",
                                    "--out", tmp_path / model)
        assert code == 0, err
    code, out, _ = run_judgekit(monkeypatch, capsys, "compare", tmp_path / "GPT-4", tmp_path / "ChatGPT",
                                "--format", "json")
    assert code == 0 and "drift" not in json.loads(out)


SCORED = "".join(json.dumps({"pid": f"p{i // 3}", "text": f"response {i}", "f1": 1 + i % 5}) + "\n"
                 for i in range(12))


def test_pointwise_drift_is_per_criterion(tmp_path, monkeypatch, capsys):
    data_file = tmp_path / "scored.jsonl"
    data_file.write_text(SCORED, encoding="utf-8")
    for name, judge in (("a", "mock:random=Score: 2|Score: 3"), ("b", "mock:reply=Score: 3")):
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", judge, "--protocol", "pointwise/likert",
                                    "--dataset", data_file, "--mapping",
                                    "input=pid,response=text,score.fluency=f1,scale=1-5",
                                    "--out", tmp_path / name, "--quiet")
        assert code == 0, err
    code, out, err = run_judgekit(monkeypatch, capsys, "drift", tmp_path / "a", tmp_path / "b", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    scores = [f"{v.criteria['fluency'].score:g}" for v in read_run(tmp_path / "a").verdicts]
    fluency = data["criteria"]["fluency"]
    assert fluency["transitions"] == {s: {"3": n} for s, n in sorted(Counter(scores).items())}
    assert fluency["changed"] == scores.count("2") == data["changed"] and data["n"] == 12
    assert data["headline"] == "item_kendall" and "headline_a" in data


def test_drift_of_runs_sharing_no_item_is_one_line(tmp_path, monkeypatch, capsys):
    data_file = tmp_path / "scored.jsonl"
    data_file.write_text(SCORED, encoding="utf-8")
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:reply=Score: 3", "--protocol",
                                "pointwise/likert", "--dataset", data_file, "--mapping",
                                "input=pid,response=text,score.fluency=f1,scale=1-5", "--out", tmp_path / "a",
                                "--quiet")
    assert code == 0, err
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:first", "--protocol", "llmbar/vanilla",
                                "--dataset", "judgekit/bundled", "--out", tmp_path / "b", "--quiet")
    code, _, err = run_judgekit(monkeypatch, capsys, "drift", tmp_path / "a", tmp_path / "b")
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1


LABELS_CSV = "id,question,answer,label\n" + "".join(f"q{i},Question {i}?,Answer {i},{'fail' if i % 3 else 'pass'}\n"
                                                     for i in range(20))


def test_classify_drift_compares_labels_and_tests_kappa(tmp_path, monkeypatch, capsys):
    data_file = tmp_path / "labels.csv"
    data_file.write_text(LABELS_CSV, encoding="utf-8")
    for name, judge in (("a", "mock:random=Fine.\npass|Made up.\nfail|Unsure.\nmaybe"),
                        ("b", "mock:reply=Fine.\npass")):
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", judge, "--protocol", "classify/binary",
                                    "--dataset", data_file, "--mapping",
                                    "id=id,input=question,response=answer,label=label",
                                    "--labels", "pass=pass,fail=fail", "--out", tmp_path / name, "--quiet")
        assert code == 0, err
    code, out, err = run_judgekit(monkeypatch, capsys, "drift", tmp_path / "a", tmp_path / "b", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    a = [v.label or "invalid" for v in read_run(tmp_path / "a").verdicts]
    assert "invalid" in a and data["transitions"] == {x: {"pass": n} for x, n in sorted(Counter(a).items())}
    assert data["items"] == [f"labels/q{i}" for i, x in enumerate(a) if x != "pass"]
    assert data["headline"] == "cohen_kappa" and CONTRACT <= set(data)


def test_drift_pairs_items_as_compare_does_textless_pairs_by_id(tmp_path):
    """Pairs derived from scores carry no text (HANNA's): compare knows them by id, and so must drift. Two runs
    holding the same six items in opposite orders with the same verdicts have drifted nowhere."""
    from run_dirs import pairs, pairwise_run

    from judgekit.analysis.drift import drift_figures

    items = pairs(6, gold="ab", instruction="", response_a="", response_b="")
    picks = [("a", "a"), ("b", "b"), ("a", "a"), ("a", "a"), ("b", "b"), ("tie", "tie")]
    pairwise_run(tmp_path / "one", picks, examples=items)
    pairwise_run(tmp_path / "two", picks[::-1], examples=items[::-1])
    data = drift_figures(read_run(tmp_path / "one"), read_run(tmp_path / "two"))
    assert data["n"] == 6 and data["changed"] == 0 and data["cohen_kappa"] == 1.0
    assert data["transitions"] == {"a": {"a": 3}, "b": {"b": 2}, "tie": {"tie": 1}}
