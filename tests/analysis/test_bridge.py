"""Scored examples to pairs: gold from human means, a pointwise judge's scores as pairwise verdicts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import run_dirs
from scipy import stats

from judgekit.analysis.compare import Options, compare
from judgekit.analysis.pairwise import run_row
from judgekit.analysis.pointwise_pairs import pairs_from_scores, pointwise_as_pairwise
from judgekit.records import CriterionScores, ScoredExample
from judgekit.runs.importers.hanna import read_hanna
from judgekit.runs.run_dir import Run, read_run


def _example(i, input_id, system, scores):
    return ScoredExample(id=f"d/{i}", input_id=input_id, response=f"r{i}", system=system,
                         criteria={"q": CriterionScores(scores=scores)})


EXAMPLES = [_example(0, "x", "s1", (4.0, 5.0)), _example(1, "x", "s2", (2.0, 3.0)), _example(2, "x", "s3", (5.0, 4.0)),
            _example(3, "y", "s1", (1.0,)), _example(4, "y", "s2", (3.0,)), _example(5, "y", "s2", (2.0,))]


def test_pairs_come_from_the_same_input_and_different_systems():
    pairs = pairs_from_scores(EXAMPLES, "q")
    assert [(p.id, p.gold) for p in pairs] == [
        ("d/0|d/1", "a"), ("d/0|d/2", "tie"), ("d/1|d/2", "b"), ("d/3|d/4", "b"), ("d/3|d/5", "b")]
    assert pairs[0].generator_a == "s1" and pairs[0].metadata["human_mean_b"] == 2.5


def test_a_pointwise_judge_becomes_a_pairwise_run(tmp_path):
    judged = run_dirs.pointwise_run(tmp_path / "p", [5.0, 1.0, 3.0, None, 2.0, 2.0], examples=EXAMPLES, judge="x:y")
    bridged = pointwise_as_pairwise(read_run(judged), "q")
    assert bridged.manifest.kind == "pairwise"
    assert [v.winner for v in bridged.verdicts] == ["a", "a", "b", None, None]
    row = run_row(bridged, Options(n_resamples=50))
    assert row["n"] == 5 and row["accuracy"] == pytest.approx(2 / 5) and row["invalid_rate"] == pytest.approx(2 / 5)


@pytest.mark.needs_data
def test_hanna_judges_as_pairwise_and_compared_on_the_same_pairs():
    data = os.environ.get("JUDGEKIT_DATA_DIR")
    if not (data and Path(data).is_dir()):
        pytest.skip("staged datasets not found: set JUDGEKIT_DATA_DIR")
    runs = []
    for one in read_hanna(llms=("ChatGPT", "Llama-13B"), prompts=(1,)):
        run = Run(Path(f"runs/{one.name}"), one.manifest, list(one.examples), list(one.ratings))
        runs.append(pointwise_as_pairwise(run, "coherence"))
    assert len(runs[0].examples) == 96 * 55  # every pair of the 11 systems on each of the 96 prompts
    data = compare(runs, Options(n_resamples=50))
    # HANNA ships no texts, so compare pairs the derived pairs by id; the 96 prompts are the clusters
    [pair] = data["comparisons"]
    assert data["unpaired"] == [] and pair["n"] == 96 * 55 and pair["n_clusters"] == 96
    assert "over 96 clusters" in pair["test"] and pair["ci_method"].startswith("cluster bootstrap")
    by_path = {str(r.path): {v.example_id: v.winner for v in r.verdicts} for r in runs}
    gold_of = {e.id: e.gold for e in runs[0].examples}
    right = {path: {i: float(w == gold_of[i]) for i, w in winners.items()} for path, winners in by_path.items()}
    one, two = right[pair["run_1"]], right[pair["run_2"]]
    assert pair["items_1_better"] == sum(one[i] > two[i] for i in one)
    assert pair["accuracy_difference"] == pytest.approx(sum(one[i] - two[i] for i in one) / len(one))
    # accuracy against the human-mean winner, counted by hand for one judge
    run = runs[0]
    gold = {e.id: e.gold for e in run.examples}
    hand = sum(v.winner == gold[v.example_id] for v in run.verdicts) / len(run.verdicts)
    row = next(r for r in data["leaderboard"] if r["run"] == str(run.path))
    assert row["accuracy"] == pytest.approx(hand)
    # on the pairs where neither humans nor judge tie, the judge picks the humans' winner more often than not,
    # as its positive within-prompt Kendall says it should
    decided = [(v.winner, gold[v.example_id]) for v in run.verdicts
               if v.winner in ("a", "b") and gold[v.example_id] != "tie"]
    agree = sum(w == g for w, g in decided)
    assert agree / len(decided) > 0.5 and stats.binomtest(agree, len(decided)).pvalue < 0.05
