"""``judgekit datasets list|show``."""

import typer


def register(app: typer.Typer) -> None:
    """Attach this command group to the main app."""
