"""``judgekit verify ifeval``: IFEval's published GPT-4 figures from the staged file, the library's own verdicts on a
perturbed copy, unverifiable instructions reported with their reason, and one-line errors for bad files."""

from __future__ import annotations

import json
import random

import pytest
from conftest import judgekit_process, run_judgekit
from if_verifiable.common import evaluate_instructions
from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT

from judgekit.data import verify

DATA = "ifeval/instruction_following_eval/data"
GPT4 = f"{DATA}/input_response_data_gpt4_20231107_145030.jsonl"
INPUTS = f"{DATA}/input_data.jsonl"
RANDOM_LETTER = {(1122, 1), (1129, 0)}
"""keywords:letter_frequency with '#' and '!': IFEval's checker tests a letter drawn at random (PROVENANCE.md)."""


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _verify(monkeypatch, capsys, responses, *args):
    code, out, err = run_judgekit(monkeypatch, capsys, "verify", "ifeval", responses, "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)


def test_the_gpt4_file_gives_the_published_strict_figures(data_dir, monkeypatch, capsys):
    found = _verify(monkeypatch, capsys, data_dir / GPT4, "--inputs", data_dir / INPUTS)
    assert (found["n_prompts"], found["n_instructions"]) == (541, 834)
    # the paper's Table: 76.89 / 83.57 strict; loose 79.48 / 85.49 here (published 79.30 / 85.37, see docs/ifeval.md)
    assert found["prompt_strict"] == 416 / 541 and round(100 * found["prompt_strict"], 2) == 76.89
    assert found["instruction_strict"] == 697 / 834 and round(100 * found["instruction_strict"], 2) == 83.57
    assert (found["prompt_loose"], found["instruction_loose"]) == (430 / 541, 713 / 834)
    unverifiable = {(i["key"], i["instruction_index"]) for i in found["items"] if i["unverifiable"]}
    assert unverifiable == RANDOM_LETTER and found["n_unverifiable"] == 2
    assert all(i["strict"] is None and i["loose"] is None for i in found["items"] if i["unverifiable"])
    inputs = {r["prompt"]: r for r in _read(data_dir / INPUTS)}
    order = [(inputs[r["prompt"]]["key"] if r["prompt"] in inputs else 2785) for r in _read(data_dir / GPT4)]
    assert list(dict.fromkeys(i["key"] for i in found["items"])) == order  # items in input order
    assert found["per_instruction"]["punctuation:no_comma"] == {"n": 66, "strict": 44 / 66, "loose": 48 / 66,
                                                                 "unverifiable": 0}
    # key 2785 answered the earlier wording ("at least one placeholder"): checked against it, it passes
    placeholders = next(i for i in found["items"] if i["key"] == 2785 and i["instruction_index"] == 1)
    assert placeholders["strict"] is True


def _perturbed(records: list[dict]) -> list[dict]:
    """The staged responses changed in ways the checkers notice: case, commas, first/last lines, asterisks,
    postscripts, truncation, a JSON wrapper (seeded, so the file is the same every run)."""
    rng = random.Random(27)
    edits = [str.upper, str.lower, lambda t: t.replace(".", ","), lambda t: "Sure!\n" + t + "\nHope this helps.",
             lambda t: t.replace("*", ""), lambda t: "**" + t + "**", lambda t: t + "\n\nP.S. More soon.",
             lambda t: t[: len(t) // 3], lambda t: json.dumps({"answer": t}), lambda t: t.replace("\n\n", "\n"),
             lambda t: t]
    return [{**r, "response": rng.choice(edits)(r["response"])} for r in records]


def test_verdicts_equal_the_library_on_a_perturbed_file(data_dir, tmp_path, monkeypatch, capsys):
    records = _perturbed(_read(data_dir / GPT4))
    responses = _jsonl(tmp_path / "perturbed.jsonl", records)
    found = _verify(monkeypatch, capsys, responses, "--inputs", data_dir / INPUTS)
    by_prompt = {r["prompt"]: r for r in _read(data_dir / INPUTS)}
    expected, changed = [], 0
    for record, original in zip(records, _read(data_dir / GPT4), strict=True):
        changed += record["response"] != original["response"]
        task = by_prompt.get(record["prompt"]) or {  # key 2785's earlier wording (meta_datasets/ifeval/)
            **next(r for r in by_prompt.values() if r["key"] == 2785), "prompt": record["prompt"],
            "kwargs": [{"num_highlights": 3}, {"num_placeholders": 1}]}
        results, _ = evaluate_instructions(record["response"], task["instruction_id_list"], task["kwargs"],
                                           task["prompt"], INSTRUCTION_DICT)  # the library's own call, whole prompt
        for index, result in enumerate(results or [None] * len(task["instruction_id_list"])):
            if (task["key"], index) in RANDOM_LETTER:
                continue
            expected.append((task["key"], index, task["instruction_id_list"][index],
                             result.strict_pass if result else False, result.loose_pass if result else False))
    assert changed > 400
    got = [(i["key"], i["instruction_index"], i["instruction_id"], i["strict"], i["loose"]) for i in found["items"]
           if (i["key"], i["instruction_index"]) not in RANDOM_LETTER]
    assert got == expected
    assert found["instruction_strict"] < 697 / 834  # the edits broke instructions the original followed


def test_a_checker_that_draws_leaves_the_callers_random_state_alone():
    random.seed(5)
    expected = [random.random() for _ in range(3)]
    random.seed(5)
    found = verify.check("keywords:letter_frequency", {"letter": "#", "let_frequency": 2, "let_relation": "at least"},
                         prompt="Use at least 2 '#'.", response="## a ## b", seed="x")
    assert found.strict is None and "drew part of its constraint at random" in found.unverifiable
    assert [random.random() for _ in range(3)] == expected
    same = verify.check("keywords:letter_frequency", {"letter": "b", "let_frequency": 2, "let_relation": "at least"},
                        prompt="p", response="a b b", seed="x")
    assert same == verify.Check(True, True, None)


def test_an_instruction_without_its_nltk_model_is_unverifiable_not_guessed(tmp_path):
    """When the punkt_tab model cannot be written (the cache dir is a file), sentence counts are reported
    unverifiable with the reason, and other checks still run."""
    inputs = _jsonl(tmp_path / "inputs.jsonl", [{
        "key": 1, "prompt": "Write two sentences without commas.",
        "instruction_id_list": ["length_constraints:number_sentences", "punctuation:no_comma"],
        "kwargs": [{"relation": "less than", "num_sentences": 3}, {}]}])
    responses = _jsonl(tmp_path / "responses.jsonl", [{"prompt": "Write two sentences without commas.",
                                                       "response": "One sentence. Two sentences."}])
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    env = {"JUDGEKIT_CACHE_DIR": str(blocker), "NLTK_DATA": str(tmp_path / "empty")}
    done = judgekit_process("verify", "ifeval", responses, "--inputs", inputs, "--format", "json", env=env, timeout=300)
    assert done.code == 0, done.err
    sentences, commas = json.loads(done.out)["items"]
    assert sentences["strict"] is None and sentences["unverifiable"].startswith("NLTK data missing: could not write")
    assert (commas["strict"], commas["unverifiable"]) == (True, None)
    assert json.loads(done.out)["prompt_strict"] == 0.0


@pytest.mark.parametrize(("inputs", "responses", "message"), [
    ([{"key": 1, "prompt": "Say hi.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}],
     [{"prompt": "Say hello.", "response": "hi"}], "responses.jsonl: line 1: field 'prompt': matches no prompt"),
    ([{"key": 1, "prompt": "Say hi.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}],
     [{"prompt": "Say hi.", "response": "hi"}, {"prompt": "Say hi.", "response": "hey"}],
     "responses.jsonl: line 2: field 'prompt': prompt 1 already answered at line 1"),
    ([{"key": 1, "prompt": "Say hi.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{"n": 2}]}],
     [{"prompt": "Say hi.", "response": "hi"}],
     "inputs.jsonl: line 1: field 'kwargs[0]': 'n' is not an argument of punctuation:no_comma"),
    ([{"key": 1, "prompt": "Say hi.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": []}],
     [{"prompt": "Say hi.", "response": "hi"}], "inputs.jsonl: line 1: field 'kwargs': expected one argument object"),
    ([{"key": 1, "prompt": "Say hi.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}],
     [{"prompt": "Say hi.", "response": 3}], "responses.jsonl: line 1: field 'response': expected text, got int"),
])
def test_bad_files_are_one_line_errors(tmp_path, monkeypatch, capsys, inputs, responses, message):
    code, out, err = run_judgekit(monkeypatch, capsys, "verify", "ifeval",
                                  _jsonl(tmp_path / "responses.jsonl", responses),
                                  "--inputs", _jsonl(tmp_path / "inputs.jsonl", inputs))
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_an_unknown_instruction_is_reported_unverifiable(tmp_path, monkeypatch, capsys):
    inputs = _jsonl(tmp_path / "inputs.jsonl", [{"key": 7, "prompt": "Rhyme.", "kwargs": [{}, {}],
                                                 "instruction_id_list": ["style:rhyme", "punctuation:no_comma"]}])
    found = _verify(monkeypatch, capsys, _jsonl(tmp_path / "r.jsonl", [{"prompt": "Rhyme.", "response": "a, b"}]),
                    "--inputs", inputs)
    rhyme, comma = found["items"]
    assert rhyme["unverifiable"] == f"{verify.LIBRARY} has no checker for 'style:rhyme'" and rhyme["strict"] is None
    assert (comma["strict"], comma["loose"]) == (False, False)
    assert found["per_instruction"]["style:rhyme"] == {"n": 1, "strict": 0.0, "loose": 0.0, "unverifiable": 1}


def test_a_users_card_labels_its_own_responses_by_program(tmp_path):
    """A card of one's own with ``verify``: relative paths are the card's folder's; labels come from the checker."""
    from judgekit.data import load_dataset

    _jsonl(tmp_path / "inputs.jsonl", [{"key": "a", "prompt": "No commas please.", "kwargs": [{}],
                                        "instruction_id_list": ["punctuation:no_comma"]},
                                       {"key": "b", "prompt": "Shout.", "kwargs": [{}],
                                        "instruction_id_list": ["change_case:english_capital"]}])
    _jsonl(tmp_path / "answers.jsonl", [{"prompt": "Shout.", "response": "HELLO THERE FRIEND"},
                                        {"prompt": "No commas please.", "response": "Fine, sure."}])
    card = tmp_path / "card.yaml"
    card.write_text("id: mine\ndescription: d\nlocal: inputs.jsonl\nlicense: x\ncitation: y\n"
                    "verify: {program: ifeval, responses: answers.jsonl}\n"
                    "classify: {id: item, input: task, response: response, label: strict,"
                    " labels: {pass: pass, fail: fail},"
                    " positive: fail, cluster: key, metadata: [instruction_id]}\n", encoding="utf-8")
    loaded = load_dataset(str(card))
    assert [(e.id, e.gold, e.cluster, e.metadata["instruction_id"]) for e in loaded.examples] == [
        ("mine/b:0", "pass", "b", "change_case:english_capital"), ("mine/a:0", "fail", "a", "punctuation:no_comma")]
    assert "Check this one instruction of it: Your entire response should be in English, and in all capital letters." \
        in loaded.examples[0].input
    assert f"verdicts by {verify.LIBRARY}" in loaded.source


@pytest.mark.parametrize(("args", "message"), [
    (("run", "--dataset", "halueval", "--responses", "r.jsonl", "--judge", "mock:first"),
     "--responses: halueval is labelled by people, not by a program"),
    (("verify", "ifeval", "r.jsonl"), "ifeval: data not found: set JUDGEKIT_DATA_DIR"),
    (("verify", "ifeval-pairs", "r.jsonl", "r.jsonl", "--out", "o", "--names", "x,x"), "--names: two different names"),
])
def test_misuse_is_a_one_line_error(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JUDGEKIT_DATA_DIR", str(tmp_path / "nowhere"))
    (tmp_path / "r.jsonl").write_text('{"prompt": "p", "response": "r"}\n', encoding="utf-8")
    code, out, err = run_judgekit(monkeypatch, capsys, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_card_with_verify_needs_a_label_set(tmp_path):
    from judgekit.data import load_dataset
    from judgekit.errors import BadInput

    card = tmp_path / "card.yaml"
    card.write_text("id: mine\ndescription: d\nlocal: inputs.jsonl\nlicense: x\ncitation: y\n"
                    "verify: {program: ifeval, responses: answers.jsonl}\nfields: {}\n", encoding="utf-8")
    with pytest.raises(BadInput, match="'verify' labels single outputs: the card needs 'classify'"):
        load_dataset(str(card))


def test_the_staged_ifeval_sets_hold_provenances_counts(data_dir):
    from judgekit.data import load_dataset, summarize

    instructions = summarize(load_dataset("ifeval"))
    assert (instructions["n"], instructions["gold"], instructions["clusters"]) == (
        834, {"pass": 697, "fail": 135, "none": 2}, 541)
    prompts = summarize(load_dataset("ifeval/prompts"))
    assert (prompts["n"], prompts["gold"]) == (541, {"pass": 416, "fail": 123, "none": 2})
