"""Issue 28, waste and misleading plans: calls paid twice, plans that cannot run, paths and replies
that cost more than asked. Servers are the scripted loopback one, reached through the real SDKs."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from conftest import run_judgekit
from servers import Reply, ScriptedServer

from judgekit.backends.base import Message, Request
from judgekit.backends.call_path import CallPath
from judgekit.backends.registry import create_backend
from judgekit.runs.run_dir import read_run


def ask(prompt: str) -> Request:
    return Request(messages=(Message("user", prompt),))


async def test_abandoned_calls_count_against_concurrency_until_the_server_has_had_time_to_finish_them():
    """A server answering one request at a time that stalls on its first (loading a model): the first
    wave of calls times out while the server keeps working on them. Sending their retries at once
    queues each question again behind its own abandoned copy, so the server works on more than
    --concurrency requests and computes answers nobody collects."""
    with ScriptedServer(latency=0.1, one_at_a_time=True) as server:
        server.warmup = 1.0
        path = CallPath(create_backend("openai:judge", base_url=server.openai_url), concurrency=4, timeout=0.5)
        completions = await asyncio.gather(*(path.complete(ask(f"q{i}")) for i in range(8)))
        await path.aclose()
    assert [c.text for c in completions] == [f"echo: q{i}" for i in range(8)]
    assert server.peak_queued <= 4, server.peak_queued  # what it worked on, abandoned calls included
    assert server.requests <= 16, server.requests  # each question asked at most twice


def test_a_dry_run_with_an_unknown_provider_is_one_line(monkeypatch, capsys):
    code, out, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "opnai:gpt-4o-mini", "--protocol",
                                  "llmbar/vanilla", "--dataset", "judgekit/bundled", "--dry-run")
    assert code == 2 and "unknown provider 'opnai'" in err and "dry run" not in out


def test_a_hub_id_is_never_a_local_path(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "data.jsonl").write_text(json.dumps({"instruction": "i", "response_a": "a", "response_b": "b"}) + "\n")
    monkeypatch.chdir(tmp_path / "private")
    for spec in ("hf:../private@x", "hf:.", "hf:/etc", "hf:a/../b", "hf:owner/name/extra"):
        code, _, err = run_judgekit(monkeypatch, capsys, "datasets", "show", spec)
        assert code == 2 and "is not a hub dataset id" in err, (spec, err)


def test_a_reply_without_choices_is_not_paid_for_again(tmp_path, monkeypatch, capsys):
    with ScriptedServer(answer=lambda call: Reply("", choices=False)) as server:
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url",
                                    server.openai_url, "--protocol", "llmbar/vanilla", "--dataset", "judgekit/bundled",
                                    "--limit", "5", "--concurrency", "1", "--out", tmp_path / "run", "--quiet")
    assert code == 1 and "no choices" in err and "were all refused" in err
    assert server.requests <= 6  # three items, two orders, each asked once


def test_a_reply_far_longer_than_asked_for_is_not_stored_whole(tmp_path, monkeypatch, capsys):
    with ScriptedServer(answer=lambda call: "Output (a) " + "x" * 20_000_000) as server:
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url",
                                    server.openai_url, "--protocol", "llmbar/vanilla", "--dataset", "judgekit/bundled",
                                    "--limit", "1", "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    [verdict] = read_run(tmp_path / "run").verdicts
    assert all(len(o.raw) <= 16 * 256 + 4096 for o in verdict.orders)
    assert (tmp_path / "run" / "verdicts.jsonl").stat().st_size < 100_000
    cache = Path(os.environ["JUDGEKIT_CACHE_DIR"]) / "responses.sqlite"
    assert cache.stat().st_size < 1_000_000
