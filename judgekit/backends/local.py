"""The embedded judge: a GGUF model run in-process by llama.cpp (llama-cpp-python).

``local:`` uses the default model (assembled from PyPI slices, see
``model_file``); ``local:/path/to/model.gguf`` any other GGUF. We apply the
model's own chat template ourselves rather than calling
``create_chat_completion`` so that a ``continuation`` (the answer prefix of a
logprob protocol) can be appended to the assistant turn, and we read the
next-token logits straight from the context: with ``logits_all=False``
llama-cpp-python keeps no scores of its own.

The engine is blocking and single-stream, so calls run in a worker thread one
at a time (``max_concurrency = 1``). Consecutive prompts that share a prefix
(the same instruction in both presentation orders, a shared system prompt)
skip re-evaluating it: the KV cache still holds the previous prompt, so only
the new suffix is decoded. Sampling is ours (greedy, or a draw seeded by
``Request.sample`` and the prompt), so a request's answer does not depend on
what ran before, and draws for different prompts are independent.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from judgekit.backends.base import Backend, Completion, Request
from judgekit.backends.model_file import DEFAULT_MODEL_NAME, default_model_path
from judgekit.backends.registry import register_backend
from judgekit.errors import BadInput, JudgekitError

DEFAULT_N_CTX = 8192
"""Context window; LLMBar prompts stay well under it and its KV cache costs ~230 MB."""
PREFILL_CHUNK = 64
"""Prompt decoding batch; a multiple of 8 (see ``Engine.prefill``)."""
THREADS_ENV = "JUDGEKIT_THREADS"
"""CPU threads llama.cpp may use (default: every core); fewer leaves cores to other work on a shared machine."""


def engine_threads() -> int:
    """``JUDGEKIT_THREADS`` if set (a positive integer), else the number of cores."""
    value = os.environ.get(THREADS_ENV)
    if value is None or not value.strip():
        return os.cpu_count() or 1
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise BadInput(f"{THREADS_ENV}={value!r}: not a positive number of threads")
    return threads


def reusable_prefix(common: int, length: int) -> int:
    """Cached positions a prompt of ``length`` tokens may keep when its first ``common`` match the cache.

    Reuse stops at a multiple of PREFILL_CHUNK (see ``Engine.prefill``) and
    always leaves the last token to decode, whose logits the answer needs.
    """
    return min(common, length - 1) // PREFILL_CHUNK * PREFILL_CHUNK


@dataclass
class EngineStats:
    """Counters for benchmarks and tests: where the time went, what was reused."""

    calls: int = 0
    prompt_tokens: int = 0
    reused_tokens: int = 0
    """Prompt tokens found already in the KV cache (not evaluated again)."""
    generated_tokens: int = 0
    engine_s: float = 0.0
    """Seconds inside ``Engine.run``: templating, tokenizing, decoding, sampling."""
    decode_s: float = 0.0
    """Of which seconds inside llama.cpp's decode (``Llama.eval``)."""


class Engine:
    """One loaded model; not thread-safe, so every call holds ``lock``."""

    def __init__(self, path: Path, n_ctx: int) -> None:
        try:
            self.llm = llama_cpp.Llama(
                str(path),
                n_ctx=n_ctx,
                n_threads=engine_threads(),  # llama-cpp-python's default is half the cores
                logits_all=False,
                verbose=False,
            )
        except ValueError as e:  # llama-cpp-python's way of saying the file did not load
            raise JudgekitError(f"local:{path}: could not load the model ({e})") from None
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise JudgekitError(f"local:{path}: the GGUF file has no chat template (tokenizer.chat_template)")
        # llama-cpp-python exposes these only on its internal model wrapper
        eos = self.llm._model.token_get_text(self.llm.token_eos())
        self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token="")
        self.add_bos = self.llm._model.add_bos_token()
        self.lock = threading.Lock()
        self.stats = EngineStats()
        self.prefilled = 0
        """Leading positions of the KV cache decoded by ``prefill`` (reusable)."""

    def prompt_tokens(self, request: Request) -> list[int]:
        """The chat-formatted prompt, with the assistant's forced prefix appended."""
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        prompt = self.formatter(messages=messages).prompt + (request.continuation or "")
        return self.llm.tokenize(prompt.encode("utf-8"), add_bos=self.add_bos, special=True)

    def logprobs(self) -> np.ndarray:
        """Log-softmax of the logits after the last decoded token (float64, whole vocabulary)."""
        pointer = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),)).astype(np.float64)
        return logits - np.logaddexp.reduce(logits)

    def top_logprobs(self, logprobs: np.ndarray, k: int) -> dict[str, float]:
        """The k likeliest next tokens as text -> log-probability."""
        best = np.argpartition(-logprobs, k)[:k]
        out: dict[str, float] = {}
        for token in best[np.argsort(-logprobs[best])]:
            text = self.llm.detokenize([int(token)]).decode("utf-8", errors="replace")
            out.setdefault(text, float(logprobs[token]))  # keep the likelier of two same-text tokens
        return out

    def prefill(self, tokens: list[int]) -> int:
        """Decode the prompt, reusing the cached prefix; return how many tokens were reused.

        llama.cpp's numbers for a position depend slightly on how its batch was
        cut (we measured logit differences up to 0.4), so the prompt is always
        decoded in chunks aligned to multiples of PREFILL_CHUNK from position
        0 and reuse stops at such a boundary: a prompt gets bit-identical
        logits whatever was decoded before it.
        """
        cached = self.llm.input_ids[: self.prefilled].tolist()
        start = reusable_prefix(self.llm.longest_token_prefix(cached, tokens), len(tokens))
        self.llm.n_tokens, self.prefilled = start, start  # eval() drops the KV cache past n_tokens
        for i in range(start, len(tokens), PREFILL_CHUNK):
            self.decode(tokens[i : i + PREFILL_CHUNK])
        self.prefilled = len(tokens)
        return start

    def decode(self, tokens: list[int]) -> None:
        begin = time.perf_counter()
        self.llm.eval(tokens)
        self.stats.decode_s += time.perf_counter() - begin

    def run(self, request: Request) -> Completion:
        """Answer one request (blocking); hold ``lock`` around it."""
        begin = time.perf_counter()
        params = request.params
        tokens = self.prompt_tokens(request)
        if len(tokens) + params.max_tokens > self.llm.n_ctx():
            raise JudgekitError(
                f"local: {request.purpose or 'call'}: prompt of {len(tokens)} tokens plus max_tokens "
                f"{params.max_tokens} exceeds the context window of {self.llm.n_ctx()}"
            )
        reused = self.prefill(tokens)
        rng = sampler(request.sample, tokens)
        out: list[int] = []
        alternatives: list[dict[str, float]] = []
        text, finish = "", "length"
        while len(out) < params.max_tokens:
            logprobs = self.logprobs()
            if params.top_logprobs:
                alternatives.append(self.top_logprobs(logprobs, params.top_logprobs))
            token = pick(logprobs, params.temperature, rng)
            if llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token):
                finish = "stop"
                break
            out.append(token)
            text = self.llm.detokenize(out).decode("utf-8", errors="ignore")
            if stop := next((s for s in params.stop if s in text), None):
                text, finish = text[: text.index(stop)], "stop"
                break
            if len(out) < params.max_tokens:
                self.decode([token])
        self._count(len(tokens), reused, len(out), time.perf_counter() - begin)
        return Completion(
            text=text,
            tokens_in=len(tokens),
            tokens_out=len(out),
            finish_reason=finish,
            top_logprobs=tuple(alternatives) if params.top_logprobs else None,
        )

    def _count(self, prompt: int, reused: int, generated: int, elapsed: float) -> None:
        self.stats.calls += 1
        self.stats.prompt_tokens += prompt
        self.stats.reused_tokens += reused
        self.stats.generated_tokens += generated
        self.stats.engine_s += elapsed


def sampler(sample: int, tokens: list[int]) -> np.random.Generator:
    """The generator of one request's draws, seeded by its sample index and its prompt's tokens.

    Seeded by the sample index alone, every prompt at one index would draw the same random numbers: a
    position-biased model then picks the same slot for every item and order at once (a stability repeat
    at temperature 0.7 answered tie to all 40 pairs), so the items' verdicts were not independent draws.
    """
    digest = hashlib.sha256(np.asarray(tokens, dtype=np.int64).tobytes()).digest()
    return np.random.default_rng([sample, int.from_bytes(digest[:8], "little")])


def pick(logprobs: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """Greedy at temperature 0, else a draw from the tempered distribution."""
    if temperature <= 0:
        return int(np.argmax(logprobs))
    scaled = logprobs / temperature
    probs = np.exp(scaled - scaled.max())
    return int(rng.choice(len(probs), p=probs / probs.sum()))


_ENGINES: dict[tuple[Path, int], Engine] = {}
_ENGINES_LOCK = threading.Lock()


def load_engine(path: Path, n_ctx: int = DEFAULT_N_CTX) -> Engine:
    """The engine for a model file, loaded once per process and shared."""
    key = (path.resolve(), n_ctx)
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = Engine(path, n_ctx)
        return _ENGINES[key]


@register_backend("local")
class LocalBackend(Backend):
    """``local:`` or ``local:qwen2.5-coder-1.5b-instruct-q4_k_m`` (the default model),
    or ``local:/path/to/model.gguf``."""

    max_concurrency = 1
    interruptible = False

    def __init__(self, model: str, *, n_ctx: int = DEFAULT_N_CTX, **options: Any) -> None:
        if model and model != DEFAULT_MODEL_NAME.removesuffix(".gguf"):
            path = Path(model).expanduser()
            if not path.is_file():
                raise BadInput(f"judge spec local:{model}: no such model file")
        else:
            path = default_model_path()
        super().__init__(model or DEFAULT_MODEL_NAME.removesuffix(".gguf"), **options)
        self.path = path
        self.n_ctx = n_ctx

    @property
    def endpoint(self) -> str:
        return str(self.path)

    @property
    def engine(self) -> Engine:
        return load_engine(self.path, self.n_ctx)

    async def complete(self, request: Request) -> Completion:
        return await asyncio.to_thread(self._complete, request)

    def _complete(self, request: Request) -> Completion:
        engine = self.engine
        with engine.lock:
            return engine.run(request)
