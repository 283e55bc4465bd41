"""Strategies: the Python that runs a protocol spec against a call path (one module each).

A strategy module provides ``async run(protocol, example, call_path) -> Verdict``,
``required_templates(protocol)`` and ``calls_per_item(protocol)``; it may also
declare ``OPTIONS`` (its allowed ``options`` keys), ``check(protocol)`` for
extra validation and ``member_hashes(protocol)`` when it runs other protocols.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any

from judgekit.records import Example, Verdict

STRATEGIES = (
    "pairwise", "staged", "swap_synthesize", "rating", "votes", "checklist",
    "decompose_critique", "panel", "logprob",
)


def strategy_module(name: str) -> ModuleType:
    """The module that implements a strategy (imported on first use)."""
    return import_module(f"judgekit.strategies.{name}")


async def run_protocol(protocol: Any, example: Example, call_path: Any) -> Verdict:
    """Judge one example with a loaded protocol; ``call_path`` has ``async complete(request)``."""
    return await strategy_module(protocol.strategy).run(protocol, example, call_path)
