"""Smoke test: the strategies on the embedded local model (real text, real parsing).

A small model's answers are often wrong or unparseable; what must hold is
that each strategy turns real replies into well-formed verdicts: the right
number of calls, raw text kept, and a winner exactly when there is no
invalid reason. The panel gets short members so the test stays cheap
(about 8 minutes on a busy 2-core machine).
"""

from __future__ import annotations

import pytest

import judgekit
from judgekit.datasets import load_dataset

BUILT_IN = ["llmbar/vanilla", "llmbar/metrics", "llmbar/swap", "llmbar/rating", "checklist/drfr", "decompose-critique"]
COMPOSITE = {  # votes share the aggregation code with panel, so the panel stands for both
    "panel": "strategy: panel\noptions:\n  members:\n"
             "    - {name: one, judge: default, protocol: llmbar/vanilla}\n"
             "    - {name: two, judge: default, protocol: llmbar/rules}\n",
}


def judge_one(protocol):
    example = load_dataset("judgekit/bundled").examples[0]
    judge = judgekit.load_judge("local:", protocol=protocol, max_tokens=48)
    try:
        return judge.protocol, judge.judge_many([example])[0]
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
def test_strategy_runs_on_the_local_model(protocol_id):
    check(*judge_one(protocol_id))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(COMPOSITE))
def test_composite_strategy_runs_on_the_local_model(strategy, tmp_path):
    spec = tmp_path / f"{strategy}.yaml"
    spec.write_text(f"description: smoke\ncitation: none\n{COMPOSITE[strategy]}", encoding="utf-8")
    protocol, verdict = judge_one(str(spec))
    check(protocol, verdict)
    assert len(verdict.details["members"]) == len(protocol.options["members"])
