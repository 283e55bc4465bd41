"""The runner over a real OpenAI client and a loopback server: verdicts, resume, faults.

The built-in ``llmbar/vanilla`` protocol (both orders) runs through a CallPath
built here, so retries back off quickly; the CLI-level tests are in test_cli_run.py.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from servers import Fault, oracle_for, scripted_server  # noqa: F401  (fixture)
from sklearn.metrics import accuracy_score

from judgekit.analysis.summary import run_summary
from judgekit.analysis.summary import summary_frame as summarize
from judgekit.backends.cache import ResponseCache
from judgekit.backends.call_path import CallPath
from judgekit.backends.registry import create_backend
from judgekit.errors import BadInput
from judgekit.judge.strategies import run_protocol
from judgekit.protocols import load_protocol
from judgekit.records import Example, Manifest
from judgekit.report.run_summary import summary_table
from judgekit.runs.run_dir import read_run
from judgekit.runs.runner import judge_run, open_run_dir

EXAMPLES = [
    Example(id=f"ex{i}", instruction=f"task {i}", response_a=f"alpha {i} end", response_b=f"beta {i} end",
            gold="a" if i % 3 else "b")
    for i in range(12)
]
oracle = oracle_for(EXAMPLES)
VANILLA = load_protocol("llmbar/vanilla")


def manifest(n=None, judge="openai:judge") -> Manifest:
    return Manifest(judge=judge, protocol=VANILLA.id, protocol_hash=VANILLA.content_hash, dataset="toy",
                    package_version="0", started_at="2026-11-23T00:00:00+00:00",
                    n_examples=len(EXAMPLES) if n is None else n)


async def run_once(server, out, *, model="judge", cache=True, concurrency=4, examples=EXAMPLES, timeout=2.0):
    backend = create_backend(f"openai:{model}", base_url=server.openai_url)
    call_path = CallPath(backend, cache=ResponseCache() if cache else None, concurrency=concurrency,
                         timeout=timeout, max_retries=4, backoff_base=0.05)
    run_dir = open_run_dir(out, manifest(len(examples)), examples)
    try:
        return await judge_run(lambda e: run_protocol(VANILLA, e, call_path), run_dir, workers=call_path.concurrency)
    finally:
        await call_path.aclose()


async def test_correct_verdicts_then_zero_call_reruns(scripted_server, tmp_path):
    scripted_server.answer = oracle
    run = await run_once(scripted_server, tmp_path / "run")
    assert run.manifest.complete and run.manifest.n_verdicts == 12
    assert {v.example_id: v.winner for v in run.verdicts} == {e.id: e.gold for e in EXAMPLES}
    assert scripted_server.total_answered() == 24 and scripted_server.max_answers_per_prompt() == 1
    assert run.manifest.usage.calls == 24 and run.manifest.usage.tokens_in > 0

    scripted_server.reset_counters()
    again = await run_once(scripted_server, tmp_path / "run")  # same dir: nothing left to do
    assert scripted_server.requests == 0
    assert [v.model_dump() for v in again.verdicts] == [v.model_dump() for v in run.verdicts]

    warm = await run_once(scripted_server, tmp_path / "other")  # new dir, warm cache
    assert scripted_server.requests == 0
    assert warm.manifest.usage.cache_hits == 24
    assert [v.winner for v in warm.verdicts] == [v.winner for v in run.verdicts]


async def test_faults_still_give_right_verdicts_and_no_prompt_answered_twice(scripted_server, tmp_path):
    scripted_server.answer = oracle
    scripted_server.inject(Fault.rate_limit(retry_after=0.1), Fault.server_error(), Fault.slow(3.0),
                           Fault.garbled(), Fault.reset(), Fault.server_error(503))
    # the 429 and the 503 leave one call in flight, the slow one: it is waited for until its timeout, then
    # its slot is held as long again (it was sent with others in flight). 0.5 s is ample for answers with
    # no latency, as in test_callpath
    run = await run_once(scripted_server, tmp_path / "run", cache=False, timeout=0.5)
    assert {v.example_id: v.winner for v in run.verdicts} == {e.id: e.gold for e in EXAMPLES}
    assert sum(scripted_server.faults_served.values()) == 6
    assert scripted_server.max_answers_per_prompt() == 1


async def test_concurrency_is_the_call_paths(scripted_server, tmp_path):
    scripted_server.answer = oracle
    scripted_server.latency = 0.05
    await run_once(scripted_server, tmp_path / "run", concurrency=3)
    assert scripted_server.peak_concurrency == 3


async def test_failure_leaves_run_incomplete_and_resume_finishes(scripted_server, tmp_path):
    scripted_server.answer = oracle
    scripted_server.models = {"judge"}
    with pytest.raises(BadInput, match="HTTP 404"):
        await run_once(scripted_server, tmp_path / "run", model="missing")
    assert not read_run(tmp_path / "run").manifest.complete
    # The same dir with a different judge is refused, naming the field ...
    with pytest.raises(BadInput, match="field 'judge'"):
        open_run_dir(tmp_path / "run", manifest(judge="openai:judge2"), EXAMPLES)
    # ... and the failed part finishes once the server knows the model.
    scripted_server.models = None
    run = await run_once(scripted_server, tmp_path / "run", model="missing")
    assert run.manifest.complete and len(run.verdicts) == 12


async def test_unparseable_answers_stay_invalid_with_raw_text(scripted_server, tmp_path):
    scripted_server.answer = lambda call: "I cannot decide."
    run = await run_once(scripted_server, tmp_path / "run", examples=EXAMPLES[:2])
    assert [v.winner for v in run.verdicts] == [None, None]
    assert run.verdicts[0].orders[0].raw == "I cannot decide."


async def test_cancel_keeps_finished_verdicts(scripted_server, tmp_path):
    scripted_server.answer = oracle
    scripted_server.latency = 0.1  # 24 answers two at a time: 1.2 s to finish, cancelled after about 0.3 s
    task = asyncio.ensure_future(run_once(scripted_server, tmp_path / "run", concurrency=2, cache=False))
    deadline = time.monotonic() + 60
    # two verdicts' worth, on a busy machine too
    while scripted_server.total_answered() < 4 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    partial = read_run(tmp_path / "run")
    assert not partial.manifest.complete and 0 < len(partial.verdicts) < 12
    assert partial.manifest.n_verdicts == len(partial.verdicts)


def test_open_run_dir_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BadInput, match="not a judgekit run directory"):
        open_run_dir(tmp_path, manifest(), EXAMPLES)



async def test_summary_of_a_first_slot_judge(scripted_server, tmp_path):
    """A judge that always picks the first slot: right in one order only, never consistent."""
    scripted_server.answer = lambda call: "Output (a)"
    run = await run_once(scripted_server, tmp_path / "run")
    frame = summarize(run)
    gold = [e.gold for e in EXAMPLES]
    expected = (accuracy_score(gold, ["a"] * 12) + accuracy_score(gold, ["b"] * 12)) / 2
    assert frame.loc["accuracy", "value"] == pytest.approx(expected)
    assert frame.loc["accuracy_first_order", "value"] == pytest.approx(8 / 12)
    assert frame.loc["positional_agreement", "value"] == 0
    assert frame.loc["accuracy_both_orders", "value"] == 0
    assert frame.loc["tie_rate", "value"] == 0
    low, high = frame.loc["accuracy", ["ci_low", "ci_high"]]
    assert low == expected == high  # every item is right in exactly one order: no spread
    assert frame.loc["calls", "value"] == 24
    summary = run_summary(run)
    table = summary_table(summary.figures, run.manifest, headline=summary.headline, ci_method=summary.ci_method,
                          elapsed_s=1.5)
    assert table.row_count == len(frame) + 1



def test_the_progress_line_adds_up_every_call_path_the_run_owns():
    """A panel whose run judge sits out still shows its seats' calls, tokens and cost."""
    from judgekit.backends.call_path import LiveUsage
    from judgekit.runs.runner import LiveProgress

    own = CallPath(create_backend("mock:first"))
    seats = [LiveUsage(calls=3, cache_hits=1, tokens_in=10, tokens_out=2, cost_usd=0.5),
             LiveUsage(calls=2, tokens_in=5, cost_usd=0.25)]
    progress = LiveProgress(enabled=False)
    update = progress.track("judging", own, 10, [own.usage, *seats])
    update(4)
    [task] = progress.progress.tasks
    assert task.completed == 4
    assert (task.fields["calls"], task.fields["hits"], task.fields["tokens"]) == (5, 1, 17)
    assert task.fields["cost"] == pytest.approx(0.75)
    progress.track("alone", own, 10)(1)  # without usages: the run's own call path
    assert progress.progress.tasks[1].fields["calls"] == 0
