"""`judgekit report`: the DESIGN JSON, figures checked against independent counts, formats, bad input."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
import run_dirs
from conftest import run_judgekit as judgekit
from sklearn.metrics import cohen_kappa_score

from judgekit.analysis.compare import Options
from judgekit.analysis.pairwise import REPORT_EXTRAS, REPORT_FIELDS, run_row
from judgekit.records import Usage
from judgekit.runs.importers.llmbar import import_llmbar
from judgekit.runs.run_dir import read_run

PALM_MTBENCH = "llmbar/Dataset/Processed/MT-Bench/evaluators/PaLM2/Vanilla_NoRules"
DESIGN_FIELDS = ["run", "judge", "protocol", "dataset", "n", "n_clusters", "ci_method", "complete", "accuracy",
                 "accuracy_ci", "accuracy_first_order", "accuracy_second_order", "accuracy_both_orders",
                 "accuracy_final", "accuracy_final_ci", "positional_agreement", "invalid_rate", "tie_rate",
                 "final_invalid_rate", "final_tie_rate", "cohen_kappa", "position_bias", "length_bias",
                 "self_preference_bias", "calls", "cache_hits", "retries", "tokens_in", "tokens_out", "cost_usd"]
"""The report fields of DESIGN's CLI contract, in its order."""


@pytest.fixture(scope="module")
def palm_run(tmp_path_factory):
    """PaLM 2 on MT-Bench pairs: a recorded run with unparseable verdicts (None without data)."""
    source = Path(os.environ.get("JUDGEKIT_DATA_DIR", "/nonexistent")) / PALM_MTBENCH
    if not source.is_dir():
        return None
    return import_llmbar(source, tmp_path_factory.mktemp("report") / "palm").path


def _orders(run) -> tuple[list, list, list]:
    gold = [e.gold for e in run.examples]
    first = [v.orders[0].winner for v in run.verdicts]
    second = [v.orders[1].winner for v in run.verdicts]
    return gold, first, second


def test_json_has_exactly_the_design_fields(data_dir, palm_run, monkeypatch, capsys):
    code, out, err = judgekit(monkeypatch, capsys, "report", palm_run, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["kind", "runs"] and data["kind"] == "pairwise"
    fields = list(data["runs"][0])
    assert fields[:len(DESIGN_FIELDS)] == DESIGN_FIELDS == list(REPORT_FIELDS)
    extras = fields[len(DESIGN_FIELDS):]  # the run kind, then the documented extras after the contract's
    assert extras[:len(REPORT_EXTRAS) + 1] == ["kind", *REPORT_EXTRAS]
    assert extras[len(REPORT_EXTRAS) + 1:] == ["self_preference_excess", "self_preference_excess_ci",
                                               "self_preference_peers"]
    assert data["runs"][0]["invalid_policy"] == read_run(palm_run).manifest.invalid_policy  # the run's own by default


def test_figures_equal_independent_counts(data_dir, palm_run, monkeypatch, capsys):
    run = read_run(palm_run)
    row = json.loads(judgekit(monkeypatch, capsys, "report", palm_run, "--format", "json")[1])["runs"][0]
    gold, first, second = _orders(run)
    n = len(gold)
    assert None in first + second, "this run has unparseable verdicts"

    assert row["n"] == n == 200
    assert row["accuracy_first_order"] == pytest.approx(sum(p == g for p, g in zip(first, gold)) / n, abs=1e-12)
    assert row["accuracy_second_order"] == pytest.approx(sum(p == g for p, g in zip(second, gold)) / n, abs=1e-12)
    assert row["accuracy"] == pytest.approx((row["accuracy_first_order"] + row["accuracy_second_order"]) / 2)
    assert row["accuracy_both_orders"] == pytest.approx(
        sum(a == g and b == g for a, b, g in zip(first, second, gold)) / n, abs=1e-12)
    # the run's own policy is llmbar: two unparseable orders agree
    assert row["positional_agreement"] == pytest.approx(sum(a == b for a, b in zip(first, second)) / n, abs=1e-12)
    assert row["invalid_rate"] == pytest.approx((first + second).count(None) / (2 * n), abs=1e-12)
    assert row["tie_rate"] == 0.0
    kappas = [cohen_kappa_score(gold, [p or "invalid" for p in order]) for order in (first, second)]
    assert row["cohen_kappa"] == pytest.approx(sum(kappas) / 2, abs=1e-12)

    slot_wins = sum(p == "a" for p in first) + sum(p == "b" for p in second)
    decisive = sum(p in ("a", "b") for p in first + second)
    assert row["position_bias"] == pytest.approx(slot_wins / decisive, abs=1e-12)
    longer = ["a" if len(e.response_a) > len(e.response_b) else "b" if len(e.response_b) > len(e.response_a)
              else None for e in run.examples]
    shorter_won = [i for i in range(n) if longer[i] is not None and gold[i] != longer[i]]
    picks = sum((first[i] == longer[i]) + (second[i] == longer[i]) for i in shorter_won)
    valid = sum((first[i] is not None) + (second[i] is not None) for i in shorter_won)
    assert row["length_bias"] == pytest.approx(picks / valid, abs=1e-12)

    assert row["self_preference_bias"] is None  # PaLM 2 wrote none of these answers
    assert (row["calls"], row["cache_hits"], row["tokens_in"], row["tokens_out"], row["cost_usd"]) == (0, 0, 0, 0, 0.0)
    low, high = row["accuracy_ci"]
    assert 0 <= low < row["accuracy"] < high <= 1
    for field in ("accuracy", "accuracy_first_order", "accuracy_both_orders", "positional_agreement",
                  "invalid_rate", "position_bias", "length_bias"):
        assert 0 <= row[field] <= 1


def test_invalid_policy_override(data_dir, palm_run, monkeypatch, capsys):
    run = read_run(palm_run)
    gold, first, second = _orders(run)
    code, out, _ = judgekit(monkeypatch, capsys, "report", palm_run, "--format", "json", "--invalid-policy", "exclude")
    assert code == 0
    row = json.loads(out)["runs"][0]
    assert row["invalid_policy"] == "exclude" != run.manifest.invalid_policy  # the row says what was applied
    valid = [i for i, p in enumerate(first) if p is not None]
    assert row["accuracy_first_order"] == pytest.approx(sum(first[i] == gold[i] for i in valid) / len(valid))

    row = json.loads(judgekit(monkeypatch, capsys, "report", palm_run, "--format", "json",
                              "--invalid-policy", "wrong")[1])["runs"][0]
    assert row["invalid_policy"] == "wrong"
    both_valid_agree = sum(a == b and a is not None for a, b in zip(first, second))
    assert row["positional_agreement"] == pytest.approx(both_valid_agree / len(gold), abs=1e-12)

    code, _, err = judgekit(monkeypatch, capsys, "report", palm_run, "--invalid-policy", "lenient")
    assert code == 2 and "lenient" in err and "wrong, llmbar, exclude, half, coin" in err


def _handmade_run(path: Path, *, two_orders: bool, stopped_with: Usage | None = None) -> Path:
    """A small run as the runner writes it: ties, an invalid verdict, generators, usage.
    ``stopped_with``: stopped part-way, its manifest holding the totals of its last update."""
    generators = [("gpt-4o", "llama-3")] * 2 + [("llama-3", "gpt-4o")] * 2
    examples = run_dirs.pairs(4, instruction="q", response_a=lambda i: "a" * (i + 1), response_b="bb",
                              generator_a=lambda i: generators[i][0], generator_b=lambda i: generators[i][1])
    picks = [("a", "a"), ("a", "tie"), (None, "a"), ("b", "b")]
    orders = 2 if two_orders else 1
    return run_dirs.pairwise_run(
        path, [pick[:orders] for pick in picks], examples=examples, winners=[pick[0] for pick in picks],
        verdict_usage=Usage(calls=orders, tokens_in=10, tokens_out=2), judge="openai:gpt-4o", judge_model="gpt-4o",
        complete=stopped_with is None,
        usage=stopped_with or Usage(calls=8, cache_hits=3, tokens_in=40, tokens_out=8, cost_usd=0.0125))


def test_single_order_run_has_nulls_where_undefined(tmp_path):
    row = run_row(read_run(_handmade_run(tmp_path / "one", two_orders=False)), Options(n_resamples=200))
    assert row["accuracy"] == row["accuracy_first_order"] == 0.5  # a, a(wrong), None(wrong), b
    for field in ("accuracy_second_order", "accuracy_both_orders", "positional_agreement"):
        assert row[field] is None
    assert row["invalid_rate"] == 0.25 and row["tie_rate"] == 0.0
    assert (row["calls"], row["cache_hits"], row["tokens_in"], row["tokens_out"],
            row["cost_usd"]) == (8, 3, 40, 8, 0.0125)


def test_a_stopped_run_counts_its_verdicts_and_keeps_the_manifests_retries(tmp_path):
    path = _handmade_run(tmp_path / "stopped", two_orders=True,
                         stopped_with=Usage(calls=5, tokens_in=30, retries=4, timeouts=1, prefix_restarts=2))
    row = run_row(read_run(path), Options(n_resamples=200))
    assert row["complete"] is False
    assert (row["calls"], row["tokens_in"], row["tokens_out"]) == (8, 40, 8)  # the verdicts, not the manifest
    assert row["retries"] == 4  # call-path counts live only in the manifest


def test_two_order_run_with_ties_and_self_preference(tmp_path):
    row = run_row(read_run(_handmade_run(tmp_path / "two", two_orders=True)), Options(n_resamples=200))
    assert row["accuracy_second_order"] == 0.75  # a right, tie wrong, a right, b right
    assert row["tie_rate"] == 1 / 8 and row["invalid_rate"] == 1 / 8
    assert row["positional_agreement"] == 0.5
    # own = gpt-4o: items 0-1 own is a, items 2-3 own is b. Humans picked own in items 0 and 3:
    # judge picks own in 0 (a, a) and 3 (b, b) -> 4/4; humans picked other in 1 and 2:
    # item 1 picks a, tie (other is b: 0 of 2), item 2 None, a (other is a: 1 of 2) -> 1/4.
    assert row["self_preference_bias"] == pytest.approx(1 - 1 / 4)


def test_table_and_markdown(data_dir, palm_run, tmp_path, monkeypatch, capsys):
    toy = _handmade_run(tmp_path / "toy", two_orders=True)
    code, out, _ = judgekit(monkeypatch, capsys, "report", palm_run, toy)
    assert code == 0
    assert "positional agreement" in out and "llmbar:PaLM2" in out and "openai:gpt-4o" in out
    row = run_row(read_run(palm_run), Options())
    assert f"{row['accuracy']:.3f}" in out
    code, out, _ = judgekit(monkeypatch, capsys, "report", palm_run, toy, "--format", "markdown")
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("|")]
    assert len(lines) == 4 and lines[1].startswith("| ---")
    assert f"| {row['accuracy']:.3f} |" in lines[2]


def test_html_format_is_offered_or_refused_clearly(tmp_path, monkeypatch, capsys):
    toy = _handmade_run(tmp_path / "toy", two_orders=True)
    code, out, err = judgekit(monkeypatch, capsys, "report", toy, "--format", "html")
    if importlib.util.find_spec("judgekit.report.html") is None:
        assert code == 2 and "html" in err and "not available yet" in err
    else:
        assert code == 0 and "<" in out and "openai:gpt-4o" in out


# ---------------------------------------------------------------- bad input


def _one_error_line(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_truncated_verdict_line_exits_2(tmp_path, monkeypatch, capsys):
    run = _handmade_run(tmp_path / "toy", two_orders=True)
    lines = (run / "verdicts.jsonl").read_text().splitlines()
    (run / "verdicts.jsonl").write_text("\n".join([*lines[:2], lines[2][:40], lines[3]]) + "\n")
    _one_error_line(*judgekit(monkeypatch, capsys, "report", run)[::2], "verdicts.jsonl:3")


def test_torn_last_line_of_a_complete_run_exits_2(tmp_path, monkeypatch, capsys):
    run = _handmade_run(tmp_path / "toy", two_orders=True)
    text = (run / "verdicts.jsonl").read_text()
    (run / "verdicts.jsonl").write_text(text[: len(text) - 30])
    _one_error_line(*judgekit(monkeypatch, capsys, "report", run)[::2], "verdicts.jsonl:4", "truncated")


def test_missing_manifest_exits_2(tmp_path, monkeypatch, capsys):
    run = _handmade_run(tmp_path / "toy", two_orders=True)
    (run / "manifest.json").unlink()
    _one_error_line(*judgekit(monkeypatch, capsys, "report", run, "--format", "json")[::2], "manifest.json", "missing")


def test_not_a_directory_exits_2(tmp_path, monkeypatch, capsys):
    _one_error_line(*judgekit(monkeypatch, capsys, "report", tmp_path / "nope")[::2], "nope")
