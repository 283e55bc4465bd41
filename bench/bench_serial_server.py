"""Does a run against a server that answers one request at a time finish, without burying it?

llama.cpp's Python server computes one answer at a time and finishes answers
whose client has gone. Against the scripted loopback server in that mode (its
own process, ``--one-at-a-time``, 1 s per answer, answering like a perfect
judge), the real ``judgekit run`` (OpenAI SDK, no cache) judges 16 pairs with
``llmbar/vanilla`` (two calls per pair, so the serial time is 32 s).

Targets (issue 12, "Done when"): all 16 verdicts, at most one wave of
abandoned answers (no more than the concurrency), wall time <= 1.5 x the
serial time. Exits 1 if a target is missed.

    .venv/bin/python bench/bench_serial_server.py [--latency 1.0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from judgekit.runs.run_dir import read_run

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "servers.py"
JUDGEKIT = str(Path(sys.executable).parent / "judgekit")
PAIRS = 16
CASES = [(8, 5.0), (32, 5.0)]
"""(--concurrency, --timeout): the issue's setting, and the README's old --concurrency 32."""


def server_stats(url: str, reset: bool = False) -> dict:
    request = urllib.request.Request(url + ("/_reset" if reset else "/_stats"), method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def measure(url: str, concurrency: int, timeout: float, out: Path) -> tuple[float, dict, int, int]:
    """Wall seconds of one ``judgekit run``, the server's counters, verdicts, right verdicts."""
    server_stats(url, reset=True)
    start = time.perf_counter()
    result = subprocess.run(
        [JUDGEKIT, "run", "--judge", "openai:bench", "--base-url", url + "/v1", "--dataset", "judgekit/bundled",
         "--limit", str(PAIRS), "--protocol", "llmbar/vanilla", "--concurrency", str(concurrency),
         "--timeout", str(timeout), "--no-cache", "--quiet", "--out", str(out)],
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
    run = read_run(out)
    gold = {e.id: e.gold for e in run.examples}
    right = sum(v.winner == gold[v.example_id] for v in run.verdicts)
    return wall, server_stats(url), len(run.verdicts), right


def main(latency: float) -> int:
    failed = 0
    serial = 2 * PAIRS * latency
    print("| --concurrency | --timeout | serial s | wall s | wall / serial | verdicts (right) "
          "| answers computed | abandoned |")
    print("|---|---|---|---|---|---|---|---|")
    server = subprocess.Popen(
        [sys.executable, str(SERVER), "--latency", str(latency), "--one-at-a-time", "--oracle", "judgekit/bundled"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            for i, (concurrency, timeout) in enumerate(CASES):
                wall, stats, verdicts, right = measure(url, concurrency, timeout, Path(tmp) / f"run-{i}")
                abandoned = stats["computed"] - stats["answered"]
                ok = verdicts == PAIRS and abandoned <= concurrency and wall <= 1.5 * serial
                failed += not ok
                print(f"| {concurrency} | {timeout:g} | {serial:.0f} | {wall:.1f} | {wall / serial:.2f} "
                      f"| {verdicts} ({right}) | {stats['computed']} | {abandoned} |{'' if ok else ' MISSED'}")
    finally:
        server.terminate()
        server.wait(10)
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the server spends on each answer")
    sys.exit(main(parser.parse_args().latency))
