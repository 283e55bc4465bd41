"""Which side of a dev/test split each item goes to: clusters kept whole, labels stratified.

Items that share a cluster (the same instruction or input, a declared group,
the same input id) are not independent: a judge tuned on one of them has
partly seen the others. So the split assigns whole clusters, and it balances
every stratum (the human label; for scored data the rounded human score) so
that each side looks like the whole set.

The assignment runs in two steps, both seeded:

1. a greedy pass over the clusters, largest first (ties in a seeded random
   order), putting each on the side that keeps the running test share of
   every stratum closest to the requested share (the per-label bookkeeping
   of iterative stratification, Sechidis, Tsoumakas & Vlahavas, ECML PKDD
   2011, applied to clusters instead of items);
2. a local search that moves one cluster across, or swaps two, while that
   brings the strata shares of both sides closer to the whole set's, never
   letting the test side's size stray from the requested size by more than
   the largest cluster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from judgekit.records import Example, LabelledOutput, ScoredExample

MAX_ROUNDS = 1000
"""Local-search moves at most; each strictly lowers the imbalance, so this only bounds a pathological case."""
SIZE_WEIGHT = 10.0
"""How much a gap in the test side's size counts against gaps in strata shares: enough that singleton
clusters give the requested size exactly (llmbar/natural: 30 of 100), at under 1.5 points of share."""
_NO_GAIN = 1e-12


def cluster_key(item: Example | ScoredExample | LabelledOutput) -> str:
    """The item's cluster, as analysis resamples it: the declared cluster, else the instruction
    (pairs) or input (labelled outputs); scored responses cluster by input id.

    An item with no text to cluster on (an output judged without input) is its own cluster.
    """
    if isinstance(item, ScoredExample):
        key = item.input_id
    elif isinstance(item, LabelledOutput):
        key = item.cluster if item.cluster is not None else item.input
    else:
        key = item.cluster if item.cluster is not None else item.instruction
    return key if key.strip() else f"\0item {item.id}"


def stratum(item: Example | ScoredExample | LabelledOutput) -> str:
    """What the split balances: the gold label (``none`` when unlabelled); for a scored response the
    human mean over its criteria rounded to a whole score (its score band)."""
    if isinstance(item, ScoredExample):
        means = [c.mean for c in item.criteria.values() if c.mean is not None]
        return f"score {round(sum(means) / len(means))}" if means else "none"
    return item.gold or "none"


def assign_test(keys: Sequence[str], strata: Sequence[str], test_share: float, seed: int) -> list[bool]:
    """For each item, True when it goes to the test side; items sharing a key go together.

    The test side holds about ``test_share`` of the items (within the size of
    the largest cluster) and about that share of every stratum.
    """
    members: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    names = sorted(set(strata))
    column = {name: j for j, name in enumerate(names)}
    counts = np.zeros((len(members), len(names)))
    for c, items in enumerate(members.values()):
        for i in items:
            counts[c, column[strata[i]]] += 1
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(members))
    order = shuffled[np.argsort(-counts[shuffled].sum(axis=1), kind="stable")]
    in_test = _refine(counts, order, _greedy(counts, order, test_share, rng), test_share)
    side = dict(zip(members, in_test.tolist(), strict=True))
    return [side[key] for key in keys]


def _greedy(counts: np.ndarray, order: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Each cluster to the side that keeps the test counts closest to ``share`` of what was seen so far."""
    in_test = np.zeros(len(counts), dtype=bool)
    test, seen = np.zeros(counts.shape[1]), np.zeros(counts.shape[1])
    for c in order:
        seen += counts[c]
        with_it, without = _gap(test + counts[c], share * seen), _gap(test, share * seen)
        if with_it < without or (with_it == without and rng.random() < share):
            in_test[c] = True
            test += counts[c]
    return in_test


def _gap(test: np.ndarray, target: np.ndarray) -> float:
    """Squared distance of the test counts from their targets, per stratum and in total."""
    d = test - target
    return float(d @ d + d.sum() ** 2)


def _refine(counts: np.ndarray, order: np.ndarray, in_test: np.ndarray, share: float) -> np.ndarray:
    """Move or swap clusters while that lowers ``_imbalance``; clusters with the same strata counts are
    interchangeable, so only the first of each (in the seeded order) is tried on each side."""
    whole = counts.sum(axis=0)
    largest = counts.sum(axis=1).max()
    in_test = in_test.copy()
    test = counts[in_test].sum(axis=0)
    current = _imbalance(test[None, :], whole, share, largest)[0]
    for _ in range(MAX_ROUNDS):
        leaving = _representatives(counts, order, in_test)
        joining = _representatives(counts, order, ~in_test)
        best, move = current, None
        for leave, after in ((None, test), *((c, test - counts[c]) for c in leaving)):
            # every joining cluster at once (or none): the test side after this leave and that join
            options = np.vstack([after[None, :], after + counts[joining]])
            values = _imbalance(options, whole, share, largest)
            k = int(np.argmin(values))
            if values[k] < best - _NO_GAIN:
                best, move = values[k], (leave, joining[k - 1] if k else None)
        if move is None:
            break
        for c, into in zip(move, (False, True), strict=True):
            if c is not None:
                in_test[c] = into
                test = test + counts[c] if into else test - counts[c]
        current = best
    return in_test


def _representatives(counts: np.ndarray, order: np.ndarray, mask: np.ndarray) -> np.ndarray:
    first: dict[bytes, int] = {}
    for c in order:
        if mask[c]:
            first.setdefault(counts[c].tobytes(), int(c))
    return np.array(list(first.values()), dtype=int)


def _imbalance(tests: np.ndarray, whole: np.ndarray, share: float, largest: float) -> np.ndarray:
    """Per candidate test side (rows): the squared gaps between each side's strata shares and the whole
    set's, plus the squared relative gap to the requested size (weighted); infinite when a side is empty or the
    size strays by more than the largest cluster."""
    n = whole.sum()
    size = tests.sum(axis=1)
    rest = n - size
    with np.errstate(divide="ignore", invalid="ignore"):
        test_gap = ((tests / size[:, None] - whole / n) ** 2).sum(axis=1)
        dev_gap = (((whole - tests) / rest[:, None] - whole / n) ** 2).sum(axis=1)
    value = test_gap + dev_gap + SIZE_WEIGHT * ((size - share * n) / n) ** 2
    feasible = (size > 0) & (rest > 0) & (np.abs(size - share * n) <= largest)
    return np.where(feasible, value, np.inf)
