"""The scripted server plus the providers' batch endpoints, for the real SDKs' batch clients.

:class:`BatchServer` is a :class:`servers.ScriptedServer` (so the live endpoints
and the ``answer`` oracle are the same) that also speaks:

- OpenAI: ``POST /v1/files`` (multipart upload, purpose ``batch``),
  ``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches/{id}``,
  ``GET /v1/batches`` (list, newest first);
- Anthropic: ``POST /v1/messages/batches``, ``GET /v1/messages/batches/{id}``,
  ``GET /v1/messages/batches/{id}/results`` (JSON lines), ``GET /v1/messages/batches``.

A batch is worked the first time it is polled while ``hold`` is False: every
line is answered by ``answer`` (counted in ``answered``, like a live call), and
the batch ends. Scripted trouble:

- ``hold = True`` keeps every batch in progress however often it is polled;
- ``expire_next(n)``: the next ``n`` batches to be worked end expired, with only
  their first half of lines answered (the rest come back expired);
- ``fail_lines(containing, status, times=1)``: lines whose prompt contains that
  text come back errored (``status`` 500 is transient, 400 a refused request),
  the first ``times`` times such a line is worked.

Counters: ``batches_created`` (per API), ``batch_lines`` (lines received), and
the inherited ``answered`` / ``max_answers_per_prompt()`` over live and batch calls.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from servers import Reply, ScriptedServer, _call, _render_anthropic, _render_openai, _text, prompt_key


class BatchServer(ScriptedServer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hold = False
        self._batch_lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.openai_batches: dict[str, dict[str, Any]] = {}
        self.anthropic_batches: dict[str, dict[str, Any]] = {}
        self._inputs: dict[str, list[dict[str, Any]]] = {}
        self._results: dict[str, bytes] = {}
        self._expire = 0
        self._failures: dict[str, list[int]] = {}
        self.batches_created: Counter[str] = Counter()
        self.batch_lines = 0

    def expire_next(self, n: int = 1) -> None:
        self._expire += n

    def fail_lines(self, containing: str, status: int = 500, times: int = 1) -> None:
        self._failures.setdefault(containing, []).extend([status] * times)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{id}/content", self._file_content)
        app.router.add_post("/v1/batches", self._openai_create)
        app.router.add_get("/v1/batches", self._openai_list)
        app.router.add_get("/v1/batches/{id}", self._openai_retrieve)
        app.router.add_post("/v1/messages/batches", self._anthropic_create)
        app.router.add_get("/v1/messages/batches", self._anthropic_list)
        app.router.add_get("/v1/messages/batches/{id}", self._anthropic_retrieve)
        app.router.add_get("/v1/messages/batches/{id}/results", self._anthropic_results)

    # -- shared work ---------------------------------------------------------------------

    def _answer_line(self, api: str, body: dict[str, Any]) -> tuple[str, Any]:
        """("ok", rendered reply) or ("error", status) for one request body."""
        if api == "openai":
            messages = [{"role": m["role"], "content": m["content"]} for m in body["messages"]]
            system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
            chat = [m for m in messages if m["role"] != "system"]
            call = _call("openai", body, system, chat, body.get("top_logprobs") if body.get("logprobs") else None)
        else:
            system = body.get("system") or ""
            chat = [{"role": m["role"], "content": _text(m["content"])} for m in body["messages"]]
            call = _call("anthropic", body, system, chat, None)
        with self._batch_lock:
            for text, planned in self._failures.items():
                if planned and text in call.prompt:
                    return "error", planned.pop(0)
        reply = self.answer(call)
        reply = reply if isinstance(reply, Reply) else Reply(reply)
        with self._lock:
            self.answered[prompt_key(call)] += 1
        return "ok", (_render_openai if api == "openai" else _render_anthropic)(call, reply)

    def _work(self, lines: list[dict[str, Any]]) -> tuple[bool, int]:
        """Whether this batch expires, and how many of its lines get worked."""
        with self._batch_lock:
            expired = self._expire > 0
            self._expire -= expired
        return expired, (len(lines) // 2 if expired else len(lines))

    # -- OpenAI ----------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        data = upload.file.read()
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = data
        return web.json_response({"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                                  "filename": upload.filename, "purpose": form["purpose"], "status": "processed"})

    async def _file_content(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["id"])
        if data is None:
            return web.json_response({"error": {"message": "no such file", "type": "invalid_request_error"}},
                                     status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _openai_create(self, request: web.Request) -> web.Response:
        body = await request.json()
        lines = [json.loads(line) for line in self.files[body["input_file_id"]].decode().splitlines() if line.strip()]
        with self._batch_lock:
            batch_id = f"batch_{len(self.openai_batches) + 1}"
            self.batches_created["openai"] += 1
            self.batch_lines += len(lines)
            self._inputs[batch_id] = lines
            self.openai_batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": body["endpoint"], "input_file_id": body["input_file_id"],
                "completion_window": body["completion_window"], "status": "in_progress",
                "created_at": int(time.time()), "metadata": body.get("metadata"), "output_file_id": None,
                "error_file_id": None, "errors": None,
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            }
        return web.json_response(self.openai_batches[batch_id])

    async def _openai_list(self, request: web.Request) -> web.Response:
        data = list(reversed(self.openai_batches.values()))
        return web.json_response({"object": "list", "data": data, "has_more": False,
                                  "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None})

    async def _openai_retrieve(self, request: web.Request) -> web.Response:
        batch = self.openai_batches.get(request.match_info["id"])
        if batch is None:
            return web.json_response({"error": {"message": "no such batch", "type": "invalid_request_error"}},
                                     status=404)
        if batch["status"] == "in_progress" and not self.hold:
            self._finish_openai(batch)
        return web.json_response(batch)

    def _finish_openai(self, batch: dict[str, Any]) -> None:
        lines = self._inputs[batch["id"]]
        expired, worked = self._work(lines)
        out, errors = [], []
        for i, line in enumerate(lines):
            cid = line["custom_id"]
            if i >= worked:
                errors.append({"id": f"r{i}", "custom_id": cid, "response": None,
                               "error": {"code": "batch_expired", "message": "not run before the batch expired"}})
                continue
            kind, result = self._answer_line("openai", line["body"])
            if kind == "ok":
                out.append({"id": f"r{i}", "custom_id": cid, "error": None,
                            "response": {"status_code": 200, "request_id": f"req{i}", "body": result}})
            else:
                errors.append({"id": f"r{i}", "custom_id": cid, "error": None, "response": {
                    "status_code": result, "request_id": f"req{i}",
                    "body": {"error": {"message": f"scripted failure {result}", "type": "server_error"}}}})
        for name, rows in (("output_file_id", out), ("error_file_id", errors)):
            if rows:
                file_id = f"file-{len(self.files) + 1}"
                self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[name] = file_id
        batch["request_counts"] = {"total": len(lines), "completed": len(out),
                                   "failed": len(errors) - (len(lines) - worked)}
        batch["status"] = "expired" if expired else "completed"

    # -- Anthropic -------------------------------------------------------------------------

    async def _anthropic_create(self, request: web.Request) -> web.Response:
        body = await request.json()
        now = datetime.now(UTC)
        with self._batch_lock:
            batch_id = f"msgbatch_{len(self.anthropic_batches) + 1}"
            self.batches_created["anthropic"] += 1
            self.batch_lines += len(body["requests"])
            self._inputs[batch_id] = body["requests"]
            self.anthropic_batches[batch_id] = {
                "id": batch_id, "type": "message_batch", "processing_status": "in_progress",
                "request_counts": {"processing": len(body["requests"]), "succeeded": 0, "errored": 0,
                                   "canceled": 0, "expired": 0},
                "created_at": now.isoformat(), "expires_at": (now + timedelta(hours=24)).isoformat(),
                "ended_at": None, "archived_at": None, "cancel_initiated_at": None, "results_url": None,
            }
        return web.json_response(self.anthropic_batches[batch_id])

    async def _anthropic_list(self, request: web.Request) -> web.Response:
        data = list(reversed(self.anthropic_batches.values()))
        return web.json_response({"data": data, "has_more": False,
                                  "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None})

    async def _anthropic_retrieve(self, request: web.Request) -> web.Response:
        batch = self.anthropic_batches.get(request.match_info["id"])
        if batch is None:
            return web.json_response({"type": "error", "error": {"type": "not_found_error", "message": "no batch"}},
                                     status=404)
        if batch["processing_status"] == "in_progress" and not self.hold:
            self._finish_anthropic(batch)
        return web.json_response(batch)

    def _finish_anthropic(self, batch: dict[str, Any]) -> None:
        requests = self._inputs[batch["id"]]
        expired, worked = self._work(requests)
        rows, counts = [], Counter()
        for i, item in enumerate(requests):
            if i >= worked:
                result: dict[str, Any] = {"type": "expired"}
            else:
                kind, reply = self._answer_line("anthropic", item["params"])
                if kind == "ok":
                    result = {"type": "succeeded", "message": reply}
                else:
                    error = "api_error" if reply >= 500 else "invalid_request_error"
                    result = {"type": "errored", "error": {"type": "error", "error": {
                        "type": error, "message": f"scripted failure {reply}"}}}
            counts[result["type"]] += 1
            rows.append({"custom_id": item["custom_id"], "result": result})
        self._results[batch["id"]] = "".join(json.dumps(r) + "\n" for r in rows).encode()
        batch["request_counts"] = {"processing": 0, "succeeded": counts["succeeded"], "errored": counts["errored"],
                                   "canceled": counts["canceled"], "expired": counts["expired"]}
        batch["processing_status"] = "ended"
        batch["ended_at"] = datetime.now(UTC).isoformat()
        batch["results_url"] = f"{self.url}/v1/messages/batches/{batch['id']}/results"

    async def _anthropic_results(self, request: web.Request) -> web.Response:
        data = self._results.get(request.match_info["id"])
        if data is None:
            return web.json_response({"type": "error", "error": {"type": "not_found_error", "message": "not ended"}},
                                     status=404)
        return web.Response(body=data, content_type="application/binary")
