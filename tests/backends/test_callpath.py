"""The shared call path: retries on every injected fault, Retry-After, concurrency bounds, cost."""

from __future__ import annotations

import asyncio
import json

import pytest
from servers import Fault, ScriptedServer, scripted_server  # noqa: F401  (fixture)

from judgekit.backends.base import Backend, Completion, Message, Request
from judgekit.backends.call_path import CallPath, retry_after_seconds
from judgekit.backends.prices import PriceTable
from judgekit.backends.registry import create_backend
from judgekit.errors import BadInput, JudgekitError

APIS = ["openai", "anthropic"]


def ask(text: str, **kwargs) -> Request:
    return Request((Message("user", text),), **kwargs)


def path_for(server: ScriptedServer, api: str, **options) -> CallPath:
    url = server.openai_url if api == "openai" else server.anthropic_url
    options.setdefault("backoff_base", 0.01)
    return CallPath(create_backend(f"{api}:judge", base_url=url), **options)


FAULTS = {
    "429": Fault.rate_limit(retry_after=0.05),
    "500": Fault.server_error(),
    "503": Fault.server_error(503),
    "slow": Fault.slow(5.0),
    "garbled": Fault.garbled(),
    "reset": Fault.reset(),
}


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_each_fault_still_gives_the_right_answer_once(scripted_server, api, fault):
    prompts = [f"question {i}" for i in range(6)]
    scripted_server.inject(FAULTS[fault], FAULTS[fault], prompt="question 2")
    scripted_server.inject(FAULTS[fault], prompt="question 4")
    path = path_for(scripted_server, api, timeout=0.5, concurrency=3)
    completions = await asyncio.gather(*(path.complete(ask(p)) for p in prompts))
    await path.aclose()
    assert [c.text for c in completions] == ["echo: " + p for p in prompts]
    kind = FAULTS[fault].kind
    assert scripted_server.faults_served[kind] == 3
    assert scripted_server.total_answered() == 6 and scripted_server.max_answers_per_prompt() == 1
    assert path.usage.retries == 3 and path.usage.calls == 6


async def test_timeouts_give_up_with_the_limit_in_the_message(scripted_server):
    scripted_server.inject(Fault.slow(5.0), Fault.slow(5.0))
    path = path_for(scripted_server, "anthropic", timeout=0.2, max_retries=1)
    with pytest.raises(JudgekitError, match=r"gave up after 2 attempts; last error: TimeoutError: "
                       r"the server sent nothing for 0.2 s\. .*try --concurrency \d+ or --timeout 0.8$"):
        await path.complete(ask("slow"))
    await path.aclose()
    assert path.usage.timeouts == 2 and path.usage.retries == 1


async def test_an_abandoned_call_frees_its_slot_once_a_call_sent_after_it_was_answered(scripted_server):
    """Sent third, "stuck" is held for 3 x 0.5 s when it times out (the calls in flight when it was
    sent), and the timeout leaves one slot. But "after", sent later, was answered first: a server
    answering in turn is past "stuck", so its retry goes at once instead of at 1.5 s."""
    scripted_server.inject(Fault.slow(5.0), prompt="stuck")
    path = path_for(scripted_server, "openai", timeout=0.5, concurrency=3)
    completions = await asyncio.gather(*(path.complete(ask(p)) for p in ["first", "second", "stuck", "after"]))
    await path.aclose()
    assert [c.text for c in completions] == ["echo: first", "echo: second", "echo: stuck", "echo: after"]
    assert path.usage.timeouts == 1 and scripted_server.max_answers_per_prompt() == 1
    times = scripted_server.request_times
    assert len(times) == 5 and times[-1] - times[0] < 1.2, times  # the retry came about 0.5 s after the first


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("header", ["retry-after", "retry-after-ms"])
async def test_retry_after_is_honoured(scripted_server, api, header):
    scripted_server.inject(Fault.rate_limit(retry_after=0.25, header=header))
    path = path_for(scripted_server, api, backoff_base=0.001)
    completion = await path.complete(ask("wait for it"))
    await path.aclose()
    first, second = scripted_server.request_times
    assert completion.text == "echo: wait for it"
    assert 0.25 <= second - first < 0.85  # not the 0.001 s backoff, nor 250 s


async def test_backoff_grows_between_attempts(scripted_server):
    scripted_server.inject(*[Fault.server_error()] * 3)
    path = path_for(scripted_server, "openai", backoff_base=0.1, backoff_cap=10)
    await path.complete(ask("again"))
    await path.aclose()
    times = scripted_server.request_times
    gaps = [b - a for a, b in zip(times, times[1:])]
    # waits are drawn from [half, full] of 0.1, 0.2, 0.4 s
    assert [0.05, 0.1, 0.2] <= [round(g, 2) for g in gaps]
    assert gaps[2] > gaps[0] and all(g < 0.8 for g in gaps)


async def test_gives_up_after_max_retries_with_one_line(scripted_server):
    scripted_server.inject(*[Fault.server_error(502)] * 5)
    path = path_for(scripted_server, "openai", max_retries=2)
    with pytest.raises(JudgekitError) as info:
        await path.complete(ask("doomed"))
    await path.aclose()
    assert scripted_server.requests == 3
    assert "gave up after 3 attempts" in str(info.value) and "502" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("concurrency", [1, 4, 7])
async def test_concurrency_is_bounded_and_reached(scripted_server, api, concurrency):
    scripted_server.latency = 0.05
    path = path_for(scripted_server, api, concurrency=concurrency)
    await asyncio.gather(*(path.complete(ask(f"q{i}")) for i in range(4 * concurrency)))
    await path.aclose()
    assert scripted_server.peak_concurrency == concurrency


async def test_shared_limiter_caps_several_paths_together(scripted_server):
    scripted_server.latency = 0.05
    budget = asyncio.Semaphore(5)
    paths = [path_for(scripted_server, api, concurrency=4, limiter=budget) for api in APIS]
    await asyncio.gather(*(p.complete(ask(f"q{i}")) for p in paths for i in range(12)))
    for p in paths:
        await p.aclose()
    assert scripted_server.peak_concurrency == 5 and scripted_server.total_answered() == 24


async def test_identical_requests_in_flight_are_asked_once(scripted_server):
    scripted_server.latency = 0.1
    path = path_for(scripted_server, "openai")
    completions = await asyncio.gather(*(path.complete(ask("same")) for _ in range(10)))
    await path.aclose()
    assert scripted_server.requests == 1
    assert {c.text for c in completions} == {"echo: same"}
    assert sum(c.cached for c in completions) == 9 and path.usage.calls == 10


async def test_tokens_and_cost_are_counted_from_the_price_table(scripted_server):
    prices = PriceTable()
    prices.add("openai", "judge", input_per_m=2.0, output_per_m=10.0)
    path = path_for(scripted_server, "openai", prices=prices)
    completion = await path.complete(ask("one two three"))  # 3 words in; "echo: one two three" out
    await path.aclose()
    assert (completion.tokens_in, completion.tokens_out) == (3, 4)
    assert completion.cost_usd == pytest.approx((3 * 2.0 + 4 * 10.0) / 1e6)
    assert path.usage.cost_usd == pytest.approx(completion.cost_usd)
    assert (path.usage.tokens_in, path.usage.tokens_out, path.usage.unpriced_calls) == (3, 4, 0)
    assert completion.latency_s > 0 and not completion.cached


async def test_unpriced_model_costs_zero_and_is_counted(scripted_server):
    path = path_for(scripted_server, "anthropic", prices=PriceTable.load())
    completion = await path.complete(ask("hello"))
    await path.aclose()
    assert completion.cost_usd == 0.0 and path.usage.unpriced_calls == 1


def test_price_lookup_follows_dated_names_only():
    table = PriceTable.load()
    assert table.cost("openai", "gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert table.lookup("openai", "gpt-4o-2024-08-06") == table.lookup("openai", "gpt-4o")
    assert table.lookup("openai", "o3-pro") is None  # a different model, not a dated o3
    assert table.lookup("anthropic", "claude-sonnet-4-5-20250929") is not None


def test_user_price_file_extends_and_overrides(tmp_path, monkeypatch):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"openai": {"gpt-4o": [1, 2], "my-finetune": [3, 4]}}))
    monkeypatch.setenv("JUDGEKIT_PRICES", str(path))
    table = PriceTable.load()
    assert table.cost("openai", "gpt-4o", 1_000_000, 0) == 1.0
    assert table.cost("openai", "my-finetune", 0, 1_000_000) == 4.0
    assert table.lookup("anthropic", "claude-3-haiku") is not None


def test_bad_price_file_names_file_and_field(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("openai:\n  gpt-4o: [1.0]\n")
    with pytest.raises(BadInput, match=r"prices\.yaml: openai\.gpt-4o: expected \[input, output\]"):
        PriceTable.load(path)


def test_retry_after_header_forms():
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


async def test_waiters_ask_themselves_when_the_first_asker_is_cancelled(scripted_server):
    scripted_server.latency = 0.3
    path = path_for(scripted_server, "openai")
    first = asyncio.create_task(path.complete(ask("shared")))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(path.complete(ask("shared")))
    await asyncio.sleep(0.05)
    first.cancel()
    completion = await second
    await path.aclose()
    assert first.cancelled() and completion.text == "echo: shared" and not completion.cached
    assert scripted_server.requests == 2 and scripted_server.total_answered() == 1


async def test_backend_ceiling_caps_the_setting():
    class OneAtATime(Backend):
        provider = "one-at-a-time"
        max_concurrency = 1

        def __init__(self) -> None:
            super().__init__("m")
            self.active = self.peak = 0

        async def complete(self, request: Request) -> Completion:
            self.active += 1
            self.peak = max(self.peak, self.active)
            await asyncio.sleep(0.01)
            self.active -= 1
            return Completion(text=request.messages[0].content)

    backend = OneAtATime()
    path = CallPath(backend, concurrency=8)
    texts = await asyncio.gather(*(path.complete(ask(f"q{i}")) for i in range(6)))
    assert path.concurrency == 1 and backend.peak == 1
    assert [c.text for c in texts] == [f"q{i}" for i in range(6)]


@pytest.mark.parametrize("interruptible", [True, False])
async def test_an_engine_that_cannot_be_interrupted_is_waited_for(interruptible):
    class SlowEngine(Backend):
        provider = "slow-engine"

        def __init__(self) -> None:
            super().__init__("m")
            self.calls = 0

        async def complete(self, request: Request) -> Completion:
            self.calls += 1
            await asyncio.sleep(0.3)
            return Completion(text="done")

    SlowEngine.interruptible = interruptible
    backend = SlowEngine()
    path = CallPath(backend, cache=None, timeout=0.1, max_retries=1, backoff_base=0.01)
    if interruptible:
        with pytest.raises(JudgekitError, match="the server sent nothing for 0.1 s"):
            await path.complete(ask("q"))
        assert backend.calls == 2  # timed out, retried once, gave up
    else:
        assert (await path.complete(ask("q"))).text == "done"
        assert backend.calls == 1


def test_concurrency_below_one_is_bad_input(scripted_server):
    with pytest.raises(BadInput, match="concurrency"):
        path_for(scripted_server, "openai", concurrency=0)


@pytest.mark.parametrize("api", APIS)
async def test_a_storm_of_mixed_faults_loses_and_repeats_nothing(scripted_server, api):
    # every kind twice, in turn: the 429s, 503s and timeouts bring the calls in flight down to one, after
    # which each slow reply costs its 0.5 s timeout alone (five rounds of every kind took 3.8 s)
    kinds = list(FAULTS.values())
    scripted_server.inject(*(kinds[i % len(kinds)] for i in range(12)))
    scripted_server.latency = 0.01
    path = path_for(scripted_server, api, timeout=0.5, concurrency=8, max_retries=8)
    prompts = [f"item {i}" for i in range(60)]
    completions = await asyncio.gather(*(path.complete(ask(p)) for p in prompts))
    await path.aclose()
    assert [c.text for c in completions] == ["echo: " + p for p in prompts]
    assert sum(scripted_server.faults_served.values()) == 12
    assert scripted_server.total_answered() == 60 and scripted_server.max_answers_per_prompt() == 1
