"""Issue 28, data loss and run identity: what a careless or hostile command line must not do to a run.

Each test reproduces one reported way to lose verdicts or mix two runs into one, through the real
CLI (a ``mock:`` judge, or the real OpenAI SDK against a loopback server).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_judgekit
from servers import ScriptedServer, scripted_server  # noqa: F401  (fixture)

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


def _server_run(url, out, *extra):
    base = ("--base-url", url) if url else ()
    return ("run", "--judge", "openai:judge", *base, "--protocol", "llmbar/vanilla", "--dataset", "judgekit/bundled",
            "--out", out, "--quiet", *extra)


def _stops_after(server, answers):
    """Make ``server`` answer ``answers`` calls, then fail every later one (HTTP 500)."""
    given = []

    def answer(call):
        if len(given) >= answers:
            raise RuntimeError("scripted outage")
        given.append(call)
        return "Output (a)"

    server.answer = answer


def test_a_server_chosen_by_openai_base_url_is_part_of_the_run(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    with ScriptedServer() as first, ScriptedServer(answer=lambda call: "Output (b)") as second:
        _stops_after(first, 8)
        monkeypatch.setenv("OPENAI_BASE_URL", first.openai_url)
        code, _, err = run_judgekit(monkeypatch, capsys, *_server_run(None, out, "--max-retries", "0"))
        assert code == 1 and len(read_run(out).verdicts) == 4, err
        monkeypatch.setenv("OPENAI_BASE_URL", second.openai_url)
        code, _, err = run_judgekit(monkeypatch, capsys, *_server_run(None, out))
        assert code == 2 and "field 'params'" in err, err
        assert second.requests == 0 and len(read_run(out).verdicts) == 4
    assert read_run(out).manifest.params["base_url"] == first.openai_url


def test_query_values_of_a_base_url_keep_deployments_apart_but_never_reach_the_disk(tmp_path, monkeypatch, capsys,
                                                                                    scripted_server):
    alpha, beta = (f"{scripted_server.openai_url}?deployment={name}" for name in ("alpha", "beta"))
    code, _, err = run_judgekit(monkeypatch, capsys, *_server_run(alpha, tmp_path / "alpha", "--limit", "3"))
    assert code == 0, err
    scripted_server.reset_counters()
    code, _, err = run_judgekit(monkeypatch, capsys, *_server_run(beta, tmp_path / "beta", "--limit", "3"))
    assert code == 0, err
    assert scripted_server.total_answered() == 6  # beta asked its own questions, not served alpha's answers
    assert {q["deployment"] for q in scripted_server.queries} == {"beta"}
    code, _, err = run_judgekit(monkeypatch, capsys, *_server_run(beta, tmp_path / "alpha", "--limit", "3"))
    assert code == 2 and "field 'params'" in err and "=alpha" not in err and "=beta" not in err
    for run in ("alpha", "beta"):
        for name in ("manifest.json", "examples.jsonl", "verdicts.jsonl"):
            text = (tmp_path / run / name).read_text(encoding="utf-8")
            assert "deployment=alpha" not in text and "deployment=beta" not in text
    code, _, err = run_judgekit(monkeypatch, capsys, "probe", tmp_path / "alpha", "--probes", "order", "--quiet")
    assert code == 2 and "pass --base-url" in err  # the stored hash is no URL to call


def test_a_resume_retries_what_a_run_stopped_for_refusals_had_refused(tmp_path, monkeypatch, capsys,
                                                                      scripted_server):
    def refuse(call):
        raise ValueError("unknown field 'logprobs' for this deployment")

    scripted_server.answer, scripted_server.status_for_error = refuse, 400
    args = _server_run(scripted_server.openai_url, tmp_path / "run", "--limit", "5", "--concurrency", "1")
    code, _, err = run_judgekit(monkeypatch, capsys, *args)
    assert code == 1 and "were all refused" in err
    scripted_server.answer, scripted_server.status_for_error = (lambda call: "Output (a)"), None
    code, _, err = run_judgekit(monkeypatch, capsys, *args)
    assert code == 0, err
    run = read_run(tmp_path / "run")
    assert run.manifest.complete and [v.invalid_reason for v in run.verdicts] == [None] * 5
    assert "refused by the server" not in err


DIES_WHILE_STARTING = """
import os, signal, sys
from pathlib import Path
import judgekit.runs.run_dir as run_dir
from judgekit.records import Example, Manifest

def write_then_die(path, records):
    path.write_bytes(b"x" * 5_000_000)
    os.kill(os.getpid(), signal.SIGKILL)

run_dir.write_jsonl = write_then_die
manifest = Manifest(judge="mock:first", protocol="p", dataset="d", package_version="0", started_at="now", n_examples=1)
run_dir.RunDir.create(Path(sys.argv[1]), manifest, [Example(id="e", instruction="i", response_a="a", response_b="b")])
"""


def test_a_start_killed_half_way_leaves_nothing_a_later_run_keeps(tmp_path, monkeypatch, capsys):
    out = tmp_path / "runs" / "mine"
    died = subprocess.run([sys.executable, "-c", DIES_WHILE_STARTING, str(out)], timeout=60)
    assert died.returncode == -signal.SIGKILL
    [partial] = out.parent.iterdir()
    assert partial.name.startswith(".mine.partial-") and (partial / "examples.jsonl").stat().st_size == 5_000_000
    code, _, err = run_judgekit(monkeypatch, capsys, *MOCK_RUN, "--out", out)
    assert code == 0, err
    assert sorted(p.name for p in out.parent.iterdir()) == ["mine"]


def test_a_manifest_copied_over_another_runs_is_refused_on_read(mock_run, tmp_path, monkeypatch, capsys):
    other = tmp_path / "other"
    second = [a if a != "mock:first" else "mock:second" for a in MOCK_RUN]
    code, _, err = run_judgekit(monkeypatch, capsys, *second, "--out", other)
    assert code == 0, err
    assert all(line.startswith('{"run":"') for line in (other / "verdicts.jsonl").read_text().splitlines())
    shutil.copy(mock_run / "manifest.json", other / "manifest.json")
    code, _, err = run_judgekit(monkeypatch, capsys, "report", other)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "verdicts.jsonl:1: field 'run'" in err
    code, _, err = run_judgekit(monkeypatch, capsys, *MOCK_RUN, "--out", other)  # nor resumed
    assert code == 2 and "field 'run'" in err
    legacy = tmp_path / "legacy"  # a run dir from before run ids: neither side has one, and it still reads
    shutil.copytree(mock_run, legacy)
    manifest = json.loads((legacy / "manifest.json").read_text())
    del manifest["run_id"]
    (legacy / "manifest.json").write_text(json.dumps(manifest))
    lines = [json.loads(line) for line in (legacy / "verdicts.jsonl").read_text().splitlines()]
    (legacy / "verdicts.jsonl").write_text("".join(json.dumps({k: v for k, v in line.items() if k != "run"}) + "\n"
                                                   for line in lines))
    assert len(read_run(legacy).verdicts) == 4


def test_a_specs_panel_seat_at_another_server_never_gets_the_runs_key(tmp_path, monkeypatch, capsys):
    """--api-key-env names the key of --base-url's server; a spec file could seat a panel member of the same
    provider at any other URL (or at the provider's own host), which must not receive that key."""
    secret = "sk-mine-0123456789abcdef"
    monkeypatch.setenv("MY_SERVER_KEY", secret)
    with ScriptedServer(answer=lambda call: "Output (a)") as mine, \
            ScriptedServer(answer=lambda call: "Output (a)") as elsewhere:
        spec = tmp_path / "jury.yaml"
        members = [{"name": "here", "judge": "default", "protocol": "llmbar/vanilla"},
                   {"name": "there", "judge": "openai:judge", "protocol": "llmbar/vanilla",
                    "base_url": elsewhere.openai_url}]
        spec.write_text(json.dumps({"description": "a jury", "citation": "none", "strategy": "panel",
                                    "options": {"members": members}}))
        code, _, err = run_judgekit(monkeypatch, capsys, *_server_run(mine.openai_url, tmp_path / "run", "--limit",
                                                                      "1", "--api-key-env", "MY_SERVER_KEY"),
                                    "--protocol", spec)
        assert code == 0, err
        assert mine.seen_keys == {secret} and elsewhere.requests > 0
        assert secret not in elsewhere.seen_keys
