"""Staged comparison: auxiliary texts written first, then read by the comparing call.

Covers LLMBar's Metrics, Reference and Metrics+Reference (Zeng et al. 2024,
arXiv 2310.07641) and ReIFE's fine-grained differences, multi-aspect and
prepair protocols (Liu et al. 2024, arXiv 2410.07069). ``options.stages``
lists the auxiliary stages in order, each ``{name, per}``:

- ``per: item``: one call per example, independent of the order (metrics,
  a reference answer); its text is ``{{ <name> }}`` in later templates;
- ``per: response``: one call per response seen alone (prepair's pointwise
  analyses); later templates see ``{{ <name>_1 }}`` / ``{{ <name>_2 }}`` for
  the response shown first / second;
- ``per: order``: one call per presentation order, seeing both outputs
  (fine-grained differences, aspect-wise analysis); ``{{ <name> }}``.

Then ``compare`` decides, one call per order. The stages are the calls ``<name>`` /
``<name>_a`` / ``<name>_b`` / ``<name>_<order>``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field

from judgekit.judge.protocol import Protocol, StrategyOptions
from judgekit.judge.strategies.base import Calls, PairwiseStrategy, options_of, order_name, register
from judgekit.judge.strategies.common import PAIR_VARIABLES, judge_order, pair_values, verdict
from judgekit.records import Example, Verdict


class Stage(StrategyOptions):
    name: str
    per: Literal["item", "response", "order"]


class StagedOptions(StrategyOptions):
    stages: list[Stage] = Field(min_length=1)


def _stages(protocol: Protocol) -> list[Stage]:
    return options_of(protocol, StagedOptions).stages


@register("staged")
class Staged(PairwiseStrategy):
    """Auxiliary stages in order (``options.stages``), then ``compare`` per order."""

    Options = StagedOptions
    reads = "slot"

    def required_templates(self, protocol: Protocol) -> tuple[str, ...]:
        return (*(s.name for s in _stages(protocol)), "compare")

    def template_variables(self, protocol: Protocol) -> frozenset[str]:
        """The pair, ``response`` for per-response stages, and every stage's text."""
        names = set()
        for stage in _stages(protocol):
            names |= {f"{stage.name}_1", f"{stage.name}_2"} if stage.per == "response" else {stage.name}
        return PAIR_VARIABLES | {"response"} | names

    def calls_per_item(self, protocol: Protocol) -> int:
        per = {"item": 1, "response": 2, "order": len(protocol.swaps)}
        return sum(per[s.per] for s in _stages(protocol)) + len(protocol.swaps)

    async def run(self, protocol: Protocol, example: Example, calls: Calls[Example]) -> Verdict:
        shared: dict[str, str] = {}  # item-stage texts, seen by every later call
        per_response: dict[str, dict[str, str]] = {"a": {}, "b": {}}
        per_order: dict[bool, dict[str, str]] = {s: {} for s in protocol.swaps}
        base = {"instruction": example.instruction, "reference": example.reference}
        for stage in _stages(protocol):
            name = stage.name
            if stage.per == "item":
                shared[name] = (await calls.ask(name, **base, **shared)).text
            elif stage.per == "response":
                texts = await asyncio.gather(*(
                    calls.ask(name, stage=f"{name}_{label}", response=response, **base, **shared)
                    for label, response in (("a", example.response_a), ("b", example.response_b))
                ))
                for label, completion in zip("ab", texts, strict=True):
                    per_response[label][name] = completion.text
            else:
                texts = await asyncio.gather(*(
                    calls.ask(name, swapped=s, stage=f"{name}_{order_name(s)}",
                              **_order_values(example, s, shared, per_response, per_order[s]))
                    for s in protocol.swaps
                ))
                for s, completion in zip(protocol.swaps, texts, strict=True):
                    per_order[s][name] = completion.text
        orders = await asyncio.gather(*(
            judge_order(calls, s, **_order_values(example, s, shared, per_response, per_order[s]))
            for s in protocol.swaps
        ))
        return verdict(calls, orders)


def _order_values(example: Example, swapped: bool, shared: dict[str, str],
                  per_response: dict[str, dict[str, str]], order_texts: dict[str, str]) -> dict[str, Any]:
    """Template variables for one order: the pair, item texts, slot-relative response texts."""
    first, second = ("b", "a") if swapped else ("a", "b")
    values = {**pair_values(example, swapped), **shared, **order_texts}
    for name in per_response["a"]:
        values[f"{name}_1"] = per_response[first][name]
        values[f"{name}_2"] = per_response[second][name]
    return values
