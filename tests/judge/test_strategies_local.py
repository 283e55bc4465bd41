"""Smoke test: every strategy on the embedded local model (real text, real parsing).

A small model's answers are often wrong or unparseable; what must hold is
that each strategy turns real replies into well-formed verdicts: the right
number of calls, raw text kept, and a winner exactly when there is no invalid
reason. The oracle tests (test_strategies*.py) check every built-in protocol
for correctness on scripted replies; what only a real model adds is real,
messy text through each strategy and each answer parser. So this runs one
protocol per (strategy, parser format), the one with the shortest templates,
on the shortest bundled pair with replies capped at 16 tokens: prompt
decoding dominates the cost on two cores (about 5 s a call), and every extra
protocol of a kind already covered would prove nothing new. The composite
strategies run through specs whose members are the short protocols, and the
debate with two personas in one presentation order.
"""

from __future__ import annotations

import pytest
import yaml

import judgekit
from judgekit.data import load_dataset
from judgekit.judge.spec import list_protocols, load_protocol
from judgekit.judge.strategies import get_strategy
from judgekit.resources import protocols_root

MAX_TOKENS = 16
COMPOSITE_STRATEGIES = {"panel", "votes"}
SHORTENED = {"debate"}
"""Run through a spec shortened below (fewer turns), not the built-in protocol."""
PANEL_MEMBERS = ("pairwise", "llmbar")
"""What the panel spec's text member (llmbar/vanilla) runs: covered there."""
PARSED = {"checklist": "yes/no", "decompose_critique": "yes/no", "logprob": "logprob"}
"""Strategies that read their replies their own way, whatever their spec's parser says."""


def _template_chars(protocol_id: str) -> int:
    return sum(map(len, load_protocol(protocol_id).templates.values()))


def representatives() -> list[str]:
    """Built-in pairwise protocols covering every strategy and every (strategy, parser format) pairing.

    Per pairing, the protocol with the shortest templates; then a pairing is
    dropped when its strategy and its parser are both covered by the others
    and by the composite specs (whose members run llmbar/vanilla: the plain
    pairwise strategy with the LLMBar parser).
    """
    kinds: dict[tuple[str, str], list[str]] = {}
    for protocol_id in list_protocols():
        protocol = load_protocol(protocol_id)
        if get_strategy(protocol.strategy).kind != "pairwise" or protocol.strategy in COMPOSITE_STRATEGIES | SHORTENED:
            continue  # pointwise and classify: tests/judge/test_pointwise.py, test_classify_*.py; composites below
        kinds.setdefault((protocol.strategy, PARSED.get(protocol.strategy, protocol.parser.format)), []).append(
            protocol_id)
    chosen = {kind: min(ids, key=_template_chars) for kind, ids in sorted(kinds.items())}
    for kind in sorted(chosen, key=lambda k: -_template_chars(chosen[k])):  # drop the dearest first
        others = [k for k in chosen if k != kind] + [PANEL_MEMBERS]
        if kind[0] in {s for s, _ in others} and kind[1] in {f for _, f in others}:
            del chosen[kind]
    return sorted(chosen.values())


REPRESENTATIVES = representatives()
SPECS = {
    "panel": "strategy: panel\noptions:\n  members:\n"
             "    - {name: one, judge: default, protocol: llmbar/vanilla}\n"
             "    - {name: two, judge: default, protocol: logprob/pairwise}\n",
    "votes": "strategy: votes\nparams: {temperature: 0.7}\noptions:\n  base: llmbar/vanilla\n  samples: 2\n",
}


def shortest_pair():
    examples = load_dataset("judgekit/bundled").examples
    return min(examples, key=lambda e: len(e.instruction) + len(e.response_a) + len(e.response_b))


def judge_one(protocol):
    judge = judgekit.load_judge("local:", protocol=protocol, max_tokens=MAX_TOKENS)
    try:
        return judge.protocol, judge.judge_many([shortest_pair()])
    finally:
        judge.close()


def check(protocol, verdicts):
    assert len(verdicts) == 1
    verdict = verdicts[0]
    assert (verdict.winner is None) == (verdict.invalid_reason is not None)
    assert verdict.usage.calls >= 2 and verdict.usage.tokens_in > 0 and verdict.usage.tokens_out > 0
    assert verdict.usage.tokens_out <= verdict.usage.calls * MAX_TOKENS  # the cap reached every call
    assert verdict.orders and all(o.raw for o in verdict.orders)
    if isinstance(protocol.calls_per_item, int) and verdict.invalid_reason not in ("no_questions", "no_constraints"):
        assert verdict.usage.calls == protocol.calls_per_item
    return verdict


def test_every_strategy_and_parser_has_a_representative():
    built_in = [p for p in map(load_protocol, list_protocols()) if get_strategy(p.strategy).kind == "pairwise"]
    chosen = [load_protocol(p) for p in REPRESENTATIVES]
    strategies = {p.strategy for p in chosen} | COMPOSITE_STRATEGIES | SHORTENED
    assert {p.strategy for p in built_in} <= strategies
    formats = {p.parser.format for p in chosen if p.strategy not in PARSED} | {"llmbar"}  # llmbar: the panel's members
    assert formats == {p.parser.format for p in built_in if p.strategy not in PARSED}


@pytest.mark.slow
@pytest.mark.parametrize("protocol_id", REPRESENTATIVES)
def test_protocol_runs_on_the_local_model(protocol_id):
    check(*judge_one(protocol_id))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(SPECS))
def test_composite_strategy_runs_on_the_local_model(strategy, tmp_path):
    spec = tmp_path / f"{strategy}.yaml"
    spec.write_text(f"description: smoke\ncitation: none\n{SPECS[strategy]}", encoding="utf-8")
    verdict = check(*judge_one(str(spec)))
    assert verdict.details["members"]


@pytest.mark.slow
def test_debate_runs_on_the_local_model(tmp_path):
    """The built-in round-1 debate with its first two personas, in one order: the same strategy, 3 calls, not 8."""
    spec = yaml.safe_load(protocols_root().joinpath("reife", "multi-role-round1.yaml").read_text(encoding="utf-8"))
    spec["options"]["personas"] = spec["options"]["personas"][:2]
    spec["orders"] = "original"
    path = tmp_path / "debate.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    protocol, verdicts = judge_one(str(path))
    assert protocol.calls_per_item == 3
    verdict = check(protocol, verdicts)
    assert {call.stage.split("_round")[0] for call in verdict.transcript} == {"general_user", "critic"}
