"""The embedded judge's test-retest stability on 40 LLMBar pairs, at temperature 0 and 0.7.

Each temperature is a stability dir of K repeats (``judgekit.runs.stability``)
of ``llmbar/vanilla`` over ``llmbar/natural-40``, judged by the embedded
judge; the figures are those of ``judgekit stability``. Calls are cached and
repeats resume, so a second run of this script (or one after a kill) only
judges what is missing. Run:

    .venv/bin/python bench/bench_stability.py [--out DIR] [--repeats-t0 2] [--repeats-t07 3]

Prints one JSON line per temperature: the figures, the seconds the engine
spent per call (each verdict's summed call latency over its two calls) and the load average at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

from judgekit.analysis.stability import stability_figures
from judgekit.data import load_dataset
from judgekit.judge.api import load_judge
from judgekit.records import content_hash
from judgekit.runs.stability import read_repeats, run_repeats

DATASET = "llmbar/natural-40"
PROTOCOL = "llmbar/vanilla"
SHOWN = ("n", "agreement", "changed_rate", "flip_rate", "flip_rate_ci", "fleiss_kappa", "headline", "headlines",
         "headline_min", "headline_max", "headline_sd", "sampling_se", "seeds")


def measure(temperature: float, repeats: int, out: Path) -> dict:
    dataset = load_dataset(DATASET)
    examples = list(dataset.examples)
    judge = load_judge("local:", PROTOCOL, temperature=temperature)

    async def go() -> None:
        try:
            await run_repeats(judge, dataset.id, content_hash(examples), examples, repeats=repeats, out=out)
        finally:
            await judge.aclose()

    begin = time.perf_counter()
    asyncio.run(go())
    wall = time.perf_counter() - begin
    runs = read_repeats(out)[:repeats]
    figures = stability_figures(runs)
    calls = [v.usage for run in runs for v in run.verdicts]
    return {"temperature": temperature, "repeats": repeats, "wall_s_this_session": round(wall, 1),
            "engine_s_per_call": round(sum(u.latency_s for u in calls) / max(1, sum(u.calls for u in calls)), 2),
            "load_average": os.getloadavg(), "straddling": [s["id"] for s in figures["straddling"]]} | {
                k: figures[k] for k in SHOWN}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("/tmp/judgekit-bench-stability"))
    parser.add_argument("--repeats-t0", type=int, default=2)
    parser.add_argument("--repeats-t07", type=int, default=3)
    args = parser.parse_args()
    for temperature, repeats in ((0.0, args.repeats_t0), (0.7, args.repeats_t07)):
        print(json.dumps(measure(temperature, repeats, args.out / f"t{temperature:g}")), flush=True)


if __name__ == "__main__":
    main()
