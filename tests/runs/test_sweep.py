"""``judgekit sweep``: a grid of run dirs, one shared budget and cache, resumable, validated."""

from __future__ import annotations

import pytest
import yaml
from servers import ScriptedServer, oracle_for

from judgekit.data import load_dataset
from judgekit.errors import BadInput
from judgekit.runs.run_dir import read_run
from judgekit.runs.sweep import load_sweep

BUNDLED = load_dataset("judgekit/bundled").examples


@pytest.fixture
def server():
    with ScriptedServer(answer=oracle_for(BUNDLED)) as s:
        yield s


def write_sweep(path, server):
    url = server.openai_url
    spec = {
        "root": str(path.parent / "sweep"),
        "concurrency": 3,
        "limit": 4,
        "judges": [{"spec": "openai:judge-one", "base_url": url},
                   {"spec": "openai:judge-two", "base_url": url, "judge_model": "two"}],
        "protocols": ["llmbar/vanilla"],
        "datasets": ["judgekit/bundled"],
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def test_sweep_runs_every_cell_within_one_budget_and_resumes(server, tmp_path, cli):
    server.latency = 0.05
    file = write_sweep(tmp_path / "sweep.yaml", server)
    result = cli("sweep", file, "--quiet")
    assert result.code == 0, result.err
    runs = sorted((tmp_path / "sweep").iterdir())
    assert [r.name for r in runs] == ["openai_judge-one--llmbar_vanilla--judgekit_bundled",
                                     "openai_judge-two--llmbar_vanilla--judgekit_bundled"]
    for path in runs:
        run = read_run(path)
        assert run.manifest.complete and len(run.verdicts) == 4
        assert all(v.winner == e.gold for v, e in zip(run.verdicts, BUNDLED, strict=False))
    assert read_run(runs[1]).manifest.judge_model == "two"
    assert server.peak_concurrency == 3  # two runs side by side, one budget
    assert "judge-one" in result.out and "judge-two" in result.out  # the leaderboard

    server.reset_counters()
    assert cli("sweep", file, "--quiet").code == 0
    assert server.requests == 0


def test_a_failing_cell_does_not_stop_the_others(server, tmp_path, cli):
    server.models = {"judge-one"}
    file = write_sweep(tmp_path / "sweep.yaml", server)
    result = cli("sweep", file, "--quiet")
    assert result.code == 1
    assert "judge-two" in result.err and "HTTP 404" in result.err
    root = tmp_path / "sweep"
    assert read_run(root / "openai_judge-one--llmbar_vanilla--judgekit_bundled").manifest.complete
    assert not read_run(root / "openai_judge-two--llmbar_vanilla--judgekit_bundled").manifest.complete
    server.models = None
    assert cli("sweep", file, "--quiet").code == 0
    assert read_run(root / "openai_judge-two--llmbar_vanilla--judgekit_bundled").manifest.complete


@pytest.mark.parametrize("change,message", [
    ({"judgs": ["x"]}, "unknown key 'judgs'"),
    ({"judges": [{"spec": "openai:x", "temprature": 1}]}, "unknown key 'judges.0.temprature'"),
    ({"concurrency": 0}, "key 'concurrency'"),
    ({"protocols": []}, "key 'protocols'"),
    ({"judges": ["nosuch:model"]}, "key 'judges.0.spec': judge spec: unknown provider 'nosuch'"),
    ({"protocols": ["llmbar/vanilla", "llmbar/nope"]}, "key 'protocols.1': unknown protocol 'llmbar/nope'"),
])
def test_bad_sweep_files_name_file_and_key(tmp_path, change, message, cli):
    spec = {"judges": ["openai:x"], "protocols": ["llmbar/vanilla"], "datasets": ["judgekit/bundled"], **change}
    file = tmp_path / "bad.yaml"
    file.write_text(yaml.safe_dump(spec))
    with pytest.raises(BadInput, match=f"bad.yaml: {message}"):
        load_sweep(file)
    result = cli("sweep", file, "--out", tmp_path / "out")
    assert result.code == 2 and "bad.yaml" in result.err and len(result.err.strip().splitlines()) == 1
