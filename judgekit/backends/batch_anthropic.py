"""Anthropic's Message Batches for ``anthropic:`` judges: ``messages.batches.create``, poll, stream the results.

Limits (Anthropic's batch documentation): 100,000 requests and 256 MB per
batch; each ends within 24 h. Each result is ``succeeded``, ``errored``,
``canceled`` or ``expired``, keyed by ``custom_id`` in no order. A batch
carries no metadata, so finding one sent by a run killed before it wrote the
id down relies on what a batch does show: created after the preparation,
the same number of requests, not claimed by another ledger entry.
"""

from __future__ import annotations

from typing import Any

import anthropic

from judgekit.backends import sdk
from judgekit.backends.base import Request
from judgekit.backends.batch_api import BatchAPI, BatchState, Limits, Line, Outcome

TRANSIENT = frozenset({"api_error", "overloaded_error", "rate_limit_error", "timeout_error"})
"""Error types of an errored request worth another batch."""
CLOCK_SLACK_S = 60.0
"""How much earlier than the preparation (our clock) a found batch may say it was created (theirs)."""


class AnthropicBatches(BatchAPI):
    limits = Limits(max_requests=100_000, max_bytes=256 * 1024 * 1024)

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        key = backend.key()
        self._client = sdk.client(anthropic, anthropic.AsyncAnthropic, key, backend.base_url, 600.0)

    def line(self, custom_id: str, request: Request) -> Line:
        args, trimmed = self.backend.arguments(request)
        params = {k: v for k, v in args.items() if k != "extra_body"} | args.get("extra_body", {})
        return Line(custom_id, {"custom_id": custom_id, "params": params}, {"trimmed": trimmed})

    async def submit(self, lines: list[Line], tag: str) -> str:
        batch = await self._client.messages.batches.create(requests=[line.body for line in lines])
        return batch.id

    async def find(self, tag: str, n_requests: int, since: float, claimed: set[str]) -> str | None:
        async for batch in self._client.messages.batches.list(limit=100):
            if batch.created_at.timestamp() < since - CLOCK_SLACK_S:
                return None
            counts = batch.request_counts
            total = counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
            if total == n_requests and batch.id not in claimed:
                return batch.id
        return None

    async def state(self, batch_id: str) -> BatchState:
        batch = await self._client.messages.batches.retrieve(batch_id)
        c = batch.request_counts
        counts = (f"{c.succeeded} succeeded, {c.errored} errored, {c.expired} expired, {c.canceled} canceled, "
                  f"{c.processing} processing")
        return BatchState(batch.processing_status, batch.processing_status == "ended", counts)

    async def outcomes(self, batch_id: str, lines: dict[str, Line]) -> dict[str, Outcome]:
        results: dict[str, Outcome] = {}
        async for item in await self._client.messages.batches.results(batch_id):
            result, line = item.result, lines.get(item.custom_id)
            if result.type == "succeeded" and line is not None:
                results[item.custom_id] = Outcome(self.backend.read_reply(result.message, line.read["trimmed"]))
            elif result.type == "errored":
                error = result.error.error
                results[item.custom_id] = Outcome(failure="errored", retryable=error.type in TRANSIENT,
                                                  message=f"{error.type}: {error.message}"[:300])
            else:
                results[item.custom_id] = Outcome(failure=result.type, message=f"request {result.type}")
        return results

    async def aclose(self) -> None:
        await self._client.close()
