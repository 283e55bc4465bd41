"""The importers' shared writing: a finished manifest, and an import that lands whole or not at all."""

from __future__ import annotations

import pytest

from judgekit.data import load_dataset
from judgekit.records import OrderResult, Verdict
from judgekit.runs.importers.recorded import recorded_manifest, staged, write_run
from judgekit.runs.run_dir import read_run


def _verdicts(examples):
    return [Verdict(example_id=e.id, winner=e.gold, orders=(OrderResult(swapped=False, raw="", winner=e.gold),))
            for e in examples]


def test_a_staged_import_lands_whole_with_a_complete_manifest(tmp_path):
    dataset = load_dataset("judgekit/bundled")
    manifest = recorded_manifest(dataset, n_verdicts=len(dataset.examples), judge="x:y", judge_model="y",
                                 protocol="llmbar/vanilla")
    out = tmp_path / "runs"
    out.mkdir()  # an empty folder made for the import is replaced
    with staged(out) as staging:
        staging.mkdir()
        write_run(staging / "one", manifest, dataset.examples, _verdicts(dataset.examples))
        assert list(out.iterdir()) == []  # nothing visible until the block ends
    run = read_run(out / "one")
    assert run.manifest.complete and run.manifest.started_at == run.manifest.finished_at
    assert run.manifest.dataset == dataset.id and run.manifest.dataset_hash == dataset.content_hash
    assert [v.winner for v in run.verdicts] == [e.gold for e in dataset.examples]
    assert [p.name for p in tmp_path.iterdir()] == ["runs"]


def test_a_failing_import_leaves_nothing(tmp_path):
    dataset = load_dataset("judgekit/bundled")
    manifest = recorded_manifest(dataset, dataset_id="mine", n_verdicts=1, judge="x:y", judge_model="y",
                                 protocol="llmbar/vanilla")
    assert manifest.dataset == "mine"
    with pytest.raises(KeyboardInterrupt), staged(tmp_path / "run") as staging:
        write_run(staging, manifest, dataset.examples, _verdicts(dataset.examples[:1]))
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
