"""A judgekit judge as the scorer of a real, offline inspect_ai eval, read back from inspect's own log.

inspect's ``mockllm/model`` answers each sample; the judge is ``openai:`` through
the real SDK against the loopback scripted server, whose oracle prefers whichever
shown output contains ``GOOD`` (and says something unparseable when neither does).
inspect_ai comes with the ``test`` extra. Importing it and the first eval in a
process cost seconds, so inspect_ai is imported inside the tests (not at
collection, where every worker would pay) and the tests share one xdist group.
"""

from __future__ import annotations

import math

import pytest
from servers import scripted_server  # noqa: F401  (fixture)

from judgekit import load_judge

pytestmark = pytest.mark.xdist_group("inspect-ai")

ANSWERS = {"q1": "GOOD answer one", "q2": "meh two", "q3": "plain three", "q4": "mystery four"}
SAMPLES = [  # (id, input, target)
    ("s1", "q1", "baseline one"),  # the model's answer wins: 1
    ("s2", "q2", "GOOD baseline two"),  # the baseline wins: 0
    ("s3", "q3", "baseline three"),  # judge always says first slot: orders disagree, tie 0.5
    ("s4", "q4", "baseline four"),  # judge says nothing parseable: invalid
]


TEXTS = [*ANSWERS.values(), *(target for _, _, target in SAMPLES), "GOOD reference", "a reference"]


def judgekit_scorer(*args, **kwargs):
    from judgekit.integrations.inspect_ai import judgekit_scorer

    return judgekit_scorer(*args, **kwargs)


def oracle(call) -> str:
    """Names the slot whose output contains GOOD: the output shown first is "Output (a)"."""
    text = call.prompt
    if "plain three" in text:
        return "Output (a)"
    shown = {t: text.find(t) for t in TEXTS if t in text}
    good = [at for t, at in shown.items() if "GOOD" in t]
    other = [at for t, at in shown.items() if "GOOD" not in t]
    if len(good) != 1 or len(other) != 1:
        return "I cannot decide."
    return "Output (a)" if good[0] < other[0] else "Output (b)"


def solver_model():
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    def reply(messages, tools, tool_choice, config):
        output = ModelOutput.from_content("mockllm/model", ANSWERS[messages[-1].text])
        # with usage given, mockllm does not count tokens with tiktoken (whose encoding file is downloaded)
        output.usage = ModelUsage(input_tokens=1, output_tokens=3, total_tokens=4)
        return output

    return get_model("mockllm/model", custom_outputs=reply)


def run_eval(scorer, tmp_path, samples=None):
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.log import read_eval_log
    from inspect_ai.solver import generate

    samples = samples or [Sample(id=i, input=q, target=t) for i, q, t in SAMPLES]
    task = Task(dataset=samples, solver=generate(), scorer=scorer)
    [log] = inspect_eval(task, model=solver_model(), log_dir=str(tmp_path / "logs"), display="none")
    assert log.status == "success", log.error
    return read_eval_log(log.location)  # what a user or inspect view reads from disk


def scores_of(log):
    return {s.id: next(iter(s.scores.values())) for s in log.samples}


def test_scores_follow_the_judges_combined_verdict(scripted_server, tmp_path):  # noqa: F811
    scripted_server.answer = oracle
    log = run_eval(judgekit_scorer("openai:judge", "llmbar/vanilla", base_url=scripted_server.openai_url), tmp_path)
    scores = scores_of(log)
    assert {k: s.value for k, s in scores.items()} == {"s1": 1.0, "s2": 0.0, "s3": 0.5, "s4": 0.0}
    s1 = scores["s1"].metadata
    assert s1["winner"] == "a" and s1["protocol"] == "llmbar/vanilla"
    assert [o["order"] for o in s1["orders"]] == ["original", "swapped"]
    assert [o["raw"] for o in s1["orders"]] == ["Output (a)", "Output (b)"]  # answer shown first, then second
    assert s1["usage"]["calls"] == 2 and s1["usage"]["tokens_in"] > 0
    assert scores["s4"].metadata["invalid"] and scores["s4"].metadata["invalid_reason"] == "unparseable"
    assert "I cannot decide." in scores["s4"].explanation
    metrics = log.results.scores[0].metrics
    assert metrics["mean"].value == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    assert metrics["invalid_rate"].value == pytest.approx(0.25)
    assert scripted_server.total_answered() == 8 and scripted_server.max_answers_per_prompt() == 1


def test_cache_and_cost_are_the_judges_and_invalid_can_be_excluded(scripted_server, tmp_path):  # noqa: F811
    scripted_server.answer = oracle
    judge = load_judge("openai:judge", "llmbar/vanilla", base_url=scripted_server.openai_url)
    try:
        run_eval(judgekit_scorer(judge), tmp_path / "one")
        assert judge.call_path.usage.calls == 8 and judge.call_path.usage.cache_hits == 0
        scripted_server.reset_counters()
        log = run_eval(judgekit_scorer(judge, invalid="exclude"), tmp_path / "two")
        assert scripted_server.requests == 0  # every judge call answered from the judge's response cache
        assert judge.call_path.usage.cache_hits == 8
        scores = scores_of(log)
        assert math.isnan(scores["s4"].value) and scores["s4"].reason == "grader_failed"
        assert log.results.scores[0].metrics["mean"].value == pytest.approx(1.5 / 3)
    finally:
        judge.close()


def test_baseline_from_metadata(scripted_server, tmp_path):  # noqa: F811
    from inspect_ai.dataset import Sample

    scripted_server.answer = oracle
    samples = [Sample(id="m1", input="q2", target="unused", metadata={"reference": "GOOD reference"}),
               Sample(id="m2", input="q1", target="unused", metadata={"reference": "a reference"})]
    scorer = judgekit_scorer("openai:judge", "llmbar/vanilla", base_url=scripted_server.openai_url,
                             baseline="metadata:reference")
    assert {k: s.value for k, s in scores_of(run_eval(scorer, tmp_path, samples)).items()} == {"m1": 0.0, "m2": 1.0}


def test_bad_settings_are_one_line_errors():
    from judgekit.errors import BadInput

    with pytest.raises(BadInput, match="baseline must be"):
        judgekit_scorer("openai:judge", baseline="reference")
    with pytest.raises(BadInput, match="invalid must be"):
        judgekit_scorer("openai:judge", invalid="coin")
