"""Reports and leaderboards as a rich table, Markdown or JSON: ``report``'s and ``compare``'s data, shown.

Nothing here computes a figure: the data comes from
``judgekit.analysis.compare`` and each kind's columns are listed below. A
figure a run cannot define is None, shown as ``-`` and written as null.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Group
from rich.table import Table

from judgekit.errors import BadInput
from judgekit.report import markdown

FORMATS = ("table", "markdown", "json", "html")

_PAIRWISE_REPORT = (
    ("run", "run"), ("judge", "judge"), ("protocol", "protocol"), ("dataset", "dataset"),
    ("headline", "headline figure"), ("headline_value", "headline value"), ("headline_ci", "headline 95% CI"),
    ("complete", "complete"), ("n", "n"), ("n_examples", "examples in run"), ("n_clusters", "clusters"),
    ("accuracy_final", "accuracy of the final verdict"), ("accuracy_final_ci", "final verdict 95% CI"),
    ("final_invalid_rate", "final verdicts invalid"), ("final_tie_rate", "final verdicts tied"),
    ("accuracy", "accuracy (mean over orders)"), ("accuracy_ci", "accuracy 95% CI"),
    ("accuracy_first_order", "accuracy, a shown first"), ("accuracy_second_order", "accuracy, b shown first"),
    ("accuracy_both_orders", "right in both orders"), ("positional_agreement", "positional agreement"),
    ("invalid_rate", "invalid rate (per order)"), ("invalid_policy", "invalid verdicts count as"),
    ("tie_rate", "tie rate (per order)"), ("cohen_kappa", "Cohen's kappa"), ("cohen_kappa_ci", "kappa 95% CI"),
    ("position_bias", "position bias (first-slot wins)"),
    ("length_bias", "length bias (longer wins vs humans)"), ("self_preference_bias", "self-preference (EO)"),
    ("alt_test_shown", "alt-test vs annotators"),
    ("calls", "calls"), ("cache_hits", "cache hits"), ("retries", "retries"), ("tokens_in", "tokens in"),
    ("tokens_out", "tokens out"), ("cost_usd", "cost (USD)"), ("ci_method", "intervals"),
)
_PAIRWISE_LEADERBOARD = (
    ("rank", "#"), ("run", "run"), ("judge", "judge"), ("protocol", "protocol"), ("n", "n"),
    ("ranked_by", "ranked by"), ("headline_value", "value"), ("headline_ci", "95% CI"),
    ("tied_with_best", "tied #1"), ("accuracy_final", "final"), ("final_invalid_rate", "f.inv"),
    ("final_tie_rate", "f.tie"), ("accuracy", "acc"), ("accuracy_both_orders", "both"),
    ("positional_agreement", "agree"), ("invalid_rate", "invalid"), ("tie_rate", "tie"),
    ("position_bias", "pos"), ("length_bias", "len"), ("self_preference_bias", "self"),
    ("self_preference_excess", "self excess"), ("self_preference_excess_ci", "excess CI"),
    ("alt_test_shown", "alt-test"),
)
_TEXT_COLUMNS = ("run", "judge", "protocol", "dataset", "row", "figure", "headline", "ranked_by", "ci_method", "probe",
                 "group",
                 "target", "alt_test_shown", "invalid_policy", "criterion", "scope", "human", "labels_shown",
                 "base_rates_shown", "positive_label")


def render_report(data: dict[str, Any], fmt: str) -> str | Table | Group:
    """``report``'s data in one format: a rich Table (figures down, runs across) for ``table``, text otherwise."""
    if fmt == "json":
        return _json(data)
    columns = _REPORT_COLUMNS[data["kind"]]
    rows = [_shown(row, row["headline"]) for row in data["runs"]]
    extra = _EXTRA_SECTIONS[data["kind"]](data) + _group_sections(data)
    if fmt == "table":  # figures down, runs across: reads well at terminal width
        table = _table("Agreement with human labels", *_transpose(columns, rows))
        more = [_table(title, [c for c in cols if any(r.get(c[0]) is not None for r in found)], found)
                for title, cols, found in extra]
        return Group(table, *more) if more else table
    return _render(data, fmt, [("Runs", columns, rows), *extra], "report")


def render_compare(data: dict[str, Any], fmt: str) -> str | Table | Group:
    """``compare``'s leaderboard, its paired differences and the kind's tables in one format."""
    if fmt == "json":
        return _json(data)
    rows = [_shown(row, row["ranked_by"]) for row in data["leaderboard"]]
    sections = [(f"Leaderboard, ranked by {data['ranking']}; incomplete runs unranked",
                 _LEADERBOARD_COLUMNS[data["kind"]], rows)]
    if data["comparisons"]:
        sections.append(_matrix_section(data, with_ci=fmt != "table"))
    return _render(data, fmt, sections + _EXTRA_SECTIONS[data["kind"]](data) + _drift_sections(data), "compare")


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, allow_nan=False)


_POINTWISE_FIGURES = ("item_pearson", "item_spearman", "item_kendall", "system_pearson", "system_spearman",
                      "system_kendall", "mae", "alpha_interval_with_judge")
_HEADERS = {
    "item_pearson": "item r", "item_spearman": "item ρ", "item_kendall": "item τ",
    "system_pearson": "system r", "system_spearman": "system ρ", "system_kendall": "system τ",
    "dataset_pearson": "pooled r", "dataset_spearman": "pooled ρ", "dataset_kendall": "pooled τ",
    "mae": "MAE", "alpha_interval_humans": "α humans", "alpha_interval_with_judge": "α +judge",
    "alpha_ordinal_humans": "α ord humans", "alpha_ordinal_with_judge": "α ord +judge",
}
_POINTWISE_REPORT = (
    ("run", "run"), ("judge", "judge"), ("protocol", "protocol"), ("dataset", "dataset"),
    ("headline", "headline figure"), ("headline_value", "headline value"), ("headline_ci", "headline 95% CI"),
    ("scope", "over"), ("complete", "complete"), ("n", "n"), ("n_clusters", "inputs"),
    ("invalid_rate", "invalid rate"), *((f, _HEADERS[f]) for f in _POINTWISE_FIGURES),
    ("calls", "calls"), ("cache_hits", "cache hits"), ("retries", "retries"), ("tokens_in", "tokens in"),
    ("tokens_out", "tokens out"), ("cost_usd", "cost (USD)"), ("ci_method", "intervals"),
)
_POINTWISE_LEADERBOARD = (
    ("rank", "#"), ("run", "run"), ("judge", "judge"), ("protocol", "protocol"), ("n", "n"),
    ("ranked_by", "ranked by"), ("headline_value", "value"), ("headline_ci", "95% CI"),
    ("tied_with_best", "tied #1"), ("invalid_rate", "invalid"), ("scope", "over"),
)


def _pointwise_sections(data: dict[str, Any]) -> list[tuple[str, tuple, list[dict[str, Any]]]]:
    rows = data.get("table") or [
        {"run": r["run"], "judge": r["judge"], "protocol": r["protocol"], "criterion": name, **figures}
        for r in data.get("runs", []) for name, figures in r["criteria"].items()]
    columns = (("judge", "judge"), ("protocol", "protocol"), ("criterion", "criterion"),
               *((f, _HEADERS[f]) for f in _POINTWISE_FIGURES))
    return [("Judge vs human mean, per criterion (item = within input, averaged; system = per-system means)",
             columns, rows)]


_CLASSIFY_REPORT = (
    ("run", "run"), ("judge", "judge"), ("protocol", "protocol"), ("dataset", "dataset"),
    ("headline", "headline figure"), ("headline_value", "headline value"), ("headline_ci", "headline 95% CI"),
    ("complete", "complete"), ("n", "n"), ("n_clusters", "clusters"), ("labels_shown", "labels"),
    ("positive_label", "positive label"), ("cohen_kappa", "Cohen's kappa"), ("cohen_kappa_ci", "kappa 95% CI"),
    ("accuracy", "accuracy"), ("accuracy_ci", "accuracy 95% CI"), ("balanced_accuracy", "balanced accuracy"),
    ("balanced_accuracy_ci", "balanced accuracy 95% CI"), ("mcc", "MCC"), ("mcc_ci", "MCC 95% CI"),
    ("tpr", "TPR (recall of positive)"), ("tnr", "TNR"), ("base_rates_shown", "base rates human / judge"),
    ("invalid_rate", "invalid rate"), ("invalid_policy", "invalid verdicts count as"),
    ("calls", "calls"), ("cache_hits", "cache hits"), ("retries", "retries"), ("tokens_in", "tokens in"),
    ("tokens_out", "tokens out"), ("cost_usd", "cost (USD)"), ("ci_method", "intervals"),
)
_CLASSIFY_LEADERBOARD = (
    ("rank", "#"), ("run", "run"), ("judge", "judge"), ("protocol", "protocol"), ("n", "n"),
    ("ranked_by", "ranked by"), ("headline_value", "value"), ("headline_ci", "95% CI"),
    ("tied_with_best", "tied #1"), ("cohen_kappa", "kappa"), ("accuracy", "acc"),
    ("balanced_accuracy", "bal. acc"), ("mcc", "MCC"), ("invalid_rate", "invalid"),
)


def _classify_sections(data: dict[str, Any]) -> list[tuple[str, tuple, list[dict[str, Any]]]]:
    """One confusion matrix per run (rows: human label; columns: judge label) and its per-class figures."""
    sections = []
    for row in data.get("runs", data.get("leaderboard", [])):
        confusion = row.get("confusion")
        if not confusion:
            continue
        judged = confusion["columns"]
        columns = (("human", "human \\ judge"), *((f"j:{label}", label) for label in judged),
                   ("precision", "precision"), ("recall", "recall"), ("f1", "F1"), ("support", "support"))
        rows = []
        for label, counts in zip(confusion["labels"], confusion["matrix"], strict=True):
            per_class = row["per_class"].get(label, {})
            rows.append({"human": label, **{f"j:{j}": n for j, n in zip(judged, counts, strict=True)},
                         **{k: per_class.get(k) for k in ("precision", "recall", "f1", "support")}})
        sections.append((f"Confusion · {_short_run(row['run'])}", columns, rows))
    return sections


_GROUP_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "pairwise": (("n", "n"), ("headline_value", "headline"), ("headline_ci", "95% CI"),
                 ("accuracy_final", "final"), ("accuracy_final_ci", "final CI"), ("final_invalid_rate", "f.inv"),
                 ("accuracy", "acc"), ("accuracy_ci", "acc CI"), ("positional_agreement", "agree"),
                 ("invalid_rate", "invalid"), ("tie_rate", "tie"), ("cohen_kappa", "kappa")),
    "pointwise": (("n", "n"), ("n_clusters", "inputs"), ("headline_value", "headline"), ("headline_ci", "95% CI"),
                  ("invalid_rate", "invalid"), *((f, _HEADERS[f]) for f in _POINTWISE_FIGURES)),
    "classify": (("n", "n"), ("headline_value", "headline"), ("headline_ci", "95% CI"),
                 ("cohen_kappa", "kappa"), ("accuracy", "acc"), ("accuracy_ci", "acc CI"),
                 ("balanced_accuracy", "bal. acc"), ("mcc", "MCC"), ("invalid_rate", "invalid")),
}
"""The columns of a per-group table (``report --by``): each group's row, its headline first."""


def _group_sections(data: dict[str, Any]) -> list[tuple[str, tuple, list[dict[str, Any]]]]:
    """One table per run with one row per group (``report --by``); none without ``by``."""
    if "by" not in data:
        return []
    columns = (("group", data["by"]), *_GROUP_COLUMNS[data["kind"]])
    return [(f"By {data['by']} · {_short_run(row['run'])} (headline: {row['headline']})", columns,
             [{"group": value, **_shown(group, row["headline"])} for value, group in row["groups"].items()])
            for row in data["runs"]]


def _pairwise_sections(data: dict[str, Any]) -> list[tuple[str, tuple, list[dict[str, Any]]]]:
    return _probe_sections(data)


_REPORT_COLUMNS: dict[str, Sequence[tuple[str, str]]] = {
    "pairwise": _PAIRWISE_REPORT, "pointwise": _POINTWISE_REPORT, "classify": _CLASSIFY_REPORT}
_LEADERBOARD_COLUMNS: dict[str, Sequence[tuple[str, str]]] = {
    "pairwise": _PAIRWISE_LEADERBOARD, "pointwise": _POINTWISE_LEADERBOARD, "classify": _CLASSIFY_LEADERBOARD}
_EXTRA_SECTIONS: dict[str, Callable[[dict[str, Any]], list]] = {
    "pairwise": _pairwise_sections, "pointwise": _pointwise_sections, "classify": _classify_sections}


PROBE_COLUMNS = (
    ("probe", "probe"), ("target", "changes"), ("n", "n"), ("flip_rate", "flip rate"), ("flip_rate_ci", "95% CI"),
    ("accuracy_change", "Δ accuracy"), ("accuracy_change_ci", "95% CI"), ("p_value", "p"),
    ("dispreferred_wins_base", "dispreferred wins, before"), ("dispreferred_wins_probed", "after"),
    ("decisiveness", "decisive"), ("first_slot_share", "first slot"),
)


def _probe_sections(data: dict[str, Any]) -> list[tuple[str, tuple, list[dict[str, Any]]]]:
    return [(f"Probes · {_short_run(run)}", PROBE_COLUMNS, rows) for run, rows in data.get("probes", {}).items()]


DRIFT_COLUMNS = (
    ("judge_model", "model"), ("run_a", "run A"), ("run_b", "run B"), ("n", "n"), ("changed", "changed"),
    ("changed_rate", "changed rate"), ("cohen_kappa", "κ A vs B"), ("headline_a", "headline A"),
    ("headline_b", "headline B"), ("p_value", "p (paired)"),
)


def _drift_sections(data: dict[str, Any]) -> list[tuple[str, tuple, list[dict[str, Any]]]]:
    rows = [{**row, "run_a": _short_run(row["run_a"]), "run_b": _short_run(row["run_b"])}
            for row in data.get("drift", [])]
    return [("Drift between runs of the same judge model (judgekit drift A B for the transitions)", DRIFT_COLUMNS,
             rows)] if rows else []


def _shown(row: dict[str, Any], figure: str) -> dict[str, Any]:
    """A row for display: short run name (flagged when incomplete) and the figure that leads it."""
    run = _short_run(row["run"]) + ("" if row["complete"] else " (incomplete)")
    return {**row, "run": run, "headline_value": row.get(figure), "headline_ci": row.get(f"{figure}_ci"),
            "alt_test_shown": _alt_test_text(row.get("alt_test")), "labels_shown": _labels_text(row),
            "base_rates_shown": _base_rates_text(row)}


def _labels_text(row: dict[str, Any]) -> str | None:
    return ", ".join(row["labels"]) if row.get("labels") else None


def _base_rates_text(row: dict[str, Any]) -> str | None:
    """``fail 0.12 / 0.20; pass 0.88 / 0.75`` (human / judge)."""
    human, judge = row.get("base_rate_human"), row.get("base_rate_judge")
    if not human:
        return None
    return "; ".join(f"{label} {human[label]:.2f} / {judge.get(label, 0.0):.2f}" for label in human)


def _alt_test_text(alt: dict[str, Any] | None) -> str | None:
    """ω, ρ and the verdict at the stated ε, e.g. ``ω 0.67, ρ 0.81 at ε 0.2: passes``."""
    if alt is None or alt["winning_rate"] is None:
        return None
    verdict = "passes" if alt["passed"] else "fails"
    return f"ω {alt['winning_rate']:.2f}, ρ {alt['advantage_probability']:.3f} at ε {alt['epsilon']:g}: {verdict}"


def _render(data: dict[str, Any], fmt: str, sections: list, kind: str) -> Any:
    if fmt == "markdown":
        return "\n\n".join(f"### {markdown.cell(title)}\n\n{_markdown(columns, rows)}"
                           for title, columns, rows in sections) + "\n"
    if fmt == "table":  # narrow: leave out columns no row has a value for
        tables = [_table(title, [c for c in columns if any(row.get(c[0]) is not None for row in rows)], rows)
                  for title, columns, rows in sections]
        return tables[0] if len(tables) == 1 else Group(*tables)
    if fmt == "html":  # the page also lists items and raw judge texts, which these figures do not carry
        raise BadInput(f"{kind} --format html: render the runs with judgekit.html_report.render_html")
    raise BadInput(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")


_MATRIX_COLUMNS = 8
"""Terminal tables compare every run with the top ranks only, to fit the screen."""


def _matrix_section(data: dict[str, Any], *, with_ci: bool) -> tuple[str, tuple, list[dict[str, Any]]]:
    """Rows and columns named by rank; a cell is Δ(row - col) [CI], the raw p and the Holm-adjusted p.

    The terminal table leaves the CI and BH q out and shows at most
    ``_MATRIX_COLUMNS`` columns to stay narrow; Markdown and JSON carry everything.
    """
    rank = {row["run"]: row["rank"] for row in data["leaderboard"]}
    tested = [pair for pair in data["comparisons"] if pair["p_value"] is not None]
    cells: dict[tuple[int, int], str] = {}
    tests = sorted({pair["test"].split(",")[0] for pair in data["comparisons"]})
    figures = sorted({pair["figure"] for pair in data["comparisons"]})
    for pair in tested:
        i, j = rank[pair["run_1"]], rank[pair["run_2"]]
        diff, ci = pair["difference"], pair["difference_ci"]
        p_values = (pair["p_value"], pair["p_holm"], pair["q_bh"] if with_ci else None)
        cells[i, j] = _cell(diff, ci if with_ci else None, *p_values)
        flipped_ci = [-ci[1], -ci[0]] if ci and with_ci else None
        cells[j, i] = _cell(0.0 - diff if diff is not None else None, flipped_ci, *p_values)
    ranks = sorted(rank.values(), key=lambda r: (r is None, r))
    ranks = [r for r in ranks if r is not None]
    shown = ranks if with_ci else ranks[:_MATRIX_COLUMNS]
    columns = (("row", "row - col"), *((str(r), f"#{r}") for r in shown))
    rows = [{"row": f"#{r}", **{str(c): cells.get((r, c), "") for c in shown}} for r in ranks]
    what = "Δ [95% CI], raw p, Holm p, BH q" if with_ci else "Δ, raw p, Holm p"
    more = "" if shown == ranks else f" (columns: top {len(shown)}; every pair in --format markdown or json)"
    return (f"Paired differences in {', '.join(figures)} by rank: {what} over all {len(tested)} pairs; tests: "
            f"{'; '.join(tests)}{more}"), columns, rows


def _cell(diff: float | None, ci: list[float] | None, p: float, holm: float, q: float | None) -> str:
    shown = "" if diff is None else f"{diff + 0.0:+.3f}"  # + 0.0 turns -0.0 into 0.0
    if ci:
        shown += f" [{ci[0]:+.3f}, {ci[1]:+.3f}]"
    shown += f" p={p:.2g} holm={holm:.2g}"
    if q is not None:
        shown += f" q={q:.2g}"
    return shown.strip()


def _transpose(columns: Sequence[tuple[str, str]], rows: list[dict[str, Any]]) -> tuple[tuple, list[dict[str, Any]]]:
    """One row per figure and one column per run (named by position: runs may share a name)."""
    across = (("figure", "figure"), *((f"#{i}", f"#{i}") for i in range(1, len(rows) + 1)))
    down = [{"figure": header, **{f"#{i}": _format(name, row.get(name)) for i, row in enumerate(rows, start=1)}}
            for name, header in columns]
    return across, down


def _format(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name.endswith("_ci") and isinstance(value, list):
        return f"[{value[0]:.3f}, {value[1]:.3f}]"
    if name == "cost_usd":
        return f"{value:.4f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(title: str, columns: Sequence[tuple[str, str]], rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for name, header in columns:
        text_like = name in _TEXT_COLUMNS
        table.add_column(header, justify="left" if text_like else "right", no_wrap=not text_like or name == "row")
    for row in rows:
        table.add_row(*(_format(name, row.get(name)) for name, _ in columns))
    return table


def _markdown(columns: Sequence[tuple[str, str]], rows: list[dict[str, Any]]) -> str:
    return markdown.table([header for _, header in columns],
                          [[_format(name, row.get(name)) for name, _ in columns] for row in rows])


def _short_run(path: str) -> str:
    """The run dir's last two path parts: enough to tell runs apart in a table."""
    parts = path.replace("\\", "/").rstrip("/").split("/")
    return "/".join(parts[-2:])
