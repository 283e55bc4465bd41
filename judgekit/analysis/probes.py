"""Per-probe figures from a probe run: how often the verdict moved, and what that did to accuracy.

A probe run dir holds the unperturbed pairs (no ``probe`` in their metadata)
and each probed copy (metadata ``probe`` and ``base_example``). Every figure
pairs a copy with its own base pair and compares final verdicts:

- flip rate: share of pairs whose final verdict (a, b, tie or invalid)
  changed, with a Wilson interval;
- accuracy change: accuracy of the probed copies minus that of their base
  pairs against the human label (invalid counts wrong), with a paired item
  bootstrap CI and the exact McNemar p-value;
- for probes that change the dispreferred response: how often it wins
  before and after (a judge swayed by the change picks it more);
- identical pairs: decisiveness (share of verdicts that are not a tie) and
  the first-slot share of the per-order winners (0.5 for a fair judge);
- order: for a judge that sees both presentation orders, its own two-order
  measurement — a flip is a pair whose two orders disagree, the accuracy
  change is (b shown first) minus (a shown first); for a single-order judge,
  a swapped copy, compared after mapping its verdict back;
- beside each flip rate, when a rerun flip rate is given (``judgekit
  stability``'s, or two ordinary runs of the same judge): that rerun noise and
  the excess, flip rate minus rerun flip rate, with Newcombe's interval
  (``judgekit.agreement.flips.excess``). A protocol probe (a paraphrased
  rubric, renamed labels) matters only as far as it moves verdicts more than
  asking again does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from judgekit.agreement import Interval, compare_judges, proportion_ci
from judgekit.agreement.flips import excess, flip_rate
from judgekit.errors import BadInput
from judgekit.records import BASE_KEY, KIND_KEY, PROBE_KEY, TARGET_KEY, Example, Manifest, RunRecords, Verdict

FIELDS = ("probe", "kind", "target", "n", "flip_rate", "flip_rate_ci", "accuracy_base", "accuracy_probed",
          "accuracy_change", "accuracy_change_ci", "p_value", "test", "dispreferred_wins_base",
          "dispreferred_wins_probed",
          "dispreferred_wins_probed_ci", "decisiveness", "decisiveness_ci", "first_slot_share",
          "first_slot_share_ci", "rerun_flip_rate", "rerun_flip_rate_ci", "excess_flip_rate",
          "excess_flip_rate_ci")
"""One probe's row in ``judgekit probe --format json`` and in report's ``probes``."""

_SWAP = {"a": "b", "b": "a"}


def has_probes(run: RunRecords) -> bool:
    return any(PROBE_KEY in e.metadata for e in run.examples)


def probe_table(run: RunRecords, *, order: bool = False, seed: int = 0,
                rerun: Interval | None = None) -> list[dict[str, Any]]:
    """One row per probe in the run (in first-seen order); ``order`` adds the two-order row from the base pairs;
    ``rerun`` (a rerun flip rate and its interval) adds it and the excess to every row with a flip rate."""
    verdicts = {v.example_id: v for v in run.verdicts}
    base = {e.id: e for e in run.examples if PROBE_KEY not in e.metadata and e.id in verdicts}
    groups: dict[str, list[Example]] = defaultdict(list)
    for e in run.examples:
        if PROBE_KEY in e.metadata and e.id in verdicts and e.metadata[BASE_KEY] in base:
            groups[e.metadata[PROBE_KEY]].append(e)
    rows = []
    if order and (two := two_order_row(list(base.values()), verdicts, seed=seed))["n"]:
        rows.append(two)
    for probe, copies in groups.items():
        rows.append(probe_row(probe, [base[c.metadata[BASE_KEY]] for c in copies], copies, verdicts, seed=seed))
    if rerun is not None:
        for row in rows:
            if row["flip_rate"] is not None:
                beyond = excess(Interval(row["flip_rate"], *row["flip_rate_ci"]), rerun)
                row |= {"rerun_flip_rate": rerun.estimate, "rerun_flip_rate_ci": [rerun.low, rerun.high],
                        "excess_flip_rate": beyond.estimate, "excess_flip_rate_ci": [beyond.low, beyond.high]}
    return rows


def two_run_flip_rate(probe_run: RunRecords, other: RunRecords) -> tuple[Interval, int]:
    """Rerun noise from a second ordinary run of the same judge and protocol: the share of the probe run's
    unperturbed pairs (those ``other`` judged too, with the same content) whose final verdict differs between
    the two runs, with its Wilson interval, and how many pairs that is."""
    check_same_judge(probe_run.manifest, other.manifest, other.path)
    theirs_content = {e.id: _content(e) for e in other.examples}
    mine_content = {e.id: _content(e) for e in probe_run.examples if PROBE_KEY not in e.metadata}
    verdicts = {v.example_id: v.winner for v in other.verdicts}
    pairs = [(v.winner, verdicts[v.example_id]) for v in probe_run.verdicts
             if v.example_id in verdicts and v.example_id in mine_content
             and mine_content[v.example_id] == theirs_content.get(v.example_id)]
    if not pairs:
        raise BadInput(f"--rerun-noise: {other.path} judged none of the probe run's pairs")
    before, after = zip(*pairs, strict=True)
    return flip_rate(before, after), len(pairs)


def check_same_judge(mine: Manifest, theirs: Manifest, where: Path) -> None:
    """BadInput unless the run at ``where`` (``theirs``) is the probe run's judge, protocol and temperature:
    rerun noise is only a baseline for the judge it was measured on."""
    def settings(manifest: Manifest) -> tuple[str, str | None, Any]:
        return manifest.judge, manifest.protocol_hash, manifest.params.get("temperature")

    if settings(mine) != settings(theirs):
        raise BadInput(f"--rerun-noise: {where} is {theirs.judge} · {theirs.protocol} at temperature "
                       f"{theirs.params.get('temperature')}, the probe run {mine.judge} · {mine.protocol} at "
                       f"{mine.params.get('temperature')}; rerun noise must come from the same judge")


def _content(example: Any) -> tuple[str, str, str]:
    return (example.instruction, example.response_a, example.response_b)


def probe_row(probe: str, bases: Sequence[Example], copies: Sequence[Example], verdicts: dict[str, Verdict],
              *, seed: int = 0) -> dict[str, Any]:
    """Figures of one probe from its copies and their base pairs (same order)."""
    row: dict[str, Any] = dict.fromkeys(FIELDS)
    kind = copies[0].metadata[KIND_KEY] if copies else None
    target = copies[0].metadata[TARGET_KEY] if copies else None
    row |= {"probe": probe, "n": len(copies), "kind": kind, "target": target}
    if kind == "identical":
        finals = [verdicts[c.id].winner for c in copies]
        decisive = sum(w in ("a", "b") for w in finals)
        firsts = [_first_slot(o) for c in copies for o in verdicts[c.id].orders if o.winner in ("a", "b")]
        row |= _share("decisiveness", decisive, len(finals)) | _share("first_slot_share", sum(firsts), len(firsts))
        return row
    gold = [b.gold for b in bases]
    before = [verdicts[b.id].winner for b in bases]
    after = [verdicts[c.id].winner for c in copies]
    if kind == "order":  # the copy's verdict in the base pair's frame
        after = [_SWAP.get(w, w) for w in after]
    row |= _changes(gold, before, after, seed=seed)
    if target == "dispreferred":
        worse = [_SWAP[g] for g in gold]
        row["dispreferred_wins_base"] = sum(w == x for w, x in zip(before, worse, strict=True)) / len(gold)
        wins = _share("dispreferred_wins_probed", sum(w == x for w, x in zip(after, worse, strict=True)), len(gold))
        row |= wins
    return row


def two_order_row(bases: Sequence[Example], verdicts: dict[str, Verdict], *, seed: int = 0) -> dict[str, Any]:
    """The order probe for a judge that saw both orders: its per-order winners, no new calls."""
    row: dict[str, Any] = dict.fromkeys(FIELDS)
    both = [b for b in bases if b.gold in ("a", "b") and {o.swapped for o in verdicts[b.id].orders} == {False, True}]
    first = [_order(verdicts[b.id], False) for b in both]
    second = [_order(verdicts[b.id], True) for b in both]
    row |= {"probe": "order", "kind": "order", "target": "both", "n": len(both)}
    if both:
        row |= _changes([b.gold for b in both], first, second, seed=seed)
    return row


def _changes(gold: list[str], before: list[str | None], after: list[str | None], *, seed: int) -> dict[str, Any]:
    flips = flip_rate(before, after)
    out = {"flip_rate": flips.estimate, "flip_rate_ci": [flips.low, flips.high]}
    result = compare_judges(gold, [after], [before], seed=seed)
    diff = result.accuracy_difference
    out |= {
        "accuracy_base": sum(w == g for w, g in zip(before, gold, strict=True)) / len(gold),
        "accuracy_probed": sum(w == g for w, g in zip(after, gold, strict=True)) / len(gold),
        "accuracy_change": diff.estimate, "accuracy_change_ci": [diff.low, diff.high],
        "p_value": result.test.p_value, "test": result.test.name,
    }
    return out


def _share(name: str, count: int, n: int) -> dict[str, Any]:
    if n == 0:
        return {name: None, f"{name}_ci": None}
    interval = proportion_ci(count, n)
    return {name: interval.estimate, f"{name}_ci": [interval.low, interval.high]}


def _first_slot(order: Any) -> bool:
    """Did this order's winner sit in the first slot shown? (b is first when the order is swapped)."""
    return order.winner == ("b" if order.swapped else "a")


def _order(verdict: Verdict, swapped: bool) -> str | None:
    return next((o.winner for o in verdict.orders if o.swapped == swapped), None)
