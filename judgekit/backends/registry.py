"""Find a backend class by provider name and build it from a judge spec.

Provider modules are imported only when their name is asked for, so the
package imports without touching any SDK and a new provider costs one module
plus one line in ``PROVIDERS``. Another package adds a provider through the
``judgekit.backends`` entry point group (name: the provider, value: its
Backend subclass), loaded the same way, on first use.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from judgekit.backends.base import Backend
from judgekit.errors import BadInput
from judgekit.resources import plugin_class

PROVIDERS: dict[str, str] = {
    "openai": "judgekit.backends.openai_backend",
    "anthropic": "judgekit.backends.anthropic_backend",
    "local": "judgekit.backends.local",
    "replay": "judgekit.backends.replay",
    "mock": "judgekit.backends.mock",
}
"""Provider name -> module that defines (and registers) its Backend subclass."""

ENTRY_POINTS = "judgekit.backends"
"""The entry point group through which another package adds a provider (name -> Backend subclass)."""

_CLASSES: dict[str, type[Backend]] = {}


def register_backend(provider: str) -> Callable[[type[Backend]], type[Backend]]:
    """Class decorator: make ``cls`` the backend for ``provider``."""

    def decorate(cls: type[Backend]) -> type[Backend]:
        cls.provider = provider
        _CLASSES[provider] = cls
        return cls

    return decorate


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``PROVIDER:MODEL`` at the first colon; the model may hold ':' or '/'.

    A bare provider (``local``) gives an empty model: the backend picks its default.
    """
    provider, _, model = spec.strip().partition(":")
    if not provider:
        raise BadInput(f"judge spec {spec!r}: expected PROVIDER:MODEL, e.g. openai:gpt-4o-mini")
    return provider, model


def backend_class(provider: str) -> type[Backend]:
    """The class registered for ``provider``, importing its module on first use."""
    if provider not in _CLASSES:
        module = PROVIDERS.get(provider)
        if module is None:
            return _plugin(provider)
        import_module(module)
        if provider not in _CLASSES:
            raise BadInput(f"judge spec: module {module} registers no backend named {provider!r}")
    return _CLASSES[provider]


def provider_names() -> list[str]:
    """Every provider a judge spec may name: the built-in ones and those other packages declare."""
    return sorted({*PROVIDERS, *(point.name for point in entry_points(group=ENTRY_POINTS))})


def _plugin(provider: str) -> type[Backend]:
    """The Backend subclass another package declares for ``provider`` (registered under that name)."""
    point = next(iter(entry_points(group=ENTRY_POINTS, name=provider)), None)
    if point is None:
        raise BadInput(f"judge spec: unknown provider {provider!r}; known providers: {', '.join(provider_names())}")
    return register_backend(provider)(plugin_class(point, Backend))


def create_backend(spec: str, **options: Any) -> Backend:
    """Build the backend for a judge spec such as ``openai:gpt-4o-mini``.

    ``options`` go to the backend's constructor: ``base_url``, ``api_key_env``
    (the *name* of the variable holding the key), ``timeout`` and so on.
    Options left as None are dropped, so CLI defaults need no special casing;
    an option the backend does not name is an error, never silently ignored.
    """
    provider, model = parse_spec(spec)
    cls = backend_class(provider)
    given = {k: v for k, v in options.items() if v is not None}
    known = accepted_options(cls)
    for name in given:
        if name not in known:
            raise BadInput(f"judge spec {spec!r}: unknown option '{name}' for provider {provider} "
                           f"(accepted: {', '.join(sorted(known)) or 'none'})")
    return cls(model, **given)


def accepted_options(cls: type[Backend]) -> frozenset[str]:
    """The keyword options a backend's constructor names (a catch-all ``**options`` names none)."""
    named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = inspect.signature(cls.__init__).parameters.values()
    return frozenset(p.name for p in parameters if p.kind in named and p.name not in ("self", "model"))
