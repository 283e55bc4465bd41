"""``ruff check`` with the settings in pyproject.toml finds nothing in judgekit/, tests/ and bench/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_ruff_finds_nothing():
    done = ruff("--output-format", "concise", "judgekit", "tests", "bench")
    assert done.returncode == 0, f"ruff check judgekit tests bench:\n{done.stdout[-4000:]}{done.stderr[-1000:]}"


def test_the_settings_select_the_rules_we_rely_on(tmp_path):
    """The repo's settings, not ruff's defaults: import order, bugbear, pyupgrade, 120 columns."""
    sample = tmp_path / "sample.py"
    sample.write_text("import sys\nimport json\nfrom typing import Optional\n\n\n"
                      "def f(x: Optional[int] = None, seen=[]) -> str:\n"
                      f"    return json.dumps([x, seen, sys.argv, {'a' * 100!r}])  # {'b' * 4}\n", encoding="utf-8")
    done = ruff("--config", str(REPO / "pyproject.toml"), "--output-format", "concise", str(sample))
    found = {line.split()[1] for line in done.stdout.splitlines() if line.startswith(str(sample))}
    assert found == {"I001", "UP045", "B006", "E501"}, done.stdout
