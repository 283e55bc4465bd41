"""``judgekit probe``: perturb the pairs in ways that should not matter and measure the judge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from judgekit.cli.options import FORMAT, OutputFormat
from judgekit.errors import BadInput

DEFAULT_PROBES = "verbosity,verbosity-restate,verbosity-repeat,injection,authority,formatting,self-identification,identical,order"


def probe(
    run_or_judge: str = typer.Argument(..., help="A run dir (its judge, protocol and pairs) or a judge spec PROVIDER:MODEL."),
    probes: str = typer.Option(DEFAULT_PROBES, "--probes", help="Comma-separated built-in probe ids or .yaml spec files."),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Pairs to probe (default: the run's, or llmbar/natural-40)."),
    protocol: str | None = typer.Option(None, "--protocol", "-p", help="Protocol for a judge spec (default logprob/pairwise for local, else llmbar/vanilla)."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL."),
    judge_model: str | None = typer.Option(None, "--judge-model", help="The judge's base model (self-identification names it)."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="Probe N pairs, stratified by gold label."),
    seed: int = typer.Option(0, "--seed", help="Seed of the probes' picks (padding, citations, ...)."),
    concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="Model calls in flight at once."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run dir of the probe run; an existing one is resumed."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the response cache."),
    format: OutputFormat = FORMAT,
    dry_run: bool = typer.Option(False, "--dry-run", help="State the calls per probe; call nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Judge perturbed copies of each pair and report flip rates and accuracy changes per probe.

    Example: judgekit probe openai:gpt-4o-mini --protocol llmbar/rules --dataset llmbar/natural --limit 20 --out runs/probes
    """
    import asyncio

    from judgekit.analysis.probes import probe_table
    from judgekit.cli.run import DEFAULT_DATASET, DEFAULT_RUN_PROTOCOL, default_out
    from judgekit.data import load_dataset
    from judgekit.judge.api import DEFAULT_API_PROTOCOL, load_judge
    from judgekit.protocols import load_protocol
    from judgekit.records import PROBE_KEY
    from judgekit.runs.probes import load_probes
    from judgekit.runs.probes.run import calls_per_probe, run_probes, stratified
    from judgekit.runs.run_dir import is_run_dir, read_run

    chosen = load_probes([p.strip() for p in probes.split(",") if p.strip()])
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
            return await run_probes(handle, dataset_id, pairs, chosen, out=out, seed=seed)
        finally:
            await handle.aclose()

    finished = asyncio.run(go())
    rows = probe_table(finished, order=any(p.kind == "order" for p in chosen) and handle.protocol.orders == "both",
                       seed=seed)
    if format is OutputFormat.json:
        console.print_json(json.dumps({"run": str(finished.path), "judge": finished.manifest.judge,
                                       "protocol": finished.manifest.protocol, "dataset": dataset_id,
                                       "probes": rows}, allow_nan=False))
        return
    if not console.is_terminal:
        console = Console(width=140)
    console.print(render_probes(rows, title=f"Probes · {finished.manifest.judge} · {finished.manifest.protocol} · "
                                              f"{len(pairs)} pairs of {dataset_id}"))
    console.print(f"run dir: {finished.path}", highlight=False, soft_wrap=True)


def render_probes(rows: list[dict[str, Any]], *, title: str) -> Group:
    """The probe table and a key to reading it."""
    table = Table(title=title, title_justify="left")
    for header in ("probe", "changes", "n", "flip rate [95% CI]", "Δ accuracy [95% CI]", "p",
                   "dispreferred wins", "decisive", "first slot"):
        table.add_column(header, justify="left" if header in ("probe", "changes") else "right", no_wrap=True)
    for row in rows:
        table.add_row(
            row["probe"], row["target"] or "", str(row["n"]), _with_ci(row, "flip_rate"),
            _with_ci(row, "accuracy_change", signed=True), "" if row["p_value"] is None else f"{row['p_value']:.2g}",
            "" if row["dispreferred_wins_probed"] is None else
            f"{row['dispreferred_wins_base']:.2f} → {row['dispreferred_wins_probed']:.2f}",
            _with_ci(row, "decisiveness"), _with_ci(row, "first_slot_share"),
        )
    key = Text(
        "flip rate: share of pairs whose final verdict changed. Δ accuracy: probed minus unperturbed, against the "
        "human label (paired bootstrap CI; p: exact McNemar on the paired verdicts). dispreferred wins: how often the worse response "
        "won, before → after it was changed. identical pairs: decisive = share of non-tie verdicts, first slot = "
        "share of per-order wins by the slot shown first (0.5 is fair). order: the judge's two presentation "
        "orders of the unperturbed pairs (a flip = the orders disagree).", style="dim")
    return Group(table, key)


def _with_ci(row: dict[str, Any], name: str, *, signed: bool = False) -> str:
    value, ci = row.get(name), row.get(f"{name}_ci")
    if value is None:
        return ""
    fmt = "+.3f" if signed else ".3f"
    return f"{value:{fmt}} [{ci[0]:{fmt}}, {ci[1]:{fmt}}]" if ci else f"{value:{fmt}}"


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)
