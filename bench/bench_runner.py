"""Runner benchmark: a 10,000-item ``judgekit run`` against a loopback server.

Measures, each run as its own ``judgekit`` process (wall time includes start-up):
  1. a cold run (every call answered by the server) - wall time and peak RSS;
  2. a cached rerun into a new run dir (every call a cache hit) - target < 10 s;
  3. peak memory of the 10,000-item run - target < 300 MB (ru_maxrss of the child).
Then the start-up cost (a process that only imports ``judgekit.cli``) and, to
show where a cached rerun spends its time and memory, the same rerun
in this process, phase by phase: loading the dataset, judging, the summary
(allocation peaks from tracemalloc, which sees numpy's buffers too).

Usage: .venv/bin/python bench/bench_runner.py [--items 10000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import ScriptedServer  # noqa: E402  (the tests' loopback server)

JUDGEKIT = str(Path(sys.executable).parent / "judgekit")


def write_examples(path: Path, n: int) -> None:
    """Pairs of a few hundred characters each, like short LLMBar items; gold alternates."""
    with path.open("w") as f:
        for i in range(n):
            body = " ".join(f"word{(i * 7 + k) % 997}" for k in range(60))
            f.write(json.dumps({
                "id": f"item-{i}", "instruction": f"Instruction {i}: summarise the text. {body}",
                "response_a": f"Summary A of item {i}: {body[:200]}",
                "response_b": f"Summary B of item {i}: {body[-200:]}",
                "gold": "a" if i % 2 else "b",
            }) + "\n")


def timed_run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run one judgekit process; return (wall seconds, peak RSS in MB)."""
    start = time.monotonic()
    process = subprocess.Popen([JUDGEKIT, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"judgekit failed: {process.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def import_cost() -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a fresh process that only imports ``judgekit.cli``."""
    start = time.monotonic()
    process = subprocess.Popen([sys.executable, "-c", "import judgekit.cli"])
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("importing judgekit.cli failed")
    return time.monotonic() - start, usage.ru_maxrss / 1024


def traced(step: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``step``; return its result, seconds and peak traced allocation in MB."""
    tracemalloc.start()
    start = time.monotonic()
    result = step()
    seconds = time.monotonic() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def phases(data: Path, out: Path, base_url: str, concurrency: int) -> None:
    """A cached rerun in this process, timed phase by phase."""
    import asyncio

    import judgekit
    from judgekit.analysis.summary import summary_frame as summarize
    from judgekit.data import load_dataset
    from judgekit.runs.runner import judge_run, open_run_dir

    judge = judgekit.load_judge("openai:bench", "llmbar/vanilla", base_url=base_url, concurrency=concurrency)
    dataset, load_s, load_mb = traced(lambda: load_dataset(str(data)))
    _, hash_s, hash_mb = traced(lambda: dataset.content_hash)
    examples = list(dataset.examples)
    run_dir = open_run_dir(out, judge.manifest_for(dataset.id, dataset.content_hash, len(examples)), examples)
    start = time.monotonic()
    run = asyncio.run(judge_run(judge.verdict, run_dir, workers=judge.call_path.concurrency))
    judge_s = time.monotonic() - start
    _, summary_s, summary_mb = traced(lambda: summarize(run))
    print(f"  load dataset {load_s:5.1f} s  peak +{load_mb:4.0f} MB; "
          f" content hash {hash_s:4.1f} s  peak +{hash_mb:4.0f} MB")
    print(f"  judge (all cache hits) {judge_s:5.1f} s;  summary with "
          f"bootstrap {summary_s:4.1f} s  peak +{summary_mb:4.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ScriptedServer(answer=lambda call: "Output (a)") as server:
        tmp_path = Path(tmp)
        data = tmp_path / "pairs.jsonl"
        write_examples(data, options.items)
        os.environ["JUDGEKIT_CACHE_DIR"] = str(tmp_path / "cache")

        def args(out: str) -> list[str]:
            return ["run", "--judge", "openai:bench", "--base-url", server.openai_url, "--dataset", str(data),
                    "--protocol", "llmbar/vanilla", "--concurrency", str(options.concurrency), "--quiet",
                    "--out", str(tmp_path / out)]

        cold_s, cold_mb = timed_run(args("cold"), dict(os.environ))
        calls = server.total_answered()
        warm_s, warm_mb = timed_run(args("warm"), dict(os.environ))
        assert server.total_answered() == calls, "the cached rerun called the server"
        peak = max(cold_mb, warm_mb)
        print(f"items: {options.items}, calls: {calls}, concurrency: {options.concurrency}")
        print(f"cold run:      {cold_s:6.1f} s  ({calls / cold_s:,.0f} calls/s)  peak RSS {cold_mb:5.0f} MB")
        print(f"cached rerun:  {warm_s:6.1f} s  ({options.items / warm_s:,.0f} items/s)  peak RSS {warm_mb:5.0f} MB"
              f"   target < 10 s: {'met' if warm_s < 10 else 'MISSED'}")
        print(f"peak memory:   {peak:6.0f} MB   target < 300 MB: {'met' if peak < 300 else 'MISSED'}")
        import_s, import_mb = import_cost()
        print(f"start-up:      {import_s:6.2f} s  peak RSS {import_mb:5.0f} "
              "MB  (a process that only imports judgekit.cli)")
        print("cached rerun in this process, by phase:")
        phases(data, tmp_path / "phases", server.openai_url, options.concurrency)
        assert server.total_answered() == calls, "the in-process rerun called the server"


if __name__ == "__main__":
    main()
