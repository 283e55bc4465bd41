"""The default run's leaderboard as a rich table and the sentences that say what it shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text


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


def render_references(data: dict[str, Any], *, judge: str, minutes: str | None) -> Group:
    """The recorded judges alone, shown before ``judge`` starts on the same pairs (they need no calls)."""
    table = Table(title=f"Recorded judges on {data['n']} pairs of {data['dataset']} (no calls)",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for header in ("#", "judge", "protocol", "accuracy", "95% CI", "agree"):
        table.add_column(header, justify="left" if header in ("judge", "protocol") else "right", no_wrap=True)
    for row in data["rows"]:
        ci = row["accuracy_ci"]
        table.add_row(str(row["rank"]), row["judge"], row["protocol"], f"{row['accuracy']:.3f}",
                      f"{ci[0]:.3f}–{ci[1]:.3f}",
                      "-" if row["positional_agreement"] is None else f"{row['positional_agreement']:.3f}")
    best = data["rows"][0]
    when = f" ({minutes})" if minutes else ""
    note = Text(f"The best recorded judge, {best['judge'].removeprefix('llmbar:')}, agrees with LLMBar's expert labels "
                f"on {best['accuracy']:.1%} of these pairs. {judge} now judges the same pairs{when}; the full "
                "leaderboard with paired tests follows.")
    return Group(table, note)


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
