"""Import PandaLM's two recorded judges (gpt-3.5-turbo, PandaLM-7B) as judgekit run dirs.

PandaLM (Wang et al., ICLR 2024, arXiv 2306.05087) ships, beside its
3-annotator test set, each judge's verdict on every pair in a file of its
own, keyed by ``idx``: gpt-3.5-turbo's ``gpt_result`` ("1", "2", "Tie" or
"garbage") and PandaLM-7B's ``pandalm_result`` (1, 2 or 0 for a tie). Each
verdict is a single order (the judges saw response1 first); "garbage" is an
unparseable verdict, kept invalid. The run's examples keep the three human
votes, so the alt-test can ask whether a judge replaces one of the annotators.

A preset of ``judgekit import verdicts``: the same run comes from
``judgekit import verdicts $JUDGEKIT_DATA_DIR/pandalm/data/gpt-3.5-turbo-testset-v1.json --dataset pandalm
--mapping id=idx,order1=gpt_result,judge_model=gpt-3.5-turbo --labels 1=a,2=b,Tie=tie``.
"""

from __future__ import annotations

from pathlib import Path

from judgekit.data import load_dataset
from judgekit.errors import BadInput
from judgekit.runs.importers.judgments import JudgeColumns
from judgekit.runs.importers.recorded import source_file
from judgekit.runs.importers.table import (
    check_new,
    read_table,
    recorded,
    write_recorded,
)
from judgekit.runs.run_dir import Run

JUDGES: dict[str, tuple[str, str, str]] = {
    "gpt-3.5-turbo": ("gpt-3.5-turbo-testset-v1.json", "gpt_result", "1=a,2=b,Tie=tie"),
    "pandalm-7b": ("pandalm-7b-testset-v1.json", "pandalm_result", "1=a,2=b,0=tie"),
}
"""Recorded judge -> (its file beside the test set, verdict column, recorded value = canonical winner)."""


def import_pandalm(judge: str, out: str | Path) -> Run:
    """Write the recorded verdicts of ``judge`` on PandaLM into a new run dir ``out``."""
    if judge not in JUDGES:
        raise BadInput(f"--judge: {judge!r} is not a recorded PandaLM judge ({', '.join(JUDGES)})")
    check_new(out)
    dataset = load_dataset("pandalm")
    file, column, labels = JUDGES[judge]
    table = read_table(source_file(dataset).parent / file, "pairwise", {"id": "idx"}, labels=labels, dataset=dataset)
    one = recorded(table, JudgeColumns(order1=column, judge_model=judge), judge_name=f"pandalm:{judge}",
                   protocol="pandalm/recorded", params={"pandalm_judge": judge})
    return write_recorded(out, one)
