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
also seeing the pair. Each turn is the call ``<persona>_round<r>_<order>``;
the decision is the order's raw text.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from judgekit.judge.protocol import Protocol, StrategyOptions
from judgekit.judge.strategies.base import Calls, PairwiseStrategy, options_of, order_name, register
from judgekit.judge.strategies.common import PAIR_VARIABLES, judge_order, pair_values, verdict
from judgekit.records import Example, Verdict


class Persona(StrategyOptions):
    name: str = Field(pattern=r"^[a-z][a-z_]*$")
    """Who speaks: lower-case letters and _ only."""
    role: str
    """Who they are and what they weigh."""


class DebateOptions(StrategyOptions):
    personas: list[Persona] = Field(min_length=2)
    rounds: int = Field(ge=1)
    """How many times each persona speaks, per order."""

    @field_validator("personas")
    @classmethod
    def _unique(cls, personas: list[Persona]) -> list[Persona]:
        if len({p.name for p in personas}) != len(personas):
            raise ValueError("names must be unique")
        return personas


@register("debate")
class Debate(PairwiseStrategy):
    """Personas take turns for ``rounds`` rounds per order; ``decide`` reads the debate."""

    Options = DebateOptions
    templates = ("argue", "decide")
    variables = PAIR_VARIABLES | {"persona", "role", "round", "rounds", "transcript"}
    reads = "slot"

    def calls_per_item(self, protocol: Protocol) -> int:
        options = options_of(protocol, DebateOptions)
        return (len(options.personas) * options.rounds + 1) * len(protocol.swaps)

    async def run(self, protocol: Protocol, example: Example, calls: Calls[Example]) -> Verdict:
        orders = []
        for swapped in protocol.swaps:  # the orders' debates are independent; one at a time keeps turns in order
            transcript = await debate(options_of(protocol, DebateOptions), calls, swapped)
            orders.append(await judge_order(calls, swapped, "decide", transcript=transcript))
        return verdict(calls, orders)


async def debate(options: DebateOptions, calls: Calls[Example], swapped: bool) -> str:
    """All turns of one order's debate, as the transcript the next turn and the decision read."""
    turns: list[str] = []
    for round_ in range(1, options.rounds + 1):
        for persona in options.personas:
            reply = await calls.ask(
                "argue", swapped=swapped, stage=f"{persona.name}_round{round_}_{order_name(swapped)}",
                persona=persona.name, role=persona.role, round=round_, rounds=options.rounds,
                transcript="\n\n".join(turns), **pair_values(calls.example, swapped),
            )
            turns.append(f"[{persona.name}, round {round_}]\n{reply.text}")
    return "\n\n".join(turns)
