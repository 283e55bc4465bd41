"""The mock: provider drives the whole pipeline (protocols, parsers, runs, reports) with scripted answers."""

from __future__ import annotations

import json

import pytest
from conftest import run_judgekit

import judgekit
from judgekit.data import load_dataset
from judgekit.errors import BadInput

BUNDLED = load_dataset("judgekit/bundled").examples
PAIR = ("Name three primes.", "2, 3, 5", "2, 4, 6")


@pytest.mark.parametrize("protocol", ["llmbar/vanilla", "mtbench/pairwise", "logprob/pairwise", "llmbar/swap"])
def test_first_slot_policy_is_read_by_every_pairwise_format(protocol):
    judge = judgekit.load_judge("mock:first", protocol, cache=False)
    try:
        verdict = judge.judge(*PAIR)
    finally:
        judge.close()
    assert [o.winner for o in verdict.orders] == ["a", "b"]  # the first slot, in both orders
    assert verdict.invalid_reason is None and verdict.usage.cost_usd == 0


def test_a_fixed_reply_and_a_python_policy():
    fixed = judgekit.load_judge("mock:reply=Output (b)", cache=False)
    seen = []
    scripted = judgekit.load_judge("mock:", policy=lambda prompt: seen.append(prompt) or "Output (a)", cache=False)
    try:
        assert [o.winner for o in fixed.judge(*PAIR).orders] == ["b", "a"]
        assert scripted.judge(*PAIR).orders[0].winner == "a"
    finally:
        fixed.close(), scripted.close()
    assert len(seen) == 2 and all("2, 3, 5" in p and "2, 4, 6" in p for p in seen)


def test_rules_from_a_file_answer_by_prompt(tmp_path):
    rules = tmp_path / "rules.json"  # whichever response is shown first, name the primes one
    rules.write_text(json.dumps([{"when": "[Output (a)]\n2, 3, 5", "reply": "Output (a)"},
                                 {"when": "[Output (a)]\n2, 4, 6", "reply": "Output (b)"}]), encoding="utf-8")
    judge = judgekit.load_judge(f"mock:{rules}", cache=tmp_path / "cache")
    try:
        verdict = judge.judge(*PAIR)
    finally:
        judge.close()
    assert verdict.winner == "a" and [o.winner for o in verdict.orders] == ["a", "a"]
    rules.write_text('[{"reply": "Output (b)"}]', encoding="utf-8")  # edited rules: no stale cached answer
    judge = judgekit.load_judge(f"mock:{rules}", cache=tmp_path / "cache")
    try:
        assert judge.judge(*PAIR).orders[0].winner == "b"
    finally:
        judge.close()


def test_bad_policies_and_rules_are_one_line_errors(tmp_path):
    with pytest.raises(BadInput, match="give a policy"):
        judgekit.load_judge("mock:")
    with pytest.raises(BadInput, match="cannot read the rules file"):
        judgekit.load_judge(f"mock:{tmp_path / 'absent.yaml'}")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {answer: yes}\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"bad.yaml: rule 0: expected keys reply"):
        judgekit.load_judge(f"mock:{bad}")
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text("- {when: never seen, reply: x}\n", encoding="utf-8")
    judge = judgekit.load_judge(f"mock:{narrow}", cache=False)
    try:
        with pytest.raises(BadInput, match="no rule matches the prompt"):
            judge.judge(*PAIR)
    finally:
        judge.close()


def test_a_whole_cli_run_with_the_mock_judge(tmp_path, monkeypatch, capsys):
    code, out, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:first", "--protocol", "llmbar/vanilla",
                                  "--dataset", "judgekit/bundled", "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    run = judgekit.runs.run_dir.read_run(tmp_path / "run")
    assert run.manifest.complete and len(run.verdicts) == len(BUNDLED)
    assert all([o.winner for o in v.orders] == ["a", "b"] for v in run.verdicts)
