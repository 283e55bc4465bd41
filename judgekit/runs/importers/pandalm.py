"""Import PandaLM's two recorded judges (gpt-3.5-turbo, PandaLM-7B) as judgekit run dirs.

PandaLM (Wang et al., ICLR 2024, arXiv 2306.05087) ships, beside its
3-annotator test set, each judge's verdict on every pair. The ``pandalm``
dataset card joins them into each example's metadata: ``gpt_result`` ("1",
"2", "Tie" or "garbage") and ``pandalm_result`` (1, 2 or 0 for a tie). Each
verdict is a single order (the judges saw response1 first); "garbage" is an
unparseable verdict, kept invalid. The run's examples keep the three human
votes, so the alt-test can ask whether a judge replaces one of the annotators.
"""

from __future__ import annotations

from pathlib import Path

from judgekit.data import Dataset, load_dataset
from judgekit.errors import BadInput
from judgekit.runs.importers.recorded import recorded_manifest, staged, write_run
from judgekit.records import Example, Label, OrderResult, Verdict
from judgekit.runs.run_dir import Run

JUDGES: dict[str, tuple[str, dict[str, Label | None]]] = {
    "gpt-3.5-turbo": ("gpt_result", {"1": "a", "2": "b", "Tie": "tie", "garbage": None}),
    "pandalm-7b": ("pandalm_result", {"1": "a", "2": "b", "0": "tie"}),
}
"""Recorded judge -> (metadata field, recorded value -> canonical winner)."""


def import_pandalm(judge: str, out: str | Path, *, dataset: Dataset | None = None) -> Run:
    """Write the recorded verdicts of ``judge`` on PandaLM into a new run dir ``out``."""
    if judge not in JUDGES:
        raise BadInput(f"--judge: {judge!r} is not a recorded PandaLM judge ({', '.join(JUDGES)})")
    out = Path(out)
    if out.exists():
        raise BadInput(f"{out}: already exists; choose another --out")
    dataset = dataset if dataset is not None else load_dataset("pandalm")
    verdicts = [_verdict(e, judge) for e in dataset.examples]
    manifest = recorded_manifest(
        dataset, n_verdicts=len(verdicts), judge=f"pandalm:{judge}", judge_model=judge, protocol="pandalm/recorded",
        params={"pandalm_judge": judge}, source=dataset.source,
    )
    with staged(out) as staging:
        write_run(staging, manifest, dataset.examples, verdicts)
    return Run(out, manifest, list(dataset.examples), verdicts)


def _verdict(example: Example, judge: str) -> Verdict:
    field, winners = JUDGES[judge]
    if field not in example.metadata:
        raise BadInput(f"pandalm: example {example.id}: field 'metadata.{field}' is missing")
    raw = str(example.metadata[field])
    if raw not in winners:
        raise BadInput(f"pandalm: example {example.id}: field '{field}' is {raw!r}, expected one of "
                       f"{', '.join(winners)}")
    winner = winners[raw]
    order = OrderResult(swapped=False, raw=raw, winner=winner)
    return Verdict(example_id=example.id, winner=winner, orders=(order,),
                   invalid_reason=None if winner is not None else "unparseable")
