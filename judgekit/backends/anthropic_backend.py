"""``anthropic:MODEL`` - Anthropic's Messages API through the official SDK.

System messages are joined and sent as the separate ``system`` field.
``continuation`` becomes an assistant prefill, which the API continues; it
rejects a prefill ending in whitespace, so trailing whitespace is trimmed and
the same whitespace is trimmed from the front of the reply. ``Completion.text``
holds only what the model wrote after the prefix. The API gives no logprobs,
so asking for ``top_logprobs`` is an error rather than a silent None. The key
``ANTHROPIC_API_KEY`` goes to Anthropic's own HTTPS host only; another
``base_url`` gets the variable named by ``api_key_env`` or a placeholder, and is
waited for longer (``sdk.SELF_HOSTED_TIMEOUT``). The SDK's own retries
are off because the call path owns retrying. As for ``openai:``, the SDK's
aiohttp transport carries the calls (cheaper per call at high concurrency),
and the SDK is imported on the first call the cache cannot answer.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from judgekit.backends import sdk
from judgekit.backends.base import Backend, Completion, Request, RetryDecision
from judgekit.backends.call_path import UnreadableReply
from judgekit.backends.registry import register_backend
from judgekit.backends.urls import fingerprint, redact
from judgekit.errors import BadInput

ANTHROPIC_URL = "https://api.anthropic.com"


@register_backend("anthropic")
class AnthropicBackend(Backend):
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str | None = None,
        timeout: float = 3600.0,
        **options: Any,
    ) -> None:
        if not model:
            raise BadInput("judge spec: anthropic needs a model, e.g. anthropic:claude-sonnet-4-5")
        super().__init__(model, **options)
        self.base_url, self.own_service, self.key_hint, self.default_timeout = sdk.endpoint(
            base_url, url_env="ANTHROPIC_BASE_URL", public_url=ANTHROPIC_URL, provider_env="ANTHROPIC_API_KEY",
            key_env=api_key_env,
        )
        self.api_key_env = api_key_env
        self.key()  # a missing key is said now, not at the first call
        self._timeout = timeout

    def prepare(self) -> None:
        self._client  # noqa: B018 (made once, here rather than inside a timed attempt)

    @cached_property
    def _client(self) -> Any:
        """The SDK client, made on the first call the cache cannot answer."""
        import anthropic

        return sdk.client(anthropic, anthropic.AsyncAnthropic, self.key(), self.base_url, self._timeout)

    def key(self) -> str:
        """The key for this server (the batch client asks too): see ``sdk.api_key``."""
        return sdk.api_key(f"anthropic:{self.model}", provider_env="ANTHROPIC_API_KEY", key_env=self.api_key_env,
                           own_service=self.own_service)

    @property
    def endpoint(self) -> str:
        return redact(self.base_url)

    @property
    def endpoint_id(self) -> str:
        return fingerprint(self.base_url)

    def arguments(self, request: Request) -> tuple[dict[str, Any], bool]:
        """The SDK call's arguments, and whether the prefill lost trailing whitespace (batches send the same)."""
        params = request.params
        if params.top_logprobs:
            raise BadInput(f"anthropic:{self.model}: the Messages API gives no logprobs; pick a protocol without them")
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        messages = [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"]
        trimmed = False
        if request.continuation is not None:
            prefill = request.continuation.rstrip()
            trimmed = prefill != request.continuation
            if prefill:
                messages.append({"role": "assistant", "content": prefill})
        args: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": params.max_tokens,
            # This SDK release has no typed temperature argument; the API takes the field.
            "extra_body": {"temperature": params.temperature, **dict(params.extra)},
        }
        if system:
            args["system"] = system
        if params.stop:
            args["stop_sequences"] = list(params.stop)
        return args, trimmed

    async def complete(self, request: Request) -> Completion:
        import anthropic

        args, trimmed = self.arguments(request)
        try:
            response = await self._client.messages.create(**args)
        except anthropic.APIStatusError as e:
            if sdk.is_retryable_status(e.status_code):
                raise
            where = f"anthropic:{self.model} at {self.endpoint}"
            raise sdk.refusal(where, e.status_code, e.message, self.key_hint) from e
        return self.read_reply(response, trimmed)

    def read_reply(self, response: Any, trimmed: bool) -> Completion:
        """A Message (live, or a succeeded batch result) as a Completion; ``trimmed`` as from ``arguments``."""
        blocks = getattr(response, "content", None)
        if blocks is None or getattr(response, "usage", None) is None:
            raise UnreadableReply(f"reply without content from {self.endpoint}")
        text = "".join(block.text for block in blocks if getattr(block, "type", None) == "text")
        return Completion(
            text=text.lstrip() if trimmed else text,
            tokens_in=response.usage.input_tokens or 0,
            tokens_out=response.usage.output_tokens or 0,
            finish_reason=response.stop_reason,
        )

    def should_retry(self, error: BaseException) -> RetryDecision:
        import anthropic

        return sdk.retry_decision(anthropic, error)

    async def aclose(self) -> None:
        if "_client" in self.__dict__:  # made on the first call
            await self._client.close()
