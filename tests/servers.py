"""Scripted model servers on 127.0.0.1 that the real OpenAI and Anthropic SDKs can talk to.

One aiohttp server speaks both wire formats: ``POST /v1/chat/completions``
(OpenAI) and ``POST /v1/messages`` (Anthropic). It runs on its own event loop
in a background thread, so tests drive real SDK clients from their own loop.

Use it from a test module (the ``tests`` folder is on ``sys.path``)::

    from servers import Fault, ScriptedServer, scripted_server  # noqa: F401  (fixture)

    async def test_something(scripted_server):
        scripted_server.answer = lambda call: "Output (a)"      # or a smarter oracle
        scripted_server.inject(Fault.rate_limit(retry_after=0.2), Fault.server_error())
        backend = create_backend("openai:judge", base_url=scripted_server.openai_url)
        ...
        assert scripted_server.max_answers_per_prompt() == 1

API (all attributes are safe to read from the test's thread):

- ``answer``: ``Callable[[Call], str | Reply]`` deciding what the "model" says.
  A :class:`Call` is the request normalised across both formats: ``api``,
  ``model``, ``system``, ``messages`` (list of ``{"role", "content"}``),
  ``prompt`` (last user message), ``prefill`` (a trailing assistant message,
  else None), ``top_logprobs`` (int or None) and the raw JSON ``body``.
  Return a plain string, or a :class:`Reply` to also script log-probabilities.
  Default: ``echo`` (answers ``"echo: " + prompt``). It runs on the server's
  thread; if it raises, the client gets a 500 (and the call path retries), or
  ``status_for_error`` if set (e.g. 400) with the exception's text as the message.
- ``latency``: seconds every successful answer waits before replying.
- ``one_at_a_time``: computes answers one after another (``latency`` each), as
  llama.cpp's Python server does, and finishes an answer whose client has
  gone (``computed`` counts every answer worked out, delivered or not); ``warmup`` seconds are added
  to the first answer it works out (a model loading).
- ``capacity``: if set, a request arriving while that many are being handled
  gets a 429 without Retry-After (a server that sheds load).
- ``inject(*faults, prompt=None)``: queue faults. Without ``prompt`` they hit
  the next requests in arrival order, one fault per request; with ``prompt``
  (the last user message text) they hit only requests for that prompt.
  Kinds: ``Fault.rate_limit(retry_after, header="retry-after")`` (429;
  ``header="retry-after-ms"`` sends milliseconds), ``Fault.server_error(status=500)``,
  ``Fault.slow(seconds)`` (sleeps, then answers too late to count; ``release_slow()`` ends
  every such sleep now under way),
  ``Fault.garbled()`` (200 with a truncated JSON body), ``Fault.reset()``
  (drops the connection without a reply), ``Fault.http_error(code)`` (any error status).
- ``models``: if a set, any other model name gets a 404 in the API's error shape.
- ``api_key``: if set, a request carrying a different key gets a 401.
- Counters: ``requests`` (all received), ``answered`` (``Counter`` of
  successful replies per prompt key, see :func:`prompt_key`), ``faults_served``,
  ``peak_concurrency`` (most requests in the handler at once), ``seen_keys``
  (API keys received, to prove the client sent one), ``request_times``
  (monotonic arrival time of each request), ``queries`` (each request's
  URL query), ``computed`` (answers worked
  out, including abandoned ones; ``abandoned()`` = computed - delivered), ``peak_queued`` (the
  most answers a one-at-a-time server had to work out at once, abandoned ones included).
  ``max_answers_per_prompt()`` and ``total_answered()`` summarise ``answered``;
  ``reset_counters()`` zeroes everything but the configuration.
- Over HTTP too, for a server in another process: ``GET /_stats`` returns
  ``requests``, ``answered``, ``max_answers_per_prompt``, ``peak_concurrency``,
  ``computed``; ``POST /_reset`` zeroes them. ``python tests/servers.py --latency 1
  [--one-at-a-time] [--oracle DATASET]`` runs an echo (or perfect-judge) server and
  prints its URL as the first line of stdout.
- URLs: ``openai_url`` (``.../v1``, for ``base_url`` of ``openai:``) and
  ``anthropic_url`` (root, for ``anthropic:``).

Tokens are whitespace-separated words, both for usage counts and logprobs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web


@dataclass(frozen=True)
class Call:
    """One request as the answer function sees it, whichever API it came through."""

    api: str
    model: str
    system: str
    messages: list[dict[str, str]]
    prompt: str
    prefill: str | None
    top_logprobs: int | None
    body: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """A scripted answer; ``logprobs`` gives, per generated word, alternatives -> log-probability;
    ``finish_reason`` is OpenAI's (``content_filter``, ``length``), sent as Anthropic's ``stop_reason`` too;
    ``tokens`` (prompt, completion) is the usage to report instead of the counted one; ``choices=False``
    sends OpenAI's reply with an empty ``choices`` list (what a content filter may send)."""

    text: str
    logprobs: list[dict[str, float]] | None = None
    finish_reason: str = "stop"
    tokens: tuple[Any, Any] | None = None
    choices: bool = True


@dataclass(frozen=True)
class Fault:
    kind: str
    seconds: float = 0.0
    status: int = 500
    header: str = "retry-after"

    @staticmethod
    def rate_limit(retry_after: float = 1.0, header: str = "retry-after") -> Fault:
        return Fault("rate_limit", seconds=retry_after, status=429, header=header)

    @staticmethod
    def server_error(status: int = 500) -> Fault:
        return Fault("status", status=status)

    @staticmethod
    def http_error(code: int) -> Fault:
        return Fault("status", status=code)

    @staticmethod
    def slow(seconds: float) -> Fault:
        return Fault("slow", seconds=seconds)

    @staticmethod
    def garbled() -> Fault:
        return Fault("garbled")

    @staticmethod
    def reset() -> Fault:
        return Fault("reset")


def echo(call: Call) -> str:
    """Default answer: repeats the prompt, so every prompt gets a distinct, checkable reply."""
    return "echo: " + call.prompt


def oracle_for(examples: Any) -> Callable[[Call], str]:
    """An answer function naming the output slot that holds the humans' choice (a perfect judge)."""

    def answer(call: Call) -> str:
        text = call.system + "\n" + "\n".join(m["content"] for m in call.messages)
        for e in examples:
            at_a, at_b = text.find(e.response_a), text.find(e.response_b)
            if at_a >= 0 and at_b >= 0:
                gold_first = (at_a < at_b) == (e.gold == "a")
                return "Output (a)" if gold_first else "Output (b)"
        return "no idea"

    return answer


def prompt_key(call: Call) -> str:
    """What counts as "the same prompt" for the answered counter: API, model, system, messages."""
    identity = json.dumps([call.api, call.model, call.system, call.messages], sort_keys=True)
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def _default_logprobs(words: list[str], k: int) -> list[dict[str, float]]:
    """The spoken word at p=0.9, then k-1 made-up alternatives sharing the rest."""
    rest = math.log(0.1 / max(k - 1, 1))
    return [{word: math.log(0.9), **{f"{word}~{i}": rest for i in range(1, k)}} for word in words]


class ScriptedServer:
    """See the module docstring. Start with :meth:`start` or use it as a context manager."""

    def __init__(self, answer: Callable[[Call], str | Reply] = echo, latency: float = 0.0,
                 one_at_a_time: bool = False) -> None:
        self.answer = answer
        self.latency = latency
        self.one_at_a_time = one_at_a_time
        self.warmup = 0.0
        self.capacity: int | None = None
        self.status_for_error: int | None = None
        self._engine: asyncio.Lock | None = None
        self._released: asyncio.Event | None = None
        self._computing: set[asyncio.Future[None]] = set()
        self.models: set[str] | None = None
        self.api_key: str | None = None
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._by_prompt: dict[str, deque[Fault]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.reset_counters()

    # -- configuration and counters -------------------------------------------------

    def inject(self, *faults: Fault, prompt: str | None = None) -> None:
        with self._lock:
            target = self._queue if prompt is None else self._by_prompt.setdefault(prompt, deque())
            target.extend(faults)

    def release_slow(self) -> None:
        """Every ``Fault.slow`` being served answers now (a test that has seen what it waited for)."""
        def release() -> None:
            self._released.set()
            self._released = asyncio.Event()  # slow faults served later sleep their full time

        self._loop.call_soon_threadsafe(release)

    def reset_counters(self) -> None:
        with self._lock:
            self.requests = 0
            self.answered: Counter[str] = Counter()
            self.faults_served: Counter[str] = Counter()
            self.in_flight = 0
            self.peak_concurrency = 0
            self.seen_keys: set[str] = set()
            self.request_times: list[float] = []
            self.queries: list[dict[str, str]] = []
            self.computed = 0
            self.peak_queued = 0

    def max_answers_per_prompt(self) -> int:
        return max(self.answered.values(), default=0)

    def total_answered(self) -> int:
        return sum(self.answered.values())

    def abandoned(self) -> int:
        """Answers computed one at a time whose client had given up on them."""
        return self.computed - self.total_answered()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_url(self) -> str:
        return self.url

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def boot() -> None:
            self._engine = asyncio.Lock()
            self._released = asyncio.Event()
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_post("/v1/chat/completions", self._openai)
            app.router.add_post("/v1/messages", self._anthropic)
            app.router.add_get("/_stats", self._stats)
            app.router.add_post("/_reset", self._reset)
            self.add_routes(app)
            self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            self.port = self._runner.addresses[0][1]

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(boot())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="scripted-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def add_routes(self, app: web.Application) -> None:
        """Where a subclass adds endpoints (tests/batch_servers.py adds the batch APIs)."""

    async def _shutdown(self) -> None:
        for work in list(self._computing):  # abandoned answers still being computed
            work.cancel()
        await asyncio.gather(*self._computing, return_exceptions=True)
        await self._runner.cleanup()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling -------------------------------------------------------------

    def _next_fault(self, call: Call) -> Fault | None:
        with self._lock:
            scheduled = self._by_prompt.get(call.prompt)
            if scheduled:
                return scheduled.popleft()
            return self._queue.popleft() if self._queue else None

    async def _handle(self, request: web.Request, call: Call, render: Callable[..., dict],
                      key: str) -> web.StreamResponse:
        with self._lock:
            self.requests += 1
            self.request_times.append(time.monotonic())
            self.queries.append(dict(request.query))
            if self.capacity is not None and self.in_flight >= self.capacity:
                self.faults_served["over_capacity"] += 1
                return _error(call.api, 429, "rate_limit_error", "over capacity")
            self.in_flight += 1
            self.peak_concurrency = max(self.peak_concurrency, self.in_flight)
            if key:
                self.seen_keys.add(key)
        try:
            if self.api_key is not None and key != self.api_key:
                return _error(call.api, 401, "authentication_error", "invalid api key")
            if self.models is not None and call.model not in self.models:
                return _error(call.api, 404, "not_found_error", f"model {call.model} does not exist")
            fault = self._next_fault(call)
            if fault is not None:
                with self._lock:
                    self.faults_served[fault.kind] += 1
                return await self._serve_fault(request, call, fault, render)
            if self.one_at_a_time:
                work = asyncio.ensure_future(self._compute())
                self._computing.add(work)
                self.peak_queued = max(self.peak_queued, len(self._computing))
                work.add_done_callback(self._computing.discard)
                await asyncio.shield(work)  # a client that leaves does not stop the work
            elif self.latency:
                await asyncio.sleep(self.latency)
            try:
                reply = self.answer(call)
            except Exception as e:
                if self.status_for_error is None:
                    raise
                return _error(call.api, self.status_for_error, "invalid_request_error", str(e))
            reply = reply if isinstance(reply, Reply) else Reply(reply)
            response = web.json_response(render(call, reply))
            with self._lock:
                self.answered[prompt_key(call)] += 1
            return response
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _compute(self) -> None:
        async with self._engine:
            await asyncio.sleep(self.latency + (self.warmup if self.computed == 0 else 0.0))
            with self._lock:
                self.computed += 1

    async def _serve_fault(self, request: web.Request, call: Call, fault: Fault,
                           render: Callable[..., dict]) -> web.StreamResponse:
        if fault.kind == "rate_limit":
            value = str(int(fault.seconds * 1000)) if fault.header == "retry-after-ms" else str(fault.seconds)
            return _error(call.api, 429, "rate_limit_error", "slow down", {fault.header: value})
        if fault.kind == "status":
            return _error(call.api, fault.status, "api_error", f"scripted failure {fault.status}")
        if fault.kind == "slow":
            try:  # the client has given up by the end of it
                await asyncio.wait_for(self._released.wait(), fault.seconds)
            except TimeoutError:
                pass
            return web.json_response(render(call, Reply("too late")))
        if fault.kind == "garbled":
            body = json.dumps(render(call, Reply("garbled")))[:25]
            return web.Response(status=200, text=body, content_type="application/json")
        if fault.kind == "reset":
            request.transport.abort()
            return web.Response()  # never delivered: the connection is gone
        raise ValueError(f"unknown fault {fault.kind}")

    async def _stats(self, request: web.Request) -> web.Response:
        with self._lock:
            stats = {
                "requests": self.requests,
                "answered": self.total_answered(),
                "max_answers_per_prompt": self.max_answers_per_prompt(),
                "peak_concurrency": self.peak_concurrency,
                "computed": self.computed,
            }
        return web.json_response(stats)

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset_counters()
        return web.json_response({})

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        messages = [{"role": m["role"], "content": m["content"]} for m in body["messages"]]
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        chat = [m for m in messages if m["role"] != "system"]
        call = _call("openai", body, system, chat, body.get("top_logprobs") if body.get("logprobs") else None)
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return await self._handle(request, call, _render_openai, key)

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        system = body.get("system") or ""
        if isinstance(system, list):
            system = "\n\n".join(block["text"] for block in system)
        chat = [{"role": m["role"], "content": _text(m["content"])} for m in body["messages"]]
        call = _call("anthropic", body, system, chat, None)
        # this SDK release sends the key as a bearer token; older ones as x-api-key
        key = request.headers.get("x-api-key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        return await self._handle(request, call, _render_anthropic, key)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content)


def _call(api: str, body: dict, system: str, chat: list[dict[str, str]], top: int | None) -> Call:
    prefill = chat[-1]["content"] if chat and chat[-1]["role"] == "assistant" else None
    users = [m["content"] for m in chat if m["role"] == "user"]
    return Call(api, body["model"], system, chat, users[-1] if users else "", prefill, top, body)


def _render_openai(call: Call, reply: Reply) -> dict:
    words = reply.text.split()
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": reply.text},
        "finish_reason": reply.finish_reason,
        "logprobs": None,
    }
    if call.top_logprobs:
        table = reply.logprobs or _default_logprobs(words, call.top_logprobs)
        choice["logprobs"] = {
            "content": [
                {
                    "token": max(alts, key=alts.get),
                    "logprob": max(alts.values()),
                    "bytes": None,
                    "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in alts.items()],
                }
                for alts in table
            ]
        }
    prompt_tokens, completion_tokens = reply.tokens or (
        sum(len(m["content"].split()) for m in call.messages) + len(call.system.split()), len(words))
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model,
        "choices": [choice] if reply.choices else [],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens if reply.tokens is None else 0},
    }


def _render_anthropic(call: Call, reply: Reply) -> dict:
    prompt_tokens, completion_tokens = reply.tokens or (
        sum(len(m["content"].split()) for m in call.messages) + len(call.system.split()), len(reply.text.split()))
    return {
        "id": "msg_scripted",
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": "end_turn" if reply.finish_reason == "stop" else reply.finish_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
    }


def _error(api: str, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    if api == "anthropic":
        body = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.json_response(body, status=status, headers=headers)


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """A fresh server per test, echoing prompts, no faults, no latency."""
    with ScriptedServer() as server:
        yield server


def _serve_forever() -> None:
    """Run an echo server in this process (``--latency`` seconds per answer) until killed."""
    import argparse

    parser = argparse.ArgumentParser(description="Scripted OpenAI/Anthropic echo server on 127.0.0.1")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--one-at-a-time", action="store_true",
                        help="compute answers serially, finishing abandoned ones")
    parser.add_argument("--oracle", metavar="DATASET", help="answer like a perfect judge of this dataset's pairs")
    args = parser.parse_args()
    answer = echo
    if args.oracle:
        from judgekit.data import load_dataset

        answer = oracle_for(load_dataset(args.oracle).examples)
    server = ScriptedServer(answer, latency=args.latency, one_at_a_time=args.one_at_a_time).start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    finally:
        server.stop()


if __name__ == "__main__":
    _serve_forever()


def client_closed(backend) -> bool:
    """The backend's SDK client is closed, or was never made (it is made on the first call the cache cannot answer)."""
    return "_client" not in vars(backend) or backend._client.is_closed()
