"""Can a run's judge be trusted in place of people? Run-level inputs for the trust statistics.

The statistics themselves live in ``judgekit.agreement`` (``alt_test``, and
calibration and selective judging) and take plain tables; this module turns
run dirs into those tables, the way ``report.judged_items`` does for accuracy.

Annotators of a run are the positions of the examples' human ``votes``
(``annotator 1``, ``annotator 2``, ...), which is how the dataset cards map
one column per annotator. When a dataset's vote slots are not the same people
from item to item, the leave-one-annotator-out test treats each slot as one
annotator, an approximation worth stating next to the figures.
"""

from __future__ import annotations

import pandas as pd

from judgekit.agreement.alt_test import AltTest, alt_test
from judgekit.rundir import Run


def annotator_votes(run: Run) -> pd.DataFrame:
    """One row per judged example with votes, one column per vote position (None: no vote)."""
    judged = {v.example_id for v in run.verdicts}
    examples = [e for e in run.examples if e.votes and e.id in judged]
    width = max((len(e.votes) for e in examples), default=0)
    rows = [list(e.votes) + [None] * (width - len(e.votes)) for e in examples]
    columns = [f"annotator {k + 1}" for k in range(width)]
    return pd.DataFrame(rows, index=[e.id for e in examples], columns=columns, dtype=object)


def has_annotators(run: Run) -> bool:
    """True when some judged example carries at least two human votes (the alt-test can run)."""
    judged = {v.example_id for v in run.verdicts}
    return any(len(e.votes) >= 2 and e.id in judged for e in run.examples)


def run_alt_test(
    run: Run, *, epsilon: float = 0.2, q: float = 0.05, min_items: int = 30, name: str | None = None
) -> AltTest:
    """The alt-test of the run's judge (its final winners; invalid ones left out) against the votes."""
    votes = annotator_votes(run)
    winners = {v.example_id: v.winner for v in run.verdicts}
    judge = pd.DataFrame({name or run.path.name: [winners[i] for i in votes.index]}, index=votes.index, dtype=object)
    return alt_test(votes, judge, epsilon=epsilon, q=q, alignment="accuracy", min_items=min_items)
