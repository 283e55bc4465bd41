"""Can a run's judge be trusted in place of people? Run-level inputs for the trust statistics.

The statistics themselves live in ``judgekit.agreement`` (``alt_test``,
``calibration``, ``selective``) and take plain tables; this module turns run
dirs into those tables (human votes per annotator, the judge's confidence per
item), the way ``pairwise.judged_items`` does for accuracy. A probe run's
perturbed copies are left out: they are the probe table's figures, not items.

Annotators of a run are the positions of the examples' human ``votes``
(``annotator 1``, ``annotator 2``, ...), which is how the dataset cards map
one column per annotator. When a dataset's vote slots are not the same people
from item to item, the leave-one-annotator-out test treats each slot as one
annotator, an approximation worth stating next to the figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from judgekit.agreement.alt_test import AltTest, alt_test, alt_test_json
from judgekit.agreement.calibration import Calibration, brier_score, calibration, expected_calibration_error
from judgekit.agreement.plan import alt_test_differences
from judgekit.agreement.selective import SelectiveCurve, TargetCoverage, coverage_at_accuracy, selective_curve
from judgekit.errors import BadInput
from judgekit.judge.spec import strategy_of_run
from judgekit.judge.strategies.base import RECORDED_CONFIDENCE
from judgekit.records import LABELS, PROBE_KEY, Example, RunRecords

if TYPE_CHECKING:
    import pandas as pd


def annotator_votes(run: RunRecords) -> pd.DataFrame:
    """One row per judged example with votes, one column per vote position (None: no vote)."""
    import pandas as pd  # heavy: load on use

    judged = {v.example_id for v in run.verdicts}
    examples = [e for e in run.examples if e.votes and e.id in judged and PROBE_KEY not in e.metadata]
    width = max((len(e.votes) for e in examples), default=0)
    rows = [list(e.votes) + [None] * (width - len(e.votes)) for e in examples]
    columns = [f"annotator {k + 1}" for k in range(width)]
    return pd.DataFrame(rows, index=[e.id for e in examples], columns=columns, dtype=object)


def has_annotators(run: RunRecords) -> bool:
    """True when some judged example carries at least two human votes (the alt-test can run)."""
    judged = {v.example_id for v in run.verdicts}
    return any(len(e.votes) >= 2 and e.id in judged and PROBE_KEY not in e.metadata for e in run.examples)


def run_alt_test(
    run: RunRecords, *, epsilon: float = 0.2, q: float = 0.05, min_items: int = 30, name: str | None = None
) -> AltTest:
    """The alt-test of the run's judge (its final labels; invalid ones left out) against the votes."""
    import pandas as pd  # heavy: load on use

    votes = annotator_votes(run)
    winners = {v.example_id: v.decision for v in run.verdicts}
    judge = pd.DataFrame({name or run.path.name: [winners[i] for i in votes.index]}, index=votes.index, dtype=object)
    return alt_test(votes, judge, epsilon=epsilon, q=q, alignment="accuracy", min_items=min_items)


@dataclass(frozen=True)
class Confidences:
    """Each gold-labelled example of a run: its winner, whether it is right, and how sure the judge was.

    ``confidence`` is None for an invalid verdict (undecided) or a verdict that
    carries no confidence.
    """

    ids: list[str]
    winner: list[str | None]
    correct: np.ndarray
    confidence: list[float | None]
    source: str | None
    """What the confidence is (the strategy's ``confidence_source``), None when the protocol gives none."""


def confidences(run: RunRecords) -> Confidences:
    """The judge's confidence that its winner is right, per gold-labelled example (REFERENCES E2).

    The run's strategy says how sure its judge was (``Strategy.confidence``:
    the logprob margin's sigmoid, the vote share of a panel or of
    self-consistency samples, the rating gap, a label's probability), so
    trust reads any strategy's confidence, a plugin's too, without knowing it.
    A run whose strategy is not known here is read as its kind's base class
    reads a record's own fields (``RECORDED_CONFIDENCE``: margins, a label's
    probability).
    """
    verdicts = {v.example_id: v for v in run.verdicts}
    examples = [e for e in run.examples if e.gold is not None and e.id in verdicts and PROBE_KEY not in e.metadata]
    chosen = [verdicts[e.id] for e in examples]
    source, values = _stated(run, chosen)
    return Confidences(
        ids=[e.id for e in examples],
        winner=[v.decision for v in chosen],
        correct=np.array([v.decision == e.gold for v, e in zip(chosen, examples)], dtype=float),
        confidence=values,
        source=source,
    )


def _stated(run: RunRecords, verdicts: list[Any]) -> tuple[str | None, list[float | None]]:
    """(source, confidence per verdict) as the run's strategy states them; None for an undecided verdict."""
    strategy = strategy_of_run(run.manifest)
    if strategy is not None:
        source, stated = strategy.confidence_source, strategy.confidence(verdicts)
    elif run.manifest.kind in RECORDED_CONFIDENCE:  # a recorded judge's run: what its records state themselves
        source, read = RECORDED_CONFIDENCE[run.manifest.kind]
        stated = read(verdicts)
    else:
        source, stated = None, [None] * len(verdicts)
    values = [c if v.decision is not None else None for v, c in zip(verdicts, stated, strict=True)]
    return (source if any(c is not None for c in values) else None), values


def run_calibration(run: RunRecords, *, n_bins: int = 10, strategy: str = "uniform", method: str = "isotonic",
                    folds: int = 5, seed: int = 0) -> tuple[Confidences, Calibration | None]:
    """Calibration of the run's confidences on the decided items that carry one (None without any)."""
    conf = confidences(run)
    c, y = _with_confidence(conf)
    if len(c) < folds:
        return conf, None
    return conf, calibration(c, y, n_bins=n_bins, strategy=strategy, method=method, folds=folds, seed=seed)


def calibration_summary(run: RunRecords, *, n_bins: int = 10) -> dict[str, Any] | None:
    """The report's ``calibration`` figure: raw ECE and Brier of the judge's confidences (None without any).

    Raw means as the judge states them, no map fitted: cheap enough for every
    report row. ``judgekit trust`` adds the cross-fitted figures and the bins.
    """
    conf = confidences(run)
    c, y = _with_confidence(conf)
    if not len(c):
        return None
    return {"source": conf.source, "n": len(c), "n_bins": n_bins,
            "ece": expected_calibration_error(c, y, n_bins=n_bins), "brier": brier_score(c, y)}


def _with_confidence(conf: Confidences) -> tuple[np.ndarray, np.ndarray]:
    """Confidence and correctness (1/0) of the items that carry a confidence."""
    keep = [i for i, c in enumerate(conf.confidence) if c is not None]
    return np.array([conf.confidence[i] for i in keep], dtype=float), conf.correct[keep]


def run_selective(run: RunRecords, *, target: float = 0.9, level: float = 0.95, n_resamples: int = 1000,
                  seed: int = 0) -> tuple[Confidences, SelectiveCurve | None, TargetCoverage | None]:
    """The accuracy–coverage curve over all gold-labelled items and the coverage at ``target``."""
    conf = confidences(run)
    if conf.source is None or not conf.ids:
        return conf, None, None
    curve = selective_curve(conf.confidence, conf.correct)
    at = coverage_at_accuracy(conf.confidence, conf.correct, target=target, level=level,
                              n_resamples=n_resamples, seed=seed)
    return conf, curve, at


@dataclass(frozen=True)
class TrustOptions:
    """Settings of the trust figures (CLI options of ``judgekit trust``)."""

    epsilon: float = 0.2
    q: float = 0.05
    min_items: int = 30
    target_accuracy: float = 0.9
    level: float = 0.95
    n_bins: int = 10
    binning: str = "uniform"
    method: str = "isotonic"
    folds: int = 5
    n_resamples: int = 1000
    seed: int = 0


def trust_figures(run: RunRecords, options: TrustOptions = TrustOptions()) -> dict[str, Any]:
    """One run's trust figures as JSON-ready dicts: alt-test, calibration, selective judging.

    Each part is null when the run cannot define it: no item with two human
    votes (alt-test), no confidence in the verdicts (calibration, selective).
    """
    name = run.path.name
    alt = None
    if has_annotators(run):
        result = run_alt_test(run, epsilon=options.epsilon, q=options.q, min_items=options.min_items, name=name)
        alt = alt_test_json(result)
    conf, cal = run_calibration(run, n_bins=options.n_bins, strategy=options.binning, method=options.method,
                                folds=options.folds, seed=options.seed)
    _, curve, at = run_selective(run, target=options.target_accuracy, level=options.level,
                                 n_resamples=options.n_resamples, seed=options.seed)
    return {
        "run": name,
        "judge": run.manifest.judge,
        "protocol": run.manifest.protocol,
        "dataset": run.manifest.dataset,
        "confidence_source": conf.source,
        "alt_test": alt,
        "calibration": calibration_json(cal, conf) if cal is not None else None,
        "selective": selective_json(curve, at) if curve is not None and at is not None else None,
    }


def calibration_json(cal: Calibration, conf: Confidences) -> dict[str, Any]:
    """Raw and cross-fitted ECE, Brier and reliability bins."""
    def bins(rows):
        return [{"lower": b.lower, "upper": b.upper, "n": b.n, "confidence": b.confidence, "accuracy": b.accuracy}
                for b in rows]

    return {
        "n": cal.n, "n_undecided": sum(c is None for c in conf.confidence),
        "binning": f"{cal.strategy}, {cal.n_bins} bins", "ece": cal.ece, "brier": cal.brier,
        "reliability": bins(cal.bins), "method": cal.method, "folds": cal.folds,
        "calibrated_ece": cal.calibrated_ece, "calibrated_brier": cal.calibrated_brier,
        "calibrated_reliability": bins(cal.calibrated_bins),
    }


def selective_json(curve: SelectiveCurve, at: TargetCoverage) -> dict[str, Any]:
    """Coverage at the target accuracy (with CI and threshold) and the whole accuracy–coverage curve."""
    return {
        "target_accuracy": at.target_accuracy,
        "bound": f"Clopper-Pearson {at.confidence:g} two-sided, lower end",
        "coverage": at.coverage,
        "coverage_ci": [at.coverage_ci.low, at.coverage_ci.high],
        "threshold": at.threshold,
        "kept": at.kept,
        "accuracy": None if math.isnan(at.accuracy) else at.accuracy,
        "accuracy_lower_bound": None if math.isnan(at.accuracy_lower_bound) else at.accuracy_lower_bound,
        "n": at.n_items,
        "curve": {"threshold": curve.threshold.tolist(), "coverage": curve.coverage.tolist(),
                  "accuracy": curve.accuracy.tolist()},
    }


def confidences_of_all(run: RunRecords) -> list[tuple[Example, str | None, float | None]]:
    """(example, winner, confidence) for every example of the run, labelled or not; no verdict is invalid."""
    verdicts = {v.example_id: v for v in run.verdicts}
    _, values = _stated(run, [verdicts[e.id] for e in run.examples if e.id in verdicts])
    stated = dict(zip([e.id for e in run.examples if e.id in verdicts], values, strict=True))
    return [(e, verdicts[e.id].decision if e.id in verdicts else None, stated.get(e.id)) for e in run.examples]


def alt_test_pool_of(run: RunRecords) -> np.ndarray:
    """A pilot run's W_h − W_f per item and annotator, the pool ``plan_alt_test`` draws from."""
    if not has_annotators(run):
        raise BadInput(f"{run.path}: no judged item has two human votes; the alt-test needs several annotators")
    votes = annotator_votes(run)
    winners = {v.example_id: v.decision for v in run.verdicts}
    codes = {label: k for k, label in enumerate(run.manifest.labels or LABELS)}
    humans = votes.map(lambda v: codes.get(v, -1)).to_numpy(dtype=int)
    judge = np.array([codes.get(winners[i], -1) for i in votes.index])
    return alt_test_differences(humans, judge)


def correctness(run: RunRecords) -> dict[str, bool]:
    """Whether the run's final label equals gold, per gold-labelled judged example (invalid: wrong)."""
    gold = {e.id: e.gold for e in run.examples if e.gold is not None}
    return {v.example_id: v.decision == gold[v.example_id] for v in run.verdicts if v.example_id in gold}


def alt_test_summary(run: RunRecords, *, epsilon: float = 0.2, q: float = 0.05,
                     min_items: int = 30) -> dict[str, Any] | None:
    """The report's ``alt_test`` figure of one run: its judge as the candidate (None without two votes per item)."""
    if not has_annotators(run):
        return None
    result = alt_test_json(run_alt_test(run, epsilon=epsilon, q=q, min_items=min_items, name="judge"))
    candidate = result["candidates"]["judge"]
    return {"epsilon": result["epsilon"], "q": result["q"], "alignment": result["alignment"],
            "min_items": result["min_items"], **candidate}
