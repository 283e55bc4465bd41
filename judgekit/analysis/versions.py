"""The versions of a judge developed on one split: dev and test figures, paired tests, and how many looks.

Reads a split's ledger (``judgekit.runs.ledger``) and the runs it names. Each
judge version (``judgekit.judge.identity``) gets its latest finished run on
each side, figured by its run kind (``Kind.row``), and its cost and tokens
per 1,000 items judged. On the test side, versions are taken in the order
they were first run there; each is paired with the best version scored on
test before it (``Kind.paired``: the same test items, matched by content),
and the p-values of all these comparisons are Holm-adjusted as one family.

Every version run on the test side is a look at it. Picking the best of k
looks on one test set overstates how the pick will do on new data (the
selection is fitted to the test set's noise: Cawley & Talbot, "On
Over-fitting in Model Selection and Subsequent Selection Bias in Performance
Evaluation", JMLR 2010), so with more than one look the table says how many,
and a version named with ``final`` (the one chosen before looking) leads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from judgekit.agreement.significance import adjust_p_values
from judgekit.analysis.kind import Kind, Options
from judgekit.analysis.kinds import KINDS
from judgekit.errors import BadInput
from judgekit.judge.identity import short
from judgekit.records import RunRecords
from judgekit.runs.ledger import LedgerEntry

SIDES = ("dev", "test")


def versions_table(entries: Sequence[LedgerEntry], runs: Mapping[str, RunRecords], *, kind: str,
                   options: Options = Options(), final: str | None = None) -> dict[str, Any]:
    """Each version's figures, the paired tests on the test side, the count of looks and the warning.

    ``runs`` maps a ledger entry's run path to the run read from it; runs not
    there (moved or deleted) show the figure the ledger recorded, untested.
    ``final`` names a version (``v2``, or a prefix of its hash) to lead the table.
    """
    analysis = KINDS[kind]
    figures = {path: analysis.row(run, options) for path, run in runs.items()}
    rows = [_version_row(version, name, entries, runs, figures, analysis) for version, name in _names(entries).items()]
    _note_edits(rows)
    comparisons = _against_best_earlier(rows, entries, runs, analysis, options)
    looks = [row for row in rows if row["test_runs"]]
    chosen = _resolve(final, rows) if final is not None else None
    for row in rows:
        row["final"] = row["name"] == chosen
    ordered = sorted(rows, key=lambda row: not row["final"])
    return {
        "kind": kind,
        "versions": ordered,
        "comparisons": comparisons,
        "family": f"{len([c for c in comparisons if c['p_value'] is not None])} test-side comparisons, each version "
                  "against the best version scored on test before it (Holm: family-wise error)",
        "looks": len(looks),
        "warning": _warning(len(looks), chosen),
        "final": chosen,
        "missing_runs": sorted({e.run for e in entries if e.event == "finished" and e.run not in runs}),
    }


def _names(entries: Sequence[LedgerEntry]) -> dict[str, str]:
    """Version hash -> ``v1``, ``v2``, ... in the order versions first appear in the ledger."""
    names: dict[str, str] = {}
    for entry in entries:
        names.setdefault(entry.version, f"v{len(names) + 1}")
    return names


def _version_row(version: str, name: str, entries: Sequence[LedgerEntry], runs: Mapping[str, RunRecords],
                 figures: Mapping[str, dict[str, Any]], analysis: Kind) -> dict[str, Any]:
    mine = [e for e in entries if e.version == version]
    row: dict[str, Any] = {"name": name, "version": version, "short": short(version), "judge": mine[0].judge,
                           "protocol": mine[0].protocol, "protocol_hash": mine[0].protocol_hash,
                           "params": mine[0].params, "edited_from": None}
    used = []
    for side in SIDES:
        done = [e for e in mine if e.on == side and e.event == "finished"]
        row[side] = _side(done[-1], figures.get(done[-1].run), analysis) if done else None
        if done and done[-1].run in runs:
            used.append(done[-1].run)
    row["test_runs"] = sum(e.on == "test" and e.event == "started" for e in mine)
    row["unfinished_test_runs"] = row["test_runs"] - sum(e.on == "test" and e.event == "finished" for e in mine)
    items = sum(len(runs[path].verdicts) for path in used)
    spent = [figures[path] for path in used]
    row["cost_per_1000"] = 1000 * sum(r["cost_usd"] for r in spent) / items if items else None
    row["tokens_per_1000"] = 1000 * sum(r["tokens_in"] + r["tokens_out"] for r in spent) / items if items else None
    return row


def _side(entry: LedgerEntry, row: dict[str, Any] | None, analysis: Kind) -> dict[str, Any]:
    """A version's figures on one side: from its run when the run dir is there, else as the ledger recorded them."""
    if row is None:
        return {"run": entry.run, "figure": entry.headline, "value": entry.value,
                "ci": list(entry.ci) if entry.ci else None, "n": entry.n, "complete": entry.complete,
                "from": "ledger"}
    figure = analysis.ranked_figure(row, "headline")
    return {"run": entry.run, "figure": figure, "value": row.get(figure), "ci": row.get(f"{figure}_ci"),
            "n": row["n"], "complete": row["complete"], "from": "run"}


def _note_edits(rows: list[dict[str, Any]]) -> None:
    """A version whose judge and protocol id match an earlier version's: that protocol was edited."""
    for i, row in enumerate(rows):
        earlier = next((r for r in reversed(rows[:i]) if (r["judge"], r["protocol"]) == (row["judge"], row["protocol"])
                        and r["protocol_hash"] != row["protocol_hash"]), None)
        row["edited_from"] = earlier["name"] if earlier is not None else None


def _against_best_earlier(rows: list[dict[str, Any]], entries: Sequence[LedgerEntry], runs: Mapping[str, RunRecords],
                          analysis: Kind, options: Options) -> list[dict[str, Any]]:
    """Pair each version's test run with the best one scored on test before it; Holm over all of them."""
    first_look = {}
    for position, entry in enumerate(entries):
        if entry.on == "test":
            first_look.setdefault(entry.version, position)
    by_version = {row["version"]: row for row in rows}
    in_order = [by_version[v] for v in sorted(first_look, key=first_look.__getitem__)]
    comparisons = []
    for i, row in enumerate(in_order):
        row["test_order"] = i + 1
        row["vs_best_earlier"] = None
        scored = [r for r in in_order[:i] if r["test"] is not None and r["test"]["value"] is not None]
        if row["test"] is None or row["test"]["value"] is None or not scored:
            continue
        best = _best(scored, analysis)
        comparison = {"version": row["name"], "against": best["name"], "figure": row["test"]["figure"],
                      "test": None, "n": None, "difference": None, "difference_ci": None, "p_value": None,
                      "p_holm": None, "reason": None}
        mine, theirs = runs.get(row["test"]["run"]), runs.get(best["test"]["run"])
        if mine is None or theirs is None:
            comparison["reason"] = "a run dir is missing"
        else:
            pair = analysis.paired(mine, theirs, (row["test"]["figure"], best["test"]["figure"]), options)
            if isinstance(pair, dict):
                comparison |= {k: pair[k] for k in ("test", "n", "difference", "difference_ci", "p_value")}
            else:
                comparison["reason"] = pair or "the runs share no items"
        row["vs_best_earlier"] = comparison
        comparisons.append(comparison)
    tested = [c for c in comparisons if c["p_value"] is not None]
    for comparison, holm in zip(tested, adjust_p_values([c["p_value"] for c in tested]).p_holm, strict=True):
        comparison["p_holm"] = holm
    for row in rows:
        row.setdefault("test_order", None)
        row.setdefault("vs_best_earlier", None)
    return comparisons


def _best(rows: list[dict[str, Any]], analysis: Kind) -> dict[str, Any]:
    def key(row: dict[str, Any]) -> float:
        value = row["test"]["value"]
        return -value if analysis.lower_is_better(row["test"]["figure"]) else value

    return max(rows, key=key)  # the earliest of equals


def _resolve(final: str, rows: list[dict[str, Any]]) -> str:
    """``v2`` or a hash prefix (with or without ``sha256:``) -> the version's name."""
    if any(row["name"] == final for row in rows):
        return final
    prefix = final.removeprefix("sha256:")
    found = [row["name"] for row in rows if prefix and row["version"].removeprefix("sha256:").startswith(prefix)]
    if len(found) == 1:
        return found[0]
    names = ", ".join(row["name"] for row in rows) or "none yet"
    what = "matches several versions" if found else "names no version in the ledger"
    raise BadInput(f"--final {final}: {what} (versions: {names}; or give a longer hash prefix)")


def _warning(looks: int, final: str | None) -> str | None:
    if looks <= 1:
        return None
    advice = (f"{final} is named as the version chosen before looking at test." if final else
              "Report the version chosen before looking (--final VERSION), or confirm the pick on fresh data.")
    return (f"{looks} versions have been scored on the test side: the best of {looks} on the same test set is an "
            f"optimistic estimate of how it does on new items (it was picked for doing well on these). {advice}")
