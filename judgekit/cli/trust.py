"""``judgekit trust`` and ``judgekit route``: can the judge replace annotators, and where not?"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from judgekit.errors import BadInput
from judgekit.rundir import read_run


class TrustFormat(str, Enum):
    table = "table"
    json = "json"


class Method(str, Enum):
    isotonic = "isotonic"
    logistic = "logistic"


class Binning(str, Enum):
    uniform = "uniform"
    quantile = "quantile"


def register(app: typer.Typer) -> None:
    """Attach both commands to the main app."""
    app.command("trust")(trust_command)
    app.command("route")(route_command)


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
    format: TrustFormat = typer.Option(TrustFormat.table, "--format", "-f", help="table or json."),
) -> None:
    """The alt-test (runs over several annotators per item), calibration and selective judging.

    Example: judgekit trust runs/natural-logprob --target-accuracy 0.9 --format json
    """
    from judgekit.trust import TrustOptions, trust_figures  # numpy/scikit-learn: load only for this command

    options = TrustOptions(epsilon=epsilon, q=q, min_items=min_items, target_accuracy=target_accuracy,
                           n_bins=bins, binning=binning.value, method=method.value, folds=folds,
                           n_resamples=resamples, seed=seed)
    figures = [trust_figures(read_run(path), options) for path in runs]
    if format is TrustFormat.json:
        typer.echo(json.dumps({"runs": figures}, indent=2))
        return
    console = Console()
    for f in figures:
        _print_run(f, console)


def route_command(
    run: Path = typer.Argument(..., help="The run whose undecided items go to people."),
    out: Path = typer.Option(..., "--out", "-o", help="JSONL task file to write; Label Studio tasks go beside it."),
    target_accuracy: float = typer.Option(0.9, "--target-accuracy", help="Accuracy the judge must keep."),
    pilot: Optional[Path] = typer.Option(
        None, "--pilot", help="A labelled run of the same judge to find the threshold on (default: RUN itself)."
    ),
    threshold: Optional[float] = typer.Option(
        None, "--threshold", help="Use this confidence threshold instead of finding one."
    ),
    resamples: int = typer.Option(1000, "--resamples", min=1, help="Bootstrap resamples of the coverage CI."),
    seed: int = typer.Option(0, "--seed", help="Seed of the resamples."),
) -> None:
    """Write the items the judge should not decide (JSONL + Label Studio task JSON).

    The threshold is the lowest confidence at which the judge's accuracy keeps
    its Clopper-Pearson lower bound at --target-accuracy, found on the
    labelled items of --pilot (or of RUN).

    Example: judgekit route runs/natural-logprob --target-accuracy 0.9 --out to_label.jsonl
    """
    from judgekit.routing import route, write_tasks
    from judgekit.trust import run_selective

    target_run = read_run(run)
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
    write_tasks(routed, out, studio)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if found is not None and found.threshold is None:
        err.print(f"no threshold keeps accuracy >= {target_accuracy:g} (lower bound): every item goes to people",
                  markup=False)
    elif found is not None:
        err.print(f"threshold {threshold:.4f}: coverage {found.coverage:.3f} "
                  f"[{found.coverage_ci.low:.3f}, {found.coverage_ci.high:.3f}] at accuracy {found.accuracy:.3f} "
                  f"(lower bound {found.accuracy_lower_bound:.3f}) on {found.n_items} labelled items", markup=False)
    err.print(f"judge decides {kept}, people get {len(routed)}: {out} and {studio} "
              f"(Label Studio config: judgekit.routing.LABEL_STUDIO_CONFIG)", markup=False)


def _print_run(f: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]{f['run']}[/bold] · {f['judge']} · {f['protocol']} · {f['dataset']}")
    alt = f["alt_test"]
    if alt is None:
        console.print("alt-test: - (no item has two human votes)")
    else:
        for name, c in alt["candidates"].items():
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
