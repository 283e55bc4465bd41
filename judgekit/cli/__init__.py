"""The ``judgekit`` command: assembles one sub-module per command group."""

from __future__ import annotations

import sys

import click
import typer
from rich.console import Console

from judgekit.errors import JudgekitError

app = typer.Typer(
    name="judgekit",
    help="Meta-evaluate LLM judges against human labels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES = ("datasets", "agreement", "importer", "report", "run", "sweep", "protocols", "export")


def _register_commands() -> None:
    from importlib import import_module

    for name in _COMMAND_MODULES:
        import_module(f"judgekit.cli.{name}").register(app)


_register_commands()


def main() -> None:
    """Console entry point: a JudgekitError becomes one line on stderr and its exit code."""
    try:
        code = app(standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except typer.TyperException as e:  # typer's bundled copy of click raises these usage errors
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except JudgekitError as e:
        Console(stderr=True).print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted", markup=False)
        sys.exit(130)
    if code == 130:  # typer turns Ctrl-C into Exit(130) and, not standalone, returns its code
        Console(stderr=True).print("interrupted", markup=False)
    if isinstance(code, int) and code:
        sys.exit(code)
