"""What the default run (``judgekit run``) asks of the CPU, and how fast this host delivers it.

The cold default run is 80 forward passes of the embedded judge; its time is
the prompt tokens llama.cpp must decode over the host's prefill rate. This
prints both, without judging the whole sample:

- the sample's prompt tokens in the order the run sends them (each pair's
  two presentation orders one after the other, rendered by the protocol's
  own strategy), the tokens the engine
  decodes under its reuse rule (``local.reusable_prefix``), and the floor:
  what even exact reuse of every shared prefix would still decode;
- the host's prefill rate now, timed on some of the sample's own prompts
  (shortest to longest: long ones decode more slowly) decoded from
  scratch through ``Engine.prefill``;
- the judging time both imply, and the rate the 240 s target would need.

    .venv/bin/python bench/bench_default_run.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from judgekit.backends.base import Completion, Request
from judgekit.backends.local import reusable_prefix
from judgekit.backends.registry import create_backend
from judgekit.cli.run import DEFAULT_DATASET, DEFAULT_JUDGE, DEFAULT_RUN_PROTOCOL
from judgekit.data import load_dataset
from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies import run_protocol
from judgekit.protocols import load_protocol
from judgekit.records import Example

TARGET_S = 240.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timed-prompts", type=int, default=5, help="prompts decoded from scratch to time the host")
    args = parser.parse_args()
    examples = list(load_dataset(DEFAULT_DATASET).examples)
    engine = create_backend(DEFAULT_JUDGE).engine
    prompts = [engine.prompt_tokens(request) for request in requests_of(load_protocol(DEFAULT_RUN_PROTOCOL), examples)]
    decoded = floor = 0
    previous: list[int] = []
    for tokens in prompts:
        common = engine.llm.longest_token_prefix(previous, tokens)
        decoded += len(tokens) - reusable_prefix(common, len(tokens))
        floor += len(tokens) - min(common, len(tokens) - 1)
        previous = tokens
    by_length = sorted(prompts, key=len)
    step = (len(by_length) - 1) / max(1, args.timed_prompts - 1)
    timed = [by_length[round(i * step)] for i in range(args.timed_prompts)]  # shortest to longest, evenly spaced
    elapsed = 0.0
    for tokens in timed:
        engine.prefilled = 0  # forget the cache: every timed prompt is decoded whole
        start = time.perf_counter()
        engine.prefill(tokens)
        elapsed += time.perf_counter() - start
    rate = sum(map(len, timed)) / elapsed
    print(json.dumps({
        "date": time.strftime("%Y-%m-%d %H:%M"), "loadavg_1min": os.getloadavg()[0],
        "pairs": len(examples), "calls": len(prompts), "prompt_tokens": sum(map(len, prompts)),
        "decoded_tokens": decoded, "decoded_tokens_floor": floor,
        "prefill_tokens_per_s": round(rate, 1), "timed_tokens": sum(map(len, timed)),
        "predicted_judging_s": round(decoded / rate), "predicted_judging_s_floor": round(floor / rate),
        "tokens_per_s_for_target": round(decoded / TARGET_S, 1),
    }))


class _Recorder:
    """Stands in for the call path: keeps each request the strategy sends, answers nothing."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    async def complete(self, request: Request) -> Completion:
        self.requests.append(request)
        return Completion(text="")


def requests_of(protocol: Protocol, examples: list[Example]) -> list[Request]:
    """The requests a run sends, in its order (one item at a time: the embedded engine is single-stream)."""
    recorder = _Recorder()

    async def render_all() -> None:
        for example in examples:
            await run_protocol(protocol, example, recorder)

    asyncio.run(render_all())
    return recorder.requests


if __name__ == "__main__":
    main()
