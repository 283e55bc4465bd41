"""``judgekit probe``: perturb the pairs, or the judge's own prompt, in ways that should not matter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from judgekit.cli.options import FORMAT, OutputFormat
from judgekit.errors import BadInput

DEFAULT_PROBES = ("verbosity,verbosity-restate,verbosity-repeat,injection,authority,formatting,self-identification,"
                  "identical,order")


def probe(
    run_or_judge: str = typer.Argument(..., help="A run dir (its judge, protocol and "
                                                 "pairs) or a judge spec PROVIDER:MODEL."),
    probes: str = typer.Option(DEFAULT_PROBES, "--probes", "--probe",
                               help="Comma-separated built-in probe ids or .yaml spec files; protocol probes: "
                                    "rubric-paraphrase, label-names, criteria-order, instruction-position."),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Pairs to probe (default: the "
                                                                     "run's, or llmbar/natural-40)."),
    protocol: str | None = typer.Option(None, "--protocol", "-p", help="Protocol for a judge spec (default "
                                                                       "logprob/pairwise for local, "
                                                                       "else llmbar/vanilla)."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL."),
    judge_model: str | None = typer.Option(None, "--judge-model", help="The judge's base model "
                                                                       "(self-identification names it)."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="Probe N pairs, stratified by gold label."),
    seed: int = typer.Option(0, "--seed", help="Seed of the probes' picks (padding, citations, ...)."),
    concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="Model calls in flight at once."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run dir of the probe run; an existing one is resumed."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the response cache."),
    format: OutputFormat = FORMAT,
    dry_run: bool = typer.Option(False, "--dry-run", help="State the calls per probe; call nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
    rerun_noise: Path | None = typer.Option(None, "--rerun-noise",
                                            help="A judgekit stability dir, or a second run dir of the same judge "
                                                 "and protocol: its rerun flip rate is set beside each probe's, "
                                                 "with the excess."),
) -> None:
    """Judge perturbed copies of each pair and report flip rates and accuracy changes per probe.

    Example: judgekit probe openai:gpt-4o-mini --protocol llmbar/rules --dataset llmbar/natural --limit 20 \\
      --out runs/probes

    Example: judgekit probe runs/rules --probe rubric-paraphrase,label-names --rerun-noise runs/rules-stability
    """
    import asyncio

    from judgekit.agreement import Interval
    from judgekit.analysis.probes import check_same_judge, probe_table, two_run_flip_rate
    from judgekit.analysis.stability import rerun_flip_rate
    from judgekit.cli.run import DEFAULT_DATASET, DEFAULT_RUN_PROTOCOL, default_out
    from judgekit.data import load_dataset
    from judgekit.judge.api import DEFAULT_API_PROTOCOL, load_judge
    from judgekit.protocols import load_protocol
    from judgekit.records import PROBE_KEY
    from judgekit.report.probes import render_probes
    from judgekit.runs.probes import load_probes
    from judgekit.runs.probes.run import calls_per_probe, check_protocol_probes, run_probes, stratified
    from judgekit.runs.run_dir import is_run_dir, read_run
    from judgekit.runs.stability import read_repeats

    chosen = load_probes([p.strip() for p in probes.split(",") if p.strip()])
    noise_run = None  # read now, so a wrong one stops the probe before it calls anything
    if rerun_noise is not None:
        noise_run = read_run(rerun_noise) if is_run_dir(rerun_noise) else read_repeats(rerun_noise)[0]
    params: dict[str, Any] = {}
    if is_run_dir(run_or_judge):
        source = read_run(run_or_judge)
        spec, protocol = source.manifest.judge, protocol or source.manifest.protocol
        judge_model = judge_model or source.manifest.judge_model
        stored_url = source.manifest.params.get("base_url")
        if base_url is None and stored_url and "?" in stored_url:
            raise BadInput(f"{run_or_judge}: the run's server URL has query values, which a run dir keeps only "
                           "as hashes; pass --base-url")
        base_url = base_url or stored_url
        params = {k: source.manifest.params[k] for k in ("temperature", "max_tokens") if k in source.manifest.params}
        # a probe run's own base pairs, so probing it again resumes it
        dataset_id = source.manifest.dataset.removesuffix("+probes")
        pairs = [e for e in source.examples if PROBE_KEY not in e.metadata]
        if dataset is not None:
            loaded = load_dataset(dataset)
            dataset_id, pairs = loaded.id, list(loaded.examples)
    else:
        spec = run_or_judge
        protocol = protocol or (DEFAULT_RUN_PROTOCOL if spec.startswith("local") else DEFAULT_API_PROTOCOL)
        loaded = load_dataset(dataset or DEFAULT_DATASET)
        dataset_id, pairs = loaded.id, list(loaded.examples)
    pairs = stratified(pairs, limit)
    check_protocol_probes(chosen, load_protocol(protocol))
    console = Console()
    if dry_run:
        rows = calls_per_probe(load_protocol(protocol), spec, pairs, chosen, seed=seed, judge_model=judge_model)
        lines = [f"dry run, nothing sent: {spec} · {protocol} · {len(pairs)} pairs of {dataset_id}"]
        lines += [f"  {name:<20} {items:>5} items {calls:>6} calls" for name, items, calls in rows]
        lines.append(f"  {'total':<20} {sum(r[1] for r in rows):>5} items {sum(r[2] for r in rows):>6} calls "
                     "(calls the cache already holds cost nothing)")
        console.print("\n".join(lines), highlight=False, soft_wrap=True)
        return
    handle = load_judge(spec, protocol, base_url=base_url, judge_model=judge_model, concurrency=concurrency,
                        cache=not no_cache, **params)
    out = out or Path(f"{default_out(spec, protocol, dataset_id)}-probes")

    if not quiet:
        Console(stderr=True).print(f"{out}: probing {len(pairs)} pairs with {len(chosen)} probes", highlight=False)

    async def go():
        try:
            if noise_run is not None:
                check_same_judge(handle.manifest_for(dataset_id, None, len(pairs)), noise_run.manifest, rerun_noise)
            return await run_probes(handle, dataset_id, pairs, chosen, out=out, seed=seed)
        finally:
            await handle.aclose()

    finished = asyncio.run(go())
    noise: dict[str, Any] | None = None
    rerun = None
    if rerun_noise is not None:
        if is_run_dir(rerun_noise):
            rerun, n = two_run_flip_rate(finished, noise_run)
            method = "two runs"
        else:
            flips = rerun_flip_rate(rerun_noise)
            rerun, n, method = Interval(flips.rate, flips.low, flips.high), flips.n, "stability repeats"
        noise = {"run": str(rerun_noise), "method": method, "n": n, "rate": rerun.estimate,
                 "ci": [rerun.low, rerun.high]}
    rows = probe_table(finished, order=any(p.kind == "order" for p in chosen) and handle.protocol.orders == "both",
                       seed=seed, rerun=rerun)
    if format is OutputFormat.json:
        console.print_json(json.dumps({"run": str(finished.path), "judge": finished.manifest.judge,
                                       "protocol": finished.manifest.protocol, "dataset": dataset_id,
                                       "probes": rows, "rerun_noise": noise}, allow_nan=False))
        return
    if not console.is_terminal:
        console = Console(width=220 if noise else 160)
    source = None if noise is None else f"{noise['method']}, {noise['n']} pairs: {noise['run']}"
    console.print(render_probes(rows, title=f"Probes · {finished.manifest.judge} · {finished.manifest.protocol} · "
                                              f"{len(pairs)} pairs of {dataset_id}", rerun_source=source))
    console.print(f"run dir: {finished.path}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)
