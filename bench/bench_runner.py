"""Runner benchmark: a 10,000-item ``judgekit run`` against a loopback server.

Measures, each run as its own ``judgekit`` process (wall time includes start-up):
  1. a cold run (every call answered by the server) - wall time and peak RSS;
  2. a cached rerun into a new run dir (every call a cache hit) - target < 10 s;
  3. peak memory of the 10,000-item run - target < 300 MB (ru_maxrss of the child).

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
from pathlib import Path

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
                "response_a": f"Summary A of item {i}: {body[:200]}", "response_b": f"Summary B of item {i}: {body[-200:]}",
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ScriptedServer(answer=lambda call: "Output (a)") as server:
        tmp_path = Path(tmp)
        data = tmp_path / "pairs.jsonl"
        write_examples(data, options.items)
        env = {**os.environ, "JUDGEKIT_CACHE_DIR": str(tmp_path / "cache")}

        def args(out: str) -> list[str]:
            return ["run", "--judge", "openai:bench", "--base-url", server.openai_url, "--dataset", str(data),
                    "--protocol", "llmbar/vanilla", "--concurrency", str(options.concurrency), "--quiet",
                    "--out", str(tmp_path / out)]

        cold_s, cold_mb = timed_run(args("cold"), env)
        calls = server.total_answered()
        warm_s, warm_mb = timed_run(args("warm"), env)
        assert server.total_answered() == calls, "the cached rerun called the server"
    print(f"items: {options.items}, calls: {calls}, concurrency: {options.concurrency}")
    print(f"cold run:      {cold_s:6.1f} s  ({calls / cold_s:,.0f} calls/s)  peak RSS {cold_mb:5.0f} MB")
    print(f"cached rerun:  {warm_s:6.1f} s  ({options.items / warm_s:,.0f} items/s)  peak RSS {warm_mb:5.0f} MB"
          f"   target < 10 s: {'met' if warm_s < 10 else 'MISSED'}")
    peak = max(cold_mb, warm_mb)
    print(f"peak memory:   {peak:6.0f} MB   target < 300 MB: {'met' if peak < 300 else 'MISSED'}")


if __name__ == "__main__":
    main()
