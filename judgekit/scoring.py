"""One run in, its numbers out: the single scoring path behind every figure judgekit shows.

The end-of-run summary, ``Run.summary()``, ``judgekit report`` and
``compare`` (table, Markdown, JSON, HTML) and sweeps all call
``score_run``, so a figure is the same wherever it appears.

Data flow: a run (examples + verdicts) -> ``judged_items`` (aligned gold
labels, per-order winners, the protocol's final winners, cluster keys) -> the
agreement package -> one row: the report fields of DESIGN's CLI contract,
followed by a few documented extras (``REPORT_EXTRAS``).

Which figure matters (``headline_figure``): a protocol whose strategy turns
both presentation orders into one decision (summed log-probability margins,
a synthesis call) is judged by that verdict, so its headline is
``accuracy_final``. A protocol that judges the orders separately (its final
verdict only records whether they agreed) and LLMBar's recorded runs are
judged, as LLMBar reports them, by ``accuracy``, the per-order mean; so is a
single-order protocol, whose one order is its verdict. ``accuracy_final``
and the final rates are reported beside it wherever both orders ran.

Every rate is a fraction in [0, 1]; a figure the run cannot define is None.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from judgekit.agreement import (
    INVALID_POLICIES,
    Clusters,
    Interval,
    bias_summary,
    bootstrap_cis,
    ci_method,
    cluster_codes,
    mean_statistic,
    pairwise_summary,
)
from judgekit.datasets.examples import majority
from judgekit.errors import BadInput
from judgekit.probes import PROBE_KEY
from judgekit.protocol_spec import load_protocol
from judgekit.records import RunRecords, Usage, Verdict
from judgekit.trust import alt_test_summary, calibration_summary


REPORT_FIELDS = (
    "run", "judge", "protocol", "dataset", "n", "n_clusters", "ci_method", "complete", "accuracy", "accuracy_ci",
    "accuracy_first_order", "accuracy_second_order", "accuracy_both_orders", "accuracy_final", "accuracy_final_ci",
    "positional_agreement", "invalid_rate", "tie_rate", "final_invalid_rate", "final_tie_rate", "cohen_kappa",
    "position_bias", "length_bias", "self_preference_bias", "calls", "cache_hits", "retries", "tokens_in",
    "tokens_out", "cost_usd",
)
"""Fields of one run in ``judgekit report --format json``, in order (DESIGN, CLI contract)."""

REPORT_EXTRAS = (
    "headline", "invalid_policy", "n_examples", "positional_agreement_ci", "cohen_kappa_ci", "position_bias_ci",
    "length_bias_ci", "self_preference_bias_ci", "ties", "annotators", "alt_test", "calibration",
)
"""Fields after the contract's: the headline figure's name, how invalid verdicts were counted (the
``--invalid-policy`` given, else the run's own), the run's size, more intervals, ties, annotators,
the alt-test of the judge against the annotators (``trust.alt_test_summary``, None without votes) and the raw
calibration of its confidences (``trust.calibration_summary``, None when its verdicts carry none)."""

HEADLINES = ("accuracy_final", "accuracy")

COMBINING_STRATEGIES = ("logprob", "swap_synthesize")
"""Strategies whose final verdict decides from both orders together (its accuracy is the headline)."""


@dataclass(frozen=True)
class Options:
    """How figures are computed: invalid-verdict policy, bootstrap settings, clustering."""

    invalid_policy: str | None = None
    """None: each run's own policy (its manifest's)."""
    confidence: float = 0.95
    n_resamples: int = 1000
    seed: int = 0
    clusters: bool = True
    """Resample clusters (items sharing an instruction or question id) when there are any."""
    epsilon: float = 0.2
    """The alt-test's margin, for runs over items with several human votes (REFERENCES E1)."""


@dataclass(frozen=True)
class JudgedItems:
    """A run's gold-labelled, judged items as aligned lists (what agreement functions take).

    ``orders`` holds one winner list per presentation order: the order showing
    response a first, then (when the protocol used it) the one showing b first.
    ``final`` is each verdict's own winner. ``cluster_keys`` are the items'
    cluster keys: the dataset's declared cluster, else the instruction text.
    """

    ids: list[str]
    gold: list[str]
    orders: list[list[str | None]]
    final: list[str | None]
    votes: list[tuple[str, ...]]
    cluster_keys: list[str]
    length_a: list[int]
    length_b: list[int]
    generator_a: list[str | None]
    generator_b: list[str | None]

    def subset(self, keep: Sequence[str]) -> JudgedItems:
        """The same run restricted to the ids in ``keep``, in that order."""
        at = {item: i for i, item in enumerate(self.ids)}
        pick = [at[item] for item in keep]

        def take(values: list) -> list:
            return [values[i] for i in pick]

        return JudgedItems(list(keep), take(self.gold), [take(o) for o in self.orders], take(self.final),
                           take(self.votes), take(self.cluster_keys), take(self.length_a), take(self.length_b),
                           take(self.generator_a), take(self.generator_b))

    @property
    def two_orders(self) -> bool:
        return len(self.orders) > 1

    def clusters(self, options: Options) -> Clusters | None:
        """The items' clusters when clustering is on and they group items (``usable_clusters``)."""
        if not options.clusters or not self.ids:
            return None
        return usable_clusters(self.cluster_keys)


def usable_clusters(keys: Sequence[str]) -> Clusters | None:
    """Cluster codes when some cluster holds several items and there are at least two clusters.

    One cluster holding every item carries no between-cluster information (every
    resample would be the data itself), so items are then resampled as independent.
    """
    found = cluster_codes(keys)
    return found if found.clustered and found.n_clusters > 1 else None


def judged_items(run: RunRecords) -> JudgedItems:
    """Items that have both a gold label and a verdict, with each order's winner.

    A probe run's perturbed copies are left out: they are figures of the probe
    table (``judgekit.probes.measure``), not more items.
    """
    verdicts = {v.example_id: v for v in run.verdicts}
    examples = [e for e in run.examples if e.gold is not None and e.id in verdicts and PROBE_KEY not in e.metadata]
    swaps = sorted({o.swapped for e in examples for o in verdicts[e.id].orders})
    if swaps:
        orders = [[_order_winner(verdicts[e.id], s) for e in examples] for s in swaps]
    else:  # a protocol without per-order results: its final winner is the one order
        orders = [[verdicts[e.id].winner for e in examples]]
    return JudgedItems(
        ids=[e.id for e in examples],
        gold=[e.gold for e in examples],
        orders=orders,
        final=[verdicts[e.id].winner for e in examples],
        votes=[e.votes for e in examples],
        cluster_keys=[e.cluster if e.cluster is not None else e.instruction for e in examples],
        length_a=[len(e.response_a) for e in examples],
        length_b=[len(e.response_b) for e in examples],
        generator_a=[e.generator_a for e in examples],
        generator_b=[e.generator_b for e in examples],
    )


def policy_of(run: RunRecords, options: Options) -> str:
    policy = options.invalid_policy or run.manifest.invalid_policy
    if policy not in INVALID_POLICIES:
        raise BadInput(f"invalid-verdict policy {policy!r} is not one of {', '.join(INVALID_POLICIES)}")
    return policy


def headline_figure(run: RunRecords) -> str:
    """``accuracy_final`` when the run's protocol combines both orders into its verdict, else ``accuracy``."""
    if run.manifest.judge.startswith("llmbar:"):
        return "accuracy"
    try:
        strategy = load_protocol(run.manifest.protocol).strategy
    except BadInput:  # a spec file that is no longer where the run found it
        return "accuracy"
    return "accuracy_final" if strategy in COMBINING_STRATEGIES else "accuracy"


def run_row(run: RunRecords, options: Options = Options()) -> dict[str, Any]:
    """One run's row: DESIGN's report fields in order, then ``REPORT_EXTRAS``."""
    return score_run(run, judged_items(run), options)[0]


def score_run(run: RunRecords, items: JudgedItems, options: Options) -> tuple[dict[str, Any], dict[str, Interval | None]]:
    """The row of a run, and its bias intervals (for callers that compare runs)."""
    manifest = run.manifest
    # A finished run's manifest holds its totals; while a run is going (or after it was stopped) the
    # manifest lags by up to a few seconds, so the verdicts' own usage gives the current counts. Retries,
    # timeouts and prefix restarts belong to the call path, not to any verdict: only the manifest has them.
    usage = manifest.usage
    if not manifest.complete:
        live = Usage(retries=usage.retries, timeouts=usage.timeouts, prefix_restarts=usage.prefix_restarts)
        usage = sum((v.usage for v in run.verdicts), live)
    clusters = items.clusters(options)
    row: dict[str, Any] = dict.fromkeys(REPORT_FIELDS + REPORT_EXTRAS)
    row |= {"run": str(run.path), "judge": manifest.judge, "protocol": manifest.protocol,
            "dataset": manifest.dataset, "n": len(items.ids),
            "n_clusters": clusters.n_clusters if clusters is not None else None,
            "ci_method": ci_method(clusters, n_resamples=options.n_resamples, seed=options.seed),
            "complete": manifest.complete, "invalid_policy": policy_of(run, options),
            "n_examples": len(run.examples),
            "calls": usage.calls, "cache_hits": usage.cache_hits, "retries": usage.retries,
            "tokens_in": usage.tokens_in, "tokens_out": usage.tokens_out, "cost_usd": usage.cost_usd}
    biases = _biases(run, items, options, clusters)
    if items.ids:
        policy = row["invalid_policy"]
        summary = pairwise_summary(
            items.gold, items.orders[0], items.orders[1] if items.two_orders else None,
            items.final if items.two_orders else None, invalid=policy, confidence=options.confidence,
            n_resamples=options.n_resamples, seed=options.seed, clusters=clusters,
        )
        for name in ("accuracy", "accuracy_first_order", "accuracy_second_order", "accuracy_both_orders",
                     "accuracy_final", "positional_agreement", "invalid_rate", "tie_rate", "final_invalid_rate",
                     "final_tie_rate", "cohen_kappa"):
            row[name] = estimate(getattr(summary, name))
        for name in ("accuracy", "accuracy_final", "positional_agreement", "cohen_kappa"):
            row[f"{name}_ci"] = bounds(getattr(summary, name))
        row["ties"] = _ties(items, policy)
        row["annotators"] = _annotators(items, options, clusters)
        row["alt_test"] = alt_test_summary(run, epsilon=options.epsilon)
        row["calibration"] = calibration_summary(run)
    for name, interval in biases.items():
        row[name] = estimate(interval)
        row[f"{name}_ci"] = bounds(interval)
    row["headline"] = headline_figure(run) if row["accuracy_final"] is not None else "accuracy"
    return row, biases


def _biases(run: RunRecords, items: JudgedItems, options: Options,
            clusters: Clusters | None) -> dict[str, Interval | None]:
    if not items.ids:
        return {"position_bias": None, "length_bias": None, "self_preference_bias": None}
    known = any(a and b for a, b in zip(items.generator_a, items.generator_b, strict=True))
    model = run.manifest.judge_model
    summary = bias_summary(
        items.gold, items.orders[0], items.orders[1] if items.two_orders else None,
        length_a=items.length_a, length_b=items.length_b,
        generator_a=items.generator_a if known and model else None,
        generator_b=items.generator_b if known and model else None,
        judge_model=model, confidence=options.confidence, n_resamples=options.n_resamples, seed=options.seed,
        clusters=clusters,
    )
    return {"position_bias": summary.position_bias, "length_bias": summary.length_bias,
            "self_preference_bias": summary.self_preference_bias}


def _ties(items: JudgedItems, policy: str) -> dict[str, Any]:
    """How tie labels count, and the headline accuracy with tie-labelled items removed (MT-Bench S1/S2).

    The row's accuracies keep ties (S1-like): a tie label agrees only with a
    tie verdict. ``without_tie_items`` drops items humans labelled tie;
    ``s2_agreement`` also drops verdicts that are ties (Zheng et al. 2023,
    ``ban=["tie"]``), pooling the headline verdicts (both orders, or the final).
    """
    gold = np.array(items.gold, dtype=object)
    judged = [items.final] if items.two_orders else items.orders
    out: dict[str, Any] = {
        "gold_ties": int(np.sum(gold == "tie")),
        "figures": "ties kept: a tie label agrees only with a tie verdict",
        "without_tie_items": None, "without_tie_items_n": None, "s2_agreement": None, "s2_n": None,
    }
    if out["gold_ties"] == 0:
        return out
    keep = gold != "tie"
    right, counted = 0.0, 0
    s2_right, s2_n = 0, 0
    for winners in judged:
        w = np.array(winners, dtype=object)
        valid = np.array([x is not None for x in winners])
        counted_here = keep & valid if policy == "exclude" else keep
        right += float(np.sum((w == gold) & keep)) + (0.5 * float(np.sum(keep & ~valid)) if policy == "half" else 0.0)
        counted += int(np.sum(counted_here))
        s2 = keep & (w != "tie")
        s2_right += int(np.sum((w == gold) & s2))
        s2_n += int(np.sum(s2))
    out |= {"without_tie_items": right / counted if counted else None, "without_tie_items_n": int(np.sum(keep)),
            "s2_agreement": s2_right / s2_n if s2_n else None, "s2_n": s2_n}
    return out


def _annotators(items: JudgedItems, options: Options, clusters: Clusters | None) -> dict[str, Any] | None:
    """The judge against each annotator, the majority and the vote distribution, beside the human ceiling.

    Uses items where every annotator voted (as many votes as the most-voted
    item). The judge's label is its headline verdict. ``leave_one_out``
    pairs like with like: for each annotator j, human j and the judge are both
    scored against the majority of the other annotators (a split is ``tie``),
    averaged over j; the vote-distribution figures are the expected agreement
    with a randomly drawn (other) annotator.
    """
    width = max((len(v) for v in items.votes), default=0)
    if width < 2:
        return None
    keep = [i for i, v in enumerate(items.votes) if len(v) == width]
    votes = np.array([items.votes[i] for i in keep], dtype=object)
    judge = np.array([(items.final if items.two_orders else items.orders[0])[i] for i in keep], dtype=object)
    gold = np.array([items.gold[i] for i in keep], dtype=object)
    per_item = {
        "vs_majority": (judge == gold).astype(float),
        "vs_vote_distribution": np.mean(votes == judge[:, None], axis=1),
        "human_vs_vote_distribution": np.mean(
            [np.mean(np.delete(votes, j, axis=1) == votes[:, [j]], axis=1) for j in range(width)], axis=0),
    }
    loo_judge, loo_human = [], []
    for j in range(width):
        others = np.array([majority(tuple(row)) for row in np.delete(votes, j, axis=1)], dtype=object)
        loo_judge.append(judge == others)
        loo_human.append(votes[:, j] == others)
    per_item["leave_one_out_judge"] = np.mean(loo_judge, axis=0).astype(float)
    per_item["leave_one_out_human"] = np.mean(loo_human, axis=0).astype(float)
    sub = usable_clusters([items.cluster_keys[i] for i in keep]) if clusters is not None else None
    ci = bootstrap_cis({name: mean_statistic(values) for name, values in per_item.items()},
                       confidence=options.confidence, n_resamples=options.n_resamples, seed=options.seed,
                       clusters=sub)
    out: dict[str, Any] = {"n": len(keep), "n_annotators": width,
                           "vs_annotator": [float(np.mean(judge == votes[:, j])) for j in range(width)]}
    for name in per_item:
        out[name] = estimate(ci[name])
        out[f"{name}_ci"] = bounds(ci[name])
    return out


def _order_winner(verdict: Verdict, swapped: bool) -> str | None:
    return next((o.winner for o in verdict.orders if o.swapped == swapped), None)


def estimate(interval: Interval | None) -> float | None:
    """An interval's point value for JSON: None when absent or undefined (NaN)."""
    if interval is None or math.isnan(interval.estimate):
        return None
    return interval.estimate


def bounds(interval: Interval | None) -> list[float] | None:
    """An interval's [low, high] for JSON: None when absent or undefined."""
    if interval is None or math.isnan(interval.low) or math.isnan(interval.high):
        return None
    return [interval.low, interval.high]


_SUMMARY_FIGURES = (
    "accuracy_final", "final_invalid_rate", "final_tie_rate", "accuracy", "accuracy_first_order",
    "accuracy_second_order", "accuracy_both_orders", "positional_agreement", "invalid_rate", "tie_rate",
    "cohen_kappa",
)


def summary_frame(run: RunRecords, options: Options = Options()) -> pd.DataFrame:
    """The run's row as a table of figures (value, CI bounds), the headline figure first.

    What ``Run.summary()`` returns and the end-of-run table shows; the numbers
    are ``run_row``'s. Figures the run cannot define are left out.
    """
    row = run_row(run, options)
    first = row["headline"]
    rows: dict[str, tuple[float, float, float]] = {"n": (row["n"], math.nan, math.nan)}
    if row["n_clusters"] is not None:
        rows["n_clusters"] = (row["n_clusters"], math.nan, math.nan)
    for name in (first, *(f for f in _SUMMARY_FIGURES if f != first)):
        if row[name] is not None:
            low, high = row.get(f"{name}_ci") or (math.nan, math.nan)
            rows[name] = (row[name], low, high)
    rows["refused"] = (sum(v.invalid_reason == "refused" for v in run.verdicts), math.nan, math.nan)
    for name in ("calls", "cache_hits", "retries", "tokens_in", "tokens_out", "cost_usd"):
        rows[name] = (row[name], math.nan, math.nan)
    usage = run.manifest.usage
    rows["timeouts"] = (usage.timeouts, math.nan, math.nan)
    if usage.prefix_restarts:  # only then: a warning, not a figure every run needs
        rows["prefix_restarts"] = (usage.prefix_restarts, math.nan, math.nan)
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["value", "ci_low", "ci_high"])
    frame.attrs |= {"headline": first, "ci_method": row["ci_method"], "complete": row["complete"]}
    return frame
