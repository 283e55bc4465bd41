"""Scored datasets (pointwise): HANNA through its card, generic files by mapping, HANNA's recorded judges."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_judgekit

from judgekit.data import load_dataset, summarize
from judgekit.errors import BadInput
from judgekit.runs.importers.hanna import import_hanna, read_hanna
from judgekit.runs.run_dir import read_run

CRITERIA = ("relevance", "coherence", "empathy", "surprise", "engagement", "complexity")


def _hanna_csv(data_dir):
    return data_dir / "hanna" / "hanna_metric_scores_llm.csv"


@pytest.mark.needs_data
def test_hanna_loads_per_annotator_scores(data_dir):
    dataset = load_dataset("hanna")
    assert dataset.kind == "pointwise" and len(dataset.examples) == 1056
    frame = pd.read_csv(_hanna_csv(data_dir))
    # story 96 * r + i is row r, position i; its human slots are the Human k XX lists
    for story in (0, 100, 1055):
        r, i = divmod(story, 96)
        example = dataset.examples[story]
        assert example.id == f"hanna/{story}" and example.input_id == str(i)
        assert example.system == frame["Model"][r]
        want = [json.loads(frame[f"Human {k} CH"][r])[i] for k in (1, 2, 3)]
        assert list(example.criteria["coherence"].scores) == want
        # the file's own mean column is the mean of the three slots
        assert example.criteria["coherence"].mean == pytest.approx(json.loads(frame["Coherence"][r])[i])
    assert set(dataset.examples[0].criteria) == set(CRITERIA)
    summary = summarize(dataset)
    assert summary["inputs"] == 96 and len(summary["systems"]) == 11 and summary["with_text"] == 0


def test_generic_wide_file_by_mapping(tmp_path):
    path = tmp_path / "scores.csv"
    pd.DataFrame({
        "prompt": ["p1", "p1", "p2"], "text": ["a", "b", "c"], "model": ["m1", "m2", "m1"],
        "flu1": [1, 4, 5], "flu2": [2, "", 5], "rel1": [3, 3, 1], "rel2": [3, 2, 1],
    }).to_csv(path, index=False)
    dataset = load_dataset(str(path), mapping="input=prompt,response=text,system=model,"
                                               "score.fluency=flu1+flu2,score.relevance=rel1+rel2,scale=1-5")
    assert dataset.kind == "pointwise"
    second = dataset.examples[1]
    assert (second.input_id, second.response, second.system) == ("p1", "b", "m2")
    assert second.criteria["fluency"].scores == (4.0,)  # the empty cell: an annotator who did not rate
    assert second.criteria["relevance"].scores == (3.0, 2.0)


def test_generic_long_file_groups_criteria_of_one_response(tmp_path):
    path = tmp_path / "long.jsonl"
    rows = [{"doc": "d1", "sys": "A", "aspect": "fluency", "s1": 4, "s2": 5, "out": "x"},
            {"doc": "d1", "sys": "A", "aspect": "coherence", "s1": 2, "s2": 3, "out": "x"},
            {"doc": "d1", "sys": "B", "aspect": "fluency", "s1": 1, "s2": 1, "out": "y"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dataset = load_dataset(str(path), mapping="input=doc,system=sys,response=out,criterion=aspect,scores=s1+s2")
    assert [e.id for e in dataset.examples] == ["long/d1/A", "long/d1/B"]
    assert dataset.examples[0].criteria["coherence"].scores == (2.0, 3.0)
    assert set(dataset.examples[1].criteria) == {"fluency"}


@pytest.mark.parametrize("mapping, message", [
    ("input=doc,response=out,score.f=s1,scale=1-3", "outside the scale 1-3"),
    ("input=doc,response=out,score.f=nope", "field 'nope': missing"),
    ("input=doc,response=out", "either 'criteria'"),
    ("input=doc,response_a=out,score.f=s1", "mixes pair fields"),
    ("input=doc,response=out,score.f=s1,scale=high", "LOW-HIGH"),
])
def test_bad_scored_input_names_the_field(tmp_path, mapping, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"doc": "d", "out": "x", "s1": 4}) + "\n")
    with pytest.raises(BadInput, match=message):
        load_dataset(str(path), mapping=mapping)


@pytest.mark.needs_data
def test_hanna_recorded_judges_import_as_pointwise_runs(data_dir, tmp_path):
    made = import_hanna(tmp_path / "hanna", llms=("ChatGPT", "Mistral-7B"), prompts=(1,))
    assert [p.name for p in made] == ["chatgpt-p1", "mistral-7b-p1"]
    run = read_run(made[1])
    assert run.manifest.kind == "pointwise" and run.manifest.protocol == "hanna/prompt-1"
    assert len(run.examples) == len(run.verdicts) == 1056
    frame = pd.read_csv(_hanna_csv(data_dir))
    recorded = np.array([json.loads(v) for v in frame["Mistral-7B SU 1"]]).ravel()
    got = [r.criteria["surprise"] for r in run.verdicts]
    in_range = (recorded >= 1) & (recorded <= 5)
    assert [g.score for g, ok in zip(got, in_range) if ok] == list(recorded[in_range])
    assert all(g.score is None and g.invalid_reason == "out_of_range" for g, ok in zip(got, in_range) if not ok)
    assert (~in_range).sum() == 80  # Mistral-7B's surprise scores below 1 under prompt 1


@pytest.mark.needs_data
def test_import_hanna_cli_and_bad_choice(data_dir, tmp_path, monkeypatch, capsys):
    code, _, err = run_judgekit(monkeypatch, capsys, "import", "hanna", "--out", tmp_path / "h",
                                "--llm", "ChatGPT", "--prompt", "2")
    assert code == 0 and (tmp_path / "h" / "chatgpt-p2" / "manifest.json").is_file()
    code, _, err = run_judgekit(monkeypatch, capsys, "import", "hanna", "--out", tmp_path / "x", "--llm", "GPT-5")
    assert code == 2 and "not one of" in err and not (tmp_path / "x").exists()
    with pytest.raises(BadInput, match="--prompt"):
        read_hanna(prompts=(7,))


@pytest.mark.needs_data
def test_datasets_show_and_run_on_a_scored_set(data_dir, monkeypatch, capsys):
    code, out, _ = run_judgekit(monkeypatch, capsys, "datasets", "show", "hanna", "--examples", "1")
    assert code == 0 and "96 inputs" in out and "coherence: 4,5,2" in out
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--dataset", "hanna", "--protocol", "llmbar/vanilla")
    assert code == 2 and "pointwise" in err
