"""Reports and leaderboards over runs of one kind: the kind's rows, ranked, paired and tested.

``report`` is each run's row (``Kind.row``); ``compare`` ranks the complete
runs by one figure, pairs every two of them on the items they share by
content (``Kind.paired``), and adjusts the family of paired p-values (Holm
for the family-wise error, BH for the false discovery rate). The same code
serves every run kind; what differs lives behind ``judgekit.analysis.kind``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

from judgekit.agreement.significance import adjust_p_values
from judgekit.analysis.kind import Kind, Options
from judgekit.analysis.kinds import kind_of
from judgekit.records import RunRecords

__all__ = ["ALPHA", "Options", "compare", "report"]

ALPHA = 0.05
"""Level of ``tied_with_best``: Holm-adjusted p against the top row at or above it."""


def report(runs: Sequence[RunRecords], options: Options = Options()) -> dict[str, Any]:
    """``{"kind": ..., "runs": [row, ...]}`` plus the kind's extras: the JSON of ``judgekit report``."""
    kind = kind_of(runs)
    rows = [kind.row(run, options) for run in runs]
    return {"kind": kind.name, "runs": rows} | kind.extras(runs, rows, options)


def compare(runs: Sequence[RunRecords], options: Options = Options(), *, rank_by: str = "headline") -> dict[str, Any]:
    """Leaderboard (best first by ``rank_by``) and paired tests for runs sharing items.

    Each leaderboard row is the report row plus ``rank``, ``ranked_by`` (the
    figure its rank comes from) and ``tied_with_best``. Incomplete runs, and
    runs without the ranked figure, follow the ranked ones with rank None.
    Complete runs are compared pairwise on the items they share by content;
    every p-value is adjusted over that whole family.
    """
    kind = kind_of(runs)
    rows = [kind.row(run, options) for run in runs]
    for row in rows:
        row |= {"ranked_by": kind.ranked_figure(row, rank_by), "rank": None, "tied_with_best": None}
    extras = kind.extras(runs, rows, options)
    ranked = _ranking(kind, rows)
    for rank, i in enumerate(ranked, start=1):
        rows[i]["rank"] = rank
    comparisons, unpaired = [], []
    for i, j in combinations(ranked, 2):
        pair = kind.paired(runs[i], runs[j], (rows[i]["ranked_by"], rows[j]["ranked_by"]), options)
        if isinstance(pair, str):
            unpaired.append({"run_1": rows[i]["run"], "run_2": rows[j]["run"], "reason": pair})
        elif pair is not None:
            comparisons.append(pair)
    tested = [pair for pair in comparisons if pair["p_value"] is not None]
    adjusted = adjust_p_values([pair["p_value"] for pair in tested])
    for pair, holm, bh in zip(tested, adjusted.p_holm, adjusted.q_bh, strict=True):
        pair |= {"p_holm": holm, "q_bh": bh}
    if ranked:
        _mark_tied_with_best(rows, ranked, comparisons)
    figures = sorted({rows[i]["ranked_by"] for i in ranked}) or [rank_by]
    return {
        "kind": kind.name, "ranked_by": rank_by,
        "ranking": rank_by if rank_by != "headline" else f"each run's headline ({', '.join(figures)})",
        "family": f"all {len(tested)} pairs of complete runs sharing items (Holm: family-wise error; "
                  f"BH: false discovery rate); tied_with_best at Holm-adjusted p >= {ALPHA}",
        "leaderboard": [rows[i] for i in ranked] + [row for i, row in enumerate(rows) if i not in ranked],
        "comparisons": comparisons,
        "unpaired": unpaired,
    } | extras


def _ranking(kind: Kind, rows: list[dict[str, Any]]) -> list[int]:
    """Indices of complete rows with a value of their ranked figure, best first."""
    ranked = [i for i, row in enumerate(rows) if row["complete"] and row.get(row["ranked_by"]) is not None]

    def key(i: int) -> float:
        value = rows[i][rows[i]["ranked_by"]]
        return value if kind.lower_is_better(rows[i]["ranked_by"]) else -value

    return sorted(ranked, key=key)


def _mark_tied_with_best(rows: list[dict[str, Any]], ranked: list[int], comparisons: list[dict[str, Any]]) -> None:
    """Top row: True; another ranked row: True when its Holm-adjusted test against the top does not reject."""
    best = rows[ranked[0]]
    best["tied_with_best"] = True
    against = {}
    for pair in comparisons:
        if best["run"] in (pair["run_1"], pair["run_2"]) and pair["p_holm"] is not None:
            against[pair["run_2"] if pair["run_1"] == best["run"] else pair["run_1"]] = pair["p_holm"]
    for i in ranked[1:]:
        p = against.get(rows[i]["run"])
        rows[i]["tied_with_best"] = None if p is None else bool(p >= ALPHA)
