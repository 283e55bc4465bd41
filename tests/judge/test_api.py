"""The Python API: load_judge / judge / ajudge / judge_many / evaluate, over real HTTP."""

from __future__ import annotations

import asyncio

import pytest
from servers import ScriptedServer, oracle_for

import judgekit
from judgekit.data import load_dataset
from judgekit.errors import BadInput

BUNDLED = load_dataset("judgekit/bundled").examples


@pytest.fixture
def server():
    with ScriptedServer(answer=oracle_for(BUNDLED)) as s:
        yield s


@pytest.fixture
def judge(server):
    handle = judgekit.load_judge("openai:judge", protocol="llmbar/vanilla", base_url=server.openai_url,
                                 concurrency=4)
    yield handle
    handle.close()


def test_judge_one_pair(judge):
    e = BUNDLED[0]
    verdict = judge.judge(e.instruction, e.response_a, e.response_b)
    assert verdict.winner == e.gold
    assert len(verdict.orders) == 2 and {o.swapped for o in verdict.orders} == {False, True}
    assert verdict.usage.calls == 2


async def test_sync_and_async_calls_inside_a_running_loop(judge):
    """As in Jupyter: a loop is already running in this thread."""
    e, f = BUNDLED[1], BUNDLED[2]
    assert judge.judge(e.instruction, e.response_a, e.response_b).winner == e.gold
    verdicts = await asyncio.gather(judge.ajudge(e.instruction, e.response_a, e.response_b),
                                    judge.ajudge(f.instruction, f.response_a, f.response_b))
    assert [v.winner for v in verdicts] == [e.gold, f.gold]
    assert verdicts[0].usage.cache_hits == 2  # asked before through judge(): answered from the cache


def test_judge_many_is_concurrent_and_ordered(judge, server):
    server.latency = 0.1
    pairs = [(e.instruction, e.response_a, e.response_b) for e in BUNDLED[:12]]
    verdicts = judge.judge_many(pairs)
    assert [v.winner for v in verdicts] == [e.gold for e in BUNDLED[:12]]
    assert [v.example_id for v in verdicts] == [f"pair-{i}" for i in range(12)]
    assert server.peak_concurrency == 4
    assert judge.judge_many(BUNDLED[:2])[1].example_id == BUNDLED[1].id  # Examples keep their ids


def test_evaluate_gives_a_run_with_summary_and_resumes(judge, server, tmp_path):
    run = judgekit.evaluate(judge, "judgekit/bundled", out=tmp_path / "run", limit=10)
    assert run.manifest.complete and len(run.verdicts) == 10
    summary = run.summary()
    assert summary.loc["accuracy", "value"] == 1.0
    assert summary.loc["positional_agreement", "value"] == 1.0
    assert summary.loc["n", "value"] == 10
    server.reset_counters()
    again = judgekit.evaluate(judge, "judgekit/bundled", out=tmp_path / "run", limit=10)
    assert server.requests == 0 and len(again.verdicts) == 10


def test_evaluate_plain_examples_into_a_temporary_dir(judge):
    run = judgekit.evaluate(judge, list(BUNDLED[:3]))
    assert run.path.is_dir() and run.manifest.dataset == "examples"
    assert [v.winner for v in run.verdicts] == [e.gold for e in BUNDLED[:3]]


def test_bad_pairs_and_specs_are_bad_input(judge):
    with pytest.raises(BadInput, match="pair 1: expected"):
        judge.judge_many([("q", "a", "b"), ("only two", "parts")])
    with pytest.raises(BadInput, match="unknown provider"):
        judgekit.load_judge("nosuch:model")
