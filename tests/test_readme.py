"""The README's quick start is what CI runs."""

import re

from conftest import REPO


def _fenced_commands(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = _fenced_commands(quick_start)
    assert len(commands) == 2, "the quick start must be exactly two commands"
    ci_lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert commands[1] in ci_lines


def test_ci_fails_when_pytest_collects_nothing():
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r'"\$rc" -eq 5 \].*?exit 1', script, flags=re.S)
