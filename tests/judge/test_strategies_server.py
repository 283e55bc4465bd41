"""Built-in protocols through the real runner, the real OpenAI SDK client and the loopback server.

The scripted server plays the same oracle judge as ``test_strategies`` (it
reads the prompt that went over HTTP and answers in the protocol's format),
so these tests check the whole path: spec -> rendering -> SDK -> server ->
parsing -> run dir -> agreement summary.
"""

from __future__ import annotations

import pytest
from servers import ScriptedServer
from test_strategies import Oracle, _natural

import judgekit
from judgekit.judge.strategies import get_strategy
from judgekit.protocols import list_protocols, load_protocol
from judgekit.runs.run_dir import read_run

N = 12
"""Items per protocol: enough for both labels, small enough for CI."""
PROTOCOLS = [p for p in list_protocols() if not p.startswith(("logprob/", "styles/"))
             and get_strategy(load_protocol(p).strategy).kind == "pairwise"]
"""styles/* answer in their own verdict formats: their oracle is in tests/judge/test_debate_and_styles.py."""


@pytest.fixture
def examples(data_dir):
    return list(_natural()[:N])


@pytest.fixture
def server(examples):
    oracle = Oracle(examples)
    with ScriptedServer(answer=lambda call: oracle.reply("\n".join(m["content"] for m in call.messages))) as s:
        yield s


@pytest.mark.parametrize("protocol_id", PROTOCOLS)
def test_protocol_through_the_runner_and_the_openai_sdk(protocol_id, examples, server, tmp_path):
    judge = judgekit.load_judge("openai:judge", protocol=protocol_id, base_url=server.openai_url,
                                cache=tmp_path / "cache", concurrency=8)
    try:
        run = judgekit.evaluate(judge, examples, out=tmp_path / "run")
    finally:
        judge.close()
    summary = run.summary()["value"]
    assert summary["n"] == N and summary["accuracy"] == 1.0 and summary["invalid_rate"] == 0.0
    if load_protocol(protocol_id).orders == "both" and "positional_agreement" in summary:
        assert summary["positional_agreement"] == 1.0
    stored = read_run(tmp_path / "run")
    assert stored.manifest.protocol == protocol_id
    assert stored.manifest.protocol_hash == load_protocol(protocol_id).content_hash
    assert [v.winner for v in stored.verdicts] == [e.gold for e in examples]
    calls = load_protocol(protocol_id).calls_per_item
    if isinstance(calls, int):
        assert server.total_answered() == calls * N == stored.manifest.usage.calls


def test_user_spec_runs_from_the_cli_without_code(examples, server, tmp_path, cli):
    spec = tmp_path / "terse.yaml"
    spec.write_text(
        "description: terse judge\ncitation: mine\nstrategy: pairwise\n"
        "parser: {format: regex, pattern: '(?i)verdict:\\s*(?:(?P<first>first)|(?P<second>second))'}\n"
        "params: {max_tokens: 8}\n"
        "templates:\n  compare: |-\n    {{ instruction }}\n    [Output (a)]\n    {{ output_1 }}\n\n    [Output (b)]\n"
        "    {{ output_2 }}\n\n    Reply 'Verdict: first' or 'Verdict: second'.\n",
        encoding="utf-8",
    )
    server.answer = lambda call: {"Output (a)": "Verdict: FIRST", "Output (b)": "verdict: second"}[
        Oracle(examples).reply(call.messages[-1]["content"]).splitlines()[-1]]
    code, _, err = cli("run", "--judge", "openai:judge", "--base-url", server.openai_url, "--dataset", "llmbar/natural",
                       "--limit", N, "--protocol", spec, "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    run = read_run(tmp_path / "run")
    assert run.manifest.protocol == "terse" and [v.winner for v in run.verdicts] == [e.gold for e in examples]


def test_panel_members_with_their_own_judges_call_their_own_models(examples, server, tmp_path):
    spec = tmp_path / "jury.yaml"
    spec.write_text(
        "description: two models and the run's judge\ncitation: Verga et al. 2024, arXiv 2404.18796\n"
        "strategy: panel\noptions:\n  aggregate: mean\n  members:\n"
        f"    - {{name: one, judge: 'openai:model-one', base_url: '{server.openai_url}', protocol: llmbar/vanilla}}\n"
        f"    - {{name: two, judge: 'openai:model-two', base_url: '{server.openai_url}', protocol: mtbench/pairwise}}\n"
        "    - {name: host, judge: default, protocol: llmbar/rules}\n",
        encoding="utf-8",
    )
    seen = []
    oracle = Oracle(examples)

    def answer(call):
        seen.append(call.model)
        return oracle.reply("\n".join(m["content"] for m in call.messages))

    server.answer = answer
    judge = judgekit.load_judge("openai:host-model", protocol=str(spec), base_url=server.openai_url,
                                cache=tmp_path / "cache")
    try:
        verdicts = judge.judge_many(examples[:4])
    finally:
        judge.close()
    assert [v.winner for v in verdicts] == [e.gold for e in examples[:4]]
    assert {m: seen.count(m) for m in set(seen)} == {"model-one": 8, "model-two": 8, "host-model": 8}
    assert [(m["name"], m["judge"], m["protocol"]) for m in verdicts[0].details["members"]] == [
        ("one", "openai:model-one", "llmbar/vanilla"), ("two", "openai:model-two", "mtbench/pairwise"),
        ("host", "default", "llmbar/rules")]


REPLAYABLE = ["llmbar/cot", "llmbar/metrics-reference", "llmbar/swap-cot", "llmbar/rating", "reife/prepair",
              "reife/fine-grained-diff", "checklist/drfr", "decompose-critique", "mtbench/pairwise"]


@pytest.mark.parametrize("protocol_id", REPLAYABLE)
def test_a_recorded_run_replays_to_the_same_verdicts_with_no_calls(protocol_id, examples, server, tmp_path):
    """The call path keeps every call's text (the record's transcript), so ``replay:`` can answer each call."""
    oracle = Oracle(examples)
    biased = protocol_id == "llmbar/swap-cot"  # answer "(a)" in the swapped order too, forcing a synthesis
    server.answer = lambda call: (
        "Slot one looks better.\nOutput (a)" if biased and "contradicted" not in call.messages[-1]["content"]
        else oracle.reply("\n".join(m["content"] for m in call.messages)))
    first = judgekit.load_judge("openai:judge", protocol=protocol_id, base_url=server.openai_url,
                                cache=tmp_path / "cache")
    try:
        recorded = judgekit.evaluate(first, examples, out=tmp_path / "recorded")
    finally:
        first.close()
    server.reset_counters()
    again = judgekit.load_judge(f"replay:{tmp_path / 'recorded'}", protocol=protocol_id, cache=False)
    try:
        replayed = judgekit.evaluate(again, examples, out=tmp_path / "replayed")
    finally:
        again.close()
    assert server.requests == 0
    assert [v.winner for v in replayed.verdicts] == [v.winner for v in recorded.verdicts] == [e.gold for e in examples]
    assert [v.details for v in replayed.verdicts] == [v.details for v in recorded.verdicts]
    assert [v.transcript for v in replayed.verdicts] == [v.transcript for v in recorded.verdicts]
    if biased:
        assert all([c.stage for c in v.transcript] == ["synthesize"] for v in recorded.verdicts)
