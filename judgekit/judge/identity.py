"""A judge version: the content hash of everything that decides its verdicts.

Two runs are the same version when the same model, at the same host, ran the
same protocol text (templates, parser, options, few-shot examples and member
protocols: ``Protocol.content_hash``) with the same sampling settings and the
same label set. Anything else is a new version, so a spec edited after a test
run is never mistaken for the prompt that was tested.

The hash is read from a run's manifest, so any run dir, old or imported,
has a version without reloading its spec.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit

from judgekit.records import Manifest

SHORT = 12
"""Hex digits of the hash shown to people (``v1 3f2a9c0e1b7d``)."""


def version_of(manifest: Manifest) -> str:
    """``sha256:`` of the judge, its base URL's host, the protocol's content hash, the sampling
    params and the label set; the run id, its data and its dates are left out."""
    params = dict(manifest.params)
    if params.get("base_url"):
        params["base_url"] = host_of(params["base_url"])
    identity = {
        "judge": manifest.judge,
        "protocol": manifest.protocol_hash or manifest.protocol,
        "params": params,
        "labels": list(manifest.labels),
        "positive_label": manifest.positive_label,
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def host_of(url: str) -> str:
    """``host[:port]`` of a base URL: the server that answers, without path or credentials."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    host = parts.hostname or url
    return f"{host}:{parts.port}" if parts.port else host


def short(version: str) -> str:
    return version.removeprefix("sha256:")[:SHORT]
