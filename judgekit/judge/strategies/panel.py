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
from collections.abc import Sequence

from pydantic import Field, field_validator

from judgekit.judge.protocol import Member, Protocol, StrategyOptions
from judgekit.judge.strategies.aggregate import Rule, aggregate, vote_shares
from judgekit.judge.strategies.base import Calls, MemberSpec, PairwiseStrategy, options_of, register
from judgekit.judge.strategies.common import total_calls
from judgekit.records import Example, Verdict


class Seat(StrategyOptions):
    name: str
    judge: str
    """A judge spec such as ``openai:gpt-4o-mini``, or ``default``."""
    protocol: str
    """A built-in protocol id or a spec path."""
    base_url: str | None = None


class PanelOptions(StrategyOptions):
    members: list[Seat] = Field(min_length=2)
    aggregate: Rule = "majority"

    @field_validator("members")
    @classmethod
    def _unique(cls, members: list[Seat]) -> list[Seat]:
        if len({m.name for m in members}) != len(members):
            raise ValueError("member names must be unique")
        return members


@register("panel")
class Panel(PairwiseStrategy):
    """Each member judges with its own model and protocol; a vote per order decides."""

    Options = PanelOptions
    confidence_source = "vote share"

    def members(self, protocol: Protocol) -> list[MemberSpec]:
        return [
            MemberSpec(m.name, m.protocol, judge=m.judge, base_url=m.base_url, key=f"options.members[{i}].protocol")
            for i, m in enumerate(options_of(protocol, PanelOptions).members)
        ]

    def member_identity(self, member: Member) -> str:
        """A seat is its judge as well as its protocol."""
        return f"{member.name}={member.judge}@{member.base_url}:{member.protocol.content_hash}"

    def calls_per_item(self, protocol: Protocol) -> int | str:
        return total_calls(m.protocol.calls_per_item for m in protocol.members)

    async def run(self, protocol: Protocol, example: Example, calls: Calls[Example]) -> Verdict:
        options = options_of(protocol, PanelOptions)
        verdicts = await asyncio.gather(*(calls.member(m) for m in protocol.members))
        seats = [{"name": m.name, "judge": m.judge, "protocol": seat.protocol}
                 for m, seat in zip(protocol.members, options.members, strict=True)]
        return aggregate(protocol, example.id, seats, verdicts, options.aggregate)

    def confidence(self, results: Sequence[Verdict]) -> list[float | None]:
        """The share of seats whose winner is the panel's."""
        return vote_shares(results)
