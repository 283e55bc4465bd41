"""Voting over repeated judgements of one judge (ReIFE, Liu et al. 2024, arXiv 2410.07069).

- Self-consistency (``options: {base, samples}``): the base protocol run
  ``samples`` times at this spec's temperature, each run a distinct sample
  (``Request.sample``) so the cache keeps them apart (Wang et al. 2023,
  arXiv 2203.11171).
- Protocol consistency (``options: {members}``): several protocols, one run each.

Votes are aggregated per order by majority (``options.aggregate``: majority
or mean); see ``judgekit.strategies.aggregate``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from judgekit.errors import BadInput
from judgekit.records import Example, Verdict
from judgekit.strategies.aggregate import RULES, aggregate
from judgekit.strategies.common import Sampled, load_member, total_calls

OPTIONS = frozenset({"base", "samples", "members", "aggregate"})


def check(protocol: Any) -> None:
    options, source = protocol.options, protocol.source
    if ("base" in options) == ("members" in options):
        raise BadInput(f"{source}: options: give either base (+ samples) or members")
    if "base" in options and (not isinstance(options.get("samples"), int) or options["samples"] < 2):
        raise BadInput(f"{source}: options.samples: self-consistency needs an integer of at least 2")
    if "members" in options and (not isinstance(options["members"], list) or len(options["members"]) < 2):
        raise BadInput(f"{source}: options.members: protocol consistency needs a list of at least 2 protocols")
    if options.get("aggregate", "majority") not in RULES:
        raise BadInput(f"{source}: options.aggregate: must be one of {', '.join(RULES)}")
    for member_id in _member_ids(protocol):
        try:
            load_member(member_id)
        except BadInput as e:
            raise BadInput(f"{source}: options: member protocol '{member_id}': {e}") from None


def _member_ids(protocol: Any) -> list[str]:
    if "base" in protocol.options:
        return [protocol.options["base"]] * protocol.options["samples"]
    return list(protocol.options["members"])


def required_templates(protocol: Any) -> tuple[str, ...]:
    return ()


def calls_per_item(protocol: Any) -> int | str:
    return total_calls(load_member(m).calls_per_item for m in _member_ids(protocol))


def member_hashes(protocol: Any) -> list[str]:
    return [load_member(m).content_hash for m in dict.fromkeys(_member_ids(protocol))]


async def run(protocol: Any, example: Example, call_path: Any) -> Verdict:
    from judgekit.strategies import run_protocol

    if "base" in protocol.options:
        base = load_member(protocol.options["base"])
        temperature = protocol.params.temperature
        sampled = base.model_copy(update={"params": replace(base.params, temperature=temperature)})
        n = protocol.options["samples"]
        names = [f"sample-{i}" for i in range(n)]
        members = await asyncio.gather(*(
            run_protocol(sampled, example, Sampled(call_path, i, temperature)) for i in range(n)
        ))
    else:
        names = list(protocol.options["members"])
        members = await asyncio.gather(*(run_protocol(load_member(m), example, call_path) for m in names))
    return aggregate(protocol, example.id, names, members, protocol.options.get("aggregate", "majority"))
