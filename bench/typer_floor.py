"""The start-up floor of a typer 0.29 + rich command (bench/README.md, issue 29): a bare app with one group and
one command taking one enum option (typer parses it through pydantic), printing a one-row rich table.

    farm-bench -n 9 --vs ".venv/bin/python bench/typer_floor.py datasets list" -- .venv/bin/judgekit datasets list
    farm-bench -n 9 --vs ".venv/bin/python bench/typer_floor.py --help" -- .venv/bin/judgekit --help
"""

import enum

import typer
from rich.console import Console
from rich.table import Table


class Fmt(str, enum.Enum):
    table = "table"
    json = "json"


app = typer.Typer(add_completion=False, no_args_is_help=True)
group = typer.Typer()


@group.command("list")
def list_command(format: Fmt = typer.Option(Fmt.table, "--format")) -> None:
    """List things."""
    table = Table("id", "size")
    table.add_row("x", "1")
    Console().print(table)


@group.command("show")
def show_command(name: str) -> None:
    """Show a thing."""


app.add_typer(group, name="datasets")

if __name__ == "__main__":
    app()
