"""Order-debiased logprob verdicts: the margin arithmetic, a biased fake judge, OpenAI's logprobs."""

import math
import re

import pytest
from servers import Reply, scripted_server  # noqa: F401  (fixture)

from judgekit.backends.base import Completion
from judgekit.backends.call_path import CallPath
from judgekit.backends.registry import create_backend
from judgekit.judge.strategies import run_protocol
from judgekit.judge.strategies.margins import answer_distribution, label_logprob, order_result, slot_margin
from judgekit.protocols import load_protocol
from judgekit.records import Example

PAIRS = [
    Example(id="p1", instruction="Name a prime.", response_a="7", response_b="9", gold="a"),
    Example(id="p2", instruction="Capital of France?", response_a="Berlin", response_b="Paris", gold="b"),
    Example(id="p3", instruction="2+2?", response_a="4", response_b="five", gold="a"),
]


@pytest.fixture(scope="module")
def protocol():
    return load_protocol("logprob/pairwise")


def test_label_probability_sums_its_spellings():
    lp = label_logprob({"a": math.log(0.3), " a": math.log(0.1), "b": math.log(0.5)}, ("a", " a", "A"))
    assert lp == pytest.approx(math.log(0.4))
    assert label_logprob({"b": -1.0}, ("a", "A")) is None


def test_a_missing_label_gets_the_floor_of_the_list():
    assert slot_margin({"a": -0.1, "c": -5.0}) == pytest.approx(4.9)
    assert slot_margin({"b": -0.2, "x": -3.0}) == pytest.approx(-2.8)
    assert slot_margin({"c": -0.1, "d": -2.0}) is None


def test_the_answer_is_read_where_a_label_is_the_likeliest_token():
    written_out = ({"Output": -0.01, "A": -5.0}, {" (": -0.001}, {"b": -0.3, "a": -1.4}, {")": -0.0})
    assert answer_distribution(written_out) == written_out[2]
    assert answer_distribution(({"Sure": -0.1, "a": -3.0},)) is None
    assert answer_distribution(None) is None


def test_a_swapped_order_margin_is_mirrored_into_the_canonical_frame():
    completion = Completion(text="a", top_logprobs=({"a": -0.2, "b": -1.8},))
    original, _ = order_result(completion, swapped=False)
    swapped, _ = order_result(completion, swapped=True)
    assert (original.winner, original.margin) == ("a", pytest.approx(1.6))
    assert (swapped.winner, swapped.margin) == ("b", pytest.approx(-1.6))  # first slot held response_b
    unreadable, _ = order_result(Completion(text="?", top_logprobs=({"?": -0.1},)), swapped=False)
    assert unreadable.winner is None and unreadable.margin is None and unreadable.raw == "?"


class BiasedJudge:
    """A fake call path: knows the better response, but leans hard toward the first slot."""

    def __init__(self, quality: dict[str, float], first_slot_pull: float) -> None:
        self.quality, self.pull, self.requests = quality, first_slot_pull, []

    async def complete(self, request):
        self.requests.append(request)
        text = request.messages[-1].content
        first = re.search(r"## Output \(a\)\n(.*?)\n\n## Output \(b\)", text, re.S).group(1)
        second = re.search(r"## Output \(b\)\n(.*?)\n\n## Task", text, re.S).group(1)
        margin = self.quality[first] - self.quality[second] + self.pull
        p_first = 1 / (1 + math.exp(-margin))
        dist = {"a": math.log(p_first), "b": math.log(1 - p_first)}
        return Completion(text=max(dist, key=dist.get), tokens_in=100, tokens_out=1, top_logprobs=(dist,))


async def test_the_combined_verdict_cancels_a_constant_position_pull(protocol):
    judge = BiasedJudge({"7": 1.0, "9": 0.0, "Berlin": 0.0, "Paris": 0.5, "4": 2.0, "five": 0.0}, first_slot_pull=1.5)
    verdicts = [await run_protocol(protocol, e, judge) for e in PAIRS]
    assert [v.winner for v in verdicts] == ["a", "b", "a"]
    p2 = verdicts[1]
    assert [o.winner for o in p2.orders] == ["a", "b"]  # each single order picked its first slot
    assert [o.swapped for o in p2.orders] == [False, True]
    assert p2.details["margin"] == pytest.approx(-0.5)  # the pull cancelled, the quality gap remains
    assert [str(r.tag) for r in judge.requests[:2]] == ["p1/original/compare", "p1/swapped/compare"]
    assert all(r.continuation == "Output (" and r.params.top_logprobs == 20 for r in judge.requests)
    assert p2.usage.calls == 2 and p2.usage.tokens_in == 200


async def test_swapping_the_pair_mirrors_the_verdict_exactly(protocol):
    judge = BiasedJudge({"x": 0.3, "y": 0.0}, first_slot_pull=2.0)
    forward = await run_protocol(protocol, Example(id="f", instruction="?", response_a="x", response_b="y"), judge)
    backward = await run_protocol(protocol, Example(id="r", instruction="?", response_a="y", response_b="x"), judge)
    assert forward.winner == "a" and backward.winner == "b"
    assert forward.details["margin"] == pytest.approx(-backward.details["margin"])


async def test_an_order_without_answer_logprobs_makes_the_verdict_invalid(protocol):
    class Refuses:
        async def complete(self, request):
            return Completion(text="I", top_logprobs=({"I": -0.1, "Sorry": -2.5},))

    verdict = await run_protocol(protocol, PAIRS[0], Refuses())
    assert verdict.winner is None and verdict.invalid_reason == "no_answer_logprobs"
    assert [o.raw for o in verdict.orders] == ["I", "I"]


async def test_openai_top_logprobs_through_the_real_sdk(scripted_server, protocol):
    """The API ignores the prefix and writes "Output (x)" in full; the label position is found."""

    def answer(call):
        first_is_better = "## Output (a)\n7" in call.prompt
        a, b = (-0.4, -1.1) if first_is_better else (-0.9, -0.5)
        label = "a" if a > b else "b"
        return Reply(f"Output ( {label} )", logprobs=[{"Output": -0.01}, {"(": -0.01}, {"a": a, "b": b}, {")": 0.0}])

    scripted_server.answer = answer
    backend = create_backend("openai:judge", base_url=scripted_server.openai_url)
    path = CallPath(backend, max_retries=0)
    verdict = await run_protocol(protocol, PAIRS[0], path)
    assert [o.margin for o in verdict.orders] == [pytest.approx(0.7), pytest.approx(0.4)]
    assert verdict.winner == "a" and verdict.details["margin"] == pytest.approx(0.55)
    await path.aclose()


@pytest.mark.slow
async def test_the_embedded_model_on_real_llmbar_pairs(data_dir, protocol):
    """The shortest LLMBar Natural pair: a valid verdict, finite margins, mirrored when the pair is flipped."""
    from judgekit.data import load_dataset

    examples = sorted(load_dataset("llmbar/natural").examples,
                      key=lambda e: len(e.instruction) + len(e.response_a) + len(e.response_b))[:1]
    call_path = CallPath(create_backend("local:"), cache=None, timeout=600)
    for example in examples:
        verdict = await run_protocol(protocol, example, call_path)
        assert [o.swapped for o in verdict.orders] == [False, True]
        margins = [o.margin for o in verdict.orders]
        assert all(math.isfinite(m) for m in margins)
        assert [o.winner for o in verdict.orders] == ["a" if m > 0 else "b" for m in margins]
        assert verdict.details["margin"] == pytest.approx(sum(margins) / 2)
        assert verdict.winner == ("a" if sum(margins) > 0 else "b")
        assert verdict.usage.calls == 2 and verdict.usage.tokens_in > 50

        flipped = example.model_copy(update={"response_a": example.response_b, "response_b": example.response_a})
        mirror = await run_protocol(protocol, flipped, call_path)
        assert mirror.details["margin"] == -verdict.details["margin"]  # bit-exact: same prompts, same logits
        assert mirror.winner == {"a": "b", "b": "a"}[verdict.winner]
