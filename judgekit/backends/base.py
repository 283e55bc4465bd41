"""What every backend implements: one async call from a Request to a Completion.

Caching, retries, concurrency limits and cost accounting are not a backend's
business; they live in one shared call path that wraps every backend. A
backend only translates a Request into its provider's call and classifies
its provider's errors as retryable or not.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from judgekit.errors import JudgekitError


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
class CallTag:
    """What a call is for, typed: where a run keeps its answer, so replay can find it.

    A strategy names each call's ``stage``: the key under which the verdict
    keeps the reply's text in ``Verdict.details`` (``metrics``, ``rate_a``,
    ``differences_swapped``), or the deciding call (``compare``) whose text
    is the order's ``OrderResult.raw``. ``member`` is the path of member
    names inside composite protocols (``("sample-3",)``, ``("jury", "cot")``).
    """

    example: str
    stage: str
    order: Literal["original", "swapped"] | None = None
    """The presentation order the call judges; None for calls outside any order."""
    member: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "/".join([self.example, *self.member, *([self.order] if self.order else []), self.stage])


@dataclass(frozen=True)
class Request:
    """One model call: messages plus sampling settings plus which sample it is."""

    messages: tuple[Message, ...]
    params: SamplingParams = SamplingParams()
    sample: int = 0
    """Index of this sample when a protocol draws several at temperature > 0."""
    continuation: str | None = None
    """Text the assistant's reply must start with (answer prefix for logprobs)."""
    tag: CallTag | None = None
    """What the call is for: used by the replay backend to find a recorded
    answer and shown in logs; not in the cache key (see ``Backend.answers_by_tag``)."""

    @property
    def purpose(self) -> str:
        """The tag as one line for logs, e.g. ``ex-17/swapped/compare``."""
        return str(self.tag) if self.tag is not None else ""


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


class Refused(JudgekitError):
    """The server will not answer this one request (e.g. HTTP 400, context too long).

    Not retried; the runner records the item as an invalid verdict with
    ``reason`` and goes on, since other items may be fine.
    """

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: request refused ({reason})")
        self.where = where
        self.reason = reason


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    retry_after: float | None = None
    """Seconds the server asked us to wait (Retry-After), if it said."""
    overloaded: bool = False
    """The server said it has too much to do (429, 503): fewer calls in flight help."""


class Backend(ABC):
    """A model provider. Subclasses register themselves by ``provider`` name."""

    provider: ClassVar[str]
    max_concurrency: ClassVar[int | None] = None
    """A provider-imposed ceiling on parallel calls (e.g. 1 for a local engine)."""
    default_timeout: float = 60.0
    """Seconds of server silence before an attempt is abandoned, unless the user says."""
    interruptible: ClassVar[bool] = True
    """False for an in-process engine: a call cannot be abandoned mid-way, so the
    call path waits for it rather than timing out and queueing a retry behind it."""
    answers_by_tag: ClassVar[bool] = False
    """True when the answer follows the call's tag rather than its messages (a replay):
    two calls with the same messages but different tags are then different calls."""
    stores_answers: bool = True
    """False when the persistent response cache must neither serve nor store the
    answers: they cost nothing, and what gives them can change under the same
    name (a run dir recorded again, a Python function edited)."""

    def __init__(self, model: str, **options: Any) -> None:
        self.model = model
        self.options = options

    def prepare(self) -> None:
        """Load what calls need (an SDK and its client) before the first one: the call path times a
        server's silence, which an import on the event loop must not count as."""

    @property
    def endpoint(self) -> str:
        """Where calls go, as shown to people (a base URL without its secrets, or a file path)."""
        return self.provider

    @property
    def endpoint_id(self) -> str:
        """Where calls go, as the cache key and a run's identity tell servers apart: ``endpoint``,
        but with a URL's query values hashed rather than masked (``urls.fingerprint``)."""
        return self.endpoint

    @abstractmethod
    async def complete(self, request: Request) -> Completion:
        """Make one call. Raise the provider's own errors; the call path retries."""

    def should_retry(self, error: BaseException) -> RetryDecision:
        """Classify an error from ``complete``; default: never retry."""
        return RetryDecision(retry=False)

    async def aclose(self) -> None:
        """Release connections or engines."""

