"""Label budgets: how many items must people label to answer a question with 80 % power?

Each planner simulates labelled samples of every size in a grid, runs the
test on each, and reports the share that succeed (the power). Simulations are
seeded (NumPy's ``default_rng``), so a table is reproducible.

- ``plan_alt_test``: pass the alt-test (``agreement.alt_test``) at ε. Items
  are drawn with replacement from a pool of labelled items: a pilot's, or a
  large pool simulated from stated accuracies (``simulated_pool``; with
  20,000 items, drawing from it is as good as drawing from the model). Each
  item's W_h − W_f per annotator depends only on that item's labels, so it is
  computed once on the pool and resampled.
- ``plan_paired``: detect an accuracy difference between two judges on the
  same items with the exact McNemar test at α. A sample of n items is a
  multinomial draw over the four (judge 1 right?, judge 2 right?) cells,
  whose shares come from a pilot or from the stated accuracies and the
  correlation of the judges' correctness.
- ``plan_ci``: reach a Wilson 95 % CI half-width for an accuracy.
- ``plan_above``: show an accuracy above a baseline p0 with the one-sided
  exact binomial test at α. This and ``plan_ci`` have closed forms (sums of
  binomial probabilities), which the tests check the simulation against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from judgekit.errors import BadInput

DEFAULT_SIZES: tuple[int, ...] = (25, 50, 100, 200, 400, 800, 1600)
POWER = 0.8


@dataclass(frozen=True)
class PlanRow:
    """One sample size and how often a sample of that size succeeds."""

    n: int
    power: float
    """Share of simulated samples that pass the test (or reach the half-width)."""


@dataclass(frozen=True)
class Plan:
    """The power table over sample sizes, and the smallest size that reaches ``power_target``."""

    question: str
    rows: tuple[PlanRow, ...]
    simulations: int
    seed: int
    power_target: float = POWER

    @property
    def needed(self) -> int | None:
        """Smallest size in the grid whose power is at least the target (None: none is)."""
        return next((r.n for r in self.rows if r.power >= self.power_target), None)


def simulated_pool(
    *, annotators: int, annotator_accuracy: float, judge_accuracy: float, labels: int = 2, size: int = 20000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Labels from stated accuracies: a uniform true label, each rater right with its accuracy,
    otherwise one of the other labels uniformly. Returns (humans, judge) as integer codes."""
    if annotators < 2:
        raise BadInput(f"--annotators: {annotators} is below 2")
    if labels < 2:
        raise BadInput(f"--labels: {labels} is below 2")
    for name, value in (("--annotator-accuracy", annotator_accuracy), ("--judge-accuracy", judge_accuracy)):
        if not 0 <= value <= 1:
            raise BadInput(f"{name}: {value} is not in [0, 1]")
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, labels, (size, 1))

    def rater(accuracy: float, width: int) -> np.ndarray:
        right = rng.random((size, width)) < accuracy
        wrong = (truth + rng.integers(1, labels, (size, width))) % labels
        return np.where(right, truth, wrong)

    return rater(annotator_accuracy, annotators), rater(judge_accuracy, 1)[:, 0]


def plan_alt_test(
    d: np.ndarray, *, epsilon: float = 0.2, q: float = 0.05, min_items: int = 30,
    sizes: Sequence[int] = DEFAULT_SIZES, simulations: int = 500, seed: int = 0,
) -> Plan:
    """Power to pass the alt-test (ω ≥ 0.5) with n items drawn from a pool.

    ``d`` is the pool's W_h − W_f per item and annotator (``alt_test_differences``).
    """
    from scipy.stats import t as student_t  # heavy: load on use
    from statsmodels.stats.multitest import multipletests

    _check_grid(sizes, simulations)
    d = np.asarray(d, dtype=float)
    if d.ndim != 2 or d.shape[1] < 2 or np.isnan(d).all():
        raise BadInput(f"alt-test pool: expected usable items x at least two annotators, got shape {d.shape}")
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        idx = rng.integers(0, len(d), size=(simulations, n))
        sample = d[idx]  # (S, n, m)
        labelled = ~np.isnan(sample)
        count = labelled.sum(axis=1)  # (S, m)
        values = np.where(labelled, sample, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = values.sum(axis=1) / count
            var = (np.where(labelled, sample - mean[:, None, :], 0.0) ** 2).sum(axis=1) / (count - 1)
            stat = (mean - epsilon) / np.sqrt(var / count)
            p = student_t.cdf(stat, df=count - 1)
        constant = var == 0  # no spread: the limit of the t-test, as alt_test takes it
        p = np.where(constant, np.where(mean < epsilon, 0.0, 1.0), p)
        tested = count >= min_items
        passes = 0
        for s in range(simulations):
            ps = p[s, tested[s]]
            if len(ps) == 0:
                continue
            rejected = multipletests(ps, alpha=q, method="fdr_by")[0]
            passes += rejected.mean() >= 0.5
        rows.append(PlanRow(int(n), float(passes / simulations)))
    return Plan(f"pass the alt-test at epsilon={epsilon:g} (q={q:g})", tuple(rows), simulations, seed)


def alt_test_differences(humans: np.ndarray, judge: np.ndarray) -> np.ndarray:
    """W_h − W_f per item and annotator under the accuracy alignment (NaN: not labelled or unusable).

    ``humans`` is items x annotators of label codes (negative: no label);
    ``judge`` one code per item (negative: no label).
    """
    humans = np.asarray(humans)
    judge = np.asarray(judge)
    labelled = humans >= 0
    usable = (labelled.sum(axis=1) >= 2) & (judge >= 0)
    out = np.full(humans.shape, np.nan)
    for j in range(humans.shape[1]):
        others = labelled.copy()
        others[:, j] = False
        count = others.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            s_h = ((humans == humans[:, [j]]) & others).sum(axis=1) / count
            s_f = ((humans == judge[:, None]) & others).sum(axis=1) / count
        keep = usable & labelled[:, j]
        out[keep, j] = (s_h >= s_f)[keep].astype(float) - (s_f >= s_h)[keep].astype(float)
    return out


def paired_cells(accuracy_1: float, accuracy_2: float, correlation: float) -> np.ndarray:
    """Shares of (both right, only 1 right, only 2 right, both wrong) from two accuracies and the
    correlation (phi) of the judges' right/wrong outcomes."""
    p1, p2 = accuracy_1, accuracy_2
    for name, value in (("--accuracy", p1), ("--accuracy-2", p2)):
        if not 0 < value < 1:
            raise BadInput(f"{name}: {value} is not in (0, 1)")
    both = p1 * p2 + correlation * np.sqrt(p1 * (1 - p1) * p2 * (1 - p2))
    cells = np.array([both, p1 - both, p2 - both, 1 - p1 - p2 + both])
    if (cells < -1e-12).any():
        raise BadInput(f"--correlation: {correlation} is impossible for accuracies {p1:g} and {p2:g}")
    return np.clip(cells, 0, None) / np.clip(cells, 0, None).sum()


def plan_paired(
    cells: np.ndarray, *, alpha: float = 0.05, sizes: Sequence[int] = DEFAULT_SIZES, simulations: int = 2000,
    seed: int = 0,
) -> Plan:
    """Power of the two-sided exact McNemar test at ``alpha`` on n shared items."""
    from scipy.stats import binom

    _check_grid(sizes, simulations)
    _check_alpha(alpha)
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        counts = rng.multinomial(n, cells, size=simulations)
        b, c = counts[:, 1], counts[:, 2]
        p = np.minimum(1.0, 2 * binom.cdf(np.minimum(b, c), b + c, 0.5))
        p = np.where(b + c == 0, 1.0, p)
        rows.append(PlanRow(int(n), float(np.mean(p < alpha))))
    difference = cells[1] - cells[2]
    return Plan(f"detect an accuracy difference of {difference:+.3f} (exact McNemar, alpha={alpha:g})",
                tuple(rows), simulations, seed)


def plan_ci(
    accuracy: float, *, half_width: float, confidence: float = 0.95, sizes: Sequence[int] = DEFAULT_SIZES,
    simulations: int = 2000, seed: int = 0,
) -> Plan:
    """Share of samples of n items whose Wilson CI for the accuracy is at most ±``half_width``."""
    _check_grid(sizes, simulations)
    _check_accuracy(accuracy)
    if not 0 < half_width < 0.5:
        raise BadInput(f"--half-width: {half_width} is not in (0, 0.5)")
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        k = rng.binomial(n, accuracy, size=simulations)
        rows.append(PlanRow(int(n), float(np.mean(wilson_half_width(k, n, confidence) <= half_width))))
    return Plan(f"a {confidence:.0%} Wilson CI of at most +/-{half_width:g} around accuracy {accuracy:g}",
                tuple(rows), simulations, seed)


def wilson_half_width(k: np.ndarray, n: int, confidence: float = 0.95) -> np.ndarray:
    """Half the width of the Wilson interval (statsmodels' ``proportion_confint``)."""
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    return (np.asarray(high) - np.asarray(low)) / 2


def plan_above(
    accuracy: float, *, baseline: float, alpha: float = 0.05, sizes: Sequence[int] = DEFAULT_SIZES,
    simulations: int = 2000, seed: int = 0,
) -> Plan:
    """Power of the one-sided exact binomial test of accuracy > ``baseline`` at ``alpha``."""
    from scipy.stats import binom

    _check_grid(sizes, simulations)
    _check_accuracy(accuracy)
    _check_alpha(alpha)
    if not 0 < baseline < 1:
        raise BadInput(f"--baseline: {baseline} is not in (0, 1)")
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        k = rng.binomial(n, accuracy, size=simulations)
        p = binom.sf(k - 1, n, baseline)  # P(K >= k) under the baseline
        rows.append(PlanRow(int(n), float(np.mean(p <= alpha))))
    return Plan(f"show accuracy {accuracy:g} above {baseline:g} (exact binomial, alpha={alpha:g})",
                tuple(rows), simulations, seed)


def _check_grid(sizes: Sequence[int], simulations: int) -> None:
    if not sizes or any(int(n) < 1 for n in sizes):
        raise BadInput(f"--sizes: every size must be a positive integer, got {list(sizes)}")
    if simulations < 1:
        raise BadInput(f"--simulations: {simulations} is below 1")


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise BadInput(f"--alpha: {alpha} is not in (0, 1)")


def _check_accuracy(accuracy: float) -> None:
    if not 0 < accuracy < 1:
        raise BadInput(f"--accuracy: {accuracy} is not in (0, 1)")
