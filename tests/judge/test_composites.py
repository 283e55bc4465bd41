"""Composite protocols (votes, panel) run inside the run: its overrides, its call paths, its limits.

Checked on the wire: a scripted server behind the real OpenAI SDK client
records every request body, so what the members actually sent is counted.
"""

from __future__ import annotations

import threading

import pytest
from servers import Fault, ScriptedServer, client_closed, oracle_for

import judgekit
from judgekit.data import load_dataset

BUNDLED = load_dataset("judgekit/bundled").examples


class Recorder:
    """The oracle's answers, plus every request's model and body, kept for the test."""

    def __init__(self) -> None:
        self.oracle = oracle_for(BUNDLED)
        self.calls: list = []
        self.lock = threading.Lock()

    def __call__(self, call) -> str:
        with self.lock:
            self.calls.append(call)
        return self.oracle(call)


@pytest.fixture
def recorded():
    recorder = Recorder()
    with ScriptedServer(answer=recorder) as server:
        yield server, recorder


def pairs(n):
    return [(e.instruction, e.response_a, e.response_b) for e in BUNDLED[:n]]


def panel_spec(tmp_path, url, *, seats=("openai:m1", "openai:m2"), home=True):
    members = [f"    - {{name: seat-{i}, judge: '{judge}', base_url: '{url}', protocol: llmbar/vanilla}}\n"
               for i, judge in enumerate(seats)]
    if home:
        members.append("    - {name: home, judge: default, protocol: llmbar/rules}\n")
    path = tmp_path / "jury.yaml"
    path.write_text("description: a jury\ncitation: Verga et al. 2024, arXiv 2404.18796\nstrategy: panel\n"
                    "options:\n  members:\n" + "".join(members), encoding="utf-8")
    return path


def test_max_tokens_and_temperature_reach_every_self_consistency_sample(recorded):
    server, recorder = recorded
    judge = judgekit.load_judge("openai:judge", "reife/self-consistency", base_url=server.openai_url,
                                max_tokens=48, temperature=0.3, cache=False)
    try:
        verdict = judge.judge(*pairs(1)[0])
    finally:
        judge.close()
    assert verdict.winner == BUNDLED[0].gold
    assert len(recorder.calls) == 10  # 5 samples x 2 orders, each on the wire
    assert [c.body["max_tokens"] for c in recorder.calls] == [48] * 10
    assert [c.body["temperature"] for c in recorder.calls] == [0.3] * 10


def test_without_overrides_samples_keep_the_spec_temperature_and_the_base_max_tokens(recorded):
    server, recorder = recorded
    judge = judgekit.load_judge("openai:judge", "reife/self-consistency", base_url=server.openai_url, cache=False)
    try:
        judge.judge(*pairs(1)[0])
    finally:
        judge.close()
    base = judgekit.judge.api.load_protocol("llmbar/cot").params.max_tokens
    assert {(c.body["max_tokens"], c.body["temperature"]) for c in recorder.calls} == {(base, 0.7)}


def test_max_tokens_reaches_panel_members_with_their_own_judges(recorded, tmp_path):
    server, recorder = recorded
    spec = panel_spec(tmp_path, server.openai_url)
    judge = judgekit.load_judge("openai:run-judge", str(spec), base_url=server.openai_url, max_tokens=48,
                                cache=False)
    try:
        verdict = judge.judge(*pairs(1)[0])
    finally:
        judge.close()
    assert verdict.winner == BUNDLED[0].gold
    models = sorted(c.model for c in recorder.calls)
    assert models == ["m1", "m1", "m2", "m2", "run-judge", "run-judge"]
    assert [c.body["max_tokens"] for c in recorder.calls] == [48] * 6


def test_a_panel_run_never_exceeds_the_concurrency_at_the_server(recorded, tmp_path):
    """Three seats on one server, each with its own call path: together they stay within --concurrency."""
    server, recorder = recorded
    server.latency = 0.05
    spec = panel_spec(tmp_path, server.openai_url, seats=("openai:m1", "openai:m2", "openai:m3"), home=False)
    judge = judgekit.load_judge("openai:run-judge", str(spec), base_url=server.openai_url, concurrency=3,
                                cache=False)
    try:
        verdicts = judge.judge_many(pairs(8))
    finally:
        judge.close()
    assert [v.winner for v in verdicts] == [e.gold for e in BUNDLED[:8]]
    assert len(recorder.calls) == 8 * 3 * 2
    assert server.peak_concurrency == 3  # reached, never passed


def test_the_seats_retries_reach_the_runs_manifest(recorded, tmp_path):
    """The run's own judge sits out (every call is a seat's): the manifest still counts the seats' retries."""
    server, recorder = recorded
    server.inject(Fault.rate_limit(retry_after=0.01), Fault.rate_limit(retry_after=0.01))
    spec = panel_spec(tmp_path, server.openai_url, home=False)
    judge = judgekit.load_judge("openai:run-judge", str(spec), base_url=server.openai_url, concurrency=1,
                                cache=False)
    run = judgekit.evaluate(judge, "judgekit/bundled", out=tmp_path / "run", limit=2)
    judge.close()
    assert {c.model for c in recorder.calls} == {"m1", "m2"} and judge.call_path.usage.calls == 0
    assert run.manifest.complete and run.manifest.usage.retries == 2
    assert [v.winner for v in run.verdicts] == [e.gold for e in BUNDLED[:2]]


def test_panel_seats_share_the_run_cache_and_are_closed_with_it(recorded, tmp_path):
    server, recorder = recorded
    spec = panel_spec(tmp_path, server.openai_url)
    cache_dir = tmp_path / "cache"
    for _ in range(2):
        judge = judgekit.load_judge("openai:run-judge", str(spec), base_url=server.openai_url, cache=cache_dir,
                                    max_retries=0)
        verdict = judge.judge(*pairs(1)[0])
        seats = list(judge.paths.others.values())
        judge.close()
        assert all(p.max_retries == 0 and p.cache is judge.call_path.cache for p in seats)
        assert all(client_closed(p.backend) for p in [judge.call_path, *seats])
    assert len(recorder.calls) == 6  # the second run was answered from the shared cache
    assert verdict.usage.cache_hits == 6
