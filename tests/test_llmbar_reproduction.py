"""Every recorded LLMBar run, imported and reported, gives LLMBar's own published figures.

LLMBar's ``statistics.json`` holds ``correct_False`` / ``correct_True`` /
``correct_both`` / ``equal`` as "k / N = p%" and ``correct_average`` as "p%"
(a full-precision percentage). We compare k / N and p / 100 to 1e-12. The
``kappa_*`` fields are not reproduced on purpose (docs/llmbar.md); the last
test shows what they compute instead.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score

from judgekit.analysis.compare import Options
from judgekit.analysis.pairwise import run_row
from judgekit.runs.importers.llmbar import dataset_for, import_llmbar, load_subset
from judgekit.runs.run_dir import read_run

EXPECTED_RUNS = 219
_ROOT = Path(os.environ.get("JUDGEKIT_DATA_DIR", "/nonexistent")) / "llmbar" / "Dataset"
_RUNS = sorted(p.parent for p in _ROOT.glob("**/evaluators/*/*/statistics.json"))
_IDS = ["/".join(p.parts[-5:]).replace("/evaluators/", ":") for p in _RUNS]
_FRACTION = re.compile(r"^(\d+) / (\d+) = [\d.]+%$")


@cache
def _subset(dataset_id: str, subset_dir: Path):
    """Each subset is loaded once for all its runs (``load_subset`` reads the subset folder's dataset.json)."""
    return load_subset(next(subset_dir.glob("evaluators/*/*")), dataset_id)


def _fraction(text: str) -> tuple[int, int]:
    match = _FRACTION.match(text)
    assert match, text
    return int(match[1]), int(match[2])


def test_all_recorded_runs_are_found(data_dir):
    assert len(_RUNS) == EXPECTED_RUNS


@pytest.mark.parametrize("evaluator_dir", _RUNS or [None], ids=_IDS or ["no-data"])
def test_import_and_report_reproduce_statistics(evaluator_dir, data_dir, tmp_path):
    if evaluator_dir is None:
        pytest.fail(f"no LLMBar evaluator runs under {_ROOT}")
    published = json.loads((evaluator_dir / "statistics.json").read_text())
    dataset = _subset(dataset_for(evaluator_dir), evaluator_dir.resolve().parents[2])
    import_llmbar(evaluator_dir, tmp_path / "run", dataset=dataset)
    row = run_row(read_run(tmp_path / "run"), Options(n_resamples=50))

    for field, ours in (("correct_False", "accuracy_first_order"), ("correct_True", "accuracy_second_order"),
                        ("correct_both", "accuracy_both_orders"), ("equal", "positional_agreement")):
        k, n = _fraction(published[field])
        assert row["n"] == n
        assert abs(row[ours] - k / n) <= 1e-12, (field, row[ours], published[field])
    first, n = _fraction(published["correct_False"])
    second, _ = _fraction(published["correct_True"])
    assert abs(row["accuracy"] - (first / n + second / n) / 2) <= 1e-12
    assert abs(row["accuracy"] - float(published["correct_average"].removesuffix("%")) / 100) <= 1e-12


def test_llmbar_kappa_fields_are_not_cohens_kappa_against_gold(data_dir, tmp_path):
    """Our kappa is sklearn's on the same labels; LLMBar's field is sklearn's on {0,1} vs {1,2}."""
    evaluator_dir = data_dir / "llmbar/Dataset/LLMBar/Natural/evaluators/GPT-4/Vanilla"
    published = json.loads((evaluator_dir / "statistics.json").read_text())
    import_llmbar(evaluator_dir, tmp_path / "run")
    run = read_run(tmp_path / "run")
    row = run_row(run, Options(n_resamples=50))

    gold = [e.gold for e in run.examples]
    per_order = [[next(o.winner for o in v.orders if o.swapped == s) or "invalid" for v in run.verdicts]
                 for s in (False, True)]
    sklearn_kappas = [cohen_kappa_score(gold, order) for order in per_order]
    assert abs(row["cohen_kappa"] - sum(sklearn_kappas) / 2) <= 1e-12
    assert row["cohen_kappa"] > 0.8  # a 95%-accurate judge on balanced labels

    # LLMBar's kappa_False: predictions coded 1 for "1" and 0 otherwise, gold left as 1/2.
    items = json.loads((evaluator_dir / "result.json").read_text())
    coded = [1 if item["results"][-1]["swap = False"]["winner"] == "1" else 0 for item in items]
    labels = [item["label"] for item in items]
    assert abs(cohen_kappa_score(coded, labels) - published["kappa_False"]) <= 1e-12
    assert abs(published["kappa_False"] - sklearn_kappas[0]) > 0.5
