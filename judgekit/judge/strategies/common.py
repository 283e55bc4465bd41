"""What pairwise strategies share: template variables, reading slots, combining orders and votes.

Presentation orders: ``swapped=False`` shows response_a as "Output (a)";
``swapped=True`` shows response_b first. Parsers return the *slot* the judge
picked; :func:`to_label` maps it back to the canonical a/b frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from judgekit.data.examples import majority as majority  # votes count as annotators' do (re-exported)
from judgekit.judge.orders import final_winner
from judgekit.judge.orders import mean_vote as mean_vote  # panels and votes average as the mean rule does
from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies.base import Calls
from judgekit.judge.strategies.parsing import parse_llmbar, parse_mtbench, parse_regex, parse_score, relabel
from judgekit.records import Example, OrderResult, Verdict

PAIR_VARIABLES = frozenset({"instruction", "output_1", "output_2", "reference"})
"""What a comparing template may use: the outputs in the order shown."""
SINGLE_VARIABLES = frozenset({"instruction", "response", "reference"})
"""What a template about one response may use."""


def pair_values(example: Example, swapped: bool) -> dict[str, Any]:
    """Template variables for one presentation order."""
    first, second = (example.response_b, example.response_a) if swapped else (example.response_a, example.response_b)
    return {"instruction": example.instruction, "output_1": first, "output_2": second, "reference": example.reference}


def to_label(slot: str | None, swapped: bool) -> str | None:
    """A slot (first/second/tie) as the canonical label a/b/tie."""
    if slot is None or slot == "tie":
        return slot
    return {"first": "b", "second": "a"}[slot] if swapped else {"first": "a", "second": "b"}[slot]


def parse_slot(protocol: Protocol, text: str) -> str | None:
    """The slot a pairwise reply picks under the protocol's parser; a forbidden tie is None."""
    parser = protocol.parser
    if parser.format == "llmbar":
        slot = parse_llmbar(relabel(text, parser.labels) if parser.labels else text)
    elif parser.format == "mtbench":
        slot = parse_mtbench(text)
    else:  # regex: the loader saw to it that the pattern has first and second groups
        slot = parse_regex(text, parser.pattern)
        slot = slot if isinstance(slot, str) else None
    return None if slot == "tie" and not protocol.ties else slot


def read_score(protocol: Protocol, text: str) -> float | None:
    """A rating reply's score under the protocol's parser (``rating`` or a regex with ``score``)."""
    parser = protocol.parser
    if parser.format == "regex":
        score = parse_regex(text, parser.pattern)
        return score if isinstance(score, float) and parser.min <= score <= parser.max else None
    return parse_score(text, parser.min, parser.max)


async def judge_order(calls: Calls, swapped: bool, template: str = "compare", **extra: Any) -> OrderResult:
    """One presentation order: render, call, parse, map the slot back to a/b."""
    completion = await calls.ask(template, swapped=swapped, **{**pair_values(calls.example, swapped), **extra})
    slot = parse_slot(calls.protocol, completion.text)
    return OrderResult(swapped=swapped, raw=completion.text, winner=to_label(slot, swapped))


def combine_orders(protocol: Protocol, orders: Sequence[OrderResult]) -> tuple[str | None, str | None]:
    """(final winner, invalid reason) from the per-order winners, by the spec's ``order_conflict``
    (``judgekit.judge.orders``: ``tie`` when none is declared, ``invalid`` or ``mean``)."""
    return final_winner([o.winner for o in orders], protocol.order_conflict)


def verdict(calls: Calls, orders: Sequence[OrderResult], details: dict[str, Any] | None = None) -> Verdict:
    """The verdict from per-order results, with the calls' usage."""
    winner, reason = combine_orders(calls.protocol, orders)
    return Verdict(
        example_id=calls.example.id, winner=winner, orders=tuple(orders),
        invalid_reason=reason, details=details or {}, usage=calls.usage(),
    )


def total_calls(counts: Iterable[int | str]) -> int | str:
    """A sum of calls per item, as a formula when any part varies."""
    counts = list(counts)
    if all(isinstance(c, int) for c in counts):
        return sum(counts)  # type: ignore[arg-type]
    return " + ".join(f"({c})" if isinstance(c, str) else str(c) for c in counts)
