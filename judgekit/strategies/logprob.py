"""Order-debiased pairwise verdicts read from next-token log-probabilities.

Instead of parsing a generated answer, we force the answer prefix
``Output (`` (the LLMBar answer format, Zeng et al. 2024, arXiv 2310.07641)
and read how likely the next token is ``a`` versus ``b``. One forward pass
per presentation order gives a margin ``log P(first slot) - log P(second
slot)``. Small judges lean heavily toward one slot; following the
swap-and-average calibration of Wang et al. 2023 ("Large Language Models are
not Fair Evaluators", arXiv 2305.17926) and the position-swap check of Zheng
et al. 2023 (arXiv 2306.05685), we map both orders' margins into the
canonical a/b frame and average them. A constant pull toward one slot adds
with opposite signs in the two orders and cancels, so the combined verdict
cannot depend on the order: it is consistent by construction. Each order's
own margin and winner stay in ``Verdict.orders``, so the single-order
verdicts' positional agreement remains measurable.

Token variants: a tokenizer may spell the label as ``a``, `` a``, ``A`` or
`` A``; the label's probability is the sum over the variants listed. A label
missing from the top-k list is given the smallest listed log-probability (an
upper bound on its true value), which keeps the margin's sign right and its
size conservative. If neither label is listed the order is invalid.

Backends that ignore the answer prefix (OpenAI's API starts a fresh reply)
still work: the answer is read at the first generated position whose
likeliest token is a label, so ``Output (a)`` written out in full is found.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from judgekit.backends.base import Completion
from judgekit.errors import BadInput
from judgekit.records import Example, OrderResult, Usage, Verdict
from judgekit.strategies.common import Calls, order_name, pair_values

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
    return OrderResult(swapped=swapped, raw=completion.text, winner=winner_of(canonical), margin=canonical), distribution


def combine(example_id: str, orders: Sequence[OrderResult], details: dict[str, Any], usage: Usage) -> Verdict:
    """The order-debiased verdict: the sign of the mean canonical margin over the orders."""
    if any(o.margin is None for o in orders):
        return Verdict(
            example_id=example_id, winner=None, orders=tuple(orders),
            invalid_reason="no_answer_logprobs", details=details, usage=usage,
        )
    margin = sum(o.margin for o in orders) / len(orders)
    return Verdict(
        example_id=example_id, winner=winner_of(margin), orders=tuple(orders),
        details={**details, "margin": margin}, usage=usage,
    )


def required_templates(protocol: Any) -> tuple[str, ...]:
    return ("compare",)


def calls_per_item(protocol: Any) -> int:
    return len(protocol.swaps)


def check(protocol: Any) -> None:
    """The spec must ask for logprobs and force an answer prefix."""
    if not protocol.params.top_logprobs:
        raise BadInput(f"{protocol.source}: params.top_logprobs: the logprob strategy needs it (e.g. 20)")
    if not protocol.continuation:
        raise BadInput(f"{protocol.source}: continuation: the logprob strategy needs an answer prefix, e.g. 'Output ('")


async def run(protocol: Any, example: Example, call_path: Any) -> Verdict:
    """Judge one example with one logprob call per presentation order.

    Orders run one after the other, not concurrently, so on a local engine the
    second prompt reuses the KV cache of the first (they share the instruction).
    """
    calls = Calls(protocol, example, call_path)
    results, distributions = [], {}
    for swapped in protocol.swaps:
        completion = await calls.ask("compare", swapped=swapped, **pair_values(example, swapped))
        result, distribution = order_result(completion, swapped)
        results.append(result)
        distributions[order_name(swapped)] = dict(distribution) if distribution is not None else None
    return combine(example.id, results, {"top_logprobs": distributions}, calls.usage())
