"""The classify run kind: one output judged alone (pass/fail or a category), against human labels.

Data flow: a classify run (LabelledOutput + Classification) -> aligned human
labels, judge labels and cluster keys -> ``judgekit.agreement.classification``
-> one row: the common fields, then the confusion matrix, per-class figures,
base rates and the chance-corrected figures with their intervals.
``CLASSIFY`` is this kind's implementation of ``judgekit.analysis.kind.Kind``.

The headline is Cohen's kappa unless the run says otherwise: a judge that
always answers the majority label scores the base rate in accuracy and
nothing in kappa (Cohen 1960). Two judges on the same outputs (paired by
content) are tested on per-item correctness: exact McNemar on independent
items, the clustered sign-flip test when outputs share an input; the ranked
figure's difference gets a paired bootstrap interval.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from judgekit.agreement.classification import (
    INVALID_POLICIES,
    classification_agreement,
    classification_statistics,
    item_credit,
    multi_annotator_summary,
)
from judgekit.agreement.significance import paired_test
from judgekit.agreement.uncertainty import Clusters, Statistic, bootstrap_cis, ci_method
from judgekit.analysis.kind import Options, bounds, common_fields, estimate, match_by_content, usable_clusters
from judgekit.analysis.trust import alt_test_summary, calibration_summary
from judgekit.errors import BadInput
from judgekit.records import HEADLINES, PROBE_KEY, Classification, LabelledOutput, RunRecords

RANK_ALIASES = {"kappa": "cohen_kappa", "cohen_kappa": "cohen_kappa", "mcc": "mcc",
                "balanced_accuracy": "balanced_accuracy", "accuracy": "accuracy"}
"""``--rank-by`` values for classify runs, besides ``f1:LABEL`` and ``headline``."""
FIGURES = ("cohen_kappa", "accuracy", "balanced_accuracy", "mcc")


@dataclass(frozen=True)
class LabelledItems:
    """A classify run's human-labelled, judged outputs as aligned lists."""

    ids: list[str]
    human: list[str]
    judge: list[str | None]
    votes: list[tuple[str | None, ...]]
    cluster_keys: list[str]
    content: list[str]

    def subset(self, keep: Sequence[str]) -> LabelledItems:
        at = {item: i for i, item in enumerate(self.ids)}
        pick = [at[item] for item in keep]
        return LabelledItems(*([values[i] for i in pick] for values in (
            self.ids, self.human, self.judge, self.votes, self.cluster_keys, self.content)))

    def clusters(self, options: Options) -> Clusters | None:
        return usable_clusters(self.cluster_keys) if options.clusters and self.ids else None


def labelled_items(run: RunRecords) -> LabelledItems:
    """Outputs that have a human label and a verdict (probe copies left out), with their content keys."""
    verdicts: dict[str, Classification] = {v.example_id: v for v in run.verdicts}
    examples: list[LabelledOutput] = [e for e in run.examples if e.gold is not None and e.id in verdicts
                                      and PROBE_KEY not in e.metadata]
    return LabelledItems(
        ids=[e.id for e in examples],
        human=[e.gold for e in examples],
        judge=[verdicts[e.id].label for e in examples],
        votes=[e.votes for e in examples],
        cluster_keys=[e.cluster if e.cluster is not None else e.input for e in examples],
        content=[content_key(e) for e in examples],
    )


def labels_of(run: RunRecords) -> tuple[str, ...]:
    labels = tuple(run.manifest.labels)
    if not labels:
        raise BadInput(f"{run.path}: manifest.json: field 'labels': a classify run must declare its label set")
    return labels


def policy_of(run: RunRecords, options: Options) -> str:
    policy = options.invalid_policy or run.manifest.invalid_policy
    if policy not in INVALID_POLICIES:
        raise BadInput(f"invalid-verdict policy {policy!r} is not one of {', '.join(INVALID_POLICIES)} "
                       "for classify runs")
    return policy


class Classify:
    """The classify kind of ``judgekit.analysis.kind.Kind``."""

    name = "classify"
    summary_figures = (*FIGURES, "invalid_rate", "tpr", "tnr")

    def content_key(self, item: LabelledOutput) -> str:
        return content_key(item)

    def decisions(self, run: RunRecords, *, by_order: bool = False) -> dict[str | None, dict[str, Any]]:
        return {} if by_order else {None: {v.example_id: v.decision for v in run.verdicts}}

    def row(self, run: RunRecords, options: Options) -> dict[str, Any]:
        labels = labels_of(run)
        items = labelled_items(run)
        clusters = items.clusters(options)
        policy = policy_of(run, options)
        row = common_fields(run) | {
            "n": len(items.ids), "n_clusters": clusters.n_clusters if clusters is not None else None,
            "ci_method": ci_method(clusters, n_resamples=options.n_resamples, seed=options.seed),
            "headline": run.manifest.headline or HEADLINES["classify"], "invalid_policy": policy,
            "labels": list(labels), "positive_label": run.manifest.positive_label, "n_examples": len(run.examples),
        }
        row |= dict.fromkeys(("accuracy", "accuracy_ci", "balanced_accuracy", "balanced_accuracy_ci", "mcc", "mcc_ci",
                              "cohen_kappa", "cohen_kappa_ci", "confusion", "per_class", "tpr", "tnr",
                              "base_rate_human", "base_rate_judge", "annotators", "alt_test", "calibration"))
        if not items.ids:
            return row
        found = classification_agreement(items.human, items.judge, labels=labels,
                                         positive_label=run.manifest.positive_label, invalid=policy,
                                         confidence=options.confidence, n_resamples=options.n_resamples,
                                         seed=options.seed, clusters=clusters)
        for name in FIGURES:
            row[name] = estimate(getattr(found, name))
            row[f"{name}_ci"] = bounds(getattr(found, name))
        columns = list(labels) + (["invalid"] if found.n_invalid else [])
        row |= {"confusion": {"labels": list(labels), "columns": columns, "matrix": found.confusion},
                "per_class": found.per_class, "tpr": found.tpr, "tnr": found.tnr,
                "base_rate_human": found.base_rate_human, "base_rate_judge": found.base_rate_judge,
                "invalid_rate": found.invalid_rate}
        row |= {f"f1:{label}": found.per_class[label]["f1"] for label in labels}
        row["annotators"] = _annotators(items, labels)
        row["alt_test"] = alt_test_summary(run, epsilon=options.epsilon)
        row["calibration"] = calibration_summary(run)
        return row

    def ranked_figure(self, row: dict[str, Any], rank_by: str) -> str:
        if rank_by == "headline":
            return row["headline"]
        if rank_by in RANK_ALIASES:
            return RANK_ALIASES[rank_by]
        if rank_by.startswith("f1:") and rank_by[3:] in row["labels"]:
            return rank_by
        raise BadInput(f"--rank-by: {rank_by!r} is not one of headline, kappa, mcc, balanced_accuracy, accuracy, "
                       f"f1:LABEL with LABEL one of {', '.join(row['labels'])}")

    def lower_is_better(self, figure: str) -> bool:
        return False

    def paired(self, run_1: RunRecords, run_2: RunRecords, figures: tuple[str, str],
               options: Options) -> dict[str, Any] | str | None:
        """Figure(run_1) - figure(run_2) on the outputs both judged, with a paired test on correctness."""
        labels = labels_of(run_1)
        if labels_of(run_2) != labels:
            return f"different label sets ({', '.join(labels)} vs {', '.join(labels_of(run_2))})"
        shared = _shared(labelled_items(run_1), labelled_items(run_2))
        if not isinstance(shared, tuple):
            return shared
        a, b = shared
        policy_1, policy_2 = policy_of(run_1, options), policy_of(run_2, options)
        if policy_1 != policy_2:
            raise BadInput(f"{run_2.path}: invalid-verdict policy {policy_2!r} differs from {policy_1!r} of "
                           f"{run_1.path}; pass --invalid-policy to compare them")
        figure = figures[0] if figures[0] == figures[1] else None
        if figure is None:
            return f"ranked by different figures ({figures[0]} vs {figures[1]})"
        clusters = a.clusters(options)
        credit_1, counted_1 = item_credit(a.human, a.judge, labels=labels, invalid=policy_1)
        credit_2, counted_2 = item_credit(b.human, b.judge, labels=labels, invalid=policy_1)
        both = counted_1 & counted_2
        kept_clusters = usable_clusters([k for k, c in zip(a.cluster_keys, both, strict=True) if c]) \
            if clusters is not None else None
        test = paired_test(credit_1[both], credit_2[both], clusters=kept_clusters, seed=options.seed)
        one = classification_statistics(a.human, a.judge, labels=labels, invalid=policy_1)[figure]
        two = classification_statistics(b.human, b.judge, labels=labels, invalid=policy_1)[figure]
        k = one.terms.shape[1]
        difference = Statistic(np.hstack([one.terms, two.terms]), lambda s: one.fn(s[..., :k]) - two.fn(s[..., k:]))
        interval = bootstrap_cis({"d": difference}, confidence=options.confidence, n_resamples=options.n_resamples,
                                 seed=options.seed, clusters=clusters)["d"]
        return {"run_1": str(run_1.path), "run_2": str(run_2.path), "n": len(a.ids),
                "n_clusters": clusters.n_clusters if clusters is not None else None, "figure": figure,
                "test": f"{test.name} on per-item correctness", "p_value": test.p_value, "p_holm": None,
                "q_bh": None, "difference": estimate(interval), "difference_ci": bounds(interval),
                "ci_method": ci_method(clusters, n_resamples=options.n_resamples, seed=options.seed),
                "items_1_better": test.only_1_higher, "items_2_better": test.only_2_higher}

    def extras(self, runs: Sequence[RunRecords], rows: list[dict[str, Any]], options: Options) -> dict[str, Any]:
        return {}


    def plan_cells(self, run_1: RunRecords, run_2: RunRecords) -> tuple[np.ndarray, int]:
        """Correctness of the two runs' labels on the outputs they share (invalid: wrong)."""
        shared = _shared(labelled_items(run_1), labelled_items(run_2))
        if not isinstance(shared, tuple):
            raise BadInput(f"{run_1.path}, {run_2.path}: no labelled output judged by both with the same content")
        a, b = shared
        counts = np.zeros(4)
        for human, one, two in zip(a.human, a.judge, b.judge, strict=True):
            counts[2 * (one != human) + (two != human)] += 1  # both right, only 1, only 2, both wrong
        return counts / counts.sum(), len(a.ids)

    def page(self, run: RunRecords, options: Options) -> dict[str, Any]:
        """The outputs where the judge's label differs from the human one, each with its cell and raw text."""
        verdicts: dict[str, Classification] = {v.example_id: v for v in run.verdicts}
        shown = []
        for example in run.examples:
            verdict = verdicts.get(example.id)
            if example.gold is None or verdict is None or verdict.label == example.gold:
                continue
            judged = verdict.label or "invalid"
            shown.append({"example": example, "verdict": verdict, "human": example.gold, "judge": judged,
                          "cell": f"{example.gold} → {judged}"})
        return {"disagreements": shown}


CLASSIFY = Classify()


def _annotators(items: LabelledItems, labels: tuple[str, ...]) -> dict[str, Any] | None:
    """With several annotators: the judge against each one and the majority, human agreement with and
    without the judge, and the leave-one-out human ceiling (``multi_annotator_summary``)."""
    width = max((len(v) for v in items.votes), default=0)
    if width < 2:
        return None
    per_item = [tuple(v) + (None,) * (width - len(v)) for v in items.votes]
    by_annotator = [[row[j] for row in per_item] for j in range(width)]
    found = multi_annotator_summary(by_annotator, items.judge, labels=labels)
    return found.as_dict()


def _shared(items_1: LabelledItems, items_2: LabelledItems) -> tuple[LabelledItems, LabelledItems] | str | None:
    """Both runs' items on the outputs they share by content (input, output, context, label), in run 1's order."""
    keep_1, keep_2 = match_by_content(items_1.content, items_1.ids, items_2.content, items_2.ids)
    if not keep_1:
        common = len(set(items_1.ids) & set(items_2.ids))
        return (f"different datasets: {common} output ids in common but no output with the same texts and label"
                if common else None)
    return items_1.subset(keep_1), items_2.subset(keep_2)


def content_key(example: LabelledOutput) -> str:
    """What makes two labelled outputs the same: input, output, context, reference and the human label."""
    data = [example.input, example.output, example.context, example.reference, example.gold]
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode("utf-8")).hexdigest()
