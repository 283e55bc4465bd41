"""The probe table on the terminal: one row per probe, from ``judgekit.analysis.probes`` rows."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

_KEY = (
    "flip rate: share of pairs whose final verdict changed. Δ accuracy: probed minus unperturbed, against the "
    "human label (paired bootstrap CI; p: exact McNemar on the paired verdicts). dispreferred wins: how often the "
    "worse response won, before → after it was changed. identical pairs: decisive = share of non-tie verdicts, "
    "first slot = share of per-order wins by the slot shown first (0.5 is fair). order: the judge's two "
    "presentation orders of the unperturbed pairs (a flip = the orders disagree). protocol: the pairs as they "
    "are, the judge's prompt changed."
)
_RERUN_KEY = (
    " rerun flip: the same judge asked again ({source}). excess: flip rate minus rerun flip (Newcombe's "
    "interval); an interval wholly above 0 says the probe moves verdicts more than asking again does."
)


def render_probes(rows: list[dict[str, Any]], *, title: str, rerun_source: str | None = None) -> Group:
    """The probe table and a key to reading it; with ``rerun_source`` (what the rerun noise came from), the
    rerun flip rate and the excess over it as two more columns."""
    table = Table(title=title, title_justify="left")
    headers = ["probe", "changes", "n", "flip rate [95% CI]"]
    if rerun_source is not None:
        headers += ["rerun flip [95% CI]", "excess [95% CI]"]
    headers += ["Δ accuracy [95% CI]", "p", "dispreferred wins", "decisive", "first slot"]
    for header in headers:
        table.add_column(header, justify="left" if header in ("probe", "changes") else "right", no_wrap=True)
    for row in rows:
        cells = [row["probe"], row["target"] or "", str(row["n"]), _with_ci(row, "flip_rate")]
        if rerun_source is not None:
            cells += [_with_ci(row, "rerun_flip_rate"), _with_ci(row, "excess_flip_rate", signed=True)]
        cells += [
            _with_ci(row, "accuracy_change", signed=True), "" if row["p_value"] is None else f"{row['p_value']:.2g}",
            "" if row["dispreferred_wins_probed"] is None else
            f"{row['dispreferred_wins_base']:.2f} → {row['dispreferred_wins_probed']:.2f}",
            _with_ci(row, "decisiveness"), _with_ci(row, "first_slot_share"),
        ]
        table.add_row(*cells)
    key = _KEY + ("" if rerun_source is None else _RERUN_KEY.format(source=rerun_source))
    return Group(table, Text(key, style="dim"))


def _with_ci(row: dict[str, Any], name: str, *, signed: bool = False) -> str:
    value, ci = row.get(name), row.get(f"{name}_ci")
    if value is None:
        return ""
    fmt = "+.3f" if signed else ".3f"
    return f"{value:{fmt}} [{ci[0]:{fmt}}, {ci[1]:{fmt}}]" if ci else f"{value:{fmt}}"
