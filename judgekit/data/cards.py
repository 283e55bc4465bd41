"""Dataset cards: the YAML description of one meta-dataset, validated on load.

The card format is described in the package docstring (``judgekit.data``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from judgekit.errors import BadInput
from judgekit.records import LABELS, Label, load_yaml
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


CLASSIFY_FIELDS = ("id", "input", "response", "context", "reference", "label", "group", "system", "cluster",
                   "metadata", "positive")
"""Keys of a classify mapping (``label=COL`` or ``label=h1+h2+h3``; ``positive=LABEL`` names the problem class)."""


class ClassifyFields(_Strict):
    """Which source columns feed a LabelledOutput, and the label set they are read into.

    ``label`` is one column (the gold label, or a list of annotators' labels in
    one cell) or several (one per annotator; an empty cell is an annotator who
    did not label). With ``group``, each record is one annotator's label and
    the records sharing the group columns' values are one output. ``labels``
    maps raw values to label names; the label set is their names in order of
    first appearance. A column name with dots reaches into nested objects
    (``annotations.safety.majority_human``) when no column has that exact name.
    """

    id: str | None = None
    input: tuple[str, ...] = ()
    """Columns joined (blank ones skipped) into the input text; none: the output is judged alone."""
    response: str
    context: tuple[str, ...] = ()
    reference: str | None = None
    label: tuple[str, ...] = ()
    """No column: unlabelled outputs (judged, or their recorded judgments imported, but not scored)."""
    group: tuple[str, ...] = ()
    system: str | None = None
    cluster: str | None = None
    metadata: tuple[str, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)
    """Raw value -> label name; several raw values may share a name."""
    positive: str | None = None
    """The label of the problem class (fail, hallucinated, unsafe), when there is one."""
    descriptions: dict[str, str] = Field(default_factory=dict)
    """Label name -> what it means, for the judge's prompt."""
    extract: dict[str, str] = Field(default_factory=dict)
    """Column -> regex whose named groups become columns (to split a text that packs several fields)."""

    @field_validator("input", "context", "label", "group", "metadata", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("labels", mode="before")
    @classmethod
    def _raw_values_as_text(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        if any(isinstance(k, bool) for k in value):
            raise ValueError("a key read as true/false: quote yes/no label values in YAML ('yes': fail)")
        return {label_key(k): v for k, v in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> ClassifyFields:
        names = self.names
        if any(not name.strip() or name.strip() != name for name in names):
            raise ValueError("label names must be non-empty and have no surrounding spaces")
        if len(names) < 2:
            raise ValueError("a classify mapping needs at least two labels (labels: raw value -> label name)")
        if self.positive is not None and self.positive not in names:
            raise ValueError(f"positive label '{self.positive}' is not one of the labels ({', '.join(names)})")
        unknown = [name for name in self.descriptions if name not in names]
        if unknown:
            raise ValueError(f"descriptions name '{unknown[0]}', which is not one of the labels ({', '.join(names)})")
        if self.group and len(self.label) != 1:
            raise ValueError("with 'group' each record holds one annotator's label: map 'label' to one column")
        for column, pattern in self.extract.items():
            try:
                groups = re.compile(pattern).groupindex
            except re.error as e:
                raise ValueError(f"extract.{column}: bad regex ({e})") from None
            if not groups:
                raise ValueError(f"extract.{column}: the pattern needs named groups, the columns it makes")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The label set, in the order the labels first appear in ``labels``."""
        return tuple(dict.fromkeys(self.labels.values()))


class VerifySource(_Strict):
    """The labels are a program's verdicts on model responses, not a column of the data (IFEval)."""

    program: Literal["ifeval"]
    """The verifier: ``ifeval`` checks IFEval's instructions (``local`` holds IFEval's input file)."""
    responses: str
    """The response file judged (``prompt``, ``response``), found like ``local``."""
    level: Literal["instruction", "prompt"] = "instruction"
    """One output per (response, instruction), or one per response with its instructions as a checklist."""


class Join(_Strict):
    """Another file whose records attach to the dataset's by a shared key."""

    path: str
    match: tuple[str, str]
    """(column in the dataset, column in the joined file); ``_row`` = position.

    Not called ``on``: YAML 1.1 reads a bare ``on`` key as the boolean true."""
    fields: JoinFields


_HUB_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_HUB_ID = re.compile(f"{_HUB_PART}(?:/{_HUB_PART})?")


def is_hub_id(text: str) -> bool:
    """Whether ``text`` is a hub repo id (``OWNER/NAME``, the hub's characters): the ``datasets``
    library reads a local folder for anything else, so a path must never pass for one."""
    return bool(_HUB_ID.fullmatch(text)) and ".." not in text and "--" not in text


class HubSource(_Strict):
    id: str
    config: str | None = None
    split: str = "train"
    revision: str | None = None

    @field_validator("id")
    @classmethod
    def _a_hub_id(cls, value: str) -> str:
        if not is_hub_id(value):
            raise ValueError(f"'{value}' is not a hub dataset id (OWNER/NAME); give a local file by its path")
        return value


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
    classify: ClassifyFields | None = None
    """Instead of ``fields``: the data are single outputs with human labels from a label set (classify)."""
    verify: VerifySource | None = None
    """With ``classify``: the records are made, and labelled, by a program checking responses."""
    records: str | None = None
    """A JSON file holding one object: the dotted path to its list of records (``instances``)."""
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
        if sum(x is not None for x in (self.fields, self.scored, self.classify)) != 1:
            raise ValueError("a card needs one of 'fields' (pairs), 'scored' (scored responses) or 'classify' "
                             "(labelled outputs), or 'parts'")
        if not (self.hub or self.local or self.bundled):
            raise ValueError("a card needs one of 'hub', 'local', 'bundled' (or 'parts')")
        if self.verify is not None and self.classify is None:
            raise ValueError("'verify' labels single outputs: the card needs 'classify' (its label set)")
        return self


def load_card(path: Path) -> Card:
    """Read a user's card file; its relative paths are relative to the card's folder."""
    return _anchor(_parse_card(path), path.resolve().parent)


def _parse_card(source: Path | Traversable) -> Card:
    """Read and validate one card file: unknown or missing keys name the key."""
    try:
        raw = load_yaml(source.read_text(encoding="utf-8"))
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
    verified = card.verify.model_copy(update={"responses": absolute(card.verify.responses)}) if card.verify else None
    return card.model_copy(update={"local": local, "joins": joins, "verify": verified})


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
