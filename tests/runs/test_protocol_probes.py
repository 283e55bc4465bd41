"""Protocol probes: the judge's own prompt changed (rubric, label names, rule order, instruction position).

Each scripted judge below is a content oracle (it finds the pair in the
prompt and names the human-preferred response's slot, in whatever labels the
prompt uses) except for one thing it is sensitive to. Under ``llmbar/rules``
both orders are judged and disagreeing orders tie, so a judge that falls
back to "the first label" on some pairs flips exactly those pairs: the
expected flip rates follow from the probe's seeded picks, read back from the
run's metadata.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from conftest import run_judgekit
from servers import ScriptedServer
from statsmodels.stats.proportion import confint_proportions_2indep

import judgekit
from judgekit.agreement import Interval, proportion_ci
from judgekit.agreement.flips import excess, flip_rate
from judgekit.data import load_dataset
from judgekit.errors import BadInput
from judgekit.judge.spec import load_protocol
from judgekit.judge.strategies.parsing import parse_llmbar, relabel
from judgekit.runs.probes import load_probe
from judgekit.runs.probes.rewrite import criteria_reordered, instruction_moved, relabelled
from judgekit.runs.probes.run import stratified
from judgekit.runs.run_dir import read_run

PAIRS = load_dataset("llmbar/natural-40")
N = 10
CHOSEN = stratified(PAIRS.examples, N)
RULES = load_protocol("llmbar/rules")
LABEL_SETS = (("Output (1)", "Output (2)"), ("First output", "Second output"))
PROTOCOL_PROBES = ["rubric-paraphrase", "label-names", "criteria-order", "instruction-position"]


def labels_in(prompt: str) -> tuple[str, str]:
    return next((pair for pair in LABEL_SETS if f"[{pair[0]}]" in prompt), ("Output (a)", "Output (b)"))


def oracle(prompt: str) -> str:
    """The human-preferred response's slot, named as the prompt names it."""
    example = next(e for e in PAIRS.examples if e.response_a in prompt and e.response_b in prompt)
    first, second = labels_in(prompt)
    better = example.response_a if example.gold == "a" else example.response_b
    return first if prompt.rsplit(f"[{first}]\n", 1)[1].startswith(better) else second


def first_label(prompt: str) -> str:
    return labels_in(prompt)[0]


def confused_by_numbers(prompt: str) -> str:
    return first_label(prompt) if "[Output (1)]" in prompt else oracle(prompt)


def reads_rule_one_only_first(prompt: str) -> str:
    return oracle(prompt) if "\n1. First ask which output" in prompt else first_label(prompt)


def needs_instruction_first(prompt: str) -> str:
    example = next(e for e in PAIRS.examples if e.response_a in prompt and e.response_b in prompt)
    slot = prompt.rfind(f"[{labels_in(prompt)[0]}]")
    return oracle(prompt) if prompt.rfind(example.instruction, 0, slot) >= 0 else first_label(prompt)


def knows_one_wording(prompt: str) -> str:
    return first_label(prompt) if "meticulous grader" in prompt else oracle(prompt)


def mock(policy):
    return judgekit.load_judge("mock:", protocol="llmbar/rules", policy=policy)


def probe(policy, probes, tmp_path, **kwargs):
    with mock(policy) as judge:
        rows = judgekit.probe(judge, PAIRS, probes, limit=N, out=tmp_path / "run", **kwargs)
    return {r["probe"]: r for r in rows}


def copies(tmp_path, probe_id):
    return [e for e in read_run(tmp_path / "run").examples if e.metadata.get("probe") == probe_id]


# ---------------------------------------------------------------- rewrites


def test_label_names_rewrite_the_prompt_and_the_parser_reads_them_back():
    protocol = relabelled(RULES, {"first": "Output (1)", "second": "Output (2)"}, probe="label-names")
    assert "Output (a)" not in protocol.templates["compare"] and "[Output (2)]" in protocol.templates["compare"]
    assert protocol.parser.labels == ("Output (1)", "Output (2)")
    assert parse_llmbar(relabel("**Output (2)**", protocol.parser.labels)) == "second"
    assert parse_llmbar(relabel("I choose output 1.", protocol.parser.labels)) == "first"
    assert parse_llmbar(relabel("Output (12)", protocol.parser.labels)) is None  # no label inside a number
    words = ("First output", "Second output")
    assert parse_llmbar(relabel("The second output is better.", words)) == "second"
    assert parse_llmbar(relabel("First, both outputs are fine.\nSecond output", words)) == "second"
    with pytest.raises(BadInput, match="label-names: protocol logprob/pairwise does not answer with Output"):
        relabelled(load_protocol("logprob/pairwise"), {"first": "1", "second": "2"}, probe="label-names")


def test_criteria_order_renumbers_the_rules_and_needs_some():
    system = criteria_reordered(RULES, "k", probe="criteria-order").templates["system"]
    rules = re.findall(r"^(\d)\. (\w+ \w+)", system, re.M)
    assert [n for n, _ in rules] == ["1", "2", "3", "4"]
    original = re.findall(r"^\d\. (\w+ \w+)", RULES.templates["system"], re.M)
    assert sorted(t for _, t in rules) == sorted(original) and [t for _, t in rules] != original
    assert "   explicit requests and implied constraints" in system  # continuation lines travel with their rule
    with pytest.raises(BadInput, match="^criteria-order: protocol llmbar/vanilla has no numbered list of rules"):
        criteria_reordered(load_protocol("llmbar/vanilla"), "k", probe="criteria-order")


def test_instruction_position_moves_the_instruction_after_the_responses():
    for protocol_id in ("llmbar/rules", "llmbar/vanilla", "mtbench/pairwise", "llmbar/rating"):
        protocol = load_protocol(protocol_id)
        moved = instruction_moved(protocol, probe="instruction-position")
        for name, text in moved.templates.items():
            response = max(text.rfind("{{ output_2 }}"), text.rfind("{{ response }}"))
            if "{{ instruction }}" in text and response >= 0:
                assert text.index("{{ instruction }}") > response, (protocol_id, name)
            assert sorted(text.split()) == sorted(protocol.templates[name].split())  # same words, moved


def test_every_shipped_paraphrase_keeps_its_protocols_variables_and_labels():
    probe = load_probe("rubric-paraphrase")
    llmbar = {f"llmbar/{name}" for name in ("vanilla", "rules", "cot", "metrics", "reference", "metrics-reference",
                                            "swap", "swap-cot", "rules-1shot", "rules-2shot", "rating")}
    assert llmbar <= set(probe.paraphrases)
    for protocol_id, rewordings in probe.paraphrases.items():
        protocol = load_protocol(protocol_id)
        assert len(rewordings) >= 2
        for variant, rewording in enumerate(rewordings):
            rewritten = probe.rewrite(protocol, variant)  # BadInput if a variable were lost or added
            assert "system" in rewording and rewritten.templates["system"] != protocol.templates["system"]
            for name, text in rewording.items():
                assert text.count("Output (a)") == protocol.templates[name].count("Output (a)") > 0 or \
                    "Output (a)" not in protocol.templates[name]
    with pytest.raises(BadInput, match="^rubric-paraphrase: no paraphrase of protocol mtbench/pairwise ships"):
        probe.variants(load_protocol("mtbench/pairwise"))


def test_a_protocol_probe_copy_is_the_pair_itself_with_its_variant():
    example = CHOSEN[0]
    copy = load_probe("label-names").apply(example, seed=1, protocol=RULES)
    assert (copy.instruction, copy.response_a, copy.response_b, copy.gold) == \
        (example.instruction, example.response_a, example.response_b, example.gold)
    assert copy.metadata["probe_target"] == "protocol" and copy.metadata["probe_variant"] in (0, 1)
    variants = {load_probe("label-names").apply(e, seed=1, protocol=RULES).metadata["probe_variant"] for e in CHOSEN}
    assert variants == {0, 1}  # the seed spreads the label sets over the pairs


def test_a_user_protocol_probe_file(tmp_path):
    spec = tmp_path / "mine.yaml"
    spec.write_text("id: my-paraphrase\ndescription: d\ncitation: c\nkind: rubric-paraphrase\ntarget: protocol\n"
                    "paraphrases:\n  llmbar/vanilla:\n    - {system: 'Pick the better reply.'}\n", encoding="utf-8")
    assert load_probe(str(spec)).rewrite(load_protocol("llmbar/vanilla"), 0).templates["system"] == \
        "Pick the better reply."
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\ndescription: d\ncitation: c\nkind: label-names\ntarget: protocol\n"
                   "label_sets: [{first: X}]\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"bad.yaml: key 'label_sets'"):
        load_probe(str(bad))
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("id: wrong\ndescription: d\ncitation: c\nkind: criteria-order\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"wrong.yaml: key 'target': a probe of kind criteria-order needs target "
                                       "protocol"):
        load_probe(str(wrong))


# ---------------------------------------------------------------- mock judges, hand-computed flip rates


def test_a_content_oracle_is_unmoved_by_every_protocol_probe(tmp_path):
    rows = probe(oracle, PROTOCOL_PROBES, tmp_path)
    for name in PROTOCOL_PROBES:
        row = rows[name]
        assert row["n"] == N and row["target"] == "protocol", row
        assert row["flip_rate"] == 0.0 and row["accuracy_base"] == row["accuracy_probed"] == 1.0, row


def test_a_judge_confused_by_number_labels_flips_under_label_names_only(tmp_path):
    rows = probe(confused_by_numbers, ["label-names", "criteria-order"], tmp_path)
    numbered = sum(c.metadata["probe_variant"] == 0 for c in copies(tmp_path, "label-names"))
    assert 0 < numbered < N  # some pairs got Output (1)/(2), the others First/Second output
    # numbered pairs: both orders name the first slot, so the orders disagree and the verdict is a tie
    assert rows["label-names"]["flip_rate"] == numbered / N
    assert rows["label-names"]["accuracy_probed"] == (N - numbered) / N
    assert rows["criteria-order"]["flip_rate"] == 0.0


def test_a_judge_that_reads_only_rule_one_first_flips_under_criteria_order_only(tmp_path):
    rows = probe(reads_rule_one_only_first, ["criteria-order", "label-names", "instruction-position"], tmp_path)
    criteria = load_probe("criteria-order")
    moved = sum("\n1. First ask which output" not in
                criteria.rewrite(RULES, c.metadata["probe_variant"]).templates["system"]
                for c in copies(tmp_path, "criteria-order"))
    assert 0 < moved <= N
    assert rows["criteria-order"]["flip_rate"] == moved / N
    assert rows["label-names"]["flip_rate"] == rows["instruction-position"]["flip_rate"] == 0.0


def test_a_judge_that_needs_the_instruction_first_flips_under_instruction_position(tmp_path):
    rows = probe(needs_instruction_first, ["instruction-position", "rubric-paraphrase"], tmp_path)
    assert rows["instruction-position"]["flip_rate"] == 1.0
    assert rows["instruction-position"]["accuracy_change"] == -1.0
    assert rows["rubric-paraphrase"]["flip_rate"] == 0.0


def test_a_judge_that_knows_one_wording_flips_on_the_other_paraphrase(tmp_path):
    rows = probe(knows_one_wording, ["rubric-paraphrase", "label-names"], tmp_path)
    second_wording = sum(c.metadata["probe_variant"] == 1 for c in copies(tmp_path, "rubric-paraphrase"))
    assert 0 < second_wording < N
    assert rows["rubric-paraphrase"]["flip_rate"] == second_wording / N
    assert rows["label-names"]["flip_rate"] == 0.0


# ---------------------------------------------------------------- rerun noise and the excess


def test_excess_is_newcombes_interval():
    for k1, n1, k2, n2 in ((7, 40, 2, 40), (0, 10, 3, 10), (10, 10, 0, 10), (5, 23, 9, 31)):
        got = excess(proportion_ci(k1, n1), proportion_ci(k2, n2))
        low, high = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
        assert got.estimate == pytest.approx(k1 / n1 - k2 / n2)
        assert (got.low, got.high) == (pytest.approx(low), pytest.approx(high))
    # another interval on the rerun rate (a bootstrap's) is used as given
    wide = excess(Interval(0.3, 0.1, 0.5), Interval(0.1, 0.0, 0.3))
    assert wide.low == pytest.approx(0.2 - math.hypot(0.2, 0.2))
    assert wide.high == pytest.approx(0.2 + math.hypot(0.2, 0.1))
    assert flip_rate(["a", "b", None, "tie"], ["a", "a", None, "b"]).estimate == 0.5


def noisy(prompt: str) -> str:
    """A rerun of the oracle that, on the first three chosen pairs, names the first slot (a tie)."""
    example = next(e for e in PAIRS.examples if e.response_a in prompt and e.response_b in prompt)
    return first_label(prompt) if example.id in {e.id for e in CHOSEN[:3]} else oracle(prompt)


def test_rerun_noise_from_a_second_run_sets_the_excess_beside_each_flip_rate(tmp_path):
    from judgekit.analysis.probes import probe_table, two_run_flip_rate

    probe(confused_by_numbers, ["label-names", "criteria-order"], tmp_path)
    with mock(noisy) as judge:
        second = judgekit.evaluate(judge, PAIRS, out=tmp_path / "again")
    run = read_run(tmp_path / "run")
    rerun, n = two_run_flip_rate(run, second)
    assert (rerun.estimate, n) == (3 / N, N)  # the ten probed pairs, three of which changed
    rows = {r["probe"]: r for r in probe_table(run, rerun=rerun)}
    numbered = round(rows["label-names"]["flip_rate"] * N)
    low, high = confint_proportions_2indep(numbered, N, 3, N, method="newcomb", compare="diff")
    assert rows["label-names"]["rerun_flip_rate"] == 0.3
    assert rows["label-names"]["excess_flip_rate"] == pytest.approx(numbered / N - 0.3)
    assert rows["label-names"]["excess_flip_rate_ci"] == [pytest.approx(low), pytest.approx(high)]
    assert rows["criteria-order"]["excess_flip_rate"] == pytest.approx(-0.3)
    other = judgekit.load_judge("mock:", protocol="llmbar/vanilla", policy=oracle)
    with other:
        vanilla = judgekit.evaluate(other, PAIRS, out=tmp_path / "vanilla")
    with pytest.raises(BadInput, match="rerun noise must come from the same judge"):
        two_run_flip_rate(run, vanilla)


# ---------------------------------------------------------------- the real SDK against a loopback server


def prompt_of(call) -> str:
    return "\n".join([call.system or "", *(m["content"] for m in call.messages)])


def test_cli_protocol_probes_through_the_sdk_with_rerun_noise(tmp_path, monkeypatch, capsys):
    policy = {"answer": confused_by_numbers}
    with ScriptedServer(answer=lambda call: policy["answer"](prompt_of(call))) as server:
        common = ("--base-url", server.openai_url, "--protocol", "llmbar/rules")
        probe_args = ("probe", "openai:scripted", *common, "--probe", "label-names,criteria-order,instruction-position",
                      "--limit", str(N), "--out", tmp_path / "probes", "--quiet")
        code, out, err = run_judgekit(monkeypatch, capsys, *probe_args, "--dry-run")
        assert code == 0, err
        assert re.search(r"label-names\s+10 items\s+20 calls", out) and server.requests == 0
        code, out, err = run_judgekit(monkeypatch, capsys, *probe_args, "--format", "json")
        assert code == 0, err
        assert server.requests == 4 * 2 * N  # base + three probes, two orders each
        first = {r["probe"]: r for r in json.loads(out)["probes"]}
        run = read_run(tmp_path / "probes")
        numbered = sum(e.metadata.get("probe") == "label-names" and e.metadata["probe_variant"] == 0
                       for e in run.examples)
        assert first["label-names"]["flip_rate"] == numbered / N
        assert first["criteria-order"]["flip_rate"] == first["instruction-position"]["flip_rate"] == 0.0
        assert json.loads(out)["rerun_noise"] is None

        policy["answer"] = noisy  # the same judge asked again, differing on three pairs
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:scripted", *common, "--dataset",
                                    "llmbar/natural-40", "--no-cache", "--out", tmp_path / "again", "--quiet")
        assert code == 0, err
        asked = server.requests
        code, out, err = run_judgekit(monkeypatch, capsys, "probe", tmp_path / "probes", "--probe",
                                      "label-names,criteria-order,instruction-position", "--limit", str(N),
                                      "--out", tmp_path / "probes", "--rerun-noise", tmp_path / "again",
                                      "--format", "json", "--quiet")
        assert code == 0, err
        assert server.requests == asked  # the probe run resumed: nothing asked again
        data = json.loads(out)
        assert data["rerun_noise"] | {"ci": None} == {"run": str(tmp_path / "again"), "method": "two runs", "n": N,
                                                      "rate": 0.3, "ci": None}
        rows = {r["probe"]: r for r in data["probes"]}
        assert rows["label-names"]["excess_flip_rate"] == pytest.approx(numbered / N - 0.3)
        code, out, err = run_judgekit(monkeypatch, capsys, "probe", tmp_path / "probes", "--probe",
                                      "label-names,criteria-order,instruction-position", "--limit", str(N),
                                      "--out", tmp_path / "probes", "--rerun-noise", tmp_path / "again", "--quiet")
        assert code == 0, err
        assert "excess [95% CI]" in out and "rerun flip" in out and f"two runs, {N} pairs" in out

        code, _, err = run_judgekit(monkeypatch, capsys, "probe", "openai:scripted", *common[:2], "--protocol",
                                    "mtbench/pairwise", "--probe", "rubric-paraphrase", "--limit", "2",
                                    "--out", tmp_path / "mt")
        assert code == 2 and err.strip().count("\n") == 0
        assert "rubric-paraphrase: no paraphrase of protocol mtbench/pairwise ships with the probe" in err
        assert not (tmp_path / "mt").exists()  # refused before anything was written


def test_rerun_noise_from_a_stability_dir(tmp_path, monkeypatch, capsys):
    from judgekit.analysis.stability import rerun_flip_rate
    from judgekit.runs.stability import run_repeats

    def repeats(protocol, out):
        with judgekit.load_judge("mock:random", protocol=protocol) as judge:
            judge._run(run_repeats(judge, PAIRS.id, None, CHOSEN, repeats=3, out=out))

    repeats("llmbar/rules", tmp_path / "stability")
    noise = rerun_flip_rate(tmp_path / "stability")
    assert 0 < noise.rate < 1 and noise.n == N  # a random judge: repeats disagree on some pairs
    args = ("probe", "mock:random", "--protocol", "llmbar/rules", "--probe", "label-names,instruction-position",
            "--limit", str(N), "--quiet")
    code, out, err = run_judgekit(monkeypatch, capsys, *args, "--out", tmp_path / "probes", "--rerun-noise",
                                  tmp_path / "stability", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["rerun_noise"] == {"run": str(tmp_path / "stability"), "method": "stability repeats", "n": N,
                                   "rate": noise.rate, "ci": [noise.low, noise.high]}
    for row in data["probes"]:
        expected = excess(Interval(row["flip_rate"], *row["flip_rate_ci"]), Interval(noise.rate, noise.low, noise.high))
        assert row["rerun_flip_rate"] == noise.rate
        assert row["excess_flip_rate"] == pytest.approx(row["flip_rate"] - noise.rate)
        assert row["excess_flip_rate_ci"] == [pytest.approx(expected.low), pytest.approx(expected.high)]

    repeats("llmbar/vanilla", tmp_path / "other")  # another protocol's noise is no baseline for this one
    code, _, err = run_judgekit(monkeypatch, capsys, *args, "--out", tmp_path / "refused", "--rerun-noise",
                                tmp_path / "other")
    assert code == 2 and err.strip().count("\n") == 0 and "rerun noise must come from the same judge" in err
    assert not (tmp_path / "refused").exists()


@pytest.mark.slow
def test_protocol_probes_run_on_the_embedded_model(tmp_path):
    """Real replies read through renamed labels (what only a real model's text tests): one short pair,
    4 calls of 16 tokens."""
    from types import SimpleNamespace

    pair = min((e for e in load_dataset("judgekit/bundled").examples if e.gold in ("a", "b")),
               key=lambda e: len(e.instruction) + len(e.response_a) + len(e.response_b))
    with judgekit.load_judge("local:", protocol="llmbar/vanilla", max_tokens=16) as judge:
        rows = judgekit.probe(judge, SimpleNamespace(id="shortest", examples=[pair]), ["label-names"],
                              out=tmp_path / "run")
    assert [(r["probe"], r["n"]) for r in rows] == [("label-names", 1)] and rows[0]["flip_rate"] in (0.0, 1.0)
    run = read_run(tmp_path / "run")
    relabelled_copy = next(e for e in run.examples if e.metadata.get("probe") == "label-names")
    labels = LABEL_SETS[relabelled_copy.metadata["probe_variant"]]
    verdict = next(v for v in run.verdicts if v.example_id == relabelled_copy.id)
    assert verdict.usage.calls == 2 and all(o.raw for o in verdict.orders)
    for order in verdict.orders:  # whatever the model wrote, its winner is what the relabelled reply says
        slot = parse_llmbar(relabel(order.raw, labels))
        assert order.winner == (None if slot is None else {"first": "b", "second": "a"}[slot] if order.swapped
                                else {"first": "a", "second": "b"}[slot])


FRUIT = ("apples", "pears", "plums")


def fruit_pairs():
    """A mentions apples and pears, B plums (or the reverse): A's checklist share is 2/3 against 1/3."""
    from judgekit.records import Example

    questions = tuple(f"Does the response mention {fruit}?" for fruit in FRUIT)
    return [Example(id=f"fruit-{i}", instruction=f"Name some fruit ({i}).", response_a=a, response_b=b,
                    gold="a" if "apples" in a else "b", checklist=questions)
            for i in range(12) for a, b in [(("I like apples and pears.", "I like plums."),
                                              ("I like plums.", "I like apples and pears."))[i % 2]]]


def checks(prompt: str) -> tuple[str, list[tuple[int, str]]]:
    response = prompt.split("[Response]\n", 1)[1].split("\n\n", 1)[0]
    asked = re.findall(r"^(\d+)\. Does the response mention (\w+)\?", prompt, re.M)
    questions = [(int(n), fruit) for n, fruit in asked]
    return response, questions


def consistent_checker(prompt: str) -> str:
    response, questions = checks(prompt)
    return "\n".join(f"{n}. {'YES' if fruit in response else 'NO'}" for n, fruit in questions)


def reads_question_one_only(prompt: str) -> str:
    response, questions = checks(prompt)
    return "\n".join(f"{n}. {'YES' if n > 1 or fruit in response else 'NO'}" for n, fruit in questions)


def test_criteria_order_reorders_a_checklist_protocols_questions(tmp_path):
    from types import SimpleNamespace

    pairs = SimpleNamespace(id="fruit", examples=fruit_pairs())
    with judgekit.load_judge("mock:", protocol="checklist/drfr", policy=consistent_checker) as judge:
        rows = judgekit.probe(judge, pairs, ["criteria-order"], out=tmp_path / "consistent")
    assert rows[0]["flip_rate"] == 0.0 and rows[0]["accuracy_base"] == 1.0 and rows[0]["n"] == 12
    with judgekit.load_judge("mock:", protocol="checklist/drfr", policy=reads_question_one_only) as judge:
        rows = judgekit.probe(judge, pairs, ["criteria-order"], out=tmp_path / "first-only")
    copies = [e for e in read_run(tmp_path / "first-only").examples if e.metadata.get("probe")]
    assert all(sorted(c.checklist) == sorted(fruit_pairs()[0].checklist) for c in copies)
    # only question 1 is read: the verdict follows whoever has the first question's fruit, so a copy
    # whose checklist now starts with plums goes to the plums response, against the label
    plums_first = sum(c.checklist[0].endswith("plums?") for c in copies)
    assert 0 < plums_first < 12 and rows[0]["flip_rate"] == plums_first / 12
