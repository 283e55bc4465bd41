"""Pointwise report and compare: HANNA's recorded judges through the CLI, every figure equal to scipy's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_judgekit
from scipy import stats

from judgekit.analysis.compare import Options, compare
from judgekit.analysis.page import page_data
from judgekit.report.html import render_html
from judgekit.runs.importers.hanna import CODES, LLMS, PROMPTS, import_hanna
from judgekit.runs.run_dir import read_run

SCIPY = {"pearson": stats.pearsonr, "spearman": stats.spearmanr, "kendall": stats.kendalltau}


ORACLE_LLMS, ORACLE_PROMPTS = LLMS[::4], PROMPTS[1::2]
"""The judges and prompts compared and recomputed with scipy, every criterion of each: 4 of the 20 runs, 24 table rows
(about 300 scipy calls a row). Importing all 20 is test_scored_datasets' job."""


@pytest.fixture(scope="module")
def hanna_runs(tmp_path_factory):
    """The oracle's recorded judges imported once for the module (skipped without the staged data)."""
    data = os.environ.get("JUDGEKIT_DATA_DIR")
    if not (data and Path(data).is_dir()):
        pytest.skip("staged datasets not found: set JUDGEKIT_DATA_DIR")
    return import_hanna(tmp_path_factory.mktemp("hanna") / "runs", llms=ORACLE_LLMS, prompts=ORACLE_PROMPTS)


@pytest.fixture(scope="module")
def hanna_read(hanna_runs):
    """The runs read once for the tests that only analyse them (analysis never changes a run in memory)."""
    return [read_run(p) for p in hanna_runs]


def _scipy_table(data_dir) -> dict[tuple[str, int, str], dict[str, float]]:
    """Item- and system-level correlations straight from the CSV, with scipy."""
    frame = pd.read_csv(data_dir / "hanna" / "hanna_metric_scores_llm.csv")
    cells = lambda column: np.array([json.loads(v) for v in frame[column]])  # noqa: E731  (systems x prompts)
    expected = {}
    for criterion, code in CODES.items():
        human = np.mean([cells(f"Human {k} {code}") for k in (1, 2, 3)], axis=0)
        for llm in ORACLE_LLMS:
            for prompt in ORACLE_PROMPTS:
                judge = cells(f"{llm} {code} {prompt}")
                ok = (judge >= 1) & (judge <= 5)  # out-of-scale recordings import as invalid
                figures = {}
                # system means summed in another order differ in the last bits; judgekit ties
                # values equal to 9 decimals, so scipy gets the means rounded the same way
                sx = np.round([judge[s][ok[s]].mean() for s in range(len(frame))], 9)
                sy = np.round([human[s][ok[s]].mean() for s in range(len(frame))], 9)
                for method, f in SCIPY.items():
                    per_prompt = [f(judge[ok[:, i], i], human[ok[:, i], i])[0] for i in range(judge.shape[1])]
                    figures[f"item_{method}"] = np.nanmean(per_prompt)
                    figures[f"system_{method}"] = f(sx, sy)[0]
                expected[llm, prompt, criterion] = figures
    return expected


@pytest.mark.needs_data
@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
def test_compare_gives_the_hanna_correlation_table_equal_to_scipy(hanna_runs, data_dir, monkeypatch, capsys):
    code, out, err = run_judgekit(monkeypatch, capsys, "compare", *hanna_runs, "--format", "json", "--resamples", "20")
    assert code == 0, err
    data = json.loads(out)
    n_runs = len(ORACLE_LLMS) * len(ORACLE_PROMPTS)
    assert data["kind"] == "pointwise" and len(data["leaderboard"]) == n_runs
    table = data["table"]
    assert len(table) == n_runs * 6
    expected = _scipy_table(data_dir)
    assert len(expected) == len(ORACLE_LLMS) * len(ORACLE_PROMPTS) * 6
    checked = 0
    for row in table:
        llm, prompt = row["judge"].removeprefix("hanna:"), int(row["protocol"].removeprefix("hanna/prompt-"))
        checked += (llm, prompt, row["criterion"]) in expected
        for name, value in expected.get((llm, prompt, row["criterion"]), {}).items():
            assert row[name] == pytest.approx(value, abs=1e-9), (llm, prompt, row["criterion"], name)
            low, high = row[f"{name}_ci"]
            assert low <= high
    assert checked == len(expected)
    scores = [row["item_kendall"] for row in data["leaderboard"]]
    assert all(row["ranked_by"] == "item_kendall" for row in data["leaderboard"])
    assert scores == sorted(scores, reverse=True)  # ranked by the mean item-level Kendall over criteria
    pairs = data["comparisons"]
    assert len(pairs) == n_runs * (n_runs - 1) // 2
    assert all(0 < pair["p_value"] <= 1 and pair["p_holm"] >= pair["p_value"] for pair in pairs)
    assert all(pair["q_bh"] <= pair["p_holm"] + 1e-12 for pair in pairs)


@pytest.mark.needs_data
def test_compare_ranks_by_a_chosen_figure_and_criterion(hanna_read):
    data = compare(hanna_read[:4], Options(n_resamples=50, criterion="coherence"), rank_by="mae")
    maes = [row["mae"] for row in data["leaderboard"]]
    assert maes == sorted(maes)  # lower error ranks first
    by_run = {row["run"]: row for row in data["table"] if row["criterion"] == "coherence"}
    assert maes == [by_run[row["run"]]["mae"] for row in data["leaderboard"]]
    pair = data["comparisons"][0]
    assert pair["difference"] == pytest.approx(by_run[pair["run_1"]]["mae"] - by_run[pair["run_2"]]["mae"])


@pytest.mark.needs_data
def test_report_table_html_and_bad_choices(hanna_runs, hanna_read, monkeypatch, capsys):
    code, out, _ = run_judgekit(monkeypatch, capsys, "report", hanna_runs[0], "--resamples", "20")
    assert code == 0 and "system τ" in out and "coherence" in out
    page = render_html(page_data(hanna_read[:2], Options(n_resamples=20)))
    assert page.count("data:image/png;base64,") == 2 and "Correlation table" in page
    code, _, err = run_judgekit(monkeypatch, capsys, "compare", hanna_runs[0], "--rank-by", "accuracy",
                                "--resamples", "20")  # refused once the row is made: 1,000 resamples bought nothing
    assert code == 2 and "--rank-by" in err
    code, _, err = run_judgekit(monkeypatch, capsys, "compare", hanna_runs[0], "--criterion", "humour")
    assert code == 2 and "--criterion" in err


@pytest.mark.needs_data
def test_compare_computes_each_runs_statistics_once(hanna_runs, monkeypatch):
    """Every pair of runs on one dataset shares all responses: the pairs reuse the rows' statistics."""
    from judgekit.analysis import pointwise

    computed = []
    real = pointwise._run_statistics
    monkeypatch.setattr(pointwise, "_run_statistics", lambda run, keep: computed.append(run.path) or real(run, keep))
    runs = [read_run(p) for p in hanna_runs]
    data = compare(runs, Options(n_resamples=20))
    assert len(data["comparisons"]) == len(runs) * (len(runs) - 1) // 2
    assert sorted(computed) == sorted(run.path for run in runs)
