"""Pairwise judge-vs-gold metrics: accuracy, positional agreement, rates, Cohen's kappa.

Inputs are arrays of winners in the canonical frame (see ``labels``): ``gold``
from humans, and per presentation order the judge's winner — ``first`` from
the order that showed response a first, ``second`` from the order that showed
b first, already mapped back to a/b. An invalid verdict is a missing value.

How invalid verdicts count is an explicit policy (DESIGN, "Agreement"):
  - ``wrong`` (default): counted, never right.
  - ``llmbar``: as ``wrong`` for accuracy; two invalid orders count as agreeing
    in positional agreement, as LLMBar's ``evaluate.py`` does (REFERENCES B1).
  - ``exclude``: dropped from the denominator.
  - ``half``: the expected credit of a fair a/b coin — 1/2 when gold is a or
    b, 0 when gold is tie (a coin never says tie).
  - ``coin``: a seeded a/b coin flip replaces the verdict (ReIFE, REFERENCES B2).
    The first order uses ``seed``, the second ``seed + 1``.

Each metric is built from per-item terms (``uncertainty.Statistic``) so the
same code gives the point value and its bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from judgekit.agreement.labels import INVALID, N_CODES, TIE, A, B, Winners, check_same_length, encode
from judgekit.agreement.significance import TEST_RESAMPLES, PairedTest, paired_test
from judgekit.agreement.uncertainty import (
    Clusters,
    Interval,
    Statistic,
    bootstrap_cis,
    cluster_codes,
    ratio,
)
from judgekit.errors import BadInput

INVALID_POLICIES: tuple[str, ...] = ("wrong", "llmbar", "exclude", "half", "coin")


def accuracy(gold: Winners, pred: Winners, *, invalid: str = "wrong", seed: int = 0) -> float:
    """Share of items whose predicted winner equals gold, Σ 1[pred = gold] / N.

    One presentation order; LLMBar's ``correct_False`` / ``correct_True``
    (Zeng et al. 2024, arXiv 2310.07641). ``invalid`` picks the policy (module
    docstring). NaN when no item counts (e.g. all invalid under ``exclude``).

    >>> accuracy(["a", "b", "a", "b"], ["a", "a", None, "b"])
    0.5
    >>> accuracy(["a", "b", "a", "b"], ["a", "a", None, "b"], invalid="half")
    0.625
    """
    g, p = _encode_pair(gold, pred, "pred")
    return accuracy_statistic(g, p, invalid=invalid, seed=seed).value()


def accuracy_both_orders(
    gold: Winners, first: Winners, second: Winners, *, invalid: str = "wrong", seed: int = 0
) -> float:
    """Share of items right in both presentation orders (LLMBar ``correct_both``).

    Under ``half`` an item's credit is the product of its two orders' credits;
    under ``exclude`` only items valid in both orders count.
    """
    g, p1 = _encode_pair(gold, first, "first")
    p2 = _encode_like(second, g, "second")
    c1, d1 = _credit(g, p1, invalid, seed)
    c2, d2 = _credit(g, p2, invalid, seed + 1)
    return float(ratio(np.sum(c1 * c2), np.sum(d1 * d2)))


def positional_agreement(first: Winners, second: Winners, *, invalid_agree: bool = False) -> float:
    """Share of items with the same winner in both orders (LLMBar "Agr", ``equal``).

    A tie in both orders agrees. An invalid order disagrees with anything,
    except that with ``invalid_agree=True`` two invalid orders agree, as in
    LLMBar's published figures (``None == None``; REFERENCES B1).

    >>> positional_agreement(["a", "b", None, "tie"], ["a", "a", None, "tie"])
    0.5
    >>> positional_agreement(["a", "b", None, "tie"], ["a", "a", None, "tie"], invalid_agree=True)
    0.75
    """
    p1 = encode(first, name="first")
    p2 = _encode_like(second, p1, "second")
    return agreement_statistic(p1, p2, invalid_agree=invalid_agree).value()


def invalid_rate(pred: Winners) -> float:
    """Share of verdicts that are invalid (missing). NaN for no verdicts."""
    p = encode(pred, name="pred")
    return float(ratio(np.sum(p == INVALID), p.size))


def tie_rate(pred: Winners) -> float:
    """Share of verdicts that are ties, over all verdicts (invalid included)."""
    p = encode(pred, name="pred")
    return float(ratio(np.sum(p == TIE), p.size))


def cohen_kappa(gold: Winners, pred: Winners, *, invalid: str = "wrong", seed: int = 0) -> float:
    """Cohen's kappa of the judge against gold: κ = (p_o − p_e) / (1 − p_e).

    p_o is the observed agreement and p_e = Σ_k p_gold(k) p_pred(k) the chance
    agreement from the marginals (Cohen 1960). Both sides use one label set,
    {a, b, tie, invalid}, so a label means the same on both sides (LLMBar's
    published ``kappa_*`` mix {0,1} predictions with {1,2} labels; REFERENCES
    B1). Invalid verdicts: ``wrong``/``llmbar`` keep them as their own
    category (never matching gold); ``exclude`` drops them; ``coin`` flips
    them; ``half`` splits them half to a, half to b (the coin's expected
    table). NaN when p_e = 1 (both sides constant on the same label).
    """
    g, p = _encode_pair(gold, pred, "pred")
    return kappa_statistic(g, p, invalid=invalid, seed=seed).value()


@dataclass(frozen=True)
class PairwiseSummary:
    """Headline numbers of one judge on one set of items, each with its interval.

    Per-order fields are None when the judge ran a single order. ``accuracy``
    averages the orders (LLMBar "Acc"); ``cohen_kappa`` likewise averages the
    per-order kappas. Rates pool both orders. The invalid policy shapes the
    accuracies and kappa; positional agreement always counts an invalid order
    as disagreeing, except that ``llmbar`` lets two invalid orders agree.
    The ``*final*`` fields score the protocol's combined verdict and are None
    unless ``final`` was given.
    """

    n: int
    invalid_policy: str
    accuracy: Interval
    accuracy_first_order: Interval
    accuracy_second_order: Interval | None
    accuracy_both_orders: Interval | None
    positional_agreement: Interval | None
    invalid_rate: Interval
    tie_rate: Interval
    cohen_kappa: Interval
    accuracy_final: Interval | None
    final_invalid_rate: Interval | None = None
    final_tie_rate: Interval | None = None


def pairwise_summary(
    gold: Winners,
    first: Winners,
    second: Winners | None = None,
    final: Winners | None = None,
    *,
    invalid: str = "wrong",
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Clusters | None = None,
) -> PairwiseSummary:
    """All headline pairwise numbers with seeded bootstrap intervals (clustered when given).

    ``final`` is the verdict's own winner when the protocol combines orders
    (agree-or-tie, a synthesis call, summed margins); it adds
    ``accuracy_final`` and the final verdicts' invalid and tie rates. Judges
    scored on the same items with the same seed share bootstrap resamples.
    """
    g, p1 = _encode_pair(gold, first, "first")
    orders = [p1] if second is None else [p1, _encode_like(second, g, "second")]
    stats = {
        "accuracy_first_order": accuracy_statistic(g, p1, invalid=invalid, seed=seed),
        "invalid_rate": _rate_statistic(orders, INVALID),
        "tie_rate": _rate_statistic(orders, TIE),
        "cohen_kappa": _mean_kappa_statistic(g, orders, invalid=invalid, seed=seed),
    }
    if second is not None:
        p2 = orders[1]
        stats |= {
            "accuracy": mean_of_orders_statistic(g, orders, invalid=invalid, seed=seed),
            "accuracy_second_order": accuracy_statistic(g, p2, invalid=invalid, seed=seed + 1),
            "accuracy_both_orders": both_orders_statistic(g, p1, p2, invalid=invalid, seed=seed),
            "positional_agreement": agreement_statistic(p1, p2, invalid_agree=invalid == "llmbar"),
        }
    if final is not None:
        pf = _encode_like(final, g, "final")
        stats |= {
            "accuracy_final": accuracy_statistic(g, pf, invalid=invalid, seed=seed),
            "final_invalid_rate": _rate_statistic([pf], INVALID),
            "final_tie_rate": _rate_statistic([pf], TIE),
        }
    ci = bootstrap_cis(stats, confidence=confidence, n_resamples=n_resamples, seed=seed, clusters=clusters)
    return PairwiseSummary(
        n=len(g),
        invalid_policy=invalid,
        accuracy=ci.get("accuracy", ci["accuracy_first_order"]),
        accuracy_first_order=ci["accuracy_first_order"],
        accuracy_second_order=ci.get("accuracy_second_order"),
        accuracy_both_orders=ci.get("accuracy_both_orders"),
        positional_agreement=ci.get("positional_agreement"),
        invalid_rate=ci["invalid_rate"],
        tie_rate=ci["tie_rate"],
        cohen_kappa=ci["cohen_kappa"],
        accuracy_final=ci.get("accuracy_final"),
        final_invalid_rate=ci.get("final_invalid_rate"),
        final_tie_rate=ci.get("final_tie_rate"),
    )


@dataclass(frozen=True)
class PairedComparison:
    """Two judges on the same items: accuracy difference (first − second) and its paired test."""

    n: int
    accuracy_difference: Interval
    test: PairedTest


def compare_judges(
    gold: Winners,
    judge_1: Sequence[Winners],
    judge_2: Sequence[Winners],
    *,
    invalid: str = "wrong",
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Clusters | None = None,
    test_resamples: int = TEST_RESAMPLES,
) -> PairedComparison:
    """Is judge 1 more accurate than judge 2 on the same items?

    Each judge is a sequence of winner arrays scored together, e.g. ``(first,
    second)`` for LLMBar's Acc or ``(final,)`` for the combined verdict; both
    must have as many. The accuracy difference (mean over the arrays, as in
    ``pairwise_summary``) gets a paired bootstrap interval: both judges are
    scored on the same resampled items (or clusters). The test works on
    per-item scores, the item's credit averaged over its arrays (0, ½ or 1
    for two orders): exact McNemar for one array of 0/1 scores on
    independent items, otherwise the sign-flip test (``significance``),
    clustered when clusters are given. Items that count for neither judge
    (``exclude`` with every order invalid) are left out of the test.
    """
    if len(judge_1) != len(judge_2) or not judge_1:
        raise BadInput(f"compare_judges: judges need the same number of orders (got {len(judge_1)} and {len(judge_2)})")
    g, _ = _encode_pair(gold, judge_1[0], "judge_1[0]")
    orders_1 = [_encode_like(p, g, f"judge_1[{i}]") for i, p in enumerate(judge_1)]
    orders_2 = [_encode_like(p, g, f"judge_2[{i}]") for i, p in enumerate(judge_2)]
    acc_1 = mean_of_orders_statistic(g, orders_1, invalid=invalid, seed=seed)
    acc_2 = mean_of_orders_statistic(g, orders_2, invalid=invalid, seed=seed)
    k = acc_1.terms.shape[1]
    difference = Statistic(
        np.hstack([acc_1.terms, acc_2.terms]),
        lambda s: acc_1.fn(s[..., :k]) - acc_2.fn(s[..., k:]),
    )
    interval = bootstrap_cis({"d": difference}, confidence=confidence, n_resamples=n_resamples, seed=seed,
                             clusters=clusters)["d"]
    score_1, counted_1 = _item_scores(acc_1.terms)
    score_2, counted_2 = _item_scores(acc_2.terms)
    keep = counted_1 & counted_2
    kept = None
    if clusters is not None:
        kept = cluster_codes(clusters.codes[keep].tolist())
    test = paired_test(score_1[keep], score_2[keep], clusters=kept, n_resamples=test_resamples, seed=seed)
    return PairedComparison(n=len(g), accuracy_difference=interval, test=test)


def _item_scores(terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-item (mean credit over counted orders, whether any order counted) from credit/count columns."""
    credit, count = terms[:, 0::2].sum(axis=1), terms[:, 1::2].sum(axis=1)
    counted = count > 0
    return np.where(counted, credit / np.where(counted, count, 1), 0.0), counted


# --- statistics as per-item terms (shared by point values and bootstrap) ---


def accuracy_statistic(g: np.ndarray, p: np.ndarray, *, invalid: str, seed: int) -> Statistic:
    """Accuracy of coded winners ``p`` against coded gold ``g``."""
    credit, counted = _credit(g, p, invalid, seed)
    return Statistic(np.column_stack([credit, counted]), lambda s: ratio(s[..., 0], s[..., 1]))


def mean_of_orders_statistic(g: np.ndarray, orders: list[np.ndarray], *, invalid: str, seed: int) -> Statistic:
    """Mean over orders of per-order accuracy (LLMBar "Acc"); order i uses seed + i."""
    columns = []
    for i, p in enumerate(orders):
        columns.extend(_credit(g, p, invalid, seed + i))
    m = len(orders)
    return Statistic(
        np.column_stack(columns),
        lambda s: np.mean([ratio(s[..., 2 * i], s[..., 2 * i + 1]) for i in range(m)], axis=0),
    )


def both_orders_statistic(g: np.ndarray, p1: np.ndarray, p2: np.ndarray, *, invalid: str, seed: int) -> Statistic:
    """Share of items right in both orders (see ``accuracy_both_orders``)."""
    c1, d1 = _credit(g, p1, invalid, seed)
    c2, d2 = _credit(g, p2, invalid, seed + 1)
    return Statistic(np.column_stack([c1 * c2, d1 * d2]), lambda s: ratio(s[..., 0], s[..., 1]))


def agreement_statistic(p1: np.ndarray, p2: np.ndarray, *, invalid_agree: bool) -> Statistic:
    """Positional agreement of two coded orders (see ``positional_agreement``)."""
    both_invalid = (p1 == INVALID) & (p2 == INVALID)
    agree = (p1 == p2) & ~both_invalid
    if invalid_agree:
        agree |= both_invalid
    return Statistic(np.column_stack([agree, np.ones(len(p1))]), lambda s: ratio(s[..., 0], s[..., 1]))


def kappa_statistic(g: np.ndarray, p: np.ndarray, *, invalid: str, seed: int) -> Statistic:
    """Cohen's kappa of coded winners against coded gold (see ``cohen_kappa``)."""
    return Statistic(_confusion_terms(g, p, invalid, seed), _gold_kappa)


def kappa_from_table(table: np.ndarray, *, n_rows: int | None = None) -> np.ndarray:
    """Cohen's kappa from flattened confusion tables (..., R*C), vectorised.

    Rows are one rater's labels and columns the other's, in the same label
    order; the first min(R, C) labels are shared, extra ones (e.g. an
    ``invalid`` column that gold never uses) only add disagreement. Square
    (R = C) unless ``n_rows`` says otherwise.
    """
    t = np.asarray(table, dtype=np.float64)
    rows = n_rows or int(round(np.sqrt(t.shape[-1])))
    t = t.reshape(*t.shape[:-1], rows, t.shape[-1] // rows)
    shared = min(t.shape[-2:])
    total = t.sum(axis=(-2, -1))
    observed = np.trace(t[..., :shared, :shared], axis1=-2, axis2=-1)
    chance = np.sum(t.sum(axis=-1)[..., :shared] * t.sum(axis=-2)[..., :shared], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_o = observed / total
        p_e = chance / total**2
        kappa = (p_o - p_e) / (1 - p_e)
    return np.where((total > 0) & (p_e < 1 - 1e-12), kappa, np.nan)


def _mean_kappa_statistic(g: np.ndarray, orders: list[np.ndarray], *, invalid: str, seed: int) -> Statistic:
    """Mean over orders of per-order kappa against gold; order i uses seed + i."""
    tables = [_confusion_terms(g, p, invalid, seed + i) for i, p in enumerate(orders)]
    k = tables[0].shape[1]
    m = len(orders)
    return Statistic(
        np.hstack(tables),
        lambda s: np.mean([_gold_kappa(s[..., i * k : (i + 1) * k]) for i in range(m)], axis=0),
    )


def _rate_statistic(orders: list[np.ndarray], code: int) -> Statistic:
    hits = np.sum([p == code for p in orders], axis=0)
    counts = np.full(len(orders[0]), float(len(orders)))
    return Statistic(np.column_stack([hits, counts]), lambda s: ratio(s[..., 0], s[..., 1]))


def _credit(g: np.ndarray, p: np.ndarray, invalid: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-item credit and whether the item counts, under an invalid policy."""
    _check_policy(invalid)
    bad = p == INVALID
    if invalid == "coin":
        p = _flip_coins(p, seed)
    credit = (p == g).astype(np.float64)
    counted = np.ones(len(p))
    if invalid == "half":
        credit += 0.5 * (bad & (g != TIE))
    elif invalid == "exclude":
        counted = (~bad).astype(np.float64)
    return credit, counted


def _gold_kappa(table: np.ndarray) -> np.ndarray:
    """Kappa of gold (rows a, b, tie) against predictions (columns a, b, tie, invalid)."""
    return kappa_from_table(table, n_rows=TIE + 1)


def _confusion_terms(g: np.ndarray, p: np.ndarray, invalid: str, seed: int) -> np.ndarray:
    """One-hot (gold, pred) cells of a 3x4 table per item, weighted by policy.

    Gold is never invalid, so its rows are a, b, tie; the prediction columns
    add ``invalid``, which matches no gold label.
    """
    _check_policy(invalid)
    bad = p == INVALID
    if invalid == "coin":
        p = _flip_coins(p, seed)
    n = len(g)
    terms = np.zeros((n, (TIE + 1) * N_CODES))
    rows = np.arange(n)
    if invalid == "half":
        terms[rows[bad], g[bad] * N_CODES + A] = 0.5
        terms[rows[bad], g[bad] * N_CODES + B] = 0.5
        keep = ~bad
    else:
        keep = ~bad if invalid == "exclude" else np.ones(n, dtype=bool)
    terms[rows[keep], g[keep] * N_CODES + p[keep]] = 1.0
    return terms


def _flip_coins(p: np.ndarray, seed: int) -> np.ndarray:
    flips = np.random.default_rng(seed).integers(0, 2, size=len(p)).astype(np.int8)
    return np.where(p == INVALID, flips, p)


def _check_policy(invalid: str) -> None:
    if invalid not in INVALID_POLICIES:
        raise BadInput(f"invalid-verdict policy {invalid!r} is not one of {', '.join(INVALID_POLICIES)}")


def _encode_pair(gold: Winners, pred: Winners, name: str) -> tuple[np.ndarray, np.ndarray]:
    g = encode(gold, name="gold")
    if np.any(g == INVALID):
        raise BadInput(f"gold[{int(np.flatnonzero(g == INVALID)[0])}]: gold label is missing")
    return g, _encode_like(pred, g, name)


def _encode_like(values: Winners, reference: np.ndarray, name: str) -> np.ndarray:
    codes = encode(values, name=name)
    check_same_length(reference=reference, **{name: codes})
    return codes
