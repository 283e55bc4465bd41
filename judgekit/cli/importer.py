"""``judgekit import llmbar``: recorded judge outputs of other projects as run dirs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from judgekit.runs.importers.hanna import LLMS, PROMPTS, import_hanna
from judgekit.runs.importers.llmbar import import_llmbar
from judgekit.runs.importers.pandalm import JUDGES, import_pandalm


def register(app: typer.Typer) -> None:
    """Attach this command group to the main app."""
    group = typer.Typer(help="Turn recorded judge outputs into run dirs that report and compare read.",
                        no_args_is_help=True)
    group.command("llmbar")(llmbar_command)
    group.command("hanna")(hanna_command)
    group.command("pandalm")(pandalm_command)
    group.command("labels")(labels_command)
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


def hanna_command(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to create (must not exist): one run dir per LLM and prompt."),
    path: Optional[Path] = typer.Option(None, "--path", help="hanna_metric_scores_llm.csv, or a folder holding hanna/ (default: JUDGEKIT_DATA_DIR)."),
    llm: Optional[list[str]] = typer.Option(None, "--llm", help=f"Only these judges ({', '.join(LLMS)}); repeatable."),
    prompt: Optional[list[int]] = typer.Option(None, "--prompt", help="Only these prompt variants (1-4); repeatable."),
) -> None:
    """Import HANNA's recorded LLM scores (5 LLMs x 4 prompts, 6 criteria) as pointwise run dirs.

    Example: judgekit import hanna --out runs/hanna && judgekit compare runs/hanna/*
    """
    made = import_hanna(out, path, llms=tuple(llm or LLMS), prompts=tuple(prompt or PROMPTS))
    Console(stderr=True).print(f"imported {len(made)} recorded HANNA judges into {out}", markup=False, highlight=False)


def pandalm_command(
    judge: str = typer.Option(..., "--judge", help=f"The recorded judge: {', '.join(JUDGES)}."),
    out: Path = typer.Option(..., "--out", "-o", help="The run dir to create (must not exist)."),
) -> None:
    """Import one of PandaLM's recorded judges (three human votes per item kept, for the alt-test).

    Example: judgekit import pandalm --judge gpt-3.5-turbo --out runs/pandalm-gpt35
    """
    run = import_pandalm(judge, out)
    invalid = sum(v.winner is None for v in run.verdicts)
    Console(stderr=True).print(
        f"imported {len(run.verdicts)} verdicts ({invalid} invalid) of {run.manifest.judge} · "
        f"{run.manifest.dataset} into {out}",
        markup=False, highlight=False,
    )


def labels_command(
    returned: Path = typer.Argument(..., help="Routed tasks with labels: the JSONL filled in, or a Label Studio JSON export."),
    out: Path = typer.Option(..., "--out", "-o", help="The JSONL dataset to write (must not exist)."),
) -> None:
    """Read human labels returned for routed items back as a dataset (gold = majority of the votes).

    Example: judgekit import labels to_label.jsonl --out labelled.jsonl && judgekit run --dataset labelled.jsonl --mapping id=id
    """
    from judgekit.runs.importers.labels import read_labels, write_dataset

    labels = read_labels(returned)
    write_dataset(labels, out)
    Console(stderr=True).print(f"{len(labels.examples)} labelled items into {out} ({labels.unlabelled} tasks "
                               f"without a label skipped)", markup=False, highlight=False, soft_wrap=True)
