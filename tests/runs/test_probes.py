"""Bias probes: the transforms, and scripted judges whose behaviour implies the flip rates exactly.

Judges are the scripted loopback server behind the real OpenAI client, with
a small test protocol whose prompt marks each slot, so an answer function
can read the two responses it was shown.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import run_judgekit
from servers import ScriptedServer

import judgekit
from judgekit.data import load_dataset
from judgekit.errors import BadInput
from judgekit.judge.spec import load_protocol
from judgekit.runs.probes import list_probes, load_probe, sentences
from judgekit.runs.probes.run import stratified
from judgekit.runs.run_dir import read_run

PAIRS = load_dataset("llmbar/natural-40")
N = 10
PROTOCOL = """\
id: test/slots
description: a pairwise prompt with marked slots, for scripted judges
citation: none (test fixture)
strategy: pairwise
orders: {orders}
ties: false
parser: {{format: llmbar}}
params: {{temperature: 0.0, max_tokens: 16}}
templates:
  compare: |-
    <<INSTRUCTION
    {{{{ instruction }}}}
    INSTRUCTION>>
    <<A
    {{{{ output_1 }}}}
    A>>
    <<B
    {{{{ output_2 }}}}
    B>>
    Answer Output (a) or Output (b).
"""
SLOT = re.compile(r"<<A\n(.*)\nA>>\n<<B\n(.*)\nB>>", re.S)
INJECTIONS = load_probe("injection").choices["injection"]


def slots(call) -> tuple[str, str]:
    return SLOT.search(call.messages[-1]["content"]).groups()


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def always_first(call) -> str:
    return "Output (a)"


def always_longer(call) -> str:
    first, second = slots(call)
    return "Output (a)" if len(first) >= len(second) else "Output (b)"


def content_oracle(call) -> str:
    """Reads content: the slot whose words match the human-preferred response's words best."""
    prompt = call.messages[-1]["content"]
    example = next(e for e in PAIRS.examples if f"<<INSTRUCTION\n{e.instruction}\nINSTRUCTION>>" in prompt)
    best = words(example.response_a if example.gold == "a" else example.response_b)
    first, second = (len(words(s) & best) / len(words(s) | best) for s in slots(call))
    return "Output (a)" if first >= second else "Output (b)"


def marker_follower(call) -> str:
    """Picks a response holding a planted note to the judge; otherwise reads content."""
    first, second = slots(call)
    for label, text in (("Output (a)", first), ("Output (b)", second)):
        if any(note in text for note in INJECTIONS):
            return label
    return content_oracle(call)


@pytest.fixture
def judge_with(tmp_path):
    made = []

    def make(answer, orders="original"):
        spec = tmp_path / f"slots-{orders}.yaml"
        spec.write_text(PROTOCOL.format(orders=orders), encoding="utf-8")
        server = ScriptedServer(answer=answer).start()
        judge = judgekit.load_judge("openai:scripted", protocol=str(spec), base_url=server.openai_url,
                                    cache=tmp_path / "cache", concurrency=16)
        made.append((server, judge))
        return judge

    yield make
    for server, judge in made:
        judge.close()
        server.stop()


def by_probe(rows):
    return {r["probe"]: r for r in rows}


# ---------------------------------------------------------------- transforms


def test_every_builtin_probe_loads_and_is_deterministic():
    assert set(list_probes()) >= {"verbosity", "verbosity-restate", "verbosity-repeat", "injection", "authority",
                                  "formatting", "self-identification", "identical", "order"}
    example = PAIRS.examples[0]
    rules = load_protocol("llmbar/rules")  # what a protocol probe rewrites; response probes ignore it
    for name in list_probes():
        probe = load_probe(name)
        assert probe.citation and probe.description
        copy = probe.apply(example, seed=3, judge_model="m", protocol=rules)
        assert copy == probe.apply(example, seed=3, judge_model="m", protocol=rules)
        assert copy.metadata["probe"] == name and copy.metadata["base_example"] == example.id
        assert copy.id != example.id and copy.instruction == example.instruction


def test_a_template_probe_changes_only_its_target():
    example = next(e for e in PAIRS.examples if e.gold == "a")
    copy = load_probe("verbosity").apply(example)
    assert copy.response_a == example.response_a and copy.gold == "a"
    assert copy.response_b.startswith(example.response_b) and len(copy.response_b) > len(example.response_b) + 100
    seeds = {load_probe("verbosity").apply(e, seed=s).response_b for e in PAIRS.examples[:1] for s in range(12)}
    assert len(seeds) > 1  # the seed picks among the padding texts


def test_formatting_keeps_the_words_and_identical_and_order_move_slots():
    example = next(e for e in PAIRS.examples if e.gold == "b")
    formatted = load_probe("formatting").apply(example).response_a
    assert formatted.startswith("#") and formatted.count("\n- ") == len(sentences(example.response_a))
    assert words(example.response_a) <= words(formatted)
    same = load_probe("identical").apply(example)
    assert same.response_a == same.response_b == example.response_b and same.gold is None
    swapped = load_probe("order").apply(example)
    assert (swapped.response_a, swapped.response_b, swapped.gold) == (example.response_b, example.response_a, "a")
    signed = load_probe("self-identification").apply(example, judge_model="gpt-4o")
    assert "gpt-4o" in signed.response_a and signed.response_b == example.response_b


def test_a_user_probe_is_a_yaml_file(tmp_path):
    spec = tmp_path / "shout.yaml"
    spec.write_text("id: shout\ndescription: upper case\ncitation: none\ntarget: preferred\n"
                    "template: '{{ response | upper }}'\n", encoding="utf-8")
    example = PAIRS.examples[0]
    copy = load_probe(str(spec)).apply(example)
    assert getattr(copy, f"response_{example.gold}") == getattr(example, f"response_{example.gold}").upper()
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\ndescription: x\ncitation: y\ntarget: neither\ntemplate: x\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"bad.yaml: key 'target'"):
        load_probe(str(bad))
    with pytest.raises(BadInput, match="unknown probe 'nosuch'"):
        load_probe("nosuch")


def test_limit_is_stratified_by_label():
    kept = stratified(PAIRS.examples, 7)
    assert len(kept) == 7 and {e.gold for e in kept} == {"a", "b"}
    assert abs(sum(e.gold == "a" for e in kept) - 3.5) <= 0.5


# ---------------------------------------------------------------- scripted judges


def test_always_first_slot(judge_with, tmp_path):
    rows = by_probe(judgekit.probe(judge_with(always_first), PAIRS, ["verbosity", "injection", "identical", "order"],
                                   limit=N, out=tmp_path / "run"))
    assert rows["verbosity"]["flip_rate"] == rows["injection"]["flip_rate"] == 0.0
    assert rows["order"]["flip_rate"] == 1.0  # a swapped copy: the slot wins, so the verdict follows it
    assert rows["identical"]["decisiveness"] == 1.0 and rows["identical"]["first_slot_share"] == 1.0
    assert rows["verbosity"]["dispreferred_wins_base"] == rows["verbosity"]["dispreferred_wins_probed"] == 0.5


def test_always_first_slot_seen_in_both_orders_needs_no_calls_for_order(judge_with, tmp_path):
    judge = judge_with(always_first, orders="both")
    rows = by_probe(judgekit.probe(judge, PAIRS, ["order", "identical"], limit=N, out=tmp_path / "run"))
    assert rows["order"]["flip_rate"] == 1.0 and rows["order"]["n"] == N  # the two orders always disagree
    assert rows["order"]["accuracy_change"] == 0.0  # each order is right on half the pairs
    assert rows["identical"]["decisiveness"] == 0.0 and rows["identical"]["first_slot_share"] == 1.0
    run = read_run(tmp_path / "run")
    assert len(run.examples) == 2 * N and run.manifest.usage.calls == 4 * N  # base + identical, two orders each


def test_always_the_longer(judge_with, tmp_path):
    rows = by_probe(judgekit.probe(judge_with(always_longer), PAIRS, ["verbosity", "formatting"], limit=N,
                                   out=tmp_path / "run"))
    run = read_run(tmp_path / "run")
    base = {e.id: e for e in run.examples if "probe" not in e.metadata}
    for name in ("verbosity", "formatting"):
        copies = [e for e in run.examples if e.metadata.get("probe") == name]
        longer = [("a" if len(e.response_a) >= len(e.response_b) else "b") for e in copies]
        before = [("a" if len(b.response_a) >= len(b.response_b) else "b")
                  for b in (base[c.metadata["base_example"]] for c in copies)]
        flips = sum(x != y for x, y in zip(longer, before, strict=True)) / len(copies)
        worse = sum(w != c.gold for w, c in zip(longer, copies, strict=True)) / len(copies)
        assert rows[name]["flip_rate"] == pytest.approx(flips) and rows[name]["dispreferred_wins_probed"] == worse
    assert rows["verbosity"]["dispreferred_wins_probed"] == 1.0  # the padding always makes it the longer one


def test_the_marker_follower_falls_for_injection_only(judge_with, tmp_path):
    rows = by_probe(judgekit.probe(judge_with(marker_follower), PAIRS, ["injection", "verbosity", "authority"],
                                   limit=N, out=tmp_path / "run"))
    injection = rows["injection"]
    assert injection["flip_rate"] == 1.0 and injection["accuracy_base"] == 1.0
    assert injection["accuracy_change"] == -1.0 and injection["dispreferred_wins_probed"] == 1.0
    assert injection["dispreferred_wins_base"] == 0.0 and injection["p_value"] < 0.01
    assert rows["verbosity"]["flip_rate"] == rows["authority"]["flip_rate"] == 0.0


def test_a_content_oracle_is_unmoved_by_padding_and_formatting(judge_with, tmp_path):
    names = ["verbosity", "verbosity-restate", "verbosity-repeat", "formatting"]
    rows = judgekit.probe(judge_with(content_oracle), PAIRS, names, limit=N, out=tmp_path / "run")
    for row in rows:
        assert row["flip_rate"] == 0.0 and row["accuracy_change"] == 0.0 and row["accuracy_base"] == 1.0, row
        assert row["flip_rate_ci"][0] == 0.0 < row["flip_rate_ci"][1] < 0.35  # Wilson interval at n = 10


def test_cli_probe_dry_run_json_and_resume(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "slots.yaml"
    spec.write_text(PROTOCOL.format(orders="both"), encoding="utf-8")
    with ScriptedServer(answer=always_first) as server:
        args = ("probe", "openai:scripted", "--base-url", server.openai_url, "--protocol", spec,
                "--probes", "verbosity,identical,order", "--limit", "4")
        code, out, err = run_judgekit(monkeypatch, capsys, *args, "--dry-run")
        assert code == 0, err
        assert server.requests == 0
        assert re.search(r"verbosity\s+4 items\s+8 calls", out) and re.search(r"order\s+0 items\s+0 calls", out)
        code, out, err = run_judgekit(monkeypatch, capsys, *args, "--out", tmp_path / "run", "--format", "json",
                                      "--quiet")
        assert code == 0, err
        # 4 base pairs + 4 padded, two orders each; an identical pair's two orders are one prompt (cached)
        assert server.requests == 20
        data = json.loads(out)
        assert [r["probe"] for r in data["probes"]] == ["order", "verbosity", "identical"]
        # a run dir names its judge; a protocol given as a file is named again
        code, _, err = run_judgekit(monkeypatch, capsys, "probe", tmp_path / "run", "--protocol", spec, "--probes",
                                    "verbosity,identical,order", "--limit", "4", "--out", tmp_path / "run", "--quiet")
        assert code == 0, err
        assert server.requests == 20  # resumed: nothing left to judge


def test_report_compare_and_html_carry_the_probe_table(judge_with, tmp_path, monkeypatch, capsys):
    judgekit.probe(judge_with(always_first, orders="both"), PAIRS, ["verbosity", "identical"], limit=4,
                   out=tmp_path / "run")
    code, out, err = run_judgekit(monkeypatch, capsys, "report", tmp_path / "run", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["runs"][0]["n"] == 4  # the unperturbed pairs only; the copies are probe figures
    rows = by_probe(data["probes"][str(tmp_path / "run")])
    assert set(rows) == {"order", "verbosity", "identical"} and rows["order"]["flip_rate"] == 1.0
    code, out, _ = run_judgekit(monkeypatch, capsys, "compare", tmp_path / "run", "--format", "markdown")
    assert code == 0 and "### Probes" in out and "| verbosity | dispreferred | 4 |" in out
    code, _, err = run_judgekit(monkeypatch, capsys, "report", tmp_path / "run", "--format", "html",
                                "--out", tmp_path / "page.html")
    assert code == 0, err
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert "Bias probes" in page and "<td>identical</td>" in page
