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
from collections.abc import Sequence

from pydantic import Field, model_validator

from judgekit.judge.protocol import Protocol, StrategyOptions
from judgekit.judge.strategies.aggregate import Rule, aggregate, vote_shares
from judgekit.judge.strategies.base import Calls, MemberSpec, PairwiseStrategy, options_of, register
from judgekit.judge.strategies.common import total_calls
from judgekit.records import Example, Verdict


class VotesOptions(StrategyOptions):
    base: str | None = None
    """Self-consistency: the protocol sampled ``samples`` times."""
    samples: int | None = Field(None, ge=2)
    members: list[str] | None = Field(None, min_length=2)
    """Protocol consistency: the protocols run once each."""
    aggregate: Rule = "majority"

    @model_validator(mode="after")
    def _one_kind(self) -> VotesOptions:
        if (self.base is None) == (self.members is None):
            raise ValueError("give either base (+ samples) or members")
        if self.base is not None and self.samples is None:
            raise ValueError("self-consistency needs samples (an integer of at least 2)")
        return self


@register("votes")
class Votes(PairwiseStrategy):
    """Several runs of one protocol (samples) or of several protocols; a vote per order decides."""

    Options = VotesOptions
    confidence_source = "vote share"

    def members(self, protocol: Protocol) -> list[MemberSpec]:
        """Samples 0..n-1 of the base at this spec's temperature, or one run per member protocol."""
        options = options_of(protocol, VotesOptions)
        if options.base is not None and options.samples is not None:
            temperature = {"temperature": protocol.params.temperature}
            return [MemberSpec(f"sample-{i}", options.base, sample=i, params=temperature)
                    for i in range(options.samples)]
        return [MemberSpec(m, m) for m in options.members or ()]

    def calls_per_item(self, protocol: Protocol) -> int | str:
        return total_calls(m.protocol.calls_per_item for m in protocol.members)

    async def run(self, protocol: Protocol, example: Example, calls: Calls[Example]) -> Verdict:
        members = await asyncio.gather(*(calls.member(m) for m in protocol.members))
        seats = [{"name": m.name} for m in protocol.members]
        return aggregate(protocol, example.id, seats, members, options_of(protocol, VotesOptions).aggregate)

    def confidence(self, results: Sequence[Verdict]) -> list[float | None]:
        """The share of runs whose winner is the vote's."""
        return vote_shares(results)
