"""Run-level trust figures: confidences read from verdicts, routing, returned labels, the trust CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import run_judgekit

from judgekit.agreement.calibration import calibration
from judgekit.agreement.selective import coverage_at_accuracy
from judgekit.analysis.routing import route
from judgekit.analysis.trust import confidences
from judgekit.data import load_dataset
from judgekit.records import Example, Manifest, OrderResult, Verdict
from judgekit.runs.importers.labels import read_labels
from judgekit.runs.run_dir import RunDir, read_run

N = 120


def _examples(n=N, seed=0):
    rng = np.random.default_rng(seed)
    gold = rng.choice(["a", "b"], n)
    return [Example(id=f"toy/{i}", instruction=f"q{i}", response_a=f"x{i}", response_b=f"y{i}", gold=g)
            for i, g in enumerate(gold)]


def _write(path, examples, verdicts, protocol="logprob/pairwise"):
    manifest = Manifest(judge="local:", protocol=protocol, dataset="toy", package_version="0",
                        started_at="2026-12-01T00:00:00+00:00", n_examples=len(examples))
    run_dir = RunDir.create(path, manifest, examples)
    for v in verdicts:
        run_dir.append(v)
    return read_run(path)


def _logprob_run(path, seed=0, invalid_every=15):
    """Margins whose size predicts being right; every 15th verdict invalid."""
    rng = np.random.default_rng(seed)
    examples = _examples(seed=seed)
    verdicts = []
    for i, e in enumerate(examples):
        if i % invalid_every == 0:
            verdicts.append(Verdict(example_id=e.id, winner=None, invalid_reason="no_answer_logprobs"))
            continue
        size = rng.uniform(0, 4)
        right = rng.random() < 1 / (1 + math.exp(-size))
        winner = e.gold if right else ("b" if e.gold == "a" else "a")
        margin = size if winner == "a" else -size
        orders = (OrderResult(swapped=False, raw="a)", winner=winner, margin=margin + 0.3),
                  OrderResult(swapped=True, raw="b)", winner=winner, margin=margin - 0.3))
        verdicts.append(Verdict(example_id=e.id, winner=winner, orders=orders, details={"margin": margin}))
    return _write(path, examples, verdicts)


def test_logprob_confidence_is_the_sigmoid_of_the_margin(tmp_path):
    run = _logprob_run(tmp_path / "run")
    conf = confidences(run)
    assert conf.source == "logprob margin"
    for v, c in zip(run.verdicts, conf.confidence):
        if v.winner is None:
            assert c is None
        else:
            assert c == pytest.approx(1 / (1 + math.exp(-abs(v.details["margin"]))))
    assert list(conf.correct) == [float(v.winner == e.gold) for v, e in zip(run.verdicts, run.examples)]


def test_vote_share_and_rating_gap(tmp_path):
    examples = _examples(6)
    members = [["a", "a", "b"], ["b", "b", "b"], ["a", None, "b"], ["a", "a", "a"], ["b", "a", "a"], ["b", "b", "a"]]
    verdicts = []
    for e, m in zip(examples, members):
        winner = max(set(w for w in m if w), key=m.count)
        verdicts.append(Verdict(example_id=e.id, winner=winner,
                                details={"rule": "majority", "members": [{"name": str(k), "winner": w}
                                                                         for k, w in enumerate(m)]}))
    conf = confidences(_write(tmp_path / "votes", examples, verdicts, protocol="reife/self-consistency"))
    assert conf.source == "vote share"
    assert conf.confidence == pytest.approx([2 / 3, 1, 1 / 3, 1, 2 / 3, 2 / 3])
    scores = [(9, 1), (5, 5), (2, 6), (7, 3), (1, 9), (4, 3)]
    rated = [Verdict(example_id=e.id, winner="a" if sa > sb else "b" if sb > sa else "tie",
                     orders=(OrderResult(swapped=False, raw="", winner=None, scores={"a": sa, "b": sb}),))
             for e, (sa, sb) in zip(examples, scores)]
    conf = confidences(_write(tmp_path / "rated", examples, rated, protocol="llmbar/rating"))
    assert conf.source == "rating gap"
    spread = 9 - 1
    assert conf.confidence == pytest.approx([0.5 + 0.5 * abs(sa - sb) / spread for sa, sb in scores])


def test_no_confidence_gives_null_figures(tmp_path, monkeypatch, capsys):
    examples = _examples(10)
    verdicts = [Verdict(example_id=e.id, winner="a", orders=(OrderResult(swapped=False, raw="a", winner="a"),))
                for e in examples]
    _write(tmp_path / "plain", examples, verdicts, protocol="llmbar/vanilla")
    code, out, err = run_judgekit(monkeypatch, capsys, "trust", tmp_path / "plain", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)["runs"][0]
    assert doc["confidence_source"] is None and doc["calibration"] is None and doc["selective"] is None
    assert doc["alt_test"] is None


def test_trust_json_equals_the_agreement_functions(tmp_path, monkeypatch, capsys):
    run = _logprob_run(tmp_path / "run")
    code, out, err = run_judgekit(monkeypatch, capsys, "trust", tmp_path / "run", "--target-accuracy", "0.8",
                                  "--resamples", "300", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)["runs"][0]
    conf = confidences(run)
    decided = [i for i, c in enumerate(conf.confidence) if c is not None]
    cal = calibration(np.array([conf.confidence[i] for i in decided]), conf.correct[decided])
    assert doc["calibration"]["ece"] == pytest.approx(cal.ece)
    assert doc["calibration"]["calibrated_brier"] == pytest.approx(cal.calibrated_brier)
    assert doc["calibration"]["n"] == len(decided) == N - N // 15
    at = coverage_at_accuracy(conf.confidence, conf.correct, target=0.8, n_resamples=300)
    sel = doc["selective"]
    assert sel["coverage"] == pytest.approx(at.coverage) and sel["threshold"] == pytest.approx(at.threshold)
    assert sel["n"] == N and 0 < sel["coverage"] < 1
    assert len(sel["curve"]["coverage"]) == len(set(c for c in conf.confidence if c is not None))


def test_route_sends_low_confidence_and_invalid_items_and_labels_come_back(tmp_path, monkeypatch, capsys):
    run = _logprob_run(tmp_path / "run")
    out = tmp_path / "to_label.jsonl"
    code, _, err = run_judgekit(monkeypatch, capsys, "route", tmp_path / "run", "--target-accuracy", "0.8",
                                "--resamples", "200", "--out", out)
    assert code == 0, err
    conf = confidences(run)
    at = coverage_at_accuracy(conf.confidence, conf.correct, target=0.8, n_resamples=200)
    tasks = [json.loads(line) for line in out.read_text().splitlines()]
    expected = [e.id for e, c in zip(run.examples, conf.confidence) if c is None or c < at.threshold]
    assert [t["id"] for t in tasks] == expected
    assert len(tasks) == N - at.kept
    assert {t["reason"] for t in tasks} == {"invalid", "low_confidence"}
    assert all("winner" not in t and t["label"] is None for t in tasks)  # no anchoring on the judge
    studio = json.loads((tmp_path / "to_label.label-studio.json").read_text())
    assert [t["data"]["id"] for t in studio] == expected
    assert f"coverage {at.coverage:.3f}" in err

    # People label the JSONL; the Label Studio export carries two annotators (one cancelled) per task.
    gold = {e.id: e.gold for e in run.examples}
    filled = [{**t, "label": gold[t["id"]]} for t in tasks[:-2]] + tasks[-2:]  # two left unlabelled
    (tmp_path / "filled.jsonl").write_text("".join(json.dumps(t) + "\n" for t in filled))
    code, _, err = run_judgekit(monkeypatch, capsys, "import", "labels", tmp_path / "filled.jsonl",
                                "--out", tmp_path / "labelled.jsonl")
    assert code == 0 and "2 tasks without a label skipped" in err
    dataset = load_dataset(str(tmp_path / "labelled.jsonl"), mapping="id=id")
    assert [e.id.removeprefix("labelled/") for e in dataset.examples] == expected[:-2]
    assert [e.gold for e in dataset.examples] == [gold[i] for i in expected[:-2]]

    export = [{"id": k, "data": t["data"], "annotations": [
        {"result": [{"from_name": "label", "type": "choices", "value": {"choices": ["a"]}}]},
        {"result": [{"value": {"choices": ["b"]}}]},
        {"was_cancelled": True, "result": [{"value": {"choices": ["b"]}}]}]} for k, t in enumerate(studio)]
    (tmp_path / "export.json").write_text(json.dumps(export))
    returned = read_labels(tmp_path / "export.json")
    assert all(e.votes == ("a", "b") and e.gold == "tie" for e in returned.examples)


def test_route_with_a_fixed_threshold_and_routing_of_missing_verdicts(tmp_path):
    run = _logprob_run(tmp_path / "run")
    partial = _write(tmp_path / "partial", run.examples, run.verdicts[:60])
    routed, kept = route(partial, 0.7)
    conf = {e.id: c for e, c in zip(run.examples, confidences(run).confidence)}
    assert kept == sum(1 for v in run.verdicts[:60] if conf[v.example_id] is not None and conf[v.example_id] >= 0.7)
    assert len(routed) + kept == N  # the 60 unjudged items go to people too


@pytest.mark.parametrize("content, message", [
    ('{"id": "x", "instruction": "i", "response_a": "a", "response_b": "b", "label": "c"}\n',
     "field 'label': label 'c' is not one of a, b, tie"),
    ('{"id": "x", "instruction": "i", "response_a": "a", "label": "a"}\n', "field 'response_b': missing"),
    ('[{"data": {"id": "x"}}]', "task 1: field 'instruction'"),
])
def test_bad_returned_labels_are_one_line_exit_2(tmp_path, monkeypatch, capsys, content, message):
    path = tmp_path / ("labels.json" if content.startswith("[") else "labels.jsonl")
    path.write_text(content)
    code, out, err = run_judgekit(monkeypatch, capsys, "import", "labels", path, "--out", tmp_path / "o.jsonl")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.jsonl").exists()


def test_report_rows_carry_the_raw_calibration_that_trust_shows(tmp_path, monkeypatch, capsys):
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    run = _logprob_run(tmp_path / "run")
    _write(tmp_path / "plain", _examples(10), [Verdict(example_id=e.id, winner="a",
           orders=(OrderResult(swapped=False, raw="a", winner="a"),)) for e in _examples(10)],
           protocol="llmbar/vanilla")
    code, out, err = run_judgekit(monkeypatch, capsys, "report", tmp_path / "run", tmp_path / "plain",
                                  "--resamples", "20", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["runs"]
    assert rows[1]["calibration"] is None  # no confidence in its verdicts
    reported = rows[0]["calibration"]
    code, out, _ = run_judgekit(monkeypatch, capsys, "trust", tmp_path / "run", "--format", "json")
    shown = json.loads(out)["runs"][0]["calibration"]
    assert reported["ece"] == pytest.approx(shown["ece"]) and reported["brier"] == pytest.approx(shown["brier"])
    conf = confidences(run)
    decided = [i for i, c in enumerate(conf.confidence) if c is not None]
    c, y = np.array([conf.confidence[i] for i in decided]), conf.correct[decided]
    assert reported["n"] == len(decided) and reported["source"] == "logprob margin"
    assert reported["brier"] == pytest.approx(brier_score_loss(y, c))
    accuracy, confidence = calibration_curve(y, c, n_bins=10, strategy="uniform")
    counts = np.histogram(c, bins=np.linspace(0, 1, 11))[0]
    counts = counts[counts > 0]
    assert reported["ece"] == pytest.approx(float(np.sum(counts / counts.sum() * np.abs(accuracy - confidence))))
