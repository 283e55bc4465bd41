"""report --by FIELD: every figure per group of items, for each run kind and in every format.

A group's row is the run's row on that group's items alone, so what adds up
must add up: the groups' counts sum to the run's, and their invalid rates
and accuracies, weighted by the groups' sizes, give the run's.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pytest

from judgekit.analysis.compare import Options, report
from judgekit.runs.importers.hanna import import_hanna
from judgekit.runs.importers.pandalm import import_pandalm
from judgekit.runs.run_dir import read_run

FAST = Options(n_resamples=50)


@pytest.fixture(scope="module")
def imported_pandalm(tmp_path_factory):
    """gpt-3.5-turbo on PandaLM, imported once: the tests only read it (None without the staged data)."""
    if not (Path(os.environ.get("JUDGEKIT_DATA_DIR", "/nonexistent")) / "pandalm").is_dir():
        return None
    return import_pandalm("gpt-3.5-turbo", tmp_path_factory.mktemp("by") / "pandalm").path


@pytest.fixture
def pandalm(data_dir, imported_pandalm):
    """gpt-3.5-turbo on PandaLM, its 25 unparseable verdicts invalid (``data_dir`` skips without the data)."""
    return imported_pandalm


def _weighted(groups, figure):
    return sum(g["n"] * g[figure] for g in groups.values()) / sum(g["n"] for g in groups.values())


def test_pairwise_groups_add_up_to_the_run(pandalm, cli):
    code, out, err = cli("report", pandalm, "--by", "cmp_key", "--format", "json", "--resamples", "50")
    assert code == 0, err
    data = json.loads(out)
    row = data["runs"][0]
    groups = row["groups"]
    assert data["by"] == "cmp_key" and len(groups) == 10 and list(groups) == sorted(groups)
    assert sum(g["n"] for g in groups.values()) == row["n"] == 999
    assert sum(g["n_examples"] for g in groups.values()) == row["n_examples"]
    assert row["invalid_rate"] == pytest.approx(25 / 999)
    for figure in ("invalid_rate", "accuracy", "tie_rate"):
        assert _weighted(groups, figure) == pytest.approx(row[figure])
    one = groups["bloom-7b_llama-7b"]
    assert one["accuracy_ci"][0] < one["accuracy"] < one["accuracy_ci"][1]
    assert one["headline"] == row["headline"] == "accuracy" and one["annotators"]["n"] == one["n"]


def test_subset_groups_of_an_import_with_a_subset_column(tmp_path, cli):
    rows = [(f"Q{i}", f"a{i}", f"b{i}", "A" if i % 3 else "B", "A" if i % 2 else "", "writing" if i < 6 else "code")
            for i in range(10)]
    file = tmp_path / "pairs.csv"
    with file.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("q", "x", "y", "gold", "judge", "cat"), *rows])
    code, _, err = cli("import", "verdicts", file, "--mapping",
                       "instruction=q,response_a=x,response_b=y,gold=gold,order1=judge,subset=cat",
                       "--labels", "A=a,B=b", "--out", tmp_path / "run")
    assert code == 0, err
    data = report([read_run(tmp_path / "run")], FAST, by="subset")
    row, groups = data["runs"][0], data["runs"][0]["groups"]
    assert list(groups) == ["code", "writing"] and [groups[g]["n"] for g in groups] == [4, 6]
    assert row["invalid_rate"] == pytest.approx(5 / 10)
    assert groups["code"]["invalid_rate"] == pytest.approx(2 / 4)   # i = 6, 8 have no verdict
    assert groups["writing"]["invalid_rate"] == pytest.approx(3 / 6)  # i = 0, 2, 4
    assert _weighted(groups, "accuracy") == pytest.approx(row["accuracy"])


def test_pointwise_groups_by_system_add_up(data_dir, tmp_path):
    (path,) = import_hanna(tmp_path / "hanna", llms=("ChatGPT",), prompts=(1,))
    data = report([read_run(path)], FAST, by="system")
    row, groups = data["runs"][0], data["runs"][0]["groups"]
    assert len(groups) == 11 and all(g["n"] == 96 for g in groups.values())
    for criterion, figures in row["criteria"].items():
        parts = [g["criteria"][criterion] for g in groups.values()]
        assert sum(p["n"] for p in parts) == figures["n"]
        assert sum(p["n_invalid"] for p in parts) == figures["n_invalid"]
    assert _weighted(groups, "invalid_rate") == pytest.approx(row["invalid_rate"])  # six criteria rated in each
    assert all(g["criteria"]["coherence"]["n_systems"] == 1 for g in groups.values())


def test_classify_groups_by_system(tmp_path, cli):
    rows = [(f"q{i}", f"answer {i}", "pass" if i % 3 else "fail", "pass" if i % 2 else "fail", f"m{i % 2}")
            for i in range(12)]
    file = tmp_path / "labels.csv"
    with file.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("q", "a", "human", "judge", "model"), *rows])
    code, _, err = cli("import", "verdicts", file, "--kind", "classify", "--mapping",
                       "input=q,response=a,label=human,judge=judge,system=model", "--labels", "pass,fail",
                       "--out", tmp_path / "run")
    assert code == 0, err
    data = report([read_run(tmp_path / "run")], FAST, by="system")
    row, groups = data["runs"][0], data["runs"][0]["groups"]
    assert list(groups) == ["m0", "m1"] and sum(g["n"] for g in groups.values()) == row["n"] == 12
    assert _weighted(groups, "accuracy") == pytest.approx(row["accuracy"])
    assert groups["m0"]["accuracy"] == pytest.approx(sum((i % 3 == 0) for i in range(0, 12, 2)) / 6)


def test_every_format_shows_the_groups_and_the_page_holds_the_json_figures(pandalm, cli, tmp_path):
    args = ("report", pandalm, "--by", "cmp_key", "--resamples", "50")
    data = json.loads(cli(*args, "--format", "json")[1])
    groups = data["runs"][0]["groups"]
    code, markdown, _ = cli(*args, "--format", "markdown")
    assert code == 0 and "### By cmp_key" in markdown and "| bloom-7b_llama-7b | 111 |" in markdown
    code, table, _ = cli(*args, "--format", "table")
    assert code == 0 and "By cmp_key" in table and "opt-7b_pythia-6.9b" in table
    code, _, err = cli(*args, "--format", "html", "--out", tmp_path / "page.html")
    assert code == 0, err
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    cells = re.findall(r'<tr data-group="([^"]+)">.*?data-figure="accuracy" data-value="([^"]+)"', page, re.DOTALL)
    assert {group: float(value) for group, value in cells} == {g: row["accuracy"] for g, row in groups.items()}


def test_an_unknown_field_names_the_fields_there_are(pandalm, cli):
    code, _, err = cli("report", pandalm, "--by", "model_family")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "'model_family'" in err and "subset" in err and "cmp_key" in err
