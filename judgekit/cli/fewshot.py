"""``judgekit fewshot``: few-shot examples for a classify judge, picked from its run on the dev side."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from judgekit.errors import BadInput


class Strategy(str, Enum):
    disagreements = "disagreements"
    stratified = "stratified"


def register(app: typer.Typer) -> None:
    """Attach ``fewshot`` to the main app."""
    app.command("fewshot")(fewshot_command)


def fewshot_command(
    dev_run: Path = typer.Argument(..., help="A classify run on the dev side of a split (judgekit run --split DIR "
                                             "--on dev)."),
    out: Path = typer.Option(..., "--out", "-o", help="The examples file to write (YAML), e.g. examples.yaml."),
    k: int = typer.Option(4, "--k", min=1, help="How many examples."),
    strategy: Strategy = typer.Option(Strategy.disagreements, "--strategy", help="disagreements: where the judge and "
                                      "the humans differ (the default); stratified: any labelled items."),
    seed: int = typer.Option(0, "--seed", help="Seed of the pick within each label."),
    note: str | None = typer.Option("note", "--note", help="The item's metadata field holding the annotator's "
                                                              "note, written beside the label when present."),
    force: bool = typer.Option(False, "--force", help="Let --out replace an existing file."),
) -> None:
    """Pick k labelled examples from a dev run, balanced over labels, in the format a spec's examples: key reads.

    Point a classify spec at the file (examples: examples.yaml); a run on the
    split refuses the spec if any example is an item of the test side.

    Example: judgekit fewshot runs/v1-dev --k 4 --out examples.yaml
    """
    from judgekit.analysis.fewshot import pick_examples, write_examples
    from judgekit.runs.run_dir import read_run

    if out.exists() and not force:
        raise BadInput(f"--out {out}: already exists; pass --force to replace it")
    run = read_run(dev_run)
    if run.manifest.dataset.endswith(":test"):
        raise BadInput(f"{dev_run}: judged the test side of a split ({run.manifest.dataset}); pick few-shot examples "
                       "from a dev-side run")
    picked = pick_examples(run, k, strategy=strategy.value, seed=seed)
    write_examples(picked, out, note_field=note, source=str(dev_run))
    labels = ", ".join(f"{p.item.gold}" for p in picked.picks)
    filled = (f"; {picked.filled} of them judged right (a label had too few disagreements to fill its share)"
              if picked.filled else "")
    Console(stderr=True).print(f"{out}: {len(picked.picks)} examples ({labels}){filled}", highlight=False,
                               soft_wrap=True)
