"""OpenAI and Anthropic backends through their real SDK clients against the scripted server."""

from __future__ import annotations

import math
import time

import pytest
from servers import Call, Reply, ScriptedServer, scripted_server  # noqa: F401  (fixture)

from judgekit.backends.base import Backend, Completion, Message, Refused, Request, SamplingParams
from judgekit.backends.call_path import CallPath
from judgekit.backends.registry import PROVIDERS, create_backend, parse_spec, register_backend
from judgekit.errors import BadInput, JudgekitError

SYSTEM = Message("system", "You are a fair judge.")


def ask(text: str, **kwargs) -> Request:
    return Request((SYSTEM, Message("user", text)), **kwargs)


def seen(server: ScriptedServer) -> list[Call]:
    """Record every call the server answers, keeping its echo behaviour."""
    calls: list[Call] = []

    def answer(call: Call) -> str:
        calls.append(call)
        return "echo: " + call.prompt

    server.answer = answer
    return calls


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


async def test_openai_completion_text_tokens_and_request_shape(scripted_server):
    calls = seen(scripted_server)
    backend = create_backend("openai:judge-7b", base_url=scripted_server.openai_url)
    params = SamplingParams(temperature=0.3, max_tokens=17, stop=("\n\n",), extra=(("seed", 5),))
    completion = await backend.complete(ask("Which is better?", params=params))
    await backend.aclose()
    assert completion.text == "echo: Which is better?"
    assert (completion.tokens_in, completion.tokens_out) == (8, 4)  # 5 system + 3 user words
    assert completion.finish_reason == "stop" and completion.top_logprobs is None
    body = calls[0].body
    assert body["model"] == "judge-7b" and body["temperature"] == 0.3 and body["max_tokens"] == 17
    assert body["stop"] == ["\n\n"] and body["seed"] == 5 and "logprobs" not in body
    assert body["messages"][0] == {"role": "system", "content": "You are a fair judge."}


async def test_openai_top_logprobs_per_generated_token(scripted_server):
    scripted_server.answer = lambda call: Reply("Output (b)",
                                                [{"Output": -0.01, "The": -4.6}, {"(b)": -0.2, "(a)": -1.7}])
    backend = create_backend("openai:judge", base_url=scripted_server.openai_url)
    completion = await backend.complete(ask("pick", params=SamplingParams(top_logprobs=2)))
    await backend.aclose()
    assert completion.top_logprobs == ({"Output": -0.01, "The": -4.6}, {"(b)": -0.2, "(a)": -1.7})
    assert math.exp(completion.top_logprobs[1]["(a)"]) == pytest.approx(0.1827, abs=1e-3)


async def test_openai_continuation_is_a_final_assistant_message(scripted_server):
    calls = seen(scripted_server)
    plain = create_backend("openai:judge", base_url=scripted_server.openai_url)
    vllm = create_backend("openai:judge", base_url=scripted_server.openai_url, continue_final_message=True)
    await plain.complete(ask("pick", continuation="Output ("))
    await vllm.complete(ask("pick", continuation="Output ("))
    await plain.aclose(), await vllm.aclose()
    assert [c.prefill for c in calls] == ["Output (", "Output ("]
    assert "continue_final_message" not in calls[0].body
    assert calls[1].body["continue_final_message"] is True and calls[1].body["add_generation_prompt"] is False


async def test_anthropic_system_is_separate_and_prefill_trimmed(scripted_server):
    calls = seen(scripted_server)
    backend = create_backend("anthropic:claude-test", base_url=scripted_server.anthropic_url)
    completion = await backend.complete(ask("Which is better?", continuation="Output: ",
                                            params=SamplingParams(temperature=0.7)))
    await backend.aclose()
    body = calls[0].body
    assert body["system"] == "You are a fair judge." and body["temperature"] == 0.7
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"]
    assert body["messages"][-1]["content"] == "Output:"  # the API refuses a prefill ending in a space
    assert completion.text == "echo: Which is better?" and completion.tokens_out == 4


async def test_anthropic_refuses_logprobs_instead_of_returning_none(scripted_server):
    backend = create_backend("anthropic:claude-test", base_url=scripted_server.anthropic_url)
    with pytest.raises(BadInput, match="no logprobs"):
        await backend.complete(ask("pick", params=SamplingParams(top_logprobs=3)))
    await backend.aclose()
    assert scripted_server.requests == 0


def test_spec_parsing_keeps_colons_and_slashes_in_the_model():
    assert parse_spec("openai:meta-llama/Llama-3.1-8B:q4") == ("openai", "meta-llama/Llama-3.1-8B:q4")
    assert parse_spec("local") == ("local", "")
    with pytest.raises(BadInput, match="PROVIDER:MODEL"):
        parse_spec(":gpt-4o")


def test_unknown_provider_lists_the_known_ones():
    with pytest.raises(BadInput) as info:
        create_backend("openia:gpt-4o")
    message = str(info.value)
    assert "openia" in message and all(name in message for name in PROVIDERS)


@pytest.mark.parametrize(
    ("spec", "variable"),
    [("openai:gpt-4o-mini", "OPENAI_API_KEY"), ("anthropic:claude-sonnet-4-5", "ANTHROPIC_API_KEY")]
)
def test_missing_key_names_the_variable_to_set(spec, variable):
    with pytest.raises(BadInput, match=variable):
        create_backend(spec)


def test_key_variable_can_be_renamed(monkeypatch):
    monkeypatch.setenv("MY_TEAM_KEY", "k")
    assert create_backend("openai:gpt-4o-mini", api_key_env="MY_TEAM_KEY").endpoint == "https://api.openai.com/v1"
    with pytest.raises(BadInput, match="OTHER_KEY"):
        create_backend("openai:gpt-4o-mini", api_key_env="OTHER_KEY")


def test_a_new_provider_is_one_registered_class():
    @register_backend("scripted-test")
    class Fixed(Backend):
        async def complete(self, request: Request) -> Completion:
            return Completion(text=self.model)

    backend = create_backend("scripted-test:abc", timeout=None)
    assert isinstance(backend, Fixed) and backend.provider == "scripted-test" and backend.model == "abc"


@pytest.mark.parametrize("api", ["openai", "anthropic"])
async def test_rejected_key_is_one_line_without_the_key(scripted_server, monkeypatch, api):
    variable = f"{api.upper()}_API_KEY"
    monkeypatch.setenv(variable, "sk-wrong-key-123456")
    scripted_server.api_key = "sk-right-key"
    url = scripted_server.openai_url if api == "openai" else scripted_server.anthropic_url
    path = CallPath(create_backend(f"{api}:judge", base_url=url), backoff_base=0.01)
    with pytest.raises(BadInput) as info:
        await path.complete(ask("hello"))
    await path.aclose()
    message = str(info.value)
    assert "401" in message and variable in message and "\n" not in message
    assert "sk-wrong-key" not in message
    assert scripted_server.requests == 1  # not retried


@pytest.mark.parametrize("api", ["openai", "anthropic"])
async def test_unknown_model_is_one_line_and_not_retried(scripted_server, api):
    scripted_server.models = {"real-model"}
    url = scripted_server.openai_url if api == "openai" else scripted_server.anthropic_url
    path = CallPath(create_backend(f"{api}:no-such-model", base_url=url), backoff_base=0.01)
    with pytest.raises(BadInput, match=r"no-such-model.*404") as info:
        await path.complete(ask("hello"))
    await path.aclose()
    assert "\n" not in str(info.value) and scripted_server.requests == 1


@pytest.mark.parametrize("api", ["openai", "anthropic"])
async def test_refused_connection_fails_fast_naming_the_url(api):
    with ScriptedServer() as server:
        url = server.openai_url if api == "openai" else server.anthropic_url
    # the server is stopped: its port now refuses connections
    path = CallPath(create_backend(f"{api}:judge", base_url=url), max_retries=6)
    start = time.monotonic()
    with pytest.raises(JudgekitError) as info:
        await path.complete(ask("hello"))
    await path.aclose()
    message = str(info.value)
    assert time.monotonic() - start < 10 and path.usage.retries == 0
    assert message == f"{api}:judge at {url}: cannot connect: connection refused " \
                      "(is the server running and listening on that port?)"


@pytest.mark.parametrize("api", ["openai", "anthropic"])
async def test_unknown_host_fails_fast_naming_the_url(api):
    url = "http://judgekit-test.invalid:8011" + ("/v1" if api == "openai" else "")
    path = CallPath(create_backend(f"{api}:judge", base_url=url), max_retries=6)
    start = time.monotonic()
    with pytest.raises(JudgekitError, match=r"judgekit-test\.invalid:8011.*cannot connect: unknown host") as info:
        await path.complete(ask("hello"))
    await path.aclose()
    assert time.monotonic() - start < 10 and "\n" not in str(info.value) and path.usage.retries == 0


async def test_a_server_that_answered_and_then_refuses_is_restarting_and_retried():
    server = ScriptedServer().start()
    path = CallPath(create_backend("openai:judge", base_url=server.openai_url), max_retries=2, backoff_base=0.01)
    assert (await path.complete(ask("first"))).text == "echo: first"
    server.stop()
    with pytest.raises(JudgekitError, match="gave up after 3 attempts.*ConnectionRefusedError"):
        await path.complete(ask("second"))
    await path.aclose()
    assert path.usage.retries == 2


async def test_refused_request_is_a_runtime_error_with_the_servers_reason(scripted_server):
    from servers import Fault

    scripted_server.inject(Fault.http_error(400))
    path = CallPath(create_backend("openai:judge", base_url=scripted_server.openai_url))
    with pytest.raises(JudgekitError, match="HTTP 400.*scripted failure 400") as info:
        await path.complete(ask("hello"))
    await path.aclose()
    assert not isinstance(info.value, BadInput)


def test_an_openai_reply_is_read_from_its_json_and_a_reply_without_choices_is_unreadable():
    """openai: reads the reply's JSON itself (the SDK's reply models cost CPU per call): every field, and a
    body of the wrong shape is an UnreadableReply (retried by the call path), never a KeyError."""
    from judgekit.backends.call_path import UnreadableReply

    backend = create_backend("openai:m", base_url="http://127.0.0.1:9/v1")
    reply = {"choices": [{"message": {"role": "assistant", "content": "Output (a)"}, "finish_reason": "stop",
                          "logprobs": {"content": [{"token": "a", "logprob": -0.1,
                                                    "top_logprobs": [{"token": "a", "logprob": -0.1},
                                                                     {"token": "b", "logprob": -2.3}]},
                                                   {"token": ")", "logprob": -0.01, "top_logprobs": []}]}}],
             "usage": {"prompt_tokens": 12, "completion_tokens": 3}}
    assert backend.read_reply(reply) == Completion(text="Output (a)", tokens_in=12, tokens_out=3,
                                                   finish_reason="stop",
                                                   top_logprobs=({"a": -0.1, "b": -2.3}, {")": -0.01}))
    bare = backend.read_reply({"choices": [{"message": {"content": None}}], "usage": None})
    assert (bare.text, bare.tokens_in, bare.tokens_out, bare.top_logprobs) == ("", 0, 0, None)
    for wrong in ({}, {"choices": [{}]}, {"choices": [{"message": None}]}, [], "text", None):
        with pytest.raises(UnreadableReply, match="reply without choices"):
            backend.read_reply(wrong)
    with pytest.raises(Refused, match="no choices"):  # the server's answer (a content filter): not paid for again
        backend.read_reply({"choices": []})


async def test_sdk_clients_share_one_certificate_store():
    """Each SDK client built its own TLS context from the system's certificates, 50 ms of CPU: paid by
    every judge, panel seat, sweep cell and test that makes a client."""
    backends = [create_backend(f"{api}:judge", base_url="http://127.0.0.1:9/v1") for api in ("openai", "anthropic")
                for _ in range(11)]
    for first in (backends[0], backends[-1]):  # each SDK imported, the store built once
        first.prepare()
    start = time.process_time()
    for backend in backends[1:-1]:
        backend.prepare()  # makes the client
    assert time.process_time() - start < 0.25  # 1 s when each built its own
    for backend in backends:
        await backend.aclose()
