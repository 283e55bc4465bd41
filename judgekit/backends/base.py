"""What every backend implements: one async call from a Request to a Completion.

Caching, retries, concurrency limits and cost accounting are not a backend's
business; they live in one shared call path that wraps every backend. A
backend only translates a Request into its provider's call and classifies
its provider's errors as retryable or not.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Message:
    role: str
    """``system``, ``user`` or ``assistant``."""
    content: str


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings; every field takes part in the cache key."""

    temperature: float = 0.0
    max_tokens: int = 512
    top_logprobs: int | None = None
    """Ask for this many alternatives of each generated token, where supported."""
    stop: tuple[str, ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()
    """Provider-specific settings passed through as-is (sorted key/value pairs)."""


@dataclass(frozen=True)
class Request:
    """One model call: messages plus sampling settings plus which sample it is."""

    messages: tuple[Message, ...]
    params: SamplingParams = SamplingParams()
    sample: int = 0
    """Index of this sample when a protocol draws several at temperature > 0."""
    continuation: str | None = None
    """Text the assistant's reply must start with (answer prefix for logprobs)."""
    purpose: str = ""
    """What the call is for, e.g. ``ex-17/swapped/compare``: shown in logs and
    used by the replay backend to find a recorded answer; not in the cache key."""


@dataclass(frozen=True)
class Completion:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reason: str | None = None
    top_logprobs: tuple[dict[str, float], ...] | None = None
    """For each generated token, its alternatives' log-probabilities."""
    cached: bool = False
    latency_s: float = 0.0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    retry_after: float | None = None
    """Seconds the server asked us to wait (Retry-After), if it said."""


class Backend(ABC):
    """A model provider. Subclasses register themselves by ``provider`` name."""

    provider: ClassVar[str]
    max_concurrency: ClassVar[int | None] = None
    """A provider-imposed ceiling on parallel calls (e.g. 1 for a local engine)."""
    interruptible: ClassVar[bool] = True
    """False for an in-process engine: a call cannot be abandoned mid-way, so the
    call path waits for it rather than timing out and queueing a retry behind it."""

    def __init__(self, model: str, **options: Any) -> None:
        self.model = model
        self.options = options

    @property
    def endpoint(self) -> str:
        """Where calls go; part of the cache key (a base URL, or a file path)."""
        return self.provider

    @abstractmethod
    async def complete(self, request: Request) -> Completion:
        """Make one call. Raise the provider's own errors; the call path retries."""

    def should_retry(self, error: BaseException) -> RetryDecision:
        """Classify an error from ``complete``; default: never retry."""
        return RetryDecision(retry=False)

    async def aclose(self) -> None:
        """Release connections or engines."""

