"""One judge's run beside reference runs on the same items: the default run's leaderboard.

``judgekit run`` with no arguments judges the bundled LLMBar Natural sample
and shows this: the new judge next to LLMBar's recorded judges, each with its
headline figure against the expert labels, a CI, positional agreement, and a
paired test against the new judge on exactly the same items. The rows and
tests are the pairwise kind's (``judgekit.analysis.pairwise.PAIRWISE``), on
the references restricted to the new run's items; the tests are one family:
each raw p comes with its Holm-adjusted p.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from judgekit.agreement import adjust_p_values, proportion_ci
from judgekit.agreement.selective import selective_curve
from judgekit.analysis.kind import Options, match_by_content
from judgekit.analysis.pairwise import PAIRWISE, item_keys, judged_items
from judgekit.analysis.trust import confidences
from judgekit.errors import BadInput
from judgekit.records import RunInMemory, RunRecords


def leaderboard(run: RunRecords | None, references: Sequence[RunRecords], options: Options = Options(), *,
                on: Sequence[str] | None = None) -> dict[str, Any]:
    """Rows for ``run`` and each reference (best headline first), each paired against ``run``.

    Every reference must hold the items ``run`` judged (by content, with the
    same labels); it is scored on those items only, so a ``--limit`` run
    compares fairly. With ``run`` None the references are shown alone, on the
    example ids ``on`` (the default run prints them before its own judge
    starts, on the pairs it is about to judge).
    """
    if run is None:
        first = references[0]
        keep = set(on) if on is not None else {e.id for e in first.examples}
        anchor: RunRecords = RunInMemory(first.path, first.manifest, [e for e in first.examples if e.id in keep],
                                         [v for v in first.verdicts if v.example_id in keep])
    else:
        anchor = run
    items = judged_items(anchor)
    shown = [_restricted(other, anchor) for other in references]
    rows = []
    if run is not None:
        rows.append(_row(run, options, is_new=True))
    for other in shown:
        row = _row(other, options, is_new=False)
        if run is not None:
            pair = PAIRWISE.paired(other, run, (PAIRWISE.row(other, options)["headline"],
                                                PAIRWISE.row(run, options)["headline"]), options)
            row |= {"difference": pair["difference"], "difference_ci": pair["difference_ci"],
                    "p_value": pair["p_value"], "test": pair["test"]}
        rows.append(row)
    paired = [row for row in rows if row["p_value"] is not None]
    for row, holm in zip(paired, adjust_p_values([row["p_value"] for row in paired]).p_holm, strict=True):
        row["p_holm"] = holm
    rows.sort(key=lambda r: -(r["accuracy"] if r["accuracy"] is not None else -1))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    tests = sorted({row["test"].split(" (")[0] for row in rows if row.get("test")})  # the family, not each count
    return {"judge": run.manifest.judge if run is not None else None, "dataset": anchor.manifest.dataset,
            "n": len(items.ids), "test": "; ".join(tests) or "none", "rows": rows,
            "confident_half": confident_half(run) if run is not None else None}


def confident_half(run: RunRecords) -> dict[str, Any] | None:
    """Accuracy on the half of the pairs the judge is most confident about (selective judging, REFERENCES E2).

    The most confident items are kept until at least half are (ties in
    confidence are kept together, so slightly more than half may be); the
    interval is the exact Clopper-Pearson one. None when the verdicts carry
    no confidence (e.g. parsed text verdicts).
    """
    conf = confidences(run)
    if conf.source is None or not conf.ids:
        return None
    curve = selective_curve(conf.confidence, conf.correct)
    half = (len(conf.ids) + 1) // 2
    reach = [i for i, kept in enumerate(curve.kept) if kept >= half]
    if not reach:
        return None
    kept, right = int(curve.kept[reach[0]]), int(curve.right[reach[0]])
    interval = proportion_ci(right, kept, method="beta")
    return {"kept": kept, "n": len(conf.ids), "accuracy": interval.estimate,
            "accuracy_ci": [interval.low, interval.high], "source": conf.source}


def _restricted(other: RunRecords, anchor: RunRecords) -> RunInMemory:
    """``other`` on the examples ``anchor`` judged (matched by content), refused unless the labels agree."""
    items, theirs = judged_items(anchor), judged_items(other)
    mine, matched = match_by_content(item_keys(anchor, items), items.ids, item_keys(other, theirs), theirs.ids)
    if len(mine) < len(items.ids):
        missing = next(item for item in items.ids if item not in set(mine))
        raise BadInput(f"{other.path}: has no verdict for {missing}; cannot pair it with this run")
    gold, label = dict(zip(theirs.ids, theirs.gold, strict=True)), dict(zip(items.ids, items.gold, strict=True))
    if any(gold[theirs_id] != label[mine_id] for mine_id, theirs_id in zip(mine, matched, strict=True)):
        raise BadInput(f"{other.path}: gold labels differ on the same items; not the same dataset")
    keep = set(matched)
    return RunInMemory(other.path, other.manifest, [e for e in other.examples if e.id in keep],
                         [v for v in other.verdicts if v.example_id in keep])


def _row(run: RunRecords, options: Options, *, is_new: bool) -> dict[str, Any]:
    """The run's headline figure, from the pairwise kind's row."""
    scored = PAIRWISE.row(run, options)
    figure = scored["headline"]
    return {
        "run": str(run.path), "judge": run.manifest.judge, "judge_model": run.manifest.judge_model,
        "protocol": run.manifest.protocol, "n": scored["n"], "figure": figure, "new": is_new,
        "accuracy": scored[figure], "accuracy_ci": scored[f"{figure}_ci"],
        "positional_agreement": scored["positional_agreement"], "invalid_rate": scored["invalid_rate"],
        "difference": None, "difference_ci": None, "p_value": None, "p_holm": None, "test": None,
    }
