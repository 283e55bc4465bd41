"""``judgekit fewshot``: labelled examples from a dev run in the spec's examples format; a spec whose examples
hold a test-side item is refused at load, with one line naming the example."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml
from conftest import run_judgekit
from stand_in import LABELS, MAPPING, write_labelled_csv, write_model, write_spec

from judgekit.judge.protocol import LabelSet
from judgekit.judge.strategies.classify import bind_labels, template_values
from judgekit.protocols import load_protocol
from judgekit.records import LabelledOutput
from judgekit.runs.ledger import LEDGER
from judgekit.runs.run_dir import read_run


@pytest.fixture
def dev_run(tmp_path, monkeypatch, capsys):
    """A split of the toy set and the v1 stand-in judge's run on its dev side (right on 60 %)."""
    data = write_labelled_csv(tmp_path / "labels.csv", questions=40)
    split_dir = tmp_path / "split"
    assert run_judgekit(monkeypatch, capsys, "split", data, "--mapping", MAPPING, "--labels", LABELS, "--out",
                        split_dir)[0] == 0
    model = write_model(tmp_path / "model.yaml", split_dir, {"v1": 0.6, "v3": 0.9})
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", f"mock:{model}", "--protocol",
                                write_spec(tmp_path / "judge.yaml", "v1"), "--split", split_dir, "--on", "dev",
                                "--out", tmp_path / "v1-dev", "--quiet")
    assert code == 0, err
    return tmp_path / "v1-dev"


def test_disagreements_balanced_over_labels_with_notes_load_as_the_spec_examples(dev_run, tmp_path, monkeypatch,
                                                                                capsys):
    out = tmp_path / "examples.yaml"
    code, _, err = run_judgekit(monkeypatch, capsys, "fewshot", dev_run, "--k", "4", "--note", "comment", "--out", out)
    assert code == 0, err
    assert err.strip() == f"{out}: 4 examples (fail, pass, fail, pass)"
    records = yaml.safe_load(out.read_text(encoding="utf-8"))
    run = read_run(dev_run)
    items = {(e.input, e.output): e for e in run.examples}
    judged = {v.example_id: v.label for v in run.verdicts}
    assert [r["label"] for r in records] == ["fail", "pass", "fail", "pass"]
    for record in records:
        item = items[record["input"], record["output"]]  # a dev item, as it is
        assert record["label"] == item.gold != judged[item.id]  # one the judge got wrong
        assert record.get("note") == (item.metadata["comment"] or None)
    assert [r.get("note") is not None for r in records] == [True, False, True, False]  # the fails carry one

    spec = write_spec(tmp_path / "judge-v3.yaml", "v3", examples="examples.yaml")
    assert list(load_protocol(spec).examples) == records
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", f"mock:{tmp_path / 'model.yaml'}", "--protocol",
                                spec, "--split", tmp_path / "split", "--on", "dev", "--out", tmp_path / "v3-dev",
                                "--quiet")
    assert code == 0, err


def test_stratified_picks_any_items_balanced_and_the_seed_moves_them(dev_run, tmp_path, monkeypatch, capsys):
    picked = []
    for seed in (0, 1):
        out = tmp_path / f"examples-{seed}.yaml"
        code, _, err = run_judgekit(monkeypatch, capsys, "fewshot", dev_run, "--k", "6", "--strategy", "stratified",
                                    "--seed", seed, "--out", out)
        assert code == 0, err
        records = yaml.safe_load(out.read_text(encoding="utf-8"))
        assert Counter(r["label"] for r in records) == {"fail": 3, "pass": 3}
        picked.append([r["output"] for r in records])
    assert picked[0] != picked[1]


@pytest.mark.parametrize("on", ["dev", "test"])
def test_a_spec_whose_examples_hold_a_test_item_is_refused_naming_the_example(dev_run, tmp_path, monkeypatch, capsys,
                                                                              on):
    split_dir = tmp_path / "split"
    test_item = LabelledOutput.model_validate_json((split_dir / "test.jsonl").read_text().splitlines()[2])
    dev_item = read_run(dev_run).examples[0]
    shots = [{"input": dev_item.input, "output": dev_item.output, "label": dev_item.gold},
             {"input": test_item.input, "output": "  " + test_item.output.replace(" ", "  "), "label": test_item.gold}]
    (tmp_path / "leaky.yaml").write_text(yaml.safe_dump(shots), encoding="utf-8")
    spec = write_spec(tmp_path / "leaky-judge.yaml", "v3", examples="leaky.yaml")
    ledger = (split_dir / LEDGER).read_bytes()
    code, out, err = run_judgekit(monkeypatch, capsys, "run", "--judge", f"mock:{tmp_path / 'model.yaml'}",
                                  "--protocol", spec, "--split", split_dir, "--on", on, "--out", tmp_path / "leaky-run")
    assert code == 2 and out == ""
    snippet = test_item.output if len(test_item.output) <= 40 else test_item.output[:39] + "…"
    assert err.strip() == (f"error: {spec}: examples: example 2 (output {snippet!r}) is the test item {test_item.id} "
                           f"of {split_dir}; few-shot examples must come from the dev side")
    assert not (tmp_path / "leaky-run").exists() and (split_dir / LEDGER).read_bytes() == ledger


def test_fewshot_refuses_a_test_side_run_and_runs_of_other_kinds(dev_run, tmp_path, monkeypatch, capsys):
    test_run = tmp_path / "test-run"
    manifest = json.loads((dev_run / "manifest.json").read_text())
    test_run.mkdir()
    for name in ("examples.jsonl", "verdicts.jsonl"):
        (test_run / name).write_bytes((dev_run / name).read_bytes())
    (test_run / "manifest.json").write_text(json.dumps({**manifest, "dataset": "labels:test"}))
    code, _, err = run_judgekit(monkeypatch, capsys, "fewshot", test_run, "--out", tmp_path / "x.yaml")
    assert code == 2 and err.strip() == (f"error: {test_run}: judged the test side of a split (labels:test); pick "
                                         "few-shot examples from a dev-side run")
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:first", "--protocol", "llmbar/vanilla",
                                "--dataset", "judgekit/bundled", "--limit", "3", "--out", tmp_path / "pairs", "--quiet")
    assert code == 0, err
    code, _, err = run_judgekit(monkeypatch, capsys, "fewshot", tmp_path / "pairs", "--out", tmp_path / "x.yaml")
    assert code == 2 and err.strip() == (f"error: {tmp_path / 'pairs'}: a pairwise run; few-shot example files hold "
                                         "labelled outputs (input, output, label), which only classify protocols show")
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize("content, message", [
    ("input: a\noutput: b\nlabel: fail\n", "a YAML examples file holds a list of input/output/label records"),
    ("- {input: a, output: b, label: fail}\n- {input: a, output: b, label: pass, why: c}\n",
     "example 2: unknown key 'why' (allowed: context, input, label, note, output)"),
    ("- {input: a, output: b}\n", "example 1: missing key 'label'"),
    ("- [a, b\n", "not valid YAML (while parsing a flow sequence)"),
])
def test_a_bad_yaml_examples_file_is_one_line_naming_the_example(tmp_path, content, message):
    (tmp_path / "shots.yaml").write_text(content, encoding="utf-8")
    spec = write_spec(tmp_path / "judge.yaml", "v1", examples="shots.yaml")
    with pytest.raises(Exception) as raised:
        load_protocol(spec)
    assert str(raised.value) == f"{spec}: examples: shots.yaml: {message}"


def test_a_template_may_show_the_note_and_examples_without_one_render(tmp_path):
    (tmp_path / "shots.yaml").write_text(yaml.safe_dump([{"input": "q", "output": "o", "label": "fail", "note": "why"},
                                                         {"input": "q2", "output": "o2", "label": "pass"}]))
    (tmp_path / "judge.yaml").write_text(
        "description: d\ncitation: c\nstrategy: classify_binary\norders: original\nexamples: shots.yaml\n"
        "templates:\n"
        "  classify: \"{% for s in examples %}{{ s.label }}({{ s.note or '-' }}) {% endfor %}{{ output }}\"\n")
    protocol = bind_labels(load_protocol(tmp_path / "judge.yaml"), LabelSet(names=("fail", "pass")))
    values = template_values(protocol, LabelledOutput(id="x", input="", output="out"))
    assert protocol.render("classify", **values) == "fail(why) pass(-) out"
