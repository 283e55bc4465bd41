"""ChatEval-style debate and the benchmark-style pairwise specs, against an oracle judge on LLMBar Natural.

The oracle finds which slot holds the human-preferred output and answers in
whatever format the prompt asks for; a spec that renders the wrong text,
maps orders wrongly or parses badly cannot reach accuracy 1.0.
"""

from __future__ import annotations

import functools
import re

import pytest

from judgekit.agreement.pairwise import accuracy, positional_agreement
from judgekit.backends.base import Completion
from judgekit.backends.call_path import CallPath
from judgekit.backends.registry import create_backend
from judgekit.judge.strategies import run_protocol
from judgekit.protocols import load_protocol
from judgekit.records import Example

SPECS = ["reife/multi-role-round1", "reife/multi-role-round2", "styles/alpacaeval", "styles/arena-hard",
         "styles/wildbench"]


@functools.cache
def _natural() -> tuple[Example, ...]:
    from judgekit.data import load_dataset

    return tuple(load_dataset("llmbar/natural", limit=30).examples)


@pytest.fixture
def natural(data_dir):
    return list(_natural())


class Oracle:
    """Answers each call in the format its prompt asks for, naming the gold output's slot."""

    def __init__(self, examples, strength="strong"):
        self.examples, self.strength = examples, strength
        self.requests = []

    def gold_first(self, prompt: str) -> bool:
        example = max((e for e in self.examples if e.instruction in prompt), key=lambda e: len(e.instruction))
        shown = prompt.split("[Output (a)]\n", 1)[1]
        a_first = shown.startswith(f"{example.response_a}\n\n[Output (b)]")
        return (example.gold == "a") == a_first

    async def complete(self, request) -> Completion:
        self.requests.append(request)
        prompt = request.messages[-1].content
        if "Write a checklist" in prompt:
            return Completion(text="1. Does it do what was asked?\n2. Is it correct?")
        first = self.gold_first(prompt)
        if "You are " in prompt and "round" in prompt:  # a persona's turn: free text
            return Completion(text=f"I think the {'first' if first else 'second'} output is better.")
        if "[[A>>B]]" in prompt:
            mark = (">>" if self.strength == "strong" else ">")
            verdict = f"[[A{mark}B]]" if first else f"[[B{mark}A]]"
            return Completion(text=f"My own answer: it depends.\nMentioning [[A=B]] as an option.\n{verdict}")
        if "Choice: X" in prompt:
            plus = "++" if self.strength == "strong" else "+"
            return Completion(text=f"Checklist point 1: met by one.\nChoice: {'A' if first else 'B'}{plus}")
        return Completion(text="Output (a)" if first else "Output (b)")


@pytest.mark.parametrize("protocol_id", SPECS)
@pytest.mark.parametrize("strength", ["strong", "slight"])
async def test_each_spec_with_an_oracle_is_perfect(protocol_id, strength, natural):
    protocol = load_protocol(protocol_id)
    oracle = Oracle(natural, strength)
    verdicts = [await run_protocol(protocol, e, oracle) for e in natural]
    gold = [e.gold for e in natural]
    first = [next(o.winner for o in v.orders if not o.swapped) for v in verdicts]
    second = [next(o.winner for o in v.orders if o.swapped) for v in verdicts]
    assert accuracy(gold, first) == accuracy(gold, second) == 1.0
    assert positional_agreement(first, second) == 1.0 and [v.winner for v in verdicts] == gold
    assert len(oracle.requests) == protocol.calls_per_item * len(natural)


def test_the_five_level_verdicts_read_as_slots_and_ties():
    arena, wild = load_protocol("styles/arena-hard"), load_protocol("styles/wildbench")
    from judgekit.judge.strategies.common import parse_slot

    assert [parse_slot(arena, f"x\n[[{v}]]") for v in ("A>>B", "A>B", "A=B", "B>A", "B>>A")] == [
        "first", "first", "tie", "second", "second"]
    assert parse_slot(arena, "[[A>B]] at first, but on reflection [[B>>A]]") == "second"  # the last one decides
    assert parse_slot(arena, "no verdict") is None
    assert [parse_slot(wild, f"Choice: {v}") for v in ("A++", "A+", "A=B", "B+", "B++")] == [
        "first", "first", "tie", "second", "second"]


async def test_personas_speak_in_turns_and_see_the_transcript(natural):
    protocol = load_protocol("reife/multi-role-round2")
    oracle = Oracle(natural)
    verdict = await run_protocol(protocol, natural[0], oracle)
    personas = [p.name for p in protocol.options.personas]
    original = [r for r in oracle.requests if r.tag.order == "original"]
    assert [r.tag.stage for r in original] == [f"{p}_round{r}_original" for r in (1, 2) for p in personas] + ["decide"]
    turns = [r.messages[-1].content for r in original[:-1]]
    assert "[general_user, round 1]" not in turns[0] and "[general_user, round 1]" in turns[1]
    assert all(f"[{p}, round 1]" in turns[-1] for p in personas)  # the last speaker heard everyone
    assert "[expert, round 2]" in original[-1].messages[-1].content  # the decision reads the whole debate
    turn = next(c for c in verdict.transcript if c.stage == "critic_round2_swapped")
    assert turn.order == "swapped" and turn.text.startswith("I think")


async def test_a_recorded_debate_replays_exactly(natural, tmp_path):
    from judgekit.records import Manifest
    from judgekit.runs.runner import judge_run, open_run_dir

    protocol = load_protocol("reife/multi-role-round1")

    async def judge_into(out, caller):
        manifest = Manifest(judge="test", protocol=protocol.id, dataset="nat", package_version="0",
                            started_at="2026-12-01T00:00:00+00:00", n_examples=5)
        run_dir = open_run_dir(out, manifest, natural[:5])
        return await judge_run(lambda e: run_protocol(protocol, e, caller), run_dir, workers=1)

    recorded = await judge_into(tmp_path / "live", Oracle(natural))
    replay = CallPath(create_backend(f"replay:{tmp_path / 'live'}"))
    replayed = await judge_into(tmp_path / "again", replay)
    assert [v.model_dump(exclude={"usage"}) for v in replayed.verdicts] == [
        v.model_dump(exclude={"usage"}) for v in recorded.verdicts]
    assert replay.usage.calls == 5 * protocol.calls_per_item


def test_debate_specs_are_checked(tmp_path):
    from judgekit.errors import BadInput
    from judgekit.resources import protocols_root

    base = (protocols_root() / "reife/multi-role-round1.yaml").read_text(encoding="utf-8")
    for change, message in [(("rounds: 1", "rounds: 0"), "options.rounds"),
                            (("name: critic", "name: Critic!"), r"options.personas\[1\].name"),
                            (("name: critic", "name: expert"), "names must be unique")]:
        path = tmp_path / "debate.yaml"
        path.write_text(base.replace(*change), encoding="utf-8")
        with pytest.raises(BadInput, match=message):
            load_protocol(path)
    assert re.search(r"arXiv 2308\.07201", base)
