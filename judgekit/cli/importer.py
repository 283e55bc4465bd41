"""``judgekit import llmbar``: recorded judge outputs of other projects as run dirs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from judgekit.importers.llmbar import import_llmbar


def register(app: typer.Typer) -> None:
    """Attach this command group to the main app."""
    group = typer.Typer(help="Turn recorded judge outputs into run dirs that report and compare read.",
                        no_args_is_help=True)
    group.command("llmbar")(llmbar_command)
    app.add_typer(group, name="import")


def llmbar_command(
    evaluator_dir: Path = typer.Argument(..., help="A LLMBar <subset>/evaluators/<LLM>/<strategy>/ folder holding result.json."),
    out: Path = typer.Option(..., "--out", "-o", help="The run dir to create (must not exist)."),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="Base model of the judge, e.g. gpt-4 (default: from the LLM folder name)."),
) -> None:
    """Import one recorded LLMBar evaluator run (both presentation orders, LLMBar's invalid policy).

    Example: judgekit import llmbar LLMBar/Dataset/LLMBar/Natural/evaluators/GPT-4/Vanilla --out runs/gpt4-vanilla
    """
    run = import_llmbar(evaluator_dir, out, judge_model=judge_model)
    invalid = sum(v.winner is None for v in run.verdicts)
    Console(stderr=True).print(
        f"imported {len(run.verdicts)} verdicts ({invalid} invalid) of {run.manifest.judge} "
        f"({run.manifest.judge_model}) · {run.manifest.protocol} · {run.manifest.dataset} into {out}",
        markup=False, highlight=False,
    )
