"""``judgekit run`` end to end: the real CLI, the real OpenAI client, a loopback server.

The server answers like a perfect judge (an oracle that knows the human
labels), so every verdict can be checked. The CLI runs as a subprocess, which
is how users meet its exit codes and one-line errors, and how a kill -9 is real.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import threading
import time

import pytest
from conftest import JUDGEKIT, KILLS_PROCESSES, judgekit_process
from servers import ScriptedServer, oracle_for

from judgekit.data import load_dataset
from judgekit.judge.strategies import get_strategy
from judgekit.protocols import list_protocols, load_protocol
from judgekit.runs.run_dir import read_run
from judgekit.runs.runner import estimate

SECRET = "sk-test-9f8e7d6c5b4a-do-not-store"
BUNDLED = load_dataset("judgekit/bundled").examples


@pytest.fixture
def server():
    with ScriptedServer(answer=oracle_for(BUNDLED)) as s:
        yield s


def run_args(server, out, *extra):
    return ("run", "--judge", "openai:judge", "--base-url", server.openai_url, "--dataset", "judgekit/bundled",
            "--protocol", "llmbar/vanilla", "--out", out, "--quiet", *extra)


def winners(path):
    return {v.example_id: v.winner for v in read_run(path).verdicts}


def test_run_gives_correct_verdicts_and_reruns_make_no_calls(server, tmp_path, cli):
    result = judgekit_process(*run_args(server, tmp_path / "run"))
    assert result.code == 0, result.err
    assert "accuracy" in result.out and "positional_agreement" in result.out
    run = read_run(tmp_path / "run")
    assert run.manifest.complete and run.manifest.n_verdicts == len(BUNDLED)
    assert winners(tmp_path / "run") == {e.id: e.gold for e in BUNDLED}
    assert run.manifest.protocol == "llmbar/vanilla" and run.manifest.protocol_hash
    assert run.manifest.dataset == "judgekit/bundled" and run.manifest.dataset_hash
    assert server.max_answers_per_prompt() == 1 and server.total_answered() == 2 * len(BUNDLED)

    server.reset_counters()
    assert cli(*run_args(server, tmp_path / "run")).code == 0  # same dir
    assert cli(*run_args(server, tmp_path / "warm")).code == 0  # new dir, warm cache
    assert server.requests == 0
    assert winners(tmp_path / "warm") == winners(tmp_path / "run")


def test_no_cache_calls_again(server, tmp_path, cli):
    assert cli(*run_args(server, tmp_path / "one", "--limit", "3")).code == 0
    server.reset_counters()
    assert cli(*run_args(server, tmp_path / "two", "--limit", "3", "--no-cache")).code == 0
    assert server.total_answered() == 6


def start_and_stop(args, out, stop_signal, after_verdicts=8):
    """Start ``judgekit`` and send it a signal once enough verdicts are on disk."""
    process = subprocess.Popen([JUDGEKIT, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    verdicts = out / "verdicts.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        not verdicts.exists() or len(verdicts.read_text().splitlines()) < after_verdicts
    ):
        time.sleep(0.05)
    process.send_signal(stop_signal)
    _, stderr = process.communicate()
    return process.returncode, stderr


@KILLS_PROCESSES
def test_ctrl_c_stops_with_an_honest_manifest(server, tmp_path):
    server.latency = 0.15
    out = tmp_path / "run"
    code, stderr = start_and_stop(run_args(server, out, "--concurrency", "4"), out, signal.SIGINT)
    assert code == 130 and stderr.strip() == "interrupted"
    run = read_run(out)
    assert not run.manifest.complete and run.manifest.n_verdicts == len(run.verdicts) >= 8


@KILLS_PROCESSES
def test_sigterm_stops_like_ctrl_c_and_exits_143(server, tmp_path, cli):
    server.latency = 0.15
    out = tmp_path / "run"
    code, stderr = start_and_stop(run_args(server, out, "--concurrency", "4"), out, signal.SIGTERM)
    assert code == 143 and stderr.strip() == "terminated"
    run = read_run(out)
    assert not run.manifest.complete and run.manifest.n_verdicts == len(run.verdicts) >= 8
    assert run.manifest.usage.calls >= 2 * len(run.verdicts)  # the counts are current, not the last refresh's
    server.latency = 0.0
    assert cli(*run_args(server, out)).code == 0 and read_run(out).manifest.complete


@KILLS_PROCESSES
def test_kill_9_then_resume_repeats_at_most_concurrency_calls(server, tmp_path, cli):
    server.latency = 0.15
    out = tmp_path / "run"
    start_and_stop(run_args(server, out, "--concurrency", "4"), out, signal.SIGKILL)
    assert not read_run(out).manifest.complete
    done_before = len(read_run(out).verdicts)
    assert 8 <= done_before < len(BUNDLED)
    server.latency = 0.0

    result = cli(*run_args(server, out, "--concurrency", "4"))
    assert result.code == 0, result.err
    assert read_run(out).manifest.complete
    assert winners(out) == {e.id: e.gold for e in BUNDLED}
    repeated = server.total_answered() - len(server.answered)
    assert repeated <= 4


def test_api_key_never_written(server, tmp_path):
    server.api_key = SECRET
    cache = tmp_path / "cache"
    env = {"MY_SERVER_KEY": SECRET, "JUDGEKIT_CACHE_DIR": str(cache)}
    result = judgekit_process(*run_args(server, tmp_path / "run", "--limit", "5", "--api-key-env", "MY_SERVER_KEY"),
                              env=env)
    assert result.code == 0, result.err
    assert server.seen_keys == {SECRET}  # the key was really used
    written = [p for p in [*tmp_path.rglob("*")] if p.is_file()]
    assert any(p.name == "verdicts.jsonl" for p in written) and any(p.parent == cache for p in written)
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in result.out + result.err


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_provider_keys_never_go_to_another_server(server, tmp_path, cli, api):
    provider_keys = {"OPENAI_API_KEY": "sk-openai-" + SECRET, "ANTHROPIC_API_KEY": "sk-ant-" + SECRET}
    url = server.openai_url if api == "openai" else server.anthropic_url
    args = [a if a != server.openai_url else url for a in run_args(server, tmp_path / "run", "--limit", "2")]
    args[2] = f"{api}:judge"
    result = cli(*args, env=provider_keys)
    assert result.code == 0, result.err
    assert server.seen_keys == {"no-key-needed"}


def test_a_rejected_placeholder_says_how_to_send_a_key(server, tmp_path, cli):
    server.api_key = SECRET
    result = cli(*run_args(server, tmp_path / "run", "--limit", "1"), env={"OPENAI_API_KEY": SECRET})
    _one_line_error(result, 2, "HTTP 401", "--api-key-env", "goes to the provider's own host only")
    assert server.seen_keys == {"no-key-needed"}


def _one_line_error(result, code, *needles):
    lines = result.err.strip().splitlines()
    assert result.code == code, result.err
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for needle in needles:
        assert needle in lines[0]


def test_setup_failures_are_one_line_and_leave_no_run_dir(tmp_path, cli):
    out = tmp_path / "run"
    _one_line_error(cli("run", "--judge", "nosuch:model", "--out", out, "--limit", "1"), 2, "unknown provider")
    env = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    _one_line_error(cli("run", "--judge", "openai:gpt-4o-mini", "--out", out, "--limit", "1", env=env),
                    2, "OPENAI_API_KEY")
    assert not out.exists()


class Forwarder:
    """A loopback port that is closed until started, then pipes connections to the server:
    a server that is unreachable at first and comes back at the same URL."""

    def __init__(self, target_port: int) -> None:
        with socket.socket() as probe:  # a port nobody listens on (yet)
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(asyncio.start_server(self._handle, "127.0.0.1", self.port),
                                         self.loop).result(5)

    async def _handle(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(source, sink):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)


@pytest.mark.parametrize("failure", ["404", "401", "unreachable"])
def test_call_failures_leave_an_incomplete_run_that_resume_finishes(server, tmp_path, failure, cli):
    out = tmp_path / "run"
    forwarder = Forwarder(server.port)
    url = f"http://127.0.0.1:{forwarder.port}/v1" if failure == "unreachable" else server.openai_url
    args = [a if a != server.openai_url else url for a in run_args(server, out, "--limit", "4", "--max-retries", "1")]
    if failure == "404":
        server.models = {"someone-else"}
        result, code, needle = cli(*args), 2, "HTTP 404"
    elif failure == "401":
        server.api_key = SECRET
        result, code, needle = cli(*args, env={"OPENAI_API_KEY": "sk-wrong"}), 2, "HTTP 401"
    else:
        result, code, needle = cli(*args), 1, "cannot connect: connection refused"
    _one_line_error(result, code, needle)
    assert not read_run(out).manifest.complete
    server.models, server.api_key = None, None
    forwarder.start()
    result = cli(*args, env={"OPENAI_API_KEY": "sk-any"})
    assert result.code == 0, result.err
    assert read_run(out).manifest.complete and len(winners(out)) == 4


def test_resume_with_another_judge_setting_is_refused(server, tmp_path, cli):
    out = tmp_path / "run"
    assert cli(*run_args(server, out, "--limit", "2")).code == 0
    result = cli(*run_args(server, out, "--limit", "2", "--temperature", "0.7"))
    _one_line_error(result, 2, "manifest.json", "params")
    result = cli(*run_args(server, out, "--limit", "3"))
    _one_line_error(result, 2, "manifest.json", "dataset_hash", "--limit")


def test_dry_run_calls_nothing(server, tmp_path, cli):
    result = cli(*run_args(server, tmp_path / "run", "--limit", "10", "--dry-run"))
    assert result.code == 0, result.err
    assert server.requests == 0 and not (tmp_path / "run").exists()
    assert "calls:      20 (2 per item)" in result.out and "tokens in:  about" in result.out


def test_natural_run_is_readable_by_report(data_dir, tmp_path, cli):
    examples = load_dataset("llmbar/natural").examples
    with ScriptedServer(answer=oracle_for(examples)) as s:
        args = ("run", "--judge", "openai:judge", "--base-url", s.openai_url, "--dataset", "llmbar/natural",
                "--protocol", "llmbar/vanilla", "--out", tmp_path / "run", "--quiet", "--concurrency", "16")
        result = cli(*args)
    assert result.code == 0, result.err
    run = read_run(tmp_path / "run")
    assert len(run.verdicts) == len(examples) == run.manifest.n_examples
    report = cli("report", tmp_path / "run", "--format", "json")
    assert report.code == 0, report.err
    row = json.loads(report.out)["runs"][0]
    assert row["n"] == len(examples) and row["calls"] == 2 * len(examples)
    assert row["accuracy"] > 0.9


def test_estimate_every_builtin_protocol_without_calling_anyone(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # any real call path would fail to build
    for protocol_id in list_protocols():
        protocol = load_protocol(protocol_id)
        if get_strategy(protocol.strategy).kind != "pairwise":  # rates scored responses or labelled outputs
            continue
        guess = estimate(protocol, BUNDLED[:2], "openai:gpt-4o-mini")
        assert guess.calls >= 2 and guess.tokens_in > 0, protocol_id
        assert guess.max_cost_usd is not None and guess.max_cost_usd > 0, protocol_id


def wait_for_verdicts(out, at_least, timeout=60):
    verdicts = out / "verdicts.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (not verdicts.exists() or len(verdicts.read_text().splitlines()) < at_least):
        time.sleep(0.05)


@KILLS_PROCESSES
def test_a_second_run_on_the_same_out_refuses_or_waits(server, tmp_path):
    """Two real processes on one --out: the second says who holds it, or with --wait resumes after it."""
    server.latency = 1.0  # the first run stays busy until the test lowers this
    out = tmp_path / "run"
    args = [JUDGEKIT, *map(str, run_args(server, out, "--concurrency", "2"))]
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_verdicts(out, 1)
    second = judgekit_process(*args[1:])
    _one_line_error(second, 2, str(out), f"pid {first.pid}", "--wait")
    waiting = subprocess.Popen([*args, "--wait"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    assert waiting.poll() is None  # still waiting for the lock
    server.latency = 0.0
    assert first.wait(timeout=60) == 0, first.stderr.read()
    assert waiting.wait(timeout=60) == 0, waiting.stderr.read()
    lines = (out / "verdicts.jsonl").read_text().splitlines()
    assert len(lines) == len(BUNDLED) and read_run(out).manifest.complete
    assert server.max_answers_per_prompt() == 1  # nothing was paid twice


def test_run_reads_a_users_file_through_mapping_and_labels(tmp_path, cli):
    rows = [{"uid": e.id.split("/")[-1], "prompt": e.instruction, "first": e.response_a, "second": e.response_b,
             "verdict": {"a": 1, "b": 2}[e.gold]} for e in BUNDLED[:4]]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    mine = [e.model_copy(update={"id": f"mine/{e.id.split('/')[-1]}"}) for e in BUNDLED[:4]]
    with ScriptedServer(answer=oracle_for(mine)) as s:
        result = cli("run", "--judge", "openai:judge", "--base-url", s.openai_url, "--dataset", data,
                     "--mapping", "id=uid,instruction=prompt,response_a=first,response_b=second,gold=verdict",
                     "--labels", "1=a,2=b", "--protocol", "llmbar/vanilla", "--out", tmp_path / "run", "--quiet")
    assert result.code == 0, result.err
    assert winners(tmp_path / "run") == {e.id: e.gold for e in mine}


def test_nothing_to_judge_is_exit_2_not_a_complete_empty_run(server, tmp_path, cli):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    _one_line_error(cli("run", "--dataset", empty, "--out", tmp_path / "one"), 2, "holds no examples")
    _one_line_error(cli(*run_args(server, tmp_path / "two", "--limit", "0")), 2, "nothing to judge")
    _one_line_error(cli("run", "--dataset", tmp_path, "--out", tmp_path / "three"), 2, "is a folder")
    _one_line_error(cli("run", "--dataset", tmp_path / "gone.jsonl", "--out", tmp_path / "four"), 2, "no such file")
    assert not any((tmp_path / name).exists() for name in ("one", "two", "three", "four"))
    assert server.requests == 0
