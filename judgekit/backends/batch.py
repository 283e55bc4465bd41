"""Provider batch APIs behind the ordinary call path: same requests, same cache, half the price.

In batch mode a judge's call path keeps its cache, its in-flight sharing and
its accounting, but its backend is a :class:`BatchBackend`: a request that
misses the cache is not sent; it waits in a queue. When no new request has
arrived for ``SETTLE_S`` (every example is waiting for an answer) or a
batch is full, the queue goes out as one batch through the provider's batch
API (``batch_openai``, ``batch_anthropic``), within its documented limits.
When the batch ends, each answer resolves its waiting request exactly as a
live reply would, so protocols with several stages simply run in rounds:
stage 1 of every example in one batch, stage 2 in the next, and so on.

Durability (``<run dir>/batches/<call path>/``):

- before anything is sent, ``bNNNN.requests.jsonl`` holds the batch's lines
  and ``ledger.jsonl`` a ``prepared`` event with a tag unique to the batch;
- after the provider accepts it, a ``submitted`` event with its batch id;
- when it has ended, ``bNNNN.results.jsonl`` holds every answer, then a
  ``collected`` event.

A resumed run reads the ledger: submitted batches are polled again, never
resent; a batch prepared but not known to be submitted is first looked up
at the provider by its tag (OpenAI: batch metadata; Anthropic keeps none, so:
a batch created after the preparation with the same request count that no
other ledger entry claims) and only sent when none is found. Collected
answers are served from the results file.

Retry policy for requests that come back without an answer: ``expired`` and
``canceled`` requests, and ``errored`` ones the provider calls transient
(HTTP 429/5xx, overload), go into the next batch, up to ``max_attempts``
batches per request; the providers bill none of these, so nothing is paid
twice. A refused request (HTTP 400-class) fails its example's verdict with
a one-line error, as a refused live call does. Answers are priced at the
batch column of the price table.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from judgekit.backends.base import Backend, Completion, Request, RetryDecision
from judgekit.backends.batch_anthropic import AnthropicBatches
from judgekit.backends.batch_api import BatchAPI, Line, Outcome
from judgekit.backends.batch_openai import OpenAIBatches
from judgekit.backends.cache import SCHEME, cache_key
from judgekit.backends.call_path import CallPath
from judgekit.backends.seats import CallPaths
from judgekit.errors import BadInput, JudgekitError
from judgekit.records import json_lines

if TYPE_CHECKING:
    from judgekit.judge.api import Judge

log = logging.getLogger(__name__)
T = TypeVar("T")

BATCH_DIR = "batches"
LEDGER = "ledger.jsonl"
PROVIDER_OPS_RETRIES = 6
"""Attempts at one upload, create, poll or download before the run gives up."""
SETTLE_S = 1.0
"""Seconds without a new request after which the waiting requests go out as a batch: every example
has asked by then. Small next to a batch's minutes to hours, long next to the gaps between requests."""


BATCH_APIS: dict[str, type[BatchAPI]] = {"openai": OpenAIBatches, "anthropic": AnthropicBatches}
"""Provider -> its batch API; other providers' judges stay live in batch mode."""


def batch_api(backend: Backend) -> BatchAPI | None:
    """The batch API for a live backend's provider, or None if it has none."""
    api = BATCH_APIS.get(backend.provider)
    return api(backend) if api is not None else None


@dataclass
class _Batch:
    local: str
    tag: str
    lines: dict[str, Line]
    prepared_at: float
    batch_id: str | None = None
    status: str = "prepared"


class BatchBackend(Backend):
    """Answers requests through a provider's batch API; see the module docstring."""

    interruptible = False  # a batch may take up to 24 h: the call path must not time its requests out
    provider = "batch"

    def __init__(self, live: Backend, api: BatchAPI, folder: Path, *, poll_s: float = 30.0,
                 max_attempts: int = 4, on_event: Callable[[str], None] | None = None) -> None:
        super().__init__(live.model)
        self.provider = live.provider  # the cache key is the live call's: batch answers are the same answers
        self.live, self.api, self.folder = live, api, folder
        self.poll_s, self.max_attempts = poll_s, max_attempts
        self.on_event = on_event
        self._waiting: dict[str, asyncio.Future[Completion]] = {}
        self._pending: dict[str, Line] = {}
        self._answers: dict[str, Completion] = {}
        self._attempts: Counter[str] = Counter()
        self._batches: dict[str, _Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        self._started = False

    @property
    def endpoint(self) -> str:
        return self.live.endpoint

    @property
    def endpoint_id(self) -> str:
        return self.live.endpoint_id

    def should_retry(self, error: BaseException) -> RetryDecision:
        return RetryDecision(retry=False)  # transient trouble is retried here, batch by batch

    def states(self) -> Counter[str]:
        """How many batches are in each state (for progress lines)."""
        return Counter(b.status for b in self._batches.values())

    async def complete(self, request: Request) -> Completion:
        if not self._started:
            self._start()
        key = cache_key(self.live.provider, self.live.model, self.live.endpoint_id, request)
        if key in self._answers:
            return self._answers.pop(key)
        waiter = self._waiting.get(key)
        if waiter is None:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting[key] = waiter
            if not self._in_a_batch(key):
                self._pending[key] = self.api.line(key.removeprefix(SCHEME + ":"), request)
                self._wake.set()
        return await asyncio.shield(waiter)

    def _in_a_batch(self, key: str) -> bool:
        custom_id = key.removeprefix(SCHEME + ":")
        return any(b.status != "collected" and custom_id in b.lines for b in self._batches.values())

    # -- the flusher: pending requests -> batches --------------------------------------------

    def _start(self) -> None:
        self._started = True
        self._wake = asyncio.Event()
        self.folder.mkdir(parents=True, exist_ok=True)
        for batch in self._read_ledger():
            if batch.status == "collected":
                self._answers.update(self._read_results(batch))
            else:
                self._spawn(self._follow(batch))
        self._spawn(self._flush_forever())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        for waiter in self._waiting.values():  # the run stops with this error; nothing hangs
            if not waiter.done():
                waiter.set_exception(error)
        self._waiting.clear()

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while len(self._pending) < self.api.limits.max_requests:
                try:
                    await asyncio.wait_for(self._wake.wait(), SETTLE_S)
                except TimeoutError:
                    break
                self._wake.clear()
            while self._pending:
                batch = self._prepare(self._take_chunk())
                self._spawn(self._follow(batch))

    def _take_chunk(self) -> dict[str, Line]:
        """The oldest pending lines that fit one batch (count and bytes)."""
        limits, chunk, size = self.api.limits, {}, 0
        for key, line in list(self._pending.items()):
            if len(chunk) == limits.max_requests or (chunk and size + line.size() > limits.max_bytes):
                break
            if line.size() > limits.max_bytes:
                raise BadInput(f"{self.live.provider}:{self.model}: one request is larger than a whole batch may be")
            chunk[line.custom_id] = self._pending.pop(key)
            size += line.size()
        return chunk

    def _prepare(self, lines: dict[str, Line]) -> _Batch:
        """Write the batch's lines and a ``prepared`` event before anything is sent."""
        local = f"b{len(self._batches) + 1:04d}"
        batch = _Batch(local, f"judgekit-{secrets.token_hex(8)}-{local}", lines, time.time())
        _write_lines(self.folder / f"{local}.requests.jsonl",
                     [{"custom_id": cid, "body": line.body, "read": line.read} for cid, line in lines.items()])
        self._record({"event": "prepared", "batch": local, "tag": batch.tag, "n": len(lines), "at": batch.prepared_at})
        self._batches[local] = batch
        for cid in lines:
            self._attempts[cid] += 1
        return batch

    # -- following one batch: submit (or find), poll, collect --------------------------------

    async def _follow(self, batch: _Batch) -> None:
        if batch.batch_id is None:
            claimed = {b.batch_id for b in self._batches.values() if b.batch_id}
            found = await self._provider("look for", lambda: self.api.find(
                batch.tag, len(batch.lines), batch.prepared_at, claimed)) if batch.status == "resumed" else None
            batch.batch_id = found or await self._provider("submit", lambda: self.api.submit(
                list(batch.lines.values()), batch.tag))
            self._record({"event": "submitted", "batch": batch.local, "id": batch.batch_id, "found": bool(found)})
            self._report(batch, "submitted", f"{len(batch.lines)} requests" + (" (found, not resent)" if found else ""))
        while True:
            state = await self._provider("poll", lambda: self.api.state(batch.batch_id))
            if state.status != batch.status:
                batch.status = state.status
                self._report(batch, state.status, state.counts)
            if state.ended:
                break
            await asyncio.sleep(self.poll_s)
        outcomes = await self._provider("read results of", lambda: self.api.outcomes(batch.batch_id, batch.lines))
        self._collect(batch, outcomes)

    def _collect(self, batch: _Batch, outcomes: dict[str, Outcome]) -> None:
        answered = {cid: o.completion for cid, o in outcomes.items() if o.completion is not None}
        _write_lines(self.folder / f"{batch.local}.results.jsonl",
                     [{"custom_id": cid, "completion": _completion_json(c)} for cid, c in answered.items()])
        requeued = failed = 0
        for cid, line in batch.lines.items():
            key = f"{SCHEME}:{cid}"
            outcome = outcomes.get(cid, Outcome(failure="missing", message="no result line"))
            waiter = self._waiting.get(key)
            if outcome.completion is not None:
                if waiter is None:
                    self._answers[key] = outcome.completion  # asked before a restart; may be asked again
                else:
                    del self._waiting[key]
                    waiter.set_result(outcome.completion)
            elif waiter is None:
                continue  # nobody waits for it now: asked again later, it goes into a new batch
            elif outcome.retryable and self._attempts[cid] < self.max_attempts:
                self._pending[key] = line
                requeued += 1
            else:
                del self._waiting[key]
                failed += 1
                waiter.set_exception(JudgekitError(
                    f"{self.live.provider}:{self.model}: batch {batch.batch_id}: request {cid[:12]}: "
                    f"{outcome.failure} after {self._attempts[cid]} batch(es): {outcome.message}"))
        batch.status = "collected"
        self._record({"event": "collected", "batch": batch.local, "answered": len(answered),
                      "requeued": requeued, "failed": failed})
        self._report(batch, "collected", f"{len(answered)} answered, {requeued} into the next batch, {failed} failed")
        if requeued:
            self._wake.set()

    async def _provider(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        """One provider operation, retried with backoff on what the live backend calls transient."""
        for attempt in range(PROVIDER_OPS_RETRIES):
            try:
                return await op()
            except JudgekitError:
                raise
            except Exception as e:
                decision = self.live.should_retry(e)
                if not decision.retry or attempt == PROVIDER_OPS_RETRIES - 1:
                    raise JudgekitError(f"{self.live.provider}:{self.model}: could not {what} a batch: "
                                        f"{type(e).__name__}: {str(e)[:200]}") from e
                delay = decision.retry_after or min(30.0, 2**attempt) * random.uniform(0.5, 1.0)
                log.info("batch %s: %s, retry in %.1fs", what, type(e).__name__, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    # -- the ledger ----------------------------------------------------------------------------

    def _record(self, event: dict[str, Any]) -> None:
        with (self.folder / LEDGER).open("a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")
            f.flush()

    def _read_ledger(self) -> list[_Batch]:
        path = self.folder / LEDGER
        if not path.exists():
            return []
        text = path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]  # a torn last event: the step it records did not finish
        for _, event in json_lines(text, str(path)):
            local = event.get("batch")
            if event.get("event") == "prepared":
                lines = self._read_requests(self.folder / f"{local}.requests.jsonl")
                batch = _Batch(local, event["tag"], lines, event["at"], status="resumed")
                self._batches[local] = batch
                for cid in lines:
                    self._attempts[cid] += 1
            elif local in self._batches and event.get("event") == "submitted":
                self._batches[local].batch_id = event["id"]
                self._batches[local].status = "submitted"
            elif local in self._batches and event.get("event") == "collected":
                self._batches[local].status = "collected"
            else:
                raise BadInput(f"{path}: event {event!r} does not follow a prepared batch")
        return list(self._batches.values())

    @staticmethod
    def _read_requests(path: Path) -> dict[str, Line]:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BadInput(f"{path}: missing (the ledger names this batch)") from None
        return {d["custom_id"]: Line(d["custom_id"], d["body"], d["read"]) for _, d in json_lines(text, str(path))}

    def _read_results(self, batch: _Batch) -> dict[str, Completion]:
        path = self.folder / f"{batch.local}.results.jsonl"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BadInput(f"{path}: missing (the ledger says this batch was collected)") from None
        return {f"{SCHEME}:{d['custom_id']}": Completion(**{**d["completion"], "top_logprobs": _logprobs(d)})
                for _, d in json_lines(text, str(path))}

    def _report(self, batch: _Batch, status: str, detail: str) -> None:
        line = f"batch {batch.local} ({self.live.provider}:{self.model}, {len(batch.lines)} requests): {status}"
        if detail:
            line += f" - {detail}"
        log.info(line)
        if self.on_event is not None:
            self.on_event(line)

    async def aclose(self) -> None:
        """Stop following batches (they go on at the provider; a rerun picks them up) and close clients."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.api.aclose()
        await self.live.aclose()


def _completion_json(completion: Completion) -> dict[str, Any]:
    data = asdict(completion)
    for name in ("cached", "latency_s", "cost_usd"):
        data.pop(name)
    return data


def _logprobs(data: dict[str, Any]) -> tuple[dict[str, float], ...] | None:
    value = data["completion"].get("top_logprobs")
    return tuple(value) if value is not None else None


def _write_lines(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def batched(call_path: CallPath, folder: Path, **options: Any) -> CallPath:
    """The same call path (cache, retries) with its requests sent in batches, priced at batch rates.

    Its concurrency is the provider's batch size: every example can wait on a batch at once.
    """
    api = batch_api(call_path.backend)
    if api is None:
        return call_path
    backend = BatchBackend(call_path.backend, api, folder, **options)
    return CallPath(backend, cache=call_path.cache, concurrency=api.limits.max_requests,
                    max_retries=0, prices=call_path.prices.at_batch_rates())


def use_batches(judge: Judge, run_path: Path, **options: Any) -> None:
    """Switch a judge's call paths (its own and every seat's) to batch mode for the run at ``run_path``.

    Judges whose provider has no batch API stay live. Each batched call path
    keeps its ledger in ``run_path/batches/<provider>-<hash of model and endpoint>``.
    """
    def folder(path: CallPath) -> Path:
        backend = path.backend
        digest = hashlib.sha256(f"{backend.provider}|{backend.model}|{backend.endpoint}".encode()).hexdigest()[:10]
        return run_path / BATCH_DIR / f"{backend.provider}-{digest}"

    paths = judge.paths
    judge.paths = CallPaths(
        batched(paths.default, folder(paths.default), **options),
        {seat: batched(path, folder(path), **options) for seat, path in paths.others.items()},
    )
    judge.call_path = judge.paths.default


def unfinished_batches(run_path: Path) -> list[str]:
    """Ledger entries of batches not yet collected (a live resume would pay for them twice)."""
    open_batches = []
    for ledger in sorted((run_path / BATCH_DIR).glob(f"*/{LEDGER}")):
        status: dict[str, str] = {}
        for _, event in json_lines(ledger.read_text(encoding="utf-8"), str(ledger)):
            status[event.get("batch")] = event.get("event")
        open_batches += [f"{ledger.parent.name}/{b}" for b, s in status.items() if s != "collected"]
    return open_batches
