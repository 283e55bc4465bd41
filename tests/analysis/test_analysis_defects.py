"""Defects of the analysis layer found from outside (issue 24): each test failed on the code before its fix."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import pytest
import run_dirs
from conftest import run_judgekit
from servers import Reply, ScriptedServer

from judgekit.analysis.compare import Options, compare
from judgekit.analysis.pairwise import headline_cells, run_row
from judgekit.analysis.trust import calibration_summary, confidences
from judgekit.records import PROBE_KEY, Example, OrderResult, Usage, Verdict
from judgekit.runs.run_dir import read_run


def _logprob_answer(call) -> Reply:
    """A judge whose forced answer leans to slot a at p=0.8: its margin decides, both orders combined."""
    a, b = math.log(0.8), math.log(0.2)
    return Reply("Output ( a )", logprobs=[{"a": a, "b": b}])


def test_a_users_own_logprob_spec_is_ranked_by_its_combined_verdict(tmp_path, monkeypatch, capsys):
    """D2: the headline came from reloading the spec by its id, which fails for a spec file (its stem is
    not a built-in id) and silently fell back to per-order accuracy. (A user spec taking a built-in's id,
    which read the built-in's strategy, is now refused at load: issue 28 item 22.)"""
    shipped = Path(__file__).resolve().parents[2] / "protocols" / "logprob" / "pairwise.yaml"
    mine = tmp_path / "my-logprob.yaml"
    mine.write_text(shipped.read_text(encoding="utf-8").replace("id: logprob/pairwise", "id: my/logprob"),
                    encoding="utf-8")
    with ScriptedServer(answer=_logprob_answer) as server:
        for name in ("mine", "vanilla"):
            protocol = str(mine) if name == "mine" else "llmbar/vanilla"
            code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url",
                                        server.openai_url, "--protocol", protocol, "--dataset", "judgekit/bundled",
                                        "--limit", "8", "--out", tmp_path / name, "--quiet")
            assert code == 0, err
    mine.unlink()  # analysis must not need the spec any more
    assert read_run(tmp_path / "mine").manifest.headline == "accuracy_final"
    code, out, err = run_judgekit(monkeypatch, capsys, "compare", tmp_path / "mine", tmp_path / "vanilla",
                                  "--format", "json", "--resamples", "20")
    assert code == 0, err
    ranked = {Path(row["run"]).name: row["ranked_by"] for row in json.loads(out)["leaderboard"]}
    assert ranked == {"mine": "accuracy_final", "vanilla": "accuracy"}


def _pairs(n: int, *, text: str = "q") -> list[Example]:
    return [Example(id=f"toy/{i}", instruction=f"{text} {i}", response_a=f"a{i}", response_b=f"b{i}",
                    gold="a" if i % 2 == 0 else "b", generator_a="gpt-4", generator_b="claude-v1")
            for i in range(n)]


_write = functools.partial(run_dirs.write_run, judge="openai:gpt-4", protocol="p")


def _two_orders(example_id: str, first: str | None, second: str | None, final: str | None, **extra) -> Verdict:
    orders = (OrderResult(swapped=False, raw=str(first), winner=first, **extra),
              OrderResult(swapped=True, raw=str(second), winner=second, **extra))
    return Verdict(example_id=example_id, winner=final, orders=orders, usage=Usage(calls=2))


def test_calibration_leaves_out_a_probe_runs_perturbed_copies(tmp_path):
    """D4: a probe run's calibration counted the perturbed copies as more items."""
    base = _pairs(10)
    copies = [e.model_copy(update={"id": f"{e.id}~probe", "metadata": {PROBE_KEY: "verbosity"}}) for e in base]
    verdicts = [_two_orders(e.id, e.gold, e.gold, e.gold, margin=2.0 if e.gold == "a" else -2.0) for e in base]
    verdicts += [_two_orders(e.id, "b", "b", "b", margin=-3.0) for e in copies]  # all wrong on the copies
    run = read_run(_write(tmp_path / "probe", base + copies, verdicts))
    assert len(confidences(run).ids) == 10
    calibration = calibration_summary(run)
    assert calibration is not None and calibration["n"] == 10


def test_ties_and_annotators_score_the_headline_under_the_runs_policy(tmp_path):
    """D6: the extras scored the final verdict whatever the headline, and ``_ties`` counted ``coin`` as wrong."""
    examples = [Example(id=f"t/{i}", instruction=f"q{i}", response_a="x", response_b="y", gold=g,
                        votes=(g, g, "tie" if g != "tie" else "a"))
                for i, g in enumerate(["a", "b", "tie", "a", "b", "a"])]
    # each order right, the final verdict (agreement of the orders) wrong where the orders disagree
    verdicts = [_two_orders(e.id, e.gold, "tie" if e.gold != "tie" else "a", "tie") for e in examples]
    run = read_run(_write(tmp_path / "r", examples, verdicts, headline="accuracy"))
    row = run_row(run, Options(n_resamples=20))
    assert row["headline"] == "accuracy"
    # without the tie-labelled item: first order all right, second order all wrong -> 0.5 (the final: 0)
    assert row["ties"]["without_tie_items"] == pytest.approx(0.5)
    assert row["annotators"]["vs_majority"] == pytest.approx(0.5)  # one order agrees with the majority (final: 1/6)
    invalid = [_two_orders(e.id, None, None, None) for e in examples]
    coin = read_run(_write(tmp_path / "coin", examples, invalid, headline="accuracy", invalid_policy="coin"))
    without = run_row(coin, Options(n_resamples=20))["ties"]["without_tie_items"]
    assert 0 < without < 1  # coin flips credit some invalid verdicts; counted as wrong it was 0


def test_self_preference_peers_pair_by_content_not_by_id(tmp_path):
    """D7: the excess took any run with the same ids as a peer, though the texts behind the ids differed."""
    mine = _write(tmp_path / "gpt", _pairs(12), [_two_orders(f"toy/{i}", "a", "a", "a") for i in range(12)],
                  judge_model="gpt-4")
    other_texts = _write(tmp_path / "claude", _pairs(12, text="other"),
                         [_two_orders(f"toy/{i}", "b", "b", "b") for i in range(12)],
                         judge="openai:claude", judge_model="claude-v1")
    data = compare([read_run(mine), read_run(other_texts)], Options(n_resamples=20))
    row = next(r for r in data["leaderboard"] if r["run"].endswith("gpt"))
    assert row["self_preference_peers"] == [] and row["self_preference_excess"] is None
    same_texts = _write(tmp_path / "claude-same", _pairs(12),
                        [_two_orders(f"toy/{i}", "b", "b", "b") for i in range(12)],
                        judge="openai:claude", judge_model="claude-v1")
    data = compare([read_run(mine), read_run(same_texts)], Options(n_resamples=20))
    row = next(r for r in data["leaderboard"] if r["run"].endswith("gpt"))
    assert row["self_preference_peers"] == [str(same_texts)]


def test_plan_paired_sizes_the_headline_difference_the_leaderboard_quotes(tmp_path):
    """D8: ``plan paired`` took each run's final verdicts, while the sentence quoting it compares headlines."""
    examples = _pairs(20)
    # run 1 (headline accuracy): right in the first order only -> accuracy 0.5, final (a tie) always wrong
    one = _write(tmp_path / "one", examples, [_two_orders(e.id, e.gold, "tie", "tie") for e in examples],
                 headline="accuracy")
    two = _write(tmp_path / "two", examples, [_two_orders(e.id, e.gold, e.gold, e.gold) for e in examples],
                 headline="accuracy_final")
    cells, shared = headline_cells(read_run(one), read_run(two))
    assert shared == 20
    both_right, only_1, only_2, both_wrong = cells
    assert both_right + only_1 == pytest.approx(0.5) and both_right + only_2 == pytest.approx(1.0)
    data = compare([read_run(one), read_run(two)], Options(n_resamples=20))
    (pair,) = data["comparisons"]
    planned = (both_right + only_1) - (both_right + only_2)
    sign = 1 if pair["run_1"].endswith("one") else -1
    assert pair["difference"] == pytest.approx(sign * planned)


def test_the_default_dataset_run_prints_its_refusals(tmp_path, monkeypatch, capsys):
    """D5: ``judgekit run`` on the default dataset returned after the leaderboard, before the refusals."""
    from judgekit.cli import run as run_cli

    printed = []
    monkeypatch.setattr(run_cli, "print_leaderboard", lambda console, finished, elapsed: printed.append("board"))
    monkeypatch.setattr(run_cli, "print_refusals", lambda console, verdicts: printed.append("refusals"))
    with ScriptedServer(answer=lambda call: "Output (a)") as server:
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url",
                                    server.openai_url, "--protocol", "llmbar/vanilla", "--limit", "2",
                                    "--out", tmp_path / "d", "--quiet")
    assert code == 0, err
    assert printed == ["board", "refusals"]


def _scored_run(path: Path, judge_scores: list[float | None], *, complete: bool, offset: int = 0) -> Path:
    n = len(judge_scores) + offset
    examples = run_dirs.scored([(1 + i % 5, 1 + (i * 7) % 5) for i in range(n)], response=lambda i: f"r{i}",
                               inputs=[f"in{i // 3}" for i in range(n)], systems=[f"sys{i % 3}" for i in range(n)])
    return run_dirs.pointwise_run(path, judge_scores, examples=examples, complete=complete, judge="openai:j",
                                  usage=Usage(calls=999, retries=2), verdict_usage=Usage(calls=1, tokens_in=10))


def test_pointwise_rows_flag_incomplete_runs_with_current_usage_and_pair_overlapping_sets(tmp_path):
    """The pointwise copy ranked incomplete runs, showed a stopped run's stale manifest usage, paired runs only
    when their whole example sets matched, and gave no p-values."""
    scores = [float(1 + (i * 3) % 5) for i in range(24)]
    done = _scored_run(tmp_path / "done", scores, complete=True)
    stopped = _scored_run(tmp_path / "stopped", scores[:12], complete=False)
    wider = _scored_run(tmp_path / "wider", [float(1 + (i * 2) % 5) for i in range(24)], complete=True, offset=6)
    data = compare([read_run(p) for p in (done, stopped, wider)], Options(n_resamples=50))
    board = {Path(r["run"]).name: r for r in data["leaderboard"]}
    assert board["stopped"]["rank"] is None and not board["stopped"]["complete"]
    assert board["stopped"]["calls"] == 12 and board["stopped"]["retries"] == 2  # the verdicts' sums, not 999
    assert {board["done"]["rank"], board["wider"]["rank"]} == {1, 2}
    (pair,) = data["comparisons"]  # done and wider share 24 responses though wider has 30 examples
    assert pair["n"] == 24 and 0 < pair["p_value"] <= 1 and pair["p_holm"] == pytest.approx(pair["p_value"])
    assert "swap permutation" in pair["test"]
