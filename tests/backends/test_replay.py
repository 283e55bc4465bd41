"""The replay backend serves recorded raw text by example and order, or says what is missing."""

import math

import pytest
from servers import scripted_server  # noqa: F401  (fixture)

from judgekit.backends.base import CallTag, Completion, Message, Request
from judgekit.backends.call_path import CallPath
from judgekit.backends.registry import create_backend
from judgekit.errors import BadInput
from judgekit.judge.strategies import run_protocol
from judgekit.protocols import load_protocol
from judgekit.records import Example, Manifest, OrderResult, Verdict
from judgekit.runs.run_dir import RunDir
from judgekit.runs.runner import judge_run, open_run_dir

EXAMPLES = [
    Example(id="x/1", instruction="Say hi.", response_a="hi", response_b="bye", gold="a"),
    Example(id="x/2", instruction="Count to 2.", response_a="1 2", response_b="1 2 3", gold="a"),
]


def record(tmp_path, verdicts):
    manifest = Manifest(
        judge="openai:gpt-4", protocol="llmbar/vanilla", dataset="test", package_version="0",
        started_at="2026-11-23T00:00:00+00:00", n_examples=len(EXAMPLES),
    )
    run_dir = RunDir.create(tmp_path / "run", manifest, EXAMPLES)
    for verdict in verdicts:
        run_dir.append(verdict)
    run_dir.update(complete=True, n_verdicts=len(verdicts))
    return tmp_path / "run"


def ask(example, order="original", stage="compare", member=()):
    return Request(messages=(Message("user", "ignored"),), tag=CallTag(example, stage, order, member))


@pytest.fixture
def recorded(tmp_path):
    return record(tmp_path, [
        Verdict(example_id="x/1", winner="a", orders=(
            OrderResult(swapped=False, raw="Output (a)", winner="a"),
            OrderResult(swapped=True, raw="**Output (b)**", winner="a"),
        )),
        Verdict(example_id="x/2", winner=None, invalid_reason="unparseable", orders=(
            OrderResult(swapped=False, raw="I cannot decide.", winner=None),
        ), details={"top_logprobs": {"original": {"a": -0.1, "b": -2.5}}}),
    ])


async def test_each_order_gets_its_own_recorded_text(recorded):
    backend = create_backend(f"replay:{recorded}")
    assert (await backend.complete(ask("x/1"))).text == "Output (a)"
    assert (await backend.complete(ask("x/1", "swapped"))).text == "**Output (b)**"
    assert (await backend.complete(ask("x/2"))).text == "I cannot decide."


async def test_recorded_logprobs_come_back(recorded):
    backend = create_backend(f"replay:{recorded}")
    completion = await backend.complete(ask("x/2"))
    assert completion.top_logprobs == ({"a": -0.1, "b": -2.5},)
    assert (await backend.complete(ask("x/1"))).top_logprobs is None


async def test_a_missing_recording_names_example_and_order(recorded):
    backend = create_backend(f"replay:{recorded}")
    with pytest.raises(BadInput, match=r"no recorded answer for example 'x/2', swapped order"):
        await backend.complete(ask("x/2", "swapped"))
    with pytest.raises(BadInput, match=r"no recorded answer for example 'nope'"):
        await backend.complete(ask("nope"))


async def test_the_error_passes_the_call_path_unretried(recorded):
    path = CallPath(create_backend(f"replay:{recorded}"), max_retries=3)
    with pytest.raises(BadInput, match="x/2', swapped"):
        await path.complete(ask("x/2", "swapped"))
    assert path.usage.retries == 0


async def test_untagged_unrecorded_stages_and_members_are_named(recorded):
    backend = create_backend(f"replay:{recorded}")
    with pytest.raises(BadInput, match="without a call tag"):
        await backend.complete(Request(messages=(Message("user", "ignored"),)))
    with pytest.raises(BadInput, match="example 'x/1', stage 'metrics'"):
        await backend.complete(ask("x/1", None, "metrics"))
    with pytest.raises(BadInput, match="no recorded member 'sample-2' for example 'x/1'"):
        await backend.complete(ask("x/1", member=("sample-2",)))


def test_bad_specs_are_bad_input(tmp_path):
    with pytest.raises(BadInput, match="give the recorded run dir"):
        create_backend("replay:")
    with pytest.raises(BadInput, match="not a run directory"):
        create_backend(f"replay:{tmp_path / 'absent'}")


# --- a whole recorded run, replayed through the runner, comes out the same ---

PAIRS = [
    Example(id=f"q{i}", instruction=f"Question {i}?", response_a=f"answer {i} one", response_b=f"answer {i} two",
            gold="a" if i % 2 else "b")
    for i in range(8)
]


async def judge_into(out, protocol, call_path):
    manifest = Manifest(judge="test", protocol=protocol.id, dataset="pairs", package_version="0",
                        started_at="2026-11-23T00:00:00+00:00", n_examples=len(PAIRS))
    run_dir = open_run_dir(out, manifest, PAIRS)
    return await judge_run(lambda e: run_protocol(protocol, e, call_path), run_dir, workers=call_path.concurrency)


def comparable(run):
    """Everything a verdict says except what the calls cost."""
    return [v.model_dump(exclude={"usage"}) for v in run.verdicts]


async def test_replaying_a_generated_run_reproduces_it_exactly(scripted_server, tmp_path):
    """Answers in several shapes, one unparseable: replay re-parses the same text to the same verdicts."""
    shapes = ["Output (a)", "**Output (b)**", "Output (b) is better.", "Both are fine.", "output (A)"]
    scripted_server.answer = lambda call: shapes[sum(map(ord, call.prompt)) % len(shapes)]
    protocol = load_protocol("llmbar/vanilla")
    live = CallPath(create_backend("openai:judge", base_url=scripted_server.openai_url), max_retries=0)
    recorded = await judge_into(tmp_path / "live", protocol, live)
    await live.aclose()
    assert {o.winner for v in recorded.verdicts for o in v.orders} >= {"a", "b", None}  # several cases
    served = scripted_server.total_answered()

    replayed = await judge_into(tmp_path / "replayed", protocol,
                                CallPath(create_backend(f"replay:{tmp_path / 'live'}")))
    assert comparable(replayed) == comparable(recorded)
    assert scripted_server.total_answered() == served  # no model was called


async def test_replaying_a_logprob_run_reproduces_margins_exactly(tmp_path):
    class Leaning:
        concurrency = 1

        async def complete(self, request):
            lean = (len(request.messages[-1].content) % 7) / 3 - 1
            p_first = 1 / (1 + math.exp(-lean))
            return Completion(text="a", top_logprobs=({"a": math.log(p_first), "b": math.log(1 - p_first), "c": -9.0},))

    protocol = load_protocol("logprob/pairwise")
    recorded = await judge_into(tmp_path / "live", protocol, Leaning())
    replayed = await judge_into(tmp_path / "replayed", protocol,
                                CallPath(create_backend(f"replay:{tmp_path / 'live'}")))
    assert comparable(replayed) == comparable(recorded)
    assert all(o.margin is not None for v in replayed.verdicts for o in v.orders)


@pytest.mark.parametrize(("strategy", "protocol_id"), [("Vanilla", "llmbar/vanilla"), ("Metrics", "llmbar/metrics")])
async def test_an_imported_llmbar_run_replays_offline(data_dir, tmp_path, strategy, protocol_id):
    """GPT-4's recorded LLMBar Natural outputs, re-parsed by our protocols with no model."""
    from judgekit.runs.importers.llmbar import import_llmbar

    imported = import_llmbar(data_dir / "llmbar/Dataset/LLMBar/Natural/evaluators/GPT-4" / strategy, tmp_path / "imp")
    protocol = load_protocol(protocol_id)
    call_path = CallPath(create_backend(f"replay:{tmp_path / 'imp'}"))
    replayed = [await run_protocol(protocol, e, call_path) for e in imported.examples]
    theirs = [o.winner for v in imported.verdicts for o in v.orders]
    ours = [o.winner for v in replayed for o in v.orders]
    assert [o.raw for v in replayed for o in v.orders] == [o.raw for v in imported.verdicts for o in v.orders]
    assert len(ours) == 200 and sum(a == b for a, b in zip(ours, theirs)) >= 196
    if strategy == "Metrics":
        assert [v.transcript for v in replayed] == [i.transcript for i in imported.verdicts]
        assert all([c.stage for c in v.transcript] == ["metrics"] for v in replayed)
    assert call_path.usage.tokens_in == 0


@pytest.mark.parametrize("protocol_id", ["reife/self-consistency", "reife/protocol-consistency", "panel/majority"])
async def test_composite_runs_replay_exactly_sample_by_sample(protocol_id, tmp_path):
    """Each sample and member answers differently; replay finds every one under its member name."""

    class Noisy:
        """A judge whose answer depends on the prompt and on which sample is drawn."""

        concurrency = 1

        async def complete(self, request):
            prompt = request.messages[-1].content
            pick = (sum(map(ord, prompt)) + request.sample) % 3
            return Completion(text=["Output (a)", "[[B]]\nOutput (b)", "no idea"][pick])

    protocol = load_protocol(protocol_id)
    recorded = await judge_into(tmp_path / "live", protocol, Noisy())
    members = [m for v in recorded.verdicts for m in v.details["members"]]
    assert len({o["raw"] for m in members for o in m["orders"]}) > 1  # the members really differ
    replay = CallPath(create_backend(f"replay:{tmp_path / 'live'}"))
    replayed = await judge_into(tmp_path / "replayed", protocol, replay)
    assert comparable(replayed) == comparable(recorded)
    assert replay.usage.calls == sum(v.usage.calls for v in recorded.verdicts) and replay.usage.tokens_in == 0
