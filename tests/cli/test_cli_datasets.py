"""``judgekit datasets list|show`` through the real console entry point."""

import json

import pytest
from conftest import run_judgekit


def test_list_json_marks_staged_sets_available(data_dir, monkeypatch, capsys):
    code, out, _ = run_judgekit(monkeypatch, capsys, "datasets", "list", "--format", "json")
    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)["datasets"]}
    assert rows["pandalm"]["available"] and rows["pandalm"]["size"] == 999
    assert rows["llmbar/natural"]["source"] == "local + hub"
    assert rows["judgekit/bundled"]["source"] == "bundled"
    assert all(r["available"] for r in rows.values())


def test_list_table_shows_every_id(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_judgekit(monkeypatch, capsys, "datasets", "list")
    assert code == 0
    for dataset_id in ("llmbar/adversarial/neighbor", "llmbar/mtbench", "pandalm", "judgekit/bundled"):
        assert dataset_id in out
    assert "JUDGEKIT_DATA_DIR=" in out


def test_list_without_data_says_no(monkeypatch, capsys):
    monkeypatch.delenv("JUDGEKIT_DATA_DIR", raising=False)
    code, out, _ = run_judgekit(monkeypatch, capsys, "datasets", "list", "--format", "json")
    rows = {r["id"]: r for r in json.loads(out)["datasets"]}
    assert code == 0
    assert rows["judgekit/bundled"]["available"]
    assert not rows["llmbar/faireval"]["available"]


def test_show_pandalm_json(data_dir, monkeypatch, capsys):
    code, out, _ = run_judgekit(monkeypatch, capsys, "datasets", "show", "pandalm", "--format", "json")
    summary = json.loads(out)
    assert code == 0
    assert summary["n"] == 999
    assert summary["labels"] == {"a": 422, "b": 472, "tie": 105, "none": 0}
    assert summary["votes_per_item"] == {"3": 999}
    assert summary["license"] == "Apache-2.0"
    assert len(summary["examples"]) == 3 and summary["examples"][0]["votes"] == ["b", "b", "b"]


def test_show_mtbench_table_reports_generator_coverage(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_judgekit(monkeypatch, capsys, "datasets", "show", "llmbar/mtbench", "--examples", "1")
    assert code == 0
    assert "both: 192/200, one: 8/200" in out
    assert "gpt-4: 51" in out
    assert "llmbar/mtbench/0" in out and "llmbar/mtbench/1" not in out


def test_show_limit_and_truncation(data_dir, monkeypatch, capsys):
    code, out, _ = run_judgekit(monkeypatch, capsys, "datasets", "show", "llmbar/natural", "--limit", "5",
                       "--examples", "5", "--format", "json")
    summary = json.loads(out)
    assert code == 0 and summary["n"] == 5
    assert all(len(e["instruction"]) <= 200 for e in summary["examples"])
    assert any(e["instruction"].endswith("…") for e in summary["examples"])


def test_show_generic_file_with_mapping(monkeypatch, capsys, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("q,x,y,pick\nAdd 2 and 2.,4,5,1\nSpell cat.,c-a-t,k-a-t,1\n", encoding="utf-8")
    code, out, _ = run_judgekit(monkeypatch, capsys, "datasets", "show", str(path), "--format", "json",
                       "--mapping", "instruction=q,response_a=x,response_b=y,gold=pick", "--labels", "1=a,2=b")
    assert code == 0
    assert json.loads(out)["labels"]["a"] == 2


def test_show_unavailable_dataset_exits_2_naming_the_variable(monkeypatch, capsys):
    monkeypatch.delenv("JUDGEKIT_DATA_DIR", raising=False)
    code, out, err = run_judgekit(monkeypatch, capsys, "datasets", "show", "pandalm")
    assert code == 2 and out == ""
    assert err.startswith("error: pandalm: data not found: set JUDGEKIT_DATA_DIR")


GOOD = {"instruction": "Do it.", "response_a": "done", "response_b": "not done", "gold": "a"}
BAD_FILES = {
    "invalid-json": (lambda: (json.dumps(GOOD) + "\n{oops\n").encode(), "bad.jsonl:2: invalid JSON"),
    "missing-field": (lambda: (json.dumps(GOOD) + "\n" + json.dumps({"instruction": "x", "response_a": "y",
                                                                     "gold": "a"}) + "\n").encode(),
                      "bad.jsonl: line 2: field 'response_b': missing"),
    "empty-response": (lambda: (json.dumps(GOOD | {"response_b": ""}) + "\n").encode(),
                       "bad.jsonl: line 1: field 'response_b': empty response"),
    "label-out-of-range": (lambda: (json.dumps(GOOD) + "\n" + json.dumps(GOOD | {"gold": "3"}) + "\n").encode(),
                           "bad.jsonl: line 2: field 'gold': label '3' out of range"),
    "duplicate-id": (lambda: (json.dumps(GOOD | {"k": 1}) + "\n" + json.dumps(GOOD | {"k": 1}) + "\n").encode(),
                     "bad.jsonl: line 2: field 'k': duplicate id 'bad/1'"),
    "undecodable-bytes": (lambda: json.dumps(GOOD).encode() + b"\n\xff\xfe\n", "bad.jsonl:2: undecodable bytes"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_exits_2_with_one_line_and_writes_nothing(monkeypatch, capsys, tmp_path, case):
    content, expected = BAD_FILES[case]
    data = tmp_path / "data"
    data.mkdir()
    (data / "bad.jsonl").write_bytes(content())
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = run_judgekit(monkeypatch, capsys, "datasets", "show", str(data / "bad.jsonl"), "--mapping", "id=k"
                         if case == "duplicate-id" else "id=", "--format", "json")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and str(data) in err
    assert expected in err
    assert list(work.iterdir()) == [] and [p.name for p in data.iterdir()] == ["bad.jsonl"]
