"""The embedded llama.cpp backend on the real default model (loaded once per test session)."""

import math

import pytest

from judgekit.backends.base import CallTag, Message, Request, SamplingParams
from judgekit.backends.registry import create_backend
from judgekit.errors import BadInput, JudgekitError

QUESTION = (
    Message("system", "You answer with one short line."),
    Message("user",
            "Which is the capital of France, Output (a): Berlin or Output (b): Paris? Reply Output (a) or Output (b)."),
)


@pytest.fixture(scope="module")
def backend():
    return create_backend("local:")


def test_a_missing_model_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="no such model file"):
        create_backend(f"local:{tmp_path / 'none.gguf'}")


@pytest.mark.parametrize(("common", "length", "kept"), [
    (0, 300, 0), (63, 300, 0), (64, 300, 64), (130, 300, 128),  # down to a chunk boundary
    (300, 300, 256), (128, 129, 128), (128, 128, 64),  # a whole cached prompt still decodes its last token
])
def test_reuse_stops_at_a_chunk_boundary_before_the_last_token(common, length, kept):
    from judgekit.backends.local import PREFILL_CHUNK, reusable_prefix

    assert PREFILL_CHUNK == 64  # the cases above are written for it
    assert reusable_prefix(common, length) == kept


@pytest.mark.parametrize(("value", "threads"), [(None, "cores"), ("", "cores"), ("1", 1), ("3", 3)])
def test_the_engine_uses_every_core_unless_told(monkeypatch, value, threads):
    import os

    from judgekit.backends.local import THREADS_ENV, engine_threads

    if value is None:
        monkeypatch.delenv(THREADS_ENV, raising=False)
    else:
        monkeypatch.setenv(THREADS_ENV, value)
    assert engine_threads() == (os.cpu_count() if threads == "cores" else threads)


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_a_bad_thread_count_names_the_variable(monkeypatch, value):
    from judgekit.backends.local import engine_threads

    monkeypatch.setenv("JUDGEKIT_THREADS", value)
    with pytest.raises(BadInput, match=f"JUDGEKIT_THREADS='{value}': not a positive number of threads"):
        engine_threads()


def test_a_file_that_is_not_gguf_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model" * 100)
    backend = create_backend(f"local:{junk}")
    with pytest.raises(JudgekitError, match="could not load the model"):
        backend.engine  # noqa: B018 - loading is the point


@pytest.mark.slow
async def test_greedy_generation_is_deterministic_and_stops(backend):
    request = Request(QUESTION, SamplingParams(max_tokens=20))
    first = await backend.complete(request)
    again = await backend.complete(request)
    assert first.text == again.text
    assert "Output (b)" in first.text
    assert 0 < first.tokens_out <= 20 and first.tokens_in > 40
    short = await backend.complete(Request(QUESTION, SamplingParams(max_tokens=2)))
    assert short.tokens_out == 2 and short.finish_reason == "length"
    stopped = await backend.complete(Request(QUESTION, SamplingParams(max_tokens=20, stop=("(",))))
    assert stopped.finish_reason == "stop" and "(" not in stopped.text and stopped.text.strip()


@pytest.mark.slow
async def test_next_token_logprobs_after_a_continuation(backend):
    request = Request(QUESTION, SamplingParams(max_tokens=1, top_logprobs=20), continuation="Output (")
    completion = await backend.complete(request)
    assert len(completion.top_logprobs) == 1
    distribution = completion.top_logprobs[0]
    assert len(distribution) <= 20 and all(math.isfinite(v) and v <= 0 for v in distribution.values())
    assert 0.5 < sum(math.exp(v) for v in distribution.values()) <= 1.0 + 1e-6
    assert completion.text == max(distribution, key=distribution.get)  # greedy picks the top token
    assert {"a", "b"} <= set(distribution)
    assert distribution["b"] > distribution["a"]


@pytest.mark.slow
async def test_a_shared_prefix_is_not_evaluated_again(backend):
    from judgekit.backends.local import PREFILL_CHUNK

    rules = " ".join(f"Rule {i}: judge only what the instruction asks." for i in range(16))
    first = (Message("system", rules), Message("user", "Output (a): Berlin. Output (b): Paris. Capital of France?"))
    second = (Message("system", rules), Message("user", "Output (a): Paris. Output (b): Berlin. Capital of France?"))
    stats = backend.engine.stats
    await backend.complete(Request(first, SamplingParams(max_tokens=1)))
    tokens, reused, decode_s = stats.prompt_tokens, stats.reused_tokens, stats.decode_s
    completion = await backend.complete(Request(second, SamplingParams(max_tokens=1)))
    assert stats.prompt_tokens - tokens == completion.tokens_in > 2 * PREFILL_CHUNK + 40
    new_reuse = stats.reused_tokens - reused
    assert new_reuse % PREFILL_CHUNK == 0
    assert new_reuse >= completion.tokens_in - 40 - PREFILL_CHUNK  # all but the differing tail
    assert stats.decode_s > decode_s


@pytest.mark.slow
async def test_samples_differ_by_seed_and_repeat_per_seed(backend):
    params = SamplingParams(temperature=1.5, max_tokens=12)
    texts = [(await backend.complete(Request(QUESTION, params, sample=s))).text for s in (0, 1, 2, 3, 0)]
    assert texts[0] == texts[4]
    assert len(set(texts[:4])) > 1


@pytest.mark.slow
async def test_a_prompt_beyond_the_context_is_a_clear_error(backend):
    huge = (Message("user", "word " * 9000),)
    with pytest.raises(JudgekitError, match="exceeds the context window of 8192"):
        await backend.complete(Request(huge, SamplingParams(max_tokens=4), tag=CallTag("ex-9", "compare", "original")))


@pytest.mark.slow
async def test_reusing_the_cache_gives_bit_identical_logprobs(backend):
    request = Request(QUESTION, SamplingParams(max_tokens=1, top_logprobs=5), continuation="Output (")
    engine = backend.engine
    engine.prefilled = 0  # nothing reusable: decode from scratch
    fresh = await backend.complete(request)
    other = Request((QUESTION[0], Message("user", QUESTION[1].content + " Think.")), SamplingParams(max_tokens=3))
    await backend.complete(other)  # shares the system prompt, then diverges
    reused = await backend.complete(request)
    assert reused.top_logprobs == fresh.top_logprobs
