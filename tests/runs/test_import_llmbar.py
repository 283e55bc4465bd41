"""`judgekit import llmbar`: every kind of recorded run, its records, and bad input.

Expected values are read from the recorded result.json files themselves, item
by item, so these tests check the mapping rather than remembered numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_judgekit as judgekit

from judgekit.data import load_dataset
from judgekit.runs.importers.llmbar import import_llmbar, protocol_for, read_evaluator_dir
from judgekit.runs.run_dir import read_run

NATURAL = "llmbar/Dataset/LLMBar/Natural/evaluators"
GPTINST = "llmbar/Dataset/LLMBar/Adversarial/GPTInst/evaluators"
MTBENCH = "llmbar/Dataset/Processed/MT-Bench/evaluators"
WINNER = {"1": "a", "2": "b", None: None}


def _recorded(evaluator_dir: Path) -> list[dict]:
    return json.loads((evaluator_dir / "result.json").read_text())


@pytest.mark.parametrize("strategy", ["Vanilla", "CoT", "Metrics_Reference", "Swap", "Swap_CoT", "Rating",
                                      "Rating_Metrics_Reference"])
def test_each_kind_of_run_maps_winners_and_raw_text(data_dir, tmp_path, strategy):
    evaluator_dir = data_dir / NATURAL / "GPT-4" / strategy
    run = import_llmbar(evaluator_dir, tmp_path / "run")
    items = _recorded(evaluator_dir)
    assert len(run.verdicts) == len(items) == 100
    for item, verdict in zip(items, run.verdicts, strict=True):
        last = item["results"][-1]
        first, second = verdict.orders
        assert (first.swapped, second.swapped) == (False, True)
        # LLMBar's swap=True winner is already in the original numbering: no flip.
        assert first.winner == WINNER[last["swap = False"]["winner"]]
        assert second.winner == WINNER[last["swap = True"]["winner"]]
        if "score_1" in last:
            assert first.raw == second.raw == f"score_1: {last['score_1'][0]}\nscore_2: {last['score_2'][0]}"
            if last["score_1"][0].isdigit() and last["score_2"][0].isdigit():
                assert first.scores == {"a": float(last["score_1"][0]), "b": float(last["score_2"][0])}
        else:
            assert first.raw == last["swap = False"]["completion"][0]
            assert second.raw == last["swap = True"]["completion"][0]
        expected_final = first.winner if first.winner == second.winner else "tie"
        if first.winner is None or second.winner is None:
            expected_final = None
        assert verdict.winner == expected_final


def test_stages_and_first_swap_round_are_kept_in_details(data_dir, tmp_path):
    mr_dir = data_dir / NATURAL / "GPT-4" / "Metrics_Reference"
    mr = import_llmbar(mr_dir, tmp_path / "mr")
    first_item = _recorded(mr_dir)[0]
    stages = {c.stage: c.text for c in mr.verdicts[0].transcript}
    assert stages == {"metrics": first_item["results"][0][0], "reference": first_item["results"][1][0]}

    swap_dir = data_dir / NATURAL / "GPT-4" / "Swap"
    swap = import_llmbar(swap_dir, tmp_path / "swap")
    two_rounds = [(i, item) for i, item in enumerate(_recorded(swap_dir)) if len(item["results"]) == 2]
    assert two_rounds, "the Swap run has second rounds"
    for i, item in two_rounds:
        first_round = swap.verdicts[i].details["first_round"]
        assert first_round["a_first"]["raw"] == item["results"][0]["swap = False"]["completion"][0]
        assert first_round["b_first"]["winner"] == WINNER[item["results"][0]["swap = True"]["winner"]]
        # the deciding text is the second round's, and LLMBar's prompt text is not copied
        assert swap.verdicts[i].orders[0].raw == item["results"][1]["swap = False"]["completion"][0]
        assert item["results"][1]["swap = False"]["prompt"][:200] not in (tmp_path / "swap/verdicts.jsonl").read_text()


def test_rating_ties_keep_llmbar_position_rule(data_dir, tmp_path):
    run = import_llmbar(data_dir / GPTINST / "GPT-4" / "Rating", tmp_path / "run")
    tied = [v for v in run.verdicts if v.details.get("tie_broken_by_position")]
    assert tied
    for verdict in tied:
        assert verdict.orders[0].scores["a"] == verdict.orders[0].scores["b"]
        assert (verdict.orders[0].winner, verdict.orders[1].winner) == ("b", "a")
        assert verdict.winner == "tie"


def test_unparseable_verdicts_stay_invalid_with_their_text(data_dir, tmp_path):
    evaluator_dir = data_dir / MTBENCH / "PaLM2" / "Vanilla_NoRules"
    run = import_llmbar(evaluator_dir, tmp_path / "run")
    items = _recorded(evaluator_dir)
    invalid = [(item, v) for item, v in zip(items, run.verdicts, strict=True) if v.winner is None]
    nulls = sum(item["results"][-1][k]["winner"] is None for item in items for k in ("swap = False", "swap = True"))
    assert nulls == sum(o.winner is None for v in run.verdicts for o in v.orders) > 0
    for item, verdict in invalid:
        assert verdict.invalid_reason == "unparseable"
        for order, key in zip(verdict.orders, ("swap = False", "swap = True"), strict=True):
            assert order.raw == item["results"][-1][key]["completion"][0]


def test_manifest_ids_and_generators_match_the_dataset_loader(data_dir, tmp_path):
    run = import_llmbar(data_dir / MTBENCH / "GPT-4" / "Vanilla_NoRules", tmp_path / "run")
    loaded = load_dataset("llmbar/mtbench")
    assert [e.id for e in run.examples] == [e.id for e in loaded.examples]
    assert [v.example_id for v in run.verdicts] == [e.id for e in loaded.examples]
    assert [(e.generator_a, e.generator_b) for e in run.examples] == \
        [(e.generator_a, e.generator_b) for e in loaded.examples]
    assert sum(e.generator_a is not None and e.generator_b is not None for e in run.examples) == 192
    manifest = read_run(tmp_path / "run").manifest
    assert manifest.invalid_policy == "llmbar"
    assert manifest.source == str((data_dir / MTBENCH / "GPT-4" / "Vanilla_NoRules").resolve())
    assert (manifest.judge, manifest.judge_model, manifest.protocol, manifest.dataset) == \
        ("llmbar:GPT-4", "gpt-4", "llmbar/vanilla", "llmbar/mtbench")
    assert manifest.dataset_hash == loaded.content_hash
    assert manifest.complete and manifest.n_verdicts == manifest.n_examples == 200


@pytest.mark.parametrize(("evaluator", "model"), [("ChatGPT", "gpt-3.5-turbo"), ("ChatGPT-0301", "gpt-3.5-turbo"),
                                                  ("LLaMA2", "llama-2-70b-chat"), ("Falcon", "falcon-180b-chat"),
                                                  ("PaLM2", "palm-2")])
def test_evaluator_names_map_to_models(data_dir, evaluator, model):
    imported = read_evaluator_dir(data_dir / NATURAL / evaluator / "Vanilla_NoRules")
    assert imported.manifest.judge_model == model
    assert imported.examples[0].id == "llmbar/natural/0"


def test_protocol_ids():
    assert [protocol_for(s) for s in ("Vanilla_NoRules", "Vanilla", "Metrics_Reference", "Swap_CoT", "Rating",
                                      "Rating_NoRules", "Vanilla_1shot")] == [
        "llmbar/vanilla", "llmbar/rules", "llmbar/metrics-reference", "llmbar/swap-cot", "llmbar/rating",
        "llmbar/rating-norules", "llmbar/rules-1shot"]


def test_cli_import_with_judge_model_override(data_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    code, _, err = judgekit(monkeypatch, capsys, "import", "llmbar", data_dir / GPTINST / "ChatGPT-0301" / "CoT",
                            "--out", out, "--judge-model", "gpt-3.5-turbo-0301")
    assert code == 0, err
    assert "imported 92 verdicts" in err
    manifest = read_run(out).manifest
    assert (manifest.judge, manifest.judge_model, manifest.dataset) == \
        ("llmbar:ChatGPT-0301", "gpt-3.5-turbo-0301", "llmbar/adversarial/gptinst")


# ---------------------------------------------------------------- bad input


def _fake_evaluator(tmp_path: Path, items: object, llm: str = "GPT-4") -> Path:
    """An evaluator dir laid out like LLMBar's Natural subset, holding the given result.json."""
    evaluator_dir = tmp_path / "LLMBar" / "Dataset" / "LLMBar" / "Natural" / "evaluators" / llm / "Vanilla"
    evaluator_dir.mkdir(parents=True)
    (evaluator_dir / "result.json").write_text(json.dumps(items))
    return evaluator_dir


def _assert_clean_failure(code: int, err: str, out: Path, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists()
    assert not any(p.name.startswith(f".{out.name}") for p in out.parent.iterdir()), "staging left behind"


def test_missing_result_json_exits_2(tmp_path, monkeypatch, capsys):
    evaluator_dir = tmp_path / "LLMBar" / "Natural" / "evaluators" / "GPT-4" / "Vanilla"
    evaluator_dir.mkdir(parents=True)
    out = tmp_path / "out" / "run"
    out.parent.mkdir()
    code, _, err = judgekit(monkeypatch, capsys, "import", "llmbar", evaluator_dir, "--out", out)
    _assert_clean_failure(code, err, out, "result.json", "missing")


def test_not_an_evaluator_dir_exits_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "somewhere").mkdir()
    (tmp_path / "somewhere" / "result.json").write_text("[]")
    out = tmp_path / "run"
    code, _, err = judgekit(monkeypatch, capsys, "import", "llmbar", tmp_path / "somewhere", "--out", out)
    _assert_clean_failure(code, err, out, "not a LLMBar evaluator dir")


@pytest.mark.parametrize(("mutate", "needles"), [
    (lambda items: {"items": items}, ("result.json", "expected a JSON array")),
    (lambda items: [{k: v for k, v in items[0].items() if k != "results"}, *items[1:]],
     ("item 0", "field 'results'")),
    (lambda items: [*items[:3], {**items[3], "results": [{"swap = False": {"winner": "1"}}]}, *items[4:]],
     ("item 3", "'swap = True'")),
    (lambda items: [*items[:5], {**items[5], "results": [{"swap = False": {"winner": "3", "completion": ["x", "stop"]},
                                                         "swap = True": {"winner": "1", "completion": ["y", "stop"]}}]},
                    *items[6:]],
     ("item 5", "field 'winner'")),
    (lambda items: [*items[:7], {**items[7], "results": [{"swap = False": {"winner": "1", "completion": None},
                                                         "swap = True": {"winner": "1", "completion": ["y", "stop"]}}]},
                    *items[8:]],
     ("item 7", "completion")),
    (lambda items: [*items[:2], {**items[2], "label": 3 - items[2]["label"]}, *items[3:]],
     ("item 2", "field 'label'", "llmbar/natural/2")),
    (lambda items: items[:-1], ("holds 99 items", "llmbar/natural has 100")),
])
def test_wrong_shape_exits_2_naming_item_and_field(data_dir, tmp_path, monkeypatch, capsys, mutate, needles):
    items = _recorded(data_dir / NATURAL / "GPT-4" / "Vanilla")
    evaluator_dir = _fake_evaluator(tmp_path, mutate(items))
    out = tmp_path / "run"
    code, _, err = judgekit(monkeypatch, capsys, "import", "llmbar", evaluator_dir, "--out", out)
    _assert_clean_failure(code, err, out, *needles)


def test_unknown_evaluator_needs_judge_model(data_dir, tmp_path, monkeypatch, capsys):
    evaluator_dir = _fake_evaluator(tmp_path, _recorded(data_dir / NATURAL / "GPT-4" / "Vanilla"), llm="Mystery")
    out = tmp_path / "run"
    code, _, err = judgekit(monkeypatch, capsys, "import", "llmbar", evaluator_dir, "--out", out)
    _assert_clean_failure(code, err, out, "Mystery", "--judge-model")
    code, _, err = judgekit(monkeypatch, capsys, "import", "llmbar", evaluator_dir, "--out", out,
                            "--judge-model", "mystery-7b")
    assert code == 0, err
    assert read_run(out).manifest.judge_model == "mystery-7b"


def test_existing_out_is_refused(data_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = judgekit(monkeypatch, capsys, "import", "llmbar", data_dir / NATURAL / "GPT-4" / "Vanilla",
                            "--out", out)
    assert code == 2 and "already exists" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def _own_subset(tmp_path: Path, name: str) -> Path:
    """A user's own evaluations in LLMBar's layout: <subset>/dataset.json and evaluators/<LLM>/<strategy>/."""
    pairs = [{"input": f"Question {i}?", "output_1": f"good {i}", "output_2": f"bad {i}", "label": 1 + i % 2}
             for i in range(3)]
    subset = tmp_path / "my-evals" / name
    evaluator_dir = subset / "evaluators" / "GPT-4" / "Vanilla"
    evaluator_dir.mkdir(parents=True)
    (subset / "dataset.json").write_text(json.dumps(pairs))
    results = [{**p, "results": [{"swap = False": {"winner": "1", "completion": ["Output (a)", "stop"]},
                                  "swap = True": {"winner": "1", "completion": ["Output (b)", "stop"]}}]}
               for p in pairs]
    (evaluator_dir / "result.json").write_text(json.dumps(results))
    return evaluator_dir


@pytest.mark.parametrize("name", ["Custom", "hanna", "Natural"])
def test_any_subset_in_llmbar_layout_imports_into_an_empty_out_folder(tmp_path, monkeypatch, capsys, name):
    evaluator_dir = _own_subset(tmp_path, name)
    out = tmp_path / "run"
    out.mkdir()  # made ahead by the user, still empty
    code, _, err = judgekit(monkeypatch, capsys, "import", "llmbar", evaluator_dir, "--out", out)
    assert code == 0, err
    run = read_run(out)
    assert run.manifest.dataset == f"llmbar-layout/{name}" and run.manifest.judge == "llmbar:GPT-4"
    assert [e.gold for e in run.examples] == ["a", "b", "a"]
    assert [v.winner for v in run.verdicts] == ["a", "a", "a"]  # winner "1" in both orders (LLMBar's numbering)
    assert [v.orders[1].raw for v in run.verdicts] == ["Output (b)"] * 3
