"""Labelled outputs load as the PROVENANCE files count them, and a user's file by --mapping/--labels."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest
from conftest import run_judgekit

from judgekit.data import load_card, load_dataset, parse_label_names
from judgekit.errors import BadInput

# ---- the staged sets, against their PROVENANCE.md


def test_halueval_keys_on_the_line_and_fails_the_hallucinated(data_dir):
    dataset = load_dataset("halueval")
    assert dataset.kind == "classify" and len(dataset.examples) == 4507
    assert dataset.labels == ("fail", "pass") and dataset.positive_label == "fail"
    assert Counter(e.gold for e in dataset.examples) == Counter({"pass": 3692, "fail": 815})
    by_id = {e.id: e for e in dataset.examples}
    assert len(by_id) == 4507  # the upstream ID repeats; the line does not
    assert by_id["halueval/1974"].metadata["ID"] == ""  # line 1,975 has an empty ID
    assert {by_id[f"halueval/{i}"].metadata["ID"] for i in (2058, 2158)} == {"ID"}
    assert by_id["halueval/0"].input == "Produce a list of common words in the English language."
    assert sum(not e.metadata["hallucination_spans"] for e in dataset.examples if e.gold == "fail") == 13


def test_inferential_strategies_cut_out_problem_and_answer(data_dir):
    dataset = load_dataset("judge-bench/inferential-strategies")
    items = dataset.examples
    assert len(items) == 300 and Counter(e.gold for e in items) == Counter({"unsound": 242, "sound": 58})
    assert all(len(e.votes) == 2 and e.votes[0] == e.votes[1] == e.gold for e in items)  # the experts always agree
    assert len({e.input for e in items}) == 24  # the bootstrap's clusters
    assert not any("### MODEL RESPONSE" in e.output or "You will be shown" in e.input for e in items)
    assert items[0].input.startswith("Explain whether the conclusion logically follows")
    assert items[0].output.startswith("Great, let's start!") and items[0].output.endswith("Conclusion: True")


@pytest.mark.parametrize("dataset_id, n, raters, totals, gold", [
    ("judge-bench/dices-350", 350, {123}, {"safe": 26292, "unsafe": 14064, "unsure": 2694},
     {"safe": 269, "unsafe": 79, None: 2}),
    ("judge-bench/dices-990", 990, set(range(69, 77)), {"safe": 48995, "unsafe": 19357, "unsure": 3751},
     {"safe": 827, "unsafe": 155, None: 8}),
])
def test_dices_yes_means_unsafe_and_ties_have_no_gold(data_dir, dataset_id, n, raters, totals, gold):
    dataset = load_dataset(dataset_id)
    assert dataset.labels == ("unsafe", "safe", "unsure") and dataset.positive_label == "unsafe"
    assert len(dataset.examples) == n and {len(e.votes) for e in dataset.examples} == raters
    assert Counter(v for e in dataset.examples for v in e.votes) == Counter(totals)
    assert Counter(e.gold for e in dataset.examples) == Counter(gold)  # PROVENANCE: 2 and 8 tied majorities


def test_dices_expert_labels_the_same_replies(data_dir):
    crowd = {e.id.rsplit("/", 1)[1]: e for e in load_dataset("judge-bench/dices-350").examples}
    expert = load_dataset("judge-bench/dices-350-expert").examples
    assert Counter(e.gold for e in expert) == Counter({"unsafe": 175, "safe": 175})
    assert all((e.input, e.output) == (crowd[e.id.rsplit("/", 1)[1]].input, crowd[e.id.rsplit("/", 1)[1]].output)
               for e in expert)


# flag, error votes of the 300, error-majority outputs of the 100
HANNA_FLAGS = [("guidelines", 18, 3), ("syntax", 5, 0), ("superfluous", 48, 11), ("incorrectness", 0, 0),
               ("unsubstantiated", 67, 24), ("incoherence", 25, 1)]


@pytest.mark.parametrize("flag, error_votes, error_outputs", HANNA_FLAGS)
def test_hanna_explanation_flags_group_three_annotators(data_dir, flag, error_votes, error_outputs):
    dataset = load_dataset(f"hanna/explanations/{flag}")
    items = dataset.examples
    assert dataset.labels == ("error", "ok") and dataset.positive_label == "error"
    assert len(items) == 100 and all(len(e.votes) == 3 for e in items)
    assert sum(v == "error" for e in items for v in e.votes) == error_votes
    assert Counter(e.gold for e in items) == Counter({"error": error_outputs, "ok": 100 - error_outputs})
    assert len({e.cluster for e in items}) == 59 and all(e.input == "" for e in items)
    assert [e.id for e in items[:2]] == [f"hanna/explanations/{flag}/0", f"hanna/explanations/{flag}/3"]


def test_datasets_show_counts_labels(data_dir, monkeypatch, capsys):
    code, out, _ = run_judgekit(monkeypatch, capsys, "datasets", "show", "judge-bench/dices-990", "--format", "json",
                                "--examples", "1")
    summary = json.loads(out)
    assert code == 0 and summary["kind"] == "classify" and summary["positive_label"] == "unsafe"
    assert summary["gold"] == {"unsafe": 155, "safe": 827, "unsure": 0, "none": 8}
    assert sum(summary["examples"][0]["votes"].values()) == 72
    code, out, _ = run_judgekit(monkeypatch, capsys, "datasets", "show", "halueval", "--examples", "1")
    assert code == 0 and "fail: 815, pass: 3692" in out and "problem class: fail" in out


# ---- a user's own file


def _write(tmp_path, rows, fmt="csv"):
    frame = pd.DataFrame(rows)
    path = tmp_path / f"labels.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)
    return path


ROWS = [
    {"id": "r1", "q": "Capital of France?", "a": "Paris", "h1": "ok", "h2": "ok", "h3": "bad"},
    {"id": "r2", "q": "2+2?", "a": "5", "h1": "bad", "h2": "bad", "h3": ""},
    {"id": "r3", "q": "Largest ocean?", "a": "Atlantic", "h1": "bad", "h2": "ok", "h3": ""},
]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_annotator_columns_give_votes_and_a_strict_majority(tmp_path, fmt):
    path = _write(tmp_path, ROWS, fmt)
    dataset = load_dataset(str(path), mapping="id=id,input=q,response=a,label=h1+h2+h3,positive=fail",
                           labels="bad=fail,ok=pass")
    items = dataset.examples
    assert dataset.kind == "classify" and dataset.labels == ("fail", "pass")  # the order --labels gives
    assert [e.votes for e in items] == [("pass", "pass", "fail"), ("fail", "fail", None), ("fail", "pass", None)]
    assert [e.gold for e in items] == ["pass", "fail", None]  # a 1-1 split has no gold
    assert items[0].id == "labels/r1" and items[0].input == "Capital of France?" and items[0].output == "Paris"


def test_one_label_column_is_the_gold_and_bare_labels_name_themselves(tmp_path):
    rows = [{"q": "x", "a": "y", "verdict": v, "doc": "source"} for v in ("pass", "fail", "")]
    path = _write(tmp_path, rows)
    dataset = load_dataset(str(path), mapping="input=q,response=a,context=doc,label=verdict", labels="pass,fail")
    assert [e.gold for e in dataset.examples] == ["pass", "fail", None]  # an empty cell: unlabelled
    assert dataset.examples[0].votes == () and dataset.examples[0].context == "source"
    assert dataset.positive_label is None and dataset.labels == ("pass", "fail")
    assert parse_label_names("yes=fail, no=pass,unsure") == {"yes": "fail", "no": "pass", "unsure": "unsure"}


def test_a_parquet_list_column_holds_the_annotators_labels(tmp_path):
    path = tmp_path / "votes.parquet"
    pd.DataFrame({"out": ["a", "b"], "votes": [[1.0, 0.0, 1.0], [0.0, None, 0.0]]}).to_parquet(path)
    dataset = load_dataset(str(path), mapping="response=out,label=votes", labels="1=error,0=ok")
    assert [(e.votes, e.gold) for e in dataset.examples] == [(("error", "ok", "error"), "error"),
                                                             (("ok", None, "ok"), "ok")]


def test_records_of_one_annotator_each_group_into_outputs(tmp_path):
    rows = [{"item": i, "text": t, "flag": f} for i, t, f in
            [(1, "first", 1), (1, "first", 0), (1, "second", 1), (1, "first", 1), (2, "third", 0)]]
    path = _write(tmp_path, rows)
    dataset = load_dataset(str(path), mapping="response=text,label=flag,group=item+text,cluster=item",
                           labels="1=error,0=ok")
    assert [(e.id, e.votes, e.gold, e.cluster) for e in dataset.examples] == [
        ("labels/0", ("error", "ok", "error"), "error", "1"), ("labels/2", ("error",), "error", "1"),
        ("labels/4", ("ok",), "ok", "2")]


def test_a_card_reads_nested_records_and_list_cells(tmp_path):
    records = {"instances": [
        {"id": 7, "instance": {"context": "USER: hi", "reply": "hello"}, "scores": {"all": ["No", "Yes", "No"]}},
        {"id": 8, "instance": {"context": "USER: bye", "reply": "go away"}, "scores": {"all": ["Yes", "Yes", None]}},
    ]}
    (tmp_path / "data.json").write_text(json.dumps(records), encoding="utf-8")
    (tmp_path / "card.yaml").write_text(
        "id: mine\ndescription: d\nlicense: MIT\ncitation: c\nlocal: data.json\nrecords: instances\n"
        "classify:\n  id: id\n  input: instance.context\n  response: instance.reply\n  label: scores.all\n"
        "  labels: {'Yes': unsafe, 'No': safe}\n  positive: unsafe\n  descriptions: {unsafe: harmful}\n",
        encoding="utf-8")
    dataset = load_dataset(str(tmp_path / "card.yaml"))
    assert [(e.id, e.input, e.gold) for e in dataset.examples] == [("mine/7", "USER: hi", "safe"),
                                                                   ("mine/8", "USER: bye", "unsafe")]
    assert dataset.examples[1].votes == ("unsafe", "unsafe", None)
    assert dataset.label_descriptions == {"unsafe": "harmful"}


# ---- bad input: one line naming the file, the record and the column


@pytest.mark.parametrize("rows, mapping, labels, message", [
    (ROWS, "input=q,response=a,label=h1", "ok=pass,no=fail", r"labels\.csv: record 2: field 'h1': label 'bad' is "
                                                              r"not in the label set \(raw values: ok, no\)"),
    (ROWS, "input=q,response=a,label=h1", None, r"--labels: labelled outputs need their label set"),
    (ROWS, "input=q,response=a,label=judge", "ok=pass,bad=fail", r"record 1: field 'judge': missing"),
    (ROWS, "input=q,response=a,label=h1,positive=wrong", "ok=pass,bad=fail", r"positive label 'wrong' is not one"),
    (ROWS, "input=q,response=a,label=h1,gold=h2", "ok=pass,bad=fail", r"--mapping: 'gold' is not a field of labelled"),
    (ROWS, "input=q,response=a,label=h1", "ok=pass", r"--mapping/--labels: .* at least two labels"),
    ([{"q": "x", "a": " ", "h": "ok"}], "input=q,response=a,label=h", "ok,bad", r"record 1: field 'a': empty response"),
])
def test_bad_labelled_files_name_file_record_and_column(tmp_path, rows, mapping, labels, message):
    path = _write(tmp_path, rows)
    with pytest.raises(BadInput, match=message) as error:
        load_dataset(str(path), mapping=mapping, labels=labels)
    assert "\n" not in str(error.value)


def test_bad_classify_cards_name_the_key(tmp_path):
    base = "id: c\ndescription: d\nlicense: MIT\ncitation: c\nlocal: x.csv\nclassify:\n  response: a\n  label: h\n"
    for extra, message in [("  labels: {yes: fail, no: pass}\n", "quote yes/no"),
                           ("  labels: {'1': fail}\n", "at least two labels"),
                           ("  labels: {'1': a, '0': b}\n  extract: {t: '(x'}\n", r"extract\.t: bad regex")]:
        (tmp_path / "card.yaml").write_text(base + extra, encoding="utf-8")
        with pytest.raises(BadInput, match=message):
            load_card(tmp_path / "card.yaml")
