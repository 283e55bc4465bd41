"""Repeats of one judge on one set of items, to measure how much its verdicts move when asked again.

A stability dir holds one ordinary run dir per repeat (``repeat-1`` ...
``repeat-K``). Repeat r asks every call with the sample index
``r * REPEAT_STRIDE`` plus the protocol's own index (0 for a one-call
protocol, i for a self-consistency protocol's i-th sample), so no two repeats,
and no repeat and the run it repeats (sample 0), share a cache entry: every
repeat is a fresh draw, and a rerun finds each finished call in the cache.
A repeat is a run dir like any other, so a killed repeat resumes where it
stopped and pays nothing twice; repeats are judged one after another.

Where a provider takes a seed the sample index is sent as one (OpenAI's
``seed``; the embedded judge seeds its own sampler with it), and each
repeat's manifest records its ``repeat``, ``sample`` and ``seed``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from judgekit.backends.base import Completion, Request
from judgekit.backends.seats import Caller, CallPaths
from judgekit.errors import BadInput
from judgekit.judge.strategies import run_protocol
from judgekit.records import Example
from judgekit.runs.run_dir import Run, is_run_dir, read_run
from judgekit.runs.runner import judge_run, open_run_dir

REPEAT_STRIDE = 1000
"""Sample indices per repeat: repeat r uses r * REPEAT_STRIDE + the protocol's own sample index."""
SEEDED_PROVIDERS = frozenset({"openai", "local"})
"""Providers whose calls are seeded by the sample index (``openai_backend`` sends it as ``seed``)."""
REPEAT_NAME = re.compile(r"repeat-(\d+)")


class RepeatCaller:
    """A caller that asks every request as repeat ``repeat``: its sample index moved past every other repeat's."""

    def __init__(self, inner: Caller, repeat: int) -> None:
        self.inner = inner
        self.repeat = repeat

    async def complete(self, request: Request) -> Completion:
        if request.sample >= REPEAT_STRIDE:
            raise BadInput(f"a protocol drawing {request.sample + 1} or more samples per item cannot be repeated "
                           f"(each repeat has {REPEAT_STRIDE} sample indices)")
        return await self.inner.complete(replace(request, sample=self.repeat * REPEAT_STRIDE + request.sample))


def repeat_paths(paths: CallPaths, repeat: int) -> CallPaths:
    """The run's call paths, every seat asking as repeat ``repeat``."""
    return CallPaths(RepeatCaller(paths.default, repeat),
                     {seat: RepeatCaller(caller, repeat) for seat, caller in paths.others.items()})


def repeat_params(judge: Any, repeat: int) -> dict[str, Any]:
    """What a repeat's manifest records beyond the judge's own settings."""
    sample = repeat * REPEAT_STRIDE
    provider = judge.spec.split(":", 1)[0]
    return {"repeat": repeat, "sample": sample, "seed": sample if provider in SEEDED_PROVIDERS else None}


async def run_repeats(judge: Any, dataset_id: str, dataset_hash: str | None, examples: Sequence[Example], *,
                      repeats: int, out: str | Path) -> list[Run]:
    """Judge ``examples`` ``repeats`` times into ``out/repeat-1`` ... (each resumed if it exists)."""
    if repeats < 2:
        raise BadInput(f"--repeats: need at least 2 repeats to compare, got {repeats}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out}: is a file, not a folder; choose another --out")
    if is_run_dir(out):
        raise BadInput(f"{out}: is a run dir; a stability run needs a folder of its own (choose another --out)")
    finished = []
    for repeat in range(1, repeats + 1):
        manifest = judge.manifest_for(dataset_id, dataset_hash, len(examples))
        manifest = manifest.model_copy(update={"params": {**manifest.params, **repeat_params(judge, repeat)}})
        run_dir = open_run_dir(out / f"repeat-{repeat}", manifest, examples)
        paths = repeat_paths(judge.paths, repeat)

        async def judge_one(example: Example, paths: CallPaths = paths) -> Any:
            return await run_protocol(judge.protocol, example, paths)

        finished.append(await judge_run(judge_one, run_dir, workers=judge.call_path.concurrency,
                                        live=judge.live_usages()))
    return finished


def read_repeats(path: str | Path) -> list[Run]:
    """The repeats of a stability dir, in repeat order; BadInput unless it holds at least two."""
    path = Path(path)
    if not path.is_dir():
        raise BadInput(f"{path}: not a stability dir (no such directory)")
    found = sorted((int(m.group(1)), child) for child in path.iterdir()
                   if (m := REPEAT_NAME.fullmatch(child.name)) and is_run_dir(child))
    if len(found) < 2:
        raise BadInput(f"{path}: not a stability dir (it needs at least two run dirs repeat-1, repeat-2, ...; "
                       "judgekit stability RUN --repeats K --out DIR makes one)")
    return [read_run(child) for _, child in found]
