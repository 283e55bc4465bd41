"""Reports over run dirs: one summary row per run, a leaderboard, paired significance.

Data flow: run dirs -> ``scoring.score_run`` (the one path from verdicts to
numbers) -> plain dicts (the JSON of the CLI contract in DESIGN) -> a
renderer (rich table, Markdown, JSON; the HTML page is
``judgekit.html_report``, which also lists items and raw judge texts).
``compare`` adds the ranking, the paired tests on shared examples and their
multiplicity adjustments.

Every rate is a fraction in [0, 1]; a figure that the run cannot define
(bias without both orders' data, self-preference without generators, an
accuracy with no counted item) is None, shown as ``-`` and written as null.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from rich.console import Group
from rich.table import Table

from judgekit import score_report
from judgekit.agreement import adjust_p_values, ci_method, compare_judges, model_family, self_preference_excess
from judgekit.errors import BadInput
from judgekit.probes.measure import has_probes, probe_table
from judgekit.records import Example
from judgekit.rundir import Run
from judgekit.scoring import (
    REPORT_FIELDS,
    JudgedItems,
    Options,
    bounds,
    estimate,
    judged_items,
    policy_of,
    run_row,
    score_run,
)

__all__ = ["FORMATS", "RANK_BY", "REPORT_FIELDS", "Options", "compare", "render_compare", "render_report",
           "report", "run_row"]

FORMATS = ("table", "markdown", "json", "html")

RANK_BY = ("headline", "accuracy_final", "accuracy")
"""What ``compare`` ranks by: each protocol's headline figure (``scoring.headline``), or one figure for all."""

ALPHA = 0.05
"""Level of ``tied_with_best``: Holm-adjusted p against the top row at or above it."""

_SAME_ACCURACY = {"wrong", "llmbar"}
"""Policies that score accuracy alike (they differ only in positional agreement)."""

_RANK_WORDS = {
    "headline": "each protocol's headline: accuracy_final (the combined verdict) where the protocol decides from "
                "both orders together, accuracy (the per-order mean) otherwise",
    "accuracy_final": "accuracy_final (the combined verdict; single-order runs are not ranked)",
    "accuracy": "accuracy (per presentation order, averaged: LLMBar's Acc)",
}


def report(runs: Sequence[Run], options: Options = Options()) -> dict[str, Any]:
    """``{"runs": [row, ...]}``, the JSON of ``judgekit report`` (pointwise runs: ``judgekit.score_report``)."""
    if score_report.is_pointwise(runs):
        return score_report.report(runs, confidence=options.confidence, n_resamples=options.n_resamples,
                                   seed=options.seed)
    return {"runs": [run_row(run, options) for run in runs]} | _probes(runs, options)


def compare(runs: Sequence[Run], options: Options = Options(), *, rank_by: str = "headline",
            criterion: str | None = None) -> dict[str, Any]:
    """Leaderboard (best first by ``rank_by``) and paired tests for runs sharing examples.

    Each leaderboard row is the report row plus ``rank``, ``ranked_by`` (the
    figure its rank comes from), ``tied_with_best`` and, for judges with a
    known model, the self-preference excess over the other runs on the same
    items whose judge is another model family. Incomplete runs, and runs
    without the ranked figure, are listed after the ranked ones with rank
    None. Complete runs are compared pairwise on the examples they share by
    content; every p-value is adjusted over that whole family (Holm, BH).

    Pointwise runs are ranked by a score figure instead (``rank_by`` one of
    ``judgekit.agreement.scores.FIGURES``, "headline" meaning item-level
    Kendall; on ``criterion``, or the mean over criteria): ``judgekit.score_report``.
    """
    if score_report.is_pointwise(runs):
        by = score_report.DEFAULT_RANK_BY if rank_by == "headline" else rank_by
        return score_report.compare(runs, by=by, criterion=criterion, confidence=options.confidence,
                                    n_resamples=options.n_resamples, seed=options.seed)
    if rank_by not in RANK_BY:
        raise BadInput(f"--rank-by: {rank_by!r} is not one of {', '.join(RANK_BY)}")
    items = [judged_items(run) for run in runs]
    rows = []
    for run, judged in zip(runs, items, strict=True):
        row, _ = score_run(run, judged, options)
        row |= _excess(run, judged, runs, items, options)
        figure = _rank_figure(row, rank_by)
        row |= {"ranked_by": figure, "rank": None, "tied_with_best": None}
        rows.append(row)
    ranked = [i for i, row in enumerate(rows) if row["complete"] and row[row["ranked_by"]] is not None]
    ranked.sort(key=lambda i: -rows[i][rows[i]["ranked_by"]])
    unranked = [i for i in range(len(rows)) if i not in ranked]
    for rank, i in enumerate(ranked, start=1):
        rows[i]["rank"] = rank
    comparisons, unpaired = [], []
    texts = {i: _text_keys(runs[i], items[i]) for i in ranked}
    for i, j in combinations(ranked, 2):
        pair = _paired((runs[i], items[i], texts[i]), (runs[j], items[j], texts[j]), options,
                       (rows[i]["ranked_by"], rows[j]["ranked_by"]))
        if isinstance(pair, str):
            unpaired.append({"run_1": str(runs[i].path), "run_2": str(runs[j].path), "reason": pair})
        elif pair is not None:
            comparisons.append(pair)
    adjusted = adjust_p_values([pair["p_value"] for pair in comparisons])
    for pair, holm, bh in zip(comparisons, adjusted.p_holm, adjusted.q_bh, strict=True):
        pair |= {"p_holm": holm, "q_bh": bh}
    if ranked:
        _mark_tied_with_best(rows, ranked, comparisons)
    return {
        "ranked_by": rank_by, "ranking": _RANK_WORDS[rank_by],
        "family": f"all {len(comparisons)} pairs of complete runs sharing examples (Holm: family-wise error; "
                  f"BH: false discovery rate); tied_with_best at Holm-adjusted p >= {ALPHA}",
        "leaderboard": [rows[i] for i in ranked + unranked],
        "comparisons": comparisons,
        "unpaired": unpaired,
    } | _probes(runs, options)


def _probes(runs: Sequence[Run], options: Options) -> dict[str, Any]:
    """``{"probes": {run: [row per probe]}}`` for runs made by ``judgekit probe``; nothing otherwise."""
    tables = {str(run.path): probe_table(run, order=True, seed=options.seed) for run in runs if has_probes(run)}
    return {"probes": tables} if tables else {}


def _rank_figure(row: dict[str, Any], rank_by: str) -> str:
    return row["headline"] if rank_by == "headline" else rank_by


def _mark_tied_with_best(rows: list[dict[str, Any]], ranked: list[int], comparisons: list[dict[str, Any]]) -> None:
    """Top row: True; another ranked row: True when its Holm-adjusted test against the top does not reject."""
    best = rows[ranked[0]]
    best["tied_with_best"] = True
    against = {}
    for pair in comparisons:
        if best["run"] in (pair["run_1"], pair["run_2"]):
            against[pair["run_2"] if pair["run_1"] == best["run"] else pair["run_1"]] = pair["p_holm"]
    for i in ranked[1:]:
        p = against.get(rows[i]["run"])
        rows[i]["tied_with_best"] = None if p is None else bool(p >= ALPHA)


# ---------------------------------------------------------------- paired figures


def _excess(run: Run, items: JudgedItems, runs: Sequence[Run], all_items: Sequence[JudgedItems],
            options: Options) -> dict[str, Any]:
    """Self-preference minus the mean of other model families' figure toward this judge's model."""
    out: dict[str, Any] = {"self_preference_excess": None, "self_preference_excess_ci": None,
                           "self_preference_peers": []}
    model = run.manifest.judge_model
    if not model or not any(a and b for a, b in zip(items.generator_a, items.generator_b, strict=True)):
        return out
    peers = {
        str(other.path): judged for other, judged in zip(runs, all_items, strict=True)
        if judged.ids == items.ids and len(judged.orders) == len(items.orders)
        and model_family(other.manifest.judge_model) not in (None, model_family(model))
    }
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


def _paired(one: tuple[Run, JudgedItems, list[str]], two: tuple[Run, JudgedItems, list[str]], options: Options,
            figures: tuple[str, str]) -> dict[str, Any] | str | None:
    """The ranked figure's difference (run_1 - run_2) and its paired test on the examples both judged.

    Examples pair up by content (instruction and both responses), not by id:
    two files with the same name give the same ids to different texts. Returns
    a reason (str) when the runs share ids but not texts or gold labels, None
    when they share nothing. Each side is (run, its judged items, their text keys).
    """
    (run_1, items_1, texts_1), (run_2, items_2, texts_2) = one, two
    by_text_2 = dict(zip(texts_2, items_2.ids, strict=True))
    shared_1, shared_2 = [], []
    for item, key in zip(items_1.ids, texts_1, strict=True):
        if key in by_text_2:
            shared_1.append(item)
            shared_2.append(by_text_2.pop(key))
    if not shared_1:
        common = len(set(items_1.ids) & set(items_2.ids))
        return (f"different datasets: {common} example ids in common but no example with the same texts"
                if common else None)
    a, b = items_1.subset(shared_1), items_2.subset(shared_2)
    if a.gold != b.gold:
        return "different datasets: the same texts carry different gold labels"
    policy_1, policy_2 = policy_of(run_1, options), policy_of(run_2, options)
    if policy_1 != policy_2 and not {policy_1, policy_2} <= _SAME_ACCURACY:
        raise BadInput(f"{run_2.path}: invalid-verdict policy {policy_2!r} differs from {policy_1!r} of "
                       f"{run_1.path}; pass --invalid-policy to compare them")
    figure, arrays_1, arrays_2 = _paired_arrays(a, b, *figures)
    clusters = a.clusters(options)
    result = compare_judges(a.gold, arrays_1, arrays_2, invalid=policy_1, confidence=options.confidence,
                            n_resamples=options.n_resamples, seed=options.seed, clusters=clusters)
    return {
        "run_1": str(run_1.path), "run_2": str(run_2.path), "n": result.n,
        "n_clusters": clusters.n_clusters if clusters is not None else None,
        "figure": figure, "orders": len(arrays_1), "test": result.test.name, "p_value": result.test.p_value,
        "p_holm": None, "q_bh": None,
        "accuracy_difference": estimate(result.accuracy_difference),
        "accuracy_difference_ci": bounds(result.accuracy_difference),
        "ci_method": ci_method(clusters, n_resamples=options.n_resamples, seed=options.seed),
        "items_1_better": result.test.only_1_higher, "items_2_better": result.test.only_2_higher,
    }


def _paired_arrays(a: JudgedItems, b: JudgedItems, figure_1: str, figure_2: str) -> tuple[str, list, list]:
    """The figure both runs are compared on, and each run's winner arrays for it.

    A run ranked by ``accuracy_final`` contributes its final verdicts, one
    ranked by ``accuracy`` its orders. When one side has two arrays and the
    other one, the one is counted twice, so each item still scores the
    run's own figure (0/1 for a verdict, 0/½/1 over two orders).
    """
    arrays_1 = [a.final] if figure_1 == "accuracy_final" else a.orders
    arrays_2 = [b.final] if figure_2 == "accuracy_final" else b.orders
    if len(arrays_1) != len(arrays_2):
        arrays_1, arrays_2 = (arrays_1 * 2)[:2], (arrays_2 * 2)[:2]
    return (figure_1 if figure_1 == figure_2 else f"{figure_1} vs {figure_2}"), arrays_1, arrays_2


def _text_keys(run: Run, items: JudgedItems) -> list[str]:
    """A hash of each judged example's instruction and responses (what makes two examples the same).

    An example with no text at all (pairs derived from scores whose texts the
    dataset does not ship, such as HANNA's) can only be known by its id.
    """
    examples: dict[str, Example] = {e.id: e for e in run.examples}

    def key(e: Example) -> str:
        if not (e.instruction or e.response_a or e.response_b):
            return f"id:{e.id}"
        text = json.dumps([e.instruction, e.response_a, e.response_b], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    return [key(examples[item]) for item in items.ids]


# ---------------------------------------------------------------- rendering

_REPORT_COLUMNS = (
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
_LEADERBOARD_COLUMNS = (
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
                 "target", "alt_test_shown", "invalid_policy")


def render_report(data: dict[str, Any], fmt: str) -> str | Table:
    """The report in one format: a rich Table for ``table``, text otherwise."""
    if data.get("kind") == "pointwise":
        return score_report.render(data, fmt)
    rows = [_shown(row, row["headline"]) for row in data["runs"]]
    if fmt == "table":  # figures down, runs across: reads well at terminal width
        table = _table("Agreement with human labels", *_transpose(_REPORT_COLUMNS, rows))
        probes = [_table(title, columns, found) for title, columns, found in _probe_sections(data)]
        return Group(table, *probes) if probes else table
    return _render(data, fmt, [("Runs", _REPORT_COLUMNS, rows), *_probe_sections(data)], "report")


def render_compare(data: dict[str, Any], fmt: str) -> str | Group:
    """The leaderboard and significance matrix in one format."""
    if data.get("kind") == "pointwise":
        return score_report.render(data, fmt)
    rows = [_shown(row, row["ranked_by"]) for row in data["leaderboard"]]
    sections = [(f"Leaderboard, ranked by {data['ranking']}; incomplete runs unranked", _LEADERBOARD_COLUMNS,
                 rows)]
    if data["comparisons"]:
        sections.append(_matrix_section(data, with_ci=fmt != "table"))
    return _render(data, fmt, sections + _probe_sections(data), "compare")


PROBE_COLUMNS = (
    ("probe", "probe"), ("target", "changes"), ("n", "n"), ("flip_rate", "flip rate"), ("flip_rate_ci", "95% CI"),
    ("accuracy_change", "Δ accuracy"), ("accuracy_change_ci", "95% CI"), ("p_value", "p"),
    ("dispreferred_wins_base", "dispreferred wins, before"), ("dispreferred_wins_probed", "after"),
    ("decisiveness", "decisive"), ("first_slot_share", "first slot"),
)


def _probe_sections(data: dict[str, Any]) -> list[tuple[str, tuple, list[dict[str, Any]]]]:
    return [(f"Probes · {_short_run(run)}", PROBE_COLUMNS, rows) for run, rows in data.get("probes", {}).items()]


def _shown(row: dict[str, Any], figure: str) -> dict[str, Any]:
    """A row for display: short run name (flagged when incomplete) and the figure that leads it."""
    run = _short_run(row["run"]) + ("" if row["complete"] else " (incomplete)")
    return {**row, "run": run, "headline_value": row[figure], "headline_ci": row.get(f"{figure}_ci"),
            "alt_test_shown": _alt_test_text(row.get("alt_test"))}


def _alt_test_text(alt: dict[str, Any] | None) -> str | None:
    """ω, ρ and the verdict at the stated ε, e.g. ``ω 0.67, ρ 0.81 at ε 0.2: passes``."""
    if alt is None or alt["winning_rate"] is None:
        return None
    verdict = "passes" if alt["passed"] else "fails"
    return f"ω {alt['winning_rate']:.2f}, ρ {alt['advantage_probability']:.3f} at ε {alt['epsilon']:g}: {verdict}"


def _render(data: dict[str, Any], fmt: str, sections: list, kind: str) -> Any:
    if fmt == "json":
        return json.dumps(data, indent=2, allow_nan=False)
    if fmt == "markdown":
        return "\n\n".join(f"### {title}\n\n{_markdown(columns, rows)}" for title, columns, rows in sections) + "\n"
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
    cells: dict[tuple[int, int], str] = {}
    tests = sorted({pair["test"].split(",")[0] for pair in data["comparisons"]})
    for pair in data["comparisons"]:
        i, j = rank[pair["run_1"]], rank[pair["run_2"]]
        diff, ci = pair["accuracy_difference"], pair["accuracy_difference_ci"]
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
    return (f"Paired differences by rank: {what} over all {len(data['comparisons'])} pairs; tests: "
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
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line([header for _, header in columns]), line(["---"] * len(columns))]
    out += [line([_format(name, row.get(name)) for name, _ in columns]) for row in rows]
    return "\n".join(out)


def _short_run(path: str) -> str:
    """The run dir's last two path parts: enough to tell runs apart in a table."""
    parts = path.replace("\\", "/").rstrip("/").split("/")
    return "/".join(parts[-2:])
