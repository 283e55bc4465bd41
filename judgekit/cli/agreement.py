"""``judgekit agreement FILE``: agreement statistics for any table of labels."""

from __future__ import annotations

import json
import math
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from judgekit.cli.options import FORMAT, OutputFormat
from judgekit.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

    from judgekit.agreement.alt_test import AltTest
    from judgekit.agreement.reliability import RaterAgreement


class Level(str, Enum):
    nominal = "nominal"
    ordinal = "ordinal"
    interval = "interval"


class Alignment(str, Enum):
    accuracy = "accuracy"
    neg_rmse = "neg_rmse"


def register(app: typer.Typer) -> None:
    """Attach this command to the main app."""
    app.command("agreement")(agreement_command)


def agreement_command(
    file: Path = typer.Argument(
        ..., help="A CSV, JSONL or Parquet table, one row per item; an empty cell is a missing rating."
    ),
    raters: str = typer.Option(
        ..., "--raters", help="Comma-separated rater columns, e.g. annotator1,annotator2,judge."
    ),
    gold: str | None = typer.Option(
        None, "--gold", help="Column holding the gold label; adds each rater's accuracy and kappa against it."
    ),
    level: Level = typer.Option(
        Level.nominal, "--level", help="Krippendorff's alpha level: nominal, ordinal or interval."
    ),
    labels: str | None = typer.Option(
        None,
        "--labels",
        help="Declared label set in order, e.g. a,b,tie; any other label is an error. "
        "Default: the labels seen, sorted.",
    ),
    alt_test: str | None = typer.Option(
        None,
        "--alt-test",
        help="Comma-separated candidate (judge) columns to test as a replacement for the --raters annotators "
        "(the alternative annotator test, Calderon et al. 2025).",
    ),
    epsilon: float = typer.Option(
        0.2, "--epsilon", help="Alt-test margin: 0.2 experts, 0.15 skilled annotators, 0.1 crowd workers."
    ),
    q: float = typer.Option(0.05, "--q", help="Alt-test false discovery rate (Benjamini-Yekutieli)."),
    alignment: Alignment = typer.Option(
        Alignment.accuracy, "--alignment", help="Alt-test alignment: accuracy for labels, neg_rmse for scores."
    ),
    min_items: int = typer.Option(
        30, "--min-items", help="Alt-test: leave out annotators with fewer usable items than this."
    ),
    format: OutputFormat = FORMAT,
) -> None:
    """Fleiss' kappa (items every rater labelled), Krippendorff's alpha (all items),
    pairwise Cohen's kappa, each rater against gold, and optionally the alt-test.

    Example: judgekit agreement votes.csv --raters h1,h2,h3 --gold majority --labels a,b,tie --format json

    Example: judgekit agreement votes.csv --raters h1,h2,h3 --alt-test gpt4,llama --epsilon 0.15 --format json
    """
    from judgekit.agreement.alt_test import alt_test as run_alt_test  # pandas: load only for this command
    from judgekit.agreement.alt_test import alt_test_json
    from judgekit.agreement.reliability import code_ratings, rater_agreement
    from judgekit.data.label_table import read_label_table

    rater_columns = _split(raters, "--raters")
    candidates = _split(alt_test, "--alt-test") if alt_test is not None else []
    clash = [c for c in candidates if c in rater_columns]
    if clash:
        raise BadInput(f"--alt-test: '{clash[0]}' is also one of --raters; a candidate must not be an annotator")
    declared = _split(labels, "--labels") if labels is not None else None
    rater_columns = list(dict.fromkeys(rater_columns))
    columns = list(dict.fromkeys(rater_columns + ([gold] if gold else []) + candidates))
    frame = read_label_table(file, columns)
    for warning in design_warnings(_split(raters, "--raters"), gold, level, frame):
        Console(stderr=True).print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    try:
        scored = list(dict.fromkeys(rater_columns + ([gold] if gold else [])))
        result = rater_agreement(frame[scored], gold=gold, level=level.value, labels=declared)
        alt = None
        if candidates:
            if declared is not None:  # the raters' label check, for the candidates too
                code_ratings(frame[candidates], labels=declared)
            alt = run_alt_test(frame[rater_columns], frame[candidates], epsilon=epsilon, q=q,
                               alignment=alignment.value, min_items=min_items)
    except BadInput as e:
        raise BadInput(f"{file}: {e}") from None
    notes = undefined_notes(result, frame[rater_columns])
    if format is OutputFormat.json:
        out = as_json(result, notes)
        if alt is not None:
            out["alt_test"] = alt_test_json(alt)
        typer.echo(json.dumps(out, indent=2))
        return
    _print_table(result, notes)
    if alt is not None:
        print_alt_test(alt, Console())


def design_warnings(raters: list[str], gold: str | None, level: Level, frame: pd.DataFrame) -> list[str]:
    """Requests that run but rarely mean what was intended; each becomes a warning on stderr."""
    warnings = [f"--raters names '{name}' more than once; it is counted once"
                for name in dict.fromkeys(raters) if raters.count(name) > 1]
    if gold is not None and gold in raters:
        warnings.append(f"'{gold}' is both --gold and a rater: it agrees with gold by construction "
                        "and inflates the multi-rater statistics")
    if len(frame) == 1:
        warnings.append("the table holds one item: agreement over a single item is undefined or meaningless")
    if level is Level.interval:
        seen = {v for column in frame.columns for v in frame[column] if v is not None}
        words = sorted(v for v in seen if not _is_number(v))
        if words:
            warnings.append(f"--level interval on labels that are not numbers ({', '.join(words[:5])}): "
                            "distances between them mean nothing; use --level nominal")
    return warnings


def _is_number(label: str) -> bool:
    try:
        float(label)
    except ValueError:
        return False
    return True


def undefined_notes(result: RaterAgreement, ratings: pd.DataFrame) -> list[str]:
    """Why a statistic is null, in words (sparse designs leave Fleiss' kappa undefined)."""
    notes = []
    complete = int(ratings.notna().all(axis=1).sum())
    if math.isnan(result.fleiss_kappa):
        why = (f"no item was labelled by all {ratings.shape[1]} raters" if complete == 0
               else "fewer than two raters" if ratings.shape[1] < 2
               else f"the {complete} items every rater labelled use a single label")
        notes.append(f"fleiss_kappa undefined: {why}")
    if math.isnan(result.krippendorff_alpha):
        notes.append("krippendorff_alpha undefined: no item has two ratings, or only one label occurs")
    return notes


def as_json(result: RaterAgreement, notes: list[str] | None = None) -> dict[str, Any]:
    """The DESIGN contract's JSON object; undefined numbers become null (``notes`` says why)."""
    out = {
        "n_items": result.n_items,
        "raters": list(result.raters),
        "level": result.level,
        "fleiss_kappa": _number(result.fleiss_kappa),
        "krippendorff_alpha": _number(result.krippendorff_alpha),
        "pairwise_cohen_kappa": {pair: _number(k) for pair, k in result.pairwise_cohen_kappa.items()},
        "vs_gold": {
            name: {"accuracy": _number(v.accuracy), "cohen_kappa": _number(v.cohen_kappa)}
            for name, v in result.vs_gold.items()
        },
    }
    if notes:
        out["notes"] = notes
    return out


def print_alt_test(result: AltTest, console: Console) -> None:
    """One table per candidate: each held-out annotator's test, then ω, ρ and the verdict."""
    for name, c in result.candidates.items():
        table = Table("annotator", "items", "p-value", "rejected", "advantage", title_justify="left",
                      title=f"alt-test: {name} (ε={result.epsilon:g}, q={result.q:g}, {result.alignment})")
        for h, a in c.annotators.items():
            table.add_row(h, str(a.n), f"{a.p_value:.3g}", "yes" if a.rejected else "no", f"{a.advantage:.3f}")
        console.print(table)
        verdict = "passes" if c.passed else "does not pass"
        console.print(f"winning rate ω = {_fmt(c.winning_rate)}, advantage probability ρ = "
                      f"{_fmt(c.advantage_probability)}: {name} {verdict} (ω ≥ 0.5)", highlight=False)
        left = [f"{h} ({n} items)" for h, n in c.annotators_left_out.items()]
        console.print(f"{c.n_items} items used, {c.items_left_out} left out (fewer than two annotators or no "
                      f"candidate label); annotators left out (fewer than {result.min_items} items): "
                      f"{', '.join(left) or 'none'}", highlight=False)


def _print_table(result: RaterAgreement, notes: list[str]) -> None:
    console = Console()
    overall = Table(show_header=False, title="agreement", title_justify="left")
    overall.add_row("items", str(result.n_items))
    overall.add_row("raters", ", ".join(result.raters))
    overall.add_row("Fleiss' kappa (complete items)", _fmt(result.fleiss_kappa))
    overall.add_row(f"Krippendorff's alpha ({result.level})", _fmt(result.krippendorff_alpha))
    console.print(overall)
    if result.pairwise_cohen_kappa:
        pairs = Table("rater pair", "Cohen's kappa", title="pairwise", title_justify="left")
        for pair, kappa in result.pairwise_cohen_kappa.items():
            pairs.add_row(pair.replace("|", " vs "), _fmt(kappa))
        console.print(pairs)
    if result.vs_gold:
        gold = Table("rater", "items", "accuracy", "Cohen's kappa", title="against gold", title_justify="left")
        for name, v in result.vs_gold.items():
            gold.add_row(name, str(v.n), _fmt(v.accuracy), _fmt(v.cohen_kappa))
        console.print(gold)
    for note in notes:
        console.print(note, highlight=False)


def _split(text: str, option: str) -> list[str]:
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise BadInput(f"{option}: empty name in '{text}'")
    return parts


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def _fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"
