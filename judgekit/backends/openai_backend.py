"""``openai:MODEL`` - OpenAI's chat completions, and any server that speaks them.

With ``base_url`` this reaches vLLM, SGLang, llama.cpp server, Ollama or a
LiteLLM proxy. ``OPENAI_API_KEY`` is sent to OpenAI's own HTTPS host only;
any other server gets the key in the variable the user names with
``api_key_env`` (``--api-key-env``), or a placeholder when none is named.
Such a server is waited for longer (``sdk.SELF_HOSTED_TIMEOUT``) than OpenAI.

Notes on mapping a Request:
- ``sample`` is not sent as ``n``: each sample index is its own call (and cache entry),
  so every sample is cached and retried on its own. A sample index other than 0
  is sent as ``seed``, so a repeated draw (``judgekit stability``) is
  reproducible where the server honours seeds.
- ``top_logprobs`` asks for ``logprobs`` with that many alternatives per token.
- ``continuation`` is sent as a final assistant message. llama.cpp server and
  Ollama continue such a message; vLLM and SGLang do when the backend option
  ``continue_final_message=True`` is set (it sends their extra fields);
  OpenAI's own API and llama.cpp's Python server do not, and answer after it
  instead; the call path counts such replies (``prefix_restarts``).
  ``Completion.text`` holds only what the model generated after the prefix.
- The SDK's own retries are off: the call path owns retrying.
- The SDK's aiohttp transport is used: at high concurrency it costs about half
  the CPU per call of the default one (see bench/README.md).
- The SDK is imported and its client made on the first call the cache cannot
  answer: a rerun answered from the cache skips about half a second of imports.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from judgekit.backends import sdk
from judgekit.backends.base import Backend, Completion, Refused, Request, RetryDecision
from judgekit.backends.call_path import UnreadableReply
from judgekit.backends.registry import register_backend
from judgekit.backends.urls import fingerprint, redact
from judgekit.errors import BadInput

OPENAI_URL = "https://api.openai.com/v1"


@register_backend("openai")
class OpenAIBackend(Backend):
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str | None = None,
        timeout: float = 3600.0,
        continue_final_message: bool = False,
        **options: Any,
    ) -> None:
        """``timeout`` is the SDK's hard limit per request; the call path's
        silence timeout normally acts long before it."""
        if not model:
            raise BadInput("judge spec: openai needs a model, e.g. openai:gpt-4o-mini")
        super().__init__(model, **options)
        self.base_url, self.own_service, self.key_hint, self.default_timeout = sdk.endpoint(
            base_url, url_env="OPENAI_BASE_URL", public_url=OPENAI_URL, provider_env="OPENAI_API_KEY",
            key_env=api_key_env,
        )
        self.api_key_env = api_key_env
        self.continue_final_message = continue_final_message
        # New OpenAI models take max_completion_tokens only; compatible servers know max_tokens.
        self._max_tokens_field = "max_completion_tokens" if self.own_service else "max_tokens"
        self.key()  # a missing key is said now, not at the first call
        self._timeout = timeout

    def prepare(self) -> None:
        self._client  # noqa: B018 (made once, here rather than inside a timed attempt)

    @cached_property
    def _client(self) -> Any:
        """The SDK client, made on the first call the cache cannot answer."""
        import openai

        return sdk.client(openai, openai.AsyncOpenAI, self.key(), self.base_url, self._timeout)

    def key(self) -> str:
        """The key for this server (the batch client asks too): see ``sdk.api_key``."""
        return sdk.api_key(f"openai:{self.model}", provider_env="OPENAI_API_KEY", key_env=self.api_key_env,
                           own_service=self.own_service, hint=" (or pass --base-url for a local server)")

    @property
    def endpoint(self) -> str:
        return redact(self.base_url)

    @property
    def endpoint_id(self) -> str:
        return fingerprint(self.base_url)

    def body(self, request: Request) -> dict[str, Any]:
        """The request's JSON body, a server's extra fields included (a batch's JSONL line sends the same)."""
        params = request.params
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        extra_body = dict(params.extra)
        if request.continuation is not None:
            messages.append({"role": "assistant", "content": request.continuation})
            if self.continue_final_message:
                extra_body.update(continue_final_message=True, add_generation_prompt=False)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": params.temperature,
            self._max_tokens_field: params.max_tokens,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if request.sample:
            body["seed"] = request.sample
        if params.top_logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = params.top_logprobs
        return body | extra_body

    async def complete(self, request: Request) -> Completion:
        import openai

        try:
            # The client's own POST of the JSON body, reading the JSON reply, not chat.completions.create: its walk
            # over the parameter types and its reply models were half the SDK's CPU per call (bench/README.md).
            response = await self._client.post("/chat/completions", body=self.body(request), cast_to=object)
        except openai.APIStatusError as e:
            if sdk.is_retryable_status(e.status_code):
                raise
            where = f"openai:{self.model} at {self.endpoint}"
            raise sdk.refusal(where, e.status_code, e.message, self.key_hint) from e
        return self.read_reply(response)

    def read_reply(self, reply: Any) -> Completion:
        """A chat completion's JSON (a live reply, or the body of a batch's output line) as a Completion.

        An empty ``choices`` list is the server's answer, not a garbled one (a content filter sends
        it): retrying pays for it again, so the item is refused instead."""
        if isinstance(reply, dict) and reply.get("choices") == []:
            raise Refused(f"openai:{self.model} at {self.endpoint}", "the reply holds no choices (a content filter?)")
        try:
            choice = reply["choices"][0]
            content = choice["message"]["content"]
            usage = reply.get("usage") or {}
            return Completion(
                text=content or "",
                tokens_in=usage.get("prompt_tokens") or 0,
                tokens_out=usage.get("completion_tokens") or 0,
                finish_reason=choice.get("finish_reason"),
                top_logprobs=_top_logprobs(choice),
            )
        except (KeyError, IndexError, TypeError, AttributeError):
            raise UnreadableReply(f"reply without choices from {self.endpoint}") from None

    def should_retry(self, error: BaseException) -> RetryDecision:
        import openai

        return sdk.retry_decision(openai, error)

    async def aclose(self) -> None:
        if "_client" in self.__dict__:  # made on the first call
            await self._client.close()


def _top_logprobs(choice: dict[str, Any]) -> tuple[dict[str, float], ...] | None:
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    return tuple(
        {alt["token"]: alt["logprob"] for alt in item["top_logprobs"]} if item.get("top_logprobs")
        else {item["token"]: item["logprob"]}
        for item in content
    )
