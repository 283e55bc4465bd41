"""Every built-in protocol end to end against an oracle judge on LLMBar Natural.

The oracle reads the rendered prompt the way a model would, knows the human
label, and answers in the protocol's format: comparisons with the gold
output's label, ratings with a high score for the gold response, checklists
and critiques constraint by constraint. A protocol that renders the wrong
text, maps orders wrongly or parses badly cannot reach accuracy 1.0.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import pytest

from judgekit.agreement.pairwise import accuracy, positional_agreement
from judgekit.backends.base import CallTag, Completion, Request
from judgekit.backends.seats import CallPaths
from judgekit.judge.strategies import run_protocol
from judgekit.protocols import load_protocol
from judgekit.records import Example

PAIRWISE_FAMILY = [
    "llmbar/vanilla", "llmbar/rules", "llmbar/cot", "llmbar/metrics", "llmbar/reference",
    "llmbar/metrics-reference", "llmbar/swap", "llmbar/swap-cot", "llmbar/rules-1shot", "llmbar/rules-2shot",
    "mtbench/pairwise", "reife/fine-grained-diff", "reife/multi-aspect-two", "reife/multi-aspect-single",
    "reife/prepair", "reife/self-consistency", "reife/protocol-consistency", "panel/majority",
]

SLOTS = {
    # format: (first marker, text after the first output, answers for first / second slot)
    "llmbar": ("[Output (a)]\n", "\n\n[Output (b)]", ("Output (a)", "Output (b)")),
    "mtbench": ("[Assistant A's answer]\n", "\n[End of assistant A's answer]", ("[[A]]", "[[B]]")),
}


@dataclass
class Oracle:
    """A judge that knows the gold label and answers in whatever format the prompt asks for."""

    examples: list[Example]

    def example_for(self, prompt: str) -> Example:
        found = [e for e in self.examples if e.instruction in prompt]
        with_responses = [e for e in found if e.response_a in prompt or e.response_b in prompt]
        return max(with_responses or found, key=lambda e: len(e.instruction))

    def reply(self, prompt: str) -> str:
        example = self.example_for(prompt)
        for marker, after, labels in SLOTS.values():
            if f"{marker}{example.response_a}{after}" in prompt or f"{marker}{example.response_b}{after}" in prompt:
                first_is_a = f"{marker}{example.response_a}{after}" in prompt
                wins_first = (example.gold == "a") == first_is_a
                return f"Weighing both against the instruction.\n{labels[0] if wins_first else labels[1]}"
        if "[Response]\n" in prompt:
            is_gold = f"[Response]\n{getattr(example, 'response_' + example.gold)}\n\n" in prompt
            return self.judge_alone(prompt, is_gold)
        return "1. Does it answer the request?\n2. Is it accurate?\n3. Does it respect every stated constraint?"

    @staticmethod
    def judge_alone(prompt: str, is_gold: bool) -> str:
        """A rating, a checklist or a critique of one response (the gold one passes everything)."""
        if "Score: N" in prompt:
            return "It follows the instruction." + ("\nScore: 9" if is_gold else "\nScore: 3")
        words = {"YES or NO": ("YES", "NO"), "NOT SATISFIED": ("SATISFIED - met", "NOT SATISFIED - missed")}
        kind = next((k for k in words if k in prompt), None)
        if kind is None:  # a free-text analysis of one response (prepair)
            return "It covers the request." if is_gold else "It misses part of the request."
        n = max(int(k) for k in re.findall(r"(?m)^(\d+)\. ", prompt.split("nothing else.")[-1]))
        passed = [True] * n if is_gold else [False] + [True] * (n - 1)
        return "\n".join(f"{i}. {words[kind][0] if ok else words[kind][1]}" for i, ok in enumerate(passed, 1))


@dataclass
class FakeCallPath:
    """A call path whose model is a function of the prompt; records every request."""

    answer: callable
    cached: bool = False
    requests: list[Request] = field(default_factory=list)

    async def complete(self, request: Request) -> Completion:
        self.requests.append(request)
        prompt = "\n".join(m.content for m in request.messages)
        text = self.answer(prompt)
        return Completion(text=text, tokens_in=len(prompt.split()), tokens_out=len(text.split()),
                          cached=self.cached, cost_usd=0.001, latency_s=0.01)


@functools.cache
def _natural() -> tuple[Example, ...]:
    from judgekit.data import load_dataset

    return tuple(load_dataset("llmbar/natural").examples)


@pytest.fixture
def natural(data_dir):
    """LLMBar Natural (100 pairs), read once per session."""
    return list(_natural())


async def judge_all(protocol, examples, call_path):
    return [await run_protocol(protocol, e, call_path) for e in examples]


def per_order(verdicts, swapped):
    return [next(o.winner for o in v.orders if o.swapped == swapped) for v in verdicts]


@pytest.mark.parametrize("protocol_id", PAIRWISE_FAMILY)
async def test_pairwise_family_with_an_oracle_is_perfect(protocol_id, natural):
    protocol = load_protocol(protocol_id)
    call_path = FakeCallPath(Oracle(natural).reply)
    verdicts = await judge_all(protocol, natural, call_path)
    gold = [e.gold for e in natural]
    first, second = per_order(verdicts, False), per_order(verdicts, True)
    assert accuracy(gold, first) == 1.0 and accuracy(gold, second) == 1.0
    assert positional_agreement(first, second) == 1.0
    assert [v.winner for v in verdicts] == gold
    assert all(v.invalid_reason is None for v in verdicts)
    if isinstance(protocol.calls_per_item, int):
        assert len(call_path.requests) == protocol.calls_per_item * len(natural)
        assert all(v.usage.calls == protocol.calls_per_item for v in verdicts)
    assert sum(v.usage.calls for v in verdicts) == len(call_path.requests)
    tags = [r.tag for r in call_path.requests]
    assert all(re.fullmatch(r"llmbar/natural/\d+", t.example) and re.fullmatch(r"[a-z_]+", t.stage) for t in tags)
    assert sum(t.order == "swapped" for t in tags) >= len(natural)
    assert {t.member for t in tags} == {(m.name,) for m in protocol.members} or not protocol.members


async def test_self_consistency_draws_distinct_samples_at_its_temperature(natural):
    protocol = load_protocol("reife/self-consistency")
    call_path = FakeCallPath(Oracle(natural).reply)
    verdict = await run_protocol(protocol, natural[0], call_path)
    assert sorted({r.sample for r in call_path.requests}) == [0, 1, 2, 3, 4]
    assert {r.params.temperature for r in call_path.requests} == {0.7}
    assert len({(r.sample, r.tag) for r in call_path.requests}) == 10
    assert {r.tag.member for r in call_path.requests} == {(f"sample-{i}",) for i in range(5)}
    assert [m["name"] for m in verdict.details["members"]] == [f"sample-{i}" for i in range(5)]


async def test_rating_scores_each_response_alone(natural):
    protocol = load_protocol("llmbar/rating")
    call_path = FakeCallPath(Oracle(natural).reply)
    verdicts = await judge_all(protocol, natural, call_path)
    assert accuracy([e.gold for e in natural], [v.winner for v in verdicts]) == 1.0
    assert all(len(v.orders) == 1 and sorted(v.orders[0].scores.values()) == [3.0, 9.0] for v in verdicts)
    assert all("[Output" not in r.messages[-1].content for r in call_path.requests)  # one response per call
    equal = FakeCallPath(lambda prompt: "Score: 5")
    tied = await run_protocol(protocol, natural[0], equal)
    assert tied.winner == "tie" and tied.orders[0].scores == {"a": 5.0, "b": 5.0}


async def test_checklist_decomposes_once_and_drfr_picks_the_gold(natural):
    protocol = load_protocol("checklist/drfr")
    call_path = FakeCallPath(Oracle(natural).reply)
    verdicts = await judge_all(protocol, natural[:20], call_path)
    assert [v.winner for v in verdicts] == [e.gold for e in natural[:20]]
    decompositions = [r for r in call_path.requests if r.tag.stage == "decompose"]
    assert len(decompositions) == 20 and len(call_path.requests) == 60
    first = verdicts[0]
    loser = "b" if natural[0].gold == "a" else "a"
    assert first.details["drfr"] == {natural[0].gold: 1.0, loser: pytest.approx(2 / 3)}
    assert first.details["question_source"] == "judge"
    assert [a["satisfied"] for a in first.details["answers"][loser]] == [False, True, True]


async def test_checklist_from_the_dataset_needs_no_decomposition(natural):
    example = natural[1].model_copy(update={"checklist": ("Is it in English?", "Is it polite?")})
    call_path = FakeCallPath(Oracle([example]).reply)
    verdict = await run_protocol(load_protocol("checklist/drfr"), example, call_path)
    assert len(call_path.requests) == 2 and verdict.winner == example.gold
    assert verdict.details["question_source"] == "dataset" and verdict.details["items"] == list(example.checklist)
    assert "Is it polite?" in call_path.requests[0].messages[-1].content


async def test_decompose_critique_keeps_critiques_and_picks_the_gold(natural):
    call_path = FakeCallPath(Oracle(natural).reply)
    verdicts = await judge_all(load_protocol("decompose-critique"), natural[:20], call_path)
    assert [v.winner for v in verdicts] == [e.gold for e in natural[:20]]
    critiques = verdicts[0].details["critiques"]
    loser = "b" if natural[0].gold == "a" else "a"
    assert critiques[loser][0] == {"item": "Does it answer the request?", "satisfied": False, "reason": "missed"}
    assert verdicts[0].details["satisfied_share"][natural[0].gold] == 1.0


async def test_an_unanswered_constraint_makes_the_verdict_invalid(natural):
    call_path = FakeCallPath(lambda p: "1. Q one?\n2. Q two?" if "[Response]" not in p else "1. SATISFIED - ok")
    verdict = await run_protocol(load_protocol("decompose-critique"), natural[0], call_path)
    assert verdict.winner is None and verdict.invalid_reason == "unparseable"


async def test_position_biased_judge_is_inconsistent_not_right(natural):
    biased = FakeCallPath(lambda prompt: "Output (a)")
    verdict = await run_protocol(load_protocol("llmbar/vanilla"), natural[0], biased)
    assert [o.winner for o in verdict.orders] == ["a", "b"]
    assert verdict.winner == "tie" and verdict.invalid_reason is None  # order_conflict: tie


async def test_order_conflict_invalid(tmp_path, natural):
    text = (await _read_builtin("llmbar/vanilla")) + "order_conflict: invalid\n"
    path = tmp_path / "strict.yaml"
    path.write_text(text, encoding="utf-8")
    verdict = await run_protocol(load_protocol(path), natural[0], FakeCallPath(lambda p: "Output (b)"))
    assert verdict.winner is None and verdict.invalid_reason == "order_conflict"


async def _read_builtin(protocol_id):
    from judgekit.resources import protocols_root

    node = protocols_root()
    for part in f"{protocol_id}.yaml".split("/"):
        node = node / part
    return node.read_text(encoding="utf-8")


async def test_swap_synthesizes_when_orders_disagree(natural):
    example = natural[0]
    gold_first = "Output (a)" if example.gold == "a" else "Output (b)"

    def answer(prompt):
        if "contradicted" in prompt:
            assert "I prefer the first." in prompt  # both rationales are shown
            return f"Resolving it.\n{gold_first}"
        return "I prefer the first.\nOutput (a)"

    call_path = FakeCallPath(answer)
    verdict = await run_protocol(load_protocol("llmbar/swap-cot"), example, call_path)
    assert len(call_path.requests) == 3 and call_path.requests[-1].tag == CallTag(example.id, "synthesize")
    assert [o.winner for o in verdict.orders] == ["a", "b"]
    assert verdict.winner == example.gold
    (synthesis,) = verdict.transcript  # the deciding calls are the orders' raw texts; only the synthesis is kept
    assert synthesis.stage == "synthesize" and synthesis.order is None and synthesis.text.endswith(gold_first)


async def test_unparseable_reply_is_invalid_with_raw_kept(natural):
    reply = "Output (a) is worse than Output (b)"
    verdict = await run_protocol(load_protocol("llmbar/vanilla"), natural[0], FakeCallPath(lambda p: reply))
    assert verdict.winner is None and verdict.invalid_reason == "unparseable"
    assert [o.raw for o in verdict.orders] == [reply, reply] and all(o.winner is None for o in verdict.orders)


async def test_usage_adds_up_tokens_cost_and_cache_hits(natural):
    call_path = FakeCallPath(Oracle(natural).reply, cached=True)
    verdict = await run_protocol(load_protocol("llmbar/metrics"), natural[0], call_path)
    usage = verdict.usage
    assert usage.calls == 3 and usage.cache_hits == 3
    assert usage.tokens_in == sum(len("\n".join(m.content for m in r.messages).split()) for r in call_path.requests)
    assert usage.cost_usd == pytest.approx(0.003) and usage.latency_s == pytest.approx(0.03)


async def test_stage_texts_reach_the_comparing_call(natural):
    example = natural[2]

    def answer(prompt):
        if "Write three short" in prompt:
            return "1. METRIC-ONE?"
        if "serve as a point of reference" in prompt:
            return "REFERENCE-TEXT"
        assert "METRIC-ONE?" in prompt and "REFERENCE-TEXT" in prompt
        return "Output (a)"

    verdict = await run_protocol(load_protocol("llmbar/metrics-reference"), example, FakeCallPath(answer))
    assert verdict.details == {}  # the stage texts are the call path's to keep, in the transcript
    assert {(c.stage, c.order): c.text for c in verdict.transcript} == {
        ("metrics", None): "1. METRIC-ONE?", ("reference_answer", None): "REFERENCE-TEXT"}


async def test_prepair_analyses_follow_their_response_into_either_slot(natural):
    example = natural[3]

    def answer(prompt):
        if "[Response]\n" in prompt:
            return "ANALYSIS-A" if f"[Response]\n{example.response_a}\n" in prompt else "ANALYSIS-B"
        first_is_a = f"[Output (a)]\n{example.response_a}\n\n[Output (b)]" in prompt
        analyses = re.findall(r"ANALYSIS-[AB]", prompt)
        assert analyses == (["ANALYSIS-A", "ANALYSIS-B"] if first_is_a else ["ANALYSIS-B", "ANALYSIS-A"])
        return "Output (a)" if first_is_a else "Output (b)"  # always picks response_a

    verdict = await run_protocol(load_protocol("reife/prepair"), example, FakeCallPath(answer))
    assert verdict.winner == "a" and [o.winner for o in verdict.orders] == ["a", "a"]


async def test_prompt_only_user_protocol_with_a_regex_parser(tmp_path, natural):
    spec = tmp_path / "my-judge.yaml"
    spec.write_text(
        "description: a user's judge\n"
        "citation: none\n"
        "strategy: pairwise\n"
        "ties: true\n"
        "parser: {format: regex,"
        " pattern: '(?im)^winner:\\s*(?:(?P<first>one)|(?P<second>two)|(?P<tie>neither))\\s*$'}\n"
        "templates:\n"
        "  compare: |-\n"
        "    Task: {{ instruction }}\n    ONE: {{ output_1 }}\n    TWO: {{ output_2 }}\n"
        "    End with 'Winner: one', 'Winner: two' or 'Winner: neither'.\n",
        encoding="utf-8",
    )
    example = natural[4]

    def answer(prompt):
        first_is_a = f"ONE: {example.response_a}\nTWO:" in prompt
        return "thinking...\nWinner: " + ("one" if first_is_a == (example.gold == "a") else "two")

    verdict = await run_protocol(load_protocol(spec), example, FakeCallPath(answer))
    assert verdict.winner == example.gold and {o.winner for o in verdict.orders} == {example.gold}
    neither = await run_protocol(load_protocol(spec), example, FakeCallPath(lambda p: "Winner: neither"))
    assert neither.winner == "tie"


async def test_tie_answer_where_ties_are_not_allowed_is_invalid(tmp_path, natural):
    text = (await _read_builtin("mtbench/pairwise")).replace("ties: true", "ties: false")
    path = tmp_path / "no-ties.yaml"
    path.write_text(text, encoding="utf-8")
    verdict = await run_protocol(load_protocol(path), natural[0], FakeCallPath(lambda p: "[[C]]"))
    assert verdict.winner is None and verdict.invalid_reason == "unparseable"
    allowed = await run_protocol(load_protocol("mtbench/pairwise"), natural[0], FakeCallPath(lambda p: "[[C]]"))
    assert allowed.winner == "tie"


async def test_panel_members_each_use_their_own_call_path(tmp_path, natural):
    spec = tmp_path / "jury.yaml"
    spec.write_text(
        "description: three judges\ncitation: Verga et al. 2024, arXiv 2404.18796\nstrategy: panel\n"
        "options:\n  aggregate: majority\n  members:\n"
        "    - {name: good, judge: 'openai:x', protocol: llmbar/vanilla}\n"
        "    - {name: also-good, judge: 'anthropic:y', protocol: mtbench/pairwise}\n"
        "    - {name: contrarian, judge: 'openai:z', protocol: llmbar/vanilla}\n",
        encoding="utf-8",
    )
    oracle = Oracle(natural)
    flip = {"Output (a)": "Output (b)", "Output (b)": "Output (a)"}
    paths = {
        ("openai:x", None): FakeCallPath(oracle.reply),
        ("anthropic:y", None): FakeCallPath(oracle.reply),
        ("openai:z", None): FakeCallPath(lambda p: flip[oracle.reply(p).splitlines()[-1]]),
    }
    protocol = load_protocol(spec)
    assert protocol.calls_per_item == 6
    run_default = FakeCallPath(oracle.reply)
    verdicts = await judge_all(protocol, natural[:10], CallPaths(run_default, paths))
    assert [v.winner for v in verdicts] == [e.gold for e in natural[:10]]
    assert all(len(p.requests) == 20 for p in paths.values()) and not run_default.requests
    members = verdicts[0].details["members"]
    assert [m["winner"] for m in members] == [natural[0].gold, natural[0].gold, "b" if natural[0].gold == "a" else "a"]
    assert verdicts[0].usage.calls == 6


async def test_panel_members_never_leave_a_stand_in_call_path(tmp_path, natural):
    """With a dry-run counter or replay as the call path, members with their own
    judges use it too: nothing is built that could reach a real model."""
    spec = tmp_path / "remote-jury.yaml"
    spec.write_text(
        "description: d\ncitation: c\nstrategy: panel\noptions:\n  members:\n"
        "    - {name: far, judge: 'openai:gpt-4o', protocol: llmbar/vanilla}\n"
        "    - {name: near, judge: 'anthropic:claude-x', protocol: llmbar/rules}\n",
        encoding="utf-8",
    )
    stand_in = FakeCallPath(Oracle(natural).reply)
    verdict = await run_protocol(load_protocol(spec), natural[0], stand_in)
    assert len(stand_in.requests) == 4 and verdict.winner == natural[0].gold
