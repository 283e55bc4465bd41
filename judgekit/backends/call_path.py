"""The one road every model call takes: cache, concurrency bound, timeout, retry, cost.

Backends only translate a request into their provider's call and say which of
their errors are worth retrying; everything a run needs to be cheap, fast and
robust happens here, once, the same way for every provider.

Two choices matter for servers that queue requests (a self-hosted server often
answers one at a time):

- The timeout measures the server's silence, not a call's age. A call times
  out when nothing at all has come back from the server for ``timeout``
  seconds since it was sent, so a call waiting its turn behind others that
  are being answered is not abandoned (an abandoned call is still computed by
  such a server, and its retry queues behind it). A call is still given up at
  ``timeout`` times the concurrency ceiling, the longest a fair queue can hold it.
- Concurrency adapts (:mod:`judgekit.backends.adaptive`): timeouts and
  "too many requests" halve the calls in flight, answers win them back.
- An abandoned call still counts as in flight until the server has had time
  to finish it (it answers a call sent later, or ``timeout`` times the
  ceiling passes): a server that answers in turn works on it anyway, so a
  retry sent at once would queue behind its own abandoned copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime

from judgekit.backends.adaptive import AdaptiveLimit
from judgekit.backends.base import Backend, CallTag, Completion, Request
from judgekit.backends.cache import ResponseCache, cache_key
from judgekit.backends.prices import PriceTable
from judgekit.errors import BadInput, JudgekitError

log = logging.getLogger(__name__)


class UnreadableReply(Exception):
    """A backend got a reply it cannot make sense of (garbled or truncated body); retried."""

MAX_RETRY_AFTER_S = 120.0
"""Longest server-requested wait we honour; beyond it we wait this long."""

BACKOFF_BASE_S = 1.0
"""A first retry waits between half this and all of it, and each later one twice as long, up to the cap."""


@dataclass
class LiveUsage:
    """Running totals for progress displays; read it at any time."""

    calls: int = 0
    """Requests answered, cache hits included."""
    cache_hits: int = 0
    tokens_in: int = 0
    """Tokens of calls actually made (cache hits cost nothing and add none)."""
    tokens_out: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    """Calls to a model with no price: ``cost_usd`` is then a lower bound."""
    retries: int = 0
    """Attempts after a call's first (timeouts included)."""
    timeouts: int = 0
    """Attempts abandoned because the server stayed silent for the timeout."""
    prefix_restarts: int = 0
    """Replies that wrote the forced answer prefix again instead of continuing it
    (see :func:`restarts_prefix`), cache hits included."""
    in_flight: int = 0
    """Attempts sent and not yet answered."""
    last_reply_at: float | None = None
    """``time.monotonic()`` of the latest reply of any kind from the server."""
    waiting_since: float | None = None
    """``time.monotonic()`` when the calls now in flight started being waited for."""

    def silent_for(self) -> float:
        """Seconds the server has said nothing while calls wait for it (0 when none waits)."""
        if not self.in_flight or self.waiting_since is None:
            return 0.0
        return time.monotonic() - max(self.waiting_since, self.last_reply_at or self.waiting_since)


@dataclass(eq=False)
class _HeldSlot:
    """A concurrency slot kept by an abandoned attempt (see :meth:`CallPath._hold`)."""

    sent: float
    timer: asyncio.TimerHandle | None = None


class CallPath:
    """Wraps one backend; ``await complete(request)`` from as many tasks as you like.

    A CallPath, like its backend's connections, belongs to the event loop it is
    first used on.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        cache: ResponseCache | None = None,
        concurrency: int = 8,
        limiter: asyncio.Semaphore | None = None,
        timeout: float | None = None,
        max_retries: int = 6,
        prices: PriceTable | None = None,
        backoff_base: float | None = None,
        backoff_cap: float = 30.0,
    ) -> None:
        """``cache=None`` asks the backend every time (``--no-cache``), and so does a
        backend that does not store its answers. ``limiter`` is a budget shared
        with other CallPaths (a sweep's global cap); ``concurrency``
        caps this path alone (the adaptive limit moves below it), and the backend's
        own ``max_concurrency`` applies too. ``timeout`` is how long the server may
        stay silent before an attempt is abandoned (None: the backend's default);
        ``max_retries`` counts attempts after the first; ``backoff_base`` is BACKOFF_BASE_S unless given."""
        if concurrency < 1 or max_retries < 0:
            raise BadInput(f"need concurrency >= 1 and max_retries >= 0, got {concurrency} and {max_retries}")
        if timeout is not None and timeout <= 0:
            raise BadInput(f"need a timeout > 0 seconds, got {timeout:g}")
        self.backend = backend
        self.cache = cache if backend.stores_answers else None
        self.timeout = timeout if timeout is not None else backend.default_timeout
        self.max_retries = max_retries
        self.prices = prices if prices is not None else PriceTable.load()
        self.backoff_base = BACKOFF_BASE_S if backoff_base is None else backoff_base
        self.backoff_cap = backoff_cap
        ceiling = backend.max_concurrency or concurrency
        self.concurrency = min(concurrency, ceiling)
        self.slots = AdaptiveLimit(self.concurrency)
        self._limiter = limiter
        self._in_flight: dict[tuple[str, CallTag | None], asyncio.Future[Completion]] = {}
        """Calls being made, by cache key (and by tag, for a backend that answers by tag)."""
        self._answered = False
        self._held: list[_HeldSlot] = []
        """Slots of abandoned attempts, freed once the server has had time to finish them."""
        self._latest_answered = float("-inf")
        """When the latest-sent attempt the server has answered was sent."""
        self.usage = LiveUsage()

    async def complete(self, request: Request) -> Completion:
        """The answer to ``request``: from the cache, from an identical call in flight,
        or from the backend (retried until it succeeds or is hopeless)."""
        key = cache_key(self.backend.provider, self.backend.model, self.backend.endpoint_id, request)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.usage.calls += 1
                self.usage.cache_hits += 1
                self._check_prefix(request, hit)
                return hit
        flight = (key, request.tag if self.backend.answers_by_tag else None)
        while (pending := self._in_flight.get(flight)) is not None:
            # the same question is being asked right now: share its answer
            try:
                completion = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if pending.cancelled():
                    continue  # its asker was cancelled, not us: ask ourselves
                raise
            self.usage.calls += 1
            self.usage.cache_hits += 1
            self._check_prefix(request, completion)
            return replace(completion, cached=True, cost_usd=0.0, latency_s=0.0)
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._in_flight[flight] = future
        try:
            completion = await self._call_with_retries(request)
            if self.cache is not None:
                self.cache.put(key, self.backend.provider, self.backend.model, completion)
            future.set_result(completion)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            del self._in_flight[flight]
        self._check_prefix(request, completion)
        return completion

    def _check_prefix(self, request: Request, completion: Completion) -> None:
        if request.continuation is not None and restarts_prefix(request.continuation, completion.text):
            self.usage.prefix_restarts += 1

    @property
    def where(self) -> str:
        return f"{self.backend.provider}:{self.backend.model} at {self.backend.endpoint}"

    async def _call_with_retries(self, request: Request) -> Completion:
        for attempt in range(self.max_retries + 1):
            overloaded = abandoned = False
            epoch = await self.slots.acquire()
            queued = self.slots.active
            try:
                async with self._limiter or contextlib.nullcontext():
                    sent = time.monotonic()
                    completion = await self._attempt(request)
            except JudgekitError:
                raise  # the backend already turned a hopeless error into one clear line
            except TimeoutError as e:
                self.usage.timeouts += 1
                error, wait, overloaded, abandoned = e, None, True, True
            except UnreadableReply as e:
                error, wait = e, None
            except Exception as e:
                if not self._answered and (reason := unreachable(e)) is not None:
                    raise JudgekitError(f"{self.where}: cannot connect: {reason}") from None
                decision = self.backend.should_retry(e)
                if not decision.retry:
                    raise
                error, wait, overloaded = e, decision.retry_after, decision.overloaded
            else:
                self.slots.succeeded()
                self._latest_answered = max(self._latest_answered, sent)
                return completion
            finally:
                if abandoned:
                    self._hold(sent, queued)
                else:
                    self.slots.release()
            if overloaded:
                self.slots.overloaded(epoch)
            if attempt == self.max_retries:
                break
            self.usage.retries += 1
            delay = self._delay(attempt, wait)
            log.info("%s: %s, retry %d in %.2fs", request.purpose or "call", _summary(error), attempt + 1, delay)
            await asyncio.sleep(delay)
        raise JudgekitError(
            f"{self.where}: gave up after {self.max_retries + 1} attempts; "
            f"last error: {_summary(error)}{self._advice(error, overloaded)}"
        )

    async def _attempt(self, request: Request) -> Completion:
        """One call to the backend, abandoned when the server has been silent for the timeout."""
        self.backend.prepare()
        start = time.monotonic()
        if not self.backend.interruptible:
            completion = await self.backend.complete(request)
            return self._account(believable(completion, request), time.monotonic() - start)
        call = asyncio.ensure_future(self.backend.complete(request))
        if not self.usage.in_flight:
            self.usage.waiting_since = start
        self.usage.in_flight += 1
        try:
            while not call.done():
                now = time.monotonic()
                heard = max(start, self.usage.last_reply_at or start)
                cap = start + self.timeout * self.concurrency
                if now >= min(heard + self.timeout, cap):
                    raise TimeoutError(
                        f"no reply within {self.timeout * self.concurrency:g} s" if now >= cap
                        else f"the server sent nothing for {self.timeout:g} s"
                    )
                await asyncio.wait({call}, timeout=min(heard + self.timeout, cap) - now)
        finally:
            self.usage.in_flight -= 1
            if not call.done():
                call.cancel()
                await asyncio.wait({call})
        self.usage.last_reply_at = time.monotonic()  # an error status is a sign of life too
        completion = call.result()
        self._answered = True
        self._free_held(sent_before=time.monotonic())
        return self._account(believable(completion, request), time.monotonic() - start)

    def _hold(self, sent: float, queued: int) -> None:
        """Keep the slot of an attempt abandoned at a timeout: the server may still be working on it.

        A server answering in turn had at most ``queued`` of our calls (this one included) when it
        was sent, each answered within the timeout or the call would have timed out sooner: by
        ``timeout`` times that after sending, it is done with it. A server that has not replied at
        all yet has shown no pace: it gets the longest a fair queue may take, ``timeout`` times the
        concurrency ceiling. One that has already answered a call sent after this one is past it: the
        slot is free at once."""
        if self._latest_answered > sent:
            self.slots.release()
            return
        held = _HeldSlot(sent)
        replied = self.usage.last_reply_at is not None
        delay = max(0.0, sent + self.timeout * (queued if replied else self.concurrency) - time.monotonic())
        held.timer = asyncio.get_running_loop().call_later(delay, self._free, held)
        self._held.append(held)

    def _free_held(self, sent_before: float) -> None:
        """An answer to a call sent at ``sent_before``: a server that answers in turn is past every
        attempt sent earlier, and one that answers in parallel has had as long for them."""
        for held in [h for h in self._held if h.sent < sent_before]:
            self._free(held)

    def _free(self, held: _HeldSlot) -> None:
        if held in self._held:
            self._held.remove(held)
            if held.timer is not None:
                held.timer.cancel()
            self.slots.release()

    def _advice(self, error: BaseException, overloaded: bool) -> str:
        """What to change when a run gives up on an overloaded or slow server."""
        if isinstance(error, TimeoutError):
            return (f". A slow server, or one answering one request at a time, needs fewer calls in flight "
                    f"or a longer wait: try --concurrency {max(1, self.slots.lowest // 2)} "
                    f"or --timeout {self.timeout * 4:g}")
        if overloaded:
            return f". The server keeps asking to slow down: try --concurrency {max(1, self.slots.lowest // 2)}"
        return ""

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Honour the server's Retry-After; else exponential backoff with jitter, capped."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER_S)
        ceiling = min(self.backoff_cap, self.backoff_base * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _account(self, completion: Completion, latency: float) -> Completion:
        cost = self.prices.cost(
            self.backend.provider, self.backend.model, completion.tokens_in, completion.tokens_out
        )
        self.usage.calls += 1
        self.usage.tokens_in += completion.tokens_in
        self.usage.tokens_out += completion.tokens_out
        if cost is None:
            self.usage.unpriced_calls += 1
        else:
            self.usage.cost_usd += cost
        return replace(completion, cached=False, latency_s=latency, cost_usd=cost or 0.0)

    async def aclose(self) -> None:
        """Close the backend's connections (the cache is owned by whoever opened it)."""
        for held in list(self._held):
            self._free(held)
        await self.backend.aclose()


PROMPT_OVERHEAD_TOKENS = 10_000
"""Tokens a server may add to a prompt of its own (chat template, a system prompt it injects)."""


MAX_CHARS_PER_TOKEN = 256
"""More text than any token holds (tokenizers' longest are runs of a few dozen characters)."""


def believable(completion: Completion, request: Request) -> Completion:
    """``completion`` kept within what the request allows: what a server sends is its word only.

    - Text: a reply longer than ``max_tokens`` tokens could be (MAX_CHARS_PER_TOKEN each, plus
      4,096) is cut there, and so are log-probabilities past ``max_tokens``, so a 20 MB reply to a
      16-token request is not stored whole; half a UTF-16 pair becomes U+FFFD (it cannot be stored).
    - Usage, which cost follows from: a count that is not a whole number, or negative, is 0; one
      above what the call could use (a token per byte of the prompt plus PROMPT_OVERHEAD_TOKENS in;
      ``max_tokens`` or the reply's bytes out) is that bound.

    Anything changed is logged.
    """
    max_tokens = request.params.max_tokens
    text, logprobs = _text(completion.text[: max_tokens * MAX_CHARS_PER_TOKEN + 4096]), completion.top_logprobs
    if logprobs is not None:
        logprobs = tuple({_text(token): p for token, p in alternatives.items()}
                         for alternatives in logprobs[:max_tokens])
    prompt_bytes = sum(_bytes(m.content) for m in request.messages) + _bytes(request.continuation or "")
    bounds = (prompt_bytes + PROMPT_OVERHEAD_TOKENS, max(max_tokens, _bytes(text)))
    counts = (completion.tokens_in, completion.tokens_out)
    kept = tuple(min(n, bound) if isinstance(n, int) and n >= 0 else 0 for n, bound in zip(counts, bounds))
    if kept == counts and text == completion.text and logprobs == completion.top_logprobs:
        return completion
    log.warning("%s: the server's reply (%s characters, %s tokens in and %s out) is more than this call allows; "
                "kept %s characters, %s and %s tokens", request.purpose or "call", len(completion.text), *counts,
                len(text), *kept)
    return replace(completion, text=text, top_logprobs=logprobs, tokens_in=kept[0], tokens_out=kept[1])


def _bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _text(value: str) -> str:
    """``value`` with any half of a UTF-16 surrogate pair as U+FFFD (JSON can carry one; UTF-8 cannot)."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The wait a server asked for: ``retry-after-ms``, else ``retry-after`` (seconds or HTTP date)."""
    if not headers:
        return None
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return float(ms) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            when = parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def restarts_prefix(continuation: str, text: str) -> bool:
    """Whether a reply begins with the answer prefix it was asked to continue.

    A server that continues a final assistant message ``Output (`` replies
    ``a)``; one that closes that turn and starts a new reply (llama.cpp's
    Python server, OpenAI's API) writes ``Output (a)``: the model then saw a
    different prompt from the one the protocol means.
    """
    prefix = " ".join(continuation.split()).lower()
    return bool(prefix) and " ".join(text.lstrip("*#`> \n").split()).lower().startswith(prefix)


def unreachable(error: BaseException) -> str | None:
    """"connection refused" or "unknown host" when that is what lies under ``error``.

    Either way no retry will help within a run (a server that answered before
    and now refuses is restarting, so that case is retried).
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused (is the server running and listening on that port?)"
        if isinstance(seen, socket.gaierror):
            return "unknown host (the name does not resolve)"
        seen = seen.__cause__ or seen.__context__
    return None


def _summary(error: BaseException) -> str:
    """One line naming the error and its root cause, for logs and the give-up message.

    The root cause matters: an SDK may report a refused connection as a timeout.
    """
    root = error
    while root.__cause__ is not None:
        root = root.__cause__
    line = _describe(error)
    if root is not error and not isinstance(root, asyncio.CancelledError):
        line += f" (cause: {_describe(root)})"
    return line


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    detail = text[0][:200] if text else ""
    name = type(error).__name__
    return f"{name}: {detail}" if detail else name
