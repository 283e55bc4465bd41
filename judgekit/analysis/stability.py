"""Test-retest figures of a stability dir: how much one judge's verdicts move when it is asked again.

A stability dir (``judgekit.runs.stability``) holds K repeats of one judge
on one set of items. Each repeat's verdict on an item is a category: a
pairwise run's final verdict (``a``, ``b``, ``tie`` or ``invalid``), a
classify run's label (or ``invalid``), a pointwise run's score on each
criterion (or ``invalid``), each criterion apart. Only items judged in every
repeat count.

The *rerun flip rate* is the share of (item, repeat pair) verdicts that
differ: for each item, the share of its K(K-1)/2 repeat pairs whose verdicts
differ, averaged over the items (a pointwise run's units are its
(item, criterion) pairs). It is the chance that asking the judge the same
item twice gives two different verdicts — the noise any other change to the
judge's input (a reworded rubric, a probe) must be set against.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from judgekit.agreement.retest import flip_rate, icc_absolute, item_sd, repeat_agreement
from judgekit.analysis.drift import as_text, restricted
from judgekit.analysis.kind import Options
from judgekit.analysis.kinds import kind_of
from judgekit.records import RunRecords
from judgekit.runs.stability import read_repeats


@dataclass(frozen=True)
class FlipRate:
    """The rerun flip rate (module docstring) with its 95 % percentile bootstrap interval over items."""

    rate: float
    low: float
    high: float
    n: int
    """Units (items; a pointwise run's (item, criterion) pairs) judged in every repeat."""


@dataclass(frozen=True)
class VerdictTable:
    """Each unit's verdict in each repeat, as text, and (pointwise) as scores."""

    ids: list[str]
    verdicts: list[tuple[str, ...]]
    scores: np.ndarray | None = None
    """Pointwise: (units, repeats) scores of the units valid in every repeat, whose ids are ``scored_ids``."""
    scored_ids: list[str] | None = None


def rerun_flip_rate(run_dir: Path) -> FlipRate:
    """The rerun flip rate of the stability dir ``run_dir`` (``judgekit stability ... --out run_dir``).

    The share of (item, repeat pair) verdicts that differ between repeats,
    every item weighing the same (module docstring); ``n`` counts the items
    (pointwise: (item, criterion) pairs) judged in every repeat. The interval
    resamples items (1,000 resamples, seed 0).
    """
    tables = verdict_tables(read_repeats(run_dir))
    verdicts = [row for table in tables.values() for row in table.verdicts]
    interval = _flip_interval(verdicts, Options())
    return FlipRate(rate=interval[0], low=interval[1], high=interval[2], n=len(verdicts))


def verdict_tables(runs: Sequence[RunRecords]) -> dict[str | None, VerdictTable]:
    """Each unit's verdicts across the repeats, per aspect of the kind's ``decisions``: one table (key None),
    or one per criterion of a pointwise run, whose scores also go into ``scores`` as numbers."""
    ids = common_ids(runs)
    kind = kind_of(runs)
    decided = [kind.decisions(run) for run in runs]
    aspects = dict.fromkeys(aspect for found in decided for aspect in found)
    tables = {}
    for aspect in aspects:
        rated = [i for i in ids if all(i in found.get(aspect, {}) for found in decided)]
        values = [[found[aspect][i] for found in decided] for i in rated]
        verdicts = [tuple(as_text(value) for value in row) for row in values]
        if aspect is None or not all(isinstance(v, float) for row in values for v in row if v is not None):
            tables[aspect] = VerdictTable(rated, verdicts)  # labels, not scores
            continue
        valid = [(i, row) for i, row in zip(rated, values, strict=True) if None not in row]
        tables[aspect] = VerdictTable(
            rated, verdicts,
            scores=np.array([row for _, row in valid], dtype=np.float64).reshape(len(valid), len(runs)),
            scored_ids=[i for i, _ in valid])
    return tables


def common_ids(runs: Sequence[RunRecords]) -> list[str]:
    """The items judged in every repeat, in the examples' order."""
    common = set.intersection(*({v.example_id for v in run.verdicts} for run in runs))
    return [e.id for e in runs[0].examples if e.id in common]


def stability_figures(runs: Sequence[RunRecords], options: Options = Options()) -> dict[str, Any]:
    """The JSON of ``judgekit stability``: agreement across repeats, the headline's spread, straddling items."""
    kind = kind_of(runs)
    first = runs[0].manifest
    tables = verdict_tables(runs)
    shared = common_ids(runs)
    rows = [kind.row(restricted(run, shared), options) for run in runs]  # every repeat on the same items
    headline = rows[0]["headline"]
    values = [row[headline] for row in rows]
    cis = [row.get(f"{headline}_ci") for row in rows]
    z = NormalDist().inv_cdf((1 + options.confidence) / 2)
    widths = [(ci[1] - ci[0]) / (2 * z) for ci in cis if ci]
    defined = [v for v in values if v is not None]
    data: dict[str, Any] = {
        "kind": kind.name, "judge": first.judge, "protocol": first.protocol, "dataset": first.dataset,
        "temperature": first.params.get("temperature"), "repeats": len(runs),
        "runs": [str(run.path) for run in runs], "seeds": [run.manifest.params.get("seed") for run in runs],
        "complete": all(run.manifest.complete for run in runs),
        "n": len(shared),
        "headline": headline, "headlines": values,
        "headline_min": min(defined) if defined else None, "headline_max": max(defined) if defined else None,
        "headline_sd": float(np.std(defined, ddof=1)) if len(defined) > 1 else None,
        "headline_ci": cis[0],
        "sampling_se": float(np.mean(widths)) if widths else None,
    }
    if list(tables) == [None]:
        return data | _verdict_figures(tables[None], options)
    criteria = {name: _verdict_figures(table, options) | _score_figures(table) for name, table in tables.items()}
    pooled = [row for table in tables.values() for row in table.verdicts]
    low_high = _flip_interval(pooled, options) if pooled else None
    return data | {"flip_rate": low_high[0] if low_high else None,
                   "flip_rate_ci": list(low_high[1:]) if low_high else None, "criteria": criteria}


def _verdict_figures(table: VerdictTable, options: Options) -> dict[str, Any]:
    """Agreement across repeats of one table's verdicts, the straddling units and each unit's verdicts."""
    empty = {"agreement": None, "changed_rate": None, "fleiss_kappa": None, "flip_rate": None, "flip_rate_ci": None,
             "straddling": [], "items": []}
    if not table.verdicts:
        return empty
    codes, labels = _codes(table.verdicts)
    found = repeat_agreement(codes, len(labels))
    interval = _flip_interval(table.verdicts, options)
    items = [{"id": i, "agreement": float(a), "verdicts": list(v)}
             for i, a, v in zip(table.ids, found.item_agreement, table.verdicts, strict=True)]
    straddling = [{"id": i, "majority": _majority(v), "votes": dict(Counter(v).most_common())}
                  for i, v, changed in zip(table.ids, table.verdicts, found.changed, strict=True) if changed]
    return {"agreement": found.mean_agreement, "changed_rate": found.changed_rate,
            "fleiss_kappa": _number(found.fleiss_kappa), "flip_rate": interval[0], "flip_rate_ci": list(interval[1:]),
            "straddling": straddling, "items": items}


def _majority(verdicts: tuple[str, ...]) -> str | None:
    """The verdict most repeats gave, None when two verdicts share the most."""
    (top, count), *rest = Counter(verdicts).most_common()
    return None if rest and rest[0][1] == count else top


def _score_figures(table: VerdictTable) -> dict[str, Any]:
    """A criterion's scores across repeats: ICC(2,1) and each unit's SD (units valid in every repeat)."""
    scores = table.scores
    if scores is None or len(scores) == 0:
        return {"n_scored": 0, "icc": None, "mean_item_sd": None, "max_item_sd": None}
    sds = item_sd(scores)
    return {"n_scored": len(scores), "icc": _number(icc_absolute(scores)), "mean_item_sd": float(sds.mean()),
            "max_item_sd": float(sds.max()),
            "item_sd": {i: float(sd) for i, sd in zip(table.scored_ids or [], sds, strict=True)}}


def _flip_interval(verdicts: Sequence[tuple[str, ...]], options: Options) -> tuple[float, float, float]:
    codes, labels = _codes(verdicts)
    found = flip_rate(codes, len(labels), confidence=options.confidence, n_resamples=options.n_resamples,
                      seed=options.seed)
    return (float(found.estimate), float(found.low), float(found.high))


def _codes(verdicts: Sequence[tuple[str, ...]]) -> tuple[np.ndarray, list[str]]:
    labels = sorted({v for row in verdicts for v in row})
    index = {label: i for i, label in enumerate(labels)}
    return np.array([[index[v] for v in row] for row in verdicts], dtype=np.int64), labels


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
