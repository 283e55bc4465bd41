"""``judgekit import``: recorded judge outputs of other projects as run dirs (any file by mapping, or a preset)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from judgekit.errors import BadInput

if TYPE_CHECKING:
    from judgekit.runs.run_dir import Run


def register(app: typer.Typer) -> None:
    """Attach this command group to the main app."""
    group = typer.Typer(help="Turn recorded judge outputs into run dirs that report and compare read.",
                        no_args_is_help=True)
    group.command("verdicts")(verdicts_command)
    group.command("scores")(scores_command)
    group.command("llmbar")(llmbar_command)
    group.command("hanna")(hanna_command)
    group.command("pandalm")(pandalm_command)
    group.command("labels")(labels_command)
    app.add_typer(group, name="import")


class ImportKind(str, Enum):
    pairwise = "pairwise"
    classify = "classify"
    scored = "scored"


class Order2In(str, Enum):
    display = "display"
    canonical = "canonical"


class OrderConflict(str, Enum):
    tie = "tie"
    invalid = "invalid"
    mean = "mean"


class OutOfScale(str, Enum):
    invalid = "invalid"
    keep = "keep"


_FILE_HELP = "The recorded judgments: .jsonl, .json, .csv or .parquet, one record per item."
_MAPPING_HELP = ("Columns, e.g. \"id=idx,instruction=prompt,response_a=out1,response_b=out2,gold=label,order1=v1,"
                 "order2=v2,judge_model=gpt-4\" (pairs); \"input=q,response=answer,label=gold,judge=verdict\" "
                 "(classify); \"input=doc,system=sys,score.C=h1+h2,judge.C=s1+s2,scale=1-5\" (scored). With "
                 "--dataset: only id=COLUMN (or none: by position) and the judge's columns.")
_LABELS_HELP = ("Raw values of gold labels and verdicts, e.g. \"0=a,1=b,2=tie,A>B=a\" (pairs) or \"yes=fail,no=pass\" "
                "(classify: the label set, in order); an empty or unmapped verdict is invalid, its raw value kept.")
_DATASET_HELP = "Take the items from this dataset (built-in id or card) and only the judge's columns from FILE."
_FORMAT_HELP = "FILE's format when its name does not say: json, jsonl, csv, csv-lists (HANNA's list cells), parquet."
_SCALE_HELP = "A recorded score outside the scale: invalid (left out, reported) or keep (taken as recorded)."
_ORDER2_HELP = ("Pairs: does order2 name the slot as displayed (first shown = response_b) or the original response? "
                "(default: display)")
_CONFLICT_HELP = ("Pairs: combine the two orders into the final verdict by this rule and headline the run by it "
                  "(accuracy_final): tie, invalid or mean (the sign of the summed votes). Default: the orders count "
                  "one by one.")
_HANNA_LLMS_HELP = "Only these judges (Beluga-13B, OrcaPlatypus, Mistral-7B, Llama-13B, ChatGPT); repeatable."
_PANDALM_JUDGE_HELP = "The recorded judge: gpt-3.5-turbo, pandalm-7b."
"""The importers' names, spelled out so that help needs no importer (a test checks they match)."""
_SCORES_MAPPING_HELP = ("Columns: input=COL,response=COL,system=COL,score.C=h1+h2+..,judge.C=COL (or s1+s2+.., "
                        "samples averaged),scale=LO-HI[,id=COL,judge_model=NAME]; with --dataset only id and judge.C.")


def verdicts_command(
    file: Path = typer.Argument(..., help=_FILE_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="The run dir to create (must not exist)."),
    mapping: str = typer.Option(..., "--mapping", help=_MAPPING_HELP),
    labels: str | None = typer.Option(None, "--labels", help=_LABELS_HELP),
    kind: ImportKind = typer.Option(ImportKind.pairwise, "--kind", help="pairwise, classify or scored."),
    dataset: str | None = typer.Option(None, "--dataset", help=_DATASET_HELP),
    format: str | None = typer.Option(None, "--format", help=_FORMAT_HELP),
    order2_in: Order2In | None = typer.Option(None, "--order2-in", help=_ORDER2_HELP),
    order_conflict: OrderConflict | None = typer.Option(None, "--order-conflict", help=_CONFLICT_HELP),
    out_of_scale: OutOfScale | None = typer.Option(None, "--out-of-scale",
                                                   help=f"Scored: {_SCALE_HELP} (default: invalid)"),
) -> None:
    """Import any project's recorded judgments (pairwise verdicts, labels or scores) by a mapping of columns.

    Example: judgekit import verdicts arena.jsonl --out runs/arena --labels "A>B=a,B>A=b,A=B=tie" \\
      --order-conflict mean \\
      --mapping "id=qid,instruction=prompt,response_a=a,response_b=b,gold=human,order1=g1,order2=g2,judge_model=gpt-4"
    """
    from judgekit.runs.importers.table import import_recorded

    if kind is not ImportKind.pairwise and (order2_in or order_conflict):
        option = "--order2-in" if order2_in else "--order-conflict"
        raise BadInput(f"{option}: applies to pairwise verdicts, not --kind {kind.value}")
    if kind is not ImportKind.scored and out_of_scale:
        raise BadInput(f"--out-of-scale: applies to recorded scores (--kind scored), not --kind {kind.value}")
    run = import_recorded(file, out, mapping, kind=kind.value, labels=labels, dataset=dataset, fmt=format,
                          order2_in=(order2_in or Order2In.display).value,
                          order_conflict=order_conflict.value if order_conflict else None,
                          out_of_scale=(out_of_scale or OutOfScale.invalid).value)
    _imported(run, out)


def scores_command(
    file: Path = typer.Argument(..., help=_FILE_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="The run dir to create (must not exist)."),
    mapping: str = typer.Option(..., "--mapping", help=_SCORES_MAPPING_HELP),
    dataset: str | None = typer.Option(None, "--dataset", help=_DATASET_HELP),
    format: str | None = typer.Option(None, "--format", help=_FORMAT_HELP),
    out_of_scale: OutOfScale = typer.Option(OutOfScale.invalid, "--out-of-scale", help=_SCALE_HELP),
) -> None:
    """Import recorded judge scores against human scores (short for: import verdicts --kind scored).

    Example: judgekit import scores scores.csv --out runs/geval \\
      --mapping "input=doc,system=sys,score.coherence=h1+h2+h3,judge.coherence=s1+s2+s3,scale=1-5,judge_model=gpt-4"
    """
    from judgekit.runs.importers.table import import_recorded

    run = import_recorded(file, out, mapping, kind="scored", dataset=dataset, fmt=format,
                          out_of_scale=out_of_scale.value)
    _imported(run, out)


def _imported(run: Run, out: Path) -> None:
    invalid = sum(_invalid(v) for v in run.verdicts)
    Console(stderr=True).print(
        f"imported {len(run.verdicts)} {run.manifest.kind} judgments ({invalid} with an invalid part) of "
        f"{run.manifest.judge} · {run.manifest.dataset} into {out}", markup=False, highlight=False, soft_wrap=True)


def _invalid(verdict: Any) -> bool:
    if hasattr(verdict, "criteria"):
        return any(c.score is None for c in verdict.criteria.values())
    return verdict.decision is None


def llmbar_command(
    evaluator_dir: Path = typer.Argument(...,
                                         help="A LLMBar <subset>/evaluators/<LLM>/<strategy>/ "
                                              "folder holding result.json."),
    out: Path = typer.Option(..., "--out", "-o", help="The run dir to create (must not exist)."),
    judge_model: str | None = typer.Option(None, "--judge-model",
                                           help="Base model of the judge, e.g. gpt-4 "
                                                "(default: from the LLM folder name)."),
) -> None:
    """Import one recorded LLMBar evaluator run (both presentation orders, LLMBar's invalid policy).

    Example: judgekit import llmbar LLMBar/Dataset/LLMBar/Natural/evaluators/GPT-4/Vanilla --out runs/gpt4-vanilla
    """
    from judgekit.runs.importers.llmbar import import_llmbar

    run = import_llmbar(evaluator_dir, out, judge_model=judge_model)
    invalid = sum(v.winner is None for v in run.verdicts)
    Console(stderr=True).print(
        f"imported {len(run.verdicts)} verdicts ({invalid} invalid) of {run.manifest.judge} "
        f"({run.manifest.judge_model}) · {run.manifest.protocol} · {run.manifest.dataset} into {out}",
        markup=False, highlight=False,
    )


def hanna_command(
    out: Path = typer.Option(..., "--out", "-o",
                             help="Folder to create (must not exist): one run dir per LLM and prompt."),
    path: Path | None = typer.Option(None, "--path",
                                     help="hanna_metric_scores_llm.csv, or a folder "
                                          "holding hanna/ (default: JUDGEKIT_DATA_DIR)."),
    llm: list[str] | None = typer.Option(None, "--llm", help=_HANNA_LLMS_HELP),
    prompt: list[int] | None = typer.Option(None, "--prompt", help="Only these prompt variants (1-4); repeatable."),
) -> None:
    """Import HANNA's recorded LLM scores (5 LLMs x 4 prompts, 6 criteria) as pointwise run dirs.

    Example: judgekit import hanna --out runs/hanna && judgekit compare runs/hanna/*
    """
    from judgekit.runs.importers.hanna import LLMS, PROMPTS, import_hanna

    made = import_hanna(out, path, llms=tuple(llm or LLMS), prompts=tuple(prompt or PROMPTS))
    Console(stderr=True).print(f"imported {len(made)} recorded HANNA judges into {out}", markup=False, highlight=False)


def pandalm_command(
    judge: str = typer.Option(..., "--judge", help=_PANDALM_JUDGE_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="The run dir to create (must not exist)."),
) -> None:
    """Import one of PandaLM's recorded judges (three human votes per item kept, for the alt-test).

    Example: judgekit import pandalm --judge gpt-3.5-turbo --out runs/pandalm-gpt35
    """
    from judgekit.runs.importers.pandalm import import_pandalm

    run = import_pandalm(judge, out)
    invalid = sum(v.winner is None for v in run.verdicts)
    Console(stderr=True).print(
        f"imported {len(run.verdicts)} verdicts ({invalid} invalid) of {run.manifest.judge} · "
        f"{run.manifest.dataset} into {out}",
        markup=False, highlight=False,
    )


def labels_command(
    returned: Path = typer.Argument(...,
                                    help="Routed tasks with labels: the JSONL filled in, or a Label Studio JSON "
                                         "export."),
    out: Path = typer.Option(..., "--out", "-o", help="The JSONL dataset to write (must not exist)."),
) -> None:
    """Read human labels returned for routed items back as a dataset (gold = majority of the votes).

    Example: judgekit import labels to_label.jsonl --out labelled.jsonl && \\
      judgekit run --dataset labelled.jsonl --mapping id=id
    """
    from judgekit.runs.importers.labels import read_labels, write_dataset

    labels = read_labels(returned)
    write_dataset(labels, out)
    Console(stderr=True).print(f"{len(labels.examples)} labelled items into {out} ({labels.unlabelled} tasks "
                               f"without a label skipped)", markup=False, highlight=False, soft_wrap=True)
