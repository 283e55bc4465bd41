"""Multi-role debate: personas argue in turns over both outputs, then one call decides
(ChatEval, Chan et al. 2023, arXiv 2308.07201; ReIFE's multi-role-round1/round2,
Liu et al. 2024, arXiv 2410.07069).

``options.personas`` lists ``{name, role}``: ``name`` (lower-case, ``_``
allowed) names the speaker, ``role`` says who they are and what they weigh.
``options.rounds`` is how many times each persona speaks. In every
presentation order the personas speak one after another, in the listed
order (ChatEval's "one-by-one" communication), each seeing the transcript
so far; then ``decide`` reads the whole debate and answers as the spec's
parser expects.

Templates: ``argue`` (with ``persona``, ``role``, ``round``, ``rounds`` and
``transcript``, the turns so far) and ``decide`` (with ``transcript``), both
also seeing the pair. Each turn's text is kept in ``details`` as
``<persona>_round<r>_<order>``; the decision is the order's raw text.
"""

from __future__ import annotations

import re

from judgekit.errors import BadInput
from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies.base import Calls, Strategy, order_name, register
from judgekit.judge.strategies.common import PAIR_VARIABLES, judge_order, pair_values, verdict
from judgekit.records import Example, Verdict

PERSONA_NAME = re.compile(r"[a-z][a-z_]*")


@register("debate")
class Debate(Strategy):
    """Personas take turns for ``rounds`` rounds per order; ``decide`` reads the debate."""

    options = frozenset({"personas", "rounds"})
    templates = ("argue", "decide")
    variables = PAIR_VARIABLES | {"persona", "role", "round", "rounds", "transcript"}
    reads = "slot"

    def check(self, protocol: Protocol) -> None:
        personas, rounds, source = protocol.options.get("personas"), protocol.options.get("rounds"), protocol.source
        if not isinstance(personas, list) or len(personas) < 2:
            raise BadInput(f"{source}: options.personas: a debate needs a list of at least 2 personas")
        for i, persona in enumerate(personas):
            if not isinstance(persona, dict) or set(persona) != {"name", "role"}:
                raise BadInput(f"{source}: options.personas[{i}]: expected {{name, role}}")
            if not isinstance(persona["name"], str) or not PERSONA_NAME.fullmatch(persona["name"]):
                raise BadInput(f"{source}: options.personas[{i}].name: lower-case letters and _ only")
        if len({p["name"] for p in personas}) != len(personas):
            raise BadInput(f"{source}: options.personas: names must be unique")
        if not isinstance(rounds, int) or rounds < 1:
            raise BadInput(f"{source}: options.rounds: a positive integer")

    def calls_per_item(self, protocol: Protocol) -> int:
        turns = len(protocol.options["personas"]) * protocol.options["rounds"]
        return (turns + 1) * len(protocol.swaps)

    async def run(self, protocol: Protocol, example: Example, calls: Calls) -> Verdict:
        details: dict[str, str] = {}
        orders = []
        for swapped in protocol.swaps:  # the orders' debates are independent; one at a time keeps turns in order
            transcript = await debate(protocol, calls, swapped, details)
            orders.append(await judge_order(calls, swapped, "decide", transcript=transcript))
        return verdict(calls, orders, details)


async def debate(protocol: Protocol, calls: Calls, swapped: bool, details: dict[str, str]) -> str:
    """All turns of one order's debate; each turn is kept in ``details``. Returns the transcript."""
    rounds = protocol.options["rounds"]
    turns: list[str] = []
    for round_ in range(1, rounds + 1):
        for persona in protocol.options["personas"]:
            stage = f"{persona['name']}_round{round_}_{order_name(swapped)}"
            reply = await calls.ask(
                "argue", swapped=swapped, stage=stage, persona=persona["name"], role=persona["role"],
                round=round_, rounds=rounds, transcript="\n\n".join(turns), **pair_values(calls.example, swapped),
            )
            details[stage] = reply.text
            turns.append(f"[{persona['name']}, round {round_}]\n{reply.text}")
    return "\n\n".join(turns)
