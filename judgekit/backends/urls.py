"""Base URLs: checked once, shown and stored without the secrets people put in them.

A URL may carry credentials as userinfo (``http://user:sk-...@host/v1``) or as
query values (``...?api-key=sk-...``). Neither may reach a manifest, a log line
or an error message, so everything outside the HTTP client sees ``redact(url)``.
Query values also choose what answers (``?deployment=alpha``), so what tells two
servers apart (the cache key, a run's identity) sees ``fingerprint(url)``: the
values hashed, never masked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from judgekit.errors import BadInput


def redact(url: str) -> str:
    """``url`` without userinfo and with every query value replaced by ``***``."""
    return _with_query(url, lambda value: "***")


def fingerprint(url: str) -> str:
    """``redact(url)`` with each query value replaced by a short hash of it instead of ``***``.

    Two URLs that differ only in a query value get different fingerprints, and
    the value cannot be read back from one (a key's hash reveals nothing of a
    random key; a guessable value such as a deployment name is no secret).
    """
    return _with_query(url, lambda value: "sha256-" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:16])


def _with_query(url: str, shown: Callable[[str], str]) -> str:
    """``url`` without userinfo, and each query value as ``shown`` gives it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    query = urlencode([(k, shown(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def checked_base_url(url: str, what: str) -> str:
    """``url`` without a trailing slash, or BadInput naming the problem (the URL shown redacted).

    Credentials in the URL are refused rather than sent: the SDK clients cannot
    pass userinfo on, and a key belongs in a variable (``--api-key-env``).
    """
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"{what} {redact(url)!r}: expected http(s)://HOST[:PORT]/PATH")
    try:
        parts.port  # noqa: B018 (reading it checks the port)
    except ValueError:
        raise BadInput(f"{what} {redact(url)!r}: the port is not a number from 0 to 65535") from None
    if parts.username is not None or parts.password is not None:
        raise BadInput(
            f"{what} {redact(url)!r}: credentials in the URL are not sent (they would end up in logs and "
            "run files); put the key in an environment variable and name it with --api-key-env"
        )
    return url


def split_query(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its query, and the query's values."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment="")), dict(parse_qsl(parts.query, keep_blank_values=True))


def is_host(url: str, official: str) -> bool:
    """Whether ``url`` is the provider's own service: same host, and HTTPS."""
    ours, theirs = urlsplit(url), urlsplit(official)
    return ours.scheme == "https" and ours.hostname == theirs.hostname and ours.port in (None, 443)
