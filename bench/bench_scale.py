"""judgekit's own ceilings: one process or several, at concurrency 16 to 1,024 against a loopback server.

The scripted server (tests/servers.py) runs in its own process and answers
every request after ``--latency`` seconds, as a saturated GPU deployment
behind a router would look from the client. Each case runs in a fresh child
process so its peak memory is its own, in one of two modes:

- ``sdk``: N distinct requests straight to the ``openai:`` backend's
  ``complete`` from ``concurrency`` workers: the official SDK client (aiohttp
  transport) posting the JSON body and the reply's JSON read, nothing of the
  call path, so it is what the SDK itself costs per call;
- ``callpath``: N distinct requests through one CallPath (no cache), the
  shared road every model call takes (SDK client, retries, accounting);
- ``runner``: the whole run, ``judge_run`` with the built-in ``llmbar/vanilla``
  protocol (both orders, so N/2 synthetic examples) through ``openai:``, a
  fresh response cache and a run dir: prompt rendering, parsing, cache
  writes and verdict lines included.

Reported: wall / ideal (ideal = N x latency / concurrency), client CPU
seconds per call (user + system of the child during the timed part), the
child's peak RSS, and the server's peak concurrency; with ``--repeats R``
each case runs R times in turn and the row holds the medians (CPU per call
moves with the machine's load; the median of several runs less so).

    .venv/bin/python bench/bench_scale.py [--latency 0.5] [--calls-per-slot 8] [--repeats 1] \
        [--modes sdk,callpath,runner]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_whole_run import machine  # noqa: E402

SERVER = Path(__file__).resolve().parents[1] / "tests" / "servers.py"
MODES = ("sdk", "callpath", "runner")



def server_stats(url: str, reset: bool = False) -> dict:
    request = urllib.request.Request(url + ("/_reset" if reset else "/_stats"), method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def cpu_s() -> float:
    """CPU seconds of this process and of its children that have ended (the worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def sdk_case(url: str, concurrency: int, calls: int) -> tuple[float, float, bool]:
    from judgekit.backends.base import Message, Request
    from judgekit.backends.registry import create_backend

    backend = create_backend("openai:bench", base_url=url + "/v1")
    await backend.complete(Request((Message("user", "warm-up"),)))
    prompts = iter(enumerate(f"item {i}" for i in range(calls)))
    texts: list[str] = [""] * calls

    async def worker() -> None:
        for i, prompt in prompts:
            texts[i] = (await backend.complete(Request((Message("user", prompt),)))).text

    server_stats(url, reset=True)
    cpu, start = cpu_s(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - start, cpu_s() - cpu
    await backend.aclose()
    return wall, cpu, texts == [f"echo: item {i}" for i in range(calls)]


async def callpath_case(url: str, concurrency: int, calls: int) -> tuple[float, float, bool]:
    from judgekit.backends.base import Message, Request
    from judgekit.backends.call_path import CallPath
    from judgekit.backends.registry import create_backend

    path = CallPath(create_backend("openai:bench", base_url=url + "/v1"), cache=None, concurrency=concurrency)
    await path.complete(Request((Message("user", "warm-up"),)))  # the SDK's lazy imports, not concurrency
    prompts = [f"item {i}" for i in range(calls)]
    server_stats(url, reset=True)
    cpu, start = cpu_s(), time.perf_counter()
    completions = await asyncio.gather(*(path.complete(Request((Message("user", p),))) for p in prompts))
    wall, cpu = time.perf_counter() - start, cpu_s() - cpu
    await path.aclose()
    return wall, cpu, [c.text for c in completions] == ["echo: " + p for p in prompts]


async def runner_case(url: str, concurrency: int, calls: int, workers: int = 1) -> tuple[float, float, bool]:
    from judgekit.judge.api import load_judge
    from judgekit.records import Example
    from judgekit.runs.runner import judge_run, open_run_dir
    from judgekit.runs.shards import JudgeRecipe, Workers

    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    examples = [Example(id=f"ex{i}", instruction=f"task {i}", response_a=f"alpha {i}", response_b=f"beta {i}")
                for i in range(calls // 2)]
    judge = load_judge("openai:bench", "llmbar/vanilla", base_url=url + "/v1", concurrency=concurrency,
                       cache=folder / "cache")
    await judge.call_path.complete(_warm_up())
    run_dir = open_run_dir(folder / "run", judge.manifest_for("bench", None, len(examples)), examples)
    server_stats(url, reset=True)
    cpu, start = cpu_s(), time.perf_counter()
    if workers > 1:
        recipe = JudgeRecipe("openai:bench", "llmbar/vanilla",
                             {"base_url": url + "/v1", "concurrency": concurrency, "cache": folder / "cache"})
        run = await Workers(recipe, processes=workers, concurrency=concurrency).judge_run(run_dir)
    else:
        run = await judge_run(judge.verdict, run_dir, workers=judge.call_path.concurrency)
    wall = time.perf_counter() - start
    if workers > 1:  # the fork server reaped the workers; reaping it makes their CPU, and its own, ours
        import multiprocessing.forkserver

        multiprocessing.forkserver._forkserver._stop()
    cpu = cpu_s() - cpu
    await judge.aclose()
    ok = run.manifest.complete and run.manifest.usage.calls == calls and len(run.verdicts) == len(examples)
    return wall, cpu, ok


def _warm_up():
    from judgekit.backends.base import Message, Request

    return Request((Message("user", "warm-up"),))


def child(mode: str, url: str, concurrency: int, calls: int, workers: int) -> None:
    case = {"sdk": sdk_case, "callpath": callpath_case, "runner": runner_case}[mode]
    wall, cpu, ok = asyncio.run(case(url, concurrency, calls, *([workers] if workers > 1 else [])))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "cpu": cpu, "ok": ok, "peak_mb": peak_mb}))


def main(cases: list[tuple[int, float]], calls_per_slot: int, repeats: int, modes: list[str],
         workers: list[int]) -> int:
    print(machine())
    print("| mode | workers | concurrency | latency s | calls | ideal s | wall s | wall / ideal "
          "| client CPU ms / call | peak RSS MB | server peak |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    failed = 0
    for latency in dict.fromkeys(latency for _, latency in cases):
        server = subprocess.Popen([sys.executable, str(SERVER), "--latency", str(latency)], stdout=subprocess.PIPE,
                                  text=True)
        try:
            url = server.stdout.readline().strip()
            runs: dict[tuple[str, int, int], list[dict]] = {
                (mode, w, concurrency): [] for concurrency, at in cases if at == latency for mode in modes
                for w in (workers if mode == "runner" else [1])}
            for _ in range(repeats):  # in turn, so a change of load touches every case alike
                for mode, w, concurrency in runs:
                    calls = concurrency * calls_per_slot
                    out = subprocess.run([sys.executable, __file__, "--child", mode, url, str(concurrency),
                                          str(calls), str(w)], capture_output=True, text=True, check=True).stdout
                    result = json.loads(out.strip().splitlines()[-1])
                    runs[mode, w, concurrency].append(result | {"peak": server_stats(url)["peak_concurrency"]})
            for (mode, w, concurrency), results in runs.items():
                calls = concurrency * calls_per_slot
                ideal = calls * latency / concurrency
                ok = all(r["ok"] for r in results)
                failed += not ok
                wall, cpu, mb, peak = (statistics.median(r[k] for r in results)
                                       for k in ("wall", "cpu", "peak_mb", "peak"))
                print(f"| {mode} | {w} | {concurrency:,} | {latency:g} | {calls:,} | {ideal:.2f} | {wall:.2f} "
                      f"| {wall / ideal:.2f} | {1000 * cpu / calls:.2f} | {mb:.0f} | {peak:,.0f} |"
                      f"{'' if ok else ' WRONG ANSWERS'}", flush=True)
        finally:
            server.terminate()
            server.wait(10)
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")
    return 1 if failed else 0


def concurrency_at_latency(text: str) -> tuple[int, float]:
    concurrency, latency = text.split("@")
    return int(concurrency), float(latency)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="256@0.5,1024@0.5",
                        help="comma-separated CONCURRENCY@LATENCY (seconds the server waits per answer)")
    parser.add_argument("--calls-per-slot", type=int, default=8, help="calls = concurrency x this")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each case; the rows hold medians")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: sdk, callpath, runner")
    parser.add_argument("--workers", default="1", help="comma-separated worker process counts for the runner mode")
    options = parser.parse_args()
    sys.exit(main([concurrency_at_latency(c) for c in options.cases.split(",")], options.calls_per_slot,
                  options.repeats, options.modes.split(","), [int(w) for w in options.workers.split(",")]))
