"""``judgekit run``: one judge over one meta-dataset into a run directory."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from judgekit.cli.split import Side, SplitRun
from judgekit.errors import BadInput

BATCH_DIR = "batches"
"""Where a batch run keeps its ledgers (judgekit.backends.batch.BATCH_DIR, without importing the SDKs)."""

DEFAULT_JUDGE = "local:qwen2.5-coder-1.5b-instruct-q4_k_m"
"""The embedded offline judge (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, run by llama.cpp)."""
DEFAULT_RUN_PROTOCOL = "logprob/pairwise"
"""``judgekit run``'s protocol when --protocol is not given: the order-debiased log-probability
protocol, which suits the embedded judge. (``load_judge`` defaults to
``judgekit.judge.api.DEFAULT_API_PROTOCOL``, a text protocol any model answers.)"""
DEFAULT_DATASET = "llmbar/natural-40"
"""40 LLMBar Natural pairs, shipped with LLMBar's recorded judges' verdicts on them."""
RECORDED_DIR = "llmbar-natural-40-recorded"
"""Beside the run dir: LLMBar's recorded judges on the sample, as run dirs for ``compare``."""
REFUSALS_SHOWN = 5


def run(
    dataset: str = typer.Option(DEFAULT_DATASET, "--dataset", "-d", help="Meta-dataset id, card or data file."),
    mapping: str | None = typer.Option(None, "--mapping",
                                       help="FIELD=COLUMN pairs for a data file, e.g. "
                                            "instruction=prompt,response_a=out1,response_b=out2,gold=label (scored "
                                            "files: input=,response=,score.NAME=col+col; labelled outputs: "
                                            "input=,response=,label=col or h1+h2+h3,positive=LABEL)."),
    labels: str | None = typer.Option(None, "--labels",
                                      help="VALUE=LABEL pairs, e.g. 1=a,2=b,0=tie (labelled outputs: "
                                           "any names in label-set order, e.g. yes=fail,no=pass)."),
    responses: Path | None = typer.Option(None, "--responses",
                                          help="A program-verified dataset (ifeval, ifeval/prompts): judge "
                                               "these responses instead (IFEval's format: prompt, response)."),
    judge: str = typer.Option(DEFAULT_JUDGE, "--judge", "-j",
                              help="PROVIDER:MODEL, e.g. openai:gpt-4o-mini; default the embedded local judge."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL (vLLM, Ollama, ...)."),
    protocol: str = typer.Option(DEFAULT_RUN_PROTOCOL, "--protocol", "-p", help="Built-in protocol id or a spec file."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=0, help="Judge only the first N examples."),
    concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="Model calls in flight at once."),
    workers: int = typer.Option(1, "--workers", min=1,
                                help="Processes to judge in (the calls in flight shared among them): "
                                     "for more calls a second than one core can make, about 1,000."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run dir; an existing one is resumed."),
    wait: bool = typer.Option(False, "--wait",
                              help="If another run is writing --out, wait for it to end, then resume."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the response cache."),
    temperature: float | None = typer.Option(None, "--temperature", help="Override the protocol's temperature."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", min=1, help="Override the protocol's max tokens."),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0.1,
        help="Seconds the server may stay silent before a call is retried (default 60; 300 for --base-url servers).",
    ),
    api_key_env: str | None = typer.Option(
        None, "--api-key-env",
        help="Variable holding the key for --base-url (the provider's own key goes only to the provider).",
    ),
    max_retries: int = typer.Option(6, "--max-retries", min=0, help="Retries per call on transient errors."),
    judge_model: str | None = typer.Option(None, "--judge-model", help="The base model's name, for self-preference."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print calls and estimated tokens; call nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
    batch: bool = typer.Option(False, "--batch",
                               help="Send openai:/anthropic: calls through the "
                                    "provider's batch API (half price, up to 24 h)."),
    batch_poll: float = typer.Option(30.0, "--batch-poll", min=0.01, help="Seconds between polls of a batch's state."),
    split: Path | None = typer.Option(None, "--split",
                                      help="A split dir (judgekit split): judge its side "
                                           "--on; the run is recorded in its ledger.jsonl."),
    on: Side | None = typer.Option(None, "--on",
                                   help="dev or test: the side of --split to judge (each "
                                        "test-side run counts as a look: judgekit versions)."),
) -> None:
    """Run a judge over a meta-dataset, write a run dir, print a summary.

    Example: judgekit run --judge openai:gpt-4o-mini --dataset llmbar/natural --protocol llmbar/rules
    """
    import asyncio

    from judgekit.analysis.summary import run_summary
    from judgekit.backends.registry import parse_spec
    from judgekit.data import load_dataset
    from judgekit.judge.api import label_set_of, load_judge
    from judgekit.report.run_summary import summary_table
    from judgekit.runs.run_dir import checked_place
    from judgekit.runs.runner import LiveProgress, judge_run, open_run_dir
    from judgekit.runs.shards import JudgeRecipe, Workers

    if out is not None:
        checked_place(out)  # before anything looks there: a name too long makes every look an OSError
    on_split = SplitRun.open(split, on,
                             other_data=dataset != DEFAULT_DATASET or mapping is not None or labels is not None,
                             limit=limit, out=out)
    if on_split is not None:
        loaded = on_split.data(limit)
        on_split.check(protocol)
    else:
        loaded = load_dataset(dataset, mapping=mapping, labels=labels, limit=limit, responses=responses)
    check_fit(loaded, protocol)
    examples = list(loaded.examples)
    if not examples:
        raise BadInput(f"--limit 0: nothing to judge in {loaded.id}")
    console = Console()
    if dry_run:
        print_estimate(console, judge, protocol, examples, batch=batch, labels=label_set_of(loaded),
                       temperature=temperature, max_tokens=max_tokens)
        return
    if batch or (out is not None and (out / BATCH_DIR).is_dir()):  # the batch module loads both SDKs
        from judgekit.backends.batch import BATCH_APIS, unfinished_batches, use_batches
    if batch and workers > 1:
        raise BadInput("--workers: a --batch run makes no live calls to share out; leave --workers at 1")
    if batch and parse_spec(judge)[0] not in BATCH_APIS:
        raise BadInput(f"--batch: {judge} has no batch API; batch mode is for {', '.join(BATCH_APIS)} judges")
    options = dict(base_url=base_url, judge_model=judge_model, temperature=temperature, max_tokens=max_tokens,
                   concurrency=concurrency, timeout=timeout, max_retries=max_retries, cache=not no_cache,
                   api_key_env=api_key_env, labels=label_set_of(loaded))
    handle = load_judge(judge, protocol, **options)
    shards = Workers(JudgeRecipe(judge, protocol, options), processes=workers, concurrency=concurrency)
    out = out or default_out(judge, protocol, loaded.id)
    run_dir = open_run_dir(out, handle.manifest_for(loaded.id, loaded.content_hash, len(examples)), examples, wait=wait)
    todo = len(examples) - len(run_dir.verdicts)
    if not batch and (run_dir.path / BATCH_DIR).is_dir() and (open_batches := unfinished_batches(run_dir.path)):
        raise BadInput(f"{run_dir.path}: batches {', '.join(open_batches)} are still out; resume with --batch "
                       "(a live resume would pay for their requests twice)")
    if on_split is not None:
        on_split.started(run_dir.path, run_dir.manifest)
    if loaded.id == DEFAULT_DATASET and todo:
        print_references(console, run_dir.path, [e.id for e in examples], judge, todo)
    if not quiet:
        Console(stderr=True).print(f"{run_dir.path}: {todo} of {len(examples)} examples to judge", highlight=False)
    cache = handle.call_path.cache
    if cache is not None and cache.read_only:
        Console(stderr=True).print(f"response cache {cache.path}: read-only; reading it, storing nothing",
                                   highlight=False, soft_wrap=True)

    async def go():
        try:
            with LiveProgress(enabled=not quiet) as live:
                if batch:
                    say = None if quiet else (lambda line: live.progress.console.print(line, highlight=False))
                    use_batches(handle, run_dir.path, poll_s=batch_poll, on_event=say)
                if workers > 1:
                    progress = live.track("judging", handle.call_path, len(examples), shards.usages)
                    return await shards.judge_run(run_dir, on_progress=progress)
                progress = live.track("judging", handle.call_path, len(examples), handle.live_usages())
                return await judge_run(
                    handle.verdict, run_dir, workers=handle.call_path.concurrency, on_progress=progress,
                    live=handle.live_usages(),
                )
        finally:
            await handle.aclose()

    start = time.monotonic()
    finished = asyncio.run(go())
    elapsed = time.monotonic() - start
    if on_split is not None:
        on_split.finished(finished)
    if loaded.id == DEFAULT_DATASET:
        print_leaderboard(console, finished, elapsed)
    else:
        summary = run_summary(finished)
        console.print(summary_table(summary.figures, finished.manifest, headline=summary.headline,
                                    ci_method=summary.ci_method, elapsed_s=elapsed))
    print_refusals(Console(stderr=True), finished.verdicts)
    print_prefix_warning(Console(stderr=True), handle.protocol.continuation, finished.manifest.usage)
    console.print(f"run dir: {finished.path}", highlight=False, soft_wrap=True)


def print_prefix_warning(console: Console, continuation: str | None, usage) -> None:
    """Say so when the server did not continue the protocol's forced answer prefix."""
    if continuation is None or not usage.prefix_restarts:
        return
    console.print(
        f"warning: {usage.prefix_restarts} of {usage.calls} replies started a new answer instead of continuing "
        f"the forced prefix {continuation!r}: this server closes the assistant turn, so the judge saw a "
        "different prompt than the protocol intends (llama.cpp's C++ server continues it; vLLM and SGLang do "
        "with continue_final_message). Counted as usage.prefix_restarts in manifest.json.",
        highlight=False, soft_wrap=True, markup=False,
    )


def print_refusals(console: Console, verdicts: list) -> None:
    """Name the items the server refused (kept as invalid verdicts or ratings) and its reasons."""
    refused = [v for v in verdicts if v.refused]
    for verdict in refused[:REFUSALS_SHOWN]:
        console.print(f"refused by the server: {verdict.example_id}: {verdict.details['refused']}",
                      highlight=False, soft_wrap=True, markup=False)
    if len(refused) > REFUSALS_SHOWN:
        console.print(f"... and {len(refused) - REFUSALS_SHOWN} more refused items (invalid_reason 'refused')",
                      highlight=False)


SECONDS_PER_PAIR = (13, 18)
"""The embedded judge's time per pair of the default run on a 2-core AVX2 host, both orders (bench/README.md)."""


def print_references(console: Console, run_path: Path, ids: list[str], judge: str, todo: int) -> None:
    """The recorded judges' leaderboard on the pairs about to be judged, before the first call.

    For the embedded judge it says how long the wait is on a host like ours (its speed is known).
    """
    from judgekit.analysis.leaderboard import leaderboard
    from judgekit.data import load_dataset
    from judgekit.report.leaderboard import render_references
    from judgekit.runs.importers.llmbar_sample import recorded_runs

    references = recorded_runs(load_dataset(DEFAULT_DATASET), run_path.parent / RECORDED_DIR)
    low, high = (max(1, round(todo * s / 60)) for s in SECONDS_PER_PAIR)
    span = f"{low}" if low == high else f"{low}–{high}"
    minutes = f"about {span} min on a 2-core machine without AVX-512" if judge == DEFAULT_JUDGE else None
    if not console.is_terminal:
        console = Console(width=120)
    console.print(render_references(leaderboard(None, references, on=ids), judge=judge, minutes=minutes))


def print_leaderboard(console: Console, finished: Any, elapsed: float) -> None:
    """The judge beside LLMBar's recorded judges on the same pairs, and what to run next."""
    from judgekit.analysis.leaderboard import leaderboard
    from judgekit.data import load_dataset
    from judgekit.report.leaderboard import render_leaderboard
    from judgekit.runs.importers.llmbar_sample import recorded_runs

    recorded_dir = finished.path.parent / RECORDED_DIR
    references = recorded_runs(load_dataset(DEFAULT_DATASET), recorded_dir)
    if not console.is_terminal:  # pipes and logs get a fixed width that fits the table
        console = Console(width=120)
    console.print(render_leaderboard(leaderboard(finished, references)))
    usage = finished.manifest.usage
    console.print(
        f"Judged in {elapsed:.1f} s, {usage.calls} calls ({usage.cache_hits} from the cache); the recorded judges are "
        f"replayed, no calls. Run dir: {finished.path}\n"
        "Next: a real judge on the same pairs, e.g. `judgekit run --judge openai:gpt-4o-mini --protocol "
        "llmbar/rules`; the leaderboard over saved runs with every pair tested, `judgekit compare "
        f"{finished.path} {recorded_dir}/*`; the page with items and raw judge texts, add `--format html "
        "--out leaderboard.html`.",
        highlight=False, soft_wrap=True,
    )


def check_fit(dataset, protocol: str) -> None:
    """Refuse early what cannot run: a protocol of one kind on data of another (pairs, scored
    responses, labelled outputs), scored responses without text, a pointwise spec that rates none
    of the data's criteria, a classify spec whose labels or label count the data does not have."""
    from judgekit.judge.api import label_set_of
    from judgekit.judge.strategies import get_strategy
    from judgekit.judge.strategies.classify import bind_labels
    from judgekit.judge.strategies.pointwise import rubric_for
    from judgekit.protocols import load_protocol

    loaded = load_protocol(protocol)
    kind = get_strategy(loaded.strategy).kind
    if kind != dataset.kind:
        what = {"pointwise": "scored responses (pointwise)", "pairwise": "pairs (pairwise)",
                "classify": "labelled outputs (classify)"}
        raise BadInput(f"--protocol {protocol} rates {what[kind]} but --dataset {dataset.id} holds "
                       f"{what[dataset.kind]}")
    if kind == "classify":
        bind_labels(loaded, label_set_of(dataset))
    if kind != "pointwise":
        return
    blank = next((e.id for e in dataset.examples if not e.response.strip()), None)
    if blank is not None:
        raise BadInput(f"--dataset {dataset.id}: example {blank} has no response text to rate (a scores-only set: "
                       "import its recorded judges instead)")
    criteria = {c for e in dataset.examples for c in e.criteria}
    if not any(rubric_for(loaded, c) for c in criteria):
        raise BadInput(f"--protocol {protocol}: options.criteria names none of the data's criteria "
                       f"({', '.join(sorted(criteria))}) and there is no fallback options.rubric")


def print_estimate(console: Console, judge: str, protocol: str, examples: list, *, batch: bool = False,
                   labels=None, **overrides: float | None) -> None:
    """What the run would spend, from every prompt rendered and none sent (``labels``: a classify run's label set)."""
    from judgekit.judge.strategies.classify import bind_labels
    from judgekit.protocols import load_protocol
    from judgekit.runs.runner import estimate

    loaded = load_protocol(protocol)
    if labels is not None:
        loaded = bind_labels(loaded, labels)
    given = {k: v for k, v in overrides.items() if v is not None}
    guess = estimate(loaded.with_params(**given) if given else loaded, examples, judge)
    per_item = guess.calls / guess.items if guess.items else 0
    varies = isinstance(loaded.calls_per_item, str)
    calls_note = f"; varies: {loaded.calls_per_item}, counted with empty replies" if varies else ""
    if guess.max_cost_usd is None:
        cost = f"unknown (no price for {judge})"
    else:
        cost = f"at most ${guess.max_cost_usd:.4f}" + (" for the counted calls" if varies else "")
    if batch:
        cost += "\n  batch:      " + batch_saving(guess.max_cost_usd, guess.max_batch_cost_usd, judge)
    console.print(
        f"dry run, nothing sent\n"
        f"  items:      {guess.items:,}\n"
        f"  calls:      {guess.calls:,} ({per_item:g} per item{calls_note})\n"
        f"  tokens in:  about {guess.tokens_in:,} (prompt characters / 4)\n"
        f"  tokens out: at most {guess.max_tokens_out:,} (max tokens per call)\n"
        f"  cost:       {cost}",
        highlight=False, soft_wrap=True,
    )


def batch_saving(live: float | None, batched: float | None, judge: str) -> str:
    """The dry run's line on what --batch saves."""
    if batched is None:
        return f"no batch price for {judge} in the price table"
    if not live:
        return f"at most ${batched:.4f}"
    return f"at most ${batched:.4f} at batch rates, saving up to ${live - batched:.4f} ({1 - batched / live:.0%})"


def default_out(judge: str, protocol: str, dataset: str) -> Path:
    """``runs/<timestamp>-<judge>-<protocol>-<dataset>``, made safe for file names, and cut (with a
    hash of the whole) where long ids would pass the 255 bytes a file name may have."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = "-".join([stamp, judge, Path(protocol).stem if protocol.endswith((".yaml", ".yml")) else protocol, dataset])
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    if len(name) > 120:
        name = f"{name[:107]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    return Path("runs") / name


def register(app: typer.Typer) -> None:
    app.command("run")(run)
