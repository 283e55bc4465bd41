"""Markdown table cells that show text as text: a name or a judge's reply never becomes HTML, a link
or an extra column, whichever Markdown viewer renders the report."""

from __future__ import annotations

from collections.abc import Sequence

_ESCAPES = str.maketrans({
    "\\": "\\\\",  # first of all: a backslash before a bar would otherwise unescape it
    "|": "\\|",  # a bar ends the cell
    "&": "&amp;", "<": "&lt;", ">": "&gt;",  # HTML, which many viewers render as such
    "[": "\\[", "]": "\\]",  # links, javascript: ones included
    "`": "\\`",
    "\r": " ", "\n": " ",  # a line break ends the row
})


def cell(text: str) -> str:
    """``text`` as one Markdown table cell (or heading): escaped, on one line."""
    return text.translate(_ESCAPES)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table of text cells."""
    lines = [headers, ["---"] * len(headers), *rows]
    return "\n".join("| " + " | ".join(cell(c) if i != 1 else c for c in line) + " |"
                     for i, line in enumerate(lines))
