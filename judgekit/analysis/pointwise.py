"""The pointwise run kind: a judge's scores per criterion against human scores.

Data flow: a pointwise run -> ``criterion_items`` (aligned judge scores,
human scores, inputs, systems) -> ``judgekit.agreement.scores`` -> one row:
the common fields, every figure per criterion with its interval, and the
same figures at the top level over the rank scope (``Options.criterion``, or
the mean over criteria). ``POINTWISE`` is this kind's implementation of
``judgekit.analysis.kind.Kind``.

Two judges rated on the same responses (paired by content) are compared on
one figure: the difference gets a paired clustered bootstrap interval (both
runs' figures from the same resamples of inputs) and a permutation p-value
that swaps the two judges' scores input by input (``swap_test``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from judgekit.agreement.scores import FIGURES, Counts, ScoreAgreement, score_statistics
from judgekit.agreement.significance import swap_test
from judgekit.agreement.uncertainty import Statistic, bootstrap_cis
from judgekit.analysis.kind import (
    Options,
    bounds,
    common_fields,
    content_keys,
    estimate,
    match_by_content,
    remembered,
)
from judgekit.errors import BadInput
from judgekit.records import HEADLINES, Rating, RunRecords, ScoredExample

CI_METHOD = "cluster bootstrap (percentile) over inputs"
TABLE_FIGURES = ("item_pearson", "item_spearman", "item_kendall", "system_pearson", "system_spearman",
                 "system_kendall", "mae", "alpha_interval_with_judge")
"""The columns of the correlation table (every figure is in the JSON)."""


@dataclass(frozen=True)
class CriterionItems:
    """One criterion of a pointwise run as aligned lists (what ``score_statistics`` takes)."""

    ids: list[str]
    judge: list[float | None]
    humans: list[tuple[float, ...]]
    inputs: list[str]
    systems: list[str | None]


def criteria_of(run: RunRecords) -> list[str]:
    """The criteria the judge rated and humans scored, in the examples' order."""
    rated = {c for v in run.verdicts for c in v.criteria}
    return [c for c in dict.fromkeys(c for e in run.examples for c in e.criteria) if c in rated]


def criterion_items(run: RunRecords, criterion: str, keep: Sequence[str] | None = None) -> CriterionItems:
    """Responses with human scores on ``criterion`` and a rating (its score None when invalid).

    ``keep``: only these example ids, in this order (a pairing by content).
    """
    ratings: dict[str, Rating] = {v.example_id: v for v in run.verdicts}
    examples = {e.id: e for e in run.examples}
    chosen = [examples[i] for i in keep] if keep is not None else run.examples
    rows = [(e, ratings[e.id].criteria.get(criterion)) for e in chosen
            if e.id in ratings and criterion in e.criteria and e.criteria[criterion].scores]
    return CriterionItems(
        ids=[e.id for e, _ in rows],
        judge=[r.score if r is not None else None for _, r in rows],
        humans=[e.criteria[criterion].scores for e, _ in rows],
        inputs=[e.input_id for e, _ in rows],
        systems=[e.system for e, _ in rows],
    )


@dataclass(frozen=True)
class CriterionStatistics:
    """One criterion of a run: its items, counts and every figure as a per-input Statistic."""

    items: CriterionItems
    counts: Counts
    statistics: dict[str, Statistic]


def run_statistics(run: RunRecords, keep: Sequence[str] | None = None) -> dict[str, CriterionStatistics]:
    """Every rated criterion's statistics (on ``keep`` only, when given).

    Remembered on all the rated responses: ``compare`` asks again for each pair a run is in, and pairs
    of runs on one dataset keep every response (20 HANNA runs: 4 row calls and 380 pair calls became
    20). Statistics on fewer responses are one pair's, asked once.
    """
    if keep is not None:
        rated = {v.example_id for v in run.verdicts}
        if list(keep) != [e.id for e in run.examples if e.id in rated]:
            return _run_statistics(run, tuple(keep))
    return remembered(run, ("statistics",), lambda: _run_statistics(run, None))


def _run_statistics(run: RunRecords, keep: Sequence[str] | None) -> dict[str, CriterionStatistics]:
    out = {}
    for criterion in criteria_of(run):
        items = criterion_items(run, criterion, keep)
        if items.ids:
            counts, statistics = score_statistics(items.judge, items.humans, items.inputs, items.systems)
            out[criterion] = CriterionStatistics(items, counts, statistics)
    return out


class Pointwise:
    """The pointwise kind of ``judgekit.analysis.kind.Kind``."""

    name = "pointwise"
    summary_figures = TABLE_FIGURES

    def content_key(self, item: ScoredExample) -> str:
        return content_key(item)

    def decisions(self, run: RunRecords, *, by_order: bool = False) -> dict[str | None, dict[str, Any]]:
        if by_order:
            return {}
        found: dict[str | None, dict[str, Any]] = {}
        for rating in run.verdicts:
            for name, criterion in rating.criteria.items():
                found.setdefault(name, {})[rating.example_id] = criterion.score
        return found

    def row(self, run: RunRecords, options: Options) -> dict[str, Any]:
        """Common fields; every figure over the rank scope at the top level; ``criteria``: each criterion's."""
        statistics = run_statistics(run)
        if options.criterion is not None and statistics and options.criterion not in statistics:
            raise BadInput(f"--criterion: {options.criterion!r} is not rated in {run.path} "
                           f"(rated: {', '.join(statistics)})")
        criteria: dict[str, Any] = {}
        for criterion, found in statistics.items():
            figures = bootstrap_cis(found.statistics, confidence=options.confidence,
                                    n_resamples=options.n_resamples, seed=options.seed)
            criteria[criterion] = _criterion_figures(ScoreAgreement(*found.counts, figures=figures))
        invalid = sum(c["n_invalid"] for c in criteria.values())
        rated = sum(c["n"] for c in criteria.values())
        row = common_fields(run) | {
            "n": len({i for found in statistics.values() for i in found.items.ids}),
            "n_clusters": max((c["n_inputs"] for c in criteria.values()), default=0),
            "ci_method": CI_METHOD, "headline": run.manifest.headline or HEADLINES["pointwise"],
            "invalid_rate": invalid / rated if rated else None, "invalid_policy": "exclude",
            "scope": options.criterion or "mean over criteria",
        }
        scoped = _scoped(run, statistics, options.criterion)
        overall = bootstrap_cis(scoped, confidence=options.confidence, n_resamples=options.n_resamples,
                                seed=options.seed) if scoped else {}
        for name in FIGURES:
            row[name] = estimate(overall.get(name))
            row[f"{name}_ci"] = bounds(overall.get(name))
        return row | {"criteria": criteria}

    def ranked_figure(self, row: dict[str, Any], rank_by: str) -> str:
        if rank_by == "headline":
            return row["headline"]
        if rank_by not in FIGURES:
            raise BadInput(f"--rank-by: {rank_by!r} is not one of headline, {', '.join(FIGURES)} for pointwise runs")
        return rank_by

    def lower_is_better(self, figure: str) -> bool:
        return figure == "mae"

    def paired(self, run_1: RunRecords, run_2: RunRecords, figures: tuple[str, str],
               options: Options) -> dict[str, Any] | str | None:
        """Figure(run_1) - figure(run_2) on the responses both rated, paired by content."""
        if figures[0] != figures[1]:
            return f"ranked by different figures ({figures[0]} vs {figures[1]})"
        keep_1, keep_2 = _shared(run_1, run_2)
        if not keep_1:
            common = len({e.id for e in run_1.examples} & {e.id for e in run_2.examples})
            return (f"different datasets: {common} example ids in common but no response with the same text "
                    "and human scores" if common else None)
        scoped_1 = _scoped(run_1, run_statistics(run_1, keep_1), options.criterion)
        scoped_2 = _scoped(run_2, run_statistics(run_2, keep_2), options.criterion)
        figure = figures[0]
        if figure not in scoped_1 or figure not in scoped_2:
            return None
        a, b = scoped_1[figure], scoped_2[figure]
        if a.terms.shape != b.terms.shape:
            return "the shared responses cover different inputs per criterion"
        k = a.terms.shape[1]
        difference = Statistic(np.hstack([a.terms, b.terms]), lambda s: a.fn(s[..., :k]) - b.fn(s[..., k:]))
        interval = bootstrap_cis({"d": difference}, confidence=options.confidence, n_resamples=options.n_resamples,
                                 seed=options.seed)["d"]
        p, test = swap_test(a, b, seed=options.seed)
        return {"run_1": str(run_1.path), "run_2": str(run_2.path), "n": len(keep_1), "n_clusters": len(a.terms),
                "figure": figure, "test": test, "p_value": None if np.isnan(p) else p, "p_holm": None,
                "q_bh": None, "difference": estimate(interval), "difference_ci": bounds(interval),
                "ci_method": CI_METHOD, "items_1_better": None, "items_2_better": None,
                "criterion": options.criterion or "mean over criteria"}

    def extras(self, runs: Sequence[RunRecords], rows: list[dict[str, Any]], options: Options) -> dict[str, Any]:
        """``table``: one row per (run, criterion) with every figure."""
        table = [{"run": row["run"], "judge": row["judge"], "protocol": row["protocol"], "criterion": name,
                  **{f: figures[f] for f in FIGURES}, **{f"{f}_ci": figures[f"{f}_ci"] for f in FIGURES},
                  "n": figures["n"], "n_invalid": figures["n_invalid"]}
                 for row in rows for name, figures in row["criteria"].items()]
        return {"table": table}


    def plan_cells(self, run_1: RunRecords, run_2: RunRecords) -> tuple[Any, int]:
        raise BadInput(f"{run_1.path}: plan paired sizes a difference in agreement of labels; pointwise runs rate "
                       "on a scale (compare gives their paired differences)")

    def page(self, run: RunRecords, options: Options) -> dict[str, Any]:
        """Per criterion, each response's human mean and judge score (None when invalid), and the scale."""
        points = {}
        for criterion in criteria_of(run):
            items = criterion_items(run, criterion)
            example = next(e for e in run.examples if criterion in e.criteria)
            scale = example.criteria[criterion]
            points[criterion] = {"human": [float(np.mean(h)) for h in items.humans], "judge": items.judge,
                                 "low": scale.low, "high": scale.high}
        return {"points": points}


POINTWISE = Pointwise()


def _criterion_figures(result: ScoreAgreement) -> dict[str, Any]:
    out: dict[str, Any] = {"n": result.n, "n_invalid": result.n_invalid, "n_inputs": result.n_inputs,
                           "n_systems": result.n_systems}
    for name in FIGURES:
        out[name] = estimate(result.figures[name])
        out[f"{name}_ci"] = bounds(result.figures[name])
    return out


def _scoped(run: RunRecords, statistics: dict[str, CriterionStatistics],
            criterion: str | None) -> dict[str, Statistic]:
    """Every figure as one Statistic over the run's inputs: on ``criterion``, or the mean over criteria.

    Criteria over different inputs cannot share resamples; a mean over them is refused.
    """
    names = [criterion] if criterion else list(statistics)
    parts = [statistics[name] for name in names if name in statistics]
    if not parts:
        return {}
    inputs = list(dict.fromkeys(parts[0].items.inputs))
    for name, part in zip(names, parts):
        if list(dict.fromkeys(part.items.inputs)) != inputs:
            raise BadInput(f"{run.path}: criterion '{name}' covers other inputs than the others; rank by --criterion")
    return {figure: _mean_of([part.statistics[figure] for part in parts]) for figure in FIGURES}


def _mean_of(parts: list[Statistic]) -> Statistic:
    if len(parts) == 1:
        return parts[0]
    widths = [p.terms.shape[1] for p in parts]
    edges = np.cumsum([0, *widths])

    def fn(s: np.ndarray) -> np.ndarray:
        values = np.stack([p.fn(s[..., a:b]) for p, a, b in zip(parts, edges[:-1], edges[1:], strict=True)])
        with np.errstate(invalid="ignore"):
            return np.where(np.all(np.isfinite(values), axis=0), values.mean(axis=0), np.nan)

    return Statistic(np.hstack([p.terms for p in parts]), fn)


def _shared(run_1: RunRecords, run_2: RunRecords) -> tuple[list[str], list[str]]:
    """Ids of the responses both runs rated with the same text and human scores, aligned, in run_1's order."""
    rated_1 = {v.example_id for v in run_1.verdicts}
    rated_2 = {v.example_id for v in run_2.verdicts}
    one = [e for e in run_1.examples if e.id in rated_1]
    two = [e for e in run_2.examples if e.id in rated_2]
    keys_1, keys_2 = content_keys(run_1, content_key), content_keys(run_2, content_key)
    return match_by_content([keys_1[e.id] for e in one], [e.id for e in one], [keys_2[e.id] for e in two],
                            [e.id for e in two])


def content_key(example: ScoredExample) -> str:
    """What makes two scored responses the same: input, texts, system and human scores (not the id)."""
    data = example.model_dump(mode="json", include={"input_id", "instruction", "response", "system", "criteria"})
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
