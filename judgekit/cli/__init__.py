"""The ``judgekit`` command: assembles one sub-module per command group."""

from __future__ import annotations

import signal
import sys
from typing import Any

import typer
from rich.console import Console

from judgekit.errors import JudgekitError
from judgekit.judge import stop

app = typer.Typer(
    name="judgekit",
    help="Meta-evaluate LLM judges against human labels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES = ("datasets", "agreement", "importer", "report", "run", "sweep", "protocols", "export", "trust",
                    "probe", "estimate", "split", "versions", "fewshot", "verify")


def _register_commands() -> None:
    from importlib import import_module

    for name in _COMMAND_MODULES:
        import_module(f"judgekit.cli.{name}").register(app)


_register_commands()


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
    """Ctrl-C (typer returns 130 for it when not standalone) or SIGTERM: say which, exit 130 or 143."""
    if terminated:
        Console(stderr=True).print("terminated", markup=False)
        sys.exit(143)
    Console(stderr=True).print("interrupted", markup=False)
    sys.exit(130)
