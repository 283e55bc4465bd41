"""Drift: two runs of "the same" judge on the same items (another date, provider version, quantisation, server).

Items pair up by content as ``compare`` pairs them (the run kind's
``content_key``, matched by ``kind.match_by_content``). A run's verdict on an item is a pairwise run's
final verdict (``a``, ``b``, ``tie``, ``invalid``), a classify run's label
(or ``invalid``), a pointwise run's score on each criterion (or ``invalid``),
each criterion apart; ``by_order`` adds each presentation order's verdict of
a pairwise run. The figures: how many items changed, the transition table
(A's verdict -> B's -> count), Cohen's kappa between the runs, and the
headline figure of each run on the paired items with the run kind's own
paired test (``Kind.paired``, as ``compare`` tests two runs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from judgekit.agreement.pairwise import kappa_from_table
from judgekit.analysis.kind import Kind, Options, content_keys, match_by_content
from judgekit.analysis.kinds import kind_of
from judgekit.errors import BadInput
from judgekit.records import RunInMemory, RunRecords, Usage

INVALID = "invalid"


def drift_figures(run_a: RunRecords, run_b: RunRecords, *, by_order: bool = False,
                  options: Options = Options()) -> dict[str, Any]:
    """The JSON of ``judgekit drift``: ``n``, ``changed``, ``changed_rate``, ``transitions``, ``cohen_kappa``,
    ``p_value``, ``headline_a``, ``headline_b``, ``items`` (pointwise: per criterion under ``criteria``)."""
    kind = kind_of([run_a, run_b])
    data, part_a, part_b = verdict_drift(run_a, run_b)
    data |= headline_test(kind, part_a, part_b, options)
    orders_a, orders_b = (kind.decisions(part, by_order=True) if by_order else {} for part in (part_a, part_b))
    if orders_a:
        ids_a, ids_b = [e.id for e in part_a.examples], [e.id for e in part_b.examples]
        data["by_order"] = {order: transitions(*_both_decided(orders_a[order], orders_b[order], ids_a, ids_b))
                            for order in orders_a}
    return data


def verdict_drift(run_a: RunRecords, run_b: RunRecords) -> tuple[dict[str, Any], RunRecords, RunRecords]:
    """The verdicts' drift (no headline): changed items, transitions, kappa; and both runs on the paired items."""
    kind = kind_of([run_a, run_b])
    ids_a, ids_b = paired_ids(run_a, run_b)
    if not ids_a:
        raise BadInput(f"{run_a.path}, {run_b.path}: no item judged by both with the same content")
    part_a, part_b = restricted(run_a, ids_a), restricted(run_b, ids_b)
    data: dict[str, Any] = {"run_a": str(run_a.path), "run_b": str(run_b.path), "kind": kind.name,
                            "judge_a": run_a.manifest.judge, "judge_b": run_b.manifest.judge}
    aspects = _aligned(kind.decisions(part_a), kind.decisions(part_b), ids_a, ids_b)
    if list(aspects) == [None]:
        data |= transitions(*aspects[None], ids_a)
    else:  # one aspect per criterion
        by_criterion = {name: transitions(*pair, ids_a) for name, pair in aspects.items()}
        changed = sorted({i for part in by_criterion.values() for i in part["items"]}, key=ids_a.index)
        data |= {"n": len(ids_a), "changed": len(changed), "changed_rate": len(changed) / len(ids_a),
                 "items": changed, "criteria": by_criterion}
    return data, part_a, part_b


def transitions(verdicts_a: list[str], verdicts_b: list[str], ids: list[str]) -> dict[str, Any]:
    """Changed items, the transition table and Cohen's kappa of two aligned verdict lists."""
    table: dict[str, dict[str, int]] = {}
    for a, b in zip(verdicts_a, verdicts_b, strict=True):
        table.setdefault(a, {}).setdefault(b, 0)
        table[a][b] += 1
    changed = [i for i, a, b in zip(ids, verdicts_a, verdicts_b, strict=True) if a != b]
    labels = sorted(set(verdicts_a) | set(verdicts_b))
    counts = np.array([[table.get(a, {}).get(b, 0) for b in labels] for a in labels], dtype=np.float64)
    kappa = float(kappa_from_table(counts.ravel())) if labels else float("nan")
    n = len(ids)
    return {"n": n, "changed": len(changed), "changed_rate": len(changed) / n if n else None,
            "transitions": {a: dict(sorted(row.items())) for a, row in sorted(table.items())},
            "cohen_kappa": None if np.isnan(kappa) else kappa, "items": changed}


def headline_test(kind: Any, part_a: RunRecords, part_b: RunRecords, options: Options) -> dict[str, Any]:
    """Each run's headline on the paired items and the kind's paired test of their difference."""
    row_a, row_b = kind.row(part_a, options), kind.row(part_b, options)
    figures = (row_a["headline"], row_b["headline"])
    paired = kind.paired(part_a, part_b, figures, options)
    tested = isinstance(paired, dict)
    return {"headline": figures[0] if figures[0] == figures[1] else f"{figures[0]} vs {figures[1]}",
            "headline_a": row_a.get(figures[0]), "headline_b": row_b.get(figures[1]),
            "p_value": paired["p_value"] if tested else None, "test": paired["test"] if tested else None,
            "difference": paired["difference"] if tested else None,
            "difference_ci": paired["difference_ci"] if tested else None}


def paired_ids(run_a: RunRecords, run_b: RunRecords) -> tuple[list[str], list[str]]:
    """The ids of the items both runs judged, paired by content, in run A's order."""
    kind = kind_of([run_a, run_b])
    (ids_a, keys_a), (ids_b, keys_b) = _judged_content(run_a, kind), _judged_content(run_b, kind)
    return match_by_content(keys_a, ids_a, keys_b, ids_b)


def _judged_content(run: RunRecords, kind: Kind) -> tuple[list[str], list[str]]:
    """The ids of the items the run judged, in the examples' order, and their content keys."""
    judged = {v.example_id for v in run.verdicts}
    keys = content_keys(run, kind.content_key)
    ids = [e.id for e in run.examples if e.id in judged]
    return ids, [keys[i] for i in ids]


def restricted(run: RunRecords, ids: list[str]) -> RunRecords:
    """The run seen on these items only, in this order (the run itself when that is all of it, so the
    figures analysis remembers per run are not computed again)."""
    if ids == [v.example_id for v in run.verdicts] == [e.id for e in run.examples]:
        return run
    examples = {e.id: e for e in run.examples}
    verdicts = {v.example_id: v for v in run.verdicts}
    kept = [verdicts[i] for i in ids]
    manifest = run.manifest.model_copy(update={"n_examples": len(ids), "n_verdicts": len(ids),
                                               "usage": sum((v.usage for v in kept), Usage())})
    return RunInMemory(run.path, manifest, [examples[i] for i in ids], kept)


def as_text(decision: Any) -> str:
    """A decision as drift and stability tabulate it: the label, the score (``4``, ``3.5``) or ``invalid``."""
    if decision is None:
        return INVALID
    return f"{decision:g}" if isinstance(decision, float) else str(decision)


def _aligned(decided_a: dict[str | None, dict[str, Any]], decided_b: dict[str | None, dict[str, Any]],
             ids_a: list[str], ids_b: list[str]) -> dict[str | None, tuple[list[str], list[str]]]:
    """Per aspect both runs decided on every paired item: each run's decisions as text, in pair order."""
    return {aspect: ([as_text(found[i]) for i in ids_a], [as_text(decided_b[aspect][j]) for j in ids_b])
            for aspect, found in decided_a.items()
            if aspect in decided_b and all(i in found for i in ids_a) and all(j in decided_b[aspect] for j in ids_b)}


def _both_decided(found_a: dict[str, Any], found_b: dict[str, Any], ids_a: list[str],
                  ids_b: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Both runs' decisions on the paired items both decided (one presentation order), and run A's ids."""
    kept = [(i, j) for i, j in zip(ids_a, ids_b, strict=True) if i in found_a and j in found_b]
    return [as_text(found_a[i]) for i, _ in kept], [as_text(found_b[j]) for _, j in kept], [i for i, _ in kept]


def drift_pairs(runs: list[RunRecords], rows: list[dict[str, Any]],
                comparisons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``compare``'s drift section: every two complete runs sharing a judge model name.

    The verdicts' drift is computed here; each run's headline is its leaderboard row's and the p-value
    its comparison's (on the items both judged), so nothing ``compare`` computed is computed again.
    """
    tested = {frozenset((pair["run_1"], pair["run_2"])): pair for pair in comparisons}
    found = []
    for i, run_a in enumerate(runs):
        for j in range(i + 1, len(runs)):
            run_b, model = runs[j], run_a.manifest.judge_model
            if model is None or model != run_b.manifest.judge_model:
                continue
            if not (run_a.manifest.complete and run_b.manifest.complete) or not paired_ids(run_a, run_b)[0]:
                continue
            data = {k: v for k, v in verdict_drift(run_a, run_b)[0].items() if k != "criteria"}
            pair = tested.get(frozenset((str(run_a.path), str(run_b.path))))
            found.append({"judge_model": model} | data | {
                "headline_a": rows[i].get(rows[i]["ranked_by"]), "headline_b": rows[j].get(rows[j]["ranked_by"]),
                "p_value": pair["p_value"] if pair else None, "test": pair["test"] if pair else None})
    return found
