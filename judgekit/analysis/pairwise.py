"""The pairwise run kind: which of two responses is better, against human labels.

Data flow: a run (examples + verdicts) -> ``judged_items`` (aligned gold
labels, per-order winners, the protocol's final winners, cluster keys) -> the
agreement package -> one row: the report fields of DESIGN's CLI contract,
followed by a few documented extras (``REPORT_EXTRAS``). ``PAIRWISE`` is
this kind's implementation of ``judgekit.analysis.kind.Kind``.

Which figure matters (``headline_figure``) is written in the run's manifest
when the run starts: a protocol whose strategy turns both presentation orders
into one decision (summed log-probability margins, a synthesis call), or whose
spec declares how they combine (``order_conflict``), is judged by that
verdict, ``accuracy_final``. A protocol that judges the orders
separately and LLMBar's recorded runs are judged, as LLMBar reports them, by
``accuracy``, the per-order mean; so is a single-order protocol, whose one
order is its verdict. Analysis never reloads a spec to find out.

Every rate is a fraction in [0, 1]; a figure the run cannot define is None.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from judgekit.agreement import (
    INVALID_POLICIES,
    Clusters,
    Interval,
    accuracy,
    bias_summary,
    bootstrap_cis,
    ci_method,
    compare_judges,
    mean_statistic,
    model_family,
    pairwise_summary,
    self_preference_excess,
)
from judgekit.analysis.kind import (
    Options,
    bounds,
    common_fields,
    content_keys,
    estimate,
    match_by_content,
    remembered,
    usable_clusters,
)
from judgekit.analysis.probes import has_probes, probe_table
from judgekit.analysis.trust import TrustOptions, alt_test_summary, calibration_summary, trust_figures
from judgekit.data.examples import majority
from judgekit.errors import BadInput
from judgekit.records import PROBE_KEY, Example, RunRecords, Verdict

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

RANK_BY = ("accuracy_final", "accuracy")
"""What ``compare --rank-by`` accepts for pairwise runs besides ``headline``."""

_SAME_ACCURACY = {"wrong", "llmbar"}
"""Policies that score accuracy alike (they differ only in positional agreement)."""


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


def judged_items(run: RunRecords) -> JudgedItems:
    """Items that have both a gold label and a verdict, with each order's winner.

    A probe run's perturbed copies are left out: they are figures of the probe
    table (``judgekit.analysis.probes``), not more items.
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
    """The headline the run's manifest names (set from the protocol's strategy when the run started).

    A manifest written before runs carried their headline reads ``accuracy``.
    """
    headline = run.manifest.headline
    return headline if headline in HEADLINES else "accuracy"


def run_row(run: RunRecords, options: Options = Options()) -> dict[str, Any]:
    """One run's row: DESIGN's report fields in order, then ``REPORT_EXTRAS``."""
    return score_run(run, judged_items(run), options)[0]


def score_run(run: RunRecords, items: JudgedItems,
              options: Options) -> tuple[dict[str, Any], dict[str, Interval | None]]:
    """The row of a run, and its bias intervals (for callers that compare runs)."""
    clusters = items.clusters(options)
    row: dict[str, Any] = dict.fromkeys(REPORT_FIELDS + REPORT_EXTRAS) | common_fields(run)
    row = {name: row[name] for name in (*REPORT_FIELDS, "kind", *REPORT_EXTRAS)}
    row |= {"n": len(items.ids), "n_clusters": clusters.n_clusters if clusters is not None else None,
            "ci_method": ci_method(clusters, n_resamples=options.n_resamples, seed=options.seed),
            "invalid_policy": policy_of(run, options), "n_examples": len(run.examples)}
    headline = headline_figure(run)
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
        row["ties"] = _ties(items, policy, headline, options.seed)
        row["annotators"] = _annotators(items, headline, options, clusters)
        row["alt_test"] = alt_test_summary(run, epsilon=options.epsilon)
        row["calibration"] = calibration_summary(run)
    for name, interval in biases.items():
        row[name] = estimate(interval)
        row[f"{name}_ci"] = bounds(interval)
    row["headline"] = headline if row[headline] is not None or headline == "accuracy" else "accuracy"
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


def _headline_verdicts(items: JudgedItems, headline: str) -> list[list[str | None]]:
    """The winner arrays the headline scores: the final verdict, or each presentation order."""
    return [items.final] if headline == "accuracy_final" else items.orders


def _ties(items: JudgedItems, policy: str, headline: str, seed: int) -> dict[str, Any]:
    """How tie labels count, and the headline accuracy with tie-labelled items removed (MT-Bench S1/S2).

    The row's accuracies keep ties (S1-like): a tie label agrees only with a
    tie verdict. ``without_tie_items`` drops items humans labelled tie;
    ``s2_agreement`` also drops verdicts that are ties (Zheng et al. 2023,
    ``ban=["tie"]``), pooling the headline's verdicts (both orders, or the
    final one). Invalid verdicts count under the run's policy, as everywhere.
    """
    gold = list(items.gold)
    out: dict[str, Any] = {
        "gold_ties": sum(g == "tie" for g in gold),
        "figures": "ties kept: a tie label agrees only with a tie verdict",
        "without_tie_items": None, "without_tie_items_n": None, "s2_agreement": None, "s2_n": None,
    }
    if out["gold_ties"] == 0:
        return out
    kept, s2 = ([], []), ([], [])
    for winners in _headline_verdicts(items, headline):
        for g, w in zip(gold, winners, strict=True):
            if g == "tie":
                continue
            kept[0].append(g)
            kept[1].append(w)
            if w != "tie":
                s2[0].append(g)
                s2[1].append(w)
    out |= {"without_tie_items": _accuracy_or_none(*kept, policy, seed),
            "without_tie_items_n": len(gold) - out["gold_ties"],
            "s2_agreement": _accuracy_or_none(*s2, policy, seed), "s2_n": len(s2[0])}
    return out


def _accuracy_or_none(gold: list[str], judged: list[str | None], policy: str, seed: int) -> float | None:
    value = accuracy(gold, judged, invalid=policy, seed=seed) if gold else math.nan
    return None if math.isnan(value) else value


def _annotators(items: JudgedItems, headline: str, options: Options,
                clusters: Clusters | None) -> dict[str, Any] | None:
    """The judge against each annotator, the majority and the vote distribution, beside the human ceiling.

    Uses items where every annotator voted (as many votes as the most-voted
    item). The judge's labels are its headline verdicts (the final one, or
    each order, averaged per item). ``leave_one_out`` pairs like with like:
    for each annotator j, human j and the judge are both scored against the
    majority of the other annotators (a split is ``tie``), averaged over j;
    the vote-distribution figures are the expected agreement with a randomly
    drawn (other) annotator.
    """
    width = max((len(v) for v in items.votes), default=0)
    if width < 2:
        return None
    keep = [i for i, v in enumerate(items.votes) if len(v) == width]
    votes = np.array([items.votes[i] for i in keep], dtype=object)
    judges = [np.array([winners[i] for i in keep], dtype=object) for winners in _headline_verdicts(items, headline)]
    gold = np.array([items.gold[i] for i in keep], dtype=object)

    def mean_over_judges(agree) -> np.ndarray:
        return np.mean([agree(judge) for judge in judges], axis=0).astype(float)

    others = [np.array([majority(tuple(row)) for row in np.delete(votes, j, axis=1)], dtype=object)
              for j in range(width)]
    per_item = {
        "vs_majority": mean_over_judges(lambda judge: judge == gold),
        "vs_vote_distribution": mean_over_judges(lambda judge: np.mean(votes == judge[:, None], axis=1)),
        "human_vs_vote_distribution": np.mean(
            [np.mean(np.delete(votes, j, axis=1) == votes[:, [j]], axis=1) for j in range(width)], axis=0),
        "leave_one_out_judge": mean_over_judges(
            lambda judge: np.mean([judge == other for other in others], axis=0)),
        "leave_one_out_human": np.mean([votes[:, j] == others[j] for j in range(width)], axis=0).astype(float),
    }
    sub = usable_clusters([items.cluster_keys[i] for i in keep]) if clusters is not None else None
    ci = bootstrap_cis({name: mean_statistic(values) for name, values in per_item.items()},
                       confidence=options.confidence, n_resamples=options.n_resamples, seed=options.seed,
                       clusters=sub)
    out: dict[str, Any] = {"n": len(keep), "n_annotators": width,
                           "vs_annotator": [float(np.mean([np.mean(judge == votes[:, j]) for judge in judges]))
                                            for j in range(width)]}
    for name in per_item:
        out[name] = estimate(ci[name])
        out[f"{name}_ci"] = bounds(ci[name])
    return out


def _order_winner(verdict: Verdict, swapped: bool) -> str | None:
    return next((o.winner for o in verdict.orders if o.swapped == swapped), None)


class Pairwise:
    """The pairwise kind of ``judgekit.analysis.kind.Kind``: rows, pairing by content, paired tests."""

    name = "pairwise"
    summary_figures = (
        "accuracy_final", "final_invalid_rate", "final_tie_rate", "accuracy", "accuracy_first_order",
        "accuracy_second_order", "accuracy_both_orders", "positional_agreement", "invalid_rate", "tie_rate",
        "cohen_kappa",
    )

    def row(self, run: RunRecords, options: Options) -> dict[str, Any]:
        return run_row(run, options)

    def content_key(self, item: Example) -> str:
        return content_key(item)

    def decisions(self, run: RunRecords, *, by_order: bool = False) -> dict[str | None, dict[str, Any]]:
        if not by_order:
            return {None: {v.example_id: v.decision for v in run.verdicts}}
        return {name: {v.example_id: o.winner for v in run.verdicts for o in v.orders if o.swapped == swapped}
                for name, swapped in (("original", False), ("swapped", True))}

    def ranked_figure(self, row: dict[str, Any], rank_by: str) -> str:
        if rank_by == "headline":
            return row["headline"]
        if rank_by not in RANK_BY:
            raise BadInput(f"--rank-by: {rank_by!r} is not one of headline, {', '.join(RANK_BY)} for pairwise runs")
        return rank_by

    def lower_is_better(self, figure: str) -> bool:
        return False

    def paired(self, run_1: RunRecords, run_2: RunRecords, figures: tuple[str, str],
               options: Options) -> dict[str, Any] | str | None:
        """The ranked figures' difference (run_1 - run_2) and its paired test on the examples both judged.

        Examples pair up by content (instruction and both responses), not by
        id: two files with the same name give the same ids to different texts.
        A single-order run against a two-order one counts its one order twice,
        so each item still scores the run's own figure.
        """
        shared = shared_items(run_1, run_2)
        if shared is None or isinstance(shared, str):
            return shared
        a, b = shared
        policy_1, policy_2 = policy_of(run_1, options), policy_of(run_2, options)
        if policy_1 != policy_2 and not {policy_1, policy_2} <= _SAME_ACCURACY:
            raise BadInput(f"{run_2.path}: invalid-verdict policy {policy_2!r} differs from {policy_1!r} of "
                           f"{run_1.path}; pass --invalid-policy to compare them")
        arrays_1, arrays_2 = _headline_verdicts(a, figures[0]), _headline_verdicts(b, figures[1])
        if len(arrays_1) != len(arrays_2):
            arrays_1, arrays_2 = (arrays_1 * 2)[:2], (arrays_2 * 2)[:2]
        clusters = a.clusters(options)
        result = compare_judges(a.gold, arrays_1, arrays_2, invalid=policy_1, confidence=options.confidence,
                                n_resamples=options.n_resamples, seed=options.seed, clusters=clusters)
        difference = estimate(result.accuracy_difference)
        difference_ci = bounds(result.accuracy_difference)
        return {
            "run_1": str(run_1.path), "run_2": str(run_2.path), "n": result.n,
            "n_clusters": clusters.n_clusters if clusters is not None else None,
            "figure": figures[0] if figures[0] == figures[1] else f"{figures[0]} vs {figures[1]}",
            "test": result.test.name, "p_value": result.test.p_value, "p_holm": None, "q_bh": None,
            "difference": difference, "difference_ci": difference_ci,
            "ci_method": ci_method(clusters, n_resamples=options.n_resamples, seed=options.seed),
            "items_1_better": result.test.only_1_higher, "items_2_better": result.test.only_2_higher,
            "orders": len(arrays_1), "accuracy_difference": difference, "accuracy_difference_ci": difference_ci,
        }

    def extras(self, runs: Sequence[RunRecords], rows: list[dict[str, Any]], options: Options) -> dict[str, Any]:
        """Each row's self-preference excess over the other model families; probe tables of probe runs."""
        for run, row in zip(runs, rows, strict=True):
            row |= _excess(run, runs, options)
        tables = {str(run.path): probe_table(run, order=True, seed=options.seed) for run in runs if has_probes(run)}
        return {"probes": tables} if tables else {}


    def plan_cells(self, run_1: RunRecords, run_2: RunRecords) -> tuple[np.ndarray, int]:
        return headline_cells(run_1, run_2)

    def page(self, run: RunRecords, options: Options) -> dict[str, Any]:
        """The items where some order's winner differs from the gold label, and the run's trust figures."""
        trust = TrustOptions(epsilon=options.epsilon, target_accuracy=options.target_accuracy,
                             n_resamples=options.n_resamples, seed=options.seed)
        return {"disagreements": disagreements(run), "trust": trust_figures(run, trust)}


PAIRWISE = Pairwise()


@dataclass(frozen=True)
class Disagreement:
    """One item where at least one presentation order's winner differs from the human label."""

    example: Example
    verdict: Verdict
    wrong_orders: int


def disagreements(run: RunRecords) -> list[Disagreement]:
    """Items with a gold label where some order's winner (None when unparseable) is not the gold."""
    verdicts = {v.example_id: v for v in run.verdicts}
    found = []
    for example in run.examples:
        verdict = verdicts.get(example.id)
        if example.gold is None or verdict is None:
            continue
        winners = [order.winner for order in verdict.orders] or [verdict.winner]
        wrong = sum(winner != example.gold for winner in winners)
        if wrong:
            found.append(Disagreement(example, verdict, wrong))
    return found


def shared_items(run_1: RunRecords, run_2: RunRecords) -> tuple[JudgedItems, JudgedItems] | str | None:
    """Both runs' judged items restricted to the examples they share by content, in run_1's order.

    A reason (str) when they share ids but not texts or gold labels; None when they share nothing.
    """
    (items_1, keys_1), (items_2, keys_2) = _keyed_items(run_1), _keyed_items(run_2)
    shared_1, shared_2 = match_by_content(keys_1, items_1.ids, keys_2, items_2.ids)
    if not shared_1:
        common = len(set(items_1.ids) & set(items_2.ids))
        return (f"different datasets: {common} example ids in common but no example with the same texts"
                if common else None)
    a, b = items_1.subset(shared_1), items_2.subset(shared_2)
    if a.gold != b.gold:
        return "different datasets: the same texts carry different gold labels"
    return a, b


def headline_cells(run_1: RunRecords, run_2: RunRecords) -> tuple[np.ndarray, int]:
    """Shares of (both right, only 1, only 2, both wrong) in the runs' headline verdicts on shared items.

    What ``plan paired`` sizes from two pilots: each run's headline verdicts
    (its final verdict, or each presentation order), paired slot by slot as
    ``compare`` pairs them, so the planned difference is the headline
    difference the leaderboard quotes. Invalid verdicts are wrong.
    Returns the shares and the number of shared items.
    """
    shared = shared_items(run_1, run_2)
    if not isinstance(shared, tuple):
        raise BadInput(f"{run_1.path}, {run_2.path}: no gold-labelled item judged by both with the same content")
    a, b = shared
    arrays_1, arrays_2 = _headline_verdicts(a, headline_figure(run_1)), _headline_verdicts(b, headline_figure(run_2))
    if len(arrays_1) != len(arrays_2):
        arrays_1, arrays_2 = (arrays_1 * 2)[:2], (arrays_2 * 2)[:2]
    counts = np.zeros(4)
    for one, two in zip(arrays_1, arrays_2, strict=True):
        for gold, w1, w2 in zip(a.gold, one, two, strict=True):
            counts[2 * (w1 != gold) + (w2 != gold)] += 1  # both right, only 1, only 2, both wrong
    return counts / counts.sum(), len(a.ids)


def _keyed_items(run: RunRecords) -> tuple[JudgedItems, list[str]]:
    """The run's judged items and their content keys, remembered: ``compare`` pairs a run with every other."""
    def compute() -> tuple[JudgedItems, list[str]]:
        items = judged_items(run)
        return items, item_keys(run, items)

    return remembered(run, ("judged items",), compute)


def item_keys(run: RunRecords, items: JudgedItems) -> list[str]:
    """Each judged example's ``content_key``, in the items' order."""
    keys = content_keys(run, content_key)
    return [keys[item] for item in items.ids]


def content_key(example: Example) -> str:
    """A hash of the example's instruction and responses (what makes two examples the same).

    An example with no text at all (pairs derived from scores whose texts the
    dataset does not ship, such as HANNA's) can only be known by its id.
    """
    if not (example.instruction or example.response_a or example.response_b):
        return f"id:{example.id}"
    text = json.dumps([example.instruction, example.response_a, example.response_b], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _excess(run: RunRecords, runs: Sequence[RunRecords], options: Options) -> dict[str, Any]:
    """Self-preference minus the mean of other model families' figure toward this judge's model.

    Peers are the runs whose judge is another model family and that judged
    the same examples (by content) in as many orders.
    """
    out: dict[str, Any] = {"self_preference_excess": None, "self_preference_excess_ci": None,
                           "self_preference_peers": []}
    model = run.manifest.judge_model
    items = judged_items(run)
    if not model or not any(a and b for a, b in zip(items.generator_a, items.generator_b, strict=True)):
        return out
    peers = {}
    for other in runs:
        if model_family(other.manifest.judge_model) in (None, model_family(model)):
            continue
        shared = shared_items(run, other)
        if isinstance(shared, tuple) and shared[0].ids == items.ids and len(shared[1].orders) == len(items.orders):
            peers[str(other.path)] = shared[1]
    if not peers:
        return out
    result = self_preference_excess(
        items.gold, {str(run.path): items.orders, **{name: p.orders for name, p in peers.items()}},
        judge=str(run.path), judge_model=model, generator_a=items.generator_a, generator_b=items.generator_b,
        confidence=options.confidence, n_resamples=options.n_resamples, seed=options.seed,
        clusters=items.clusters(options),
    )
    out["self_preference_excess"] = estimate(result.excess)
    out["self_preference_excess_ci"] = bounds(result.excess)
    out["self_preference_peers"] = sorted(peers)
    return out
