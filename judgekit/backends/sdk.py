"""What the ``openai:`` and ``anthropic:`` backends share.

Both official SDKs are generated from one template: the same client settings
and the same exception classes (``APIStatusError``, ``APIConnectionError``,
``APIResponseValidationError``). So the key lookup, the client, which errors
are worth a retry and the one-line message for those that are not live here
once; each backend keeps only how it maps a Request and reads a reply.
"""

from __future__ import annotations

import json
import os
from types import ModuleType
from typing import Any

from judgekit.backends.base import RetryDecision
from judgekit.backends.callpath import retry_after_seconds
from judgekit.errors import BadInput, JudgekitError

PLACEHOLDER_KEY = "no-key-needed"
"""Sent to a base_url server when no key is set; such servers ignore it."""
RETRYABLE_STATUS = frozenset({408, 409, 429})
"""Besides 5xx: statuses a later attempt may get past."""


def api_key(where: str, key_env: str, *, own_service: bool, hint: str = "") -> str:
    """The key from ``key_env``; a placeholder for other servers, which may need none."""
    key = os.environ.get(key_env)
    if key:
        return key
    if own_service:
        raise BadInput(f"{where}: no API key; set {key_env}{hint}")
    return PLACEHOLDER_KEY


def client(sdk: ModuleType, client_class: type, key: str, base_url: str, timeout: float) -> Any:
    """An async SDK client on the aiohttp transport, the SDK's own retries off (the call path retries)."""
    return client_class(
        api_key=key,
        base_url=base_url,
        timeout=timeout,
        max_retries=0,
        http_client=sdk.DefaultAioHttpClient(timeout=timeout),
    )


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def refusal(where: str, status: int, message: Any, key_env: str) -> JudgekitError:
    """One line for an error no retry will fix (no key, no model, refused request)."""
    if status == 401:
        return BadInput(f"{where}: the API key was rejected (HTTP 401); check {key_env}")
    if status == 403:
        return BadInput(f"{where}: permission denied (HTTP 403); check the key's access to this model")
    if status == 404:
        return BadInput(f"{where}: model or endpoint not found (HTTP 404); check the model name and base URL")
    lines = str(message).strip().splitlines()
    return JudgekitError(f"{where}: request refused (HTTP {status}): {lines[0][:200] if lines else ''}")


def retry_decision(sdk: ModuleType, error: BaseException) -> RetryDecision:
    """Retry what reaches ``should_retry``: status errors (honouring Retry-After), lost connections, bad bodies."""
    if isinstance(error, sdk.APIStatusError):
        return RetryDecision(retry=True, retry_after=retry_after_seconds(error.response.headers))
    retryable = (sdk.APIConnectionError, sdk.APIResponseValidationError, json.JSONDecodeError)
    return RetryDecision(retry=isinstance(error, retryable))
