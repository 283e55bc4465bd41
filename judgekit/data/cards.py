"""Dataset cards: the YAML description of one meta-dataset, validated on load.

The card format is described in the package docstring (``judgekit.data``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from judgekit.errors import BadInput
from judgekit.records import LABELS, Label
from judgekit.resources import meta_datasets_root

CANONICAL_FIELDS = (
    "id", "instruction", "response_a", "response_b", "gold", "votes",
    "reference", "generator_a", "generator_b", "metadata", "cluster",
)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JoinFields(_Strict):
    """What a joined file adds to each example."""

    generator_a: str | None = None
    generator_b: str | None = None
    metadata: tuple[str, ...] = ()


class Fields(JoinFields):
    """Which source column feeds each canonical Example field."""

    id: str | None = None
    instruction: tuple[str, ...] = ("instruction",)
    response_a: str = "response_a"
    response_b: str = "response_b"
    gold: str | None = "gold"
    votes: tuple[str, ...] = ()
    reference: str | None = None
    cluster: str | None = None
    """Column whose value groups items that are not independent (a question id); unset: the instruction text."""

    @field_validator("instruction", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


SCORED_FIELDS = ("id", "input", "instruction", "response", "system", "criterion", "scores", "score.NAME",
                 "reference", "metadata", "scale")
"""Keys of a scored mapping (``score.NAME=col+col`` names one criterion's score columns)."""


class ScoredFields(_Strict):
    """Which source columns feed a ScoredExample: wide (``criteria``) or long (``criterion`` + ``scores``).

    Wide: one record per response, one list of annotator score columns per
    criterion. Long: one record per (response, criterion), the criterion named
    by a column; records with the same id (or, without an id column, the same
    input and system) become one example. An empty score cell is an annotator
    who did not rate.
    """

    id: str | None = None
    input: str
    """Column naming the input the response answers (the bootstrap's cluster)."""
    instruction: tuple[str, ...] = ()
    response: str | None = None
    system: str | None = None
    criteria: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    criterion: str | None = None
    scores: tuple[str, ...] = ()
    reference: str | None = None
    metadata: tuple[str, ...] = ()
    scale: tuple[float, float] = (1, 5)

    @field_validator("instruction", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_form(self) -> ScoredFields:
        if bool(self.criteria) == bool(self.criterion):
            raise ValueError("a scored mapping needs either 'criteria' (wide) or 'criterion' + 'scores' (long)")
        if self.criterion and not self.scores:
            raise ValueError("a long scored mapping needs 'scores' (the annotator score columns)")
        if self.scale[0] >= self.scale[1]:
            raise ValueError(f"scale {self.scale[0]:g}-{self.scale[1]:g}: low must be below high")
        return self


class Join(_Strict):
    """Another file whose records attach to the dataset's by a shared key."""

    path: str
    match: tuple[str, str]
    """(column in the dataset, column in the joined file); ``_row`` = position.

    Not called ``on``: YAML 1.1 reads a bare ``on`` key as the boolean true."""
    fields: JoinFields


class HubSource(_Strict):
    id: str
    config: str | None = None
    split: str = "train"
    revision: str | None = None


class Card(_Strict):
    """Everything needed to find, read and cite one meta-dataset."""

    id: str = Field(min_length=1)
    description: str
    hub: HubSource | None = None
    local: str | None = None
    bundled: str | None = None
    parts: tuple[str, ...] = ()
    format: Literal["json", "jsonl", "csv", "csv-lists", "parquet"] | None = None
    fields: Fields | None = None
    scored: ScoredFields | None = None
    """Instead of ``fields``: the data are responses with human scores (pointwise)."""
    labels: dict[str, Label] = Field(default_factory=lambda: {x: x for x in LABELS})
    allow_empty_responses: bool = False
    joins: tuple[Join, ...] = ()
    annotators: int | None = None
    size: int | None = None
    license: str
    citation: str
    notes: str = ""

    @field_validator("labels", mode="before")
    @classmethod
    def _label_keys_as_text(cls, value: Any) -> Any:
        return {label_key(k): v for k, v in value.items()} if isinstance(value, Mapping) else value

    @model_validator(mode="after")
    def _has_a_source(self) -> Card:
        if self.parts:
            return self
        if (self.fields is None) == (self.scored is None):
            raise ValueError("a card needs one of 'fields' (pairs) or 'scored' (scored responses), or 'parts'")
        if not (self.hub or self.local or self.bundled):
            raise ValueError("a card needs one of 'hub', 'local', 'bundled' (or 'parts')")
        return self


def load_card(path: Path) -> Card:
    """Read a user's card file; its relative paths are relative to the card's folder."""
    return _anchor(_parse_card(path), path.resolve().parent)


def _parse_card(source: Path | Traversable) -> Card:
    """Read and validate one card file: unknown or missing keys name the key."""
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{source}: cannot read card ({e})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise BadInput(f"{source}{where}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise BadInput(f"{source}: a card must be a YAML mapping")
    try:
        return Card.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        if not first["loc"]:  # a rule about the whole card
            raise BadInput(f"{source}: {first['msg'].removeprefix('Value error, ')}") from None
        key = ".".join(str(p) for p in first["loc"])
        raise BadInput(f"{source}: key '{key}': {first['msg']}") from None


def _anchor(card: Card, base: Path) -> Card:
    """Make a user card's relative file paths relative to the card's folder."""
    def absolute(p: str) -> str:
        return str(base / p) if not Path(p).is_absolute() else p

    joins = tuple(j.model_copy(update={"path": absolute(j.path)}) for j in card.joins)
    local = absolute(card.local) if card.local else None
    return card.model_copy(update={"local": local, "joins": joins})


def builtin_cards() -> dict[str, Card]:
    """The shipped cards by id; two cards claiming one id is a packaging bug."""
    return dict(_shipped_cards())


@cache
def _shipped_cards() -> dict[str, Card]:
    """Parsed once per process: the shipped files do not change under it, and the cards are frozen."""
    cards: dict[str, Card] = {}
    seen: dict[str, str] = {}
    for entry in sorted(meta_datasets_root().iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        card = _parse_card(entry)
        if card.id in cards:
            raise BadInput(f"{entry}: key 'id': '{card.id}' already used by {seen[card.id]}")
        cards[card.id], seen[card.id] = card, entry.name
    return cards


def label_key(value: Any) -> str:
    """One spelling per raw label value: 1, 1.0 and "1" are the same label."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
