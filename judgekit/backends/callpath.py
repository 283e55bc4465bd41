"""The one road every model call takes: cache, concurrency bound, timeout, retry, cost.

Backends only translate a request into their provider's call and say which of
their errors are worth retrying; everything a run needs to be cheap, fast and
robust happens here, once, the same way for every provider.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime

from judgekit.backends.base import Backend, Completion, Request
from judgekit.backends.cache import ResponseCache, cache_key
from judgekit.backends.prices import PriceTable
from judgekit.errors import BadInput, JudgekitError

log = logging.getLogger(__name__)


class UnreadableReply(Exception):
    """A backend got a reply it cannot make sense of (garbled or truncated body); retried."""

MAX_RETRY_AFTER_S = 120.0
"""Longest server-requested wait we honour; beyond it we wait this long."""


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
        timeout: float = 60.0,
        max_retries: int = 6,
        prices: PriceTable | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
    ) -> None:
        """``cache=None`` asks the backend every time (``--no-cache``). ``limiter`` is a
        budget shared with other CallPaths (a sweep's global cap); ``concurrency``
        caps this path alone, and the backend's own ``max_concurrency`` applies too.
        ``timeout`` bounds each attempt; ``max_retries`` counts attempts after the first."""
        if concurrency < 1 or max_retries < 0:
            raise BadInput(f"need concurrency >= 1 and max_retries >= 0, got {concurrency} and {max_retries}")
        self.backend = backend
        self.cache = cache
        self.timeout = timeout
        self.max_retries = max_retries
        self.prices = prices if prices is not None else PriceTable.load()
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        ceiling = backend.max_concurrency or concurrency
        self.concurrency = min(concurrency, ceiling)
        self._slots = asyncio.Semaphore(self.concurrency)
        self._limiter = limiter
        self._in_flight: dict[str, asyncio.Future[Completion]] = {}
        self.usage = LiveUsage()

    async def complete(self, request: Request) -> Completion:
        """The answer to ``request``: from the cache, from an identical call in flight,
        or from the backend (retried until it succeeds or is hopeless)."""
        key = cache_key(self.backend.provider, self.backend.model, self.backend.endpoint, request)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.usage.calls += 1
                self.usage.cache_hits += 1
                return hit
        while (pending := self._in_flight.get(key)) is not None:
            # the same question is being asked right now: share its answer
            try:
                completion = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if pending.cancelled():
                    continue  # its asker was cancelled, not us: ask ourselves
                raise
            self.usage.calls += 1
            self.usage.cache_hits += 1
            return replace(completion, cached=True, cost_usd=0.0, latency_s=0.0)
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
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
            del self._in_flight[key]
        return completion

    async def _call_with_retries(self, request: Request) -> Completion:
        for attempt in range(self.max_retries + 1):
            try:
                async with AsyncExitStack() as slots:
                    # own slot first: a call queued behind its siblings holds no shared permit
                    await slots.enter_async_context(self._slots)
                    if self._limiter is not None:
                        await slots.enter_async_context(self._limiter)
                    start = time.monotonic()
                    timeout = self.timeout if self.backend.interruptible else None
                    completion = await asyncio.wait_for(self.backend.complete(request), timeout)
            except JudgekitError:
                raise  # the backend already turned a hopeless error into one clear line
            except (TimeoutError, asyncio.TimeoutError):
                error, wait = TimeoutError(f"no reply within {self.timeout:g} s"), None
            except UnreadableReply as e:
                error, wait = e, None
            except Exception as e:
                decision = self.backend.should_retry(e)
                if not decision.retry:
                    raise
                error, wait = e, decision.retry_after
            else:
                return self._account(completion, time.monotonic() - start)
            if attempt == self.max_retries:
                break
            self.usage.retries += 1
            delay = self._delay(attempt, wait)
            log.info("%s: %s, retry %d in %.2fs", request.purpose or "call", _summary(error), attempt + 1, delay)
            await asyncio.sleep(delay)
        raise JudgekitError(
            f"{self.backend.provider}:{self.backend.model} at {self.backend.endpoint}: "
            f"gave up after {self.max_retries + 1} attempts; last error: {_summary(error)}"
        )

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
        await self.backend.aclose()


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
