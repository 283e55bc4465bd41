"""Agreement among several raters (humans, judges or both) on the same items.

Ratings are a table with one row per item and one column per rater (a pandas
DataFrame, or a 2-D array whose columns are named ``rater1``, ``rater2``, ...);
a missing cell (None/NaN) is a rating that rater did not give. Labels are
coded once against a declared, ordered label set, so ordinal and interval
statistics know the order and spacing of the values.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, NamedTuple

import krippendorff
import numpy as np

from judgekit.agreement.pairwise import kappa_from_table
from judgekit.agreement.uncertainty import ratio
from judgekit.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval")
MISSING = -1


class CodedRatings(NamedTuple):
    """Ratings as integer codes into ``labels`` (MISSING for no rating)."""

    codes: np.ndarray
    """(n_items, n_raters) ints; ``labels[code]`` is the rating."""
    raters: tuple[str, ...]
    labels: tuple[object, ...]


class VsGold(NamedTuple):
    """One rater against gold on the items both labelled."""

    n: int
    accuracy: float
    cohen_kappa: float


class Ceiling(NamedTuple):
    """How well the raters agree with each other: the bar a judge can hope to reach.

    ``mean_pairwise_kappa`` averages Cohen's kappa over rater pairs;
    ``leave_one_out_accuracy`` averages, over raters, each rater's accuracy
    against the majority of the others (items with a strict majority only).
    """

    mean_pairwise_kappa: float
    leave_one_out_accuracy: float


@dataclass(frozen=True)
class RaterAgreement:
    """Everything ``judgekit agreement`` reports for one table (DESIGN, CLI contract)."""

    n_items: int
    raters: tuple[str, ...]
    level: str
    fleiss_kappa: float
    krippendorff_alpha: float
    pairwise_cohen_kappa: dict[str, float]
    vs_gold: dict[str, VsGold]


def code_ratings(ratings: pd.DataFrame | np.ndarray, *, labels: Sequence[object] | None = None) -> CodedRatings:
    """Code a ratings table against ``labels`` (default: the sorted values seen).

    Raises BadInput naming row, column and value for a rating outside
    ``labels``.
    """
    import pandas as pd  # heavy: load on use

    frame = _as_frame(ratings)
    values = frame.to_numpy(dtype=object)
    missing = pd.isna(values)
    if labels is None:
        labels = sorted({v for v in values[~missing]}, key=_label_order)
    labels = tuple(labels)
    codes = np.full(values.shape, MISSING, dtype=np.int64)
    known = missing.copy()
    for code, label in enumerate(labels):
        hit = ~missing & (values == label)
        codes[hit] = code
        known |= hit
    if not known.all():
        row, col = (int(i[0]) for i in np.nonzero(~known))
        raise BadInput(
            f"row {row + 1}, column '{frame.columns[col]}': label {values[row, col]!r} is not one of "
            f"{', '.join(map(str, labels))}"
        )
    return CodedRatings(codes, tuple(str(c) for c in frame.columns), labels)


def fleiss_kappa(ratings: pd.DataFrame | np.ndarray, *, labels: Sequence[object] | None = None) -> float:
    """Fleiss' kappa over the items every rater labelled (Fleiss 1971).

    κ = (P̄ − P̄_e) / (1 − P̄_e), with P̄ the mean per-item share of agreeing
    rater pairs and P̄_e from the pooled label shares; computed by statsmodels'
    ``aggregate_raters`` + ``fleiss_kappa``. NaN with fewer than two raters,
    no complete item, or a single label used throughout.
    """
    coded = code_ratings(ratings, labels=labels)
    return _fleiss(coded)


def krippendorff_alpha(
    ratings: pd.DataFrame | np.ndarray, *, level: str = "nominal", labels: Sequence[object] | None = None
) -> float:
    """Krippendorff's alpha over all items, missing ratings allowed (Krippendorff 2011).

    α = 1 − D_o / D_e with the distance of ``level``; computed by the
    ``krippendorff`` package over the full value domain of ``labels``. For
    ``ordinal`` only the label order matters; for ``interval`` numeric labels
    keep their values and other labels are spaced 0, 1, 2, ... in declared
    order. NaN when no item has two ratings or only one value occurs.
    """
    return _alpha(code_ratings(ratings, labels=labels), level)


def pairwise_cohen_kappas(
    ratings: pd.DataFrame | np.ndarray, *, labels: Sequence[object] | None = None
) -> dict[str, float]:
    """Cohen's kappa for every rater pair, keyed ``"A|B"``, on items both labelled."""
    return _pairwise(code_ratings(ratings, labels=labels))


def rater_vs_gold(
    ratings: pd.DataFrame | np.ndarray, gold: Sequence[object], *, labels: Sequence[object] | None = None
) -> dict[str, VsGold]:
    """Each rater's accuracy and Cohen's kappa against gold, on items both labelled."""
    frame = _as_frame(ratings)
    if len(gold) != len(frame):
        raise BadInput(f"gold: has {len(gold)} items but the ratings have {len(frame)}")
    joined = frame.assign(__gold__=list(gold))
    coded = code_ratings(joined, labels=labels)
    return _vs_gold(coded.codes[:, :-1], coded.codes[:, -1], coded.raters[:-1], len(coded.labels))


def human_ceiling(ratings: pd.DataFrame | np.ndarray, *, labels: Sequence[object] | None = None) -> Ceiling:
    """Mean pairwise kappa and leave-one-out accuracy of raters against each other."""
    coded = code_ratings(ratings, labels=labels)
    kappas = list(_pairwise(coded).values())
    codes, k = coded.codes, len(coded.labels)
    right, total = 0, 0
    for j in range(codes.shape[1]):
        others = np.delete(codes, j, axis=1)
        majority = _strict_majority(others, k)
        usable = (codes[:, j] != MISSING) & (majority != MISSING)
        right += int(np.sum(codes[usable, j] == majority[usable]))
        total += int(np.sum(usable))
    mean_kappa = float(np.nanmean(kappas)) if kappas and not np.all(np.isnan(kappas)) else float("nan")
    return Ceiling(mean_kappa, float(ratio(right, total)))


def majority_label(ratings: pd.DataFrame | np.ndarray, *, labels: Sequence[object] | None = None) -> list[object]:
    """The strict-majority label of each item (None when there is none)."""
    coded = code_ratings(ratings, labels=labels)
    majority = _strict_majority(coded.codes, len(coded.labels))
    return [None if m == MISSING else coded.labels[m] for m in majority]


def rater_agreement(
    ratings: pd.DataFrame,
    *,
    gold: str | None = None,
    level: str = "nominal",
    labels: Sequence[object] | None = None,
) -> RaterAgreement:
    """All multi-rater statistics for a table whose columns are raters (plus ``gold``)."""
    if level not in LEVELS:
        raise BadInput(f"level {level!r} is not one of {', '.join(LEVELS)}")
    coded = code_ratings(ratings, labels=labels)
    raters = tuple(c for c in coded.raters if c != gold)
    cols = [coded.raters.index(r) for r in raters]
    rater_coded = CodedRatings(coded.codes[:, cols], raters, coded.labels)
    vs_gold: dict[str, VsGold] = {}
    if gold is not None:
        gold_codes = coded.codes[:, coded.raters.index(gold)]
        vs_gold = _vs_gold(rater_coded.codes, gold_codes, raters, len(coded.labels))
    return RaterAgreement(
        n_items=len(coded.codes),
        raters=raters,
        level=level,
        fleiss_kappa=_fleiss(rater_coded),
        krippendorff_alpha=_alpha(rater_coded, level),
        pairwise_cohen_kappa=_pairwise(rater_coded),
        vs_gold=vs_gold,
    )


def _fleiss(coded: CodedRatings) -> float:
    from statsmodels.stats.inter_rater import aggregate_raters  # heavy (scipy): load on use
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

    codes = coded.codes
    complete = codes[np.all(codes != MISSING, axis=1)]
    if codes.shape[1] < 2 or len(complete) == 0:
        return float("nan")
    table, _ = aggregate_raters(complete, n_cat=len(coded.labels))
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(sm_fleiss_kappa(table, method="fleiss"))


def _alpha(coded: CodedRatings, level: str) -> float:
    if level not in LEVELS:
        raise BadInput(f"level {level!r} is not one of {', '.join(LEVELS)}")
    domain = _value_domain(coded.labels, level)
    data = np.where(coded.codes == MISSING, np.nan, domain[np.clip(coded.codes, 0, None)]).T
    pairable = np.sum(np.sum(~np.isnan(data), axis=0) >= 2)
    if pairable == 0 or len(np.unique(data[~np.isnan(data)])) < 2:
        return float("nan")
    return float(krippendorff.alpha(data, value_domain=domain, level_of_measurement=level))


def _value_domain(labels: tuple[object, ...], level: str) -> np.ndarray:
    """Numeric values of the labels: their own numbers for interval data, else 0, 1, 2, ..."""
    if level == "interval":
        try:
            return np.array([float(label) for label in labels])  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    return np.arange(len(labels), dtype=np.float64)


def _pairwise(coded: CodedRatings) -> dict[str, float]:
    k = len(coded.labels)
    out = {}
    for i, j in combinations(range(len(coded.raters)), 2):
        out[f"{coded.raters[i]}|{coded.raters[j]}"] = _kappa(coded.codes[:, i], coded.codes[:, j], k)
    return out


def _vs_gold(codes: np.ndarray, gold: np.ndarray, raters: tuple[str, ...], k: int) -> dict[str, VsGold]:
    out = {}
    for j, name in enumerate(raters):
        both = (codes[:, j] != MISSING) & (gold != MISSING)
        acc = float(ratio(np.sum(codes[both, j] == gold[both]), np.sum(both)))
        out[name] = VsGold(int(np.sum(both)), acc, _kappa(codes[:, j], gold, k))
    return out


def _kappa(x: np.ndarray, y: np.ndarray, k: int) -> float:
    both = (x != MISSING) & (y != MISSING)
    table = np.bincount(x[both] * k + y[both], minlength=k * k).astype(np.float64)
    return float(kappa_from_table(table))


def _strict_majority(codes: np.ndarray, k: int) -> np.ndarray:
    counts = np.stack([np.sum(codes == c, axis=1) for c in range(k)], axis=1)
    best = counts.argmax(axis=1)
    top = counts.max(axis=1)
    unique_top = np.sum(counts == top[:, None], axis=1) == 1
    return np.where(unique_top & (top > 0), best, MISSING)


def _as_frame(ratings: pd.DataFrame | np.ndarray) -> pd.DataFrame:
    import pandas as pd  # heavy: load on use

    if isinstance(ratings, pd.DataFrame):
        return ratings
    array = np.asarray(ratings, dtype=object)
    if array.ndim != 2:
        raise BadInput(f"ratings: expected a 2-D table (items x raters), got shape {array.shape}")
    return pd.DataFrame(array, columns=[f"rater{j + 1}" for j in range(array.shape[1])])


def _label_order(label: object) -> tuple[int, float, str]:
    """Numbers (or numeric text, as read from CSV) first in numeric order, then text."""
    try:
        return (0, float(label), "")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return (1, 0.0, str(label))
