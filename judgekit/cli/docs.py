"""docs/cli.md: every command's ``--help``, rendered at a fixed width without colour.

Regenerate with ``python -m judgekit.cli.docs > docs/cli.md``; tests/cli/test_cli_docs.py fails when the
file and the help drift apart.
"""

from __future__ import annotations

import contextlib
import io
import sys
from typing import Any

import typer.rich_utils

from judgekit.cli import app

WIDTH = 100
"""Columns the help is wrapped to: the same on every machine, whatever the terminal."""

COMMAND = "python -m judgekit.cli.docs > docs/cli.md"

HEADER = f"""# Command-line reference

Every `judgekit` command's `--help`, generated: do not edit by hand. After changing a command, regenerate it with

```bash
{COMMAND}
```

(`tests/cli/test_cli_docs.py` fails when this file and the help differ.)
"""


def render() -> str:
    """The whole reference: the top-level help, then each command and sub-command in the order help lists them."""
    sections = [HEADER]
    for path in _command_paths(typer.main.get_command(app), ()):
        title = " ".join(("judgekit", *path))
        sections.append(f"## {title}\n\n```text\n{_help(path)}\n```\n")
    return "\n".join(sections)


def _command_paths(group: Any, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every visible command under a group (typer's bundled click: a group is what lists commands)."""
    paths = [prefix]
    ctx = group.context_class(group, info_name="judgekit")
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        if hasattr(command, "list_commands"):
            paths += _command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


def _help(path: tuple[str, ...]) -> str:
    """One command's ``--help`` as a 100-column terminal without colour shows it, trailing spaces dropped."""
    fixed: dict[str, Any] = {"MAX_WIDTH": WIDTH, "COLOR_SYSTEM": None, "FORCE_TERMINAL": False}
    saved = {name: getattr(typer.rich_utils, name) for name in fixed}
    out = io.StringIO()
    try:
        for name, value in fixed.items():
            setattr(typer.rich_utils, name, value)
        with contextlib.redirect_stdout(out):
            app([*path, "--help"], prog_name="judgekit", standalone_mode=False, terminal_width=WIDTH,
                max_content_width=WIDTH)
    finally:
        for name, value in saved.items():
            setattr(typer.rich_utils, name, value)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()).strip("\n")


if __name__ == "__main__":
    sys.stdout.write(render())
