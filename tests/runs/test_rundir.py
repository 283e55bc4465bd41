"""Run directory: atomic creation, resume checks, torn lines, damaged files."""

from __future__ import annotations

import json

import pytest

from judgekit.errors import BadInput
from judgekit.records import Example, Manifest, OrderResult, Verdict
from judgekit.runs.run_dir import RunDir, read_run


def _examples(n=3):
    return [Example(id=f"ex{i}", instruction=f"q{i}", response_a="x", response_b="y", gold="a") for i in range(n)]


def _manifest(**changes):
    fields = dict(judge="openai:m", protocol="p", protocol_hash="h1", dataset="d", dataset_hash="h2",
                  package_version="0", started_at="2026-11-23T00:00:00Z", n_examples=3)
    fields.update(changes)
    return Manifest(**fields)


def _verdict(i, winner="a"):
    return Verdict(example_id=f"ex{i}", winner=winner,
                   orders=(OrderResult(swapped=False, raw="Output (a)", winner=winner),))


def _line(run_dir, text):
    """A hand-written verdict line of ``run_dir``, as ``RunDir.append`` starts it: with the run's id."""
    return f'{{"run":"{run_dir.manifest.run_id}",{text[1:]}'


def test_create_append_finish_read(tmp_path):
    run_dir = RunDir.create(tmp_path / "run", _manifest(), _examples())
    run_dir.append(_verdict(0))
    run_dir.append(_verdict(1, winner=None))
    run_dir.update(complete=True, n_verdicts=2)
    run = read_run(tmp_path / "run")
    assert run.manifest.complete and run.manifest.n_verdicts == 2
    assert [e.id for e in run.examples] == ["ex0", "ex1", "ex2"]
    assert [v.winner for v in run.verdicts] == ["a", None]
    assert not list(tmp_path.glob(".run.partial-*"))


def test_create_refuses_existing(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(BadInput, match="already exists"):
        RunDir.create(tmp_path / "run", _manifest(), _examples())


def test_resume_drops_torn_line_and_keeps_appending(tmp_path):
    run_dir = RunDir.create(tmp_path / "run", _manifest(), _examples())
    run_dir.append(_verdict(0))
    with (tmp_path / "run" / "verdicts.jsonl").open("a") as f:
        f.write('{"example_id": "ex1", "win')  # what a kill -9 mid-write leaves
    run_dir.close()  # the killed writer's lock went with its process
    assert len(read_run(tmp_path / "run").verdicts) == 1  # incomplete run: tolerated
    resumed = RunDir.resume(tmp_path / "run", _manifest(), _examples())
    assert resumed.done_ids() == {"ex0"}
    resumed.append(_verdict(1))
    assert [v.example_id for v in read_run(tmp_path / "run").verdicts] == ["ex0", "ex1"]


def test_resume_terminates_an_unterminated_whole_line(tmp_path):
    run_dir = RunDir.create(tmp_path / "run", _manifest(), _examples())
    (tmp_path / "run" / "verdicts.jsonl").write_text(_line(run_dir, _verdict(0).model_dump_json()))
    run_dir.close()
    resumed = RunDir.resume(tmp_path / "run", _manifest(), _examples())
    assert resumed.done_ids() == {"ex0"}
    resumed.append(_verdict(2))
    assert len(read_run(run_dir.path).verdicts) == 2


def test_one_writer_at_a_time_until_it_closes(tmp_path):
    writer = RunDir.create(tmp_path / "run", _manifest(), _examples())
    with pytest.raises(BadInput, match=r"run: another run \(pid \d+\) is writing this run dir"):
        RunDir.resume(tmp_path / "run", _manifest(), _examples())
    writer.close()
    RunDir.resume(tmp_path / "run", _manifest(), _examples()).append(_verdict(0))
    assert len(read_run(tmp_path / "run").verdicts) == 1  # readers never need the lock


@pytest.mark.parametrize("field,value", [("judge", "openai:other"), ("protocol_hash", "changed"), ("dataset", "e"),
                                         ("params", {"temperature": 0.7})])
def test_resume_refuses_a_different_run(tmp_path, field, value):
    RunDir.create(tmp_path / "run", _manifest(), _examples())
    with pytest.raises(BadInput, match=f"manifest.json: field '{field}'"):
        RunDir.resume(tmp_path / "run", _manifest(**{field: value}), _examples())


def test_resume_refuses_different_examples(tmp_path):
    RunDir.create(tmp_path / "run", _manifest(), _examples())
    with pytest.raises(BadInput, match="examples.jsonl: the run holds 3 examples, not the 2"):
        RunDir.resume(tmp_path / "run", _manifest(), _examples(2))


def test_read_run_errors_name_file_and_line(tmp_path):
    with pytest.raises(BadInput, match="manifest.json: missing"):
        read_run(tmp_path)
    run_dir = RunDir.create(tmp_path / "run", _manifest(), _examples())
    run_dir.append(_verdict(0))
    run_dir.update(complete=True)
    verdicts = tmp_path / "run" / "verdicts.jsonl"
    verdicts.write_text(verdicts.read_text() + '{"example_id": "ex1"')
    with pytest.raises(BadInput, match=r"verdicts.jsonl:2: truncated line in a run marked complete"):
        read_run(tmp_path / "run")
    verdicts.write_text(_line(run_dir, '{"example_id": "ex1", "winner": "c"}\n'))
    with pytest.raises(BadInput, match=r"verdicts.jsonl:1: field 'winner'"):
        read_run(tmp_path / "run")
    verdicts.write_text(_line(run_dir, _verdict(7).model_dump_json()) + "\n")
    with pytest.raises(BadInput, match="'ex7' is not in examples.jsonl"):
        read_run(tmp_path / "run")
    manifest = tmp_path / "run" / "manifest.json"
    data = json.loads(manifest.read_text())
    del data["judge"]
    manifest.write_text(json.dumps(data))
    with pytest.raises(BadInput, match="manifest.json: field 'judge'"):
        read_run(tmp_path / "run")
