"""PandaLM's recorded judges as run dirs; the alt-test of a run equals the one of the label table."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import run_judgekit

from judgekit.agreement import alt_test
from judgekit.analysis.trust import annotator_votes, has_annotators, run_alt_test
from judgekit.runs.run_dir import read_run

HUMAN = {0: "tie", 1: "a", 2: "b"}
GPT = {"1": "a", "2": "b", "Tie": "tie", "garbage": None}


@pytest.fixture
def raw(data_dir):
    folder = data_dir / "pandalm" / "data"
    return {name: json.loads((folder / f"{name}-v1.json").read_text())
            for name in ("testset", "gpt-3.5-turbo-testset", "pandalm-7b-testset")}


@pytest.mark.parametrize("judge, file, field, mapping", [
    ("gpt-3.5-turbo", "gpt-3.5-turbo-testset", "gpt_result", GPT),
    ("pandalm-7b", "pandalm-7b-testset", "pandalm_result", HUMAN),
])
def test_import_keeps_votes_and_recorded_verdicts(tmp_path, monkeypatch, capsys, raw, judge, file, field, mapping):
    out = tmp_path / judge
    code, _, err = run_judgekit(monkeypatch, capsys, "import", "pandalm", "--judge", judge, "--out", out)
    assert code == 0, err
    run = read_run(out)
    assert len(run.verdicts) == 999 and run.manifest.judge == f"pandalm:{judge}"
    assert [v.winner for v in run.verdicts] == [mapping[r[field]] for r in raw[file]]
    votes = annotator_votes(run)
    expected = pd.DataFrame({f"annotator {k}": [HUMAN[r[f"annotator{k}"]] for r in raw["testset"]]
                             for k in (1, 2, 3)})
    assert votes.to_numpy().tolist() == expected.to_numpy().tolist()
    assert has_annotators(run)
    # The run-level alt-test is the table-level one on the same columns.
    judges = pd.DataFrame({judge: [mapping[r[field]] for r in raw[file]]}, dtype=object)
    table = alt_test(expected, judges, epsilon=0.15).candidates[judge]
    from_run = run_alt_test(run, epsilon=0.15, name=judge).candidates[judge]
    assert from_run == table
    assert from_run.n_items == 999 - sum(mapping[r[field]] is None for r in raw[file])


def test_existing_out_and_unknown_judge_are_bad_input(tmp_path, monkeypatch, capsys, data_dir):
    code, _, err = run_judgekit(monkeypatch, capsys, "import", "pandalm", "--judge", "gpt-4", "--out", tmp_path / "x")
    assert code == 2 and "not a recorded PandaLM judge" in err and not (tmp_path / "x").exists()
    code, _, err = run_judgekit(monkeypatch, capsys, "import", "pandalm", "--judge", "pandalm-7b", "--out", tmp_path)
    assert code == 2 and "already exists" in err


def test_compare_pairs_every_item_though_71_groups_repeat_their_texts(tmp_path, monkeypatch, capsys, data_dir):
    """Duplicated texts pair one to one in order; a map from text to one id paired 900 of the 999 items."""
    for judge in ("gpt-3.5-turbo", "pandalm-7b"):
        code, _, err = run_judgekit(monkeypatch, capsys, "import", "pandalm", "--judge", judge, "--out",
                                    tmp_path / judge)
        assert code == 0, err
    code, out, err = run_judgekit(monkeypatch, capsys, "compare", tmp_path / "gpt-3.5-turbo", tmp_path / "pandalm-7b",
                                  "--format", "json", "--resamples", "50")
    assert code == 0, err
    (pair,) = json.loads(out)["comparisons"]
    assert pair["n"] == 999
