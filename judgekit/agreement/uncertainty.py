"""Uncertainty for every headline number: item or cluster bootstrap, proportion CIs, McNemar.

Every statistic in this package is a function of sums over items (a mean, a
ratio of two means, a kappa from a confusion table, a difference of recalls).
So a statistic is given as a per-item term matrix ``terms`` of shape (n, k)
and a vectorised function ``fn`` from column sums (..., k) to values (...).
Resampling items with replacement then means weighting the rows: one
(B, n) matrix of resample counts times the (n, k) terms gives the sums of all
B resamples in one matrix product, for every statistic of every judge at once.
Judges scored on the same n items with the same seed share the resamples, so
differences between them are paired bootstraps for free.

Items that share an instruction (or a question id) are not independent. With
``clusters`` (one key per item) the bootstrap draws whole clusters with
replacement and every item of a drawn cluster comes along (the cluster
bootstrap; Field & Welsh 2007): a (B, G) matrix of cluster counts, spread to
the items of each cluster, is the weight matrix. Where every cluster holds one
item this is the item bootstrap, draw for draw.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from threadpoolctl import ThreadpoolController

from judgekit.errors import BadInput

_DRAW_BLOCK = 1 << 16
"""Indices drawn at once by ``resample_weights``: bounds its scratch memory."""


class Interval(NamedTuple):
    """A point estimate with the bounds of its confidence interval."""

    estimate: float
    low: float
    high: float


class Clusters(NamedTuple):
    """Which cluster each item belongs to: codes 0..G-1 in order of first appearance."""

    codes: np.ndarray
    n_clusters: int

    @property
    def clustered(self) -> bool:
        """True when some cluster holds more than one item (otherwise items are independent)."""
        return self.n_clusters < len(self.codes)


def cluster_codes(keys: Sequence[Hashable]) -> Clusters:
    """Cluster codes for per-item keys (e.g. instruction texts or question ids)."""
    index: dict[Hashable, int] = {}
    codes = np.fromiter((index.setdefault(key, len(index)) for key in keys), dtype=np.int64, count=len(keys))
    return Clusters(codes, len(index))


def ci_method(clusters: Clusters | None, *, n_resamples: int, seed: int) -> str:
    """How the bootstrap intervals were made, in words (the JSON's ``ci_method``)."""
    unit = "cluster" if clusters is not None and clusters.clustered else "item"
    return f"{unit} bootstrap, percentile, {n_resamples} resamples, seed {seed}"


class Statistic(NamedTuple):
    """A statistic as per-item terms (n, k) and a function of their column sums."""

    terms: np.ndarray
    fn: Callable[[np.ndarray], np.ndarray]

    def value(self) -> float:
        """The statistic on the items as given (no resampling)."""
        return float(self.fn(self.terms.sum(axis=0)))


class McNemarResult(NamedTuple):
    """Exact McNemar test on paired right/wrong outcomes of two judges."""

    only_first_right: int
    only_second_right: int
    pvalue: float


@lru_cache(maxsize=2)
def resample_weights(n: int, *, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """How often each of n items is drawn in each of B bootstrap resamples.

    Indices are drawn a block of rows at a time (about 65,000 at once) and
    counted per row, so memory stays near the float32 result; the generator's
    stream is the same as one (B, n) draw. The result is cached (read-only) so
    every judge scored on the same items with the same seed sees the same
    resamples.
    """
    if n < 1 or n_resamples < 1:
        raise BadInput(f"bootstrap needs at least one item and one resample (got n={n}, B={n_resamples})")
    rng = np.random.default_rng(seed)
    weights = np.empty((n_resamples, n), dtype=np.float32)  # small whole counts: exact in float32
    rows = max(1, _DRAW_BLOCK // n)
    for start in range(0, n_resamples, rows):
        block = min(rows, n_resamples - start)
        idx = rng.integers(0, n, size=(block, n), dtype=np.int64)
        idx += np.arange(block, dtype=np.int64)[:, None] * n
        weights[start:start + block] = np.bincount(idx.ravel(), minlength=block * n).reshape(block, n)
    weights.setflags(write=False)
    return weights


def bootstrap_cis(
    statistics: Mapping[str, Statistic],
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Clusters | None = None,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals for several statistics over the same items.

    Items are resampled with replacement (Efron & Tibshirani 1993, ch. 13),
    or whole clusters when ``clusters`` groups them (module docstring); the
    interval is the (1-c)/2 and (1+c)/2 quantiles of the resampled values.
    Resamples where a statistic is undefined (NaN, e.g. an empty denominator)
    are ignored; an undefined estimate gives an all-NaN interval. Resample
    sums are taken in float32 for speed: exact for the count-like terms of
    this package (whole and half counts below 2**24), within ~1e-6 relative
    otherwise; point estimates use float64.
    """
    if not statistics:
        return {}
    if not 0 < confidence < 1:
        raise BadInput(f"confidence must be in (0, 1), got {confidence}")
    names = list(statistics)
    n = _common_n(statistics)
    blocks = [np.asarray(statistics[name].terms, dtype=np.float64).reshape(n, -1) for name in names]
    weights = _weights(n, clusters, n_resamples, seed)
    with one_blas_thread():
        sums = (weights @ np.hstack([block.astype(np.float32) for block in blocks])).astype(np.float64)
    tail = (1 - confidence) / 2
    out: dict[str, Interval] = {}
    start = 0
    for name, block in zip(names, blocks, strict=True):
        fn = statistics[name].fn
        stop = start + block.shape[1]
        estimate = float(fn(block.sum(axis=0)))
        values = np.asarray(fn(sums[:, start:stop]), dtype=np.float64)
        start = stop
        values = values[np.isfinite(values)]
        if np.isnan(estimate) or values.size == 0:
            out[name] = Interval(estimate, float("nan"), float("nan"))
            continue
        low, high = np.quantile(values, [tail, 1 - tail])
        out[name] = Interval(estimate, float(low), float(high))
    return out


def one_blas_thread() -> AbstractContextManager:
    """Matrix products on one BLAS thread inside the ``with`` block.

    The resampling products here are small (a millisecond on one core). Split
    over BLAS threads they wait for cores that are busy, e.g. with another test
    worker: measured 9 ms instead of 0.08 for 20 resamples of 2,000 terms on
    two busy cores. The float32 sums of ``bootstrap_cis`` came out the same on
    one thread as on two (1,500 random shapes); float64 products may differ in
    the last bit, as they already did between machines with other core counts.
    """
    return _blas_threads().limit(limits=1, user_api="blas")


@lru_cache(maxsize=1)
def _blas_threads() -> ThreadpoolController:
    return ThreadpoolController()  # finds the loaded BLAS libraries (numpy's is loaded by now)


def _weights(n: int, clusters: Clusters | None, n_resamples: int, seed: int) -> np.ndarray:
    """(B, n) resample counts per item: drawn per item, or per cluster and spread to its items."""
    if clusters is None or not clusters.clustered:
        return resample_weights(n, n_resamples=n_resamples, seed=seed)
    if len(clusters.codes) != n:
        raise BadInput(f"bootstrap: {len(clusters.codes)} cluster keys for {n} items")
    codes = np.ascontiguousarray(clusters.codes, dtype=np.int64)
    return _cluster_weights(codes.tobytes(), clusters.n_clusters, n_resamples, seed)


@lru_cache(maxsize=2)
def _cluster_weights(codes: bytes, n_clusters: int, n_resamples: int, seed: int) -> np.ndarray:
    """Cluster counts spread to items, cached like ``resample_weights`` (runs on the same items share them)."""
    spread = resample_weights(n_clusters, n_resamples=n_resamples, seed=seed)[:, np.frombuffer(codes, dtype=np.int64)]
    spread.setflags(write=False)
    return spread


def bootstrap_ci(
    statistic: Statistic, *, confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0,
    clusters: Clusters | None = None,
) -> Interval:
    """Percentile bootstrap interval of one statistic (see ``bootstrap_cis``)."""
    return bootstrap_cis({"x": statistic}, confidence=confidence, n_resamples=n_resamples, seed=seed,
                         clusters=clusters)["x"]


def mean_statistic(values: np.ndarray) -> Statistic:
    """The mean of per-item values as a Statistic (NaN for no items)."""
    values = np.asarray(values, dtype=np.float64)
    terms = np.column_stack([values, np.ones_like(values)])
    return Statistic(terms, lambda s: ratio(s[..., 0], s[..., 1]))


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is zero."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def proportion_ci(count: int, nobs: int, *, confidence: float = 0.95, method: str = "wilson") -> Interval:
    """A plain proportion with its Wilson (default) or exact ``beta`` interval.

    Uses ``statsmodels.stats.proportion.proportion_confint`` (Wilson 1927).
    The exact interval (Clopper & Pearson 1934) is two beta quantiles, taken
    from scipy.special: the default run prints one, and statsmodels would
    cost it two seconds of imports (tests check both against statsmodels).
    NaN interval when nobs is 0.
    """
    if nobs == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    if method == "beta":
        from scipy.special import betaincinv  # the beta distribution's quantile function

        tail = (1 - confidence) / 2
        low = betaincinv(count, nobs - count + 1, tail) if count > 0 else 0.0
        high = betaincinv(count + 1, nobs - count, 1 - tail) if count < nobs else 1.0
        return Interval(count / nobs, float(low), float(high))
    from statsmodels.stats.proportion import proportion_confint  # heavy (scipy): load on use

    low, high = proportion_confint(count, nobs, alpha=1 - confidence, method=method)
    return Interval(count / nobs, float(low), float(high))


def mcnemar_exact(correct_first: np.ndarray, correct_second: np.ndarray) -> McNemarResult:
    """Exact McNemar test: do two judges' right/wrong outcomes on shared items differ?

    Only discordant pairs matter: b = first right and second wrong, c = the
    reverse; under H0 b ~ Binomial(b + c, 1/2) (McNemar 1947). Computed with
    ``statsmodels.stats.contingency_tables.mcnemar(exact=True)``; p = 1 when
    there are no discordant pairs.
    """
    from statsmodels.stats.contingency_tables import mcnemar  # heavy (scipy): load on use

    first = np.asarray(correct_first, dtype=bool)
    second = np.asarray(correct_second, dtype=bool)
    if first.shape != second.shape:
        raise BadInput(f"mcnemar: outcome arrays differ in shape ({first.shape} vs {second.shape})")
    b = int(np.sum(first & ~second))
    c = int(np.sum(~first & second))
    table = [[int(np.sum(first & second)), b], [c, int(np.sum(~first & ~second))]]
    pvalue = 1.0 if b + c == 0 else float(mcnemar(table, exact=True).pvalue)
    return McNemarResult(b, c, pvalue)


def _common_n(statistics: Mapping[str, Statistic]) -> int:
    lengths = {name: len(stat.terms) for name, stat in statistics.items()}
    n = next(iter(lengths.values()))
    for name, length in lengths.items():
        if length != n:
            raise BadInput(f"bootstrap: statistic '{name}' has {length} items, others have {n}")
    return n
