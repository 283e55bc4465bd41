"""A system's true quality from a judge run plus human labels on a random few of its items.

Data flow: a run dir (the judge's verdict on every item) and a human-label
file (a label on a random subset, joined to the run's items by id or by
content) -> the target as numbers (Y on the labelled items, the judge's f on
every item) -> ``judgekit.agreement.ppi`` -> one JSON-ready dict that
``judgekit.report.estimate`` lays out.

Targets, by run kind:

- ``pass_rate`` (classify runs): the share of outputs whose label is the
  chosen one (``--positive``; default ``pass`` when the run has it, else the
  run's positive label). Y, f ∈ {0, 1}.
- ``win_rate[:SYSTEM]`` (pairwise runs): how often a system's response is the
  better one, a tie counting half. Without SYSTEM it is response a's win rate
  over response b (a system against a fixed baseline); with it, the pairs in
  which SYSTEM wrote one response (``generator_a`` / ``generator_b``), each
  seen from SYSTEM's side. Y, f ∈ {0, ½, 1}.
- ``mean_score[:CRITERION]`` (pointwise runs): the mean human score of a
  criterion (several human columns are averaged per item).

The human file is the only source of truth: gold labels the run itself
carries are ignored, so a run over unlabelled outputs works the same way.
An item whose verdict is invalid (or missing, in a stopped run) still belongs
to the population; PPI gives it the judge's mean over its valid verdicts as
its prediction, a fixed rule that keeps the estimate unbiased, and
Rogan–Gladen counts it as the judge not saying the label (its sensitivity
and specificity then include such failures).

The labelled items must be a uniform random sample of the run's items (for
instance ``judgekit route --sample random``): labels chosen by the judge's
confidence, or by anything related to the outcome, break every guarantee here.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from judgekit.agreement.ppi import (
    MeanEstimate,
    classical_mean,
    naive_mean,
    ppi_mean,
    rogan_gladen,
    z_value,
)
from judgekit.analysis.kind import usable_clusters
from judgekit.analysis.pointwise import criteria_of
from judgekit.data.cards import label_key
from judgekit.data.files import Row, format_of, is_missing, plain, read_rows
from judgekit.data.loader import parse_label_names, parse_labels, parse_mapping
from judgekit.errors import BadInput
from judgekit.records import LABELS, PROBE_KEY, RunRecords

TARGETS = {"classify": "pass_rate", "pairwise": "win_rate", "pointwise": "mean_score"}
"""Each run kind's target; ``--target`` defaults to the run's."""
METHODS = ("naive", "classical", "ppi", "ppi++", "rogan-gladen")
MIN_LABELLED = 10
"""Fewest labelled items for an interval: the normal approximation behind every method here needs more,
and below this it is not worth stating."""
PLAN_SIMULATE_BELOW = 100
"""``plan estimate`` simulates (resampling the pilot) when the pilot has fewer labelled items than this."""

_CONTENT = {
    "classify": {"input": "input", "response": "output", "context": "context"},
    "pairwise": {"instruction": "instruction", "response_a": "response_a", "response_b": "response_b"},
    "pointwise": {"input": "input_id", "instruction": "instruction", "response": "response", "system": "system"},
}
"""Mapping keys that join a human file to a run by content: mapping key -> the item's field."""
_WIN = {"a": 1.0, "tie": 0.5, "b": 0.0}


@dataclass(frozen=True)
class Target:
    """What is estimated: ``pass_rate`` of a label, ``win_rate`` of a slot or system, ``mean_score`` of a criterion."""

    kind: str
    argument: str
    """The label, the system (``a``: response a), or the criterion."""

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.argument}"

    @property
    def binary(self) -> bool:
        """Y and f are 0/1, so Rogan–Gladen applies."""
        return self.kind == "pass_rate"


@dataclass(frozen=True)
class HumanLabels:
    """The human file's labels by the run's item id."""

    path: Path
    values: dict[str, Any]
    """Item id -> label name (classify), a/b/tie (pairwise) or score (pointwise)."""
    where: dict[str, str]
    """Item id -> the file's record it came from (``record 3``, ``line 7``)."""
    without_label: int
    """Rows whose label cells were all empty (not yet labelled): skipped."""


@dataclass(frozen=True)
class Outcomes:
    """The target as numbers over the run's items in the target population."""

    target: Target
    judge: np.ndarray
    """f per item; an invalid verdict holds the mean of the valid ones."""
    valid: np.ndarray
    """True where the judge's verdict was valid."""
    labelled: np.ndarray
    """True where the human file labels the item."""
    human: np.ndarray
    """Y on the labelled items, in item order."""
    judge_binary: np.ndarray | None
    """Binary targets: 1 where the judge said the label, 0 otherwise (invalid included)."""
    clusters: np.ndarray | None
    """Cluster code per item when items share an input; None when they are independent."""
    n_clusters: int | None
    outside_target: int
    """Human labels on run items outside the target (pairs without the system)."""

    @property
    def y(self) -> np.ndarray:
        return self.human

    def groups(self, mask: np.ndarray) -> np.ndarray | None:
        return None if self.clusters is None else self.clusters[mask]


# ---- the target -------------------------------------------------------------------------------------------------


def parse_target(run: RunRecords, text: str | None, positive: str | None = None) -> Target:
    """``--target`` (and ``--positive``) for this run; BadInput naming the option when they do not fit it."""
    kind = run.manifest.kind
    name, _, argument = (text or TARGETS[kind]).partition(":")
    name, argument = name.strip(), argument.strip()
    if name not in TARGETS.values():
        raise BadInput(f"--target: '{text}' is not pass_rate, win_rate[:SYSTEM] or mean_score[:CRITERION]")
    if name != TARGETS[kind]:
        raise BadInput(f"--target: {name} does not apply to {run.path}, a {kind} run (use {TARGETS[kind]})")
    if positive is not None and name != "pass_rate":
        raise BadInput(f"--positive: only pass_rate takes a label; {run.path} is a {kind} run")
    if name == "pass_rate":
        return Target(name, _pass_label(run, argument or positive))
    if name == "win_rate":
        return Target(name, _system(run, argument or "a"))
    return Target(name, _criterion(run, argument))


def _pass_label(run: RunRecords, label: str | None) -> str:
    labels = tuple(run.manifest.labels)
    if not labels:
        raise BadInput(f"{run.path}: manifest.json: field 'labels': a classify run must declare its label set")
    if label is None:
        label = "pass" if "pass" in labels else run.manifest.positive_label
    if label is None:
        raise BadInput(f"--positive: say which label's rate to estimate ({', '.join(labels)})")
    if label not in labels:
        raise BadInput(f"--positive: '{label}' is not a label of {run.path} ({', '.join(labels)})")
    return label


def _system(run: RunRecords, system: str) -> str:
    if system == "a":
        return system
    if not any(system in (e.generator_a, e.generator_b) for e in run.examples):
        known = sorted({g for e in run.examples for g in (e.generator_a, e.generator_b) if g})
        raise BadInput(f"--target: no pair of {run.path} has '{system}' as generator_a or generator_b"
                       + (f" (systems: {', '.join(known[:8])}{', ...' if len(known) > 8 else ''})" if known
                          else "; the pairs name no generators, so only win_rate (response a) applies"))
    return system


def _criterion(run: RunRecords, criterion: str) -> str:
    criteria = criteria_of(run) or list(dict.fromkeys(c for e in run.examples for c in e.criteria))
    if not criterion:
        if len(criteria) != 1:
            raise BadInput(f"--target: {run.path} has criteria {', '.join(criteria)}; "
                           "say which: mean_score:CRITERION")
        return criteria[0]
    if criterion not in criteria:
        raise BadInput(f"--target: '{criterion}' is not a criterion of {run.path} ({', '.join(criteria)})")
    return criterion


# ---- the human file ---------------------------------------------------------------------------------------------


def read_human_labels(run: RunRecords, target: Target, path: Path, *, mapping: str | None = None,
                      labels: str | None = None) -> HumanLabels:
    """The human file's labels keyed by the run's item ids; every bad record is a one-line BadInput.

    ``mapping`` names the file's columns: ``id=COL`` (or content columns, see
    ``_CONTENT``) and ``label=COL`` (``label=h1+h2+h3``: several annotators,
    the majority label or the mean score). Default ``id=id,label=label``.
    ``labels`` maps raw values to the run's labels (``yes=fail,no=pass``;
    pairwise ``1=a,2=b,0=tie``).
    """
    path = Path(path)
    kind = run.manifest.kind
    fields = _human_mapping(mapping, kind)
    raw_to_label = _label_map(labels, kind)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: a folder, not a label file") from None
    rows = read_rows(data, str(path), format_of(path.name, None))
    if not rows:
        raise BadInput(f"{path}: holds no records")
    columns = [*fields["label"], *([fields["id"]] if "id" in fields else []),
               *(c for key in fields if key in _CONTENT[kind] for c in fields[key])]
    for column in columns:
        if not any(column in row.data for row in rows):
            raise BadInput(f"{path}: field '{column}': no such column (from --mapping)")
    find = _finder(run, kind, fields, path)
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    without_label = 0
    for row in rows:
        value = _human_value(run, target, row, fields["label"], raw_to_label, path)
        if value is None:
            without_label += 1
            continue
        item = find(row)
        if item in values:
            raise BadInput(f"{path}: {row.where}: field '{fields.get('id', 'label')}': item '{item}' is labelled "
                           f"twice (first at {where[item]})")
        values[item] = value
        where[item] = row.where
    return HumanLabels(path, values, where, without_label)


def _human_mapping(text: str | None, kind: str) -> dict[str, list[str] | str]:
    parsed = parse_mapping(text) if text is not None else {"id": "id", "label": ["label"]}
    allowed = {"id", "label", *_CONTENT[kind]}
    for key, value in parsed.items():
        if key not in allowed:
            raise BadInput(f"--mapping: '{key}' is not used to join human labels to a {kind} run "
                           f"(use id=COL or {', '.join(_CONTENT[kind])}, and label=COL)")
        if value in (None, [], ""):
            raise BadInput(f"--mapping: '{key}=' names no column")
    if not parsed.get("label"):
        raise BadInput("--mapping: give label=COL (the human label column; label=h1+h2+h3 for several annotators)")
    if "id" not in parsed and not any(key in _CONTENT[kind] for key in parsed):
        raise BadInput(f"--mapping: give id=COL, or the content columns ({', '.join(_CONTENT[kind])}), "
                       "to join the labels to the run's items")
    fields: dict[str, Any] = {}
    for key, value in parsed.items():
        fields[key] = value if key == "id" else ([value] if isinstance(value, str) else list(value))
    if "id" in fields and any(key in _CONTENT[kind] for key in fields):
        raise BadInput("--mapping: join by id or by content columns, not both")
    return fields


def _label_map(text: str | None, kind: str) -> dict[str, str] | None:
    if text is None:
        return None
    if kind == "pointwise":
        raise BadInput("--labels: human scores are numbers; --labels is for classify and pairwise runs")
    return parse_labels(text) if kind == "pairwise" else parse_label_names(text)


def _finder(run: RunRecords, kind: str, fields: dict[str, Any], path: Path):
    """A function from a human-file row to the id of the run item it labels (BadInput when none or several)."""
    items = [e for e in run.examples if PROBE_KEY not in e.metadata]
    if "id" in fields:
        column = fields["id"]
        ids = {e.id for e in items}

        def by_id(row: Row) -> str:
            value = row.data.get(column)
            if is_missing(value):
                raise BadInput(f"{path}: {row.where}: field '{column}': missing")
            item = label_key(plain(value))
            if item not in ids:
                raise BadInput(f"{path}: {row.where}: field '{column}': '{item}' is not an item of run {run.path}")
            return item

        return by_id
    keys = [key for key in fields if key in _CONTENT[kind]]
    index: dict[tuple, list[str]] = {}
    for e in items:
        index.setdefault(tuple(_norm(getattr(e, _CONTENT[kind][key])) for key in keys), []).append(e.id)

    def by_content(row: Row) -> str:
        key = tuple(_norm(_joined(row, fields[k])) for k in keys)
        found = index.get(key, [])
        named = "+".join(c for k in keys for c in fields[k])
        if not found:
            raise BadInput(f"{path}: {row.where}: field '{named}': matches no item of run {run.path} by content")
        if len(found) > 1:
            raise BadInput(f"{path}: {row.where}: field '{named}': matches {len(found)} items of run {run.path} "
                           "(their content is the same); join by id=COL instead")
        return found[0]

    return by_content


def _joined(row: Row, columns: list[str]) -> str:
    """Several columns' non-blank texts joined by a blank line, as the classify loader joins an input."""
    parts = [str(plain(row.data.get(c))) for c in columns if not is_missing(row.data.get(c))]
    return "\n\n".join(p for p in parts if p.strip())


def _norm(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _human_value(run: RunRecords, target: Target, row: Row, columns: list[str], raw_to_label: dict[str, str] | None,
                 path: Path) -> Any:
    """The row's label (majority of several columns) or mean score; None when every label cell is empty."""
    cells = [(c, row.data.get(c)) for c in columns]
    present = [(c, plain(v)) for c, v in cells if not is_missing(v) and str(v).strip() != ""]
    if not present:
        return None
    kind = run.manifest.kind
    if kind == "pointwise":
        low, high = _scale(run, target.argument)
        scores = []
        for column, value in present:
            try:
                score = float(value)
            except (TypeError, ValueError):
                raise BadInput(f"{path}: {row.where}: field '{column}': '{value}' is not a number") from None
            if not (math.isfinite(score) and low <= score <= high):
                raise BadInput(f"{path}: {row.where}: field '{column}': {value} is outside the scale "
                               f"{low:g}-{high:g} of '{target.argument}'")
            scores.append(score)
        return sum(scores) / len(scores)
    allowed = tuple(run.manifest.labels) if kind == "classify" else LABELS
    names = []
    for column, value in present:
        raw = label_key(value)
        name = raw_to_label.get(raw) if raw_to_label is not None else raw
        if name not in allowed:
            hint = "" if raw_to_label is not None else " (map raw values with --labels)"
            raise BadInput(f"{path}: {row.where}: field '{column}': '{raw}' is not a label of the run "
                           f"({', '.join(allowed)}){hint}")
        names.append(name)
    counts = Counter(names).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        raise BadInput(f"{path}: {row.where}: field '{'+'.join(columns)}': the annotators tie "
                       f"({', '.join(names)}); give this item one label")
    return counts[0][0]


def _scale(run: RunRecords, criterion: str) -> tuple[float, float]:
    for e in run.examples:
        if criterion in e.criteria:
            return e.criteria[criterion].low, e.criteria[criterion].high
    return -math.inf, math.inf


# ---- from records to numbers ------------------------------------------------------------------------------------


def outcomes(run: RunRecords, target: Target, human: HumanLabels, *, clusters: bool = True) -> Outcomes:
    """Y on the labelled items and the judge's f on every item of the target population."""
    kind = run.manifest.kind
    verdicts = {v.example_id: v for v in run.verdicts}
    rows = []  # (item id, judge value or None, human value or None, cluster key)
    outside = 0
    for e in run.examples:
        if PROBE_KEY in e.metadata:
            continue
        verdict = verdicts.get(e.id)
        said = human.values.get(e.id)
        if kind == "classify":
            label = verdict.label if verdict is not None else None
            judge = None if label is None else float(label == target.argument)
            truth = None if said is None else float(said == target.argument)
            key = e.cluster if e.cluster is not None else e.input
        elif kind == "pairwise":
            side = _side(e, target.argument)
            if side is None:
                outside += said is not None
                continue
            winner = verdict.winner if verdict is not None else None
            judge = None if winner is None else _oriented(winner, side)
            truth = None if said is None else _oriented(said, side)
            key = e.cluster if e.cluster is not None else e.instruction
        else:
            rating = verdict.criteria.get(target.argument) if verdict is not None else None
            judge = rating.score if rating is not None else None
            truth = said
            key = e.input_id
        rows.append((e.id, judge, truth, key))
    if not rows:
        raise BadInput(f"{run.path}: no item of the run is in the target {target.name}")
    judge = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=float)
    valid = ~np.isnan(judge)
    if not valid.any():
        raise BadInput(f"{run.path}: verdicts.jsonl: no valid verdict on the target {target.name}")
    judge_binary = np.where(valid, judge, 0.0) if target.binary else None
    judge = np.where(valid, judge, judge[valid].mean())
    labelled = np.array([r[2] is not None for r in rows])
    found = usable_clusters([r[3] for r in rows]) if clusters else None
    return Outcomes(
        target=target, judge=judge, valid=valid, labelled=labelled,
        human=np.array([r[2] for r in rows if r[2] is not None], dtype=float), judge_binary=judge_binary,
        clusters=found.codes if found is not None else None, n_clusters=found.n_clusters if found is not None else None,
        outside_target=outside,
    )


def _side(example, system: str) -> str | None:
    if system == "a":
        return "a"
    if example.generator_a == system and example.generator_b != system:
        return "a"
    if example.generator_b == system and example.generator_a != system:
        return "b"
    return None


def _oriented(label: str, side: str) -> float:
    value = _WIN[label]
    return value if side == "a" else 1.0 - value


def _check_enough(o: Outcomes, human: HumanLabels, run: RunRecords) -> None:
    n = int(o.labelled.sum())
    if n < MIN_LABELLED:
        raise BadInput(f"{human.path}: field 'label': {n} labelled item{'s' if n != 1 else ''} of run {run.path} "
                       f"in the target {o.target.name}; an interval needs at least {MIN_LABELLED}")


# ---- estimate ---------------------------------------------------------------------------------------------------


def estimate_figures(
    run: RunRecords,
    human_path: Path,
    *,
    target: str | None = None,
    positive: str | None = None,
    mapping: str | None = None,
    labels: str | None = None,
    methods: tuple[str, ...] = METHODS,
    alpha: float = 0.05,
    clusters: bool = True,
    rogan_gladen_interval: str = "delta",
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Every requested method's estimate of the target, side by side (the ``estimate --format json`` dict)."""
    for method in methods:
        if method not in METHODS:
            raise BadInput(f"--method: '{method}' is not one of {', '.join(METHODS)}")
    z_value(alpha)  # validates alpha before any work
    chosen = parse_target(run, target, positive)
    human = read_human_labels(run, chosen, human_path, mapping=mapping, labels=labels)
    o = outcomes(run, chosen, human, clusters=clusters)
    _check_enough(o, human, run)
    lab, unl = o.labelled, ~o.labelled
    n, N = int(lab.sum()), int(unl.sum())
    results: dict[str, dict[str, Any]] = {}
    naive = naive_mean(o.judge[o.valid], alpha=alpha, groups=o.groups(o.valid))
    results["naive"] = _json(naive) | {
        "valid": False, "note": "the judge's verdicts taken as truth: its errors bias the estimate and the "
                                "interval ignores them"}
    classical = classical_mean(o.y, alpha=alpha, groups=o.groups(lab))
    results["classical"] = _json(classical) | {"valid": True}
    tuned = None
    if N == 0:
        for method in ("ppi", "ppi++"):
            results[method] = (_undefined("every item is labelled: the classical estimate is the answer")
                               | {"lambda": None})
    else:
        args = (o.y, o.judge[lab], o.judge[unl])
        groups = {"groups": o.groups(lab), "groups_unlabelled": o.groups(unl)}
        results["ppi"] = _json(ppi_mean(*args, lam=1.0, alpha=alpha, **groups), lam=True) | {"valid": True}
        tuned = ppi_mean(*args, lam=None, alpha=alpha, **groups)
        results["ppi++"] = _json(tuned, lam=True) | {"valid": True}
    results["rogan-gladen"] = _rogan_gladen(o, alpha, rogan_gladen_interval, n_resamples, seed)
    effective = None
    if tuned is not None and tuned.se > 0:
        effective = float(n * (classical.se / tuned.se) ** 2)
    return {
        "run": str(run.path), "human": str(human.path), "kind": run.manifest.kind, "judge": run.manifest.judge,
        "target": chosen.name, "n_labelled": n, "n_unlabelled": N, "n_invalid": int((~o.valid).sum()),
        "alpha": alpha,
        "variance": (f"clustered: sandwich over {o.n_clusters} clusters (CR1)" if o.clusters is not None
                     else "independent items"),
        "n_clusters": o.n_clusters,
        "human_rows_without_label": human.without_label, "human_labels_outside_target": o.outside_target,
        "methods": {m: results[m] for m in METHODS if m in methods},
        "effective_labels": effective,
    }


def _rogan_gladen(o: Outcomes, alpha: float, interval: str, n_resamples: int, seed: int) -> dict[str, Any]:
    empty = {"sensitivity": None, "specificity": None, "judge_rate": None, "interval": None}
    if not o.target.binary:
        return _undefined("binary targets only (pass_rate)") | empty
    lab, unl = o.labelled, ~o.labelled
    if not unl.any():
        return _undefined("every item is labelled: the classical estimate is the answer") | empty
    try:
        rg = rogan_gladen(o.y, o.judge_binary[lab], o.judge_binary[unl], alpha=alpha, interval=interval,
                          n_resamples=n_resamples, seed=seed, groups=o.groups(lab), groups_unlabelled=o.groups(unl))
    except BadInput as e:
        return _undefined(str(e).removeprefix("rogan-gladen: ")) | empty
    found = {"sensitivity": rg.sensitivity, "specificity": rg.specificity, "judge_rate": rg.judge_rate,
             "interval": rg.interval}
    if math.isnan(rg.estimate):
        return _undefined("sensitivity + specificity <= 1: the judge carries no information on the label") | found
    return {"estimate": rg.estimate, "ci": [rg.low, rg.high], "se": None if math.isnan(rg.se) else rg.se,
            "valid": True, "raw_estimate": rg.raw} | found


def _json(result: MeanEstimate, *, lam: bool = False) -> dict[str, Any]:
    found = {"estimate": result.estimate, "ci": [result.low, result.high], "se": result.se}
    return found | ({"lambda": result.lam} if lam else {})


def _undefined(note: str) -> dict[str, Any]:
    return {"estimate": None, "ci": None, "se": None, "valid": None, "note": note}


# ---- plan -------------------------------------------------------------------------------------------------------


def plan_figures(
    run: RunRecords,
    human_path: Path,
    *,
    half_width: float,
    target: str | None = None,
    positive: str | None = None,
    mapping: str | None = None,
    labels: str | None = None,
    alpha: float = 0.05,
    total: int | None = None,
    sizes: tuple[int, ...] = (25, 50, 100, 200, 400, 800, 1600),
    simulate: bool | None = None,
    simulations: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Human labels a ``half_width`` interval needs, humans alone and with the judge, from a labelled pilot.

    The pilot gives the human outcomes' spread, the judge's spread and their
    covariance. Analytic: the classical interval needs n = (z·sd(Y)/W)²; PPI++
    on ``total`` judged items needs the smallest n whose
    z·√(λ²·Var(f)/(total − n) + Var(Y − λf)/n) ≤ W with λ tuned at n.
    Simulated (below ``PLAN_SIMULATE_BELOW`` pilot labels, or when asked):
    labelled samples of each size are drawn with replacement from the pilot's
    labelled items, both intervals computed as ``estimate`` computes them, and
    the needed size is the first in ``sizes`` reaching W in 80 % of draws.
    """
    if not half_width > 0:
        raise BadInput(f"--half-width: {half_width} must be positive")
    z = z_value(alpha)
    chosen = parse_target(run, target, positive)
    human = read_human_labels(run, chosen, human_path, mapping=mapping, labels=labels)
    o = outcomes(run, chosen, human, clusters=False)
    _check_enough(o, human, run)
    y, f_lab = o.y, o.judge[o.labelled]
    total = len(o.judge) if total is None else total
    if total < 2:
        raise BadInput(f"--total: {total} judged items; a plan needs at least 2")
    sd_y = float(np.std(y))
    if sd_y == 0:
        raise BadInput(f"{human.path}: field 'label': every labelled item has the same value, so the spread a "
                       "plan needs is unknown; label more items")
    var_f = float(np.var(o.judge, ddof=1))
    covariance = float(np.mean((y - y.mean()) * (f_lab - f_lab.mean())))
    var_f_lab = float(np.var(f_lab))
    classical_needed = math.ceil((z * sd_y / half_width) ** 2)
    grid = np.arange(1, total, dtype=float)
    lam, width = _ppi_half_widths(grid, total, z, sd_y**2, var_f, var_f_lab, covariance)
    reached = np.nonzero(width <= half_width)[0]
    ppi_needed = int(grid[reached[0]]) if len(reached) else None
    at = {int(s) for s in sizes if 1 <= s < total}
    rows = [{"n": int(n), "classical": z * sd_y / math.sqrt(n), "ppi++": float(w), "lambda": float(lm)}
            for n, w, lm in zip(grid, width, lam) if int(n) in at]
    n_pilot = int(o.labelled.sum())
    simulate = n_pilot < PLAN_SIMULATE_BELOW if simulate is None else simulate
    result: dict[str, Any] = {
        "question": f"human labels for a {1 - alpha:.0%} interval of half-width {half_width:g} on {chosen.name}, "
                    f"{total} items judged",
        "run": str(run.path), "human": str(human.path), "target": chosen.name, "half_width": half_width,
        "alpha": alpha, "n_total": total, "pilot_labelled": n_pilot,
        "moments": {"human_sd": sd_y, "judge_sd": math.sqrt(var_f),
                    "correlation": covariance / (sd_y * math.sqrt(var_f_lab)) if var_f_lab > 0 else None},
        "analytic": {"needed": {"classical": classical_needed if classical_needed <= total else None,
                                "ppi++": ppi_needed},
                     "lambda": float(lam[reached[0]]) if len(reached) else None, "half_widths": rows},
        "simulation": None,
    }
    if simulate:
        result["simulation"] = _simulated_plan(y, f_lab, var_f, total=total, z=z, half_width=half_width,
                                               sizes=sorted(at), simulations=simulations, seed=seed)
    result["method"] = "simulation" if simulate else "analytic"
    result["needed"] = (result["simulation"] or result["analytic"])["needed"]
    return result


def _ppi_half_widths(n, total, z, var_y, var_f, var_f_lab, covariance):
    """λ(n) and the PPI++ half-width at each labelled size n with total − n unlabelled items."""
    unlabelled = total - n
    lam = np.clip(covariance / ((1 + n / unlabelled) * var_f), 0, 1) if var_f > 0 else np.zeros_like(n)
    rectifier = var_y - 2 * lam * covariance + lam**2 * var_f_lab
    return lam, z * np.sqrt(lam**2 * var_f / unlabelled + np.maximum(rectifier, 0) / n)


def _simulated_plan(y, f, var_f, *, total, z, half_width, sizes, simulations, seed, power=0.8) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        idx = rng.integers(0, len(y), size=(simulations, n))
        ys, fs = y[idx], f[idx]
        classical = z * ys.std(axis=1) / math.sqrt(n)
        covariance = ((ys - ys.mean(axis=1, keepdims=True)) * (fs - fs.mean(axis=1, keepdims=True))).mean(axis=1)
        lam = np.clip(covariance / ((1 + n / (total - n)) * var_f), 0, 1) if var_f > 0 else np.zeros(simulations)
        rectifier = (ys - lam[:, None] * fs).std(axis=1)
        ppi = z * np.sqrt(lam**2 * var_f / (total - n) + rectifier**2 / n)
        rows.append({"n": n, "classical": float(np.mean(classical <= half_width)),
                     "ppi++": float(np.mean(ppi <= half_width))})
    needed = {m: next((r["n"] for r in rows if r[m] >= power), None) for m in ("classical", "ppi++")}
    return {"simulations": simulations, "seed": seed, "power_target": power, "rows": rows, "needed": needed}


# ---- a random sample for people ---------------------------------------------------------------------------------


def random_sample(run: RunRecords, n: int, seed: int) -> list:
    """``n`` of the run's items drawn uniformly without replacement (seeded), in the run's order.

    This is the labelled set PPI needs; a sample chosen by the judge's
    confidence is not (see docs/estimate.md).
    """
    items = [e for e in run.examples if PROBE_KEY not in e.metadata]
    if not 1 <= n <= len(items):
        raise BadInput(f"--n: {n} is not between 1 and the run's {len(items)} items")
    chosen = np.sort(np.random.default_rng(seed).choice(len(items), size=n, replace=False))
    return [items[i] for i in chosen]
