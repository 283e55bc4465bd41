"""How a pairwise verdict's presentation orders become its final winner: the ``order_conflict`` rules.

Judges and importers of recorded verdicts share these rules, so a judged
run and an imported one with the same rule give the same final verdicts.
The module needs only the records, so an importer uses it without loading
the strategies.

- ``tie`` (the default): orders that agree give their winner, orders that
  disagree give ``tie`` (an inconsistent judge prefers neither response);
  any unparseable order makes the verdict invalid.
- ``invalid``: as ``tie``, but disagreeing orders make the verdict invalid.
- ``mean``: the sign of the summed votes, a = +1, tie = 0, b = -1, an
  unparseable order abstaining as 0; a zero sum is a tie. A tie in one
  order yields to a decisive other order, opposite verdicts tie. This is the
  vote sum of JudgeBench (Tan et al., ICLR 2025, §4) and Arena-Hard-Auto
  (Li et al. 2024, arXiv 2406.11939). With no valid order at all there is
  nothing to sum: the verdict is invalid.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from judgekit.records import Label, OrderConflict

ORDER_CONFLICTS: tuple[OrderConflict, ...] = ("tie", "invalid", "mean")

_VOTES = {"a": 1, "tie": 0, "b": -1}


class Final(NamedTuple):
    """A verdict's final winner, or None with the machine-readable reason it has none."""

    winner: Label | None
    invalid_reason: str | None


def final_winner(winners: Sequence[Label | None], rule: OrderConflict | None) -> Final:
    """The final winner of per-order ``winners`` (None: unparseable) under ``rule`` (None: ``tie``)."""
    if rule == "mean":
        winner = mean_vote(winners)
        return Final(winner, None) if winner is not None else Final(None, "unparseable")
    if not winners or any(w is None for w in winners):
        return Final(None, "unparseable")
    if len(set(winners)) == 1:
        return Final(winners[0], None)
    return Final("tie", None) if rule in (None, "tie") else Final(None, "order_conflict")


def mean_vote(labels: Iterable[Label | None]) -> Label | None:
    """The sign of the mean preference (a = +1, tie = 0, b = -1) over the valid labels; None when none is valid.

    The sign of the mean over valid labels is the sign of the sum with each invalid label counted 0.
    """
    values = [_VOTES[label] for label in labels if label is not None]
    if not values:
        return None
    total = sum(values)
    return "a" if total > 0 else "b" if total < 0 else "tie"
