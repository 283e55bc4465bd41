"""``judgekit datasets list|show``: which meta-datasets exist, and what is in one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from judgekit.cli.options import FORMAT, OutputFormat

if TYPE_CHECKING:
    from judgekit.resources import Availability


def register(app: typer.Typer) -> None:
    """Attach this command group to the main app."""
    group = typer.Typer(help="Browse the human-labelled meta-datasets judges are scored on.",
                        no_args_is_help=True)
    group.command("list")(list_command)
    group.command("show")(show_command)
    app.add_typer(group, name="datasets")


def list_command(
    format: OutputFormat = FORMAT,
) -> None:
    """List the built-in meta-datasets and whether each can be read right now.

    Example: judgekit datasets list --format json
    """
    from judgekit.resources import shipped

    rows = [_list_row(a) for a in shipped()]
    if format is OutputFormat.json:
        typer.echo(json.dumps({"datasets": rows}, indent=2))
        return
    table = Table("id", "size", "source", "available now", "from")
    for row in rows:
        available = "[green]yes[/]" if row["available"] else "[red]no[/]"
        table.add_row(row["id"], str(row["size"] or "?"), row["source"], available, row["where"])
    table.columns[0].no_wrap = True
    Console().print(table)


def show_command(
    dataset: str = typer.Argument(...,
                                  help="A built-in id (see 'datasets list'), a "
                                       ".yaml card, a data file, or hf:OWNER/NAME."),
    limit: int | None = typer.Option(None, "--limit", "-n", help="Use only the first N examples."),
    path: Path | None = typer.Option(None, "--path",
                                     help="Read from this file, or from this folder laid out like the staged "
                                          "datasets."),
    mapping: str | None = typer.Option(None, "--mapping",
                                       help="FIELD=COLUMN pairs, e.g. "
                                            "instruction=prompt,response_a=out1,response_b=out2,gold=label "
                                            "(labelled outputs: input=,response=,label=col or h1+h2)."),
    labels: str | None = typer.Option(None, "--labels",
                                      help="VALUE=LABEL pairs, e.g. 1=a,2=b,0=tie (labelled "
                                           "outputs: yes=fail,no=pass, in label-set order)."),
    examples: int = typer.Option(3, "--examples", help="How many examples to print."),
    format: OutputFormat = FORMAT,
) -> None:
    """Show counts, label balance, annotators, generator coverage, license and a few examples.

    Example: judgekit datasets show pandalm --limit 100
    """
    from judgekit.data import load_dataset, summarize

    loaded = load_dataset(dataset, path=path, mapping=mapping, labels=labels, limit=limit)
    summary = summarize(loaded, examples=examples, width=120 if format is OutputFormat.table else 200)
    if format is OutputFormat.json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    _print_summary(summary)


def _list_row(entry: Availability) -> dict[str, Any]:
    card = entry.card
    kinds = [k for k, present in (("bundled", card.bundled), ("local", card.local), ("hub", card.hub),
                                  ("parts", card.parts)) if present]
    return {"id": card.id, "size": card.size, "source": " + ".join(kinds),
            "available": entry.available, "where": entry.where}


def _print_scored_summary(summary: dict[str, Any]) -> None:
    console = Console()
    facts = Table(show_header=False, title=summary["id"], title_justify="left")
    rows = [
        ("description", summary["description"]),
        ("source", summary["source"]),
        ("responses", f"{summary['n']} ({summary['with_text']} with text) to {summary['inputs']} inputs"),
        ("systems", ", ".join(f"{k}: {v}" for k, v in summary["systems"].items())),
        ("criteria", ", ".join(f"{k}: {v}" for k, v in summary["criteria"].items())),
        ("scale", "{:g}-{:g}".format(*summary["scale"])),
        ("human scores per criterion", ", ".join(f"{k}: {v}" for k, v in summary["scores_per_item"].items())),
        ("license", summary["license"]),
        ("citation", summary["citation"] or "-"),
        ("notes", summary["notes"] or "-"),
        ("content hash", summary["content_hash"]),
    ]
    for key, value in rows:
        facts.add_row(key, value)
    console.print(facts)
    if summary["examples"]:
        shown = Table("id", "input", "system", "human scores", "response", title="examples",
                      title_justify="left", show_lines=True)
        for e in summary["examples"]:
            scores = "; ".join(f"{c}: {','.join(f'{s:g}' for s in v)}" for c, v in e["criteria"].items())
            shown.add_row(e["id"], e["input_id"], e["system"] or "-", scores, e["response"] or "-")
        console.print(shown)


def _print_labelled_summary(summary: dict[str, Any]) -> None:
    console = Console()
    facts = Table(show_header=False, title=summary["id"], title_justify="left")
    votes = summary["votes_per_item"]
    positive = summary["positive_label"]
    rows = [
        ("description", summary["description"]),
        ("source", summary["source"]),
        ("outputs", f"{summary['n']} ({summary['clusters']} clusters, {summary['with_context']} with context)"),
        ("label set", ", ".join(summary["labels"]) + (f" (problem class: {positive})" if positive else "")),
        ("gold labels", ", ".join(f"{k}: {v}" for k, v in summary["gold"].items() if v or k != "none")),
        ("annotators per output", ", ".join(f"{k} labels: {v} outputs" for k, v in votes.items()) if votes
         else f"{summary['annotators'] or '?'} (gold label only, no individual labels)"),
        ("license", summary["license"]),
        ("citation", summary["citation"] or "-"),
        ("notes", summary["notes"] or "-"),
        ("content hash", summary["content_hash"]),
    ]
    for key, value in rows:
        facts.add_row(key, value)
    console.print(facts)
    if summary["examples"]:
        shown = Table("id", "gold", "input", "output", title="examples", title_justify="left", show_lines=True)
        for e in summary["examples"]:
            gold = (e["gold"] or "-") + (" (" + ", ".join(f"{k}: {v}" for k, v in e["votes"].items()) + ")"
                                         if e["votes"] else "")
            shown.add_row(e["id"], gold, e["input"] or "-", e["output"])
        shown.columns[0].overflow = "fold"
        console.print(shown)


def _print_summary(summary: dict[str, Any]) -> None:
    if summary.get("kind") == "pointwise":
        _print_scored_summary(summary)
        return
    if summary.get("kind") == "classify":
        _print_labelled_summary(summary)
        return
    console = Console()
    facts = Table(show_header=False, title=summary["id"], title_justify="left")
    labels = summary["labels"]
    generators = summary["generators"]
    n = summary["n"]
    votes = summary["votes_per_item"]
    rows = [
        ("description", summary["description"]),
        ("source", summary["source"]),
        ("examples", str(n)),
        ("gold labels", ", ".join(f"{k}: {v}" for k, v in labels.items() if v or k != "none")),
        ("ties", str(summary["ties"])),
        ("annotators per item", ", ".join(f"{k} votes: {v} items" for k, v in votes.items()) if votes
         else f"{summary['annotators'] or '?'} (gold label only, no individual votes)"),
        ("generators known", f"both: {generators['both_known']}/{n}, one: {generators['one_known']}/{n}"),
        ("license", summary["license"]),
        ("citation", summary["citation"] or "-"),
        ("notes", summary["notes"] or "-"),
        ("content hash", summary["content_hash"]),
    ]
    if summary["generator_counts"]:
        rows.insert(7, ("generator counts", ", ".join(f"{k}: {v}" for k, v in summary["generator_counts"].items())))
    for key, value in rows:
        facts.add_row(key, value)
    console.print(facts)
    if summary["examples"]:
        shown = Table("id", "gold", "instruction", "response_a", "response_b", title="examples",
                      title_justify="left", show_lines=True)
        for e in summary["examples"]:
            gold = e["gold"] or "-"
            if e["votes"]:
                gold += f" (votes {','.join(e['votes'])})"
            shown.add_row(e["id"], gold, e["instruction"], e["response_a"], e["response_b"])
        shown.columns[0].overflow = "fold"
        console.print(shown)
