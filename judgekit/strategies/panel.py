"""A panel (jury) of judges, each a model plus a protocol, aggregated by majority or mean
(Verga et al. 2024, "Replacing Judges with Juries", arXiv 2404.18796).

``options.members`` lists ``{name, judge, protocol, base_url}``: ``judge`` is a
spec such as ``openai:gpt-4o-mini`` or ``default`` (the judge the run was
started with). Members with their own judge get their own call path (own
backend and limits, the run's response cache). Callers may instead pass a
mapping of member name to call path as ``call_path``. Each member's verdict
is kept in ``details``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from typing import Any

from judgekit.errors import BadInput
from judgekit.records import Example, Verdict
from judgekit.strategies.aggregate import RULES, aggregate
from judgekit.strategies.common import load_member, total_calls

OPTIONS = frozenset({"members", "aggregate"})
MEMBER_KEYS = frozenset({"name", "judge", "protocol", "base_url"})
_CALL_PATHS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str | None], Any]] = (
    weakref.WeakKeyDictionary()
)
"""Call paths built for members, per event loop (a call path's limits live on one loop)."""


def _members(protocol: Any) -> list[dict[str, Any]]:
    return protocol.options.get("members", [])


def check(protocol: Any) -> None:
    members, source = _members(protocol), protocol.source
    if not isinstance(members, list) or len(members) < 2:
        raise BadInput(f"{source}: options.members: a panel needs a list of at least 2 members")
    for i, member in enumerate(members):
        if not isinstance(member, dict) or not {"name", "judge", "protocol"} <= set(member) <= MEMBER_KEYS:
            raise BadInput(f"{source}: options.members[{i}]: expected name, judge, protocol (and optional base_url)")
        try:
            load_member(member["protocol"])
        except BadInput as e:
            raise BadInput(f"{source}: options.members[{i}].protocol: {e}") from None
    if len({m["name"] for m in members}) != len(members):
        raise BadInput(f"{source}: options.members: member names must be unique")
    if protocol.options.get("aggregate", "majority") not in RULES:
        raise BadInput(f"{source}: options.aggregate: must be one of {', '.join(RULES)}")


def required_templates(protocol: Any) -> tuple[str, ...]:
    return ()


def calls_per_item(protocol: Any) -> int | str:
    return total_calls(load_member(m["protocol"]).calls_per_item for m in _members(protocol))


def member_hashes(protocol: Any) -> list[str]:
    return [f"{m['name']}={m['judge']}@{m.get('base_url')}:{load_member(m['protocol']).content_hash}" for m in _members(protocol)]


def _call_path_for(member: dict[str, Any], given: Any) -> Any:
    """The member's call path: from a given mapping, the run's own, or one built for its judge.

    A call path is built only when the run itself uses a real ``CallPath``
    (sharing its cache and concurrency setting); stand-ins such as a dry-run
    counter or a replay serve every member, so they never reach a real model.
    """
    from judgekit.backends.callpath import CallPath

    if isinstance(given, Mapping):
        return given[member["name"]]
    if member["judge"] == "default" or not isinstance(given, CallPath):
        return given
    built = _CALL_PATHS.setdefault(asyncio.get_running_loop(), {})
    key = (member["judge"], member.get("base_url"))
    if key not in built:
        from judgekit.backends.registry import create_backend

        backend = create_backend(member["judge"], base_url=member.get("base_url"))
        built[key] = CallPath(backend, cache=given.cache, concurrency=given.concurrency)
    return built[key]


async def run(protocol: Any, example: Example, call_path: Any) -> Verdict:
    from judgekit.strategies import run_protocol

    members = _members(protocol)
    verdicts = await asyncio.gather(*(
        run_protocol(load_member(m["protocol"]), example, _call_path_for(m, call_path)) for m in members
    ))
    names = [f"{m['name']} ({m['judge']}, {m['protocol']})" for m in members]
    return aggregate(protocol, example.id, names, verdicts, protocol.options.get("aggregate", "majority"))
