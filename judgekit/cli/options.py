"""Options several commands share, declared once so their spelling and help never drift apart."""

from __future__ import annotations

from enum import Enum

import typer


class OutputFormat(str, Enum):
    """A command's output: a table for people, JSON for programs."""

    table = "table"
    json = "json"


FORMAT = typer.Option(OutputFormat.table, "--format", "-f", help="table or json.")
"""``--format table|json``; use as ``format: OutputFormat = FORMAT``."""
