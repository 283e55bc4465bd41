"""The alternative annotator test: can a judge stand in for one of the human annotators?

Calderon, Reichart & Dror, "The Alternative Annotator Test for LLM-as-a-Judge"
(ACL 2025, arXiv 2501.10970); the exact procedure is REFERENCES E1:

1. Keep the items with at least two human labels and a candidate label.
   Leave out annotators with fewer than ``min_items`` such items.
2. For each remaining annotator j and each of j's items i, score the
   candidate f and the annotator against the *other* annotators on i:
   s_f = S(f(i), others), s_h = S(h_j(i), others). W_f(i) = 1[s_f ≥ s_h],
   W_h(i) = 1[s_h ≥ s_f] (a tie counts for both).
3. p_j: one-sided one-sample t-test of mean(W_h − W_f) < ε.
4. Benjamini–Yekutieli at ``q`` over the annotators' p-values.
5. Winning rate ω = rejected / annotators tested; the candidate passes when
   ω ≥ 0.5. Advantage probability ρ = mean over annotators of mean(W_f), the
   chance the candidate is at least as good as a random annotator (for ranking).

S is ``accuracy`` (the share of the others giving the same label) for labels
and ``neg_rmse`` (−sqrt(mean((x − o)²)) over the others) for numeric scores.
ε is the cost–benefit margin: 0.2 for experts, 0.15 for skilled annotators,
0.1 for crowd workers (the authors' guidance).

Inputs are tables with one row per item: ``annotators`` has one column per
human, ``candidates`` one column per judge; a missing cell (None/NaN) is a
label not given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from judgekit.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

ALIGNMENTS: tuple[str, ...] = ("accuracy", "neg_rmse")
PASS_RATE = 0.5
"""The winning rate at which a candidate passes (the paper's threshold)."""


@dataclass(frozen=True)
class AnnotatorTest:
    """One held-out annotator against the candidate."""

    n: int
    """Items of this annotator used (≥ 2 human labels and a candidate label)."""
    p_value: float
    """One-sided t-test of mean(W_h − W_f) < ε."""
    rejected: bool
    """Benjamini–Yekutieli rejection: the candidate is not worse by more than ε."""
    advantage: float
    """mean(W_f): how often the candidate aligns at least as well as this annotator."""


@dataclass(frozen=True)
class CandidateTest:
    """The alt-test of one candidate judge against all annotators."""

    winning_rate: float
    """ω: share of tested annotators whose null was rejected (NaN with none tested)."""
    advantage_probability: float
    """ρ: mean advantage over the tested annotators (NaN with none tested)."""
    passed: bool
    """ω ≥ 0.5."""
    annotators: dict[str, AnnotatorTest]
    """The tested annotators, in input order."""
    n_items: int
    """Items used: at least two human labels and a candidate label."""
    items_left_out: int
    """Items with fewer than two human labels or no candidate label."""
    annotators_left_out: dict[str, int]
    """Annotators with fewer than ``min_items`` usable items, and how many they had."""


@dataclass(frozen=True)
class AltTest:
    """The alt-test of each candidate (``judgekit agreement --alt-test``)."""

    epsilon: float
    q: float
    alignment: str
    min_items: int
    candidates: dict[str, CandidateTest]


def alt_test(
    annotators: pd.DataFrame,
    candidates: pd.DataFrame,
    *,
    epsilon: float = 0.2,
    q: float = 0.05,
    alignment: str = "accuracy",
    min_items: int = 30,
) -> AltTest:
    """Run the alt-test for every candidate column against the annotator columns.

    Raises BadInput for tables of different lengths, fewer than two annotator
    columns (a held-out annotator needs another to be scored against), a
    parameter out of range, or a non-numeric label under ``neg_rmse``.
    """
    if alignment not in ALIGNMENTS:
        raise BadInput(f"alignment {alignment!r} is not one of {', '.join(ALIGNMENTS)}")
    if not 0 < q < 1:
        raise BadInput(f"q: {q} is not in (0, 1)")
    if not 0 <= epsilon < 1:
        raise BadInput(f"epsilon: {epsilon} is not in [0, 1)")
    if min_items < 2:
        raise BadInput(f"min-items: {min_items} is below 2 (a t-test needs two items)")
    if len(annotators) != len(candidates):
        raise BadInput(f"candidates: has {len(candidates)} items but the annotators have {len(annotators)}")
    if annotators.shape[1] < 2:
        raise BadInput(f"annotators: the alt-test needs at least two annotator columns, got {annotators.shape[1]}")
    humans, judges = _values(annotators, candidates, alignment)
    results = {
        str(name): _test_candidate(humans, judges[:, c], annotators.columns, epsilon, q, alignment, min_items)
        for c, name in enumerate(candidates.columns)
    }
    return AltTest(epsilon, q, alignment, min_items, results)


def alt_test_json(result: AltTest) -> dict[str, Any]:
    """The contract's ``alt_test`` object, plus how many items and annotators were left out."""
    return {
        "epsilon": result.epsilon,
        "q": result.q,
        "alignment": result.alignment,
        "min_items": result.min_items,
        "candidates": {
            name: {
                "winning_rate": _json_number(c.winning_rate),
                "advantage_probability": _json_number(c.advantage_probability),
                "passed": c.passed,
                "annotators": {
                    h: {"n": a.n, "p_value": a.p_value, "rejected": a.rejected, "advantage": a.advantage}
                    for h, a in c.annotators.items()
                },
                "n_items": c.n_items,
                "items_left_out": c.items_left_out,
                "annotators_left_out": c.annotators_left_out,
            }
            for name, c in result.candidates.items()
        },
    }


def _test_candidate(
    humans: np.ndarray, judge: np.ndarray, names: pd.Index, epsilon: float, q: float, alignment: str, min_items: int
) -> CandidateTest:
    labelled = ~_missing(humans)
    keep = (labelled.sum(axis=1) >= 2) & ~_missing(judge)
    tested: dict[str, tuple[int, float, float]] = {}
    left_out: dict[str, int] = {}
    for j, name in enumerate(map(str, names)):
        items = np.flatnonzero(keep & labelled[:, j])
        if len(items) < min_items:
            left_out[name] = len(items)
            continue
        w_h, w_f = _wins(humans[items], judge[items], j, labelled[items], alignment)
        tested[name] = (len(items), _one_sided_p(w_h - w_f, epsilon), float(np.mean(w_f)))
    rejected = _by_rejections([p for _, p, _ in tested.values()], q)
    annotators = {
        name: AnnotatorTest(n, p, bool(r), advantage)
        for (name, (n, p, advantage)), r in zip(tested.items(), rejected)
    }
    nan = float("nan")
    winning_rate = float(np.mean(rejected)) if annotators else nan
    advantage_probability = float(np.mean([a.advantage for a in annotators.values()])) if annotators else nan
    return CandidateTest(
        winning_rate=winning_rate,
        advantage_probability=advantage_probability,
        passed=bool(annotators) and winning_rate >= PASS_RATE,
        annotators=annotators,
        n_items=int(keep.sum()),
        items_left_out=int((~keep).sum()),
        annotators_left_out=left_out,
    )


def _wins(
    humans: np.ndarray, judge: np.ndarray, j: int, labelled: np.ndarray, alignment: str
) -> tuple[np.ndarray, np.ndarray]:
    """W_h and W_f of annotator j on its items (rows): each scored against the others."""
    others = labelled.copy()
    others[:, j] = False
    s_h = _alignment(humans[:, j], humans, others, alignment)
    s_f = _alignment(judge, humans, others, alignment)
    return (s_h >= s_f).astype(float), (s_f >= s_h).astype(float)


def _alignment(x: np.ndarray, humans: np.ndarray, others: np.ndarray, alignment: str) -> np.ndarray:
    """S(x_i, others_i) per row, over the columns marked in ``others``."""
    count = others.sum(axis=1)
    if alignment == "accuracy":
        same = (humans == x[:, None]) & others
        return same.sum(axis=1) / count
    diff = np.where(others, humans.astype(float) - x.astype(float)[:, None], 0.0)
    return -np.sqrt((diff**2).sum(axis=1) / count)


def _one_sided_p(d: np.ndarray, epsilon: float) -> float:
    """p of H1: mean(d) < ε, by scipy's one-sample t-test.

    With no spread in ``d`` the t statistic is ±∞ (or 0/0 when the mean is ε
    itself), where scipy returns NaN; the limit is used instead: p = 0 when
    the constant is below ε, else 1.
    """
    from scipy.stats import ttest_1samp  # heavy: load on use

    if np.all(d == d[0]):
        return 0.0 if d[0] < epsilon else 1.0
    return float(ttest_1samp(d, epsilon, alternative="less").pvalue)


def _by_rejections(p_values: list[float], q: float) -> list[bool]:
    """Benjamini–Yekutieli (2001) at level ``q`` by statsmodels' ``fdr_by``."""
    if not p_values:
        return []
    from statsmodels.stats.multitest import multipletests  # heavy: load on use

    return [bool(r) for r in multipletests(p_values, alpha=q, method="fdr_by")[0]]


def _values(annotators: pd.DataFrame, candidates: pd.DataFrame, alignment: str) -> tuple[np.ndarray, np.ndarray]:
    """Both tables as object arrays (labels) or float arrays with NaN (neg_rmse)."""
    if alignment == "accuracy":
        return _labels(annotators), _labels(candidates)
    return _numbers(annotators), _numbers(candidates)


def _labels(frame: pd.DataFrame) -> np.ndarray:
    import pandas as pd  # heavy: load on use

    values = frame.to_numpy(dtype=object)
    return np.where(pd.isna(values), None, values)


def _numbers(frame: pd.DataFrame) -> np.ndarray:
    import pandas as pd  # heavy: load on use

    out = np.full(frame.shape, np.nan)
    values = frame.to_numpy(dtype=object)
    for (row, col), value in np.ndenumerate(values):
        if pd.isna(value):
            continue
        try:
            out[row, col] = float(value)
        except (TypeError, ValueError):
            raise BadInput(
                f"row {row + 1}, column '{frame.columns[col]}': {value!r} is not a number (alignment neg_rmse)"
            ) from None
    return out


def _missing(values: np.ndarray) -> np.ndarray:
    import pandas as pd  # heavy: load on use

    return pd.isna(values)


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value
