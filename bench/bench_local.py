"""Benchmark the embedded judge: where its time goes, KV reuse, and logprob vs generated verdicts.

Runs the default local model over the first N LLMBar Natural pairs twice,
through the real runner and call path (no response cache):

- ``logprob/pairwise``: one forward pass per order, order-debiased verdict;
- a generated-verdict protocol (default ``llmbar/vanilla``), parsed from text.

For each it reports wall time, judgments per second, the share of wall time
spent inside the engine (target: at least 90%), prompt tokens reused from the
KV cache, accuracy (per-order mean, LLMBar "Acc"; and the final verdict's),
positional agreement of the single-order verdicts and the first-slot share.
Finally it times the logprob run's first items again with KV reuse disabled.

    .venv/bin/python bench/bench_local.py --n 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from judgekit.agreement import pairwise_summary
from judgekit.backends.call_path import CallPath
from judgekit.backends.local import Engine
from judgekit.backends.registry import create_backend
from judgekit.data import load_dataset
from judgekit.judge.strategies import run_protocol
from judgekit.protocols import load_protocol
from judgekit.records import Manifest
from judgekit.runs.runner import judge_run, now, open_run_dir

STAGED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


async def timed_run(protocol_id: str, examples: list, backend, out: Path) -> dict:
    """Judge ``examples`` into a fresh run dir; figures on time, reuse and agreement."""
    protocol = load_protocol(protocol_id)
    engine = backend.engine
    s = engine.stats
    before = (s.engine_s, s.decode_s, s.prompt_tokens, s.reused_tokens, s.generated_tokens)
    manifest = Manifest(
        judge="local:", protocol=protocol.id, protocol_hash=protocol.content_hash, dataset="llmbar/natural",
        package_version="bench", started_at=now(), n_examples=len(examples),
    )
    run_dir = open_run_dir(out, manifest, examples)
    call_path = CallPath(backend, cache=None, timeout=600.0)
    start = time.perf_counter()
    run = await judge_run(lambda e: run_protocol(protocol, e, call_path), run_dir, workers=call_path.concurrency)
    wall = time.perf_counter() - start
    stats = engine.stats
    gold = {e.id: e.gold for e in examples}
    first = [next(o.winner for o in v.orders if not o.swapped) for v in run.verdicts]
    second = [next(o.winner for o in v.orders if o.swapped) for v in run.verdicts]
    summary = pairwise_summary([gold[v.example_id] for v in run.verdicts], first, second,
                               [v.winner for v in run.verdicts])
    first_slot = [w == "a" for w in first if w in ("a", "b")] + [w == "b" for w in second if w in ("a", "b")]
    return {
        "protocol": protocol.id,
        "n": len(run.verdicts),
        "wall_s": round(wall, 1),
        "judgments_per_s": round(len(run.verdicts) / wall, 3),
        "engine_share": round((stats.engine_s - before[0]) / wall, 3),
        "decode_share": round((stats.decode_s - before[1]) / wall, 3),
        "prompt_tokens": stats.prompt_tokens - before[2],
        "reused_share": round((stats.reused_tokens - before[3]) / max(1, stats.prompt_tokens - before[2]), 3),
        "decoded_tokens_per_s": round(
            (stats.prompt_tokens - before[2] - stats.reused_tokens + before[3] + stats.generated_tokens - before[4])
            / (stats.decode_s - before[1]), 1),
        "accuracy_per_order_mean": round(summary.accuracy.estimate, 3),
        "accuracy_final": round(summary.accuracy_final.estimate, 3),
        "accuracy_final_ci": [round(summary.accuracy_final.low, 3), round(summary.accuracy_final.high, 3)],
        "positional_agreement": round(summary.positional_agreement.estimate, 3),
        "invalid_rate": round(summary.invalid_rate.estimate, 3),
        "first_slot_share": round(sum(first_slot) / max(1, len(first_slot)), 3),
    }


async def reuse_ablation(examples: list, backend, out: Path) -> dict:
    """The logprob run on a few items with the KV cache forgotten before every call."""
    engine: Engine = backend.engine
    original = Engine.prefill

    def forgetful(self, tokens):
        self.prefilled = 0
        return original(self, tokens)

    Engine.prefill = forgetful
    try:
        figures = await timed_run("logprob/pairwise", examples, backend, out)
    finally:
        Engine.prefill = original
    return {"no_reuse_wall_s": figures["wall_s"], "no_reuse_prompt_tokens": figures["prompt_tokens"],
            "engine_reused_tokens_total": engine.stats.reused_tokens}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="LLMBar Natural pairs to judge")
    parser.add_argument("--generated", default="llmbar/vanilla", help="protocol for generated verdicts")
    parser.add_argument("--ablation-n", type=int, default=8, help="pairs for the no-reuse timing")
    args = parser.parse_args()
    os.environ.setdefault("JUDGEKIT_DATA_DIR", str(STAGED))
    examples = list(load_dataset("llmbar/natural", limit=args.n).examples)
    start = time.perf_counter()
    backend = create_backend("local:")
    backend.engine  # noqa: B018 - load now, so load time is not charged to the first run
    load_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        report("setup", {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "load_s": round(load_s, 1),
                         "loadavg_5min": os.getloadavg()[1]})
        report("logprob", await timed_run("logprob/pairwise", examples, backend, Path(tmp) / "logprob"))
        report("generated", await timed_run(args.generated, examples, backend, Path(tmp) / "generated"))
        few = examples[: args.ablation_n]
        with_reuse = await timed_run("logprob/pairwise", few, backend, Path(tmp) / "reuse")
        report("ablation", {"n": len(few), "reuse_wall_s": with_reuse["wall_s"],
                            "reuse_prompt_tokens_reused_share": with_reuse["reused_share"],
                            **await reuse_ablation(few, backend, Path(tmp) / "noreuse")})
    report("end", {"loadavg_5min": os.getloadavg()[1],
                   "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)})


def report(section: str, figures: dict) -> None:
    """One JSON line per finished section, flushed, so a long run shows results as it goes."""
    print(json.dumps({"section": section, **figures}), flush=True)

if __name__ == "__main__":
    asyncio.run(main())
