"""The offline default: the bundled LLMBar Natural sample, LLMBar's replayed judges, the leaderboard.

The live judge here is the scripted loopback server through the real OpenAI
client (the embedded model would cost 80 forward passes); the leaderboard
path is the one ``judgekit run`` takes with no arguments, keyed on the dataset.
"""

from __future__ import annotations

import json
from collections import Counter

from conftest import run_judgekit
from servers import ScriptedServer, oracle_for

from judgekit.analysis.leaderboard import leaderboard
from judgekit.cli.run import DEFAULT_DATASET, DEFAULT_JUDGE, RECORDED_DIR
from judgekit.data import load_dataset
from judgekit.resources import meta_datasets_root
from judgekit.runs.importers.llmbar_sample import PER_LABEL, build_sample, recorded_runs, select
from judgekit.runs.run_dir import read_run

SAMPLE = load_dataset(DEFAULT_DATASET)


def test_the_default_is_the_llmbar_sample_and_the_embedded_judge_by_name():
    assert DEFAULT_DATASET == "llmbar/natural-40"
    assert DEFAULT_JUDGE == "local:qwen2.5-coder-1.5b-instruct-q4_k_m"
    assert len(SAMPLE.examples) == 40
    assert Counter(e.gold for e in SAMPLE.examples) == {"a": PER_LABEL, "b": PER_LABEL}
    assert SAMPLE.card.license.startswith("MIT") and "2310.07641" in SAMPLE.card.citation
    assert "Princeton" in meta_datasets_root().joinpath("llmbar_natural_40", "LICENSE").read_text()


def test_selection_takes_the_smallest_digests_per_label():
    labels = [1, 2] * 30 + [1] * 5
    kept = select(labels)
    assert kept == sorted(kept) and len(kept) == 2 * PER_LABEL
    assert Counter(labels[i] for i in kept) == {1: PER_LABEL, 2: PER_LABEL}
    assert select(labels) == kept  # no hidden state


def test_the_bundle_regenerates_byte_for_byte_from_upstream(data_dir):
    shipped = meta_datasets_root().joinpath("llmbar_natural_40")
    for name, text in build_sample(data_dir / "llmbar").items():
        assert shipped.joinpath(name).read_text(encoding="utf-8") == text, name


def test_replayed_winners_are_the_upstream_result_files(data_dir):
    natural = data_dir / "llmbar" / "Dataset" / "LLMBar" / "Natural"
    runs = {r.manifest.params["llmbar_evaluator"]: r for r in recorded_runs(SAMPLE)}
    assert set(runs) == {"GPT-4", "ChatGPT", "ChatGPT-0301", "LLaMA2", "PaLM2", "Falcon"}
    for evaluator, run in runs.items():
        upstream = json.loads((natural / "evaluators" / evaluator / "Vanilla" / "result.json").read_text())
        for verdict in run.verdicts:
            last = upstream[int(verdict.example_id.rsplit("/", 1)[1])]["results"][-1]
            expected = [{"1": "a", "2": "b", None: None}[last[k]["winner"]] for k in ("swap = False", "swap = True")]
            assert [o.winner for o in verdict.orders] == expected, (evaluator, verdict.example_id)


def test_recorded_gpt4_on_the_sample():
    gpt4 = next(r for r in recorded_runs(SAMPLE) if r.manifest.judge == "llmbar:GPT-4")
    gold = {e.id: e.gold for e in SAMPLE.examples}
    right = sum(o.winner == gold[v.example_id] for v in gpt4.verdicts for o in v.orders)
    row = next(r for r in leaderboard(gpt4, [])["rows"])
    assert row["figure"] == "accuracy" and row["accuracy"] == right / 80


def test_default_dataset_run_prints_the_leaderboard(tmp_path, monkeypatch, capsys):
    examples = SAMPLE.examples[:4]
    out = tmp_path / "runs" / "oracle"
    with ScriptedServer(answer=oracle_for(examples)) as server:
        code, stdout, stderr = run_judgekit(
            monkeypatch, capsys, "run", "--judge", "openai:oracle", "--base-url", server.openai_url,
            "--protocol", "llmbar/vanilla", "--limit", "4", "--out", out, "--quiet")
        assert server.requests == 8
    assert code == 0, stderr
    for name in ("openai:oracle", "llmbar:GPT-4", "llmbar:Falcon", "agree", "Next:",
                 "judgekit compare", "--format html"):
        assert name in stdout, name
    assert "agrees with LLMBar's expert labels on 100.0% of these 4 pairs" in stdout
    # the recorded judges come first, on the same 4 pairs, before the judge is called
    preview = stdout.index("Recorded judges on 4 pairs of llmbar/natural-40 (no calls)")
    assert preview < stdout.index("Agreement with LLMBar's expert labels on 4 pairs")
    preview_text = " ".join(stdout[preview:stdout.index("Agreement with LLMBar")].split())
    assert "openai:oracle now judges the same pairs;" in preview_text
    recorded = sorted((tmp_path / "runs" / RECORDED_DIR).iterdir())
    assert len(recorded) == 6 and all(len(read_run(p).verdicts) == 40 for p in recorded)
    code, stdout, stderr = run_judgekit(monkeypatch, capsys, "compare", out, *recorded, "--format", "json")
    assert code == 0, stderr
    board = json.loads(stdout)["leaderboard"]
    assert len(board) == 7 and board[0]["judge"] == "openai:oracle" and board[0]["accuracy"] == 1.0


def test_leaderboard_pairs_headline_against_headline():
    runs = recorded_runs(SAMPLE)
    gpt4, falcon = (next(r for r in runs if r.manifest.judge == f"llmbar:{n}") for n in ("GPT-4", "Falcon"))
    data = leaderboard(falcon, [gpt4])
    rows = {r["judge"]: r for r in data["rows"]}
    assert [r["judge"] for r in data["rows"]] == ["llmbar:GPT-4", "llmbar:Falcon"]
    gap = rows["llmbar:GPT-4"]["accuracy"] - rows["llmbar:Falcon"]["accuracy"]
    assert abs(rows["llmbar:GPT-4"]["difference"] - gap) < 1e-12
    low, high = rows["llmbar:GPT-4"]["difference_ci"]
    assert low <= gap <= high and 0 < rows["llmbar:GPT-4"]["p_value"] <= 1


def test_the_confident_half_is_scored_when_verdicts_carry_margins():
    from judgekit.analysis.leaderboard import confident_half
    from judgekit.records import Manifest, OrderResult, Verdict
    from judgekit.runs.run_dir import Run

    examples = list(SAMPLE.examples)
    verdicts = []
    for i, e in enumerate(examples):  # the 20 surest verdicts are right, 10 of the other 20 wrong
        winner = e.gold if i < 30 else ("b" if e.gold == "a" else "a")
        margin = (10 - 0.2 * i) * (1 if winner == "a" else -1)
        orders = tuple(OrderResult(swapped=s, raw="", winner=winner, margin=margin) for s in (False, True))
        verdicts.append(Verdict(example_id=e.id, winner=winner, orders=orders))
    manifest = Manifest(judge="local:x", protocol="logprob/pairwise", dataset=SAMPLE.id, package_version="0",
                        started_at="now", n_examples=40)
    half = confident_half(Run(SAMPLE.id, manifest, examples, verdicts))
    assert half["kept"] == 20 and half["n"] == 40 and half["accuracy"] == 1.0
    assert half["accuracy_ci"][0] > 0.8 and half["source"] == "logprob margin"


def test_the_paired_tests_are_one_family_adjusted_by_holm():
    from statsmodels.stats.multitest import multipletests

    from judgekit.report.leaderboard import summary_sentence

    runs = recorded_runs(SAMPLE)
    falcon = next(r for r in runs if r.manifest.judge == "llmbar:Falcon")
    data = leaderboard(falcon, [r for r in runs if r is not falcon])
    others = [r for r in data["rows"] if not r["new"]]
    assert [r["p_holm"] for r in others] == list(multipletests([r["p_value"] for r in others], method="holm")[1])
    assert [r["judge"] for r in others if r["p_holm"] < 0.05] == ["llmbar:GPT-4"]
    sentence = summary_sentence(data)
    assert "1 of 5 recorded judges is significantly more accurate (GPT-4)" in sentence
    assert "Holm-adjusted p < 0.05 over the 5 comparisons" in sentence and "after the correction" not in sentence


def test_a_difference_significant_only_before_the_correction_is_called_too_few_pairs():
    from judgekit.report.leaderboard import summary_sentence

    def row(judge, accuracy, p, holm):
        return {"judge": judge, "run": f"runs/{judge}", "new": p is None, "accuracy": accuracy,
                "difference": None if p is None else accuracy - 0.7, "p_value": p, "p_holm": holm}

    data = {"n": 40, "rows": [row("llmbar:GPT-4", 0.95, 0.009, 0.054), row("llmbar:PaLM2", 0.8, 0.3, 1.0),
                              row("local:x", 0.7, None, None)]}
    sentence = summary_sentence(data)
    assert "None of the 2 recorded judges is significantly more accurate" in sentence
    assert "GPT-4's +0.250 has p = 0.009 alone, 0.054 after the correction" in sentence
    assert "judgekit plan paired --pilot runs/local:x --pilot runs/llmbar:GPT-4 --alpha 0.025`" in sentence
