"""Issue 28, bad files and odd places: one line naming file, record and field (exit 2), never a traceback.

Through the real CLI (``mock:`` judge, in this process), on files a careless or hostile user could hand
over: Parquet list columns, lone surrogates in JSON Lines, unwritable or odd ``--out`` places, long names.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_judgekit

from judgekit.runs.run_dir import read_run


def _one_line(code: int, err: str) -> str:
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("cell", [["q1"], ["q1", "q2"]], ids=["one element", "two elements"])
def test_a_parquet_list_where_text_belongs_is_one_line(tmp_path, monkeypatch, capsys, cell):
    path = tmp_path / "pairs.parquet"
    pd.DataFrame({"id": ["a", "b"], "instruction": [cell, ["another", "list"]], "response_a": ["x", "y"],
                  "response_b": ["z", "w"], "gold": ["a", "b"]}).to_parquet(path)
    err = _one_line(*run_judgekit(monkeypatch, capsys, "datasets", "show", path)[::2])
    assert "pairs.parquet: record 1: field 'instruction': expected text, got list" in err


def test_a_lone_surrogate_in_json_lines_is_one_line(tmp_path, monkeypatch, capsys):
    rows = [{"id": "a", "instruction": "fine", "response_a": "x", "response_b": "y", "gold": "a"},
            {"id": "b", "instruction": "fine", "response_a": "x", "response_b": "bad \ud800 here", "gold": "b"}]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")  # json.dumps escapes it: \ud800
    err = _one_line(*run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:first", "--protocol", "llmbar/vanilla",
                                  "--dataset", path, "--out", tmp_path / "run", "--quiet")[::2])
    assert "pairs.jsonl: line 2: field 'response_b': a lone surrogate" in err
    assert not (tmp_path / "run").exists()


RUN = ("run", "--judge", "mock:first", "--protocol", "llmbar/vanilla", "--dataset", "judgekit/bundled",
       "--limit", "2", "--quiet")


@pytest.fixture
def mount(tmp_path):
    """Mount a small tmpfs (read-only with ``mount("ro")``); skip where this host does not let us."""
    mounted = []

    def make(name: str, *options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(["size=4m", *options]), "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield make
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)


def test_out_a_symlink_to_an_empty_folder_or_a_mount_point_holds_the_run(tmp_path, monkeypatch, capsys, mount):
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    code, _, err = run_judgekit(monkeypatch, capsys, *RUN, "--out", tmp_path / "link")
    assert code == 0, err
    assert (tmp_path / "link").is_symlink() and len(read_run(tmp_path / "target").verdicts) == 2
    point = mount("volume")
    code, _, err = run_judgekit(monkeypatch, capsys, *RUN, "--out", point)
    assert code == 0, err
    assert read_run(point).manifest.complete
    code, _, err = run_judgekit(monkeypatch, capsys, *RUN, "--out", point)  # and resumes there
    assert code == 0, err


def test_out_a_dangling_symlink_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    err = _one_line(*run_judgekit(monkeypatch, capsys, *RUN, "--out", tmp_path / "link")[::2])
    assert "link: is a symbolic link to" in err and "nowhere" in err and "another run" not in err


def test_out_on_a_read_only_file_system_is_one_line_for_run_report_and_export(tmp_path, monkeypatch, capsys, mount):
    code, _, err = run_judgekit(monkeypatch, capsys, *RUN, "--out", tmp_path / "run")
    assert code == 0, err
    locked = mount("locked", "ro")
    err = _one_line(*run_judgekit(monkeypatch, capsys, *RUN, "--out", locked / "run")[::2])
    assert "locked" in err and "read-only file system" in err
    err = _one_line(*run_judgekit(monkeypatch, capsys, *RUN, "--out", locked)[::2])  # the mount point itself
    assert "locked" in err and "read-only file system" in err
    for command in (("report", tmp_path / "run", "--format", "json"), ("export", tmp_path / "run")):
        err = _one_line(*run_judgekit(monkeypatch, capsys, *command, "--out", locked / "out.txt")[::2])
        assert "out.txt" in err and "read-only file system" in err


def test_names_longer_than_the_file_system_takes(tmp_path, monkeypatch, capsys):
    long_name = "n" * 300
    err = _one_line(*run_judgekit(monkeypatch, capsys, *RUN, "--out", tmp_path / long_name)[::2])
    assert "is 300 bytes; file systems take at most 255" in err
    code, _, err = run_judgekit(monkeypatch, capsys, *RUN, "--out", tmp_path / "run")
    assert code == 0, err
    err = _one_line(*run_judgekit(monkeypatch, capsys, "export", tmp_path / "run", "--out",
                                  tmp_path / f"{long_name}.csv")[::2])
    assert "is 304 bytes; file systems take at most 255" in err
    data = tmp_path / f"{'d' * 240}.jsonl"  # a long data file name makes a long default run dir name
    data.write_text(json.dumps({"id": "a", "instruction": "i", "response_a": "x", "response_b": "y",
                                "gold": "a"}) + "\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:first", "--protocol", "llmbar/vanilla",
                                "--dataset", data, "--quiet")
    assert code == 0, err
    [made] = (tmp_path / "runs").iterdir()
    assert len(made.name) <= 255 and read_run(made).manifest.complete
