"""How report and compare state uncertainty: clusters, tie conventions, annotators, incomplete runs, pairing.

Recorded data (LLMBar's processed MT-Bench set, PandaLM) for the cluster
figures; small hand-made runs whose figures are worked out by hand here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import run_dirs
from conftest import run_judgekit

from judgekit.analysis.compare import compare
from judgekit.analysis.pairwise import Options, run_row
from judgekit.data import load_dataset
from judgekit.records import Usage
from judgekit.runs.importers.llmbar import import_llmbar
from judgekit.runs.importers.pandalm import import_pandalm
from judgekit.runs.run_dir import read_run

MTBENCH = "llmbar/Dataset/Processed/MT-Bench/evaluators/GPT-4/Vanilla_NoRules"


def _width(ci: list[float]) -> float:
    return ci[1] - ci[0]


def _report(monkeypatch, capsys, run_dir: Path, *flags: str) -> dict:
    code, out, err = run_judgekit(monkeypatch, capsys, "report", run_dir, "--format", "json", *flags)
    assert code == 0, err
    return json.loads(out)["runs"][0]


def test_mtbench_pairs_resample_their_75_instructions(data_dir, tmp_path, monkeypatch, capsys):
    run_dir = import_llmbar(data_dir / MTBENCH, tmp_path / "mtbench").path
    instructions = {e.instruction for e in read_run(run_dir).examples}
    clustered = _report(monkeypatch, capsys, run_dir)
    items = _report(monkeypatch, capsys, run_dir, "--item-bootstrap")
    assert clustered["n"] == 200 and clustered["n_clusters"] == len(instructions) == 75
    assert clustered["ci_method"] == "cluster bootstrap, percentile, 1000 resamples, seed 0"
    assert items["n_clusters"] is None and items["ci_method"].startswith("item bootstrap")
    assert clustered["accuracy_final"] == items["accuracy_final"]  # the estimate does not change, its interval does
    for name in ("accuracy_final_ci", "accuracy_ci"):
        assert _width(clustered[name]) > _width(items[name])


def test_pandalm_gpt35_clustered_interval_is_wider(data_dir, tmp_path, monkeypatch, capsys):
    run_dir = import_pandalm("gpt-3.5-turbo", tmp_path / "pandalm").path
    instructions = {e.instruction for e in read_run(run_dir).examples}
    clustered = _report(monkeypatch, capsys, run_dir)
    items = _report(monkeypatch, capsys, run_dir, "--item-bootstrap")
    assert clustered["n"] == 999 and clustered["n_clusters"] == len(instructions) == 170
    assert clustered["headline"] == "accuracy"  # one recorded verdict per pair
    assert _width(clustered["accuracy_ci"]) > _width(items["accuracy_ci"])
    assert _width(clustered["cohen_kappa_ci"]) > _width(items["cohen_kappa_ci"])


def _run(path: Path, gold: list[str], finals: list[str | None], *, votes=None, complete=True,
         texts: str = "text", dataset: str = "toy", headline: str | None = None) -> Path:
    """A two-order run: each order says the final winner (so the orders agree), distinct instructions."""
    examples = run_dirs.pairs(len(gold), gold=gold, prefix=f"{dataset}/", instruction=lambda i: f"{texts} {i}",
                              response_a=lambda i: f"{texts} a{i}", response_b=lambda i: f"{texts} b{i}",
                              votes=lambda i: tuple(votes[i]) if votes else ())
    return run_dirs.pairwise_run(path, [(final, final) for final in finals], examples=examples,
                                 raws=lambda i, order: str(finals[i]), verdict_usage=Usage(calls=2),
                                 judge="openai:x", dataset=dataset, headline=headline, complete=complete,
                                 usage=Usage(calls=2 * len(finals) if complete else 999))


def test_tie_conventions_on_a_hand_computed_example(tmp_path):
    gold = ["a", "b", "tie", "tie", "a", "b"]
    final = ["a", "tie", "tie", "a", None, "b"]
    row = run_row(read_run(_run(tmp_path / "ties", gold, final)), Options(n_resamples=50))
    assert row["accuracy_final"] == pytest.approx(3 / 6)  # ties kept: items 0, 2 and 5 are right
    ties = row["ties"]
    assert ties["gold_ties"] == 2 and "ties kept" in ties["figures"]
    assert ties["without_tie_items"] == pytest.approx(2 / 4) and ties["without_tie_items_n"] == 4  # items 0, 1, 4, 5
    # items 0, 4, 5 have no tie on either side; the headline (accuracy) pools both orders, so 6 verdicts count
    assert ties["s2_agreement"] == pytest.approx(2 / 3) and ties["s2_n"] == 6
    final = run_row(read_run(_run(tmp_path / "final", gold, final, headline="accuracy_final")), Options(n_resamples=50))
    assert final["headline"] == "accuracy_final" and final["ties"]["s2_n"] == 3  # one final verdict per item
    untied = run_row(read_run(_run(tmp_path / "none", ["a", "b"], ["a", "a"])), Options(n_resamples=50))
    assert untied["ties"]["gold_ties"] == 0 and untied["ties"]["s2_agreement"] is None


def test_annotator_figures_on_a_hand_computed_example(tmp_path):
    votes = [("a", "a", "b"), ("b", "b", "b"), ("a", "b", "tie"), ("tie", "tie", "a")]
    gold = ["a", "b", "tie", "tie"]  # the majority, a draw being tie
    judge = ["a", "b", "a", "tie"]
    row = run_row(read_run(_run(tmp_path / "votes", gold, judge, votes=votes)), Options(n_resamples=50))
    humans = row["annotators"]
    assert humans["n"] == 4 and humans["n_annotators"] == 3
    assert humans["vs_annotator"] == pytest.approx([1.0, 0.75, 0.25])
    assert humans["vs_majority"] == pytest.approx(0.75)
    assert humans["vs_vote_distribution"] == pytest.approx(2 / 3)
    assert humans["human_vs_vote_distribution"] == pytest.approx(5 / 12)
    assert humans["leave_one_out_human"] == pytest.approx(6 / 12)  # each human against the other two's majority
    assert humans["leave_one_out_judge"] == pytest.approx(7 / 12)  # the judge against the same majorities


def test_incomplete_run_is_flagged_unranked_with_current_counts(tmp_path, monkeypatch, capsys):
    gold = ["a", "b"] * 5
    done = _run(tmp_path / "done", gold, gold)
    partial = _run(tmp_path / "partial", gold, ["a", "b", "a"], complete=False)  # 3 of 10 judged
    row = run_row(read_run(partial), Options(n_resamples=50))
    assert row["complete"] is False and row["n"] == 3 and row["n_examples"] == 10
    assert row["calls"] == 6  # from the verdicts on disk, not the manifest's stale 999
    data = compare([read_run(done), read_run(partial)], Options(n_resamples=50))
    board = data["leaderboard"]
    assert [r["rank"] for r in board] == [1, None] and board[1]["complete"] is False
    assert data["comparisons"] == []  # an unfinished run is not tested against finished ones
    code, out, _ = run_judgekit(monkeypatch, capsys, "compare", done, partial, "--resamples", "50")
    assert code == 0 and "(incomplete)" in out
    html = tmp_path / "page.html"
    code, _, err = run_judgekit(monkeypatch, capsys, "compare", done, partial, "--format", "html", "--out", html)
    assert code == 0, err
    assert "incomplete: 3 of 10 judged" in html.read_text()


def test_runs_pair_by_content_not_by_id(tmp_path):
    gold = ["a", "b"] * 10
    one = _run(tmp_path / "v1", gold, gold, dataset="pairs")
    other_texts = _run(tmp_path / "v2", gold, ["a"] * 20, texts="other", dataset="pairs")  # same ids, other texts
    data = compare([read_run(one), read_run(other_texts)], Options(n_resamples=50))
    assert data["comparisons"] == []
    assert data["unpaired"] and "different datasets" in data["unpaired"][0]["reason"]
    renamed = _run(tmp_path / "renamed", gold, ["a"] * 20, dataset="copy")  # same texts, other ids
    data = compare([read_run(one), read_run(renamed)], Options(n_resamples=50))
    assert len(data["comparisons"]) == 1 and data["comparisons"][0]["n"] == 20


def test_a_declared_cluster_column_groups_items(tmp_path):
    rows = [{"instruction": f"q{i}", "response_a": "x", "response_b": "y", "gold": "a", "qid": f"topic{i % 3}"}
            for i in range(9)]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = load_dataset(str(data), mapping="cluster=qid")
    assert [e.cluster for e in loaded.examples] == [f"topic{i % 3}" for i in range(9)]
    assert load_dataset(str(data)).content_hash != loaded.content_hash  # the clusters are part of the data
    path = _run(tmp_path / "run", ["a"] * 9, ["a"] * 9)
    run = read_run(path)
    clustered = run.__class__(run.path, run.manifest, [e.model_copy(update={"cluster": c.cluster})
                                                        for e, c in zip(run.examples, loaded.examples)],
                              run.verdicts)
    row = run_row(clustered, Options(n_resamples=50))
    assert row["n_clusters"] == 3 and row["ci_method"].startswith("cluster bootstrap")
