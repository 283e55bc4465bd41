"""Running probes: the base pairs and every probed copy judged into one ordinary run dir.

The copies are plain Examples (their metadata names the probe and the base
pair), judged by the same Judge, call path, cache and runner as ``judgekit
run`` — so a probe run resumes, replays, reports and exports like any other,
and the base pairs cost nothing when the judge already ran them. A protocol
probe's copy is the pair itself, judged under the rewritten protocol its
metadata names (:func:`probed_verdict`).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from judgekit.analysis.probes import probe_table
from judgekit.data import load_dataset
from judgekit.errors import BadInput
from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies import run_protocol
from judgekit.records import PROBE_KEY, Example, Verdict
from judgekit.runs.probes import PROTOCOL_KINDS, VARIANT_KEY, Probe, load_probe
from judgekit.runs.run_dir import Run
from judgekit.runs.runner import estimate, judge_run, open_run_dir


def stratified(examples: Sequence[Example], limit: int | None) -> list[Example]:
    """The first examples of each gold label, in proportion to the labels' shares (largest remainder)."""
    labelled = [e for e in examples if e.gold in ("a", "b")]
    if limit is None or limit >= len(labelled):
        return labelled
    by_label = {label: [e for e in labelled if e.gold == label] for label in ("a", "b")}
    quota = {label: limit * len(items) / len(labelled) for label, items in by_label.items()}
    take = {label: int(q) for label, q in quota.items()}
    for label in sorted(quota, key=lambda k: -(quota[k] - take[k]))[: limit - sum(take.values())]:
        take[label] += 1
    keep = {e.id for label, items in by_label.items() for e in items[: take[label]]}
    return [e for e in labelled if e.id in keep]


def probe_examples(examples: Sequence[Example], probes: Sequence[Probe], protocol: Protocol, *, seed: int = 0,
                   judge_model: str | None = None) -> list[Example]:
    """The base pairs, then each probe's copies; no copies for ``order`` when the judge sees both orders.

    A protocol probe that cannot rewrite ``protocol`` (no paraphrase shipped for it, no rules to reorder)
    is a BadInput here, before anything is judged.
    """
    check_protocol_probes(probes, protocol)
    out = list(examples)
    for probe in probes:
        if probe.kind == "order" and protocol.orders == "both":
            continue
        out += [c for e in examples
                if (c := probe.apply(e, seed=seed, judge_model=judge_model, protocol=protocol)) is not None]
    return out


def check_protocol_probes(probes: Sequence[Probe], protocol: Protocol) -> None:
    """BadInput unless every protocol probe among ``probes`` can rewrite ``protocol``."""
    for probe in probes:
        if probe.kind in PROTOCOL_KINDS:
            probe.rewrite(protocol, 0)


def probed_verdict(protocol: Protocol, paths: Any, probes: Sequence[Probe]) -> Callable[[Example], Awaitable[Verdict]]:
    """The verdict on a probe run's item: under ``protocol``, or, for a protocol probe's copy, under the
    rewrite its metadata names (each rewrite made once)."""
    by_id = {p.id: p for p in probes if p.kind in PROTOCOL_KINDS}
    rewrites: dict[tuple[str, int], Protocol] = {}

    async def verdict(example: Example) -> Verdict:
        probe = by_id.get(example.metadata.get(PROBE_KEY, ""))
        if probe is None:
            return await run_protocol(protocol, example, paths)
        key = (probe.id, example.metadata[VARIANT_KEY])
        if key not in rewrites:
            rewrites[key] = probe.rewrite(protocol, key[1])
        return await run_protocol(rewrites[key], example, paths)

    return verdict


def calls_per_probe(protocol: Protocol, judge_spec: str, examples: Sequence[Example], probes: Sequence[Probe], *,
                    seed: int = 0, judge_model: str | None = None) -> list[tuple[str, int, int]]:
    """(probe id or ``base``, items, calls) as the dry run states them; order costs 0 with both orders."""
    rows = [("base", len(examples), estimate(protocol, examples, judge_spec).calls)]
    for probe in probes:
        copies = probe_examples(examples, [probe], protocol, seed=seed, judge_model=judge_model)[len(examples):]
        rows.append((probe.id, len(copies), estimate(protocol, copies, judge_spec).calls if copies else 0))
    return rows


async def run_probes(judge: Any, dataset_id: str, examples: Sequence[Example], probes: Sequence[Probe], *,
                     out: str | Path, seed: int = 0) -> Run:
    """Judge the base pairs and all probed copies into the run dir ``out`` (resumed if it exists)."""
    if not examples:
        raise BadInput(f"{dataset_id}: no pair with a gold label a or b to probe")
    items = probe_examples(examples, probes, judge.protocol, seed=seed, judge_model=judge.judge_model)
    digest = hashlib.sha256()
    for item in items:
        digest.update(item.model_dump_json().encode("utf-8") + b"\n")
    manifest = judge.manifest_for(f"{dataset_id}+probes", "sha256:" + digest.hexdigest(), len(items))
    params = {**manifest.params, "probes": [p.id for p in probes], "probe_seed": seed}
    run_dir = open_run_dir(out, manifest.model_copy(update={"params": params}), items)
    return await judge_run(probed_verdict(judge.protocol, judge.paths, probes), run_dir,
                           workers=judge.call_path.concurrency)


def probe(judge: Any, dataset: Any, probes: Sequence[str | Probe], *, out: str | Path | None = None,
          limit: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Probe a judge (from ``load_judge``) on a dataset id or loaded Dataset; one figures row per probe.

    The run dir (``out``, default a fresh temporary one) keeps every verdict.
    """
    loaded = load_dataset(dataset) if isinstance(dataset, str) else dataset
    chosen = [p if isinstance(p, Probe) else load_probe(p) for p in probes]
    path = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="judgekit-probe-")) / "run"
    pairs = stratified(loaded.examples, limit)
    finished = judge._run(run_probes(judge, loaded.id, pairs, chosen, out=path, seed=seed))
    order = any(p.kind == "order" for p in chosen) and judge.protocol.orders == "both"
    return probe_table(finished, order=order, seed=seed)
