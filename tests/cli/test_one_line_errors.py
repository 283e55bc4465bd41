"""Misuse of paths, caches and URLs: one line on stderr, never a traceback (issue 12, item 13).

The CLI runs in-process against the loopback server; every case checks the
exit code, that stderr is exactly one ``error:`` line naming what is wrong,
and that nothing was half-written.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
from servers import ScriptedServer

from judgekit.runs.run_dir import read_run


@pytest.fixture
def server():
    with ScriptedServer(answer=lambda call: "Output (a)") as s:
        yield s


def run_args(server, out, *extra, url=None):
    return ("run", "--judge", "openai:judge", "--base-url", url or server.openai_url, "--dataset",
            "judgekit/bundled", "--protocol", "llmbar/vanilla", "--limit", "2", "--out", out, "--quiet", *extra)


def one_line(result, code, *needles):
    exit_code, _, err = result
    lines = err.strip().splitlines()
    assert exit_code == code, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


@contextmanager
def read_only(folder: Path):
    """Make a folder and what it holds unwritable, for root too (root ignores mode bits, not
    the immutable flag)."""
    paths = [folder, *folder.iterdir()]
    for path in paths:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i", str(path)], check=True)
        else:
            path.chmod(0o555)
    try:
        yield folder
    finally:
        for path in paths:
            if os.geteuid() == 0:
                subprocess.run(["chattr", "-i", str(path)], check=True)
            else:
                path.chmod(0o755)


def test_out_naming_a_file_or_a_path_under_a_file(server, tmp_path, cli):
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    one_line(cli(*run_args(server, afile)), 2, "notes.txt", "is a file")
    one_line(cli(*run_args(server, afile / "run")), 2, "notes.txt", "is a file")
    one_line(cli(*run_args(server, afile / "deeper" / "run")), 2, "notes.txt", "is a file")
    assert afile.read_text() == "mine" and server.requests == 0


def test_a_read_only_run_dir_or_parent(server, tmp_path, cli):
    out = tmp_path / "run"
    assert cli(*run_args(server, out))[0] == 0
    with read_only(out):
        one_line(cli(*run_args(server, out)), 2, str(out), "cannot write")
    parent = tmp_path / "locked"
    parent.mkdir()
    with read_only(parent):
        one_line(cli(*run_args(server, parent / "run")), 2, "permission denied")
    assert not (parent / "run").exists() and len(read_run(out).verdicts) == 2


def test_a_cache_file_that_is_not_a_database(server, tmp_path, cli, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "responses.sqlite").write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(cache))
    one_line(cli(*run_args(server, tmp_path / "run")), 2, str(cache / "responses.sqlite"), "delete the file")
    assert not (tmp_path / "run").exists()


def test_a_corrupt_cache_entry_is_a_miss_answered_again(server, tmp_path, cli, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(cache))
    assert cli(*run_args(server, tmp_path / "one"))[0] == 0
    with sqlite3.connect(cache / "responses.sqlite") as db:
        db.execute("UPDATE responses SET completion = '{not json' WHERE rowid = 1")
        db.execute("UPDATE responses SET completion = '{\"text\": 1}' WHERE rowid = 2")
    server.reset_counters()
    assert cli(*run_args(server, tmp_path / "two"))[0] == 0
    assert server.total_answered() == 2  # the two damaged entries, asked again
    server.reset_counters()
    assert cli(*run_args(server, tmp_path / "three"))[0] == 0
    assert server.total_answered() == 0  # and stored again


def test_a_read_only_cache_dir_is_read_without_storing(server, tmp_path, cli, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(cache))
    assert cli(*run_args(server, tmp_path / "one", "--limit", "1"))[0] == 0
    gc.collect()  # the run's cache connection, as if its process had ended
    server.reset_counters()
    with read_only(cache):
        code, _, err = cli(*run_args(server, tmp_path / "two"))
    assert code == 0, err
    assert "read-only" in err and "Traceback" not in err
    assert server.total_answered() == 2  # item 1 from the cache, item 2 asked


def test_an_empty_read_only_cache_dir_says_so(server, tmp_path, cli, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(cache))
    with read_only(cache):
        one_line(cli(*run_args(server, tmp_path / "run")), 2, str(cache), "--no-cache")


def test_cache_dir_variable_naming_a_file(server, tmp_path, cli, monkeypatch):
    afile = tmp_path / "cachefile"
    afile.write_text("x")
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(afile))
    one_line(cli(*run_args(server, tmp_path / "run")), 2, str(afile), "JUDGEKIT_CACHE_DIR")


def test_a_base_url_with_credentials_is_one_line_that_keeps_the_secret_out(server, tmp_path, cli):
    url = server.openai_url.replace("http://", "http://user:sk-secret@")
    result = cli(*run_args(server, tmp_path / "run", url=url))
    one_line(result, 2, "credentials")
    assert "sk-secret" not in result[1] + result[2] and server.requests == 0


def test_result_json_being_a_folder(tmp_path, cli):
    evaluator = tmp_path / "Natural" / "evaluators" / "GPT-4" / "Vanilla"
    (evaluator / "result.json").mkdir(parents=True)
    one_line(cli("import", "llmbar", evaluator, "--out", tmp_path / "run"), 2, "result.json", "is a folder")
    assert not (tmp_path / "run").exists()
