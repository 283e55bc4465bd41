"""docs/cli.md is every command's --help, and stays so: regenerate it with ``python -m judgekit.cli.docs``."""

from __future__ import annotations

import difflib
from pathlib import Path

from judgekit.cli import COMMANDS
from judgekit.cli.docs import COMMAND, WIDTH, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_docs_cli_md_is_the_current_help_of_every_command():
    written, current = DOC.read_text(encoding="utf-8"), render()
    drift = list(difflib.unified_diff(written.splitlines(), current.splitlines(), "docs/cli.md", "--help", n=1))
    assert not drift, f"docs/cli.md differs from --help; run `{COMMAND}`:\n" + "\n".join(drift[:40])


def test_the_reference_has_a_section_per_command_and_sub_command():
    titles = [line.removeprefix("## ") for line in render().splitlines() if line.startswith("## judgekit")]
    assert titles[0] == "judgekit" and len(titles) == len(set(titles))
    assert {t.split()[1] for t in titles[1:]} == set(COMMANDS)
    assert {"judgekit cache path", "judgekit cache stats", "judgekit cache clear", "judgekit plan paired"} <= {*titles}


def test_the_reference_does_not_depend_on_the_terminal(monkeypatch):
    """The help is wrapped to a fixed width without colour, whatever the terminal says."""
    wide = render()
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("FORCE_COLOR", "1")
    narrow = render()
    assert narrow == wide and "\x1b[" not in wide
    assert max(len(line) for line in wide.splitlines() if line.startswith(("│", "╭", "╰", " "))) == WIDTH
