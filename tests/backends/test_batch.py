"""Batch mode through the real OpenAI and Anthropic SDK batch clients against loopback batch servers.

The server (tests/batch_servers.py) answers like a perfect judge, live or in a
batch, and counts every answer per prompt: ``max_answers_per_prompt() == 1``
is the proof that nothing was paid twice.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from batch_servers import BatchServer
from conftest import JUDGEKIT, KILLS_PROCESSES, run_judgekit
from servers import oracle_for

from judgekit.backends import batch
from judgekit.backends.prices import PriceTable
from judgekit.data import load_dataset
from judgekit.errors import BadInput
from judgekit.runs.run_dir import read_run

BUNDLED = load_dataset("judgekit/bundled").examples

GOLD = {e.id: e.gold for e in BUNDLED}
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku"}  # priced models: costs are checkable


@pytest.fixture(autouse=True)
def short_settle(monkeypatch):
    """Requests of one round reach the batch backend within milliseconds of each other here: a batch
    goes out 0.2 s after the last, not the product's 1 s (runs in their own process keep the 1 s)."""
    monkeypatch.setattr(batch, "SETTLE_S", 0.2)


@pytest.fixture
def server():
    with BatchServer(answer=oracle_for(BUNDLED)) as s:
        yield s


def args(server, api, out, *extra, protocol="llmbar/vanilla"):
    url = server.openai_url if api == "openai" else server.anthropic_url
    return ("run", "--judge", f"{api}:{MODELS[api]}", "--base-url", url, "--protocol", protocol,
            "--dataset", "judgekit/bundled", "--out", out, "--quiet", *extra)


def batch_args(server, api, out, *extra, **kw):
    return args(server, api, out, "--batch", "--batch-poll", "0.02", *extra, **kw)


def verdicts(path):
    return [(v.example_id, v.winner, [(o.swapped, o.raw, o.winner) for o in v.orders]) for v in read_run(path).verdicts]


def ledger(path):
    """The run's batch ledger events (none yet if the run has not prepared a batch)."""
    files = list(path.glob("batches/*/ledger.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line.endswith("}")]


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_batch_run_equals_live_run_at_batch_price_and_fills_the_cache(server, api, tmp_path, monkeypatch, capsys):
    code, _, err = run_judgekit(monkeypatch, capsys, *batch_args(server, api, tmp_path / "batch"))
    assert code == 0, err
    assert server.batches_created[api] == 1 and server.batch_lines == 2 * len(BUNDLED)
    batch_run = read_run(tmp_path / "batch")
    assert batch_run.manifest.complete and {v.example_id: v.winner for v in batch_run.verdicts} == GOLD
    assert [e["event"] for e in ledger(tmp_path / "batch")] == ["prepared", "submitted", "collected"]

    server.reset_counters()
    code, _, err = run_judgekit(monkeypatch, capsys, *args(server, api, tmp_path / "warm"))
    assert code == 0 and server.requests == 0  # batch answers are in the same response cache as live ones

    code, _, err = run_judgekit(monkeypatch, capsys, *args(server, api, tmp_path / "live", "--no-cache"))
    assert code == 0 and server.total_answered() == 2 * len(BUNDLED)
    assert verdicts(tmp_path / "live") == verdicts(tmp_path / "batch")
    live_usage, batch_usage = read_run(tmp_path / "live").manifest.usage, batch_run.manifest.usage
    assert batch_usage.tokens_in == live_usage.tokens_in > 0
    assert batch_usage.cost_usd == pytest.approx(live_usage.cost_usd / 2) and batch_usage.cost_usd > 0


def test_a_two_stage_protocol_runs_in_rounds(server, tmp_path, monkeypatch, capsys):
    code, _, err = run_judgekit(monkeypatch, capsys,
                                *batch_args(server, "openai", tmp_path / "b", protocol="llmbar/metrics"))
    assert code == 0, err
    assert server.batches_created["openai"] == 2  # the metrics first, then the comparisons that use them
    code, _, _ = run_judgekit(monkeypatch, capsys, *args(server, "openai", tmp_path / "l", "--no-cache",
                                                          protocol="llmbar/metrics"))
    assert code == 0 and verdicts(tmp_path / "l") == verdicts(tmp_path / "b")


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_expired_batch_and_errored_lines_go_into_a_new_batch_and_nothing_is_paid_twice(server, api, tmp_path,
                                                                                       monkeypatch, capsys):
    server.expire_next(1)  # the first batch works only half its lines
    server.fail_lines(BUNDLED[0].response_a, status=500, times=2)  # both orders of item 0 fail once
    code, _, err = run_judgekit(monkeypatch, capsys, *batch_args(server, api, tmp_path / "run"))
    assert code == 0, err
    assert {v.example_id: v.winner for v in read_run(tmp_path / "run").verdicts} == GOLD
    assert server.batches_created[api] == 2
    assert server.max_answers_per_prompt() == 1 and server.total_answered() == 2 * len(BUNDLED)
    collected = [e for e in ledger(tmp_path / "run") if e["event"] == "collected"]
    assert collected[0]["requeued"] >= len(BUNDLED) and collected[1]["requeued"] == 0


def test_a_refused_line_fails_the_run_in_one_line(server, tmp_path, monkeypatch, capsys):
    server.fail_lines(BUNDLED[1].response_a, status=400, times=2)
    code, _, err = run_judgekit(monkeypatch, capsys, *batch_args(server, "anthropic", tmp_path / "run"))
    assert code == 1 and "errored" in err and "invalid_request_error" in err and "Traceback" not in err
    assert not read_run(tmp_path / "run").manifest.complete


def start_batch_run(server, api, out):
    """``judgekit run --batch`` as a real process, once its batch has been submitted and recorded."""
    process = subprocess.Popen([JUDGEKIT, *map(str, batch_args(server, api, out))], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(e["event"] == "submitted" for e in ledger(out)):
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    time.sleep(0.2)  # a few polls of a batch still in progress
    return process


@KILLS_PROCESSES
@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_kill_9_mid_batch_then_resume_polls_the_same_batch(server, api, tmp_path, monkeypatch, capsys):
    server.hold = True
    out = tmp_path / "run"
    process = start_batch_run(server, api, out)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert server.batches_created[api] == 1 and server.total_answered() == 0

    code, _, err = run_judgekit(monkeypatch, capsys, *args(server, api, out))  # live resume: refused
    assert code == 2 and "resume with --batch" in err

    server.hold = False
    code, _, err = run_judgekit(monkeypatch, capsys, *batch_args(server, api, out))
    assert code == 0, err
    assert server.batches_created[api] == 1  # polled again, never resent
    assert server.max_answers_per_prompt() == 1
    run = read_run(out)
    assert run.manifest.complete and {v.example_id: v.winner for v in run.verdicts} == GOLD


@KILLS_PROCESSES
@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_a_batch_sent_but_not_written_down_is_found_not_resent(server, api, tmp_path, monkeypatch, capsys):
    """A kill between the provider accepting a batch and the ledger's ``submitted`` line."""
    server.hold = True
    out = tmp_path / "run"
    process = start_batch_run(server, api, out)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    [folder] = (out / "batches").iterdir()
    events = ledger(out)
    (folder / "ledger.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events if e["event"] == "prepared"))

    server.hold = False
    code, _, err = run_judgekit(monkeypatch, capsys, *batch_args(server, api, out))
    assert code == 0, err
    assert server.batches_created[api] == 1 and server.max_answers_per_prompt() == 1
    assert [e.get("found") for e in ledger(out) if e["event"] == "submitted"] == [True]


def test_dry_run_states_the_saving(server, tmp_path, monkeypatch, capsys):
    code, out, _ = run_judgekit(monkeypatch, capsys, *batch_args(server, "openai", tmp_path / "x"), "--dry-run")
    assert code == 0 and "saving up to $" in out and "(50%)" in out
    assert not (tmp_path / "x").exists() and server.requests == 0


def test_batch_needs_a_provider_with_a_batch_api(tmp_path, monkeypatch, capsys):
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "replay:x", "--batch", "--out", tmp_path / "r")
    assert code == 2 and "has no batch API" in err


def test_price_table_batch_column(tmp_path):
    table = PriceTable.load()
    live, batch = table.lookup("openai", "gpt-4o-mini"), table.at_batch_rates().lookup("openai", "gpt-4o-mini")
    assert (batch.input_per_m, batch.output_per_m) == (live.input_per_m / 2, live.output_per_m / 2)
    path = tmp_path / "prices.yaml"
    path.write_text("openai:\n  mine: [1.0, 2.0]\n  other: [1.0, 2.0, 0.4, 0.8]\n")
    custom = PriceTable.load(path)
    assert custom.at_batch_rates().cost("openai", "mine", 1_000_000, 0) is None  # no batch price: unpriced
    assert custom.at_batch_rates().cost("openai", "other", 1_000_000, 1_000_000) == pytest.approx(1.2)
    path.write_text("openai:\n  bad: [1.0, 2.0, 0.4]\n")
    with pytest.raises(BadInput, match=r"openai\.bad: expected \[input, output\] or"):
        PriceTable.load(path)


def test_a_sweep_with_batch_true_batches_every_openai_cell(server, tmp_path, monkeypatch, capsys):
    spec = {"root": str(tmp_path / "sweep"), "limit": 4, "batch": True, "batch_poll": 0.02,
            "judges": [{"spec": "openai:judge-one", "base_url": server.openai_url},
                       {"spec": "anthropic:judge-two", "base_url": server.anthropic_url}],
            "protocols": ["llmbar/vanilla"], "datasets": ["judgekit/bundled"]}
    (tmp_path / "sweep.yaml").write_text(json.dumps(spec))
    code, _, err = run_judgekit(monkeypatch, capsys, "sweep", tmp_path / "sweep.yaml", "--quiet")
    assert code == 0, err
    assert server.batches_created == {"openai": 1, "anthropic": 1} and server.batch_lines == 2 * 2 * 4
    for run_dir in (tmp_path / "sweep").iterdir():
        run = read_run(run_dir)
        assert run.manifest.complete and all(v.winner == GOLD[v.example_id] for v in run.verdicts)
