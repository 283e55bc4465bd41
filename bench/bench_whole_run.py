"""A whole ``judgekit run`` (a process, start-up to summary) against a loopback server: wall / ideal.

LLMBar Natural (100 pairs) with ``llmbar/vanilla`` is 200 calls. The scripted
server (tests/servers.py, its own process) answers every request after the
latency, like a perfect judge. The ideal wall time is
ceil(calls / concurrency) x latency: the calls in waves, nothing else. Each
case runs ``--repeats`` times with ``--no-cache`` into a new run dir; the row
holds the median. ``--workers 1,2`` runs each case with ``judgekit run
--workers`` 1 and 2 as well (their start-up is in the wall time). Needs the
staged data (``JUDGEKIT_DATA_DIR``).

    .venv/bin/python bench/bench_whole_run.py [--cases 16:1,64:1,64:4] [--repeats 3] [--workers 1]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "servers.py"
JUDGEKIT = str(Path(sys.executable).parent / "judgekit")
DATASET, PROTOCOL, CALLS = "llmbar/natural", "llmbar/vanilla", 200


def machine() -> str:
    """When and where, for bench/README.md: the UTC time, the CPU's AVX-512 flags (as
    ``grep -o 'avx512[a-z]*' /proc/cpuinfo | sort -u`` lists them) and the load average."""
    flags = sorted(set(re.findall(r"avx512[a-z]*", Path("/proc/cpuinfo").read_text())))
    return (f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC; CPU flags: {' '.join(flags) or 'no avx512'}; "
            f"load average before: {open('/proc/loadavg').read().split()[:3]}")


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen([sys.executable, str(SERVER), "--latency", str(latency), "--oracle", DATASET],
                              stdout=subprocess.PIPE, text=True)
    return server, server.stdout.readline().strip()


def timed_run(url: str, concurrency: int, out: Path, workers: int = 1) -> float:
    """Wall seconds of one ``judgekit run`` process."""
    start = time.perf_counter()
    subprocess.run([JUDGEKIT, "run", "--judge", "openai:bench", "--base-url", url + "/v1", "--dataset", DATASET,
                    "--protocol", PROTOCOL, "--concurrency", str(concurrency), "--no-cache", "--quiet",
                    "--workers", str(workers), "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(cases: list[tuple[int, float]], repeats: int, workers: list[int]) -> None:
    if not os.environ.get("JUDGEKIT_DATA_DIR"):
        raise SystemExit("set JUDGEKIT_DATA_DIR to the staged datasets folder (LLMBar Natural)")
    print(machine())
    print("| workers | concurrency | latency s | calls | ideal s | wall s (median) | min–max | wall / ideal |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for latency in sorted({latency for _, latency in cases}):
            server, url = start_server(latency)
            try:
                for concurrency in [c for c, lat in cases if lat == latency]:
                    walls: dict[int, list[float]] = {w: [] for w in workers}
                    for i in range(repeats):  # in turn, so a change of load touches each worker count alike
                        for w in workers:
                            out = Path(tmp) / f"run-{concurrency}-{latency}-{w}-{i}"
                            walls[w].append(timed_run(url, concurrency, out, w))
                    ideal = math.ceil(CALLS / concurrency) * latency
                    for w, times in walls.items():
                        wall = statistics.median(times)
                        print(f"| {w} | {concurrency} | {latency:g} | {CALLS} | {ideal:g} | {wall:.2f} "
                              f"| {min(times):.2f}–{max(times):.2f} | {wall / ideal:.2f} |", flush=True)
            finally:
                server.terminate()
                server.wait(10)
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="16:1,64:1,64:4", help="CONCURRENCY:LATENCY pairs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default="1", help="comma-separated judgekit run --workers values")
    options = parser.parse_args()
    pairs = [(int(c), float(lat)) for c, lat in (case.split(":") for case in options.cases.split(","))]
    main(pairs, options.repeats, [int(w) for w in options.workers.split(",")])
