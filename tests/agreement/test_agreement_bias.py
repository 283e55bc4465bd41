"""Bias figures worked by hand, and the self-preference excess on recorded LLMBar runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from judgekit.agreement import (
    bias_summary,
    length_bias,
    model_family,
    position_bias,
    self_preference,
    self_preference_excess,
)


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("gpt-3.5-turbo-0301", "gpt-3.5-turbo"),
        ("GPT-3.5-Turbo", "gpt-3.5-turbo"),
        ("ChatGPT-0301", "gpt-3.5-turbo"),
        ("gpt-4-0613", "gpt-4"),
        ("openai:gpt-4-1106-preview", "gpt-4"),
        ("claude-3-opus-20240229", "claude-3-opus"),
        ("gpt-4o-2024-05-13", "gpt-4o"),
        ("vicuna-13b-v1.2", "vicuna-13b-v1.2"),
        (None, None),
        ("  ", None),
    ],
)
def test_model_family(name, family):
    assert model_family(name) == family


def test_position_bias_by_hand():
    # Order 1 (a shown first): decisive a, a, b -> 2 first-slot wins of 3.
    # Order 2 (b shown first): decisive b, b, a -> 2 first-slot wins of 3; tie and None skipped.
    first = ["a", "a", "b", None]
    second = ["b", "b", "a", "tie"]
    assert position_bias(first, second) == pytest.approx(4 / 6)
    assert position_bias(["a", "b", "tie"]) == pytest.approx(1 / 2)


def test_length_bias_by_hand():
    gold = ["a", "a", "b", "b", "a"]
    len_a = [10, 50, 10, 30, 20]
    len_b = [40, 20, 90, 30, 60]
    # Humans preferred the shorter on items 0 (a, 10<40) and 4 (a, 20<60); item 1
    # gold a is longer, item 2 gold b is longer, item 3 equal lengths.
    first = ["b", "b", "b", "a", None]  # item 0 picks longer b; item 4 invalid
    second = ["a", "a", "a", "a", "b"]  # item 0 picks shorter; item 4 picks longer
    assert length_bias(gold, first, second, length_a=len_a, length_b=len_b) == pytest.approx(2 / 3)


def test_self_preference_by_hand():
    # Judge gpt-4. Items: 0 own=a, humans a; 1 own=b, humans b; 2 own=a, humans b;
    # 3 both gpt-4 (skipped); 4 generator unknown (skipped); 5 own=b, humans a.
    gold = ["a", "b", "b", "a", "a", "a"]
    gen_a = ["gpt-4-0314", "llama-13b", "GPT-4", "gpt-4", None, "claude-v1"]
    gen_b = ["claude-v1", "gpt-4", "vicuna-13b", "gpt-4", "gpt-4", "gpt-4"]
    first = ["a", "b", "a", "a", "a", "a"]
    second = ["a", None, "b", "a", "a", "b"]
    # Humans picked own (items 0, 1): picks own in 0:a,a 1:b,None -> 3 of 4.
    # Humans picked other (items 2, 5): picks other in 2:a(no),b(yes) 5:a(yes),b(no) -> 2 of 4.
    expected = 3 / 4 - 2 / 4
    got = self_preference(gold, first, second, generator_a=gen_a, generator_b=gen_b, judge_model="gpt-4")
    assert got == pytest.approx(expected)


def test_bias_summary_brackets_estimates():
    rng = np.random.default_rng(0)
    n = 300
    gold = rng.choice(["a", "b"], n)
    first = np.where(rng.random(n) < 0.7, "a", gold)  # a judge that leans to the first slot
    second = np.where(rng.random(n) < 0.2, "b", gold)
    summary = bias_summary(gold, first, second, length_a=rng.integers(10, 100, n), length_b=rng.integers(10, 100, n))
    assert summary.position_bias.estimate > 0.6
    assert summary.position_bias.low <= summary.position_bias.estimate <= summary.position_bias.high
    assert summary.length_bias is not None and summary.self_preference_bias is None


def _llmbar_mtbench(data_dir):
    root = data_dir / "llmbar" / "Dataset" / "Processed" / "MT-Bench"
    items = json.loads((root / "dataset.json").read_text())
    generators = {}
    for line in (data_dir / "llmbar_generators" / "mt_bench_generators.jsonl").read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            generators[record["index"]] = record
    runs = {}
    for result in sorted((root / "evaluators").glob("*/*/result.json")):
        runs[(result.parent.parent.name, result.parent.name)] = json.loads(result.read_text())
    return items, generators, runs


def test_self_preference_excess_on_llmbar_mtbench(data_dir):
    items, generators, runs = _llmbar_mtbench(data_dir)
    n = len(items)
    gold = ["a" if item["label"] == 1 else "b" for item in items]
    gen_a = [generators.get(i, {}).get("output_1_generator") for i in range(n)]
    gen_b = [generators.get(i, {}).get("output_2_generator") for i in range(n)]
    judges = {name: _orders(run) for (name, strategy), run in runs.items() if strategy == "Vanilla_NoRules"}
    assert "GPT-4" in judges and len(judges) >= 2
    result = self_preference_excess(
        gold, judges, judge="GPT-4", judge_model="gpt-4", generator_a=gen_a, generator_b=gen_b, seed=1
    )
    # Independent recomputation: recall on own answers humans preferred minus
    # recall on the other answers humans preferred, both orders pooled.
    first, second = judges["GPT-4"]
    hits = {True: [0, 0], False: [0, 0]}
    for i in range(n):
        fam = [model_family(gen_a[i]), model_family(gen_b[i])]
        if None in fam or fam.count("gpt-4") != 1:
            continue
        own = "a" if fam[0] == "gpt-4" else "b"
        humans_own = gold[i] == own
        for verdict in (first[i], second[i]):
            picked = verdict == own if humans_own else verdict == ({"a", "b"} - {own}).pop()
            hits[humans_own][0] += picked
            hits[humans_own][1] += 1
    expected = hits[True][0] / hits[True][1] - hits[False][0] / hits[False][1]
    assert result.n_items == (hits[True][1] + hits[False][1]) // 2
    assert result.self_preference.estimate == pytest.approx(expected)
    others = [v.estimate for v in result.others.values()]
    assert result.excess.estimate == pytest.approx(expected - np.mean(others))
    assert result.excess.low <= result.excess.estimate <= result.excess.high


def _orders(run):
    """LLMBar result.json: each item's last result holds both orders' winners ('1'/'2'/None)."""
    label = {"1": "a", "2": "b", None: None}
    first = [label[item["results"][-1]["swap = False"]["winner"]] for item in run]
    second = [label[item["results"][-1]["swap = True"]["winner"]] for item in run]
    return first, second
