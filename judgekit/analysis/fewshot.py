"""Few-shot examples for a classify judge, picked from its run on the dev side of a split.

Two ways to pick k labelled outputs, both balanced over the human labels
(one label after another in the label set's order, each label's items in a
seeded random order):

- ``disagreements`` (the default): items where the judge's label differs from
  the human one, invalid verdicts included: the cases the prompt gets wrong,
  shown with the label people gave (as LangSmith-style "corrections" do);
  a label with too few of them is filled up with items it got right, so the
  examples stay balanced;
- ``stratified``: any labelled items.

The file written is a YAML list of ``input``/``output``/``label`` records
(``context`` and the annotator's ``note`` where the item has them): what a
spec's ``examples:`` key reads (``judgekit.judge.spec``). A comment above each
record names the item it came from and the judge's label for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import yaml

from judgekit.errors import BadInput
from judgekit.records import LabelledOutput, RunRecords

STRATEGIES = ("disagreements", "stratified")


class Pick(NamedTuple):
    item: LabelledOutput
    judged: str | None
    """The judge's label on the item in the dev run (None: invalid)."""


class Picks(NamedTuple):
    picks: list[Pick]
    filled: int
    """``disagreements``: how many are items the judge got right, because a label had too few mistakes."""


def pick_examples(run: RunRecords, k: int, *, strategy: str = "disagreements", seed: int = 0) -> Picks:
    """k labelled items of a classify run, balanced over the human labels (see the module docstring)."""
    if run.manifest.kind != "classify":
        raise BadInput(f"{run.path}: a {run.manifest.kind} run; few-shot example files hold labelled outputs "
                       "(input, output, label), which only classify protocols show")
    if strategy not in STRATEGIES:
        raise BadInput(f"--strategy: '{strategy}' is not one of {', '.join(STRATEGIES)}")
    judged = {v.example_id: v.decision for v in run.verdicts}
    labelled = [e for e in run.examples if e.gold is not None and e.id in judged]
    if len(labelled) < k:
        raise BadInput(f"{run.path}: {len(labelled)} judged items with a human label, fewer than --k {k}")
    rng = np.random.default_rng(seed)
    shuffled = [labelled[i] for i in rng.permutation(len(labelled))]
    if strategy == "disagreements":  # within each label, the judge's mistakes first
        shuffled.sort(key=lambda e: judged[e.id] == e.gold)
    pools = {label: [e for e in shuffled if e.gold == label] for label in run.manifest.labels}
    chosen: list[LabelledOutput] = []
    while len(chosen) < k and any(pools.values()):
        for label in run.manifest.labels:
            if pools[label] and len(chosen) < k:
                chosen.append(pools[label].pop(0))
    picks = [Pick(e, judged[e.id]) for e in chosen]
    filled = sum(p.judged == p.item.gold for p in picks) if strategy == "disagreements" else 0
    return Picks(picks, filled)


def write_examples(picks: Picks, out: Path, *, note_field: str | None, source: str) -> None:
    """The picks as a YAML list a spec's ``examples:`` reads, written to a temp file and renamed."""
    if not out.parent.is_dir():
        raise BadInput(f"--out {out}: folder {out.parent} does not exist")
    blocks = [f"# Few-shot examples picked by judgekit fewshot from {source}\n"]
    for pick in picks.picks:
        record = _record(pick.item, note_field)
        judged = pick.judged if pick.judged is not None else "invalid"
        text = yaml.dump([record], Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
        blocks.append(f"# {pick.item.id}: humans {pick.item.gold}, judge {judged}\n{text}")
    staging = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        staging.write_text("".join(blocks), encoding="utf-8")
        os.replace(staging, out)
    finally:
        staging.unlink(missing_ok=True)


def _record(item: LabelledOutput, note_field: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {"input": item.input, "output": item.output, "label": item.gold}
    if item.context is not None:
        record["context"] = item.context
    note = item.metadata.get(note_field) if note_field else None
    if isinstance(note, list):  # e.g. the spans annotators marked
        note = "; ".join(map(str, note))
    if note not in (None, ""):
        record["note"] = str(note)
    return record


class _Dumper(yaml.SafeDumper):
    """Multi-line texts as literal blocks, so the file reads like the items."""


_Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))
