"""Paired tests between two judges on the same items, and multiplicity over many tests.

Two judges scored on the same items give each item a score per judge (1
right, 0 wrong, ½ for an item right in one of its two presentation orders).
Under the null hypothesis that the judges are exchangeable, the sign of each
item's difference d_i = s_1(i) − s_2(i) is a fair coin, so the sign-flip
(randomisation) test compares |Σ d_i| with its distribution over all 2^k sign
patterns of the k non-zero differences (Fisher 1935; Good, "Permutation
Tests", 2005). With clusters the unit is the cluster: its summed difference
flips as a whole, which keeps the test valid when items of one instruction are
correlated. The p-value is exact whenever it can be had cheaply: with few
non-zero differences every pattern is enumerated; when the differences lie on
a small lattice (multiples of ½ or ¼, as scores from two orders do, however
many items) the null distribution of the sum is the convolution of one
binomial per distinct |difference|, which is the enumeration's result without
enumerating. Otherwise a seeded Monte-Carlo sample of patterns gives p =
(1 + hits) / (1 + resamples), which never reports 0.

On 0/1 scores without clusters the exact sign-flip test is the exact McNemar
test (its discordant pairs are the non-zero differences), so single-order
judges keep McNemar's name and statsmodels' implementation.

Many pairwise tests in one leaderboard need a correction: Holm (1979) keeps
the family-wise error rate, Benjamini–Hochberg (1995) the false discovery
rate (REFERENCES E3). Both are a sort and a running extreme, computed here
and tested against statsmodels' ``multipletests``, whose import would cost
the default run's leaderboard two seconds.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from judgekit.agreement.uncertainty import Clusters, Statistic, mcnemar_exact, one_blas_thread
from judgekit.errors import BadInput

MAX_EXACT = 20
"""Enumerate all 2^k sign patterns up to this many non-zero differences (about a million)."""

MAX_LATTICE = 2_000_000
"""Largest support (in lattice steps) of the summed difference that the exact convolution handles."""

_UNITS = (1, 2, 3, 4, 6, 8, 12)
"""Lattices tried for the exact convolution: differences that are multiples of 1/q."""

TEST_RESAMPLES = 100_000
"""Monte-Carlo sign patterns beyond ``MAX_EXACT`` (standard error of p below 0.0016)."""

_BLOCK = 1 << 15
"""Sign patterns evaluated at once: bounds memory to a few MB."""


class PairedTest(NamedTuple):
    """A paired test's outcome: its name (with how p was computed), p, and the discordance."""

    name: str
    p_value: float
    n: int
    """Items compared."""
    only_1_higher: int
    """Items where judge 1 scored higher (for 0/1 scores: only judge 1 right)."""
    only_2_higher: int


def paired_test(scores_1: np.ndarray, scores_2: np.ndarray, *, clusters: Clusters | None = None,
                max_exact: int = MAX_EXACT, n_resamples: int = TEST_RESAMPLES, seed: int = 0) -> PairedTest:
    """Do two judges' per-item scores differ? McNemar exact or the sign-flip test (module docstring)."""
    s1, s2 = np.asarray(scores_1, dtype=np.float64), np.asarray(scores_2, dtype=np.float64)
    if s1.shape != s2.shape:
        raise BadInput(f"paired test: score arrays differ in shape ({s1.shape} vs {s2.shape})")
    d = s1 - s2
    higher_1, higher_2 = int(np.sum(d > 0)), int(np.sum(d < 0))
    clustered = clusters is not None and clusters.clustered
    binary = bool(np.all((s1 == 0) | (s1 == 1)) and np.all((s2 == 0) | (s2 == 1)))
    if binary and not clustered:
        result = mcnemar_exact(s1 == 1, s2 == 1)
        return PairedTest("McNemar exact", result.pvalue, len(d), higher_1, higher_2)
    p, how = sign_flip_test(d, clusters=clusters, max_exact=max_exact, n_resamples=n_resamples, seed=seed)
    return PairedTest(how, p, len(d), higher_1, higher_2)


def sign_flip_test(differences: np.ndarray, *, clusters: Clusters | None = None, max_exact: int = MAX_EXACT,
                   n_resamples: int = TEST_RESAMPLES, seed: int = 0) -> tuple[float, str]:
    """Two-sided sign-flip test of mean difference 0: (p, a name saying how p was computed)."""
    d = np.asarray(differences, dtype=np.float64)
    unit = "items"
    if clusters is not None and clusters.clustered:
        if len(clusters.codes) != len(d):
            raise BadInput(f"sign-flip test: {len(clusters.codes)} cluster keys for {len(d)} differences")
        d = np.bincount(clusters.codes, weights=d, minlength=clusters.n_clusters)
        unit = f"{clusters.n_clusters} clusters"
    scale = max(1.0, float(np.max(np.abs(d)))) if d.size else 1.0
    d = d[np.abs(d) > 1e-12 * scale]
    k = len(d)
    observed = abs(float(d.sum()))
    tolerance = 1e-9 * max(1.0, observed)
    if k <= max_exact:
        hits = sum(int(np.sum(np.abs(signs @ d) >= observed - tolerance)) for signs in _all_signs(k))
        return hits / 2**k, f"sign-flip permutation over {unit}, exact ({2**k} patterns)"
    steps = _on_lattice(d)
    if steps is not None:
        return (_lattice_p(steps, np.sign(d)),
                f"sign-flip permutation over {unit}, exact (2^{k} patterns, by convolution)")
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_resamples, _BLOCK):
        block = min(_BLOCK, n_resamples - start)
        signs = rng.integers(0, 2, size=(block, k), dtype=np.int8) * 2 - 1
        hits += int(np.sum(np.abs(signs @ d) >= observed - tolerance))
    return (1 + hits) / (1 + n_resamples), (
        f"sign-flip permutation over {unit}, Monte Carlo ({n_resamples} resamples, seed {seed})")


def _on_lattice(d: np.ndarray) -> np.ndarray | None:
    """|d| as whole numbers of the coarsest lattice 1/q that holds them all, if the sum's support is small."""
    magnitude = np.abs(d)
    for q in _UNITS:
        steps = np.rint(magnitude * q)
        if np.allclose(steps, magnitude * q, rtol=0, atol=1e-9) and steps.sum() * 2 + 1 <= MAX_LATTICE:
            return steps.astype(np.int64)
    return None


def _lattice_p(steps: np.ndarray, signs: np.ndarray) -> float:
    """Exact P(|Σ ±v_i| ≥ |Σ sign_i v_i|) for whole-number magnitudes v_i under fair sign flips.

    Each distinct magnitude v held by c items adds v·(2X − c) with X ~
    Binomial(c, ½). The others' sum is convolved on the lattice; the most
    common magnitude is then added through its binomial tails, so two-order
    scores (magnitudes ½ and 1) cost one binomial mass and one tail sweep.
    """
    observed = abs(int(np.sum(signs * steps)))
    magnitudes, counts = np.unique(steps, return_counts=True)
    last = int(np.argmax(counts))
    mass, low = np.ones(1), 0  # mass[i] is P(partial sum = low + i)
    for j, (v, c) in enumerate(zip(magnitudes.tolist(), counts.tolist(), strict=True)):
        if j == last:
            continue
        spread = np.zeros(2 * v * c + 1)
        spread[:: 2 * v] = _fair_binomial_pmf(c)
        mass, low = np.convolve(mass, spread), low - v * c
    v, c = int(magnitudes[last]), int(counts[last])
    partial = low + np.arange(mass.size)
    # total = partial + v(2X − c) reaches ±observed when X ≥ ceil((observed − partial + vc) / 2v)
    # or X ≤ floor((−observed − partial + vc) / 2v)
    upper = np.ceil((observed - partial + v * c) / (2 * v))
    lower = np.floor((-observed - partial + v * c) / (2 * v))
    # X ≤ lower is c − X ≥ c − lower, and c − X is Binomial(c, ½) too
    tails = _fair_binomial_at_least(upper, c) + _fair_binomial_at_least(c - lower, c)
    both = (upper <= lower)  # observed == 0 with a partial sum that lets one X count twice
    tails = np.where(both, 1.0, tails)
    return float(min(1.0, np.sum(mass * tails)))


def _fair_binomial_pmf(c: int) -> np.ndarray:
    """P(X = 0..c) for X ~ Binomial(c, ½), in log space so that large c neither overflows nor underflows early.

    scipy.special rather than scipy.stats: the default run reaches this, and
    scipy.stats costs it a second of imports (tests check against scipy.stats).
    """
    from scipy.special import gammaln  # load on use

    k = np.arange(c + 1)
    return np.exp(gammaln(c + 1) - gammaln(k + 1) - gammaln(c - k + 1) - c * np.log(2.0))


def _fair_binomial_at_least(x: np.ndarray, c: int) -> np.ndarray:
    """P(X ≥ x) for X ~ Binomial(c, ½), elementwise over any real x."""
    from scipy.special import bdtrc  # P(X > k)

    k = np.ceil(np.asarray(x, dtype=np.float64)) - 1
    inside = np.clip(k, 0, c).astype(np.int64)
    return np.where(k < 0, 1.0, np.where(k >= c, 0.0, bdtrc(inside, c, 0.5)))


def _all_signs(k: int):
    """Every ±1 vector of length k, a block of rows at a time."""
    bits = np.arange(k, dtype=np.int64)
    for start in range(0, 2**k, _BLOCK):
        patterns = np.arange(start, min(start + _BLOCK, 2**k), dtype=np.int64)
        yield ((patterns[:, None] >> bits) & 1).astype(np.float64) * 2 - 1


class Adjusted(NamedTuple):
    """Raw p-values with their Holm-adjusted p and Benjamini–Hochberg q, in input order."""

    p_holm: list[float]
    q_bh: list[float]


def adjust_p_values(p_values: list[float]) -> Adjusted:
    """Holm (family-wise) and BH (false discovery) adjustments over one family of m tests.

    With p sorted ascending (rank i = 1..m): Holm's adjusted p is the running
    maximum of (m − i + 1)·p_(i); BH's q is the running minimum, from the
    largest p down, of m·p_(i)/i; both capped at 1.
    """
    if not p_values:
        return Adjusted([], [])
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    ranks = np.arange(1, m + 1)
    holm, bh = np.empty(m), np.empty(m)
    holm[order] = np.minimum(1.0, np.maximum.accumulate((m - ranks + 1) * p[order]))
    bh[order] = np.minimum(1.0, np.minimum.accumulate((m * p[order] / ranks)[::-1])[::-1])
    return Adjusted([float(x) for x in holm], [float(x) for x in bh])


SWAP_RESAMPLES = 2_000
"""Random swaps of the two judges per row in ``swap_test``: the standard error of p is about 0.005 at p = 0.05
(a whole HANNA compare tests 190 pairs; 10,000 swaps each took a minute)."""


def swap_test(statistic_1: Statistic, statistic_2: Statistic, *, n_resamples: int = SWAP_RESAMPLES,
              seed: int = 0) -> tuple[float, str]:
    """Two-sided permutation test that two judges' figures are equal, swapping the judges row by row.

    Under the null hypothesis the two judges are exchangeable on every row
    (an input and its responses), so each row's terms may be swapped between
    them (Deutsch, Dror & Roth 2021, "A statistical analysis of summarization
    evaluation metrics", the permutation test over inputs). Works for any
    figure that is a function of summed per-row terms, such as correlations
    within inputs. Both statistics must come from the same function over the
    same rows; p counts resamples with |difference| at least the observed one.
    """
    t1, t2 = np.asarray(statistic_1.terms, dtype=np.float64), np.asarray(statistic_2.terms, dtype=np.float64)
    if t1.shape != t2.shape:
        raise BadInput(f"swap test: the two statistics have terms of shapes {t1.shape} and {t2.shape}")
    observed = float(statistic_1.fn(t1.sum(axis=0)) - statistic_2.fn(t2.sum(axis=0)))
    if not np.isfinite(observed):
        return math.nan, "swap permutation over inputs (undefined difference)"
    rng = np.random.default_rng(seed)
    delta = t2 - t1
    hits, counted = 0, 0
    for start in range(0, n_resamples, _BLOCK // 8):
        block = min(_BLOCK // 8, n_resamples - start)
        swaps = rng.integers(0, 2, size=(block, len(t1))).astype(np.float64)
        with one_blas_thread():
            moved = swaps @ delta
        values = statistic_1.fn(t1.sum(axis=0) + moved) - statistic_2.fn(t2.sum(axis=0) - moved)
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        counted += int(finite.sum())
        hits += int(np.sum(np.abs(values[finite]) >= abs(observed) - 1e-12 * max(1.0, abs(observed))))
    p = (1 + hits) / (1 + counted)
    return p, f"swap permutation over {len(t1)} inputs, Monte Carlo ({n_resamples} resamples, seed {seed})"
