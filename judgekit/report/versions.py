"""``judgekit versions`` shown: a table, Markdown, JSON or one HTML page of what
``judgekit.analysis.versions.versions_table`` computed. Nothing here computes a figure."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Group
from rich.table import Table
from rich.text import Text

from judgekit.report import markdown

COLUMNS = (
    ("version", "version"), ("judge", "judge · protocol"), ("dev", "dev"), ("test", "test"), ("test_runs", "test runs"),
    ("vs", "vs"), ("delta", "Δ"), ("p", "p"), ("holm", "Holm p"), ("cost", "$/1k items"), ("tokens", "tokens/1k items"),
)
"""The table's columns; ``dev`` and ``test`` are headed by the figure they show."""
NUMBERS = ("test_runs", "delta", "p", "holm", "cost", "tokens")

_ENV = Environment(loader=PackageLoader("judgekit.report", "templates"), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=True, lstrip_blocks=True)


def render_versions(data: dict[str, Any], fmt: str) -> str | Group:
    """The versions table in ``table`` (rich), ``markdown``, ``json`` or ``html``."""
    if fmt == "json":
        return json.dumps(data, indent=2, allow_nan=False)
    figures = {side[name]["figure"] for side in data["versions"] for name in ("dev", "test") if side[name]}
    shared = next(iter(figures)) if len(figures) == 1 else None
    columns = [(k, f"{h} {shared}" if k in ("dev", "test") and shared else h) for k, h in COLUMNS]
    rows = [_cells(row, named=shared is None) for row in data["versions"]]
    if fmt == "html":  # the page shows the looks and the warning above the table
        return _ENV.get_template("versions.html.j2").render(data=data, columns=columns, rows=rows, notes=_notes(data),
                                                            numbers=NUMBERS)
    notes = _looks(data) + _notes(data)
    if fmt == "markdown":
        grid = markdown.table([h for _, h in columns], [[row[k] for k, _ in columns] for row in rows])
        return f"### {markdown.cell(_title(data))}\n\n{grid}\n\n" + "\n\n".join(notes) + "\n"
    table = Table(title=_title(data), title_justify="left")
    for name, header in columns:
        table.add_column(header, justify="right" if name in NUMBERS else "left", no_wrap=name != "judge")
    for row in rows:
        table.add_row(*(row[k] for k, _ in columns))
    return Group(table, *(Text(note) for note in notes))


def _title(data: dict[str, Any]) -> str:
    split = data["split"]
    return (f"Judge versions on {split['path']} ({split['source']}, {data['kind']}): {split['dev']} dev / "
            f"{split['test']} test items")


def _cells(row: dict[str, Any], *, named: bool) -> dict[str, str]:
    edited = f" (edited since {row['edited_from']})" if row["edited_from"] else ""
    unfinished = row["unfinished_test_runs"]
    return {
        "version": f"{row['name']} {row['short']}" + (" final" if row["final"] else ""),
        "judge": f"{row['judge']} · {row['protocol']}{edited}",
        "dev": _figure(row["dev"], named=named), "test": _figure(row["test"], named=named),
        "test_runs": str(row["test_runs"]) + (f" ({unfinished} unfinished)" if unfinished else ""),
        **_comparison(row["vs_best_earlier"]),
        "cost": "-" if row["cost_per_1000"] is None else f"{row['cost_per_1000']:.4f}",
        "tokens": "-" if row["tokens_per_1000"] is None else f"{row['tokens_per_1000']:,.0f}",
    }


def _figure(side: dict[str, Any] | None, *, named: bool = True) -> str:
    """``0.512 [0.401, 0.618]`` (value and 95% interval, with the figure's name when versions differ in it);
    ``-`` without a finished run."""
    if side is None or side["value"] is None:
        return "-"
    ci = f" [{side['ci'][0]:.3f}, {side['ci'][1]:.3f}]" if side["ci"] else ""
    flags = ("" if side["complete"] else " incomplete") + (" (ledger)" if side["from"] == "ledger" else "")
    return f"{side['figure'] + ' ' if named else ''}{side['value']:.3f}{ci}{flags}"


def _comparison(pair: dict[str, Any] | None) -> dict[str, str]:
    cells = {"vs": "-", "delta": "", "p": "", "holm": ""}
    if pair is None:
        return cells
    if pair["p_value"] is None:
        return cells | {"vs": f"{pair['against']}: untested ({pair['reason']})"}
    return {"vs": pair["against"], "delta": f"{pair['difference'] + 0.0:+.3f}", "p": f"{pair['p_value']:.2g}",
            "holm": f"{pair['p_holm']:.2g}"}


def _looks(data: dict[str, Any]) -> list[str]:
    """How many versions looked at the test side, and the warning when more than one did."""
    looks = [f"Looks at the test side: {data['looks']} version{'s' if data['looks'] != 1 else ''}."]
    return looks + ([f"Warning: {data['warning']}"] if data["warning"] else [])


def _notes(data: dict[str, Any]) -> list[str]:
    notes = []
    if data["final"]:
        final = next(row for row in data["versions"] if row["final"])
        notes.append(f"Final (named before looking): {final['name']} {final['short']}, test {_figure(final['test'])}, "
                     f"n={final['test']['n'] if final['test'] else 0}.")
    tests = sorted({c["test"] for c in data["comparisons"] if c["test"]})
    if data["comparisons"]:
        notes.append(f"Paired tests (vs: the version compared with; Δ: this one's test figure minus that one's): "
                     f"{data['family']}; {'; '.join(tests) or 'none could be run'}.")
    if data["missing_runs"]:
        notes.append(f"Run dirs not found (their figures are the ledger's): {', '.join(data['missing_runs'])}.")
    if data["damaged_lines"]:
        lines = ", ".join(map(str, data["damaged_lines"]))
        notes.append(f"Ledger lines that do not read as entries (skipped): {lines}.")
    return notes
