"""Reading a pairwise answer from next-token log-probabilities instead of the text.

Token variants: a tokenizer may spell the label as ``a``, `` a``, ``A`` or
`` A``; the label's probability is the sum over the variants listed. A label
missing from the top-k list is given the smallest listed log-probability (an
upper bound on its true value), which keeps the margin's sign right and its
size conservative. If neither label is listed the order is invalid.

Backends that ignore the answer prefix (OpenAI's API starts a fresh reply)
still work: the answer is read at the first generated position whose
likeliest token is a label, so ``Output (a)`` written out in full is found.
Used by the order-debiased ``logprob`` strategy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from judgekit.backends.base import Completion
from judgekit.records import OrderResult

VARIANTS = {"first": ("a", " a", "A", " A"), "second": ("b", " b", "B", " B")}
"""Token spellings of the first-slot and second-slot labels."""


def label_logprob(distribution: Mapping[str, float], variants: Sequence[str]) -> float | None:
    """log of the summed probability of the variants present, or None if none is."""
    present = [distribution[v] for v in variants if v in distribution]
    if not present:
        return None
    peak = max(present)
    return peak + math.log(sum(math.exp(lp - peak) for lp in present))


def answer_distribution(top_logprobs: Sequence[Mapping[str, float]] | None) -> Mapping[str, float] | None:
    """The next-token distribution at the answer: the first position whose top token is a label."""
    labels = set(VARIANTS["first"] + VARIANTS["second"])
    for distribution in top_logprobs or ():
        if distribution and max(distribution, key=distribution.__getitem__) in labels:
            return distribution
    return None


def slot_margin(distribution: Mapping[str, float]) -> float | None:
    """log P(first slot) - log P(second slot); None when neither label is listed."""
    first = label_logprob(distribution, VARIANTS["first"])
    second = label_logprob(distribution, VARIANTS["second"])
    if first is None and second is None:
        return None
    floor = min(distribution.values())
    return (first if first is not None else floor) - (second if second is not None else floor)


def winner_of(margin: float) -> str:
    """Canonical winner of a canonical margin (exactly zero is a tie)."""
    return "a" if margin > 0 else "b" if margin < 0 else "tie"


def order_result(completion: Completion, swapped: bool) -> tuple[OrderResult, Mapping[str, float] | None]:
    """One order's result, its margin turned into the canonical frame (a minus b)."""
    distribution = answer_distribution(completion.top_logprobs)
    margin = slot_margin(distribution) if distribution is not None else None
    if margin is None:
        return OrderResult(swapped=swapped, raw=completion.text, winner=None), distribution
    canonical = -margin if swapped else margin
    return OrderResult(swapped=swapped, raw=completion.text, winner=winner_of(canonical),
                       margin=canonical), distribution
