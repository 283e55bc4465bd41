"""Reports over pointwise run dirs: each judge's correlation table per criterion, and a ranking.

Data flow: a pointwise run dir -> ``criterion_items`` (aligned judge scores,
human scores, inputs, systems) -> ``judgekit.agreement.scores`` -> plain dicts
(the JSON of ``judgekit report`` / ``compare`` for pointwise runs) -> a
renderer (rich table, Markdown, JSON; the HTML page is ``judgekit.score_html``).

``compare`` ranks judges by one figure (``--rank-by``, default ``item_kendall``) on
one criterion, or by its mean over the criteria; two judges rated on the same
items are compared on that figure with a paired clustered bootstrap (both
runs' figures from the same resamples of inputs).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from rich.console import Group
from rich.table import Table

from judgekit.agreement.scores import FIGURES, Counts, ScoreAgreement, score_statistics
from judgekit.agreement.uncertainty import Interval, Statistic, bootstrap_cis
from judgekit.errors import BadInput
from judgekit.records import Rating
from judgekit.rundir import Run

CI_METHOD = "cluster bootstrap (percentile) over inputs"
DEFAULT_RANK_BY = "item_kendall"
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


def criteria_of(run: Run) -> list[str]:
    """The criteria the judge rated and humans scored, in the examples' order."""
    rated = {c for v in run.verdicts for c in v.criteria}
    return [c for c in dict.fromkeys(c for e in run.examples for c in e.criteria) if c in rated]


def criterion_items(run: Run, criterion: str) -> CriterionItems:
    """Responses with human scores on ``criterion`` and a rating (its score None when invalid)."""
    ratings: dict[str, Rating] = {v.example_id: v for v in run.verdicts}
    rows = [(e, ratings[e.id].criteria.get(criterion)) for e in run.examples
            if e.id in ratings and criterion in e.criteria and e.criteria[criterion].scores]
    return CriterionItems(
        ids=[e.id for e, _ in rows],
        judge=[r.score if r is not None else None for _, r in rows],
        humans=[e.criteria[criterion].scores for e, _ in rows],
        inputs=[e.input_id for e, _ in rows],
        systems=[e.system for e, _ in rows],
    )


def is_pointwise(runs: Sequence[Run]) -> bool:
    """True when every run is pointwise; a mix of pairwise and pointwise runs is bad input."""
    kinds = {run.manifest.kind for run in runs}
    if len(kinds) > 1:
        pointwise = next(str(r.path) for r in runs if r.manifest.kind == "pointwise")
        pairwise = next(str(r.path) for r in runs if r.manifest.kind == "pairwise")
        raise BadInput(f"{pointwise}: a pointwise run cannot be reported with the pairwise run {pairwise}")
    return kinds == {"pointwise"}


@dataclass(frozen=True)
class CriterionStatistics:
    """One criterion of a run: its items, counts and every figure as a per-input Statistic."""

    items: CriterionItems
    counts: Counts
    statistics: dict[str, Statistic]


def run_statistics(run: Run) -> dict[str, CriterionStatistics]:
    """Every rated criterion's statistics (computed once, shared by the row, ranking and pairs)."""
    out = {}
    for criterion in criteria_of(run):
        items = criterion_items(run, criterion)
        if items.ids:
            counts, statistics = score_statistics(items.judge, items.humans, items.inputs, items.systems)
            out[criterion] = CriterionStatistics(items, counts, statistics)
    return out


def run_row(run: Run, *, confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0,
            statistics: dict[str, CriterionStatistics] | None = None) -> dict[str, Any]:
    """One pointwise run: per criterion every figure with its interval, plus counts and cost."""
    manifest, usage = run.manifest, run.manifest.usage
    statistics = run_statistics(run) if statistics is None else statistics
    criteria: dict[str, Any] = {}
    for criterion, found in statistics.items():
        figures = bootstrap_cis(found.statistics, confidence=confidence, n_resamples=n_resamples, seed=seed)
        criteria[criterion] = _criterion_figures(ScoreAgreement(*found.counts, figures=figures))
    n = len({i for found in statistics.values() for i in found.items.ids})
    invalid = sum(c["n_invalid"] for c in criteria.values())
    rated = sum(c["n"] for c in criteria.values())
    return {
        "run": str(run.path), "judge": manifest.judge, "protocol": manifest.protocol, "dataset": manifest.dataset,
        "kind": "pointwise", "n": n, "n_clusters": max((c["n_inputs"] for c in criteria.values()), default=0),
        "ci_method": CI_METHOD, "complete": manifest.complete,
        "invalid_rate": invalid / rated if rated else None, "criteria": criteria,
        "calls": usage.calls, "cache_hits": usage.cache_hits,
        "tokens_in": usage.tokens_in, "tokens_out": usage.tokens_out, "cost_usd": usage.cost_usd,
    }


def report(runs: Sequence[Run], *, confidence: float = 0.95, n_resamples: int = 1000,
           seed: int = 0) -> dict[str, Any]:
    """``{"kind": "pointwise", "runs": [row, ...]}``, the JSON of ``judgekit report`` on pointwise runs."""
    return {"kind": "pointwise",
            "runs": [run_row(run, confidence=confidence, n_resamples=n_resamples, seed=seed) for run in runs]}


def compare(runs: Sequence[Run], *, by: str = DEFAULT_RANK_BY, criterion: str | None = None,
            confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Leaderboard by ``by`` (on ``criterion``, or its mean over the criteria), the table, paired differences."""
    if by not in FIGURES:
        raise BadInput(f"--rank-by: {by!r} is not one of headline, {', '.join(FIGURES)} for pointwise runs")
    statistics = [run_statistics(run) for run in runs]
    rows = [run_row(run, confidence=confidence, n_resamples=n_resamples, seed=seed, statistics=found)
            for run, found in zip(runs, statistics, strict=True)]
    if criterion is not None and not any(criterion in row["criteria"] for row in rows):
        known = sorted({c for row in rows for c in row["criteria"]})
        raise BadInput(f"--criterion: {criterion!r} is not rated in these runs (rated: {', '.join(known)})")
    ranking = [_ranking_statistic(run, found, by, criterion) for run, found in zip(runs, statistics, strict=True)]
    scored = [None if r is None else bootstrap_cis({"x": r[0]}, confidence=confidence, n_resamples=n_resamples,
                                                    seed=seed)["x"] for r in ranking]
    higher_better = by != "mae"
    order = sorted(range(len(rows)), key=lambda i: _sort_key(scored[i], higher_better))
    leaderboard = []
    for rank, i in enumerate(order, start=1):
        row = rows[i]
        leaderboard.append({
            "rank": rank, "run": row["run"], "judge": row["judge"], "protocol": row["protocol"],
            "dataset": row["dataset"], "n": row["n"], "n_clusters": row["n_clusters"],
            "invalid_rate": row["invalid_rate"], "score": _estimate(scored[i]), "score_ci": _bounds(scored[i]),
        })
    table = [{"run": row["run"], "judge": row["judge"], "protocol": row["protocol"], "criterion": name,
              **{f: figures[f] for f in FIGURES}, **{f"{f}_ci": figures[f"{f}_ci"] for f in FIGURES},
              "n": figures["n"], "n_invalid": figures["n_invalid"]}
             for i in order for row in [rows[i]] for name, figures in row["criteria"].items()]
    content = [_content(run) for run in runs]
    comparisons = [pair for i, j in combinations(order, 2) if content[i] == content[j]
                   and (pair := _paired(runs[i], ranking[i], runs[j], ranking[j], by, criterion, confidence,
                                        n_resamples, seed)) is not None]
    return {"kind": "pointwise", "by": by, "criterion": criterion or "mean over criteria",
            "ci_method": CI_METHOD, "leaderboard": leaderboard, "table": table, "comparisons": comparisons}


# ---------------------------------------------------------------- figures


def _criterion_figures(result: ScoreAgreement) -> dict[str, Any]:
    out: dict[str, Any] = {"n": result.n, "n_invalid": result.n_invalid, "n_inputs": result.n_inputs,
                           "n_systems": result.n_systems}
    for name in FIGURES:
        out[name] = _estimate(result.figures[name])
        out[f"{name}_ci"] = _bounds(result.figures[name])
    return out


def _ranking_statistic(run: Run, statistics: dict[str, CriterionStatistics], by: str,
                       criterion: str | None) -> tuple[Statistic, list[str]] | None:
    """The ranking figure as one Statistic over the run's inputs (mean over criteria when none is named)."""
    names = [criterion] if criterion else list(statistics)
    parts, inputs = [], None
    for name in names:
        if name not in statistics:
            continue
        order = list(dict.fromkeys(statistics[name].items.inputs))
        if inputs is None:
            inputs = order
        if order != inputs:
            raise BadInput(f"{run.path}: criterion '{name}' covers other inputs than the others; rank by --criterion")
        parts.append(statistics[name].statistics[by])
    if not parts:
        return None
    return _mean_of(parts), inputs


def _mean_of(parts: list[Statistic]) -> Statistic:
    widths = [p.terms.shape[1] for p in parts]
    edges = np.cumsum([0, *widths])

    def fn(s: np.ndarray) -> np.ndarray:
        values = np.stack([p.fn(s[..., a:b]) for p, a, b in zip(parts, edges[:-1], edges[1:], strict=True)])
        with np.errstate(invalid="ignore"):
            return np.where(np.all(np.isfinite(values), axis=0), values.mean(axis=0), np.nan)

    return Statistic(np.hstack([p.terms for p in parts]), fn)


def _paired(run_1, ranked_1, run_2, ranked_2, by, criterion, confidence, n_resamples, seed) -> dict[str, Any] | None:
    """Figure(run_1) - figure(run_2) on the same items, both from the same input resamples; None otherwise."""
    if ranked_1 is None or ranked_2 is None or ranked_1[1] != ranked_2[1]:
        return None
    (a, inputs), (b, _) = ranked_1, ranked_2
    k = a.terms.shape[1]
    difference = Statistic(np.hstack([a.terms, b.terms]), lambda s: a.fn(s[..., :k]) - b.fn(s[..., k:]))
    interval = bootstrap_cis({"d": difference}, confidence=confidence, n_resamples=n_resamples, seed=seed)["d"]
    bounds = _bounds(interval)
    return {"run_1": str(run_1.path), "run_2": str(run_2.path), "figure": by,
            "criterion": criterion or "mean over criteria", "n_clusters": len(inputs),
            "difference": _estimate(interval), "difference_ci": bounds,
            "excludes_zero": None if bounds is None else not bounds[0] <= 0 <= bounds[1]}


def _content(run: Run) -> str:
    """sha256 of the run's examples: runs are paired only on the same scored items."""
    digest = hashlib.sha256()
    for example in run.examples:
        digest.update(example.model_dump_json().encode("utf-8"))
    return digest.hexdigest()


def _sort_key(interval: Interval | None, higher_better: bool) -> float:
    value = _estimate(interval)
    if value is None:
        return math.inf
    return -value if higher_better else value


def _estimate(interval: Interval | None) -> float | None:
    if interval is None or math.isnan(interval.estimate):
        return None
    return interval.estimate


def _bounds(interval: Interval | None) -> list[float] | None:
    if interval is None or math.isnan(interval.low) or math.isnan(interval.high):
        return None
    return [interval.low, interval.high]


# ---------------------------------------------------------------- rendering

_HEADERS = {
    "item_pearson": "item r", "item_spearman": "item ρ", "item_kendall": "item τ",
    "system_pearson": "system r", "system_spearman": "system ρ", "system_kendall": "system τ",
    "dataset_pearson": "pooled r", "dataset_spearman": "pooled ρ", "dataset_kendall": "pooled τ",
    "mae": "MAE", "alpha_interval_humans": "α humans", "alpha_interval_with_judge": "α +judge",
    "alpha_ordinal_humans": "α ord humans", "alpha_ordinal_with_judge": "α ord +judge",
}


def render(data: dict[str, Any], fmt: str) -> str | Table | Group:
    """A pointwise report or compare result in one format (table, markdown or json)."""
    if fmt == "json":
        return json.dumps(data, indent=2, allow_nan=False)
    sections = []
    if "leaderboard" in data:
        title = f"Leaderboard by {_HEADERS.get(data['by'], data['by'])} ({data['criterion']}), {CI_METHOD}"
        columns = [("rank", "#"), ("run", "run"), ("judge", "judge"), ("protocol", "protocol"), ("n", "n"),
                   ("invalid_rate", "invalid"), ("score", data["by"]), ("score_ci", "95% CI")]
        sections.append((title, columns, [{**r, "run": _short(r["run"])} for r in data["leaderboard"]]))
        rows = data["table"]
    else:
        rows = [{"run": r["run"], "judge": r["judge"], "protocol": r["protocol"], "criterion": name, **figures}
                for r in data["runs"] for name, figures in r["criteria"].items()]
    columns = [("judge", "judge"), ("protocol", "protocol"), ("criterion", "criterion"),
               *((f, _HEADERS[f]) for f in TABLE_FIGURES)]
    sections.append(("Judge vs human mean, per criterion (item = within input, averaged; system = per-system means)",
                     columns, rows))
    if data.get("comparisons"):
        pairs = [{"run_1": _short(p["run_1"]), "run_2": _short(p["run_2"]), "difference": p["difference"],
                  "difference_ci": p["difference_ci"]} for p in data["comparisons"]]
        sections.append((f"Paired differences in {data['by']} (run 1 - run 2)",
                         [("run_1", "run 1"), ("run_2", "run 2"), ("difference", "difference"),
                          ("difference_ci", "95% CI")], pairs))
    if fmt == "markdown":
        return "\n\n".join(f"### {title}\n\n{_markdown(cols, rs)}" for title, cols, rs in sections) + "\n"
    if fmt == "table":
        tables = [_table(title, cols, rs) for title, cols, rs in sections]
        return tables[0] if len(tables) == 1 else Group(*tables)
    raise BadInput(f"--format: {fmt!r} is not one of table, markdown, json, html")


def _format(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name.endswith("_ci") and isinstance(value, list):
        return f"[{value[0]:.3f}, {value[1]:.3f}]"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(title: str, columns, rows) -> Table:
    table = Table(title=title, title_justify="left")
    for name, header in columns:
        text_like = name in ("run", "judge", "protocol", "criterion", "run_1", "run_2")
        table.add_column(header, justify="left" if text_like else "right", no_wrap=not text_like,
                         min_width=10 if text_like else None)
    for row in rows:
        table.add_row(*(_format(name, row.get(name)) for name, _ in columns))
    return table


def _markdown(columns, rows) -> str:
    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    out = [line([h for _, h in columns]), line(["---"] * len(columns))]
    out += [line([_format(name, row.get(name)) for name, _ in columns]) for row in rows]
    return "\n".join(out)


def _short(path: str) -> str:
    parts = path.replace("\\", "/").rstrip("/").split("/")
    return "/".join(parts[-2:])

