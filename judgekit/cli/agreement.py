"""``judgekit agreement FILE``: agreement statistics for any table of labels."""

from __future__ import annotations

import json
import math
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from judgekit.errors import BadInput

if TYPE_CHECKING:
    from judgekit.agreement.reliability import RaterAgreement


class Level(str, Enum):
    nominal = "nominal"
    ordinal = "ordinal"
    interval = "interval"


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


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
    gold: Optional[str] = typer.Option(
        None, "--gold", help="Column holding the gold label; adds each rater's accuracy and kappa against it."
    ),
    level: Level = typer.Option(
        Level.nominal, "--level", help="Krippendorff's alpha level: nominal, ordinal or interval."
    ),
    labels: Optional[str] = typer.Option(
        None,
        "--labels",
        help="Declared label set in order, e.g. a,b,tie; any other label is an error. "
        "Default: the labels seen, sorted.",
    ),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json."),
) -> None:
    """Fleiss' kappa (items every rater labelled), Krippendorff's alpha (all items),
    pairwise Cohen's kappa, and each rater against gold.

    Example: judgekit agreement votes.csv --raters h1,h2,h3 --gold majority --labels a,b,tie --format json
    """
    from judgekit.agreement.reliability import rater_agreement  # pandas: load only for this command
    from judgekit.agreement.table import read_label_table

    rater_columns = _split(raters, "--raters")
    declared = _split(labels, "--labels") if labels is not None else None
    columns = rater_columns + ([gold] if gold and gold not in rater_columns else [])
    frame = read_label_table(file, columns)
    try:
        result = rater_agreement(frame, gold=gold, level=level.value, labels=declared)
    except BadInput as e:
        raise BadInput(f"{file}: {e}") from None
    if format is OutputFormat.json:
        typer.echo(json.dumps(as_json(result), indent=2))
        return
    _print_table(result)


def as_json(result: RaterAgreement) -> dict[str, Any]:
    """The DESIGN contract's JSON object; undefined numbers become null."""
    return {
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


def _print_table(result: RaterAgreement) -> None:
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


def _split(text: str, option: str) -> list[str]:
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise BadInput(f"{option}: empty name in '{text}'")
    return parts


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def _fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"
