"""Files shipped inside the wheel (protocol specs, dataset cards, bundled data), and where a dataset
card's data is found right now without reading it.

The loader asks :func:`locate` before loading a card (:mod:`judgekit.data.loader`);
``judgekit datasets list`` asks :func:`shipped` about every shipped card, read here straight from the
YAML without building the card models (:class:`ShippedCard`): every command a user types pays its
start-up, and the models, their records and the validation were a third of that command's (issue 29).
The shipped cards are validated wherever a dataset is loaded, and by the test suite. A card here is
anything with a card's ``id``, ``local``, ``bundled``, ``hub`` (with its ``id``) and ``parts``: a
validated :class:`judgekit.data.Card` or a :class:`ShippedCard`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import EntryPoint
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, NamedTuple

from judgekit.errors import BadInput


def declared(point: EntryPoint) -> str:
    """How an error names an entry point another package declares."""
    return f"entry point '{point.name}' ({point.value}) in group {point.group}"


def plugin_class(point: EntryPoint, base: type) -> type:
    """The class another package declares at ``point``, a subclass of ``base``; a plugin that does not
    load or names something else is one line naming its entry point, not a traceback."""
    try:
        found = point.load()
    except Exception as e:
        raise BadInput(f"{declared(point)}: cannot load it ({type(e).__name__}: {e})") from None
    if not (isinstance(found, type) and issubclass(found, base)):
        raise BadInput(f"{declared(point)}: names {found!r}, not a {base.__name__} subclass")
    return found


def protocols_root() -> Traversable:
    """The built-in protocol specs (``protocols/`` in the checkout)."""
    return files("judgekit.protocols")


def meta_datasets_root() -> Traversable:
    """Dataset cards and the bundled dataset (``meta_datasets/`` in the checkout)."""
    return files("judgekit.meta_datasets")


DATA_DIR_ENV = "JUDGEKIT_DATA_DIR"


class Availability(NamedTuple):
    card: Any
    """The card (a :class:`judgekit.data.Card`, or a :class:`ShippedCard` from :func:`shipped`)."""
    available: bool
    """True when the data can be read without the network."""
    where: str


class HubName(NamedTuple):
    id: str


class ShippedCard(NamedTuple):
    """What ``datasets list`` shows of a shipped card, as the card file says it (unvalidated)."""

    id: str
    size: int | None
    bundled: str | None
    local: str | None
    hub: HubName | None
    parts: tuple[str, ...]


class Located(NamedTuple):
    kind: str
    """``path``, ``bundled``, ``data dir``, ``hub`` or ``missing``."""
    file: Path | Traversable | None
    root: Path | None
    """Folder laid out like the staged datasets folder, for joins."""


def shipped() -> list[Availability]:
    """Every shipped card, in file-name order, and whether its data is readable right now."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    cards = {}
    for entry in sorted(meta_datasets_root().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            raw: Mapping[str, Any] = yaml.load(entry.read_text(encoding="utf-8"), Loader=loader)
            hub = raw.get("hub")
            card = ShippedCard(raw["id"], raw.get("size"), raw.get("bundled"), raw.get("local"),
                               HubName(hub["id"]) if hub else None, tuple(raw.get("parts") or ()))
            cards[card.id] = card
    return [availability(card, cards) for card in cards.values()]


def availability(card: Any, cards: Mapping[str, Any]) -> Availability:
    """Whether ``card``'s data can be read now (a card of parts: each of ``cards`` it names)."""
    if card.parts:
        parts = [availability(cards[p], cards) for p in card.parts if p in cards]
        ok = len(parts) == len(card.parts) and all(p.available for p in parts)
        return Availability(card, ok, "all parts" if ok else "needs every part")
    try:
        found = locate(card, None)
    except BadInput as e:
        return Availability(card, False, str(e))
    if found.kind == "bundled":
        return Availability(card, found.file.is_file(), "bundled with judgekit")
    if found.kind == "data dir":
        return Availability(card, True, f"{DATA_DIR_ENV}={found.root}")
    if found.kind == "path":
        return Availability(card, True, str(found.file))
    if found.kind == "hub":
        return Availability(card, False, f"HF hub {card.hub.id} (needs network), or set {DATA_DIR_ENV}")
    return Availability(card, False, f"set {DATA_DIR_ENV}")


def locate(card: Any, explicit: Path | None) -> Located:
    """Where ``card``'s data file is: ``explicit`` (a file, or a folder laid out like the staged
    datasets), the wheel, the data dir (``JUDGEKIT_DATA_DIR``), else the hub or nowhere."""
    env = os.environ.get(DATA_DIR_ENV)
    env_root = Path(env) if env and Path(env).is_dir() else None
    if explicit is not None:
        if explicit.is_file():
            return Located("path", explicit, env_root)
        if card.local and (explicit / card.local).is_file():
            return Located("path", explicit / card.local, explicit)
        raise BadInput(f"--path: {explicit} has no {card.local or 'data file'} for {card.id}")
    if card.bundled:
        return Located("bundled", meta_datasets_root().joinpath(card.bundled), None)
    if card.local and Path(card.local).is_absolute():  # a user's card or data file
        if not Path(card.local).is_file():
            raise BadInput(f"{card.local}: file not found (named by the card for {card.id})")
        return Located("path", Path(card.local), Path(card.local).parent)
    if card.local and env_root and (env_root / card.local).is_file():
        return Located("data dir", env_root / card.local, env_root)
    if card.hub:
        return Located("hub", None, env_root)
    return Located("missing", None, None)
