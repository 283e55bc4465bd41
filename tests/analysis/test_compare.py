"""`judgekit compare`: leaderboard order, paired tests on shared items only, formats, bad input."""

from __future__ import annotations

import gc
import json
import os
from functools import cache
from pathlib import Path

import pytest
import run_dirs
from conftest import run_judgekit as judgekit
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from judgekit.runs.importers.llmbar import import_llmbar
from judgekit.runs.run_dir import read_run

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
    made["Falcon-40"] = run_dirs.write_run(out / "falcon-40", falcon.examples[:40], falcon.verdicts[:40],
                                           **falcon.manifest.model_dump(exclude={"n_examples", "complete"}))
    return made


@cache
def _read(path: str):
    """Each run file read once for all the pairs it is in (the files do not change under the test)."""
    return read_run(path)


def _scores(run_path: Path, ids: list[str], figure: str) -> list[float]:
    """Per-item score from the verdict file: the final verdict right (0/1), or the mean over both orders."""
    run = _read(str(run_path))
    gold = {e.id: e.gold for e in run.examples}
    verdicts = {v.example_id: v for v in run.verdicts}
    if figure == "accuracy_final":
        return [float(verdicts[i].winner == gold[i]) for i in ids]
    return [sum(o.winner == gold[i] for o in verdicts[i].orders) / 2 for i in ids]


@pytest.mark.parametrize("rank_by", ["headline", "accuracy", "accuracy_final"])
def test_leaderboard_and_paired_tests(data_dir, runs, monkeypatch, capsys, rank_by):
    assert runs is not None
    code, out, err = judgekit(monkeypatch, capsys, "compare", *runs.values(), "--format", "json",
                              "--rank-by", rank_by)
    assert code == 0, err
    data = json.loads(out)
    # LLMBar's recorded runs are headlined, as LLMBar reports them, by Acc
    figure = "accuracy_final" if rank_by == "accuracy_final" else "accuracy"
    assert data["ranked_by"] == rank_by and figure in data["ranking"]
    board = data["leaderboard"]
    assert [row["rank"] for row in board] == [1, 2, 3, 4, 5]
    assert all(row["ranked_by"] == figure for row in board)
    values = [row[figure] for row in board]
    assert values == sorted(values, reverse=True)
    by_run = {row["run"]: row for row in board}
    for row in board:
        low, high = row[f"{figure}_ci"]
        assert low <= row[figure] <= high

    natural = [str(runs[name]) for name in ("GPT-4", "ChatGPT", "LLaMA2")]
    pairs = {frozenset((p["run_1"], p["run_2"])): p for p in data["comparisons"]}
    mtbench = str(runs["MT-Bench"])
    assert not any(mtbench in key for key in pairs), "no items shared with the MT-Bench run"
    assert len(pairs) == 6  # 3 full Natural runs pairwise, plus each with the 40-item run

    for pair in pairs.values():
        ids = [e.id for e in _read(pair["run_1"]).examples if e.id in
               {e.id for e in _read(pair["run_2"]).examples}]
        assert pair["n"] == len(ids) and pair["figure"] == figure
        s1, s2 = _scores(Path(pair["run_1"]), ids, figure), _scores(Path(pair["run_2"]), ids, figure)
        assert pair["items_1_better"] == sum(x > y for x, y in zip(s1, s2))
        assert pair["items_2_better"] == sum(y > x for x, y in zip(s1, s2))
        expected_diff = (sum(s1) - sum(s2)) / len(ids)
        assert pair["accuracy_difference"] == pytest.approx(expected_diff, abs=1e-12)
        low, high = pair["accuracy_difference_ci"]
        assert low <= expected_diff <= high
        if figure == "accuracy_final":  # 0/1 scores on independent items: exact McNemar on discordant items
            b, c = pair["items_1_better"], pair["items_2_better"]
            both = sum(x == y == 1 for x, y in zip(s1, s2))
            expected_p = mcnemar([[both, b], [c, len(ids) - b - c - both]], exact=True).pvalue if b + c else 1.0
            assert pair["test"] == "McNemar exact"
            assert pair["p_value"] == pytest.approx(expected_p, abs=1e-12)
        else:
            assert pair["test"].startswith("sign-flip permutation over items")
        if pair["n"] == 100:  # full runs: the difference is that of their leaderboard figures
            assert expected_diff == pytest.approx(by_run[pair["run_1"]][figure] - by_run[pair["run_2"]][figure])
        # the better-ranked run comes first in a pair
        assert by_run[pair["run_1"]]["rank"] < by_run[pair["run_2"]]["rank"]

    raw = [pair["p_value"] for pair in data["comparisons"]]
    assert [pair["p_holm"] for pair in data["comparisons"]] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    assert [pair["q_bh"] for pair in data["comparisons"]] == pytest.approx(list(multipletests(raw, method="fdr_bh")[1]))
    top = board[0]["run"]
    for row in board[1:]:
        against = pairs.get(frozenset((top, row["run"])))
        assert row["tied_with_best"] == (None if against is None else against["p_holm"] >= 0.05)
    gpt4_vs_llama = pairs[frozenset((natural[0], natural[2]))]
    assert gpt4_vs_llama["accuracy_difference"] > 0.1 and gpt4_vs_llama["p_value"] < 0.001


def test_table_and_markdown_show_leaderboard_and_matrix(data_dir, runs, monkeypatch, capsys):
    assert runs is not None
    paths = [runs["GPT-4"], runs["ChatGPT"], runs["LLaMA2"]]
    code, out, _ = judgekit(monkeypatch, capsys, "compare", *paths, "--resamples", "200")
    assert code == 0
    assert "Leaderboard" in out and "sign-flip permutation" in out and "holm=" in out and "llmbar:ChatGPT" in out
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
    same = source.manifest.model_dump(exclude={"complete", "invalid_policy"})
    run_dirs.write_run(excluding, source.examples, source.verdicts, invalid_policy="exclude", **same)
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


def test_every_pair_of_many_natural_runs_carries_raw_holm_and_bh(data_dir, tmp_path):
    """Every third of LLMBar's 65 recorded Natural evaluators (all five LLMs): 231 pairs, each adjusted over the
    family."""
    from judgekit.analysis.compare import compare
    from judgekit.analysis.pairwise import Options

    folders = sorted(p for p in (data_dir / NATURAL).glob("*/*") if p.is_dir())
    assert len(folders) == 65
    folders = folders[::3]
    runs = [read_run(import_llmbar(p, tmp_path / f"{p.parent.name}-{p.name}").path) for p in folders]
    data = compare(runs, Options(n_resamples=10))
    pairs = data["comparisons"]
    assert len(pairs) == 22 * 21 // 2 and "231 pairs" in data["family"]
    raw = [pair["p_value"] for pair in pairs]
    assert all(pair["test"].startswith("sign-flip permutation over items, exact") for pair in pairs)
    assert [pair["p_holm"] for pair in pairs] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    assert [pair["q_bh"] for pair in pairs] == pytest.approx(list(multipletests(raw, method="fdr_bh")[1]))
    assert sum(p < 0.05 for p in raw) > sum(pair["p_holm"] < 0.05 for pair in pairs)  # the correction bites
    tied = [row for row in data["leaderboard"] if row["tied_with_best"]]
    assert tied[0]["rank"] == 1 and all(row["rank"] is not None for row in tied)


def test_what_compare_remembers_of_a_run_goes_with_the_run(data_dir, runs):
    """Each run's items and content keys are kept for every pair it is in, and let go with the run object."""
    from judgekit.analysis import kind
    from judgekit.analysis.compare import compare
    from judgekit.analysis.pairwise import Options

    read = [read_run(runs[name]) for name in ("GPT-4", "ChatGPT", "LLaMA2")]
    compare(read, Options(n_resamples=10))
    kept = [id(run) for run in read]
    assert all(kind._ANSWERS.get(i) for i in kept)
    del read
    gc.collect()
    assert not any(i in kind._ANSWERS for i in kept)
