"""Self-preference of GPT-4 on LLMBar's MT-Bench pairs, from its imported recorded runs.

The expected figures are computed here straight from LLMBar's result.json
files and the generator file, without judgekit's loaders or agreement code:
equal-opportunity form (DESIGN, "Agreement"; Wataoka et al. 2024), items with
exactly one GPT-4 answer and both generators known, both orders pooled, an
unparseable verdict counting as not picking.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from judgekit.analysis.compare import Options, compare
from judgekit.runs.importers.llmbar import import_llmbar, load_subset
from judgekit.runs.run_dir import read_run

SUBSET = "llmbar/Dataset/Processed/MT-Bench"
JUDGES = ("GPT-4", "ChatGPT", "LLaMA2", "PaLM2")
STRATEGIES = ("Vanilla_NoRules", "Metrics_Reference")


def _equal_opportunity(items: list[dict], generators: list[dict], model: str) -> float:
    """recall(own answers humans preferred) - recall(other answers humans preferred)."""
    hits = {True: 0, False: 0}
    seen = {True: 0, False: 0}
    for item, gen in zip(items, generators, strict=True):
        g1, g2 = gen["output_1_generator"], gen["output_2_generator"]
        if g1 is None or g2 is None or (g1 == model) == (g2 == model):
            continue
        own = "1" if g1 == model else "2"
        humans_own = str(item["label"]) == own
        preferred = str(item["label"])
        for order in ("swap = False", "swap = True"):
            seen[humans_own] += 1
            hits[humans_own] += item["results"][-1][order]["winner"] == preferred
    return hits[True] / seen[True] - hits[False] / seen[False]


@pytest.fixture(scope="module")
def mtbench(tmp_path_factory):
    """All eight recorded MT-Bench runs, imported once, plus their raw result files.

    None without staged data; each test also asks for ``data_dir``, which skips
    (or fails under CI) in that case.
    """
    root = Path(os.environ.get("JUDGEKIT_DATA_DIR", "/nonexistent"))
    if not (root / SUBSET).is_dir():
        return None
    out = tmp_path_factory.mktemp("mtbench")
    dirs = {(j, s): root / SUBSET / "evaluators" / j / s for j in JUDGES for s in STRATEGIES}
    dataset = load_subset(next(iter(dirs.values())), "llmbar/mtbench")
    runs = {key: import_llmbar(d, out / f"{key[0]}-{key[1]}", dataset=dataset).path for key, d in dirs.items()}
    raw = {key: json.loads((d / "result.json").read_text()) for key, d in dirs.items()}
    generators = [json.loads(line) for line in
                  (root / "llmbar_generators/mt_bench_generators.jsonl").read_text().splitlines() if line.strip()]
    return runs, raw, generators


def test_gpt4_self_preference_and_excess_over_other_judges(mtbench, data_dir):
    assert mtbench is not None, "MT-Bench subset missing from the staged data"
    runs, raw, generators = mtbench
    result = compare([read_run(path) for path in runs.values()], Options(n_resamples=1000))
    rows = {row["run"]: row for row in result["leaderboard"]}
    peers = [key for key in runs if key[0] != "GPT-4"]
    others = sum(_equal_opportunity(raw[key], generators, "gpt-4") for key in peers) / len(peers)

    for strategy in STRATEGIES:
        row = rows[str(runs["GPT-4", strategy])]
        expected = _equal_opportunity(raw["GPT-4", strategy], generators, "gpt-4")
        assert abs(row["self_preference_bias"] - expected) <= 1e-12
        low, high = row["self_preference_bias_ci"]
        assert low < expected < high
        assert abs(row["self_preference_excess"] - (expected - others)) <= 1e-12
        low, high = row["self_preference_excess_ci"]
        assert low < expected - others < high
        assert sorted(row["self_preference_peers"]) == sorted(str(runs[key]) for key in peers)

    # On these pairs GPT-4 recalls its own preferred answers far better than others' (recorded data).
    assert rows[str(runs["GPT-4", "Vanilla_NoRules"])]["self_preference_bias"] > 0.3


def test_judges_without_own_answers_have_no_self_preference(mtbench, data_dir):
    """LLaMA-2-70B and PaLM 2 wrote none of the MT-Bench answers: undefined, not zero."""
    assert mtbench is not None
    runs, _, _ = mtbench
    result = compare([read_run(runs["LLaMA2", "Vanilla_NoRules"]), read_run(runs["GPT-4", "Vanilla_NoRules"])],
                     Options(n_resamples=100))
    llama = next(row for row in result["leaderboard"] if row["judge"] == "llmbar:LLaMA2")
    assert llama["self_preference_bias"] is None
    assert llama["self_preference_excess"] is None
