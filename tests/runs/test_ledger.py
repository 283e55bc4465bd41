"""The ledger of a split: every run on it appended (started, then finished with its figure), never rewritten,
whole after a kill -9; judge versions are the content hash of what decides verdicts."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from conftest import JUDGEKIT, KILLS_PROCESSES, judgekit_process, run_judgekit
from servers import ScriptedServer
from stand_in import LABELS, MAPPING, write_labelled_csv, write_model, write_spec

from judgekit.analysis.compare import report
from judgekit.judge.identity import host_of, version_of
from judgekit.records import Manifest
from judgekit.runs.ledger import LEDGER, read_ledger
from judgekit.runs.run_dir import read_run


@pytest.fixture
def split_dir(tmp_path, monkeypatch, capsys):
    data = write_labelled_csv(tmp_path / "labels.csv", questions=40)
    out = tmp_path / "split"
    code, _, err = run_judgekit(monkeypatch, capsys, "split", data, "--mapping", MAPPING, "--labels", LABELS,
                                "--out", out)
    assert code == 0, err
    return out


def _run(monkeypatch, capsys, split_dir, spec, model, on, out):
    return run_judgekit(monkeypatch, capsys, "run", "--judge", f"mock:{model}", "--protocol", spec, "--split",
                        split_dir, "--on", on, "--out", out, "--quiet")


def test_each_run_on_a_split_appends_its_start_and_its_figure_and_never_rewrites_a_line(
        split_dir, tmp_path, monkeypatch, capsys):
    spec = write_spec(tmp_path / "judge.yaml", "v1")
    model = write_model(tmp_path / "model.yaml", split_dir, {"v1": 0.8})
    for on in ("dev", "test"):
        code, _, err = _run(monkeypatch, capsys, split_dir, spec, model, on, tmp_path / f"run-{on}")
        assert code == 0, err
    first = (split_dir / LEDGER).read_bytes()
    ledger = read_ledger(split_dir)
    assert ledger.damaged == []
    assert [(e.event, e.on) for e in ledger.entries] == [("started", "dev"), ("finished", "dev"),
                                                         ("started", "test"), ("finished", "test")]
    dev, test = read_run(tmp_path / "run-dev"), read_run(tmp_path / "run-test")
    assert {e.version for e in ledger.entries} == {version_of(dev.manifest)} == {version_of(test.manifest)}
    finished = ledger.entries[-1]
    row = report([test])["runs"][0]
    assert (finished.headline, finished.value, list(finished.ci)) == ("cohen_kappa", row["cohen_kappa"],
                                                                      row["cohen_kappa_ci"])
    assert finished.value is not None and 0 < finished.value < 1  # the stand-in is right on 80 %
    assert finished.n == len(test.examples) == json.loads((split_dir / "split.json").read_text())["test"]["n"]
    assert finished.run == str((tmp_path / "run-test").resolve()) and finished.complete is True
    assert finished.dataset_hash == test.manifest.dataset_hash and finished.judge == f"mock:{model}"

    code, _, err = _run(monkeypatch, capsys, split_dir, spec, model, "test", tmp_path / "run-test-again")
    assert code == 0, err
    after = (split_dir / LEDGER).read_bytes()
    assert after.startswith(first) and len(after.splitlines()) == 6


def test_a_spec_edited_after_its_test_run_is_a_new_version_never_an_overwrite(split_dir, tmp_path, monkeypatch, capsys):
    spec = write_spec(tmp_path / "judge.yaml", "v1")
    model = write_model(tmp_path / "model.yaml", split_dir, {"v1": 0.7, "v2": 0.9})
    assert _run(monkeypatch, capsys, split_dir, spec, model, "test", tmp_path / "test-run")[0] == 0
    before = (split_dir / LEDGER).read_bytes()
    write_spec(spec, "v2")  # the "same" prompt, edited
    code, _, err = _run(monkeypatch, capsys, split_dir, spec, model, "test", tmp_path / "test-run")
    assert code == 2 and "field 'protocol_hash'" in err and "use another --out" in err
    assert (split_dir / LEDGER).read_bytes() == before  # a refused run is no look
    assert _run(monkeypatch, capsys, split_dir, spec, model, "test", tmp_path / "test-run-2")[0] == 0
    versions = [e.version for e in read_ledger(split_dir).entries]
    assert len(set(versions)) == 2 and versions[0] == versions[1] != versions[2] == versions[3]
    first, second = read_run(tmp_path / "test-run"), read_run(tmp_path / "test-run-2")
    assert first.manifest.protocol_hash != second.manifest.protocol_hash


@KILLS_PROCESSES
def test_a_test_run_killed_with_kill_9_leaves_its_line_and_the_resume_appends_after_it(split_dir, tmp_path):
    with ScriptedServer(answer=lambda call: "Looked at it.\npass", latency=0.2) as server:
        out = tmp_path / "run"
        args = [JUDGEKIT, "run", "--judge", "openai:judge", "--base-url", server.openai_url, "--protocol",
                "classify/binary", "--split", str(split_dir), "--on", "test", "--out", str(out), "--concurrency", "2",
                "--quiet"]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        verdicts = out / "verdicts.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not verdicts.exists() or len(verdicts.read_text().splitlines()) < 4):
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert process.returncode == -signal.SIGKILL
        killed = (split_dir / LEDGER).read_bytes()
        ledger = read_ledger(split_dir)
        assert ledger.damaged == [] and [e.event for e in ledger.entries] == ["started"]
        assert killed.endswith(b"\n") and not read_run(out).manifest.complete

        server.latency = 0.0
        resumed = judgekit_process(*args[1:])
        assert resumed.code == 0, resumed.err
    after = (split_dir / LEDGER).read_bytes()
    assert after.startswith(killed)
    entries = read_ledger(split_dir).entries
    assert [e.event for e in entries] == ["started", "started", "finished"]
    assert len({e.version for e in entries}) == 1 and entries[-1].complete is True


def _manifest(**changes) -> Manifest:
    base = dict(judge="openai:gpt-4o-mini", protocol="mine", protocol_hash="sha256:aaa", dataset="d:dev",
                dataset_hash="sha256:d1", package_version="1", started_at="2026-01-01T00:00:00+00:00", n_examples=10,
                params={"temperature": 0.0, "max_tokens": 16, "base_url": "http://gpu-1:8000/v1"},
                labels=("fail", "pass"))
    return Manifest(**{**base, **changes})


@pytest.mark.parametrize("changes", [
    {"judge": "openai:gpt-4o"}, {"protocol_hash": "sha256:bbb"},
    {"params": {"temperature": 0.7, "max_tokens": 16, "base_url": "http://gpu-1:8000/v1"}},
    {"params": {"temperature": 0.0, "max_tokens": 32, "base_url": "http://gpu-1:8000/v1"}},
    {"params": {"temperature": 0.0, "max_tokens": 16, "base_url": "http://gpu-2:8000/v1"}},
    {"labels": ("pass", "fail")}, {"positive_label": "fail"},
])
def test_what_decides_verdicts_makes_another_version(changes):
    assert version_of(_manifest(**changes)) != version_of(_manifest())


@pytest.mark.parametrize("changes", [
    {"dataset": "d:test", "dataset_hash": "sha256:d2", "n_examples": 3},  # the same judge on the other side
    {"started_at": "2026-02-02T00:00:00+00:00", "package_version": "2", "complete": True},
    {"protocol": "renamed", "params": {"temperature": 0.0, "max_tokens": 16, "base_url": "https://gpu-1:8000/v2"}},
])
def test_what_does_not_decide_verdicts_keeps_the_version(changes):
    assert version_of(_manifest(**changes)) == version_of(_manifest())


def test_a_base_url_counts_by_its_host_and_port():
    assert host_of("http://user:secret@gpu-1:8000/v1") == "gpu-1:8000"
    assert host_of("https://api.example.com/v1/") == "api.example.com"
    assert host_of("localhost:11434") == "localhost:11434"
