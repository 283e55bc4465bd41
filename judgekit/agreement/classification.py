"""Agreement of a single-output classifier judge with human labels.

The judge gives each item one label from a declared label set, or an invalid
verdict (None). Accuracy alone misleads on unbalanced labels: always saying the
majority label scores the majority's base rate while telling nothing apart. So
it comes with chance-corrected figures (Cohen's kappa, MCC), balanced accuracy,
per-class precision/recall and both sides' base rates.

An invalid verdict is its own category that matches no human label (as in
``pairwise``'s Cohen's kappa). How it counts is a policy:
  - ``wrong`` (default): kept, and a disagreement in every figure.
  - ``exclude``: the item is dropped before every figure.
  - ``half``: accuracy credit 1/2; every other figure as ``wrong``.
  - ``coin``: accuracy credit 1/K for K labels, the expected credit of a
    uniform guess (``pairwise`` draws a seeded flip; the expectation needs no
    seed); every other figure as ``wrong``.
The confusion table and the base rates always show every item as given.

Every figure is a function of the confusion table, so one bootstrap covers
them all (``uncertainty``): an item's terms are its one-hot (human, judge) cell.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from judgekit.agreement.uncertainty import (
    Clusters,
    Interval,
    Statistic,
    bootstrap_cis,
    cluster_codes,
    proportion_ci,
    ratio,
)
from judgekit.errors import BadInput

INVALID_POLICIES: tuple[str, ...] = ("wrong", "exclude", "half", "coin")
INVALID = "invalid"
"""The judge's invalid-verdict category: a ``base_rate_judge`` key, so it cannot be a declared label."""
MISSING = -1


@dataclass(frozen=True)
class ClassificationAgreement:
    """One classifier judge against human labels (see ``classification_agreement``).

    ``confusion`` rows are human labels and columns judge labels, both in
    ``labels`` order, plus a last ``invalid`` column only when ``n_invalid``
    > 0; it counts every item whatever the policy. An Interval is None where
    its point value is undefined (e.g. MCC of a constant judge).
    ``per_class`` maps each label to precision, recall, F1 (None where
    undefined) and support (human count). ``tpr``/``tnr`` are the recall of
    ``positive_label`` and of the other label, for two-label sets only.
    Base rates are shares of all ``n`` items; the judge's include
    ``invalid`` when any verdict is invalid.
    """

    labels: tuple[str, ...]
    positive_label: str | None
    n: int
    n_invalid: int
    confusion: list[list[int]]
    accuracy: Interval | None
    balanced_accuracy: Interval | None
    mcc: Interval | None
    cohen_kappa: Interval | None
    per_class: dict[str, dict]
    tpr: float | None
    tnr: float | None
    base_rate_human: dict[str, float]
    base_rate_judge: dict[str, float]
    invalid_rate: float


def classification_agreement(
    human: Sequence[str | None],
    judge: Sequence[str | None],
    *,
    labels: Sequence[str],
    positive_label: str | None = None,
    invalid: str = "wrong",
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Clusters | None = None,
) -> ClassificationAgreement:
    """Accuracy, balanced accuracy, MCC, Cohen's kappa and per-class figures of ``judge`` vs ``human``.

    Items without a human label (None) are left out (``n`` counts the rest).
    A human or judge label outside ``labels`` raises ValueError naming it.
    Accuracy gets a Wilson interval (a plain proportion; its credit is
    fractional under ``half``/``coin``), or a cluster bootstrap when
    ``clusters`` groups items; the other intervals are percentile bootstraps
    of the confusion table, all from the same seeded resamples.
    """
    labels = _check_labels(labels, positive_label, invalid)
    if len(human) != len(judge):
        raise BadInput(f"judge: has {len(judge)} items but human has {len(human)}")
    k = len(labels)
    h, p = _encode(human, labels, "human"), _encode(judge, labels, "judge")
    keep = h != MISSING
    if not keep.any():
        raise BadInput("human: no item has a human label")
    h, p = h[keep], np.where(p[keep] == MISSING, k, p[keep])  # code k: invalid
    if clusters is not None and not keep.all():
        clusters = cluster_codes(clusters.codes[keep].tolist())
    n, bad = len(h), p == k
    cells = _cells(h, p, invalid, k)
    credit, counted = _credit(h, p, invalid, k)
    stats = {"balanced_accuracy": Statistic(cells, _balanced_accuracy), "mcc": Statistic(cells, _mcc),
             "cohen_kappa": Statistic(cells, _kappa)}
    clustered = clusters is not None and clusters.clustered
    if clustered:
        stats["accuracy"] = _accuracy_statistic(credit, counted)
    ci = bootstrap_cis(stats, confidence=confidence, n_resamples=n_resamples, seed=seed, clusters=clusters)
    if clustered:
        accuracy = ci["accuracy"]
    else:
        accuracy = proportion_ci(float(credit.sum()), int(counted.sum()), confidence=confidence)
    raw = np.bincount(h * (k + 1) + p, minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
    n_invalid = int(bad.sum())
    per_class = _per_class(cells.sum(axis=0).reshape(k + 1, k + 1), labels)
    tpr = tnr = None
    if positive_label is not None and k == 2:
        positive = labels.index(positive_label)
        tpr, tnr = per_class[labels[positive]]["recall"], per_class[labels[1 - positive]]["recall"]
    judge_rates = {label: float(raw[:k, c].sum() / n) for c, label in enumerate(labels)}
    if n_invalid:
        judge_rates[INVALID] = n_invalid / n
    return ClassificationAgreement(
        labels=labels,
        positive_label=positive_label,
        n=n,
        n_invalid=n_invalid,
        confusion=raw[:k, : k + 1 if n_invalid else k].tolist(),
        accuracy=_defined(accuracy),
        balanced_accuracy=_defined(ci["balanced_accuracy"]),
        mcc=_defined(ci["mcc"]),
        cohen_kappa=_defined(ci["cohen_kappa"]),
        per_class=per_class,
        tpr=tpr,
        tnr=tnr,
        base_rate_human={label: float(np.sum(h == c) / n) for c, label in enumerate(labels)},
        base_rate_judge=judge_rates,
        invalid_rate=n_invalid / n,
    )


def classification_statistics(human: Sequence[str], judge: Sequence[str | None], *, labels: Sequence[str],
                              invalid: str = "wrong") -> dict[str, Statistic]:
    """Accuracy, balanced accuracy, MCC, Cohen's kappa and ``f1:LABEL`` as Statistics over the items.

    For a paired bootstrap of two judges' difference on the same items: each
    Statistic's terms are per item, in the items' order. Every human label is
    required (no None).
    """
    labels = _check_labels(labels, None, invalid)
    k = len(labels)
    h, p = _encode(human, labels, "human"), _encode(judge, labels, "judge")
    if np.any(h == MISSING):
        raise BadInput(f"human[{int(np.argmax(h == MISSING))}]: no label")
    p = np.where(p == MISSING, k, p)
    cells = _cells(h, p, invalid, k)
    out = {"accuracy": _accuracy_statistic(*_credit(h, p, invalid, k)),
           "balanced_accuracy": Statistic(cells, _balanced_accuracy), "mcc": Statistic(cells, _mcc),
           "cohen_kappa": Statistic(cells, _kappa)}
    for c, label in enumerate(labels):
        out[f"f1:{label}"] = Statistic(cells, lambda s, c=c: _f1(s, c))
    return out


def item_credit(human: Sequence[str], judge: Sequence[str | None], *, labels: Sequence[str],
                invalid: str = "wrong") -> tuple[np.ndarray, np.ndarray]:
    """Each item's accuracy credit under the invalid policy, and whether it counts (False: excluded)."""
    labels = _check_labels(labels, None, invalid)
    k = len(labels)
    h, p = _encode(human, labels, "human"), _encode(judge, labels, "judge")
    credit, counted = _credit(h, np.where(p == MISSING, k, p), invalid, k)
    return credit, counted.astype(bool)


@dataclass(frozen=True)
class MultiAnnotatorSummary:
    """A judge against several human annotators (see ``multi_annotator_summary``).

    ``judge_vs_annotator[j]`` is None for an annotator who labelled nothing;
    ``judge_vs_majority`` is None when no item has a strict majority.
    ``majority_skipped`` counts items without one (tied or unlabelled).
    ``fleiss_items`` counts the items every annotator labelled. The
    ``loo_*`` fields are the leave-one-out ceiling: annotator j (or the
    judge) against the majority of the annotators other than j, averaged
    over j.
    """

    n_items: int
    n_annotators: int
    judge_vs_annotator: tuple[ClassificationAgreement | None, ...]
    judge_vs_majority: ClassificationAgreement | None
    majority_skipped: int
    fleiss_kappa: float | None
    fleiss_items: int
    alpha_humans: float | None
    alpha_humans_and_judge: float | None
    loo_human_accuracy: float | None
    loo_judge_accuracy: float | None


    def as_dict(self) -> dict[str, object]:
        """JSON-ready: each ClassificationAgreement as its accuracy and kappa (with intervals)."""
        def brief(found: ClassificationAgreement | None) -> dict[str, object] | None:
            if found is None:
                return None
            return {"n": found.n, "accuracy": _point(found.accuracy), "accuracy_ci": _bounds(found.accuracy),
                    "cohen_kappa": _point(found.cohen_kappa), "cohen_kappa_ci": _bounds(found.cohen_kappa)}

        return {"n": self.n_items, "n_annotators": self.n_annotators,
                "vs_annotator": [brief(found) for found in self.judge_vs_annotator],
                "vs_majority": brief(self.judge_vs_majority), "majority_skipped": self.majority_skipped,
                "fleiss_kappa_humans": self.fleiss_kappa, "fleiss_items": self.fleiss_items,
                "alpha_humans": self.alpha_humans, "alpha_humans_and_judge": self.alpha_humans_and_judge,
                "leave_one_out_human": self.loo_human_accuracy, "leave_one_out_judge": self.loo_judge_accuracy}


def multi_annotator_summary(
    votes: Sequence[Sequence[str | None]],
    judge: Sequence[str | None],
    *,
    labels: Sequence[str],
    invalid: str = "wrong",
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Clusters | None = None,
) -> MultiAnnotatorSummary:
    """How the judge compares with the humans, and how well the humans agree among themselves.

    ``votes[j][i]`` is annotator j's label of item i (None: not labelled),
    laid out like ``judge``. The majority of an item is its strictly most
    frequent human label: an item whose top labels tie has no majority and
    is skipped, never broken at random, so no figure depends on a tie-break.
    Fleiss' kappa (Fleiss 1971) uses the items every annotator labelled;
    Krippendorff's nominal alpha (Krippendorff 2011) uses all labels, with
    the judge's invalid verdicts as missing. The leave-one-out ceiling asks
    how often a human matches the other humans' majority: a judge far below
    it has room to improve, one near it disagrees with people about as much
    as they do with each other. None marks an undefined figure.
    """
    labels = _check_labels(labels, None, invalid)
    k, m = len(labels), len(votes)
    if m == 0:
        raise BadInput("votes: need at least one annotator")
    for j, row in enumerate(votes):
        if len(row) != len(judge):
            raise BadInput(f"votes[{j}]: has {len(row)} items but judge has {len(judge)}")
    codes = np.array([_encode(row, labels, f"votes[{j}]") for j, row in enumerate(votes)])
    judge_codes = _encode(judge, labels, "judge")
    options = {"labels": labels, "invalid": invalid, "confidence": confidence, "n_resamples": n_resamples,
               "seed": seed, "clusters": clusters}
    per_annotator = tuple(
        classification_agreement(row, judge, **options) if np.any(codes[j] != MISSING) else None
        for j, row in enumerate(votes)
    )
    majority = _majority(codes, k)
    vs_majority = None
    if np.any(majority != MISSING):
        vs_majority = classification_agreement([labels[c] if c != MISSING else None for c in majority], judge,
                                               **options)
    complete = codes[:, np.all(codes != MISSING, axis=0)]
    human_loo, judge_loo = [], []
    predicted = np.where(judge_codes == MISSING, k, judge_codes)
    for j in range(m):
        others = _majority(np.delete(codes, j, axis=0), k)
        use = (codes[j] != MISSING) & (others != MISSING)
        if use.any():
            human_loo.append(float(np.mean(codes[j, use] == others[use])))
            credit, counted = _credit(others[use], predicted[use], invalid, k)
            judge_loo.append(float(ratio(credit.sum(), counted.sum())))
    return MultiAnnotatorSummary(
        n_items=len(judge),
        n_annotators=m,
        judge_vs_annotator=per_annotator,
        judge_vs_majority=vs_majority,
        majority_skipped=int(np.sum(majority == MISSING)),
        fleiss_kappa=_fleiss(complete, k),
        fleiss_items=complete.shape[1],
        alpha_humans=_alpha(codes, k),
        alpha_humans_and_judge=_alpha(np.vstack([codes, judge_codes]), k),
        loo_human_accuracy=_mean(human_loo),
        loo_judge_accuracy=_mean(judge_loo),
    )


# --- figures of summed confusion tables (..., (K+1)**2): rows human, columns judge, last = invalid ---


def _square(sums: np.ndarray) -> np.ndarray:
    sums = np.asarray(sums, dtype=np.float64)
    side = math.isqrt(sums.shape[-1])
    return sums.reshape(*sums.shape[:-1], side, side)


def _balanced_accuracy(sums: np.ndarray) -> np.ndarray:
    """Mean per-class recall over the labels humans used (Brodersen et al. 2010).

    Each class weighs the same whatever its size, so always saying the
    majority label scores 1/K, not the majority's share. Classes without
    human support are left out, as scikit-learn does.
    """
    table = _square(sums)[..., :-1, :]  # the invalid row is always empty
    support = table.sum(axis=-1)
    recall = ratio(np.diagonal(table, axis1=-2, axis2=-1), support)
    used = support > 0
    return ratio(np.where(used, recall, 0.0).sum(axis=-1), used.sum(axis=-1))


def _kappa(sums: np.ndarray) -> np.ndarray:
    """Cohen's kappa, (p_o - p_e) / (1 - p_e), agreement beyond chance (Cohen 1960).

    Chance p_e comes from the two marginals; written over the total T as
    (T·trace - Σ row·col) / (T² - Σ row·col). NaN when p_e = 1.
    """
    table = _square(sums)
    total = table.sum(axis=(-2, -1))
    chance = np.sum(table.sum(axis=-1) * table.sum(axis=-2), axis=-1)
    numerator = total * np.trace(table, axis1=-2, axis2=-1) - chance
    return ratio(numerator, np.where(total**2 - chance > 1e-9 * total**2, total**2 - chance, 0.0))


def _mcc(sums: np.ndarray) -> np.ndarray:
    """Matthews correlation (Matthews 1975), in its K-class form (Gorodkin 2004; as scikit-learn).

    The correlation between the one-hot human and judge labels: it is high
    only when every class is told apart. NaN when either side is constant
    (scikit-learn reports 0 there; a constant rater has no correlation).
    """
    table = _square(sums)
    total = table.sum(axis=(-2, -1))
    rows, cols = table.sum(axis=-1), table.sum(axis=-2)
    covariance = np.trace(table, axis1=-2, axis2=-1) * total - np.sum(rows * cols, axis=-1)
    spread = (total**2 - np.sum(rows**2, axis=-1)) * (total**2 - np.sum(cols**2, axis=-1))
    with np.errstate(invalid="ignore"):
        return ratio(covariance, np.sqrt(np.where(spread > 0, spread, 0.0)))


def _f1(sums: np.ndarray, c: int) -> np.ndarray:
    """F1 of label c: 2·hits / (human count + judge count)."""
    table = _square(sums)
    return ratio(2 * table[..., c, c], table[..., c, :].sum(axis=-1) + table[..., :, c].sum(axis=-1))


def _cells(h: np.ndarray, p: np.ndarray, invalid: str, k: int) -> np.ndarray:
    """Each item's one-hot (human, judge) cell of the (K+1)² table; excluded invalid items are all zero."""
    cells = np.zeros((len(h), (k + 1) ** 2))
    cells[np.arange(len(h)), h * (k + 1) + p] = 1.0
    if invalid == "exclude":
        cells[p == k] = 0.0
    return cells


def _accuracy_statistic(credit: np.ndarray, counted: np.ndarray) -> Statistic:
    return Statistic(np.column_stack([credit, counted]), lambda s: ratio(s[..., 0], s[..., 1]))


def _point(interval: Interval | None) -> float | None:
    return None if interval is None else _number(interval.estimate)


def _bounds(interval: Interval | None) -> list[float] | None:
    if interval is None or not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return None
    return [float(interval.low), float(interval.high)]


def _per_class(table: np.ndarray, labels: tuple[str, ...]) -> dict[str, dict]:
    k = len(labels)
    hits, support, said = np.diag(table)[:k], table[:k].sum(axis=1), table[:, :k].sum(axis=0)
    return {
        label: {
            "precision": _number(ratio(hits[c], said[c])),
            "recall": _number(ratio(hits[c], support[c])),
            "f1": _number(ratio(2 * hits[c], support[c] + said[c])),
            "support": int(support[c]),
        }
        for c, label in enumerate(labels)
    }


def _credit(h: np.ndarray, p: np.ndarray, invalid: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-item accuracy credit and whether the item counts, under an invalid policy (code k: invalid)."""
    bad = p == k
    credit, counted = (h == p).astype(np.float64), np.ones(len(h))
    if invalid == "exclude":
        counted[bad] = 0.0
    elif invalid in ("half", "coin"):
        credit[bad] = 0.5 if invalid == "half" else 1 / k
    return credit, counted


def _majority(codes: np.ndarray, k: int) -> np.ndarray:
    """Per item (column) the strictly most frequent code, MISSING for a tie or no votes."""
    counts = np.stack([np.sum(codes == c, axis=0) for c in range(k)], axis=1)
    top = counts.max(axis=1)
    unique = np.sum(counts == top[:, None], axis=1) == 1
    return np.where(unique & (top > 0), counts.argmax(axis=1), MISSING)


def _fleiss(complete: np.ndarray, k: int) -> float | None:
    from statsmodels.stats.inter_rater import fleiss_kappa  # heavy (scipy): load on use

    if complete.shape[0] < 2 or complete.shape[1] == 0:
        return None
    table = np.stack([np.sum(complete == c, axis=0) for c in range(k)], axis=1)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _number(fleiss_kappa(table, method="fleiss"))


def _alpha(codes: np.ndarray, k: int) -> float | None:
    import krippendorff

    data = np.where(codes == MISSING, np.nan, codes.astype(np.float64))
    pairable = data[:, np.sum(~np.isnan(data), axis=0) >= 2]
    if len(np.unique(pairable[~np.isnan(pairable)])) < 2:
        return None  # no item with two labels, or a single value: no disagreement to expect
    domain = np.arange(k, dtype=np.float64)
    return _number(krippendorff.alpha(reliability_data=data, value_domain=domain, level_of_measurement="nominal"))


def _encode(values: Sequence[object], labels: tuple[str, ...], name: str) -> np.ndarray:
    """Codes into ``labels``; MISSING for None/NaN; ValueError naming position and value otherwise."""
    index = {label: code for code, label in enumerate(labels)}
    codes = np.full(len(values), MISSING, dtype=np.int64)
    for i, value in enumerate(values):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if value not in index:
            raise BadInput(f"{name}[{i}]: label {value!r} is not one of {', '.join(map(str, labels))}")
        codes[i] = index[value]
    return codes


def _check_labels(labels: Sequence[str], positive_label: str | None, invalid: str) -> tuple[str, ...]:
    labels = tuple(labels)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise BadInput(f"labels: need at least two distinct labels, got {list(labels)}")
    if INVALID in labels:
        raise BadInput(f"labels: {INVALID!r} names the invalid-verdict category; rename that label")
    if positive_label is not None and positive_label not in labels:
        raise BadInput(f"positive_label: {positive_label!r} is not one of {', '.join(labels)}")
    if invalid not in INVALID_POLICIES:
        raise BadInput(f"invalid-verdict policy {invalid!r} is not one of {', '.join(INVALID_POLICIES)}")
    return labels


def _number(value: object) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _defined(interval: Interval) -> Interval | None:
    return None if math.isnan(interval.estimate) else interval


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None
