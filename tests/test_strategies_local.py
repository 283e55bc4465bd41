"""Smoke test: the strategies on the embedded local model (real text, real parsing).

A small model's answers are often wrong or unparseable; what must hold is
that each protocol turns real replies into well-formed verdicts: the right
number of calls, raw text kept, and a winner exactly when there is no invalid
reason. One bundled item per protocol proves that (the oracle tests in
test_strategies*.py check correctness on many items); replies are capped at
48 tokens. The composite strategies (panel, protocol consistency,
self-consistency) run through specs whose members are the short protocols:
their members' own protocols are each tested here already, and the built-in
composites over llmbar/cot cost minutes more on two cores for nothing new.
"""

from __future__ import annotations

import pytest

import judgekit
from judgekit.datasets import load_dataset
from judgekit.protocols import list_protocols

ITEMS = 1
COMPOSITE_IDS = {"panel/majority", "reife/protocol-consistency", "reife/self-consistency"}
SAME_AS_ANOTHER = {"reife/multi-role-round2"}
"""Runs the same strategy as multi-role-round1 with twice the turns (14 calls per item): round1 covers it."""
BUILT_IN = [p for p in list_protocols()
            if p not in COMPOSITE_IDS | SAME_AS_ANOTHER and not p.startswith("pointwise/")]
"""Pairwise protocols; the pointwise ones rate scored responses (tests/test_pointwise.py)."""
COMPOSITE = {
    "panel": "strategy: panel\noptions:\n  members:\n"
             "    - {name: one, judge: default, protocol: llmbar/vanilla}\n"
             "    - {name: two, judge: default, protocol: llmbar/rules}\n",
    "protocol-consistency": "strategy: votes\noptions:\n  members: [llmbar/vanilla, llmbar/rules, llmbar/rules-1shot]\n",
    "self-consistency": "strategy: votes\nparams: {temperature: 0.7}\noptions:\n  base: llmbar/vanilla\n  samples: 3\n",
}


def judge_items(protocol):
    examples = load_dataset("judgekit/bundled").examples[:ITEMS]
    judge = judgekit.load_judge("local:", protocol=protocol, max_tokens=48)
    try:
        return judge.protocol, judge.judge_many(examples)
    finally:
        judge.close()


def check(protocol, verdict):
    assert (verdict.winner is None) == (verdict.invalid_reason is not None)
    assert verdict.usage.calls >= 2 and verdict.usage.tokens_in > 0 and verdict.usage.tokens_out > 0
    assert verdict.orders and all(o.raw for o in verdict.orders)
    if isinstance(protocol.calls_per_item, int) and verdict.invalid_reason not in ("no_questions", "no_constraints"):
        assert verdict.usage.calls == protocol.calls_per_item


@pytest.mark.slow
@pytest.mark.parametrize("protocol_id", BUILT_IN)
def test_protocol_runs_on_the_local_model(protocol_id):
    protocol, verdicts = judge_items(protocol_id)
    assert len(verdicts) == ITEMS
    for verdict in verdicts:
        check(protocol, verdict)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(COMPOSITE))
def test_composite_strategy_runs_on_the_local_model(strategy, tmp_path):
    spec = tmp_path / f"{strategy}.yaml"
    spec.write_text(f"description: smoke\ncitation: none\n{COMPOSITE[strategy]}", encoding="utf-8")
    protocol, verdicts = judge_items(str(spec))
    assert len(verdicts) == ITEMS
    for verdict in verdicts:
        check(protocol, verdict)
        assert verdict.details["members"]
