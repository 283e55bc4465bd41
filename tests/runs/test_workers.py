"""``judgekit run --workers N``: the examples judged in N processes, the run dir written by one (issue 29 item 4).

Runs go through the real CLI and the real OpenAI SDK to the loopback scripted server."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import KILLS_PROCESSES
from servers import ScriptedServer

from judgekit.data import load_dataset
from judgekit.runs.run_dir import read_run
from judgekit.runs.shards import shares

JUDGEKIT = str(Path(sys.executable).parent / "judgekit")
BUNDLED = load_dataset("judgekit/bundled").examples
STARTS_WORKERS = pytest.mark.slow(reason="starts judgekit worker processes (about 1.5 s of CPU each)")


def by_prompt(call) -> str:
    """A judge whose answer is a fixed function of the prompt: some orders agree, some do not, some are unparseable."""
    digest = hashlib.sha256("\n".join(m["content"] for m in call.messages).encode()).digest()[0]
    return ("Output (a)", "Output (b)", "I cannot decide")[digest % 3]


def run_args(server, out, *extra):
    return ("run", "--judge", "openai:judge", "--base-url", server.openai_url, "--dataset", "judgekit/bundled",
            "--protocol", "llmbar/vanilla", "--out", out, "--quiet", *extra)


def judgekit(*args, cache):
    return subprocess.run([JUDGEKIT, *map(str, args)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "JUDGEKIT_CACHE_DIR": str(cache)})


def decisions(path):
    """Every verdict without what differs between runs of the same judgement (timing, cache hits)."""
    return {v.example_id: v.model_dump(exclude={"usage"}) for v in read_run(path).verdicts}


def test_concurrency_is_shared_out_with_none_left_idle():
    assert shares(8, 2) == [4, 4] and shares(5, 2) == [3, 2] and shares(2, 4) == [1, 1] and shares(1, 1) == [1]


def test_a_batch_run_refuses_workers_in_one_line(tmp_path, monkeypatch, capsys):
    from conftest import run_judgekit

    with ScriptedServer(answer=by_prompt) as server:
        args = run_args(server, tmp_path / "run", "--batch", "--workers", "2")
        code, _, err = run_judgekit(monkeypatch, capsys, *args)
    assert code == 2 and err.strip().splitlines() == [
        "error: --workers: a --batch run makes no live calls to share out; leave --workers at 1"]
    assert not (tmp_path / "run").exists()


@STARTS_WORKERS
def test_two_workers_give_the_verdicts_one_gives_each_call_made_once(tmp_path):
    with ScriptedServer(answer=by_prompt, latency=0.02) as server:
        one = judgekit(*run_args(server, tmp_path / "one", "-c", "4"), cache=tmp_path / "cache-one")
        assert one.returncode == 0, one.stderr
        server.reset_counters()
        two = judgekit(*run_args(server, tmp_path / "two", "-c", "4", "--workers", "2"), cache=tmp_path / "cache-two")
        assert two.returncode == 0, two.stderr
        assert server.total_answered() == 2 * len(BUNDLED) and server.max_answers_per_prompt() == 1
        server.reset_counters()
        rerun = judgekit(*run_args(server, tmp_path / "three", "--workers", "2"), cache=tmp_path / "cache-two")
        assert rerun.returncode == 0 and server.requests == 0  # the workers read the cache the others wrote
    verdicts = decisions(tmp_path / "two")
    assert verdicts == decisions(tmp_path / "one") == decisions(tmp_path / "three")
    assert len(verdicts) == len(BUNDLED) and {v["winner"] for v in verdicts.values()} >= {"a", "b", None}
    manifest = read_run(tmp_path / "two").manifest
    assert manifest.complete and manifest.usage.calls == 2 * len(BUNDLED)
    assert "accuracy" in two.stdout and str(tmp_path / "two") in two.stdout


def children_of(pid: int, marker: bytes) -> list[int]:
    """The processes whose parent is ``pid`` and whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid \
                    and marker in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # it ended while we looked
    return found


def workers_of(pid: int) -> list[int]:
    """The worker processes of the judgekit process ``pid``, and the fork server they were forked from."""
    servers = children_of(pid, b"multiprocessing.forkserver")
    return [w for server in servers for w in children_of(server, b"multiprocessing.forkserver")] + servers


def gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() and "Z" not in Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1][:3]
                   for p in pids):
            return True
        time.sleep(0.05)
    return False


def start_until(args, out, cache, verdicts=8):
    """``judgekit ARGS`` started, returned once ``verdicts`` verdicts are on disk, with its worker pids."""
    process = subprocess.Popen([JUDGEKIT, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "JUDGEKIT_CACHE_DIR": str(cache)})
    deadline = time.monotonic() + 120
    lines = out / "verdicts.jsonl"
    while time.monotonic() < deadline and (not lines.exists() or len(lines.read_text().splitlines()) < verdicts):
        time.sleep(0.05)
    return process, workers_of(process.pid)


@KILLS_PROCESSES
def test_kill_9_stops_the_workers_too_and_a_rerun_repeats_only_the_calls_in_flight(tmp_path):
    out, cache = tmp_path / "run", tmp_path / "cache"
    with ScriptedServer(answer=by_prompt, latency=0.15) as server:
        process, workers = start_until(run_args(server, out, "-c", "4", "--workers", "2"), out, cache)
        assert len(workers) == 3  # two workers and their fork server
        server.latency = 600.0  # the workers now wait on the server, with nothing to send their parent
        time.sleep(0.5)
        process.send_signal(signal.SIGKILL)
        process.wait(30)  # not communicate(): a worker left running would hold its stderr open
        assert gone(workers, within=10), "a worker outlived its killed parent"
        done_before = len(read_run(out).verdicts)
        assert not read_run(out).manifest.complete and 8 <= done_before < len(BUNDLED)
        server.latency = 0.0
        rerun = judgekit(*run_args(server, out, "-c", "4", "--workers", "2"), cache=cache)
        assert rerun.returncode == 0, rerun.stderr
        repeated = server.total_answered() - len(server.answered)
    assert repeated <= 4  # only what was in flight at the kill: each worker's share of -c 4
    run = read_run(out)
    assert run.manifest.complete and len(run.verdicts) == len(BUNDLED)
    assert len({v.example_id for v in run.verdicts}) == len(BUNDLED)


@KILLS_PROCESSES
def test_a_worker_that_dies_stops_the_run_in_one_line_and_the_rerun_finishes_it(tmp_path):
    out, cache = tmp_path / "run", tmp_path / "cache"
    with ScriptedServer(answer=by_prompt, latency=0.15) as server:
        process, workers = start_until(run_args(server, out, "-c", "4", "--workers", "2"), out, cache)
        os.kill(workers[0], signal.SIGKILL)  # a worker, not the fork server (last)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 1
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and re.fullmatch(
            r"error: worker process [12] of 2 ended unexpectedly \(exit code -9\); rerun to resume", lines[0]), stderr
        assert gone(workers, within=10)
        assert not read_run(out).manifest.complete
        server.latency = 0.0
        rerun = judgekit(*run_args(server, out, "--workers", "2"), cache=cache)
    assert rerun.returncode == 0, rerun.stderr
    assert read_run(out).manifest.complete and len(read_run(out).verdicts) == len(BUNDLED)


@STARTS_WORKERS
def test_a_sweep_with_workers_runs_its_cells_one_at_a_time_with_the_whole_budget(tmp_path):
    with ScriptedServer(answer=by_prompt, latency=0.05) as server:
        roots = {}
        for workers in ("1", "2"):
            file = tmp_path / f"sweep-{workers}.yaml"
            roots[workers] = tmp_path / f"sweep-{workers}"
            file.write_text(yaml.safe_dump({
                "root": str(roots[workers]), "concurrency": 4, "limit": 10, "protocols": ["llmbar/vanilla"],
                "datasets": ["judgekit/bundled"],
                "judges": [{"spec": f"openai:judge-{n}", "base_url": server.openai_url} for n in ("one", "two")]}))
            server.reset_counters()
            done = judgekit("sweep", file, "--quiet", "--workers", workers, cache=tmp_path / f"cache-{workers}")
            assert done.returncode == 0, done.stderr
            assert server.total_answered() == 2 * 2 * 10 and server.max_answers_per_prompt() == 1
        assert server.peak_concurrency == 4  # both workers of one cell at a time: the sweep's budget, no more
    for cell in sorted(p.name for p in roots["1"].iterdir()):
        assert decisions(roots["2"] / cell) == decisions(roots["1"] / cell)
        assert read_run(roots["2"] / cell).manifest.complete


@KILLS_PROCESSES
def test_sigterm_stops_the_workers_and_leaves_an_honest_manifest(tmp_path):
    out, cache = tmp_path / "run", tmp_path / "cache"
    with ScriptedServer(answer=by_prompt, latency=0.15) as server:
        process, workers = start_until(run_args(server, out, "-c", "4", "--workers", "2"), out, cache)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and stderr.strip() == "terminated"
    assert len(workers) == 3 and gone(workers, within=10)
    run = read_run(out)
    assert not run.manifest.complete and run.manifest.n_verdicts == len(run.verdicts) >= 8
