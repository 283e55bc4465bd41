"""A panel (jury) of judges, each a model plus a protocol, aggregated by majority or mean
(Verga et al. 2024, "Replacing Judges with Juries", arXiv 2404.18796).

``options.members`` lists ``{name, judge, protocol, base_url}``: ``judge`` is a
spec such as ``openai:gpt-4o-mini`` or ``default`` (the judge the run was
started with). The run builds one call path per distinct member judge, with
its own cache, limits and shared budget (``judgekit.backends.seats``).
Each member's verdict is kept in ``details``.
"""

from __future__ import annotations

import asyncio

from judgekit.errors import BadInput
from judgekit.judge.protocol import Member, Protocol
from judgekit.judge.strategies.aggregate import RULES, aggregate
from judgekit.judge.strategies.base import Calls, MemberSpec, Strategy, register
from judgekit.judge.strategies.common import total_calls
from judgekit.records import Example, Verdict

MEMBER_KEYS = frozenset({"name", "judge", "protocol", "base_url"})


@register("panel")
class Panel(Strategy):
    """Each member judges with its own model and protocol; a vote per order decides."""

    options = frozenset({"members", "aggregate"})

    def check(self, protocol: Protocol) -> None:
        members, source = protocol.options.get("members", []), protocol.source
        if not isinstance(members, list) or len(members) < 2:
            raise BadInput(f"{source}: options.members: a panel needs a list of at least 2 members")
        for i, member in enumerate(members):
            if not isinstance(member, dict) or not {"name", "judge", "protocol"} <= set(member) <= MEMBER_KEYS:
                raise BadInput(f"{source}: options.members[{i}]: expected name, judge, protocol (and optional base_url)")
        if len({m["name"] for m in members}) != len(members):
            raise BadInput(f"{source}: options.members: member names must be unique")
        if protocol.options.get("aggregate", "majority") not in RULES:
            raise BadInput(f"{source}: options.aggregate: must be one of {', '.join(RULES)}")

    def members(self, protocol: Protocol) -> list[MemberSpec]:
        return [
            MemberSpec(m["name"], m["protocol"], judge=m["judge"], base_url=m.get("base_url"),
                       key=f"options.members[{i}].protocol")
            for i, m in enumerate(protocol.options["members"])
        ]

    def member_identity(self, member: Member) -> str:
        """A seat is its judge as well as its protocol."""
        return f"{member.name}={member.judge}@{member.base_url}:{member.protocol.content_hash}"

    def calls_per_item(self, protocol: Protocol) -> int | str:
        return total_calls(m.protocol.calls_per_item for m in protocol.members)

    async def run(self, protocol: Protocol, example: Example, calls: Calls) -> Verdict:
        verdicts = await asyncio.gather(*(calls.member(m) for m in protocol.members))
        seats = [{"name": m.name, "judge": m.judge, "protocol": spec["protocol"]}
                 for m, spec in zip(protocol.members, protocol.options["members"], strict=True)]
        return aggregate(protocol, example.id, seats, verdicts, protocol.options.get("aggregate", "majority"))
