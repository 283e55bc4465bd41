"""Pointwise protocols: strict score reading, G-Eval's weighted score, and runs through the real SDK and CLI."""

from __future__ import annotations

import json
import math

import pytest
from conftest import run_judgekit
from servers import Reply, ScriptedServer
from stand_in import SCORED_MAPPING, scored_file, scored_quality

from judgekit.backends.base import Completion
from judgekit.judge.strategies import get_strategy
from judgekit.judge.strategies.pointwise import score_distribution
from judgekit.protocols import load_protocol
from judgekit.records import CriterionScores
from judgekit.runs.run_dir import read_run

SCALE = CriterionScores(scores=(3.0,), low=1, high=5)


@pytest.mark.parametrize("text, score, reason", [
    ("The plot wanders.\nScore: 4", 4.0, None),
    ("Score: 5", 5.0, None),
    ("Score: 7", None, "out_of_range"),
    ("Score: 0", None, "out_of_range"),
    ("Score: 3.5", None, "not_a_scale_point"),
    ("I would say four.", None, "unparseable"),
    ("Score: 2\nScore: 4", None, "unparseable"),  # two different scores: not read as either
])
def test_likert_reads_strictly(text, score, reason):
    rating = get_strategy("likert").read(Completion(text=text), SCALE)
    assert (rating.score, rating.invalid_reason, rating.raw) == (score, reason, text)


@pytest.mark.parametrize("text, score, reason", [
    ("Feedback: vivid but rushed ending.\n[RESULT] 3", 3.0, None),
    ("Feedback: fine. [RESULT] (4)", 4.0, None),
    ("Feedback: fine.\n[RESULT] 6", None, "out_of_range"),
    ("Feedback: fine. Score 4", None, "unparseable"),
    ("[RESULT] 4\nFeedback comes after", None, "unparseable"),  # the result must end the reply
])
def test_absolute_grading_reads_the_result_after_the_feedback(text, score, reason):
    rating = get_strategy("absolute").read(Completion(text=text), SCALE)
    assert (rating.score, rating.invalid_reason) == (score, reason)


def test_geval_score_is_the_probability_weighted_mean_of_the_points():
    position = {"4": math.log(0.5), " 4": math.log(0.1), "3": math.log(0.3), "5": math.log(0.05), "x": math.log(0.05)}
    rating = get_strategy("geval").read(Completion(text="4", top_logprobs=({"Score": 0.0}, position)), SCALE)
    p = {"3": 0.3 / 0.95, "4": 0.6 / 0.95, "5": 0.05 / 0.95}
    assert rating.score == pytest.approx(3 * p["3"] + 4 * p["4"] + 5 * p["5"])
    assert rating.probabilities["1"] == 0 and sum(rating.probabilities.values()) == pytest.approx(1)
    assert score_distribution(({"Score": 0.0},), ["1", "2"]) is None
    missing = get_strategy("geval").read(Completion(text="4"), SCALE)
    assert missing.score is None and missing.invalid_reason == "no_score_logprobs"


def test_user_pointwise_spec_checks_its_options(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("description: d\ncitation: c\nstrategy: likert\noptions: {criteria: [a, b]}\n"
                    "templates:\n  rate: '{{ response }}'\n", encoding="utf-8")
    with pytest.raises(Exception, match="options.criteria"):
        load_protocol(str(spec))


def test_likert_run_from_the_cli_writes_a_pointwise_run_and_reports_it(tmp_path, monkeypatch, capsys):
    with ScriptedServer(answer=lambda call: f"Fluent enough.\nScore: {scored_quality(call)}") as server:
        code, out, err = run_judgekit(
            monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url", server.openai_url,
            "--protocol", "pointwise/likert", "--dataset", scored_file(tmp_path), "--mapping", SCORED_MAPPING,
            "--out", tmp_path / "run", "--quiet")
        assert code == 0, err
        assert server.total_answered() == 6
    run = read_run(tmp_path / "run")
    assert run.manifest.kind == "pointwise" and run.manifest.complete
    assert [v.criteria["fluency"].score for v in run.verdicts] == [2.0, 3.0, 4.0, 4.0, 3.0, 2.0]
    assert "item_kendall" in out and "headline: item_kendall" in out  # the summary printed at the end of the run
    code, out, _ = run_judgekit(monkeypatch, capsys, "report", tmp_path / "run", "--format", "json",
                                "--resamples", "50")
    figures = json.loads(out)["runs"][0]["criteria"]["fluency"]
    assert figures["item_kendall"] == pytest.approx(1.0) and figures["mae"] == pytest.approx(0.5)


def test_geval_run_through_the_openai_sdk_reads_top_logprobs(tmp_path, monkeypatch, capsys):
    def answer(call):
        q = str(scored_quality(call))
        return Reply(q, logprobs=[{q: math.log(0.7), "3" if q != "3" else "2": math.log(0.3)}])

    with ScriptedServer(answer=answer) as server:
        code, _, err = run_judgekit(
            monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url", server.openai_url,
            "--protocol", "pointwise/geval", "--dataset", scored_file(tmp_path), "--mapping", SCORED_MAPPING,
            "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    ratings = [v.criteria["fluency"] for v in read_run(tmp_path / "run").verdicts]
    assert ratings[0].score == pytest.approx(0.7 * 2 + 0.3 * 3)
    assert ratings[1].probabilities == pytest.approx({"1": 0, "2": 0.3, "3": 0.7, "4": 0, "5": 0})


def test_mismatched_kinds_and_scores_only_data_are_refused(tmp_path, monkeypatch, capsys):
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--protocol", "llmbar/vanilla", "--dataset",
                                scored_file(tmp_path), "--mapping", SCORED_MAPPING, "--dry-run")
    assert code == 2 and "pairs (pairwise)" in err
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--protocol", "pointwise/likert", "--dry-run")
    assert code == 2 and "scored responses (pointwise)" in err
    blank = tmp_path / "blank.jsonl"
    blank.write_text(json.dumps({"pid": "p", "text": "", "f1": 3}) + "\n", encoding="utf-8")
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--protocol", "pointwise/likert", "--dataset", blank,
                                "--mapping", "input=pid,response=text,score.fluency=f1", "--dry-run")
    assert code == 2 and ("no response text" in err or "empty response" in err)


def test_a_pointwise_run_exports_one_row_per_rated_criterion(tmp_path, monkeypatch, capsys):
    from judgekit.report.export import read_export

    with ScriptedServer(answer=lambda call: f"Fluent enough.\nScore: {scored_quality(call)}") as server:
        code, _, err = run_judgekit(
            monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url", server.openai_url,
            "--protocol", "pointwise/likert", "--dataset", scored_file(tmp_path), "--mapping", SCORED_MAPPING,
            "--out", tmp_path / "run", "--quiet")
        assert code == 0, err
    code, _, err = run_judgekit(monkeypatch, capsys, "export", tmp_path / "run", "--out", tmp_path / "rows.csv")
    assert code == 0, err
    frame = read_export(tmp_path / "rows.csv")
    run = read_run(tmp_path / "run")
    assert list(frame["criterion"]) == ["fluency"] * 6
    assert list(frame["score"]) == [v.criteria["fluency"].score for v in run.verdicts]
    assert frame.equals(run.to_pandas())
