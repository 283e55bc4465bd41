"""What the ``openai:`` and ``anthropic:`` backends share.

Both official SDKs are generated from one template: the same client settings
and the same exception classes (``APIStatusError``, ``APIConnectionError``,
``APIResponseValidationError``). So the key lookup, the client, which errors
are worth a retry and the one-line message for those that are not live here
once; each backend keeps only how it maps a Request and reads a reply.
"""

from __future__ import annotations

import functools
import json
import os
import ssl
from types import ModuleType
from typing import Any, NamedTuple

from judgekit.backends.base import Refused, RetryDecision
from judgekit.backends.call_path import retry_after_seconds
from judgekit.backends.urls import checked_base_url, is_host, split_query
from judgekit.errors import BadInput, JudgekitError

PLACEHOLDER_KEY = "no-key-needed"
"""Sent to another server when the user names no key variable; such servers ignore it."""
RETRYABLE_STATUS = frozenset({408, 409, 429})
"""Besides 5xx: statuses a later attempt may get past."""
OVERLOAD_STATUS = frozenset({429, 503})
"""Statuses that say "too much work": the call path then lowers its concurrency."""
SELF_HOSTED_TIMEOUT = 300.0
"""Seconds of silence we wait for a server other than the provider's own: a
self-hosted model on a CPU can take minutes over one long prompt."""


class Endpoint(NamedTuple):
    """Where a backend sends its calls, and what follows from whose server that is."""

    base_url: str
    own_service: bool
    """The provider's own host: the only one its key variable goes to."""
    key_hint: str
    default_timeout: float


def endpoint(base_url: str | None, *, url_env: str, public_url: str, provider_env: str,
             key_env: str | None) -> Endpoint:
    """The checked base URL (``--base-url``, else ``url_env``, else the provider's) and what follows from it."""
    url = checked_base_url(base_url or os.environ.get(url_env) or public_url, "--base-url" if base_url else url_env)
    own = is_host(url, public_url)
    return Endpoint(url, own, key_hint(provider_env, key_env, own), 60.0 if own else SELF_HOSTED_TIMEOUT)


def api_key(where: str, *, provider_env: str, key_env: str | None, own_service: bool, hint: str = "") -> str:
    """The key to send, and only where it belongs.

    The provider's variable (``provider_env``, e.g. OPENAI_API_KEY) is read only
    for the provider's own HTTPS host; any other server gets the variable the
    user named (``key_env``, from ``--api-key-env``) or a placeholder.
    """
    if key_env:
        key = os.environ.get(key_env)
        if not key:
            raise BadInput(f"{where}: no API key; {key_env} (named by --api-key-env) is not set")
        return key
    if not own_service:
        return PLACEHOLDER_KEY
    key = os.environ.get(provider_env)
    if not key:
        raise BadInput(f"{where}: no API key; set {provider_env}{hint}")
    return key


def key_hint(provider_env: str, key_env: str | None, own_service: bool) -> str:
    """What to check when a server rejects the key (see :func:`api_key`)."""
    if key_env or own_service:
        return key_env or provider_env
    return f"--api-key-env (no key was sent: {provider_env} goes to the provider's own host only)"


def client(sdk: ModuleType, client_class: type, key: str, base_url: str, timeout: float) -> Any:
    """An async SDK client on the aiohttp transport, the SDK's own retries off (the call path retries).

    A query in the base URL (``?api-version=...``) is sent with every request;
    the SDKs would otherwise glue the endpoint path onto it.
    """
    url, query = split_query(base_url)
    return client_class(
        api_key=key,
        base_url=url,
        default_query=query or None,
        timeout=timeout,
        max_retries=0,
        http_client=sdk.DefaultAioHttpClient(timeout=timeout, verify=tls_context()),
    )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The SDKs' own default certificate check, built once: every client built it again (about 50 ms of CPU)."""
    import httpx2  # the SDKs' HTTP client

    return httpx2.create_ssl_context()


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def refusal(where: str, status: int, message: Any, key_hint: str) -> JudgekitError:
    """One line for an error no retry will fix (no key, no model, refused request)."""
    if status == 401:
        return BadInput(f"{where}: the API key was rejected (HTTP 401); check {key_hint}")
    if status == 403:
        return BadInput(f"{where}: permission denied (HTTP 403); check the key's access to this model")
    if status == 404:
        return BadInput(f"{where}: model or endpoint not found (HTTP 404); check the model name and base URL")
    lines = str(message).strip().splitlines()
    return Refused(where, f"HTTP {status}: {lines[0][:200]}" if lines else f"HTTP {status}")


def retry_decision(sdk: ModuleType, error: BaseException) -> RetryDecision:
    """Retry what reaches ``should_retry``: status errors (honouring Retry-After), lost connections, bad bodies."""
    if isinstance(error, sdk.APIStatusError):
        return RetryDecision(retry=True, retry_after=retry_after_seconds(error.response.headers),
                             overloaded=error.status_code in OVERLOAD_STATUS)
    retryable = (sdk.APIConnectionError, sdk.APIResponseValidationError, json.JSONDecodeError)
    return RetryDecision(retry=isinstance(error, retryable))
