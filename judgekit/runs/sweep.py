"""Sweeps: a grid of judges x protocols x datasets, one run dir per cell (ReIFE-style).

Every cell shares one response cache and one concurrency budget, so a sweep
is as fast as the budget allows and an overlap between cells is paid once.
Each cell's run dir lives under the sweep's root with a name derived from the
cell, so rerunning the same sweep file resumes every cell where it stopped.
The name holds the judge's spec; judges that share a spec (one model at two
servers, or at two temperatures) add a digest of their settings to it.

Sweep file (YAML)::

    root: runs/my-sweep          # where the run dirs go (``--out`` overrides)
    concurrency: 16              # calls in flight across the whole sweep
    limit: 100                   # optional: first N examples of each dataset
    cache: true
    batch: false                 # true: openai:/anthropic: calls go through the batch APIs (half price)
    judges:
      - openai:gpt-4o-mini
      - {spec: openai:llama-3-8b, base_url: "http://localhost:8000/v1", judge_model: llama-3-8b}
    protocols: [llmbar/vanilla, llmbar/rules]
    datasets: [llmbar/natural, llmbar/adversarial/neighbor]
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from judgekit.errors import BadInput
from judgekit.records import load_yaml


class JudgeEntry(BaseModel):
    """One judge of the grid: a spec plus the settings load_judge takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec: str = Field(min_length=1)
    base_url: str | None = None
    api_key_env: str | None = None
    """The variable holding ``base_url``'s key (provider keys go to providers only)."""
    judge_model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    timeout: float | None = Field(default=None, gt=0)
    max_retries: int = Field(default=6, ge=0)

    @property
    def identity(self) -> tuple[Any, ...]:
        """What makes it another judge: its model, server, sampling and declared base model
        (not how long it waits or retries, nor which variable holds its key)."""
        return self.spec, self.base_url, self.temperature, self.max_tokens, self.judge_model


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    root: str | None = None
    concurrency: int = Field(default=8, ge=1)
    limit: int | None = Field(default=None, ge=0)
    cache: bool = True
    batch: bool = False
    """Send openai:/anthropic: cells' calls through the provider's batch API (other judges stay live)."""
    batch_poll: float = Field(default=30.0, gt=0)
    judges: list[JudgeEntry] = Field(min_length=1)
    protocols: list[str] = Field(min_length=1)
    datasets: list[str] = Field(min_length=1)

    @field_validator("judges", mode="before")
    @classmethod
    def _spec_strings(cls, value: Any) -> Any:
        """A bare string is a judge spec with default settings."""
        if isinstance(value, list):
            return [{"spec": v} if isinstance(v, str) else v for v in value]
        return value


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file; a bad key or value is a BadInput naming it."""
    path = Path(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    except yaml.YAMLError as e:
        raise BadInput(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping with judges, protocols and datasets")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            raise BadInput(f"{path}: unknown key '{key}'") from None
        raise BadInput(f"{path}: key '{key}': {first['msg']}") from None
    _check_names(path, spec)
    _check_distinct(path, spec)
    return spec


def _check_names(path: Path, spec: SweepSpec) -> None:
    """Unknown providers and protocols fail now, naming the key, not cell by cell later."""
    from judgekit.backends.registry import backend_class, parse_spec
    from judgekit.protocols import load_protocol

    try:
        for i, judge in enumerate(spec.judges):
            key = f"judges.{i}.spec"
            backend_class(parse_spec(judge.spec)[0])
        for i, protocol in enumerate(spec.protocols):
            key = f"protocols.{i}"
            load_protocol(protocol)
    except BadInput as e:
        raise BadInput(f"{path}: key '{key}': {e}") from None


def _check_distinct(path: Path, spec: SweepSpec) -> None:
    """Two cells of one run dir would lock each other out: each judge, protocol and dataset once."""
    for key, values in (("judges", [j.identity for j in spec.judges]), ("protocols", spec.protocols),
                        ("datasets", spec.datasets)):
        first: dict[Any, int] = {}
        for i, value in enumerate(values):
            if value in first:
                raise BadInput(f"{path}: {key}.{first[value]} and {key}.{i} are the same "
                               f"{key.removesuffix('s')}; keep one")
            first[value] = i
    names: dict[str, Cell] = {}
    for cell in cells(spec):
        if (other := names.setdefault(cell.name, cell)) is not cell:
            raise BadInput(f"{path}: the cells {other.protocol} on {other.dataset} and {cell.protocol} on "
                           f"{cell.dataset} would share the run dir {cell.name}; rename a protocol or dataset file")


@dataclass(frozen=True)
class Cell:
    judge: JudgeEntry
    protocol: str
    dataset: str
    judge_name: str
    """The judge's part of the run dir name (see :func:`judge_names`)."""

    @property
    def name(self) -> str:
        """The cell's run dir name: judge, protocol, dataset, safe for file names."""
        return _safe(f"{self.judge_name}--{self.protocol}--{self.dataset}")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def judge_names(judges: list[JudgeEntry]) -> list[str]:
    """Each judge's spec, plus a digest of its settings where specs would give one name.

    A judge alone with its spec keeps the bare spec, so the run dirs of sweeps
    written before the digest still resume.
    """
    counts = Counter(_safe(j.spec) for j in judges)
    names = []
    for judge in judges:
        digest = hashlib.sha256(json.dumps(judge.identity).encode("utf-8")).hexdigest()[:8]
        names.append(judge.spec if counts[_safe(judge.spec)] == 1 else f"{judge.spec}@{digest}")
    return names


def cells(spec: SweepSpec) -> list[Cell]:
    return [Cell(j, p, d, name) for j, name in zip(spec.judges, judge_names(spec.judges), strict=True)
            for p in spec.protocols for d in spec.datasets]


async def run_sweep(spec: SweepSpec, root: Path, *, progress: Any = None,
                    workers: int = 1) -> tuple[list[Path], list[str]]:
    """Run (or resume) every cell under ``root``; return the finished run dirs and
    one line per failed cell. Cells run side by side within the shared budget; with
    ``workers`` > 1 they run one after another instead, each over that many processes
    (:mod:`judgekit.runs.shards`) with the whole budget, which a process cannot share."""
    from judgekit.backends.cache import ResponseCache
    from judgekit.data import load_dataset
    from judgekit.judge.api import label_set_of, load_judge
    from judgekit.runs.runner import judge_run, open_run_dir
    from judgekit.runs.shards import JudgeRecipe, Workers

    if workers > 1 and spec.batch:
        raise BadInput("--workers: a batch sweep makes no live calls to share out; leave --workers at 1")
    grid = cells(spec)
    datasets = {d: load_dataset(d, limit=spec.limit) for d in spec.datasets}
    cache = ResponseCache() if spec.cache else False
    limiter = asyncio.Semaphore(spec.concurrency)

    async def one(cell: Cell) -> Path:
        entry = cell.judge
        options = dict(base_url=entry.base_url, judge_model=entry.judge_model, temperature=entry.temperature,
                       max_tokens=entry.max_tokens, concurrency=spec.concurrency, timeout=entry.timeout,
                       max_retries=entry.max_retries, api_key_env=entry.api_key_env,
                       labels=label_set_of(datasets[cell.dataset]))
        judge = load_judge(entry.spec, cell.protocol, cache=cache, limiter=limiter, **options)
        run_dir = None
        try:  # a cell that fails before it judges still closes its judge's clients and run dir
            dataset = datasets[cell.dataset]
            examples = list(dataset.examples)
            manifest = judge.manifest_for(dataset.id, dataset.content_hash, len(examples))
            run_dir = open_run_dir(root / cell.name, manifest, examples)
            if spec.batch:
                from judgekit.backends.batch import use_batches

                use_batches(judge, run_dir.path, poll_s=spec.batch_poll)
            if workers > 1:
                shards = Workers(JudgeRecipe(entry.spec, cell.protocol, {**options, "cache": spec.cache}),
                                 processes=workers, concurrency=spec.concurrency)
                on_progress = progress.track(cell.name, judge.call_path, len(examples), shards.usages) if progress \
                    else None
                await shards.judge_run(run_dir, on_progress=on_progress)
            else:
                on_progress = (progress.track(cell.name, judge.call_path, len(examples), judge.live_usages())
                               if progress else None)
                await judge_run(judge.verdict, run_dir, workers=judge.call_path.concurrency,
                                on_progress=on_progress, live=judge.live_usages())
        finally:
            if run_dir is not None:
                run_dir.close()  # judge_run has released it already, unless the cell failed before it
            await judge.aclose()
        return run_dir.path

    if workers > 1:
        results: list[Any] = []
        for cell in grid:
            try:
                results.append(await one(cell))
            except Exception as error:  # noqa: BLE001 - a failed cell is reported; the others still run
                results.append(error)
    else:
        results = await asyncio.gather(*(one(cell) for cell in grid), return_exceptions=True)
    done = [r for r in results if isinstance(r, Path)]
    failed = []
    for cell, result in zip(grid, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            failed.append(f"{cell.name}: {result}")
    return done, failed
