"""Voting over repeated judgements of one judge (ReIFE, Liu et al. 2024, arXiv 2410.07069).

- Self-consistency (``options: {base, samples}``): the base protocol run
  ``samples`` times at this spec's temperature, each run a distinct sample
  (``Request.sample``) so the cache keeps them apart (Wang et al. 2023,
  arXiv 2203.11171).
- Protocol consistency (``options: {members}``): several protocols, one run each.

Votes are aggregated per order by majority (``options.aggregate``: majority
or mean); see ``judgekit.judge.strategies.aggregate``.
"""

from __future__ import annotations

import asyncio

from judgekit.errors import BadInput
from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies.aggregate import RULES, aggregate
from judgekit.judge.strategies.base import Calls, MemberSpec, Strategy, register
from judgekit.judge.strategies.common import total_calls
from judgekit.records import Example, Verdict


@register("votes")
class Votes(Strategy):
    """Several runs of one protocol (samples) or of several protocols; a vote per order decides."""

    options = frozenset({"base", "samples", "members", "aggregate"})

    def check(self, protocol: Protocol) -> None:
        options, source = protocol.options, protocol.source
        if ("base" in options) == ("members" in options):
            raise BadInput(f"{source}: options: give either base (+ samples) or members")
        if "base" in options and (not isinstance(options.get("samples"), int) or options["samples"] < 2):
            raise BadInput(f"{source}: options.samples: self-consistency needs an integer of at least 2")
        if "members" in options and (not isinstance(options["members"], list) or len(options["members"]) < 2):
            raise BadInput(f"{source}: options.members: protocol consistency needs a list of at least 2 protocols")
        if options.get("aggregate", "majority") not in RULES:
            raise BadInput(f"{source}: options.aggregate: must be one of {', '.join(RULES)}")

    def members(self, protocol: Protocol) -> list[MemberSpec]:
        """Samples 0..n-1 of the base at this spec's temperature, or one run per member protocol."""
        options = protocol.options
        if "base" in options:
            temperature = {"temperature": protocol.params.temperature}
            return [MemberSpec(f"sample-{i}", options["base"], sample=i, params=temperature)
                    for i in range(options["samples"])]
        return [MemberSpec(m, m) for m in options["members"]]

    def calls_per_item(self, protocol: Protocol) -> int | str:
        return total_calls(m.protocol.calls_per_item for m in protocol.members)

    async def run(self, protocol: Protocol, example: Example, calls: Calls) -> Verdict:
        members = await asyncio.gather(*(calls.member(m) for m in protocol.members))
        seats = [{"name": m.name} for m in protocol.members]
        return aggregate(protocol, example.id, seats, members, protocol.options.get("aggregate", "majority"))
