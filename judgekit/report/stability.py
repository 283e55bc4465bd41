"""How ``judgekit stability`` and ``judgekit drift`` show their figures: terminal tables and the stability page.

The figures come from ``judgekit.analysis.stability`` and
``judgekit.analysis.drift``; nothing here computes one.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Group
from rich.table import Table
from rich.text import Text

_ENV = Environment(loader=PackageLoader("judgekit.report", "templates"), autoescape=select_autoescape(["html", "j2"]),
                   trim_blocks=True, lstrip_blocks=True)
_ENV.filters["num"] = lambda value: "–" if value is None else f"{value:.3f}"
_ENV.filters["ci"] = lambda bounds: "" if not bounds else f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"

MAX_STRADDLING_SHOWN = 20
"""Straddling items listed in the terminal (the JSON and the page list them all)."""


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _ci(bounds: list[float] | None) -> str:
    return "" if not bounds else f" [{bounds[0]:.3f}, {bounds[1]:.3f}]"


def _sections(data: dict[str, Any]) -> list[dict[str, Any]]:
    """(name, figures) per part: the run's one, or one per criterion of a pointwise run."""
    if "criteria" in data:
        return [{"name": name, "f": figures} for name, figures in data["criteria"].items()]
    return [{"name": None, "f": data}]


def stability_table(data: dict[str, Any]) -> Group:
    """The terminal view of ``stability_figures``: the figures, the headline's spread, the straddling items."""
    title = (f"Stability · {data['judge']} · {data['protocol']} · {data['dataset']} · {data['repeats']} repeats "
             f"at temperature {data['temperature']} · {data['n']} items")
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for section in _sections(data):
        figures = section["f"]
        if section["name"]:
            table.add_row(Text(f"criterion {section['name']}", style="bold"), "")
        table.add_row("agreement across repeats (mean per item)", _num(figures["agreement"]))
        table.add_row("items whose verdict changed at least once", _num(figures["changed_rate"]))
        table.add_row("rerun flip rate [95% CI]", _num(figures["flip_rate"]) + _ci(figures["flip_rate_ci"]))
        table.add_row("Fleiss' κ across repeats", _num(figures["fleiss_kappa"]))
        if "icc" in figures:
            table.add_row("ICC(2,1) of the scores", _num(figures["icc"]))
            table.add_row("score SD per item: mean, max",
                          f"{_num(figures['mean_item_sd'])}, {_num(figures['max_item_sd'])}")
    table.add_row(Text(f"headline: {data['headline']}", style="bold"), "")
    table.add_row("per repeat", ", ".join(_num(v) for v in data["headlines"]))
    table.add_row("min – max", f"{_num(data['headline_min'])} – {_num(data['headline_max'])}")
    table.add_row("SD across repeats vs sampling SE", f"{_num(data['headline_sd'])} vs {_num(data['sampling_se'])}")
    table.add_row("first repeat's 95% CI", _ci(data["headline_ci"]).strip())
    parts: list[Any] = [table]
    for section in _sections(data):
        straddling = section["f"]["straddling"]
        where = f" ({section['name']})" if section["name"] else ""
        if not straddling:
            parts.append(Text(f"straddling items{where}: none", style="dim"))
            continue
        shown = Table(title=f"straddling items{where}: {len(straddling)}", title_justify="left")
        for header in ("item", "majority", "verdicts across repeats"):
            shown.add_column(header)
        for item in straddling[:MAX_STRADDLING_SHOWN]:
            votes = ", ".join(f"{v} × {c}" for v, c in item["votes"].items())
            shown.add_row(item["id"], item["majority"] or "none", votes)
        parts.append(shown)
        if len(straddling) > MAX_STRADDLING_SHOWN:
            parts.append(Text(f"... and {len(straddling) - MAX_STRADDLING_SHOWN} more (--format json or html)",
                              style="dim"))
    parts.append(Text("flip rate: the share of (item, repeat pair) verdicts that differ — what asking again "
                      "changes. Straddling: items whose verdict was not the same in every repeat.", style="dim"))
    return Group(*parts)


def stability_html(data: dict[str, Any]) -> str:
    """The stability page: the figures and every straddling item."""
    title = f"Stability of {data['judge']} · {data['protocol']}"
    return _ENV.get_template("stability.html.j2").render(d=data, sections=_sections(data), title=title)


def drift_table(data: dict[str, Any]) -> Group:
    """The terminal view of ``drift_figures``: the transition table, κ, the paired test, changed items."""
    parts: list[Any] = [Text(f"Drift · {data['run_a']} → {data['run_b']}", style="bold")]
    for name, part in _drift_parts(data):
        parts.append(_transitions(name, part))
    parts.append(Text("rows: run A's verdict, columns: run B's. κ: Cohen's kappa between the runs; p: the run "
                      "kind's paired test of the headline on the same items.", style="dim"))
    return Group(*parts)


def _drift_parts(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    parts = [(name, part) for name, part in data.get("criteria", {}).items()] if "criteria" in data else [("", data)]
    for order, part in data.get("by_order", {}).items():
        parts.append((f"order {order}", part))
    return parts


def _transitions(name: str, part: dict[str, Any]) -> Group:
    transitions = part["transitions"]
    columns = sorted({b for row in transitions.values() for b in row})
    title = (f"{name + ': ' if name else ''}{part['changed']} of {part['n']} items changed "
             f"({_num(part['changed_rate'])}), κ = {_num(part['cohen_kappa'])}")
    table = Table()
    table.add_column("A \\ B")
    for column in columns:
        table.add_column(column, justify="right")
    for a in sorted(transitions):
        table.add_row(a, *(str(transitions[a].get(b, 0)) for b in columns))
    lines: list[Any] = [Text(title, style="bold"), table]
    if part.get("headline") is not None:
        lines.append(Text(f"{part['headline']}: A {_num(part['headline_a'])}, B {_num(part['headline_b'])}; "
                          f"paired test ({part['test']}) p = {_p(part['p_value'])}"))
    if part["items"]:
        shown = ", ".join(part["items"][:MAX_STRADDLING_SHOWN])
        more = (f" ... and {len(part['items']) - MAX_STRADDLING_SHOWN} more"
                if len(part["items"]) > MAX_STRADDLING_SHOWN else "")
        lines.append(Text(f"changed: {shown}{more}", style="dim"))
    return Group(*lines)


def _p(value: float | None) -> str:
    return "–" if value is None else f"{value:.2g}"
