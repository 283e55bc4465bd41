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
from typer.core import TyperCommand, TyperGroup

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

SUMMARIES = {
    "agreement": "Fleiss' kappa (items every rater labelled), Krippendorff's alpha (all items),\n"
                 "pairwise Cohen's kappa, each rater against gold, and optionally the alt-test.",
    "report": "The headline figure first, then accuracies (with CIs), agreement, invalid and tie rates, kappa, "
              "biases, cost.",
    "compare": "Leaderboard with CIs and biases; paired tests on shared examples with Holm and BH adjustments.",
    "run": "Run a judge over a meta-dataset, write a run dir, print a summary.",
    "sweep": "Run every judge x protocol x dataset cell (resuming finished work), then compare them.",
    "export": "One row per (example, presentation order): ids, gold, winners, raw text, margins, scores, usage.",
    "trust": "The alt-test (runs over several annotators per item), calibration and selective judging.",
    "route": "Write the items people should label (JSONL + Label Studio task JSON).",
    "probe": "Judge perturbed copies of each pair and report flip rates and accuracy changes per probe.",
    "estimate": "Prediction-powered inference: unbiased estimates with valid intervals from a judge plus human "
                "labels.",
    "split": "Split a labelled set into dev and test once, keeping clusters whole and label shares equal.",
    "versions": "Each judge version's dev and test figures, cost and tokens per 1,000 items, and paired tests on "
                "test.",
    "fewshot": "Pick k labelled examples from a dev run, balanced over labels, in the format a spec's examples: "
               "key reads.",
    "stability": "Judge a run's items K more times with the same judge and protocol; report how much the verdicts "
                 "move.",
    "drift": 'How two runs of "the same" judge on the same items differ: changed items, transitions, κ, paired test.',
    "datasets": "Browse the human-labelled meta-datasets judges are scored on.",
    "import": "Turn recorded judge outputs into run dirs that report and compare read.",
    "protocols": "Browse the judging protocols (prompt templates + strategy).",
    "plan": "How many items must people label? Power tables over sample sizes, seeded.",
    "verify": "Check model responses with a program (IFEval's instruction checkers).",
    "cache": "See or empty the response cache every run shares (JUDGEKIT_CACHE_DIR).",
}
"""Each command's line in ``judgekit --help``, in its order there: listing them from here spares
building every command (about a quarter of the help's start-up). A test checks them against the commands."""
_LISTING = "judgekit.listing"


class _Commands(TyperGroup):
    """Builds only the module of the command being run: typer's building of every command's
    options is a good part of any command's start-up. The top-level help lists :data:`SUMMARIES`
    (every command, if none is missing there); other help and unknown names build them all."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        ctx.meta[_LISTING] = SUMMARIES.keys() == COMMANDS.keys()
        super().format_help(ctx, formatter)

    def list_commands(self, ctx: Any) -> list[str]:
        if ctx.meta.get(_LISTING):
            return list(SUMMARIES)
        return _built(tuple(dict.fromkeys(COMMANDS.values()))).list_commands(ctx)

    def get_command(self, ctx: Any, name: str) -> Any:
        if ctx.meta.get(_LISTING) and name in SUMMARIES:
            return TyperCommand(name, help=SUMMARIES[name])
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
