"""What a provider's batch API offers judgekit: send lines, find a sent batch, poll, read outcomes.

One implementation per provider (``batch_openai``, ``batch_anthropic``), each
through its official SDK and reusing its live backend's request mapping and
reply reading, so a batch line is exactly the request a live call would send.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from judgekit.backends.base import Completion, Request


@dataclass(frozen=True)
class Limits:
    """A provider's documented ceiling per batch."""

    max_requests: int
    max_bytes: int


@dataclass(frozen=True)
class Line:
    """One request as a line of a batch: the JSON the provider gets, plus how to read its answer."""

    custom_id: str
    body: dict[str, Any]
    read: dict[str, Any] = field(default_factory=dict)

    def size(self) -> int:
        return len(json.dumps(self.body, ensure_ascii=False).encode("utf-8")) + 1


@dataclass(frozen=True)
class Outcome:
    """What a finished batch says about one request."""

    completion: Completion | None = None
    failure: str | None = None
    """``expired``, ``canceled`` or ``errored`` when there is no answer."""
    retryable: bool = True
    message: str = ""


@dataclass(frozen=True)
class BatchState:
    status: str
    """The provider's own word (validating, in_progress, completed, expired, ended, ...)."""
    ended: bool
    counts: str = ""


class BatchAPI(ABC):
    """One provider's batch endpoints, through its official SDK, for one live backend."""

    limits: ClassVar[Limits]

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    @abstractmethod
    def line(self, custom_id: str, request: Request) -> Line:
        """The request exactly as the live backend would send it, as one batch line."""

    @abstractmethod
    async def submit(self, lines: list[Line], tag: str) -> str:
        """Send a batch; its provider id."""

    @abstractmethod
    async def find(self, tag: str, n_requests: int, since: float, claimed: set[str]) -> str | None:
        """A batch already sent for ``tag`` (a run killed before it wrote the id down), if any."""

    @abstractmethod
    async def state(self, batch_id: str) -> BatchState: ...

    @abstractmethod
    async def outcomes(self, batch_id: str, lines: dict[str, Line]) -> dict[str, Outcome]:
        """Every answered or failed request of an ended batch, by custom id."""

    async def aclose(self) -> None:
        """Release connections."""
