"""`judgekit compare`: leaderboard order, paired tests on shared items only, formats, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from statsmodels.stats.contingency_tables import mcnemar

from judgekit.importers.llmbar import import_llmbar
from judgekit.rundir import RunDir, read_run
from conftest import run_judgekit as judgekit

NATURAL = "llmbar/Dataset/LLMBar/Natural/evaluators"
MTBENCH = "llmbar/Dataset/Processed/MT-Bench/evaluators"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three judges on LLMBar Natural, one on MT-Bench, and one on the first 40 Natural items."""
    root = Path(os.environ.get("JUDGEKIT_DATA_DIR", "/nonexistent"))
    if not (root / NATURAL).is_dir():
        return None
    out = tmp_path_factory.mktemp("compare")
    made = {name: import_llmbar(root / NATURAL / name / "Vanilla", out / name).path
            for name in ("GPT-4", "ChatGPT", "LLaMA2")}
    made["MT-Bench"] = import_llmbar(root / MTBENCH / "GPT-4" / "Vanilla_NoRules", out / "mtbench").path
    falcon = read_run(import_llmbar(root / NATURAL / "Falcon" / "Vanilla", out / "falcon-all").path)
    part = RunDir.create(out / "falcon-40", falcon.manifest.model_copy(update={"n_examples": 40}), falcon.examples[:40])
    for verdict in falcon.verdicts[:40]:
        part.append(verdict)
    made["Falcon-40"] = part.path
    return made


def _correct(run_path: Path, ids: list[str]) -> list[bool]:
    """Right/wrong per (item, order), orders stacked, for the given items."""
    run = read_run(run_path)
    gold = {e.id: e.gold for e in run.examples}
    verdicts = {v.example_id: v for v in run.verdicts}
    return [verdicts[i].orders[k].winner == gold[i] for k in (0, 1) for i in ids]


def test_leaderboard_and_paired_tests(data_dir, runs, monkeypatch, capsys):
    assert runs is not None
    code, out, err = judgekit(monkeypatch, capsys, "compare", *runs.values(), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    board = data["leaderboard"]
    assert [row["rank"] for row in board] == [1, 2, 3, 4, 5]
    accuracies = [row["accuracy"] for row in board]
    assert accuracies == sorted(accuracies, reverse=True)
    by_run = {row["run"]: row for row in board}
    for row in board:
        low, high = row["accuracy_ci"]
        assert low <= row["accuracy"] <= high

    natural = [str(runs[name]) for name in ("GPT-4", "ChatGPT", "LLaMA2")]
    pairs = {frozenset((p["run_1"], p["run_2"])): p for p in data["comparisons"]}
    mtbench = str(runs["MT-Bench"])
    assert not any(mtbench in key for key in pairs), "no items shared with the MT-Bench run"
    assert len(pairs) == 6  # 3 full Natural runs pairwise, plus each with the 40-item run

    for pair in pairs.values():
        ids = [e.id for e in read_run(pair["run_1"]).examples if e.id in
               {e.id for e in read_run(pair["run_2"]).examples}]
        assert pair["n"] == len(ids) and pair["orders"] == 2
        right_1, right_2 = _correct(Path(pair["run_1"]), ids), _correct(Path(pair["run_2"]), ids)
        b = sum(x and not y for x, y in zip(right_1, right_2))
        c = sum(y and not x for x, y in zip(right_1, right_2))
        assert (pair["only_1_right"], pair["only_2_right"]) == (b, c)
        both = sum(x and y for x, y in zip(right_1, right_2))
        neither = len(right_1) - b - c - both
        expected_p = mcnemar([[both, b], [c, neither]], exact=True).pvalue if b + c else 1.0
        assert pair["mcnemar_p"] == pytest.approx(expected_p, abs=1e-12)
        expected_diff = (sum(right_1) - sum(right_2)) / len(right_1)
        assert pair["accuracy_difference"] == pytest.approx(expected_diff, abs=1e-12)
        low, high = pair["accuracy_difference_ci"]
        assert low <= expected_diff <= high
        if pair["n"] == 100:  # full runs: the difference is that of their leaderboard accuracies
            assert expected_diff == pytest.approx(by_run[pair["run_1"]]["accuracy"] - by_run[pair["run_2"]]["accuracy"])
        # the better-ranked run comes first in a pair
        assert by_run[pair["run_1"]]["rank"] < by_run[pair["run_2"]]["rank"]

    gpt4_vs_llama = pairs[frozenset((natural[0], natural[2]))]
    assert gpt4_vs_llama["accuracy_difference"] > 0.1 and gpt4_vs_llama["mcnemar_p"] < 0.001


def test_table_and_markdown_show_leaderboard_and_matrix(data_dir, runs, monkeypatch, capsys):
    assert runs is not None
    paths = [runs["GPT-4"], runs["ChatGPT"], runs["LLaMA2"]]
    code, out, _ = judgekit(monkeypatch, capsys, "compare", *paths, "--resamples", "200")
    assert code == 0
    assert "Leaderboard" in out and "McNemar" in out and "llmbar:ChatGPT" in out
    code, out, _ = judgekit(monkeypatch, capsys, "compare", *paths, "--format", "markdown", "--resamples", "200")
    assert code == 0
    tables = [block for block in out.split("### ") if block.strip()]
    assert len(tables) == 2
    matrix_rows = [line for line in tables[1].splitlines() if line.startswith("| #")]
    assert len(matrix_rows) == 3
    # the diagonal is empty, off-diagonal cells hold a signed difference, its CI and p
    assert matrix_rows[0].split(" | ")[1] == ""
    assert "[" in matrix_rows[0].split(" | ")[2] and "p=" in matrix_rows[0].split(" | ")[2]


def test_compare_bad_input(data_dir, runs, tmp_path, monkeypatch, capsys):
    assert runs is not None
    code, _, err = judgekit(monkeypatch, capsys, "compare", runs["GPT-4"], runs["GPT-4"])
    assert code == 2 and "given twice" in err
    code, _, err = judgekit(monkeypatch, capsys, "compare", runs["GPT-4"], "--format", "pdf")
    assert code == 2 and "'pdf' is not one of" in err
    code, _, err = judgekit(monkeypatch, capsys, "compare", runs["GPT-4"], tmp_path / "missing")
    assert code == 2 and "missing" in err


def test_policies_that_score_accuracy_differently_are_not_mixed(data_dir, runs, tmp_path, monkeypatch, capsys):
    assert runs is not None
    excluding = tmp_path / "excluding"
    source = read_run(runs["ChatGPT"])
    made = RunDir.create(excluding, source.manifest.model_copy(update={"invalid_policy": "exclude"}), source.examples)
    for verdict in source.verdicts:
        made.append(verdict)
    code, _, err = judgekit(monkeypatch, capsys, "compare", runs["GPT-4"], excluding, "--format", "json")
    assert code == 2 and "exclude" in err and "--invalid-policy" in err
    code, out, _ = judgekit(monkeypatch, capsys, "compare", runs["GPT-4"], excluding, "--format", "json",
                            "--invalid-policy", "wrong")
    assert code == 0 and len(json.loads(out)["comparisons"]) == 1


def test_terminal_matrix_shows_top_columns_and_markdown_all(data_dir, tmp_path, monkeypatch, capsys):
    strategies = ["Vanilla", "Vanilla_NoRules", "CoT", "Metrics", "Reference", "Metrics_Reference", "Swap",
                  "Swap_CoT", "Rating"]
    paths = [import_llmbar(data_dir / NATURAL / "GPT-4" / s, tmp_path / s).path for s in strategies]
    code, out, _ = judgekit(monkeypatch, capsys, "compare", *paths, "--resamples", "50")
    assert code == 0
    matrix = out[out.index("Paired differences"):]
    header = next(line for line in matrix.splitlines() if "row - col" in line)
    assert "#8" in header and "#9" not in header and "every pair in --format markdown" in matrix
    assert sum(line.lstrip("│ ").startswith("#") for line in matrix.splitlines()) == 9
    code, out, _ = judgekit(monkeypatch, capsys, "compare", *paths, "--format", "markdown", "--resamples", "50")
    header = next(line for line in out.splitlines() if line.startswith("| row - col"))
    assert header.endswith("| #9 |")
