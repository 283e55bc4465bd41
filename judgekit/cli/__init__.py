"""The ``judgekit`` command: assembles one sub-module per command group."""

from __future__ import annotations

import logging
import signal
import sys
from functools import cache
from importlib import import_module
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from judgekit.errors import JudgekitError
from judgekit.judge import stop

__all__ = ["COMMANDS", "app", "main"]

COMMANDS = {
    "datasets": "datasets", "agreement": "agreement", "import": "importer", "report": "report", "compare": "report",
    "run": "run", "sweep": "sweep", "protocols": "protocols", "export": "export", "trust": "trust", "route": "trust",
    "plan": "trust", "probe": "probe", "estimate": "estimate", "split": "split", "versions": "versions",
    "fewshot": "fewshot", "verify": "verify", "cache": "cache", "stability": "stability", "drift": "stability",
}
"""Each command by the ``judgekit.cli`` module that registers it (``register(app)``)."""


class _Commands(TyperGroup):
    """Builds only the module of the command being run: typer's building of every command's
    options is a good part of any command's start-up. Help and unknown names build them all."""

    def list_commands(self, ctx: Any) -> list[str]:
        return _built(tuple(dict.fromkeys(COMMANDS.values()))).list_commands(ctx)

    def get_command(self, ctx: Any, name: str) -> Any:
        modules = (COMMANDS[name],) if name in COMMANDS else tuple(dict.fromkeys(COMMANDS.values()))
        return _built(modules).get_command(ctx, name)


@cache
def _built(modules: tuple[str, ...]) -> TyperGroup:
    commands = typer.Typer()
    for name in modules:
        import_module(f"judgekit.cli.{name}").register(commands)
    return typer.main.get_group(commands)


def _no_options() -> None:
    """The top level takes no options of its own: everything is a command."""


app = typer.Typer(
    name="judgekit",
    help="Meta-evaluate LLM judges against human labels.",
    cls=_Commands,
    callback=_no_options,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main() -> None:
    """Console entry point: a JudgekitError becomes one line on stderr and its exit code.

    SIGTERM (``kill``, a container stopping) ends a command the way Ctrl-C
    does: the run stops, flushes its verdicts and an honest manifest, and the
    process exits 143 (128 + SIGTERM) instead of dying mid-write. It does so
    even where Ctrl-C is ignored (``nohup``, a script's background job), and
    in the middle of rendering a prompt (``judgekit.judge.stop``).
    """
    stop.requested.clear()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = _run_app()
    finally:
        signal.signal(signal.SIGTERM, previous)
    terminated = stop.requested.is_set()
    stop.requested.clear()
    if code == 130:
        _stopped(terminated)
    if isinstance(code, int) and code:
        sys.exit(code)


def _on_sigterm(signum: int, frame: Any) -> None:
    """Stop as Ctrl-C does: through SIGINT's handler (asyncio's cancels the run), or by raising
    KeyboardInterrupt where SIGINT is ignored, since then nothing else would stop the process."""
    stop.requested.set()
    interrupt = signal.getsignal(signal.SIGINT)
    if callable(interrupt):
        interrupt(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def _run_app() -> int | None:
    try:
        return app(standalone_mode=False)  # returns the exit code of typer.Exit, 130 for Ctrl-C
    except typer.TyperException as e:  # typer's bundled copy of click raises these usage errors
        e.show()
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        return 130
    except JudgekitError as e:
        Console(stderr=True).print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)


def _stopped(terminated: bool) -> None:
    """Ctrl-C (typer returns 130 for it when not standalone) or SIGTERM: say which, exit 130 or 143.

    A stop can land inside a running task (where Ctrl-C is ignored, SIGTERM raises KeyboardInterrupt
    wherever the event loop is); asyncio would then log that task's "exception never retrieved" with a
    traceback as the process exits. The stop was asked for, so that report is muted: the one line stays.
    """
    logging.getLogger("asyncio").disabled = True
    if terminated:
        Console(stderr=True).print("terminated", markup=False)
        sys.exit(143)
    Console(stderr=True).print("interrupted", markup=False)
    sys.exit(130)
