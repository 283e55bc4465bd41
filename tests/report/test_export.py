"""Exports: one row per (example, order), the same frame from every format, faithful to the records."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
import run_dirs
from conftest import run_judgekit
from servers import oracle_for, scripted_server  # noqa: F401  (fixture)

from judgekit.data import load_dataset
from judgekit.records import Example, OrderResult, Usage, Verdict
from judgekit.report.export import COLUMNS, read_export
from judgekit.runs.run_dir import read_run

EXAMPLES = [
    Example(id="e1", instruction="i", response_a="x", response_b="y", gold="a", votes=("a", "a", "b"),
            generator_a="gpt-4", generator_b="llama", subset="natural"),
    Example(id="e2", instruction="i", response_a="x", response_b="y", gold="tie"),
    Example(id="e3", instruction="i", response_a="x", response_b="y"),
    Example(id="e4", instruction="i", response_a="x", response_b="y", gold="b"),
]
VERDICTS = [
    Verdict(example_id="e1", winner="a", details={"note": "ünïcode"},
            orders=(OrderResult(swapped=False, raw='Output (a), "quoted"\nsecond line', winner="a", margin=1.5),
                    OrderResult(swapped=True, raw="", winner=None, margin=None)),
            usage=Usage(calls=2, cache_hits=1, tokens_in=40, tokens_out=3, cost_usd=0.0012, latency_s=0.25)),
    Verdict(example_id="e2", winner="tie",
            orders=(OrderResult(swapped=False, raw="[a] 3 [b] 3", winner="tie", scores={"a": 3.0, "b": 3.0}),)),
    Verdict(example_id="e3", winner=None, invalid_reason="no_constraints"),
    Verdict(example_id="e4", winner="b",
            orders=(OrderResult(swapped=False, raw="NA", winner="b"), OrderResult(swapped=True, raw=",", winner="b"))),
]


@pytest.fixture
def run(tmp_path):
    finished = VERDICTS[::-1]  # finishing order differs from example order
    return read_run(run_dirs.write_run(tmp_path / "run", EXAMPLES, finished, judge="openai:j", protocol="p",
                                       complete=False))


def test_rows_follow_the_records(run):
    frame = run.to_pandas()
    assert list(frame.columns) == list(COLUMNS)
    assert list(zip(frame.example_id, frame.order_index.astype(object))) == [
        ("e1", 0), ("e1", 1), ("e2", 0), ("e3", pd.NA), ("e4", 0), ("e4", 1)]
    for verdict in VERDICTS:
        rows = frame[frame.example_id == verdict.example_id]
        assert set(rows.winner.fillna("invalid")) == {verdict.winner or "invalid"}
        assert (rows.verdict_cost_usd == verdict.usage.cost_usd).all()
        for order, (_, row) in zip(verdict.orders, rows.iterrows()):
            assert row["order"] == ("swapped" if order.swapped else "original")
            assert row.raw == order.raw
            assert (None if pd.isna(row.order_winner) else row.order_winner) == order.winner
            assert (None if pd.isna(row.margin) else row.margin) == order.margin
    first = frame.iloc[0]
    assert (first.gold, first.votes, first.generator_a, first.subset) == ("a", "a,a,b", "gpt-4", "natural")
    assert json.loads(first.details) == {"note": "ünïcode"}
    assert frame.iloc[2].score_a == 3.0 and frame.iloc[3].invalid_reason == "no_constraints"
    assert pd.isna(frame.iloc[3].raw) and frame.iloc[1].raw == ""  # no order vs an empty reply
    assert frame[frame.order_index == 0].verdict_calls.sum() == 2  # usage counted once per verdict


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_every_format_round_trips(run, tmp_path, fmt, monkeypatch, capsys):
    out = tmp_path / f"rows.{fmt}"
    code, _, err = run_judgekit(monkeypatch, capsys, "export", run.path, "--format", fmt, "--out", out)
    assert code == 0 and "6 rows" in err
    pd.testing.assert_frame_equal(read_export(out), run.to_pandas())


def test_plain_readers_see_the_same_table(run, tmp_path, monkeypatch, capsys):
    """Without judgekit's reader: the csv module, pyarrow and json read what R or a spreadsheet would."""
    code, text, _ = run_judgekit(monkeypatch, capsys, "export", run.path)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["raw"] for r in rows] == ['Output (a), "quoted"\nsecond line', "", "[a] 3 [b] 3", "", "NA", ","]
    assert rows[3]["order"] == "" and rows[0]["margin"] == "1.5"
    code, _, _ = run_judgekit(monkeypatch, capsys, "export", run.path, "-f", "parquet", "-o", tmp_path / "t.parquet")
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.column("raw").to_pylist()[3] is None and table.column("verdict_tokens_in").to_pylist()[0] == 40
    code, text, _ = run_judgekit(monkeypatch, capsys, "export", run.path, "-f", "jsonl")
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 6 and lines[1]["order_winner"] is None and lines[0]["details"] == '{"note": "ünïcode"}'


def test_several_runs_and_a_real_run(scripted_server, tmp_path, monkeypatch, capsys):  # noqa: F811
    bundled = load_dataset("judgekit/bundled").examples
    scripted_server.answer = oracle_for(bundled)
    out = tmp_path / "live"
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url",
                                scripted_server.openai_url, "--dataset", "judgekit/bundled", "--protocol",
                                "llmbar/vanilla",
                                "--out", out, "--quiet")
    assert code == 0, err
    live = read_run(out)
    frame = live.to_pandas()
    assert len(frame) == 2 * len(bundled)
    gold = {e.id: e.gold for e in bundled}
    assert (frame.order_winner == frame.example_id.map(gold)).all()  # the oracle is always right
    assert frame[frame.order_index == 0].verdict_calls.sum() == live.manifest.usage.calls
    code, _, _ = run_judgekit(monkeypatch, capsys, "export", out, out, "-f", "parquet", "-o", tmp_path / "both.parquet")
    assert code == 0 and len(read_export(tmp_path / "both.parquet")) == 2 * len(frame)


def test_bad_input_is_one_line(run, tmp_path, monkeypatch, capsys):
    code, _, err = run_judgekit(monkeypatch, capsys, "export", run.path, "-f", "parquet")
    assert code == 2 and "needs --out" in err and "Traceback" not in err
    code, _, err = run_judgekit(monkeypatch, capsys, "export", tmp_path / "nowhere")
    assert code == 2 and "not a run directory" in err
    (tmp_path / "x.txt").write_text("a,b\n")
    with pytest.raises(Exception, match="unknown export format"):
        read_export(tmp_path / "x.txt")
