"""OpenAI's Batch API for ``openai:`` judges: a JSONL file uploaded for ``batch``, then a batch over chat completions.

Limits (the SDK's documentation of ``batches.create``): 50,000 requests and
200 MB per input file; a 24 h completion window. Each batch carries the tag
judgekit gave it as ``metadata["judgekit_batch"]``, so a run killed between
sending a batch and writing its id down finds it again instead of resending.
Results come back keyed by ``custom_id``, in no order, in an output file
(answers) and an error file (failed and expired requests).
"""

from __future__ import annotations

import json
from typing import Any

import openai

from judgekit.backends import sdk
from judgekit.backends.base import Request
from judgekit.backends.batch_api import BatchAPI, BatchState, Limits, Line, Outcome

ENDPOINT = "/v1/chat/completions"
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
NOT_RUN = {"batch_expired": "expired", "batch_cancelled": "canceled"}
"""Error codes of requests the batch never ran (the provider bills none of them)."""
LIST_BACK_S = 3600.0
"""How far before a batch's preparation the lookup by tag keeps listing."""


class OpenAIBatches(BatchAPI):
    limits = Limits(max_requests=50_000, max_bytes=200 * 1024 * 1024)

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        key = backend.key()
        self._client = sdk.client(openai, openai.AsyncOpenAI, key, backend.base_url, 600.0)

    def line(self, custom_id: str, request: Request) -> Line:
        body = self.backend.body(request)
        return Line(custom_id, {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body})

    async def submit(self, lines: list[Line], tag: str) -> str:
        data = "".join(json.dumps(line.body, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")
        upload = await self._client.files.create(file=(f"{tag}.jsonl", data, "application/jsonl"), purpose="batch")
        batch = await self._client.batches.create(
            input_file_id=upload.id, endpoint=ENDPOINT, completion_window="24h", metadata={"judgekit_batch": tag}
        )
        return batch.id

    async def find(self, tag: str, n_requests: int, since: float, claimed: set[str]) -> str | None:
        async for batch in self._client.batches.list(limit=100):
            if (batch.metadata or {}).get("judgekit_batch") == tag:
                return batch.id
            if batch.created_at < since - LIST_BACK_S:
                return None
        return None

    async def state(self, batch_id: str) -> BatchState:
        batch = await self._client.batches.retrieve(batch_id)
        counts = batch.request_counts
        done = f"{counts.completed}/{counts.total} done, {counts.failed} failed" if counts else ""
        return BatchState(batch.status, batch.status in ENDED, done)

    async def outcomes(self, batch_id: str, lines: dict[str, Line]) -> dict[str, Outcome]:
        batch = await self._client.batches.retrieve(batch_id)
        if batch.status == "failed":  # the whole file was refused (validation); resending it cannot help
            errors = "; ".join(e.message or "" for e in (batch.errors.data or [])) if batch.errors else ""
            return {cid: Outcome(failure="errored", retryable=False, message=f"batch failed: {errors}"[:300])
                    for cid in lines}
        results: dict[str, Outcome] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                content = await self._client.files.content(file_id)
                for row in content.text.splitlines():
                    if row.strip():
                        item = json.loads(row)
                        results[item["custom_id"]] = self._outcome(item)
        return results

    def _outcome(self, item: dict[str, Any]) -> Outcome:
        response, error = item.get("response") or {}, item.get("error") or {}
        status = response.get("status_code")
        if status == 200:
            return Outcome(self.backend.read_reply(response["body"]))
        code = error.get("code")
        if code in NOT_RUN:
            return Outcome(failure=NOT_RUN[code], message=error.get("message") or code)
        body_error = (response.get("body") or {}).get("error") or {}
        message = f"HTTP {status}: {body_error.get('message') or error.get('message') or ''}"[:300]
        return Outcome(failure="errored", retryable=status is None or sdk.is_retryable_status(status), message=message)

    async def aclose(self) -> None:
        await self._client.close()
