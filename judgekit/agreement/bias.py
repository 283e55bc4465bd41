"""Judge biases: position, length and self-preference, each with its interval.

Winners are in the canonical frame (``pairwise`` module docstring): ``first``
from the order that showed response a first, ``second`` from the order that
showed b first. Each (item, order) is one observation; the bootstrap still
resamples whole items, so both orders of an item stay together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from judgekit.agreement.labels import INVALID, TIE, A, B, Winners, check_same_length, encode
from judgekit.agreement.uncertainty import Clusters, Interval, Statistic, bootstrap_cis, ratio
from judgekit.errors import BadInput

_PROVIDER_PREFIX = re.compile(r"^(openai|anthropic|azure|openrouter)[:/]")
_VERSION_SUFFIX = re.compile(r"-(\d{4}(-\d{2}-\d{2})?|\d{8}|preview|latest)$")
_ALIASES = {"chatgpt": "gpt-3.5-turbo", "gpt-35-turbo": "gpt-3.5-turbo", "gpt4": "gpt-4"}


def model_family(name: str | None) -> str | None:
    """A model name reduced to its family, so generator and judge names compare.

    Lower-cases, drops a provider prefix (``openai:``, ``anthropic/``, ...),
    then repeatedly drops a dated or release suffix (``-0301``, ``-2024-05-13``,
    ``-20240229``, ``-preview``, ``-latest``), then applies a few aliases
    (``ChatGPT`` is gpt-3.5-turbo, as LLMBar names it). Sizes and versions
    that change the model (``-13b``, ``-v1.2``, ``gpt-4o``) are kept.

    >>> model_family("gpt-3.5-turbo-0301"), model_family("ChatGPT-0301"), model_family("openai:GPT-4")
    ('gpt-3.5-turbo', 'gpt-3.5-turbo', 'gpt-4')
    """
    if name is None or (isinstance(name, float) and np.isnan(name)) or not str(name).strip():
        return None
    family = _PROVIDER_PREFIX.sub("", str(name).strip().lower())
    while (shorter := _VERSION_SUFFIX.sub("", family)) != family:
        family = shorter
    return _ALIASES.get(family, family)


def position_bias(first: Winners, second: Winners | None = None) -> float:
    """Share of first-slot wins among decisive (valid, non-tie) verdicts.

    A first-slot win is ``a`` in the order showing a first and ``b`` in the
    order showing b first; 0.5 means no position preference (Zheng et al.
    2023, MT-Bench, "position bias"). With both orders the quality of a and b
    cancels out; with one order it is confounded with it.
    """
    return position_bias_statistic(*_orders(first, second)).value()


def length_bias(
    gold: Winners,
    first: Winners,
    second: Winners | None = None,
    *,
    length_a: Sequence[float],
    length_b: Sequence[float],
) -> float:
    """Share of decisive verdicts for the longer response, on pairs humans gave to the shorter.

    Pairs with equal lengths or a tie gold label are left out; invalid and
    tie verdicts are not decisive. Lengths are in whatever unit the caller
    measures (characters in judgekit's reports). A judge without length
    preference that agrees with humans scores near 0; 1 means it always
    prefers the longer one against the humans.
    """
    g = encode(gold, name="gold")
    orders = _orders(first, second, g)
    return length_bias_statistic(g, orders, length_a, length_b).value()


def self_preference(
    gold: Winners,
    first: Winners,
    second: Winners | None = None,
    *,
    generator_a: Sequence[str | None],
    generator_b: Sequence[str | None],
    judge_model: str,
) -> float:
    """Equal-opportunity self-preference of a judge (Wataoka et al. 2024, arXiv 2410.21819).

    Over items where exactly one response comes from the judge's own model
    family and both generators are known, each order one observation:
    P(judge picks own | humans picked own) − P(judge picks other | humans
    picked other). An invalid or tie verdict counts as not picking; gold ties
    are left out. 0 means the judge recalls both kinds equally; NaN when
    either conditional has no observation.
    """
    g = encode(gold, name="gold")
    own = own_side(generator_a, generator_b, judge_model)
    return self_preference_statistic(g, _orders(first, second, g), own).value()


@dataclass(frozen=True)
class SelfPreferenceExcess:
    """A judge's self-preference next to other judges' on the same items."""

    judge_model: str
    n_items: int
    """Items with exactly one own response and both generators known."""
    self_preference: Interval
    others: dict[str, Interval]
    """Each other judge's equal-opportunity figure toward the same model's answers."""
    excess: Interval
    """self_preference − mean of the others, with a paired (item or cluster) bootstrap interval."""


def self_preference_excess(
    gold: Winners,
    judges: Mapping[str, Sequence[Winners]],
    *,
    judge: str,
    judge_model: str,
    generator_a: Sequence[str | None],
    generator_b: Sequence[str | None],
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Clusters | None = None,
) -> SelfPreferenceExcess:
    """How much more a judge favours its own model's answers than other judges do.

    The raw equal-opportunity figure confounds self-preference with "this
    model's answers really are better in ways the labels miss"; other judges
    share that confound, so the difference isolates the self part (DESIGN,
    "Agreement"). ``judges`` maps a judge name to its per-order winner arrays
    on the same items as ``gold``; ``judge`` names the one under study. Every
    judge's figure is taken toward the answers of ``judge_model``. Other
    judges whose own model wrote the other answers carry their own
    self-preference into the comparison; pick them with that in mind.
    """
    if judge not in judges or len(judges) < 2:
        raise BadInput(f"self_preference_excess: need judge {judge!r} and at least one other in judges")
    g = encode(gold, name="gold")
    own = own_side(generator_a, generator_b, judge_model)
    stats = {name: self_preference_statistic(g, _orders(*orders, reference=g), own) for name, orders in judges.items()}
    others = [name for name in judges if name != judge]
    stats["__excess__"] = _excess_statistic(stats[judge], [stats[name] for name in others])
    ci = bootstrap_cis(stats, confidence=confidence, n_resamples=n_resamples, seed=seed, clusters=clusters)
    return SelfPreferenceExcess(
        judge_model=judge_model,
        n_items=int(np.sum(own != INVALID)),
        self_preference=ci[judge],
        others={name: ci[name] for name in others},
        excess=ci["__excess__"],
    )


@dataclass(frozen=True)
class BiasSummary:
    """Bias figures of one judge with intervals; None where the inputs do not allow one."""

    position_bias: Interval
    length_bias: Interval | None
    self_preference_bias: Interval | None


def bias_summary(
    gold: Winners,
    first: Winners,
    second: Winners | None = None,
    *,
    length_a: Sequence[float] | None = None,
    length_b: Sequence[float] | None = None,
    generator_a: Sequence[str | None] | None = None,
    generator_b: Sequence[str | None] | None = None,
    judge_model: str | None = None,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Clusters | None = None,
) -> BiasSummary:
    """Position, length and self-preference bias in one call, sharing (clustered) bootstrap resamples."""
    g = encode(gold, name="gold")
    orders = _orders(first, second, g)
    stats = {"position": position_bias_statistic(*orders)}
    if length_a is not None and length_b is not None:
        stats["length"] = length_bias_statistic(g, orders, length_a, length_b)
    if generator_a is not None and generator_b is not None and judge_model:
        stats["self"] = self_preference_statistic(g, orders, own_side(generator_a, generator_b, judge_model))
    ci = bootstrap_cis(stats, confidence=confidence, n_resamples=n_resamples, seed=seed, clusters=clusters)
    return BiasSummary(ci["position"], ci.get("length"), ci.get("self"))


def own_side(generator_a: Sequence[str | None], generator_b: Sequence[str | None], judge_model: str) -> np.ndarray:
    """Per item: A or B when exactly that response is the judge's family's, else INVALID."""
    check_same_length(
        generator_a=np.asarray(generator_a, dtype=object), generator_b=np.asarray(generator_b, dtype=object)
    )
    target = model_family(judge_model)
    if target is None:
        raise BadInput("judge_model: empty model name")
    seen: dict[object, str | None] = {}  # each distinct name normalised once
    families = [seen[name] if name in seen else seen.setdefault(name, model_family(name))
                for name in [*generator_a, *generator_b]]
    known_sides = np.array([family is not None for family in families], dtype=bool)
    fam = np.array(families, dtype=object)
    fam_a, fam_b = fam[: len(generator_a)], fam[len(generator_a) :]
    known = known_sides[: len(generator_a)] & known_sides[len(generator_a) :]
    own_a, own_b = fam_a == target, fam_b == target
    return np.where(known & own_a & ~own_b, A, np.where(known & own_b & ~own_a, B, INVALID)).astype(np.int8)


def position_bias_statistic(*orders: np.ndarray) -> Statistic:
    """First-slot wins over decisive verdicts; order 0 shows a first, order 1 shows b first."""
    first_slot = (A, B)
    wins = np.sum([p == first_slot[i] for i, p in enumerate(orders)], axis=0)
    decisive = np.sum([(p == A) | (p == B) for p in orders], axis=0)
    return Statistic(np.column_stack([wins, decisive]), lambda s: ratio(s[..., 0], s[..., 1]))


def length_bias_statistic(
    g: np.ndarray, orders: list[np.ndarray], length_a: Sequence[float], length_b: Sequence[float]
) -> Statistic:
    """Longer-response wins over decisive verdicts on pairs humans gave to the shorter."""
    la, lb = _numbers(length_a, "length_a"), _numbers(length_b, "length_b")
    check_same_length(gold=g, length_a=la, length_b=lb)
    longer = np.where(la > lb, A, np.where(lb > la, B, INVALID))
    shorter_won = (longer != INVALID) & (g != TIE) & (g != longer)
    picks_longer = np.sum([(p == longer) for p in orders], axis=0) * shorter_won
    decisive = np.sum([(p == A) | (p == B) for p in orders], axis=0) * shorter_won
    return Statistic(np.column_stack([picks_longer, decisive]), lambda s: ratio(s[..., 0], s[..., 1]))


def self_preference_statistic(g: np.ndarray, orders: list[np.ndarray], own: np.ndarray) -> Statistic:
    """Equal-opportunity difference of recalls (see ``self_preference``)."""
    check_same_length(gold=g, own=own)
    eligible = (own != INVALID) & (g != TIE)
    own_won = eligible & (g == own)
    other_won = eligible & (g != own)
    picks_own = np.sum([p == own for p in orders], axis=0)
    picks_other = np.sum([(p != own) & ((p == A) | (p == B)) for p in orders], axis=0)
    m = len(orders)
    terms = np.column_stack([picks_own * own_won, m * own_won, picks_other * other_won, m * other_won])
    return Statistic(terms, lambda s: ratio(s[..., 0], s[..., 1]) - ratio(s[..., 2], s[..., 3]))


def _excess_statistic(target: Statistic, others: list[Statistic]) -> Statistic:
    k = target.terms.shape[1]

    def fn(s: np.ndarray) -> np.ndarray:
        rest = [o.fn(s[..., k * (i + 1) : k * (i + 2)]) for i, o in enumerate(others)]
        return target.fn(s[..., :k]) - np.mean(rest, axis=0)

    return Statistic(np.hstack([target.terms, *(o.terms for o in others)]), fn)


def _numbers(values: Sequence[float], name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind not in "iuf":
        import pandas as pd  # heavy: lengths are nearly always numbers already

        array = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy()
    array = array.astype(np.float64)
    if np.isnan(array).any():
        position = int(np.flatnonzero(np.isnan(array))[0])
        raise BadInput(f"{name}[{position}]: length {values[position]!r} is not a number")
    return array


def _orders(first: Winners, second: Winners | None = None, reference: np.ndarray | None = None) -> list[np.ndarray]:
    orders = [encode(first, name="first")]
    if second is not None:
        orders.append(encode(second, name="second"))
    named = {f"order{i}": p for i, p in enumerate(orders)}
    check_same_length(**({"gold": reference} if reference is not None else {}), **named)
    return orders
