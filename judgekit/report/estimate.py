"""``judgekit estimate`` and ``judgekit plan estimate`` as text: the dicts of ``analysis.estimate``, laid out."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

_NAMES = {"naive": "naive (judge only)", "classical": "classical (humans only)", "ppi": "ppi (λ = 1)",
          "ppi++": "ppi++ (tuned λ)", "rogan-gladen": "rogan-gladen"}


def estimate_json(figures: dict[str, Any]) -> str:
    return json.dumps(figures, indent=2)


def print_estimate(figures: dict[str, Any], console: Console) -> None:
    """The methods side by side, their notes below, then what the judge's verdicts were worth in human labels."""
    say = _say(console)
    level = 1 - figures["alpha"]
    say(f"{figures['target']} · {figures['run']} ({figures['judge']})")
    say(f"human labels {figures['human']}: {figures['n_labelled']:,} labelled + {figures['n_unlabelled']:,} "
        f"unlabelled items, {figures['n_invalid']:,} invalid verdicts; variance: {figures['variance']}")
    table = Table("method", "estimate", f"{level:.0%} CI", "±", "λ", title_justify="left")
    notes = []
    for name, m in figures["methods"].items():
        if m["estimate"] is None:
            table.add_row(_NAMES[name], "-", "-", "-", "")
            notes.append(f"{name}: {m['note']}")
            continue
        low, high = m["ci"]
        lam = m.get("lambda")
        mark = " *" if m.get("valid") is False else ""
        table.add_row(_NAMES[name] + mark, f"{m['estimate']:.4f}", f"[{low:.4f}, {high:.4f}]",
                      f"{(high - low) / 2:.4f}", "" if lam is None else f"{lam:.3f}")
        if m.get("valid") is False:
            notes.append(f"* {name} is not a valid interval: {m['note']}")
        if name == "rogan-gladen":
            notes.append(f"rogan-gladen: sensitivity {m['sensitivity']:.3f}, specificity {m['specificity']:.3f}, "
                         f"judge rate {m['judge_rate']:.4f} on the unlabelled items; {m['interval']} interval")
    console.print(table)
    for note in notes:
        say(note)
    effective = figures["effective_labels"]
    if effective is not None:
        say(f"effective labels: {effective:,.0f}. Humans alone would need about that many labels for an interval as "
            f"narrow as ppi++'s ({figures['n_labelled']:,} used).")
    skipped = figures["human_rows_without_label"], figures["human_labels_outside_target"]
    if any(skipped):
        say(f"left out of the human file: {skipped[0]} rows without a label, {skipped[1]} labels on items outside "
            "the target")


def _say(console: Console):
    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False)

    return say


def print_plan(plan: dict[str, Any], console: Console) -> None:
    """Labels needed with and without the judge, and the half-widths (or simulated success rates) over sizes."""
    console.print(plan["question"], markup=False, highlight=False)
    m = plan["moments"]
    correlation = "-" if m["correlation"] is None else f"{m['correlation']:.3f}"
    console.print(f"pilot {plan['run']}: {plan['pilot_labelled']} labelled items; human sd {m['human_sd']:.3f}, "
                  f"judge sd {m['judge_sd']:.3f}, correlation {correlation}", markup=False, highlight=False)
    analytic = plan["analytic"]
    table = Table("labelled n", "half-width, humans only", "half-width, with the judge (ppi++)", "λ",
                  title="expected half-widths (analytic)", title_justify="left")
    for row in analytic["half_widths"]:
        table.add_row(f"{row['n']:,}", f"{row['classical']:.4f}", f"{row['ppi++']:.4f}", f"{row['lambda']:.3f}")
    console.print(table)
    simulation = plan["simulation"]
    if simulation is not None:
        table = Table("labelled n", "P(reach), humans only", "P(reach), with the judge",
                      title=f"share of {simulation['simulations']} simulated samples reaching ±{plan['half_width']:g} "
                            f"(pilot resampled, seed {simulation['seed']})", title_justify="left")
        for row in simulation["rows"]:
            table.add_row(f"{row['n']:,}", f"{row['classical']:.3f}", f"{row['ppi++']:.3f}")
        console.print(table)
    needed = plan["needed"]

    def shown(value: int | None) -> str:
        return (f"{value:,}" if value is not None
                else f"more than the sizes tried (or than the {plan['n_total']:,} items)")

    basis = ("analytic" if plan["method"] == "analytic"
             else f"simulated, first size reached in {simulation['power_target']:.0%} of samples")
    console.print(f"labels needed ({basis}): humans only {shown(needed['classical'])}; with the judge "
                  f"{shown(needed['ppi++'])}", markup=False, highlight=False)
