"""``judgekit protocols list|show``: the judging protocols, what each costs per item, their prompts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from judgekit.cli.options import FORMAT, OutputFormat

if TYPE_CHECKING:
    from judgekit.protocols import Protocol


def register(app: typer.Typer) -> None:
    """Attach this command group to the main app."""
    group = typer.Typer(help="Browse the judging protocols (prompt templates + strategy).", no_args_is_help=True)
    group.command("list")(list_command)
    group.command("show")(show_command)
    app.add_typer(group, name="protocols")


def list_command(
    format: OutputFormat = FORMAT,
) -> None:
    """List the protocols (built in and installed), their strategy and calls per item.

    Example: judgekit protocols list
    """
    from judgekit.protocols import list_protocols, load_protocol

    protocols = [load_protocol(i) for i in list_protocols()]
    if format is OutputFormat.json:
        rows = [{k: describe(p)[k] for k in ("id", "strategy", "calls_per_item", "description")} for p in protocols]
        typer.echo(json.dumps({"protocols": rows}, indent=2))
        return
    table = Table("id", "strategy", "calls per item", "description")
    table.columns[0].no_wrap = table.columns[1].no_wrap = True
    table.columns[2].max_width, table.columns[3].min_width = 16, 30
    for p in protocols:
        table.add_row(p.id, p.strategy, str(p.calls_per_item), p.description)
    Console().print(table)


def show_command(
    protocol: str = typer.Argument(..., help="A built-in id (see 'protocols list') or a path to a .yaml spec."),
    format: OutputFormat = FORMAT,
) -> None:
    """Show everything about one protocol: citation, calls per item, parser, sampling, templates.

    Example: judgekit protocols show llmbar/cot
    """
    from judgekit.protocols import load_protocol

    info = describe(load_protocol(protocol))
    if format is OutputFormat.json:
        typer.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    console = Console()
    table = Table(show_header=False, box=None)
    for key, value in info.items():
        if key != "templates":
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            table.add_row(f"[bold]{key}[/]", shown)
    console.print(table)
    for name, text in info["templates"].items():
        console.rule(f"template: {name}")
        console.print(text, markup=False, highlight=False)


def describe(protocol: Protocol) -> dict[str, Any]:
    """The protocol as plain data, in reading order."""
    params = protocol.params
    return {
        "id": protocol.id,
        "description": protocol.description,
        "citation": protocol.citation,
        "strategy": protocol.strategy,
        "calls_per_item": protocol.calls_per_item,
        "orders": protocol.orders,
        "ties": protocol.ties,
        "order_conflict": protocol.order_conflict,
        "parser": _parser(protocol),
        "params": {"temperature": params.temperature, "max_tokens": params.max_tokens,
                   "top_logprobs": params.top_logprobs, "stop": list(params.stop)},
        "continuation": protocol.continuation,
        "options": protocol.options.model_dump(mode="json", exclude_unset=True),
        "source": protocol.source,
        "content_hash": protocol.content_hash,
        "templates": protocol.templates,
    }


def _parser(protocol: Protocol) -> dict[str, Any]:
    """Parser settings, the scale bounds only where scores are read."""
    parser = protocol.parser.model_dump(exclude_none=True)
    if parser["format"] not in ("rating", "regex"):
        parser.pop("min"), parser.pop("max")
    return parser
