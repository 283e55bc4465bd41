"""``judgekit trust`` and ``judgekit route``: can the judge replace annotators, and where not?"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from judgekit.cli.options import FORMAT, OutputFormat
from judgekit.errors import BadInput


class Method(str, Enum):
    isotonic = "isotonic"
    logistic = "logistic"


class Binning(str, Enum):
    uniform = "uniform"
    quantile = "quantile"


class Sample(str, Enum):
    confidence = "confidence"
    random = "random"


def register(app: typer.Typer) -> None:
    """Attach trust, route and the plan group to the main app."""
    app.command("trust")(trust_command)
    app.command("route")(route_command)
    plan = typer.Typer(help="How many items must people label? Power tables over sample sizes, seeded.",
                       no_args_is_help=True)
    plan.command("alt-test")(plan_alt_test_command)
    plan.command("paired")(plan_paired_command)
    plan.command("ci")(plan_ci_command)
    plan.command("above")(plan_above_command)
    plan.command("estimate")(plan_estimate_command)
    app.add_typer(plan, name="plan")


SIZES = typer.Option("25,50,100,200,400,800,1600", "--sizes", help="Comma-separated sample sizes to simulate.")
SIMULATION_SEED = typer.Option(0, "--seed", help="Seed of the simulation.")
"""Options every ``judgekit plan`` command takes; their --simulations differ in default only."""
_SIMULATIONS_HELP = "Simulated samples per size."
_PILOT_HELP = "A labelled pilot run to take the assumptions from."


def trust_command(
    runs: list[Path] = typer.Argument(..., help="Run dirs (from judgekit run or judgekit import)."),
    epsilon: float = typer.Option(0.2, "--epsilon", help="Alt-test margin: 0.2 experts, 0.15 skilled, 0.1 crowd."),
    q: float = typer.Option(0.05, "--q", help="Alt-test false discovery rate (Benjamini-Yekutieli)."),
    min_items: int = typer.Option(30, "--min-items", help="Alt-test: leave out annotators with fewer items."),
    target_accuracy: float = typer.Option(0.9, "--target-accuracy", help="Selective judging: accuracy to keep."),
    method: Method = typer.Option(Method.isotonic, "--method", help="Calibration map: isotonic or logistic."),
    bins: int = typer.Option(10, "--bins", min=1, help="Reliability diagram and ECE bins."),
    binning: Binning = typer.Option(Binning.uniform, "--binning", help="uniform (equal width) or quantile bins."),
    folds: int = typer.Option(5, "--folds", min=2, help="Cross-fitting folds of the calibration map."),
    resamples: int = typer.Option(1000, "--resamples", min=1, help="Bootstrap resamples of the coverage CI."),
    seed: int = typer.Option(0, "--seed", help="Seed of folds and resamples."),
    format: OutputFormat = FORMAT,
) -> None:
    """The alt-test (runs over several annotators per item), calibration and selective judging.

    Example: judgekit trust runs/natural-logprob --target-accuracy 0.9 --format json
    """
    from judgekit.analysis.trust import TrustOptions, trust_figures  # numpy/scikit-learn: load only for this command
    from judgekit.runs.run_dir import read_run

    options = TrustOptions(epsilon=epsilon, q=q, min_items=min_items, target_accuracy=target_accuracy,
                           n_bins=bins, binning=binning.value, method=method.value, folds=folds,
                           n_resamples=resamples, seed=seed)
    figures = [trust_figures(read_run(path), options) for path in runs]
    if format is OutputFormat.json:
        typer.echo(json.dumps({"runs": figures}, indent=2))
        return
    console = Console()
    for f in figures:
        _print_run(f, console)


def route_command(
    run: Path = typer.Argument(..., help="The run whose undecided items go to people."),
    out: Path = typer.Option(..., "--out", "-o", help="JSONL task file to write; Label Studio tasks go beside it."),
    target_accuracy: float = typer.Option(0.9, "--target-accuracy", help="Accuracy the judge must keep."),
    pilot: Path | None = typer.Option(
        None, "--pilot", help="A labelled run of the same judge to find the threshold on (default: RUN itself)."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Use this confidence threshold instead of finding one."
    ),
    resamples: int = typer.Option(1000, "--resamples", min=1, help="Bootstrap resamples of the coverage CI."),
    seed: int = typer.Option(0, "--seed", help="Seed of the resamples (--sample random: of the draw)."),
    sample: Sample = typer.Option(Sample.confidence, "--sample", help="confidence: the items the judge should not "
                                  "decide; random: --n items drawn uniformly, for judgekit estimate."),
    n: int | None = typer.Option(None, "--n", help="--sample random: how many items people label."),
) -> None:
    """Write the items people should label (JSONL + Label Studio task JSON).

    By default, the items the judge should not decide: the threshold is the
    lowest confidence at which the judge's accuracy keeps its Clopper-Pearson
    lower bound at --target-accuracy, found on the labelled items of --pilot
    (or of RUN). With --sample random, --n items drawn uniformly at random
    (seeded): the labelled subset judgekit estimate needs. A sample chosen by
    confidence would break its guarantee (docs/estimate.md).

    Example: judgekit route runs/natural-logprob --target-accuracy 0.9 --out to_label.jsonl
    Example: judgekit route runs/halueval-judge --sample random --n 200 --seed 1 --out to_label.jsonl
    """
    from judgekit.analysis.routing import route, write_tasks
    from judgekit.analysis.trust import run_selective
    from judgekit.runs.run_dir import read_run

    target_run = read_run(run)
    if sample is Sample.random:
        _route_random(target_run, out, n, seed)
        return
    if n is not None:
        raise BadInput("--n: only with --sample random (the confidence route decides how many items go to people)")
    found = None
    if threshold is None:
        _, _, found = run_selective(read_run(pilot) if pilot else target_run, target=target_accuracy,
                                    n_resamples=resamples, seed=seed)
        if found is None:
            raise BadInput(f"{pilot or run}: no gold-labelled item with a confidence; pass --threshold")
        threshold = found.threshold
    elif not 0 <= threshold <= 1:
        raise BadInput(f"--threshold: {threshold} is not in [0, 1]")
    routed, kept = route(target_run, threshold)
    studio = out.with_name(out.stem + ".label-studio.json")
    write_tasks(routed, out, studio, kind=target_run.manifest.kind)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if found is not None and found.threshold is None:
        err.print(f"no threshold keeps accuracy >= {target_accuracy:g} (lower bound): every item goes to people",
                  markup=False)
    elif found is not None:
        err.print(f"threshold {threshold:.4f}: coverage {found.coverage:.3f} "
                  f"[{found.coverage_ci.low:.3f}, {found.coverage_ci.high:.3f}] at accuracy {found.accuracy:.3f} "
                  f"(lower bound {found.accuracy_lower_bound:.3f}) on {found.n_items} labelled items", markup=False)
    err.print(f"judge decides {kept}, people get {len(routed)}: {out} and {studio} "
              f"(Label Studio config: judgekit.analysis.routing.label_studio_config)", markup=False)


def _route_random(run: Any, out: Path, n: int | None, seed: int) -> None:
    from judgekit.analysis.estimate import random_sample
    from judgekit.analysis.routing import Routed, write_tasks

    if n is None:
        raise BadInput("--n: --sample random needs the number of items to draw")
    kind = run.manifest.kind
    if kind not in ("pairwise", "classify"):
        raise BadInput(f"{run.path}: route writes labelling tasks for pairwise and classify runs, not {kind} ones")
    routed = [Routed(example, "random_sample", None) for example in random_sample(run, n, seed)]
    studio = out.with_name(out.stem + ".label-studio.json")
    write_tasks(routed, out, studio, kind=kind)
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"{len(routed)} of {len(run.examples)} items drawn uniformly at random (seed {seed}) for people: {out} and "
        f"{studio}; with their labels, judgekit estimate {run.path} --human {out}", markup=False)


def _print_run(f: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]{f['run']}[/bold] · {f['judge']} · {f['protocol']} · {f['dataset']}")
    alt = f["alt_test"]
    if alt is None:
        console.print("alt-test: - (no item has two human votes)")
    else:
        for c in alt["candidates"].values():
            table = Table("annotator", "items", "p-value", "rejected", "advantage", title_justify="left",
                          title=f"alt-test (ε={alt['epsilon']:g}, q={alt['q']:g})")
            for h, a in c["annotators"].items():
                table.add_row(h, str(a["n"]), f"{a['p_value']:.3g}", "yes" if a["rejected"] else "no",
                              f"{a['advantage']:.3f}")
            console.print(table)
            omega = "-" if c["winning_rate"] is None else f"{c['winning_rate']:.3f}"
            rho = "-" if c["advantage_probability"] is None else f"{c['advantage_probability']:.3f}"
            console.print(f"ω = {omega}, ρ = {rho}: {'passes' if c['passed'] else 'does not pass'}; "
                          f"{c['n_items']} items, {c['items_left_out']} left out, "
                          f"{len(c['annotators_left_out'])} annotators left out", highlight=False)
    cal = f["calibration"]
    if cal is None:
        console.print("calibration: - (the verdicts carry no confidence)")
    else:
        table = Table("figure", "raw", f"{cal['method']}, cross-fitted ({cal['folds']} folds)",
                      title=f"calibration ({f['confidence_source']}, {cal['n']} items, {cal['binning']})",
                      title_justify="left")
        table.add_row("ECE", f"{cal['ece']:.3f}", f"{cal['calibrated_ece']:.3f}")
        table.add_row("Brier", f"{cal['brier']:.3f}", f"{cal['calibrated_brier']:.3f}")
        console.print(table)
    sel = f["selective"]
    if sel is not None:
        if sel["threshold"] is None:
            console.print(f"selective: no threshold keeps accuracy ≥ {sel['target_accuracy']:g} (lower bound)",
                          highlight=False)
        else:
            low, high = sel["coverage_ci"]
            console.print(f"selective: coverage {sel['coverage']:.3f} [{low:.3f}, {high:.3f}] at accuracy "
                          f"{sel['accuracy']:.3f} (lower bound {sel['accuracy_lower_bound']:.3f} ≥ "
                          f"{sel['target_accuracy']:g}), threshold {sel['threshold']:.4f}", highlight=False)


def plan_alt_test_command(
    pilot: Path | None = typer.Option(None, "--pilot", help=_PILOT_HELP + " (items with several votes)."),
    annotators: int = typer.Option(3, "--annotators", help="Without a pilot: annotators per item."),
    annotator_accuracy: float = typer.Option(0.85, "--annotator-accuracy",
                                             help="Without a pilot: each annotator's accuracy."),
    judge_accuracy: float = typer.Option(0.8, "--judge-accuracy", help="Without a pilot: the judge's accuracy."),
    labels: int = typer.Option(3, "--labels", help="Without a pilot: number of labels (a, b, tie = 3)."),
    epsilon: float = typer.Option(0.2, "--epsilon", help="Alt-test margin."),
    q: float = typer.Option(0.05, "--q", help="Alt-test false discovery rate."),
    min_items: int = typer.Option(30, "--min-items", help="Alt-test: annotators with fewer items are left out."),
    sizes: str = SIZES,
    simulations: int = typer.Option(500, "--simulations", help=_SIMULATIONS_HELP),
    seed: int = SIMULATION_SEED,
    format: OutputFormat = FORMAT,
) -> None:
    """Items needed to pass the alt-test at epsilon with 80% power.

    Example: judgekit plan alt-test --annotators 3 --annotator-accuracy 0.85 --judge-accuracy 0.8 --epsilon 0.15
    """
    from judgekit.agreement.plan import alt_test_differences, plan_alt_test, simulated_pool
    from judgekit.analysis.trust import alt_test_pool_of
    from judgekit.runs.run_dir import read_run

    if pilot is not None:
        pool, source = alt_test_pool_of(read_run(pilot)), f"pilot {pilot}"
    else:
        humans, judge = simulated_pool(annotators=annotators, annotator_accuracy=annotator_accuracy,
                                       judge_accuracy=judge_accuracy, labels=labels, seed=seed)
        pool = alt_test_differences(humans, judge)
        source = (f"assumed: {annotators} annotators at accuracy {annotator_accuracy:g}, judge at "
                  f"{judge_accuracy:g}, {labels} labels")
    plan = plan_alt_test(pool, epsilon=epsilon, q=q, min_items=min_items, sizes=_sizes(sizes),
                         simulations=simulations, seed=seed)
    _emit_plan(plan, source, format)


def plan_paired_command(
    pilot: list[Path] | None = typer.Option(None, "--pilot", help="Two labelled runs of the two judges (repeat)."),
    accuracy: float = typer.Option(0.8, "--accuracy", help="Without pilots: judge 1's accuracy."),
    accuracy_2: float = typer.Option(0.75, "--accuracy-2", help="Without pilots: judge 2's accuracy."),
    correlation: float = typer.Option(0.3, "--correlation", help="Without pilots: correlation of their right/wrong."),
    alpha: float = typer.Option(0.05, "--alpha", help="Level of the exact McNemar test."),
    sizes: str = SIZES,
    simulations: int = typer.Option(2000, "--simulations", help=_SIMULATIONS_HELP),
    seed: int = SIMULATION_SEED,
    format: OutputFormat = FORMAT,
) -> None:
    """Items needed to detect an accuracy difference between two judges (paired, exact McNemar) with 80% power.

    With pilots, each run's headline verdicts are paired as compare pairs them (the final verdict, or each order).

    Example: judgekit plan paired --accuracy 0.8 --accuracy-2 0.72 --correlation 0.3
    """
    from judgekit.agreement.plan import paired_cells, plan_paired
    from judgekit.analysis.kinds import kind_of
    from judgekit.runs.run_dir import read_run

    if pilot:
        if len(pilot) != 2:
            raise BadInput(f"--pilot: give exactly two runs for a paired plan, got {len(pilot)}")
        runs = [read_run(pilot[0]), read_run(pilot[1])]
        cells, shared = kind_of(runs).plan_cells(*runs)
        source = f"pilots {pilot[0]} and {pilot[1]} ({shared} shared items)"
    else:
        cells = paired_cells(accuracy, accuracy_2, correlation)
        source = f"assumed: accuracies {accuracy:g} and {accuracy_2:g}, correlation {correlation:g}"
    _emit_plan(plan_paired(cells, alpha=alpha, sizes=_sizes(sizes), simulations=simulations, seed=seed),
               source, format)


def plan_ci_command(
    half_width: float = typer.Option(..., "--half-width", help="The CI half-width to reach, e.g. 0.05."),
    pilot: Path | None = typer.Option(None, "--pilot", help=_PILOT_HELP),
    accuracy: float = typer.Option(0.8, "--accuracy", help="Without a pilot: the judge's accuracy."),
    sizes: str = SIZES,
    simulations: int = typer.Option(2000, "--simulations", help=_SIMULATIONS_HELP),
    seed: int = SIMULATION_SEED,
    format: OutputFormat = FORMAT,
) -> None:
    """Items needed for the accuracy's 95% Wilson CI to be at most +/- half-width (with 80% probability).

    Example: judgekit plan ci --accuracy 0.8 --half-width 0.05
    """
    from judgekit.agreement.plan import plan_ci

    accuracy, source = _accuracy(pilot, accuracy)
    _emit_plan(plan_ci(accuracy, half_width=half_width, sizes=_sizes(sizes), simulations=simulations, seed=seed),
               source, format)


def plan_above_command(
    baseline: float = typer.Option(..., "--baseline", help="The accuracy to beat, e.g. 0.7."),
    pilot: Path | None = typer.Option(None, "--pilot", help=_PILOT_HELP),
    accuracy: float = typer.Option(0.8, "--accuracy", help="Without a pilot: the judge's accuracy."),
    alpha: float = typer.Option(0.05, "--alpha", help="Level of the one-sided exact binomial test."),
    sizes: str = SIZES,
    simulations: int = typer.Option(2000, "--simulations", help=_SIMULATIONS_HELP),
    seed: int = SIMULATION_SEED,
    format: OutputFormat = FORMAT,
) -> None:
    """Items needed to show the judge's accuracy is above a baseline (exact binomial test) with 80% power.

    Example: judgekit plan above --accuracy 0.8 --baseline 0.7
    """
    from judgekit.agreement.plan import plan_above

    accuracy, source = _accuracy(pilot, accuracy)
    _emit_plan(plan_above(accuracy, baseline=baseline, alpha=alpha, sizes=_sizes(sizes), simulations=simulations,
                          seed=seed), source, format)


def plan_estimate_command(
    half_width: float = typer.Option(..., "--half-width", help="The interval half-width to reach, e.g. 0.03."),
    pilot: Path = typer.Option(..., "--pilot", help="A judge run with human labels on a random part of it."),
    human: Path = typer.Option(..., "--human", help="The pilot's human labels (as judgekit estimate reads them)."),
    mapping: str | None = typer.Option(None, "--mapping", help="As in judgekit estimate (default id=id,label=label)."),
    labels: str | None = typer.Option(None, "--labels", help="As in judgekit estimate, e.g. yes=fail,no=pass."),
    target: str | None = typer.Option(None, "--target", help="As in judgekit estimate (default: the run kind's)."),
    positive: str | None = typer.Option(None, "--positive", help="pass_rate: the label whose rate is estimated."),
    total: int | None = typer.Option(None, "--total", help="Items the judge will score (default: the pilot's)."),
    alpha: float = typer.Option(0.05, "--alpha", help="1 - the interval's level."),
    sizes: str = SIZES,
    simulate: bool | None = typer.Option(None, "--simulate/--no-simulate",
                                            help="Resample the pilot (default: when it has under 100 labels)."),
    simulations: int = typer.Option(1000, "--simulations", min=1, help=_SIMULATIONS_HELP),
    seed: int = SIMULATION_SEED,
    format: OutputFormat = FORMAT,
) -> None:
    """Random human labels an interval of +/- half-width needs, humans alone and with the judge (PPI++).

    Example: judgekit plan estimate --pilot runs/halueval-judge --human pilot_labels.csv --half-width 0.02
    """
    from judgekit.analysis.estimate import plan_figures
    from judgekit.report.estimate import estimate_json, print_plan
    from judgekit.runs.run_dir import read_run

    plan = plan_figures(read_run(pilot), human, half_width=half_width, target=target, positive=positive,
                        mapping=mapping, labels=labels, alpha=alpha, total=total, sizes=tuple(_sizes(sizes)),
                        simulate=simulate, simulations=simulations, seed=seed)
    if format is OutputFormat.json:
        typer.echo(estimate_json(plan))
        return
    print_plan(plan, Console())


def _accuracy(pilot: Path | None, accuracy: float) -> tuple[float, str]:
    if pilot is None:
        return accuracy, f"assumed: accuracy {accuracy:g}"
    from judgekit.analysis.trust import correctness
    from judgekit.runs.run_dir import read_run

    right = correctness(read_run(pilot))
    if not right:
        raise BadInput(f"{pilot}: no gold-labelled judged item to take the accuracy from")
    value = sum(right.values()) / len(right)
    if not 0 < value < 1:
        raise BadInput(f"{pilot}: accuracy {value:g} on {len(right)} items; a plan needs one strictly in (0, 1)")
    return value, f"pilot {pilot}: accuracy {value:.3f} on {len(right)} items"


def _emit_plan(plan: Any, source: str, format: OutputFormat) -> None:
    if format is OutputFormat.json:
        typer.echo(json.dumps({
            "question": plan.question, "source": source, "simulations": plan.simulations, "seed": plan.seed,
            "power_target": plan.power_target, "needed": plan.needed,
            "rows": [{"n": r.n, "power": r.power} for r in plan.rows],
        }, indent=2))
        return
    console = Console()
    console.print(f"{plan.question}\n{source}", highlight=False, markup=False)
    table = Table("items", "power", "")
    for r in plan.rows:
        table.add_row(str(r.n), f"{r.power:.3f}", "<- first at 80%" if r.n == plan.needed else "")
    console.print(table)
    needed = (f"{plan.needed} items" if plan.needed is not None
              else f"more than {plan.rows[-1].n} items (try larger --sizes)")
    console.print(f"needed for {plan.power_target:.0%} power: {needed}; {plan.simulations} simulations per size, "
                  f"seed {plan.seed}", highlight=False)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BadInput(f"--sizes: '{text}' is not a comma-separated list of integers") from None
    if not sizes or min(sizes) < 1:
        raise BadInput(f"--sizes: '{text}': every size must be a positive integer")
    return sorted(set(sizes))
