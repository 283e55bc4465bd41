"""Reports over run dirs: one summary row per run, a leaderboard, paired significance.

Data flow: run dirs -> ``judged_items`` (aligned arrays of gold labels and
per-order winners) -> the agreement package -> plain dicts (the JSON of the
CLI contract in DESIGN) -> a renderer (rich table, Markdown, JSON; the HTML
page is ``judgekit.html_report``, which also lists items and raw judge texts).

Every rate is a fraction in [0, 1]; a figure that the run cannot define
(bias without both orders' data, self-preference without generators, an
accuracy with no counted item) is None, shown as ``-`` and written as null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from rich.console import Group
from rich.table import Table

from judgekit.agreement import (
    INVALID_POLICIES,
    Interval,
    bias_summary,
    compare_judges,
    model_family,
    pairwise_summary,
    self_preference_excess,
)
from judgekit.errors import BadInput
from judgekit.records import Verdict
from judgekit.rundir import Run

REPORT_FIELDS = (
    "run", "judge", "protocol", "dataset", "n", "accuracy", "accuracy_ci", "accuracy_first_order",
    "accuracy_second_order", "accuracy_both_orders", "positional_agreement", "invalid_rate", "tie_rate",
    "cohen_kappa", "position_bias", "length_bias", "self_preference_bias", "calls", "cache_hits",
    "tokens_in", "tokens_out", "cost_usd",
)
"""Fields of one run in ``judgekit report --format json``, in order (DESIGN, CLI contract)."""

FORMATS = ("table", "markdown", "json", "html")

_SAME_ACCURACY = {"wrong", "llmbar"}
"""Policies that score accuracy alike (they differ only in positional agreement)."""


@dataclass(frozen=True)
class Options:
    """How figures are computed: invalid-verdict policy override and bootstrap settings."""

    invalid_policy: str | None = None
    """None: each run's own policy (its manifest's)."""
    confidence: float = 0.95
    n_resamples: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class JudgedItems:
    """A run's gold-labelled, judged items as aligned lists (what agreement functions take).

    ``orders`` holds one winner list per presentation order: the order showing
    response a first, then (when the protocol used it) the one showing b first.
    """

    ids: list[str]
    gold: list[str]
    orders: list[list[str | None]]
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

        return JudgedItems(list(keep), take(self.gold), [take(o) for o in self.orders], take(self.length_a),
                           take(self.length_b), take(self.generator_a), take(self.generator_b))


def judged_items(run: Run) -> JudgedItems:
    """Items that have both a gold label and a verdict, with each order's winner."""
    verdicts = {v.example_id: v for v in run.verdicts}
    examples = [e for e in run.examples if e.gold is not None and e.id in verdicts]
    swaps = sorted({o.swapped for e in examples for o in verdicts[e.id].orders})
    if swaps:
        orders = [[_order_winner(verdicts[e.id], s) for e in examples] for s in swaps]
    else:  # a protocol without per-order results: its final winner is the one order
        orders = [[verdicts[e.id].winner for e in examples]]
    return JudgedItems(
        ids=[e.id for e in examples],
        gold=[e.gold for e in examples],
        orders=orders,
        length_a=[len(e.response_a) for e in examples],
        length_b=[len(e.response_b) for e in examples],
        generator_a=[e.generator_a for e in examples],
        generator_b=[e.generator_b for e in examples],
    )


def policy_of(run: Run, options: Options) -> str:
    policy = options.invalid_policy or run.manifest.invalid_policy
    if policy not in INVALID_POLICIES:
        raise BadInput(f"invalid-verdict policy {policy!r} is not one of {', '.join(INVALID_POLICIES)}")
    return policy


def run_row(run: Run, options: Options = Options()) -> dict[str, Any]:
    """One run's summary row with the DESIGN report fields (plus nothing else)."""
    return _summarize(run, judged_items(run), options)[0]


def report(runs: Sequence[Run], options: Options = Options()) -> dict[str, Any]:
    """``{"runs": [row, ...]}``, the JSON of ``judgekit report``."""
    return {"runs": [run_row(run, options) for run in runs]}


def compare(runs: Sequence[Run], options: Options = Options()) -> dict[str, Any]:
    """Leaderboard (best accuracy first) and paired tests for runs sharing items.

    Each leaderboard row is the report row plus ``rank``, bias intervals and,
    for judges with a known model, the self-preference excess over the other
    runs on the same items whose judge is another model family.
    """
    items = [judged_items(run) for run in runs]
    rows = []
    for run, judged in zip(runs, items, strict=True):
        row, biases = _summarize(run, judged, options)
        for name, interval in biases.items():
            row[f"{name}_ci"] = _bounds(interval)
        row |= _excess(run, judged, runs, items, options)
        rows.append(row)
    order = sorted(range(len(rows)), key=lambda i: -(rows[i]["accuracy"] if rows[i]["accuracy"] is not None else -1))
    leaderboard = [{"rank": rank, **rows[i]} for rank, i in enumerate(order, start=1)]
    comparisons = []
    for i, j in combinations(order, 2):
        pair = _paired(runs[i], items[i], runs[j], items[j], options)
        if pair is not None:
            comparisons.append(pair)
    return {"leaderboard": leaderboard, "comparisons": comparisons}


# ---------------------------------------------------------------- figures


def _summarize(run: Run, items: JudgedItems, options: Options) -> tuple[dict[str, Any], dict[str, Interval | None]]:
    """The report row of a run, and its bias intervals (which only compare shows)."""
    manifest, usage = run.manifest, run.manifest.usage
    row: dict[str, Any] = dict.fromkeys(REPORT_FIELDS)
    row |= {"run": str(run.path), "judge": manifest.judge, "protocol": manifest.protocol,
            "dataset": manifest.dataset, "n": len(items.ids), "calls": usage.calls,
            "cache_hits": usage.cache_hits, "tokens_in": usage.tokens_in, "tokens_out": usage.tokens_out,
            "cost_usd": usage.cost_usd}
    biases = _biases(run, items, options)
    if items.ids:
        summary = pairwise_summary(
            items.gold, items.orders[0], items.orders[1] if len(items.orders) > 1 else None,
            invalid=policy_of(run, options), confidence=options.confidence,
            n_resamples=options.n_resamples, seed=options.seed,
        )
        for name in ("accuracy", "accuracy_first_order", "accuracy_second_order", "accuracy_both_orders",
                     "positional_agreement", "invalid_rate", "tie_rate", "cohen_kappa"):
            row[name] = _estimate(getattr(summary, name))
        row["accuracy_ci"] = _bounds(summary.accuracy)
    row |= {name: _estimate(interval) for name, interval in biases.items()}
    return row, biases


def _biases(run: Run, items: JudgedItems, options: Options) -> dict[str, Interval | None]:
    if not items.ids:
        return {"position_bias": None, "length_bias": None, "self_preference_bias": None}
    known = any(a and b for a, b in zip(items.generator_a, items.generator_b, strict=True))
    model = run.manifest.judge_model
    summary = bias_summary(
        items.gold, items.orders[0], items.orders[1] if len(items.orders) > 1 else None,
        length_a=items.length_a, length_b=items.length_b,
        generator_a=items.generator_a if known and model else None,
        generator_b=items.generator_b if known and model else None,
        judge_model=model, confidence=options.confidence, n_resamples=options.n_resamples, seed=options.seed,
    )
    return {"position_bias": summary.position_bias, "length_bias": summary.length_bias,
            "self_preference_bias": summary.self_preference_bias}


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
    )
    out["self_preference_excess"] = _estimate(result.excess)
    out["self_preference_excess_ci"] = _bounds(result.excess)
    out["self_preference_peers"] = sorted(peers)
    return out


def _paired(run_1: Run, items_1: JudgedItems, run_2: Run, items_2: JudgedItems,
            options: Options) -> dict[str, Any] | None:
    """Accuracy difference (run_1 - run_2) and McNemar on the items both judged; None if none."""
    in_2 = set(items_2.ids)
    shared = [item for item in items_1.ids if item in in_2]
    if not shared:
        return None
    a, b = items_1.subset(shared), items_2.subset(shared)
    if a.gold != b.gold:
        raise BadInput(f"{run_2.path}: gold labels differ from {run_1.path} on shared items; not the same dataset")
    m = min(len(a.orders), len(b.orders))
    policy_1, policy_2 = policy_of(run_1, options), policy_of(run_2, options)
    if policy_1 != policy_2 and not {policy_1, policy_2} <= _SAME_ACCURACY:
        raise BadInput(f"{run_2.path}: invalid-verdict policy {policy_2!r} differs from {policy_1!r} of "
                       f"{run_1.path}; pass --invalid-policy to compare them")
    result = compare_judges(a.gold, a.orders[:m], b.orders[:m], invalid=policy_1, confidence=options.confidence,
                            n_resamples=options.n_resamples, seed=options.seed)
    return {
        "run_1": str(run_1.path), "run_2": str(run_2.path), "n": result.n, "orders": m,
        "accuracy_difference": _estimate(result.accuracy_difference),
        "accuracy_difference_ci": _bounds(result.accuracy_difference),
        "mcnemar_p": result.mcnemar.pvalue,
        "only_1_right": result.mcnemar.only_first_right, "only_2_right": result.mcnemar.only_second_right,
    }


def _order_winner(verdict: Verdict, swapped: bool) -> str | None:
    return next((o.winner for o in verdict.orders if o.swapped == swapped), None)


def _estimate(interval: Interval | None) -> float | None:
    if interval is None or math.isnan(interval.estimate):
        return None
    return interval.estimate


def _bounds(interval: Interval | None) -> list[float] | None:
    if interval is None or math.isnan(interval.low) or math.isnan(interval.high):
        return None
    return [interval.low, interval.high]


# ---------------------------------------------------------------- rendering

_REPORT_COLUMNS = (
    ("run", "run"), ("judge", "judge"), ("protocol", "protocol"), ("dataset", "dataset"), ("n", "n"),
    ("accuracy", "accuracy"), ("accuracy_ci", "accuracy 95% CI"), ("accuracy_first_order", "accuracy, a shown first"),
    ("accuracy_second_order", "accuracy, b shown first"), ("accuracy_both_orders", "right in both orders"),
    ("positional_agreement", "positional agreement"), ("invalid_rate", "invalid rate"), ("tie_rate", "tie rate"),
    ("cohen_kappa", "Cohen's kappa"), ("position_bias", "position bias (first-slot wins)"),
    ("length_bias", "length bias (longer wins vs humans)"), ("self_preference_bias", "self-preference (EO)"),
    ("calls", "calls"), ("cache_hits", "cache hits"), ("tokens_in", "tokens in"), ("tokens_out", "tokens out"),
    ("cost_usd", "cost (USD)"),
)
_LEADERBOARD_COLUMNS = (
    ("rank", "#"), ("run", "run"), ("judge", "judge"), ("protocol", "protocol"), ("n", "n"),
    ("accuracy", "acc"), ("accuracy_ci", "95% CI"), ("accuracy_both_orders", "both"),
    ("positional_agreement", "agree"), ("invalid_rate", "invalid"), ("tie_rate", "tie"),
    ("position_bias", "pos"), ("length_bias", "len"), ("self_preference_bias", "self"),
    ("self_preference_excess", "self excess"), ("self_preference_excess_ci", "excess CI"),
)
_TEXT_COLUMNS = ("run", "judge", "protocol", "dataset", "row", "figure")


def render_report(data: dict[str, Any], fmt: str) -> str | Table:
    """The report in one format: a rich Table for ``table``, text otherwise."""
    rows = [{**row, "run": _short_run(row["run"])} for row in data["runs"]]
    if fmt == "table":  # figures down, runs across: reads well at terminal width
        return _table("Agreement with human labels", *_transpose(_REPORT_COLUMNS, rows))
    return _render(data, fmt, [("Runs", _REPORT_COLUMNS, rows)], "report")


def render_compare(data: dict[str, Any], fmt: str) -> str | Group:
    """The leaderboard and significance matrix in one format."""
    rows = [{**row, "run": _short_run(row["run"])} for row in data["leaderboard"]]
    sections = [("Leaderboard (best accuracy first)", _LEADERBOARD_COLUMNS, rows)]
    if data["comparisons"]:
        sections.append(_matrix_section(data, with_ci=fmt != "table"))
    return _render(data, fmt, sections, "compare")


def _render(data: dict[str, Any], fmt: str, sections: list, kind: str) -> Any:
    if fmt == "json":
        return json.dumps(data, indent=2, allow_nan=False)
    if fmt == "markdown":
        return "\n\n".join(f"### {title}\n\n{_markdown(columns, rows)}" for title, columns, rows in sections) + "\n"
    if fmt == "table":
        tables = [_table(title, columns, rows) for title, columns, rows in sections]
        return tables[0] if len(tables) == 1 else Group(*tables)
    if fmt == "html":  # the page also lists items and raw judge texts, which these figures do not carry
        raise BadInput(f"{kind} --format html: render the runs with judgekit.html_report.render_html")
    raise BadInput(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")


_MATRIX_COLUMNS = 8
"""Terminal tables compare every run with the top ranks only, to fit the screen."""


def _matrix_section(data: dict[str, Any], *, with_ci: bool) -> tuple[str, tuple, list[dict[str, Any]]]:
    """Rows and columns named by rank; a cell is acc(row) - acc(col) [CI] and the McNemar p.

    The terminal table leaves the CI out and shows at most ``_MATRIX_COLUMNS``
    columns to stay narrow; Markdown and JSON carry everything.
    """
    rank = {row["run"]: row["rank"] for row in data["leaderboard"]}
    cells: dict[tuple[int, int], str] = {}
    for pair in data["comparisons"]:
        i, j = rank[pair["run_1"]], rank[pair["run_2"]]
        diff, ci, p = pair["accuracy_difference"], pair["accuracy_difference_ci"], pair["mcnemar_p"]
        cells[i, j] = _cell(diff, ci if with_ci else None, p)
        flipped_ci = [-ci[1], -ci[0]] if ci and with_ci else None
        cells[j, i] = _cell(0.0 - diff if diff is not None else None, flipped_ci, p)
    ranks = sorted(rank.values())
    shown = ranks if with_ci else ranks[:_MATRIX_COLUMNS]
    columns = (("row", "row - col"), *((str(r), f"#{r}") for r in shown))
    rows = [{"row": f"#{r}", **{str(c): cells.get((r, c), "") for c in shown}} for r in ranks]
    what = "Δ accuracy [95% CI]" if with_ci else "Δ accuracy"
    more = "" if shown == ranks else f" (columns: top {len(shown)}; every pair in --format markdown or json)"
    return f"Paired differences by rank: {what}, exact McNemar p{more}", columns, rows


def _cell(diff: float | None, ci: list[float] | None, p: float) -> str:
    shown = "" if diff is None else f"{diff + 0.0:+.3f}"  # + 0.0 turns -0.0 into 0.0
    if ci:
        shown += f" [{ci[0]:+.3f}, {ci[1]:+.3f}]"
    return f"{shown} p={p:.2g}".strip()


def _transpose(columns: Sequence[tuple[str, str]], rows: list[dict[str, Any]]) -> tuple[tuple, list[dict[str, Any]]]:
    """One row per figure and one column per run (named by position: runs may share a name)."""
    across = (("figure", "figure"), *((f"#{i}", f"#{i}") for i in range(1, len(rows) + 1)))
    down = [{"figure": header, **{f"#{i}": _format(name, row.get(name)) for i, row in enumerate(rows, start=1)}}
            for name, header in columns]
    return across, down


def _format(name: str, value: Any) -> str:
    if value is None:
        return "-"
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
