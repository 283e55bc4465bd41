"""Self-hosted servers: one request at a time, load shedding, silence, refusals, retries counted.

Every server here is the scripted loopback server, reached through the real
OpenAI SDK client, and most runs go through the real ``judgekit run``.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from conftest import run_judgekit
from rich.progress import Progress
from servers import Fault, Reply, ScriptedServer, oracle_for

from judgekit.backends import call_path
from judgekit.backends.adaptive import AdaptiveLimit
from judgekit.backends.base import Message, Request
from judgekit.backends.call_path import CallPath
from judgekit.backends.registry import create_backend
from judgekit.backends.urls import fingerprint
from judgekit.data import load_dataset
from judgekit.errors import JudgekitError
from judgekit.runs.run_dir import read_run
from judgekit.runs.runner import ServerColumn

BUNDLED = load_dataset("judgekit/bundled").examples


def ask(text: str) -> Request:
    return Request((Message("user", text),))


def run_args(server: ScriptedServer, out, *extra) -> tuple:
    return ("run", "--judge", "openai:judge", "--base-url", server.openai_url, "--dataset", "judgekit/bundled",
            "--protocol", "llmbar/vanilla", "--out", out, "--quiet", *extra)


@pytest.mark.slow(reason="8 s of real waiting on a one-at-a-time server")
def test_a_one_at_a_time_server_is_not_buried_in_abandoned_work(tmp_path, monkeypatch, capsys):
    # The setting scaled down fourfold: 0.25 s per answer, 8 in flight, timeout 1 s.
    # Waiting in the queue takes up to 2 s, longer than the timeout, yet the server is never silent.
    latency, pairs = 0.25, 16
    with ScriptedServer(answer=oracle_for(BUNDLED), latency=latency, one_at_a_time=True) as server:
        code, out, err = run_judgekit(monkeypatch, capsys, *run_args(
            server, tmp_path / "run", "--limit", pairs, "--concurrency", 8, "--timeout", 1))
        wall = time.monotonic() - server.request_times[0]
        assert code == 0, err
        serial = 2 * pairs * latency  # two presentation orders per pair
        assert server.abandoned() <= 8  # at most one wave of abandoned answers
        assert wall <= 1.5 * serial, (wall, serial)
    run = read_run(tmp_path / "run")
    gold = {e.id: e.gold for e in BUNDLED}
    assert run.manifest.complete and len(run.verdicts) == pairs
    assert all(v.winner == gold[v.example_id] for v in run.verdicts)


@pytest.mark.slow(reason="waits out 16 timeouts on a server that answers one call at a time (about 8 s)")
async def test_a_wave_of_timeouts_halves_the_calls_in_flight_and_says_what_to_change():
    # 0.3 s per answer but only 0.2 s of silence allowed: every call times out, whatever we do. A server
    # that never answered keeps each abandoned call's slot for 0.2 s x 8: each wave costs 1.6 s.
    with ScriptedServer(latency=0.3, one_at_a_time=True) as server:
        path = CallPath(create_backend("openai:judge", base_url=server.openai_url), concurrency=8,
                        timeout=0.2, max_retries=1, backoff_base=0.01)
        results = await asyncio.gather(*(path.complete(ask(f"q{i}")) for i in range(8)), return_exceptions=True)
        await path.aclose()
    assert all(isinstance(r, JudgekitError) for r in results)
    message = str(results[0])
    assert "the server sent nothing for 0.2 s" in message and "--concurrency" in message and "--timeout 0.8" in message
    # each wave of timeouts halved the calls in flight: 8, then 4, 2, 1
    assert path.usage.timeouts == 16 and path.slots.lowest == 1 and path.slots.limit == 1


async def test_a_server_that_sheds_load_gets_fewer_calls_in_flight():
    with ScriptedServer(latency=0.02) as server:
        server.capacity = 2
        path = CallPath(create_backend("openai:judge", base_url=server.openai_url), concurrency=8,
                        max_retries=10, backoff_base=0.01, backoff_cap=0.05)
        completions = await asyncio.gather(*(path.complete(ask(f"q{i}")) for i in range(40)))
        await path.aclose()
    assert [c.text for c in completions] == [f"echo: q{i}" for i in range(40)]
    assert server.peak_concurrency <= 2 and path.slots.lowest <= 2
    # without backing off, 6 of every 8 attempts would be shed for the whole run
    assert server.faults_served["over_capacity"] < 40


async def test_adaptive_limit_halves_once_per_wave_and_creeps_back():
    limit = AdaptiveLimit(8)
    epochs = [await limit.acquire() for _ in range(8)]
    for epoch in epochs:  # eight calls of one wave fail: one signal
        limit.release()
        limit.overloaded(epoch)
    assert limit.limit == 4
    for _ in range(4):
        await limit.acquire()
        limit.release()
        limit.succeeded()
    assert limit.limit == 5 and limit.lowest == 4
    limit.overloaded(await limit.acquire())
    limit.overloaded(epochs[0])  # a straggler of the first wave changes nothing
    assert limit.limit == 2 and limit.lowest == 2


async def test_a_released_slot_wakes_one_waiter_and_a_cancelled_one_hands_it_on():
    """Waking every waiter at each release cost as much as the queue was long (issue 29: at concurrency 1,024
    a run spent more CPU waking waiters than calling); a woken waiter that is cancelled passes its turn."""
    limit = AdaptiveLimit(1)
    await limit.acquire()
    waiting = [asyncio.create_task(limit.acquire()) for _ in range(50)]
    await asyncio.sleep(0)
    limit.release()
    assert len(limit._waiters) == 49  # the others sleep on
    await asyncio.sleep(0)
    assert [task.done() for task in waiting] == [True] + [False] * 49
    limit.release()
    waiting[1].cancel()  # woken for the slot, cancelled before it could take it
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert waiting[1].cancelled() and waiting[2].done() and limit.active == 1
    for task in waiting[3:]:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


def test_retries_and_timeouts_land_in_the_manifest_and_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(call_path, "BACKOFF_BASE_S", 0.01)  # three retries waited 0.5-2 s each
    with ScriptedServer(answer=oracle_for(BUNDLED)) as server:
        server.inject(Fault.server_error(503), Fault.slow(3.0), Fault.server_error(500))
        code, out, err = run_judgekit(monkeypatch, capsys, *run_args(
            server, tmp_path / "run", "--limit", 4, "--concurrency", 1, "--timeout", 0.3))
    assert code == 0, err
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["usage"]["retries"] == 3 and manifest["usage"]["timeouts"] == 1
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in out.splitlines() if line.count("│") >= 3}
    assert rows["retries"] == "3" and rows["timeouts"] == "1"


async def test_the_progress_line_says_when_the_server_is_silent():
    with ScriptedServer() as server:
        server.inject(Fault.slow(2.0))
        path = CallPath(create_backend("openai:judge", base_url=server.openai_url), timeout=5)
        column = ServerColumn(silent_after_s=0.3)
        progress = Progress()
        task_id = progress.add_task("judging", total=1, call_path=path)
        call = asyncio.create_task(path.complete(ask("slow one")))
        silent = ""  # looked at until the call ends: on a loaded host the request may leave late
        while not call.done() and not silent:
            await asyncio.sleep(0.05)
            silent = column.render(progress.tasks[task_id]).plain
        server.release_slow()  # seen: the server may answer now instead of after its 2 s
        await call
        after = column.render(progress.tasks[task_id]).plain
        await path.aclose()
    assert silent.startswith("server silent for") and after == ""


def test_a_refused_item_becomes_an_invalid_verdict_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    refused = BUNDLED[2]
    too_long = "This model's maximum context length is 2048 tokens; the request has 9000"

    def answer(call):
        if refused.response_a in call.prompt:
            raise TooLong(too_long)
        return oracle_for(BUNDLED)(call)

    with ScriptedServer(answer=answer) as server:
        server.status_for_error = 400
        code, out, err = run_judgekit(monkeypatch, capsys, *run_args(server, tmp_path / "run", "--limit", 6))
        assert code == 0, err
        again = run_judgekit(monkeypatch, capsys, *run_args(server, tmp_path / "run", "--limit", 6))
    assert again[0] == 0
    run = read_run(tmp_path / "run")
    by_id = {v.example_id: v for v in run.verdicts}
    assert run.manifest.complete and len(by_id) == 6
    assert by_id[refused.id].winner is None and by_id[refused.id].invalid_reason == "refused"
    assert too_long in by_id[refused.id].details["refused"] and "HTTP 400" in by_id[refused.id].details["refused"]
    assert sum(v.winner is not None for v in run.verdicts) == 5
    assert f"refused by the server: {refused.id}: HTTP 400" in err
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in out.splitlines() if line.count("│") >= 3}
    assert rows["refused"] == "1"


def test_a_server_refusing_everything_stops_the_run(tmp_path, monkeypatch, capsys):
    with ScriptedServer(answer=lambda call: (_ for _ in ()).throw(TooLong("unknown field logprobs"))) as server:
        server.status_for_error = 400
        code, out, err = run_judgekit(monkeypatch, capsys, *run_args(server, tmp_path / "run", "--concurrency", 1))
    assert code == 1 and "unknown field logprobs" in err and "requests rather than the items" in err
    assert read_run(tmp_path / "run").verdicts == []  # refusals are kept only once an item is answered


class TooLong(Exception):
    """Raised by an answer function: the scripted server answers with ``status_for_error``."""


def test_a_trailing_slash_on_the_base_url_resumes_the_same_run(tmp_path, monkeypatch, capsys):
    with ScriptedServer(answer=oracle_for(BUNDLED)) as server:
        oracle, stop_at = server.answer, BUNDLED[3].response_a

        def fail_at_item_3(call):
            if stop_at in call.prompt:
                raise TooLong("no such model today")
            return oracle(call)

        server.answer, server.status_for_error = fail_at_item_3, 404
        first = run_judgekit(monkeypatch, capsys, *run_args(server, tmp_path / "run", "--limit", 5,
                                                            "--concurrency", 1, "--protocol", "llmbar/rules"))
        assert first[0] == 2 and len(read_run(tmp_path / "run").verdicts) == 3
        server.answer, server.status_for_error = oracle, None
        args = [a if a != server.openai_url else server.openai_url + "/" for a in run_args(
            server, tmp_path / "run", "--limit", 5, "--concurrency", 1, "--protocol", "llmbar/rules")]
        code, out, err = run_judgekit(monkeypatch, capsys, *args)
    assert code == 0, err
    run = read_run(tmp_path / "run")
    assert run.manifest.complete and len(run.verdicts) == 5
    assert run.manifest.params["base_url"] == server.openai_url


def test_credentials_in_the_url_are_refused_in_one_line_and_never_shown(tmp_path, monkeypatch, capsys):
    secret = "sk-url-secret-0123456789"
    with ScriptedServer(answer=oracle_for(BUNDLED)) as server:
        with_user = server.openai_url.replace("http://", f"http://user:{secret}@")
        args = [a if a != server.openai_url else with_user for a in run_args(server, tmp_path / "a", "--limit", 1)]
        code, out, err = run_judgekit(monkeypatch, capsys, *args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "credentials in the URL" in err
        assert secret not in out + err and "user" not in err and not (tmp_path / "a").exists()

        with_query = server.openai_url + f"?api-key={secret}"
        args = [a if a != server.openai_url else with_query for a in run_args(server, tmp_path / "b", "--limit", 2)]
        code, out, err = run_judgekit(monkeypatch, capsys, *args)
        assert code == 0, err
        assert all(call_query == {"api-key": secret} for call_query in server.queries)
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["params"]["base_url"] == fingerprint(with_query)  # told apart from other keys, never shown
    assert manifest["params"]["base_url"].startswith(server.openai_url + "?api-key=sha256-")
    for path in (tmp_path / "b").iterdir():
        assert secret not in path.read_text(), path
    assert secret not in out + err


@pytest.mark.parametrize("continues", [True, False])
def test_a_server_that_does_not_continue_the_answer_prefix_is_named(tmp_path, monkeypatch, capsys, continues):
    def answer(call):
        assert call.prefill == "Output ("
        if continues:  # the reply goes on from the prefix: the label comes first
            return Reply("a)", logprobs=[{"a": -0.1, "b": -2.4}, {")": -0.01}])
        # a new turn: the model writes the whole answer again
        return Reply("Output (a)", logprobs=[{"Output": -0.01}, {" (": -0.01}, {"a": -0.1, "b": -2.4}, {")": -0.01}])

    with ScriptedServer(answer=answer) as server:
        code, out, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url",
                                      server.openai_url, "--dataset", "judgekit/bundled", "--limit", 3,
                                      "--protocol", "logprob/pairwise", "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    run = read_run(tmp_path / "run")
    assert all(v.winner is not None for v in run.verdicts)  # readable either way
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in out.splitlines() if line.count("│") >= 3}
    if continues:
        assert run.manifest.usage.prefix_restarts == 0 and "prefix" not in err and "prefix_restarts" not in rows
    else:
        assert run.manifest.usage.prefix_restarts == 6 and rows["prefix_restarts"] == "6"
        assert "6 of 6 replies started a new answer instead of continuing the forced prefix 'Output ('" in err
