"""Judges held against IFEval's program: a single-output run on ``ifeval`` through the real SDK and a scripted
loopback server, reported per instruction type; mixed checklists (program where it can, judge where it cannot);
pairs whose truth is the program's."""

from __future__ import annotations

import json
import re

import pytest
from conftest import run_judgekit
from servers import ScriptedServer
from sklearn.metrics import cohen_kappa_score

from judgekit.data import load_dataset
from judgekit.runs.run_dir import read_run

GPT4 = "ifeval/instruction_following_eval/data/input_response_data_gpt4_20231107_145030.jsonl"
FIRST = 60
"""GPT-4's first responses judged here: keys 1122 and 1129 (an unverifiable instruction each) are among them."""


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.fixture
def responses(data_dir, tmp_path):
    path = tmp_path / "gpt4-first.jsonl"
    path.write_text("".join(_lines(data_dir / GPT4)[:FIRST]), encoding="utf-8")
    return path


def _run(monkeypatch, capsys, server, *args):
    code, out, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url",
                                  server.openai_url, "--quiet", *args)
    assert code == 0, err
    return out


def test_a_judge_run_on_ifeval_reports_accuracy_and_kappa_per_instruction_type(responses, tmp_path, monkeypatch,
                                                                                capsys):
    items = load_dataset("ifeval", responses=responses).examples
    assert len({i.metadata["key"] for i in items}) == FIRST

    def judge(call):
        """Right about commas (the only rule it knows), "pass" for everything else."""
        item = next(i for i in items if i.input in call.prompt and i.output in call.prompt)
        if item.metadata["instruction_id"] == "punctuation:no_comma":
            return "Checked every character.\n" + ("fail" if "," in item.output else "pass")
        return "Looks fine.\npass"

    with ScriptedServer(answer=judge) as server:
        _run(monkeypatch, capsys, server, "--protocol", "classify/binary", "--dataset", "ifeval", "--responses",
             responses, "--out", tmp_path / "run")
        assert server.total_answered() == len(items)
    run = read_run(tmp_path / "run")
    assert (run.manifest.kind, run.manifest.labels,
            run.manifest.positive_label) == ("classify", ("pass", "fail"), "fail")
    code, out, err = run_judgekit(monkeypatch, capsys, "report", tmp_path / "run", "--by", "instruction_id",
                                  "--format", "json", "--resamples", "200")
    assert code == 0, err
    row = json.loads(out)["runs"][0]
    labelled = [i for i in items if i.gold is not None]
    judged = {v.example_id: v.label for v in run.verdicts}
    assert len(items) - len(labelled) == 2 and row["n"] == len(labelled)  # 1122 and 1129: judged, not scored
    assert row["cohen_kappa"] == pytest.approx(cohen_kappa_score([i.gold for i in labelled],
                                                                 [judged[i.id] for i in labelled]))
    assert row["n_clusters"] == len({i.metadata["key"] for i in labelled})  # resampled by prompt
    commas = row["groups"]["punctuation:no_comma"]
    comma_items = [i for i in labelled if i.metadata["instruction_id"] == "punctuation:no_comma"]
    assert {i.gold for i in comma_items} == {"pass", "fail"}
    assert (commas["n"], commas["accuracy"], commas["cohen_kappa"]) == (len(comma_items), 1.0, 1.0)
    for kind, group in row["groups"].items():
        members = [i for i in labelled if i.metadata["instruction_id"] == kind]
        assert group["n"] == len(members)
        if kind != "punctuation:no_comma":  # the judge says pass: accuracy is the program's pass rate
            assert group["accuracy"] == pytest.approx(sum(i.gold == "pass" for i in members) / len(members))
            assert group["cohen_kappa"] in (0.0, None) or group["cohen_kappa"] == pytest.approx(0.0)
        assert group["accuracy_ci"] is not None


def _answer_all(word):
    def judge(call):
        numbers = re.findall(r"^(\d+)\. ", call.prompt, flags=re.M)
        return "\n".join(f"{n}. {word}" for n in numbers)
    return judge


def test_a_mixed_checklist_asks_the_judge_only_what_no_program_checks(responses, tmp_path, monkeypatch, capsys):
    prompts = load_dataset("ifeval/prompts", responses=responses).examples
    with ScriptedServer(answer=_answer_all("NO")) as server:
        _run(monkeypatch, capsys, server, "--protocol", "classify/checklist-program", "--dataset", "ifeval/prompts",
             "--responses", responses, "--out", tmp_path / "mixed")
        asked = server.total_answered()
    with ScriptedServer(answer=_answer_all("NO")) as server:
        _run(monkeypatch, capsys, server, "--protocol", "classify/checklist", "--dataset", "ifeval/prompts",
             "--responses", responses, "--out", tmp_path / "judge")
        assert server.total_answered() == len(prompts)  # judge alone: every prompt's items asked
    assert asked == 2  # 1122 and 1129: their random-letter instruction only
    mixed = {v.example_id: v for v in read_run(tmp_path / "mixed").verdicts}
    alone = {v.example_id: v for v in read_run(tmp_path / "judge").verdicts}
    for example in prompts:
        verdict = mixed[example.id]
        sources = [a["source"] for a in verdict.details["answers"]]
        n = len(example.metadata["instructions"])
        assert verdict.details["items"] == [i["description"] for i in example.metadata["instructions"]]
        assert verdict.details["decided_by"] == {"program": sources.count("program"), "judge": sources.count("judge")}
        assert sources.count("judge") == (1 if example.metadata["key"] in ("1122", "1129") else 0)
        if example.gold is not None:  # the program is the truth, so where it decides every item it agrees
            assert verdict.label == example.gold
        assert alone[example.id].details["decided_by"] == {"program": 0, "judge": n}
        assert alone[example.id].details["drfr"] == 0.0 and alone[example.id].label == "fail"
    program_drfr = [mixed[e.id].details["drfr"] for e in prompts]
    assert 0.7 < sum(program_drfr) / len(program_drfr) < 1.0


def test_the_mock_judge_runs_the_mixed_checklist(responses, tmp_path, monkeypatch, capsys):
    code, out, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:reply=1. YES", "--quiet", "--protocol",
                                  "classify/checklist-program", "--dataset", "ifeval/prompts", "--responses", responses,
                                  "--out", tmp_path / "run")
    assert code == 0, err
    run = read_run(tmp_path / "run")
    assert run.manifest.usage.calls == 2
    assert sum(v.details["decided_by"]["judge"] for v in run.verdicts) == 2
    assert all(v.label is not None for v in run.verdicts)


@pytest.mark.slow
def test_the_embedded_judge_runs_the_mixed_checklist(data_dir, tmp_path, monkeypatch, capsys):
    lines = _lines(data_dir / GPT4)
    picked = tmp_path / "two.jsonl"
    picked.write_text(lines[19] + lines[0], encoding="utf-8")  # key 1122 (one item for the judge), key 1000
    code, out, err = run_judgekit(monkeypatch, capsys, "run", "--quiet", "--protocol", "classify/checklist-program",
                                  "--dataset", "ifeval/prompts", "--responses", picked, "--out", tmp_path / "run")
    assert code == 0, err
    first, second = read_run(tmp_path / "run").verdicts
    assert first.details["decided_by"] == {"program": 1, "judge": 1} and first.usage.calls == 1
    assert second.details["decided_by"]["judge"] == 0 and second.usage.calls == 0


def test_pairs_from_programs(data_dir, tmp_path, monkeypatch, capsys):
    """GPT-4 against a copy whose responses lost their commas-free form: the program orders each pair, ties drop."""
    lines = [json.loads(line) for line in _lines(data_dir / GPT4)[:FIRST]]
    worse = [{**r, "response": r["response"].replace(" ", ", ", 2) if i % 2 else r["response"]}
             for i, r in enumerate(lines)]
    paths = []
    for name, records in (("gpt4", lines), ("commas", worse)):
        paths.append(tmp_path / f"{name}.jsonl")
        paths[-1].write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    code, out, err = run_judgekit(monkeypatch, capsys, "verify", "ifeval-pairs", *paths, "--out", tmp_path / "pairs",
                                  "--names", "gpt-4,commas", "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    per_file = []
    for path in paths:
        code, out, err = run_judgekit(monkeypatch, capsys, "verify", "ifeval", path, "--format", "json")
        met: dict = {}
        for item in json.loads(out)["items"]:
            met.setdefault(str(item["key"]), []).append(item["strict"])
        per_file.append(met)
    pairs = load_dataset(str(tmp_path / "pairs" / "card.yaml")).examples
    assert len(pairs) == summary["pairs"] > 0
    assert set(summary["unverifiable"]) == {1122, 1129} and summary["unmatched"] == []
    for example in pairs:
        key = example.id.split("/")[-1]
        counts = {"gpt-4": sum(map(bool, per_file[0][key])), "commas": sum(map(bool, per_file[1][key]))}
        winner = example.generator_a if example.gold == "a" else example.generator_b
        assert counts[winner] > counts[({"gpt-4", "commas"} - {winner}).pop()]
        assert example.metadata["satisfied_a"] == counts[example.generator_a]
    tied = [k for k in per_file[0] if None not in per_file[0][k] + per_file[1][k]
            and sum(map(bool, per_file[0][k])) == sum(map(bool, per_file[1][k]))]
    assert sorted(map(str, summary["ties"])) == sorted(tied) and len(tied) + len(pairs) + 2 == FIRST
    assert {e.gold for e in pairs} == {"a", "b"}  # the better response is not always in one slot
    code, out, err = run_judgekit(monkeypatch, capsys, "verify", "ifeval-pairs", *paths, "--out", tmp_path / "pairs")
    assert code == 2 and "--force" in err
