"""The call paths of one run: its judge's, and one per other judge its protocol seats.

A panel may seat judges other than the run's own. Their call paths are built
by whoever builds the run's (``judgekit.judge.api.load_judge``), with the same
cache, timeout, retries and shared concurrency budget, and closed with it:
no call of a run escapes its limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol as Interface

from judgekit.backends.base import Completion, Request
from judgekit.backends.call_path import CallPath

JudgeKey = tuple[str, str | None]
"""A seated judge: its spec (``openai:gpt-4o-mini``) and base URL."""


class Caller(Interface):
    """Anything a strategy can send a request to: a ``CallPath``, a dry-run
    counter, a test's scripted judge."""

    async def complete(self, request: Request) -> Completion: ...


class CallPaths:
    """The run's call path plus one per other judge, looked up by (spec, base URL).

    Built from a single caller, every judge is served by it: a dry-run counter,
    a replay or a test double stands in for every seat, so nothing can reach
    a real model by accident.
    """

    def __init__(self, default: Caller, others: Mapping[JudgeKey, Caller] | None = None) -> None:
        self.default = default
        self.others = dict(others or {})

    def for_judge(self, judge: str, base_url: str | None, enclosing: Caller) -> Caller:
        """The caller for a seat: ``default`` keeps the enclosing protocol's judge."""
        if judge == "default":
            return enclosing
        if not self.others:
            return self.default
        return self.others[(judge, base_url)]

    def all(self) -> list[Caller]:
        return [self.default, *self.others.values()]

    async def aclose(self) -> None:
        """Close every real call path (each closes its backend's connections)."""
        for caller in self.all():
            if isinstance(caller, CallPath):
                await caller.aclose()
