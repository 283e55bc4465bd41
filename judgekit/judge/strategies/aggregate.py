"""Combining several verdicts on one example into one (votes and panels).

Each presentation order is aggregated on its own (the members' winners for
that order, majority or mean), so accuracy per order and positional
agreement stay measurable; the final winner then follows the usual rule for
orders (``common.combine_orders``). Members' verdicts are kept in details,
each under its member name (replay finds their recorded answers there); how many of them
agree with the final verdict is the composite's confidence (:func:`vote_shares`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import Any, Literal

from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies.common import combine_orders, majority, mean_vote
from judgekit.records import OrderResult, Usage, Verdict

RULES = {"majority": majority, "mean": mean_vote}
Rule = Literal["majority", "mean"]


def aggregate(protocol: Protocol, example_id: str, seats: Sequence[dict[str, Any]], members: Sequence[Verdict],
              rule: str = "majority") -> Verdict:
    """One verdict from the members' verdicts, order by order.

    ``seats`` describe the members, in order: each has the member's ``name``
    (and whatever else identifies it, e.g. a panel seat's judge).
    """
    names = [seat["name"] for seat in seats]
    vote = RULES[rule]
    orders = []
    for swapped in sorted({o.swapped for m in members for o in m.orders}):
        winners = [o.winner for m in members for o in m.orders if o.swapped == swapped]
        tally = ", ".join(f"{n}: {o.winner}" for n, m in zip(names, members) for o in m.orders if o.swapped == swapped)
        orders.append(OrderResult(swapped=swapped, raw=f"{rule} of [{tally}]", winner=vote(winners)))
    winner, reason = combine_orders(protocol, orders)
    if reason == "unparseable":
        reason = "no_valid_member"
    details = {"rule": rule, "members": [
        {**seat, **m.model_dump(mode="json", exclude={"usage", "example_id"})} for seat, m in zip(seats, members)
    ]}
    usage = reduce(lambda x, y: x + y, (m.usage for m in members), Usage())
    return Verdict(example_id=example_id, winner=winner, orders=tuple(orders), invalid_reason=reason,
                   details=details, usage=usage)


def vote_shares(verdicts: Sequence[Verdict]) -> list[float | None]:
    """Per aggregated verdict, the share of its members whose winner is the final winner (None without members)."""
    shares: list[float | None] = []
    for verdict in verdicts:
        members = verdict.details.get("members") or []
        shares.append(sum(m.get("winner") == verdict.winner for m in members) / len(members) if members else None)
    return shares
