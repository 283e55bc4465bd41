"""Reports and leaderboards over runs of one kind: the kind's rows, ranked, paired and tested.

``report`` is each run's row (``Kind.row``); ``compare`` ranks the complete
runs by one figure, pairs every two of them on the items they share by
content (``Kind.paired``), and adjusts the family of paired p-values (Holm
for the family-wise error, BH for the false discovery rate). The same code
serves every run kind; what differs lives behind ``judgekit.analysis.kind``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from judgekit.agreement.significance import adjust_p_values
from judgekit.analysis.drift import drift_pairs
from judgekit.analysis.kind import Kind, Options
from judgekit.analysis.kinds import kind_of
from judgekit.errors import BadInput
from judgekit.records import RunInMemory, RunRecords, Usage

__all__ = ["ALPHA", "Options", "compare", "grouped_rows", "groups", "report"]

ALPHA = 0.05
"""Level of ``tied_with_best``: Holm-adjusted p against the top row at or above it."""


def report(runs: Sequence[RunRecords], options: Options = Options(), *, by: str | None = None) -> dict[str, Any]:
    """``{"kind": ..., "runs": [row, ...]}`` plus the kind's extras: the JSON of ``judgekit report``.

    With ``by`` (an item field such as ``subset``, or a metadata key), each row also has ``groups``:
    the group's value -> the row of the run on that group's items alone, every figure with its interval.
    """
    kind = kind_of(runs)
    rows = [kind.row(run, options) for run in runs]
    data = {"kind": kind.name, "runs": rows} | kind.extras(runs, rows, options)
    if by is not None:
        data["by"] = by
        for row, groups in zip(rows, grouped_rows(runs, by, options), strict=True):
            row["groups"] = groups
    return data


def grouped_rows(runs: Sequence[RunRecords], by: str, options: Options = Options()) -> list[dict[str, dict[str, Any]]]:
    """For each run, the group's value -> the kind's row of the run restricted to that group's items."""
    kind = kind_of(runs)
    return [{value: kind.row(group, options) for value, group in groups(run, by).items()} for run in runs]


def groups(run: RunRecords, by: str) -> dict[str, RunInMemory]:
    """The run split by the items' value of ``by`` (a record field, else a metadata key), values in sorted order.

    Each part is the run seen on its items only: their verdicts, and a manifest counting them, with
    the usage of those verdicts. An item without the field is in the group ``(none)``.
    """
    if not run.examples:
        return {}
    fields = type(run.examples[0]).model_fields
    if by == "metadata" or (by not in fields and not any(by in e.metadata for e in run.examples)):
        keys = sorted({k for e in run.examples for k in e.metadata})
        shown = ", ".join(f for f in fields if f != "metadata")
        raise BadInput(f"--by: '{by}' is neither a field of {run.path}'s items ({shown}) nor a metadata key "
                       f"({', '.join(keys) or 'none'})")
    members: dict[str, list] = {}
    for example in run.examples:
        value = getattr(example, by) if by in fields else example.metadata.get(by)
        members.setdefault(_group_name(value), []).append(example)
    parts = {}
    for value in sorted(members):
        ids = {e.id for e in members[value]}
        verdicts = [v for v in run.verdicts if v.example_id in ids]
        manifest = run.manifest.model_copy(update={
            "n_examples": len(ids), "n_verdicts": len(verdicts), "usage": sum((v.usage for v in verdicts), Usage())})
        parts[value] = RunInMemory(run.path, manifest, members[value], verdicts)
    return parts


def _group_name(value: Any) -> str:
    """A group's value as a JSON key: text as is, numbers without a spurious ``.0``, nothing as ``(none)``."""
    if value is None or value == "":
        return "(none)"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def compare(runs: Sequence[RunRecords], options: Options = Options(), *, rank_by: str = "headline") -> dict[str, Any]:
    """Leaderboard (best first by ``rank_by``) and paired tests for runs sharing items.

    Each leaderboard row is the report row plus ``rank``, ``ranked_by`` (the
    figure its rank comes from) and ``tied_with_best``. Incomplete runs, and
    runs without the ranked figure, follow the ranked ones with rank None.
    Complete runs are compared pairwise on the items they share by content;
    every p-value is adjusted over that whole family. Two complete runs sharing
    a judge model name also get a ``drift`` entry (``analysis.drift``).
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
    drift = drift_pairs(list(runs), rows, comparisons)
    return {
        "kind": kind.name, "ranked_by": rank_by,
        "ranking": rank_by if rank_by != "headline" else f"each run's headline ({', '.join(figures)})",
        "family": f"all {len(tested)} pairs of complete runs sharing items (Holm: family-wise error; "
                  f"BH: false discovery rate); tied_with_best at Holm-adjusted p >= {ALPHA}",
        "leaderboard": [rows[i] for i in ranked] + [row for i, row in enumerate(rows) if i not in ranked],
        "comparisons": comparisons,
        "unpaired": unpaired,
    } | extras | ({"drift": drift} if drift else {})


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
