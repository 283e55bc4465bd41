"""One judge's run set beside reference runs on the same items: the default run's leaderboard.

``judgekit run`` with no arguments judges the bundled LLMBar Natural sample
and then shows this: the new judge next to LLMBar's recorded judges, each
with its headline accuracy against the expert labels, a CI, positional
agreement, and a paired test against the new judge on exactly the same items.
Those tests are one family: each raw p comes with its Holm-adjusted p, and
the closing sentence calls a difference significant only after Holm.

The headline of a protocol that turns both presentation orders into one
verdict (``logprob/*``, ``llmbar/swap*``) is the accuracy of that verdict
(``accuracy_final``); for a protocol that judges the orders separately it
is LLMBar's Acc, the per-order mean. The paired difference compares the
two headlines, with a paired item bootstrap CI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from judgekit.agreement import adjust_p_values, compare_judges, proportion_ci
from judgekit.agreement.selective import selective_curve
from judgekit.errors import BadInput
from judgekit.rundir import Run
from judgekit.scoring import JudgedItems, Options, headline_figure, judged_items, policy_of, score_run
from judgekit.trust import confidences


def leaderboard(run: Run, references: Sequence[Run], options: Options = Options()) -> dict[str, Any]:
    """Rows for ``run`` and each reference (best headline first), each paired against ``run``.

    Every reference must hold the items ``run`` judged (same ids and labels);
    it is scored on those items only (so a ``--limit`` run compares fairly).
    """
    items = judged_items(run)
    rows = [_row(run, items, options, is_new=True)]
    for other in references:
        theirs = _same_items(other, items)
        row = _row(other, theirs, options, is_new=False)
        row |= _paired_with(run, items, other, theirs, options)
        rows.append(row)
    paired = [row for row in rows if not row["new"]]
    for row, holm in zip(paired, adjust_p_values([row["p_value"] for row in paired]).p_holm, strict=True):
        row["p_holm"] = holm
    rows.sort(key=lambda r: -(r["accuracy"] if r["accuracy"] is not None else -1))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    tests = sorted({row["test"].split(" (")[0] for row in rows if row.get("test")})  # the family, not each count
    return {"judge": run.manifest.judge, "dataset": run.manifest.dataset, "n": len(items.ids),
            "test": "; ".join(tests) or "none", "rows": rows, "confident_half": confident_half(run)}


def confident_half(run: Run) -> dict[str, Any] | None:
    """Accuracy on the half of the pairs the judge is most confident about (selective judging, REFERENCES E2).

    The most confident items are kept until at least half are (ties in
    confidence are kept together, so slightly more than half may be); the
    interval is the exact Clopper-Pearson one. None when the verdicts carry
    no confidence (e.g. parsed text verdicts).
    """
    conf = confidences(run)
    if conf.source is None or not conf.ids:
        return None
    curve = selective_curve(conf.confidence, conf.correct)
    half = (len(conf.ids) + 1) // 2
    reach = [i for i, kept in enumerate(curve.kept) if kept >= half]
    if not reach:
        return None
    kept, right = int(curve.kept[reach[0]]), int(curve.right[reach[0]])
    interval = proportion_ci(right, kept, method="beta")
    return {"kept": kept, "n": len(conf.ids), "accuracy": interval.estimate,
            "accuracy_ci": [interval.low, interval.high], "source": conf.source}


def _same_items(other: Run, items: JudgedItems) -> JudgedItems:
    theirs = judged_items(other)
    missing = set(items.ids) - set(theirs.ids)
    if missing:
        raise BadInput(f"{other.path}: has no verdict for {sorted(missing)[0]}; cannot pair it with this run")
    theirs = theirs.subset(items.ids)
    if theirs.gold != items.gold:
        raise BadInput(f"{other.path}: gold labels differ on the same items; not the same dataset")
    return theirs


def _row(run: Run, items: JudgedItems, options: Options, *, is_new: bool) -> dict[str, Any]:
    """The run's headline on these items, from the one scoring path (``scoring.score_run``)."""
    scored, _ = score_run(run, items, options)
    figure = headline_figure(run)
    return {
        "run": str(run.path), "judge": run.manifest.judge, "judge_model": run.manifest.judge_model,
        "protocol": run.manifest.protocol, "n": scored["n"], "figure": figure, "new": is_new,
        "accuracy": scored[figure], "accuracy_ci": scored[f"{figure}_ci"],
        "positional_agreement": scored["positional_agreement"], "invalid_rate": scored["invalid_rate"],
        "difference": None, "difference_ci": None, "p_value": None, "p_holm": None, "test": None,
    }


def _paired_with(run: Run, mine: JudgedItems, other: Run, theirs: JudgedItems, options: Options) -> dict[str, Any]:
    """Reference minus new judge, headline against headline, on the same items."""
    finals = _finals(run, mine.ids)
    own = [finals, finals] if headline_figure(run) == "accuracy_final" else mine.orders
    their = theirs.orders if headline_figure(other) == "accuracy" else [_finals(other, theirs.ids)] * 2
    m = min(len(own), len(their))
    result = compare_judges(mine.gold, their[:m], own[:m], invalid=policy_of(run, options),
                            confidence=options.confidence, n_resamples=options.n_resamples, seed=options.seed)
    interval = result.accuracy_difference
    return {"difference": interval.estimate, "difference_ci": [interval.low, interval.high],
            "p_value": result.test.p_value, "test": result.test.name}


def _finals(run: Run, ids: Sequence[str]) -> list[str | None]:
    by_id = {v.example_id: v.winner for v in run.verdicts}
    return [by_id[i] for i in ids]


# ---------------------------------------------------------------- rendering


def render_leaderboard(data: dict[str, Any], *, alpha: float = 0.05) -> Group:
    """The table plus one sentence saying what it shows."""
    new = next(r for r in data["rows"] if r["new"])
    table = Table(title=f"Agreement with LLMBar's expert labels on {data['n']} pairs of {data['dataset']}",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for header in ("#", "judge", "protocol", "accuracy", "95% CI", "agree", f"Δ vs #{new['rank']}", "p", "Holm"):
        table.add_column(header, justify="left" if header in ("judge", "protocol") else "right", no_wrap=True)
    for row in data["rows"]:
        ci = row["accuracy_ci"]
        table.add_row(
            str(row["rank"]), Text(row["judge"], style="bold" if row["new"] else ""), row["protocol"],
            f"{row['accuracy']:.3f}", f"{ci[0]:.3f}–{ci[1]:.3f}",
            "-" if row["positional_agreement"] is None else f"{row['positional_agreement']:.3f}",
            "" if row["new"] else f"{row['difference']:+.3f}", "" if row["new"] else f"{row['p_value']:.2g}",
            "" if row["new"] else f"{row['p_holm']:.2g}",
        )
    figures = {r["figure"] for r in data["rows"]}
    what = []
    if "accuracy_final" in figures:
        what.append("accuracy of the order-debiased final verdict (accuracy_final) for "
                    + ", ".join(sorted({r["protocol"] for r in data["rows"] if r["figure"] == "accuracy_final"})))
    if "accuracy" in figures:
        what.append("mean over the two presentation orders (LLMBar's Acc) for the others")
    notes = Text(
        f"accuracy: {'; '.join(what)}. agree: same winner in both orders. Δ: that judge's accuracy minus "
        f"#{new['rank']}'s on the same pairs; p: {data['test']}; Holm: p adjusted for the "
        f"{len(data['rows']) - 1} tests (Holm 1979)."
        + (f" Recorded judges: {recorded}." if (recorded := _models(data["rows"])) else ""), style="dim")
    lines = [summary_sentence(data, alpha=alpha)]
    if (half := data.get("confident_half")) is not None:
        lines.append(
            f"On the {half['kept']} of {half['n']} pairs it is most confident about ({half['source']}), "
            f"{data['judge']} is right on {half['accuracy']:.1%} [{half['accuracy_ci'][0]:.1%}, "
            f"{half['accuracy_ci'][1]:.1%}] (Clopper-Pearson): the cases to hand it, the rest to people "
            "(`judgekit trust RUN` draws the whole accuracy-coverage curve).")
    return Group(table, notes, Text(""), *(Text(line) for line in lines))


def _models(rows: Sequence[dict[str, Any]]) -> str:
    return ", ".join(f"{r['judge'].removeprefix('llmbar:')} = {r['judge_model']}" for r in rows
                     if r["judge"].startswith("llmbar:") and r["judge_model"])


def summary_sentence(data: dict[str, Any], *, alpha: float = 0.05) -> str:
    """What the table shows, in words."""
    rows = data["rows"]
    new = next(r for r in rows if r["new"])
    others = [r for r in rows if not r["new"]]
    if not others:
        return f"{new['judge']} agrees with the labels on {new['accuracy']:.1%} of {data['n']} pairs."
    better = [r for r in others if r["difference"] > 0 and r["p_holm"] < alpha]
    worse = [r for r in others if r["difference"] < 0 and r["p_holm"] < alpha]
    best = max(others, key=lambda r: r["accuracy"])
    text = (f"{new['judge']} agrees with LLMBar's expert labels on {new['accuracy']:.1%} of these {data['n']} "
            f"pairs; the best recorded judge, {best['judge'].removeprefix('llmbar:')}, on {best['accuracy']:.1%}. ")
    if better:
        names = ", ".join(r["judge"].removeprefix("llmbar:") for r in better)
        verb = "is" if len(better) == 1 else "are"
        text += f"{len(better)} of {len(others)} recorded judges {verb} significantly more accurate ({names}); "
    else:
        text += f"None of the {len(others)} recorded judges is significantly more accurate; "
    text += (f"{len(worse)} significantly less" if worse else "none significantly less") + \
            f" (paired test, Holm-adjusted p < {alpha:g} over the {len(others)} comparisons)."
    closest = min(others, key=lambda r: r["p_value"])
    if not (better or worse) and closest["p_value"] < alpha:
        text += (f" {closest['judge'].removeprefix('llmbar:')}'s {closest['difference']:+.3f} has p = "
                 f"{closest['p_value']:.2g} alone, {closest['p_holm']:.2g} after the correction: {data['n']} pairs "
                 f"are too few to be sure; `judgekit plan paired --pilot {new['run']} --pilot {closest['run']} "
                 f"--alpha {alpha / len(others):.3g}` says how many would do (the level is Holm's first step, "
                 f"{alpha:g} split over the {len(others)} tests).")
    return text
