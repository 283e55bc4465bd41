"""Pointwise meta-evaluation: a judge's scores against human scores, at the levels papers report.

Levels (REFERENCES E4; Fabbri et al. 2021, SummEval; Liu et al. 2023, G-Eval):

- **item level** ("summary level"): the correlation between judge and human
  mean across the responses to one input (one per system), averaged over
  inputs; inputs where it is undefined (fewer than two responses, or constant
  scores) are left out of the average;
- **system level**: the correlation of the per-system mean scores; a system
  with no valid judge rating has no judge mean and is left out (of the point
  estimate, and of each bootstrap resample in which it has none);
- **dataset level** (pooled): the correlation over all responses at once.

Each level comes as Pearson, Spearman and Kendall τ-b (ties handled, as
``scipy.stats.kendalltau``'s default). Beside them: mean absolute error to the
human mean, and Krippendorff's alpha (interval and ordinal) of the humans and
of the humans plus the judge as one more rater.

Uncertainty is a clustered bootstrap (REFERENCES E3): the inputs are the
clusters, resampled with all their responses, because responses to one input
share its difficulty. Every figure is written as per-cluster sums and a
function of them (the :class:`~judgekit.agreement.uncertainty.Statistic`
shape), so all resamples of all figures come from one matrix product:
within-input correlations are averaged, per-system sums give system means,
and pooled correlations and alpha are functions of summed contingency tables
(judge value x human value, and Krippendorff's coincidence matrix).

A judge score that is missing (an invalid rating) leaves that response out of
every judge figure; the invalid count is reported beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import NamedTuple

import numpy as np

from judgekit.agreement.uncertainty import Interval, Statistic, bootstrap_cis, ratio
from judgekit.errors import BadInput

METHODS: tuple[str, ...] = ("pearson", "spearman", "kendall")
LEVELS: tuple[str, ...] = ("item", "system", "dataset")
ALPHA_LEVELS: tuple[str, ...] = ("interval", "ordinal")
FIGURES: tuple[str, ...] = (
    *(f"{level}_{method}" for level in LEVELS for method in METHODS),
    "mae",
    *(f"alpha_{level}_{raters}" for level in ALPHA_LEVELS for raters in ("humans", "with_judge")),
)
"""Every figure ``score_agreement`` reports, by key."""


@dataclass(frozen=True)
class ScoreAgreement:
    """Every pointwise figure of one judge on one criterion, each with its bootstrap interval.

    ``figures`` keys: ``<level>_<method>`` for the correlations (``item_kendall``,
    ``system_pearson``, ...), ``mae``, and ``alpha_<interval|ordinal>_humans`` /
    ``alpha_<interval|ordinal>_with_judge``.
    """

    n: int
    """Responses with a human score (the judge's invalid ones included)."""
    n_invalid: int
    n_inputs: int
    n_systems: int
    figures: dict[str, Interval]


def correlation(x: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """Correlation of x and y along the last axis (vectorised); NaN where undefined.

    Undefined means fewer than two values, or one side constant (as scipy).
    Spearman is Pearson on average ranks; Kendall is τ-b.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if method not in METHODS:
        raise BadInput(f"correlation method {method!r} is not one of {', '.join(METHODS)}")
    if x.shape[-1] < 2:
        return np.full(x.shape[:-1], np.nan)
    if method != "pearson":  # ranks: values equal to 9 decimals tie (means summed in another order differ by ulps)
        x, y = np.round(x, 9), np.round(y, 9)
    constant = np.all(x == x[..., :1], axis=-1) | np.all(y == y[..., :1], axis=-1)
    if method == "spearman":
        from scipy.stats import rankdata  # heavy (a second of imports): load on use

        x, y = rankdata(x, axis=-1), rankdata(y, axis=-1)
    if method == "kendall":
        i, j = np.triu_indices(x.shape[-1], k=1)
        dx, dy = np.sign(x[..., j] - x[..., i]), np.sign(y[..., j] - y[..., i])
        numerator = np.sum(dx * dy, axis=-1)
        denominator = np.sqrt(np.sum(np.abs(dx), axis=-1) * np.sum(np.abs(dy), axis=-1))
    else:
        xc = x - x.mean(axis=-1, keepdims=True)
        yc = y - y.mean(axis=-1, keepdims=True)
        numerator = np.sum(xc * yc, axis=-1)
        denominator = np.sqrt(np.sum(xc * xc, axis=-1) * np.sum(yc * yc, axis=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = numerator / denominator
    return np.where(constant | ~np.isfinite(value), np.nan, np.clip(value, -1.0, 1.0))


def item_level(judge: Sequence[float], human: Sequence[float], inputs: Sequence[str], method: str) -> float:
    """Within-input correlation averaged over inputs (SummEval's summary level)."""
    per_input = _per_input(*_clean(judge, human), _codes(inputs)[0], method)
    defined = per_input[np.isfinite(per_input)]
    return float(defined.mean()) if defined.size else float("nan")


def system_level(judge: Sequence[float], human: Sequence[float], systems: Sequence[str], method: str) -> float:
    """Correlation of per-system means (responses with both scores only; a system with none is left out)."""
    x, y = _clean(judge, human)
    codes, names = _codes(systems)
    keep = np.isfinite(x) & np.isfinite(y)
    counts = np.bincount(codes[keep], minlength=len(names))
    present = counts > 0
    mx = np.bincount(codes[keep], weights=x[keep], minlength=len(names))[present] / counts[present]
    my = np.bincount(codes[keep], weights=y[keep], minlength=len(names))[present] / counts[present]
    return float(correlation(mx, my, method))


class Counts(NamedTuple):
    """What the figures of one criterion rest on."""

    n: int
    """Responses with a human score (the judge's invalid ones included)."""
    n_invalid: int
    n_inputs: int
    n_systems: int


def score_agreement(
    judge: Sequence[float | None],
    humans: Sequence[Sequence[float]],
    inputs: Sequence[str],
    systems: Sequence[str | None],
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> ScoreAgreement:
    """All pointwise figures for one criterion, with clustered (by input) bootstrap intervals.

    ``judge[i]`` is the judge's score of response i (None/NaN when invalid),
    ``humans[i]`` its individual human scores, ``inputs[i]`` the input it
    answers and ``systems[i]`` the system that wrote it. Responses without a
    human score are dropped.
    """
    counts, statistics = score_statistics(judge, humans, inputs, systems)
    figures = bootstrap_cis(statistics, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return ScoreAgreement(*counts, figures=figures)


def score_statistics(
    judge: Sequence[float | None],
    humans: Sequence[Sequence[float]],
    inputs: Sequence[str],
    systems: Sequence[str | None],
) -> tuple[Counts, dict[str, Statistic]]:
    """The counts and every figure as a per-input Statistic (rows: inputs in first-seen order).

    Two judges scored on the same responses give Statistics over the same
    rows, so a difference of their figures bootstraps from shared resamples.
    """
    n = len(humans)
    if not (len(judge) == len(inputs) == len(systems) == n):
        raise BadInput(f"score agreement: judge, humans, inputs and systems differ in length "
                       f"({len(judge)}, {n}, {len(inputs)}, {len(systems)})")
    rated = np.array([len(h) > 0 for h in humans], dtype=bool)
    humans = [tuple(float(s) for s in h) for h, r in zip(humans, rated) if r]
    x = np.array([np.nan if j is None else float(j) for j, r in zip(judge, rated) if r], dtype=np.float64)
    sizes = np.array([len(h) for h in humans], dtype=np.float64)
    y = np.bincount(np.repeat(np.arange(len(humans)), sizes.astype(np.int64)),
                    weights=np.fromiter(chain.from_iterable(humans), dtype=np.float64), minlength=len(humans)) / sizes
    cluster, cluster_names = _codes([i for i, r in zip(inputs, rated) if r])
    system, system_names = _codes([s if s is not None else "unknown" for s, r in zip(systems, rated) if r])
    if not len(y):
        raise BadInput("score agreement: no response has a human score")
    valid = np.isfinite(x)
    n_clusters = len(cluster_names)
    statistics: dict[str, Statistic] = {}
    undefined = Statistic(np.zeros((n_clusters, 1)), lambda s: np.full(s.shape[:-1], np.nan))
    for method in METHODS if valid.any() else ():
        statistics[f"item_{method}"] = _item_statistic(x, y, cluster, n_clusters, method)
        statistics[f"system_{method}"] = _system_statistic(x, y, valid, cluster, n_clusters, system,
                                                           len(system_names), method)
        statistics[f"dataset_{method}"] = _pooled_statistic(x, y, valid, cluster, n_clusters, method)
    for name in (f"{level}_{method}" for level in LEVELS for method in METHODS):
        statistics.setdefault(name, undefined)
    error = np.where(valid, np.abs(x - y), 0.0)
    statistics["mae"] = Statistic(np.column_stack([_by_cluster(error, cluster, n_clusters),
                                                   _by_cluster(valid.astype(float), cluster, n_clusters)]),
                                  lambda s: ratio(s[..., 0], s[..., 1]))
    with_judge = [h + ((float(j),) if np.isfinite(j) else ()) for h, j in zip(humans, x)]
    for level in ALPHA_LEVELS:
        statistics[f"alpha_{level}_humans"] = _alpha_statistic(humans, cluster, n_clusters, level)
        statistics[f"alpha_{level}_with_judge"] = _alpha_statistic(with_judge, cluster, n_clusters, level)
    counts = Counts(len(y), int(np.sum(~valid)), n_clusters, len(system_names))
    return counts, {name: statistics[name] for name in FIGURES}


def krippendorff_alpha_scores(ratings: Sequence[Sequence[float]], level: str = "interval") -> float:
    """Krippendorff's alpha of per-item score lists (no bootstrap), via the coincidence matrix."""
    stat = _alpha_statistic([tuple(map(float, r)) for r in ratings], np.zeros(len(ratings), dtype=np.int64), 1, level)
    return stat.value()


def _clean(judge: Sequence[float | None], human: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([np.nan if v is None else float(v) for v in judge], dtype=np.float64)
    y = np.array([np.nan if v is None else float(v) for v in human], dtype=np.float64)
    if x.shape != y.shape:
        raise BadInput(f"judge and human scores differ in length ({len(x)} vs {len(y)})")
    return x, y


def _codes(labels: Sequence[object]) -> tuple[np.ndarray, list[object]]:
    names = list(dict.fromkeys(labels))
    at = {name: k for k, name in enumerate(names)}
    return np.array([at[label] for label in labels], dtype=np.int64), names


def _by_cluster(values: np.ndarray, cluster: np.ndarray, n_clusters: int) -> np.ndarray:
    return np.bincount(cluster, weights=values, minlength=n_clusters)


def _per_input(x: np.ndarray, y: np.ndarray, cluster: np.ndarray, method: str) -> np.ndarray:
    """The within-input correlation of every input (NaN where undefined), inputs of equal size at once."""
    n_clusters = int(cluster.max()) + 1 if cluster.size else 0
    out = np.full(n_clusters, np.nan)
    keep = np.isfinite(x) & np.isfinite(y)
    order = np.argsort(cluster[keep], kind="stable")
    xs, ys, cs = x[keep][order], y[keep][order], cluster[keep][order]
    starts = np.searchsorted(cs, np.arange(n_clusters))
    sizes = np.bincount(cs, minlength=n_clusters)
    for size in np.unique(sizes[sizes >= 2]):
        members = np.nonzero(sizes == size)[0]
        idx = starts[members][:, None] + np.arange(size)[None, :]
        out[members] = correlation(xs[idx], ys[idx], method)
    return out


def _item_statistic(x: np.ndarray, y: np.ndarray, cluster: np.ndarray, n_clusters: int, method: str) -> Statistic:
    per_input = _per_input(x, y, cluster, method)
    defined = np.isfinite(per_input)
    terms = np.column_stack([np.where(defined, per_input, 0.0), defined.astype(float)])
    return Statistic(terms, lambda s: ratio(s[..., 0], s[..., 1]))


def _system_statistic(x, y, valid, cluster, n_clusters, system, n_systems, method) -> Statistic:
    """Per cluster: judge sum, human sum and count per system; the function correlates the means
    of the systems with a valid rating in that resample, as :func:`system_level` does."""
    cell = cluster * n_systems + system
    size = n_clusters * n_systems

    def table(values: np.ndarray) -> np.ndarray:
        return np.bincount(cell, weights=values, minlength=size).reshape(n_clusters, n_systems)

    terms = np.hstack([table(np.where(valid, x, 0.0)), table(np.where(valid, y, 0.0)), table(valid.astype(float))])

    def fn(s: np.ndarray) -> np.ndarray:
        rows = s.reshape(-1, 3 * n_systems)
        sx, sy, count = rows[:, :n_systems], rows[:, n_systems:2 * n_systems], rows[:, 2 * n_systems:]
        with np.errstate(divide="ignore", invalid="ignore"):
            mx, my = sx / count, sy / count
        out = np.full(len(rows), np.nan)
        # resamples sharing the same systems present are correlated together; usually every system
        # is in every resample, which needs no sorting of the patterns to find
        rated = count > 0
        if rated.all():
            patterns, which = rated[:1], np.zeros(len(rows), dtype=np.intp)
        else:
            patterns, which = np.unique(rated, axis=0, return_inverse=True)
        for k, present in enumerate(patterns):
            same = which.ravel() == k
            out[same] = correlation(mx[same][:, present], my[same][:, present], method)
        return out.reshape(s.shape[:-1])

    return Statistic(terms, fn)


def _pooled_statistic(x, y, valid, cluster, n_clusters, method) -> Statistic:
    """Per cluster: the contingency table of (judge value, human mean); pooled correlations from it."""
    xv, xi = np.unique(x[valid], return_inverse=True)
    yv, yi = np.unique(y[valid], return_inverse=True)
    kx, ky = len(xv), len(yv)
    cells = (cluster[valid] * kx + xi) * ky + yi
    terms = np.bincount(cells, minlength=n_clusters * kx * ky).reshape(n_clusters, kx * ky).astype(np.float64)

    def fn(s: np.ndarray) -> np.ndarray:
        return _table_correlation(s.reshape(*s.shape[:-1], kx, ky), xv, yv, method)

    return Statistic(terms, fn)


def _table_correlation(table: np.ndarray, xv: np.ndarray, yv: np.ndarray, method: str) -> np.ndarray:
    """The correlation of the data a (…, kx, ky) table of counts stands for (ties = shared cells)."""
    tx, ty = table.sum(axis=-1), table.sum(axis=-2)
    total = tx.sum(axis=-1)
    if method == "kendall":
        # pairs above-right of a cell are concordant with it, above-left discordant
        above = np.flip(np.cumsum(np.flip(table, axis=-2), axis=-2), axis=-2)
        above = np.concatenate([above[..., 1:, :], np.zeros_like(above[..., :1, :])], axis=-2)
        right = np.flip(np.cumsum(np.flip(above, axis=-1), axis=-1), axis=-1)
        right = np.concatenate([right[..., 1:], np.zeros_like(right[..., :1])], axis=-1)
        left = np.cumsum(above, axis=-1) - above
        concordant = np.sum(table * right, axis=(-2, -1))
        discordant = np.sum(table * left, axis=(-2, -1))
        pairs = total * (total - 1) / 2
        untied_x = pairs - np.sum(tx * (tx - 1), axis=-1) / 2
        untied_y = pairs - np.sum(ty * (ty - 1), axis=-1) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            value = (concordant - discordant) / np.sqrt(untied_x * untied_y)
        return np.where((untied_x > 0) & (untied_y > 0), np.clip(value, -1, 1), np.nan)
    if method == "spearman":
        xs = np.cumsum(tx, axis=-1) - tx + (tx + 1) / 2  # average rank of each value
        ys = np.cumsum(ty, axis=-1) - ty + (ty + 1) / 2
    else:
        xs = np.broadcast_to(xv, tx.shape)
        ys = np.broadcast_to(yv, ty.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = np.sum(tx * xs, axis=-1) / total
        my = np.sum(ty * ys, axis=-1) / total
        dx, dy = xs - mx[..., None], ys - my[..., None]
        cov = np.einsum("...ab,...a,...b->...", table, dx, dy)
        vx, vy = np.sum(tx * dx * dx, axis=-1), np.sum(ty * dy * dy, axis=-1)
        value = cov / np.sqrt(vx * vy)
    defined = (np.sum(tx > 0, axis=-1) >= 2) & (np.sum(ty > 0, axis=-1) >= 2)
    return np.where(defined, np.clip(value, -1, 1), np.nan)


def _alpha_statistic(ratings: list[tuple[float, ...]], cluster: np.ndarray, n_clusters: int, level: str) -> Statistic:
    """Per cluster: Krippendorff's coincidence matrix; alpha = 1 - (n-1) Σ o·δ / Σ n_c n_k δ.

    Krippendorff (2011): o_ck sums, over units with m ≥ 2 values, the ordered
    value pairs (c, k) of the unit divided by m - 1; δ is (c - k)² for
    interval data and, for ordinal data, (Σ_{g=c..k} n_g - (n_c + n_k)/2)²
    with n_g the value totals (so it is recomputed in each resample).
    """
    if level not in ALPHA_LEVELS:
        raise BadInput(f"alpha level {level!r} is not one of {', '.join(ALPHA_LEVELS)}")
    lengths = np.array([len(r) for r in ratings], dtype=np.int64)
    flat = np.fromiter(chain.from_iterable(ratings), dtype=np.float64, count=int(lengths.sum()))
    values = np.unique(flat)
    k = len(values)
    width = max(k, 1)
    # every ordered pair of values within a unit of m >= 2 values, weighted 1 / (m - 1)
    codes = np.full((len(ratings), max(int(lengths.max(initial=0)), 1)), -1, dtype=np.int64)
    mask = np.arange(codes.shape[1])[None, :] < lengths[:, None]
    codes[mask] = np.searchsorted(values, flat)
    first, second = codes[:, :, None], codes[:, None, :]
    diagonal = np.eye(codes.shape[1], dtype=bool)[None]
    pair = (first >= 0) & (second >= 0) & ~diagonal & (lengths >= 2)[:, None, None]
    weight = np.broadcast_to((1.0 / np.maximum(lengths - 1, 1))[:, None, None], pair.shape)[pair]
    unit_cluster = np.broadcast_to(cluster[:, None, None], pair.shape)[pair]
    cells = (unit_cluster * width + np.broadcast_to(first, pair.shape)[pair]) * width \
        + np.broadcast_to(second, pair.shape)[pair]
    terms = np.bincount(cells, weights=weight, minlength=n_clusters * width * width).reshape(n_clusters, -1)

    def fn(s: np.ndarray) -> np.ndarray:
        o = s.reshape(*s.shape[:-1], k, k) if k else s.reshape(*s.shape[:-1], 1, 1)
        nc = o.sum(axis=-1)
        n = nc.sum(axis=-1)
        if level == "interval" or k < 2:
            delta = np.broadcast_to((values[:, None] - values[None, :]) ** 2 if k else np.zeros((1, 1)), o.shape)
        else:
            cum = np.cumsum(nc, axis=-1)
            delta = (cum[..., None, :] - cum[..., :, None] + (nc[..., :, None] - nc[..., None, :]) / 2) ** 2
        observed = np.sum(o * delta, axis=(-2, -1))
        expected = np.einsum("...a,...b,...ab->...", nc, nc, delta)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = 1 - (n - 1) * observed / expected
        return np.where(expected > 0, alpha, np.nan)

    return Statistic(terms, fn)
