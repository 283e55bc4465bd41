"""Does the call path keep a slow server saturated, and never exceed its concurrency?

Against the scripted loopback server (run in its own process, as a real
server would be) with a fixed latency per answer, through the real SDK
clients and the shared call path (no cache), measure the wall time of N
calls at concurrency C. The target is wall <= 1.15 x N x latency / C with the
server's peak concurrency equal to C. One untimed warm-up call per case pays
the SDK's one-off lazy imports. Exits 1 if a target is missed.

    .venv/bin/python bench/bench_concurrency.py [--latency 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from judgekit.backends.base import Message, Request
from judgekit.backends.call_path import CallPath
from judgekit.backends.registry import create_backend

SERVER = Path(__file__).resolve().parents[1] / "tests" / "servers.py"
CASES = [("openai", 16, 128), ("openai", 64, 512), ("anthropic", 16, 128), ("anthropic", 64, 512)]
TOLERANCE = 1.15


def server_stats(url: str, reset: bool = False) -> dict:
    request = urllib.request.Request(url + ("/_reset" if reset else "/_stats"), method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


async def measure(url: str, api: str, concurrency: int, calls: int) -> tuple[float, bool]:
    """Wall seconds for ``calls`` distinct requests, and whether every answer was right."""
    base_url = url + "/v1" if api == "openai" else url
    path = CallPath(create_backend(f"{api}:bench", base_url=base_url), cache=None, concurrency=concurrency)
    prompts = [f"{api} {concurrency} item {i}" for i in range(calls)]
    await path.complete(Request((Message("user", "warm-up"),)))  # SDK's lazy imports, not concurrency
    server_stats(url, reset=True)
    start = time.perf_counter()
    completions = await asyncio.gather(*(path.complete(Request((Message("user", p),))) for p in prompts))
    wall = time.perf_counter() - start
    await path.aclose()
    return wall, [c.text for c in completions] == ["echo: " + p for p in prompts]


async def main(latency: float) -> int:
    failed = 0
    print("| API | concurrency | calls | ideal s | wall s | wall / ideal | server peak |")
    print("|---|---|---|---|---|---|---|")
    server = subprocess.Popen(
        [sys.executable, str(SERVER), "--latency", str(latency)], stdout=subprocess.PIPE, text=True
    )
    try:
        url = server.stdout.readline().strip()
        for api, concurrency, calls in CASES:
            wall, correct = await measure(url, api, concurrency, calls)
            peak = server_stats(url)["peak_concurrency"]
            ideal = calls * latency / concurrency
            ok = correct and wall <= TOLERANCE * ideal and peak == concurrency
            failed += not ok
            print(
                f"| {api} | {concurrency} | {calls} | {ideal:.2f} | {wall:.2f} | {wall / ideal:.3f} "
                f"| {peak} |{'' if ok else ' MISSED'}"
            )
    finally:
        server.terminate()
        server.wait(10)
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the server waits per answer")
    sys.exit(asyncio.run(main(parser.parse_args().latency)))
