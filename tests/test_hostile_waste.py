"""Issue 28, waste and misleading plans: calls paid twice, plans that cannot run, paths and replies
that cost more than asked. Servers are the scripted loopback one, reached through the real SDKs."""

from __future__ import annotations

import asyncio

from servers import ScriptedServer

from judgekit.backends.base import Message, Request
from judgekit.backends.call_path import CallPath
from judgekit.backends.registry import create_backend


def ask(prompt: str) -> Request:
    return Request(messages=(Message("user", prompt),))


async def test_abandoned_calls_count_against_concurrency_until_the_server_has_had_time_to_finish_them():
    """A server answering one request at a time that stalls on its first (loading a model): the first
    wave of calls times out while the server keeps working on them. Sending their retries at once
    queues each question again behind its own abandoned copy, so the server works on more than
    --concurrency requests and computes answers nobody collects."""
    with ScriptedServer(latency=0.2, one_at_a_time=True) as server:
        server.warmup = 2.0
        path = CallPath(create_backend("openai:judge", base_url=server.openai_url), concurrency=6, timeout=0.5)
        completions = await asyncio.gather(*(path.complete(ask(f"q{i}")) for i in range(12)))
        await path.aclose()
    assert [c.text for c in completions] == [f"echo: q{i}" for i in range(12)]
    assert server.peak_queued <= 6, server.peak_queued  # what it worked on, abandoned calls included
    assert server.requests <= 24, server.requests  # each question asked at most twice
