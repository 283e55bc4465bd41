"""Issue 28, data loss and run identity: what a careless or hostile command line must not do to a run.

Each test reproduces one reported way to lose verdicts or mix two runs into one, through the real
CLI (a ``mock:`` judge, or the real OpenAI SDK against a loopback server).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_judgekit

from judgekit.runs.run_dir import read_run

MOCK_RUN = ("run", "--judge", "mock:first", "--protocol", "llmbar/vanilla", "--dataset", "judgekit/bundled",
            "--limit", "4", "--quiet")


@pytest.fixture
def mock_run(tmp_path, monkeypatch, capsys) -> Path:
    out = tmp_path / "run"
    code, _, err = run_judgekit(monkeypatch, capsys, *MOCK_RUN, "--out", out)
    assert code == 0, err
    return out


def test_export_never_overwrites_a_run_file_or_an_existing_file_without_force(mock_run, tmp_path, monkeypatch,
                                                                               capsys):
    verdicts = (mock_run / "verdicts.jsonl").read_bytes()
    code, _, err = run_judgekit(monkeypatch, capsys, "export", mock_run, "--format", "jsonl",
                                "--out", mock_run / "verdicts.jsonl")
    assert code == 2 and "inside the run dir" in err and len(err.strip().splitlines()) == 1
    assert (mock_run / "verdicts.jsonl").read_bytes() == verdicts
    assert len(read_run(mock_run).verdicts) == 4

    kept = tmp_path / "mine.csv"
    kept.write_text("my own data\n", encoding="utf-8")
    code, _, err = run_judgekit(monkeypatch, capsys, "export", mock_run, "--out", kept)
    assert code == 2 and "--force" in err
    assert kept.read_text(encoding="utf-8") == "my own data\n"
    code, _, err = run_judgekit(monkeypatch, capsys, "export", mock_run, "--out", kept, "--force")
    assert code == 0, err
    assert kept.read_text(encoding="utf-8").startswith("run,judge,protocol")
