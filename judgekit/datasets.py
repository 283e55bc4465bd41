"""Meta-datasets: cards that describe them, loaders that turn them into Examples.

A *card* is one YAML file in ``meta_datasets/`` (shipped as
``judgekit.meta_datasets``). It says where the data lives and how its records
become :class:`~judgekit.records.Example`. Keys (unknown keys are rejected)::

    id: llmbar/natural               # the name users type; example ids are "<id>/<key>"
    description: ...                 # what it is, in a few sentences
    hub: {id: princeton-nlp/LLMBar, config: LLMBar, split: Natural, revision: null}
    local: llmbar/Dataset/LLMBar/Natural/dataset.json   # relative to a data dir
    bundled: bundled/pairs.jsonl     # or: a file shipped inside meta_datasets/
    parts: [...]                     # or: the ids of other cards, loaded together
    format: json                     # json | jsonl | csv | parquet (default: from suffix)
    fields:                          # canonical field -> source column(s)
      id: idx                        # optional; default the 0-based record position
      instruction: [instruction, input]   # several columns: non-blank ones joined
      response_a: response1
      response_b: response2
      gold: label                    # and/or votes: [col, col, ...] (gold = majority)
      generator_a: col               # optional, like reference
      metadata: [cmp_key]            # columns kept as they are
    labels: {1: a, 2: b, 0: tie}     # raw label value -> canonical a / b / tie
    allow_empty_responses: false     # true where the humans judged empty outputs
    joins:                           # extra files keyed to the records, used when present
      - {path: ..., match: [_row, index], fields: {generator_a: ..., metadata: [...]}}
    annotators: 1                    # human labels behind each gold label
    size: 100                        # expected number of records
    license: MIT
    citation: "..."
    notes: "..."                     # label convention, caveats

Where the data is read from, in order: an explicit path (a file, or a folder
laid out like the staged datasets folder), the file shipped in the wheel
(``bundled``), the folder named by ``JUDGEKIT_DATA_DIR``, then the HF hub.
A relative ``local`` in a user's own card file is relative to that card.

JSON files may hold one array of records or JSON Lines; the loader looks at
the first character rather than trusting the suffix, because some upstream
``.json`` files are JSON Lines.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from judgekit.errors import BadInput
from judgekit.records import LABELS, Example, Label
from judgekit.resources import meta_datasets_root

DATA_DIR_ENV = "JUDGEKIT_DATA_DIR"
ROW = "_row"
"""Pseudo-column: the 0-based position of a record in its file."""
CANONICAL_FIELDS = (
    "id", "instruction", "response_a", "response_b", "gold", "votes",
    "reference", "generator_a", "generator_b", "metadata",
)


# ---------------------------------------------------------------- cards


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

    @field_validator("instruction", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


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
    format: Literal["json", "jsonl", "csv", "parquet"] | None = None
    fields: Fields | None = None
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
        return {_label_key(k): v for k, v in value.items()} if isinstance(value, Mapping) else value

    @model_validator(mode="after")
    def _has_a_source(self) -> Card:
        if self.parts:
            return self
        if self.fields is None:
            raise ValueError("a card needs 'fields' (or 'parts')")
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


# ---------------------------------------------------------------- public API


@dataclass(frozen=True)
class Dataset:
    """Examples plus where they came from."""

    id: str
    examples: tuple[Example, ...]
    card: Card
    source: str
    """Human-readable origin, e.g. ``data dir: /data/llmbar/...`` or ``hub: ...``."""

    @cached_property
    def content_hash(self) -> str:
        """sha256 of the examples' canonical JSON: the same data gives the same hash."""
        payload = [e.model_dump(mode="json") for e in self.examples]
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class Availability(NamedTuple):
    card: Card
    available: bool
    """True when the data can be read without the network."""
    where: str


def list_datasets() -> list[Availability]:
    """Every built-in card and whether its data is readable right now."""
    cards = builtin_cards()
    return [_availability(card, cards) for card in cards.values()]


def load_dataset(
    spec: str,
    *,
    path: str | Path | None = None,
    mapping: str | Mapping[str, Any] | None = None,
    labels: str | Mapping[str, str] | None = None,
    limit: int | None = None,
) -> Dataset:
    """Load a meta-dataset by built-in id, card file, data file, or ``hf:OWNER/NAME[:CONFIG][@SPLIT]``.

    ``mapping`` (``"instruction=prompt,response_a=out1,gold=label"`` or a dict)
    and ``labels`` (``"1=a,2=b,0=tie"``) override a card's, or describe a
    plain data file; ``+`` joins several columns (``votes=v1+v2+v3``).
    """
    if limit is not None and limit < 0:
        raise BadInput(f"--limit: must be >= 0, got {limit}")
    cards = builtin_cards()
    card = _card_for(spec, cards)
    if mapping is not None or labels is not None:
        card = _override(card, mapping, labels)
    explicit = Path(path) if path is not None else None
    if explicit is not None and not explicit.exists():
        raise BadInput(f"--path: {explicit} does not exist")
    if card.parts:
        parts = [_load_card(cards[p] if p in cards else _unknown(p), explicit) for p in card.parts]
        examples = tuple(e for d in parts for e in d.examples)
        _check_unique(examples, card.id)
        source = "; ".join(f"{d.id}: {d.source}" for d in parts)
        dataset = Dataset(card.id, examples, card, source)
    else:
        dataset = _load_card(card, explicit)
    if limit is not None:
        dataset = Dataset(dataset.id, dataset.examples[:limit], dataset.card, dataset.source)
    return dataset


def parse_mapping(text: str) -> dict[str, Any]:
    """``"instruction=a+b,gold=label"`` -> ``{"instruction": ["a", "b"], "gold": "label"}``."""
    result: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in CANONICAL_FIELDS:
            raise BadInput(
                f"--mapping: '{item}' is not FIELD=COLUMN with FIELD one of {', '.join(CANONICAL_FIELDS)}"
            )
        columns = [c.strip() for c in value.split("+") if c.strip()]
        if key in ("instruction", "votes", "metadata"):
            result[key] = columns
        else:
            result[key] = columns[0] if columns else None
    return result


def parse_labels(text: str) -> dict[str, str]:
    """``"1=a,2=b,0=tie"`` -> ``{"1": "a", "2": "b", "0": "tie"}``."""
    result: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        raw, sep, label = item.partition("=")
        if not sep or label.strip() not in LABELS:
            raise BadInput(f"--labels: '{item}' is not VALUE=LABEL with LABEL one of a, b, tie")
        result[raw.strip()] = label.strip()
    return result


def summarize(dataset: Dataset, *, examples: int = 3, width: int = 200) -> dict[str, Any]:
    """Counts, label balance, annotators and generator coverage, plus a few short examples."""
    items = dataset.examples
    gold = Counter(e.gold or "none" for e in items)
    vote_counts = Counter(len(e.votes) for e in items)
    per_item = {str(k): v for k, v in sorted(vote_counts.items())} if any(e.votes for e in items) else None
    known = Counter((e.generator_a is not None) + (e.generator_b is not None) for e in items)
    generators = Counter(g for e in items for g in (e.generator_a, e.generator_b) if g)
    return {
        "id": dataset.id,
        "description": " ".join(dataset.card.description.split()),
        "source": dataset.source,
        "n": len(items),
        "labels": {k: gold.get(k, 0) for k in (*LABELS, "none")},
        "ties": gold.get("tie", 0),
        "annotators": dataset.card.annotators,
        "votes_per_item": per_item,
        "generators": {"both_known": known[2], "one_known": known[1], "none_known": known[0]},
        "generator_counts": dict(generators.most_common()),
        "license": dataset.card.license,
        "citation": dataset.card.citation.strip(),
        "content_hash": dataset.content_hash,
        "examples": [_short(e, width) for e in items[:examples]],
    }


# ---------------------------------------------------------------- resolution


def _card_for(spec: str, cards: dict[str, Card]) -> Card:
    if spec in cards:
        return cards[spec]
    if spec.startswith("hf:"):
        return _hub_card(spec)
    candidate = Path(spec)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return load_card(candidate)
    if candidate.is_file():
        fmt = _format_of(candidate.name, None)
        return Card(
            id=candidate.stem, description=f"local file {candidate}", local=str(candidate.resolve()),
            format=fmt, fields=Fields(), license="unknown", citation="",
        )
    return _unknown(spec)


def _unknown(spec: str) -> Card:
    raise BadInput(
        f"unknown dataset '{spec}': not a built-in id (see 'judgekit datasets list'), "
        "an existing .jsonl/.json/.csv/.parquet or .yaml card file, or hf:OWNER/NAME"
    )


def _hub_card(spec: str) -> Card:
    name, _, split = spec[3:].partition("@")
    repo, _, config = name.partition(":")
    if not repo:
        raise BadInput(f"'{spec}': expected hf:OWNER/NAME[:CONFIG][@SPLIT]")
    hub = HubSource(id=repo, config=config or None, split=split or "train")
    return Card(id=spec, description=f"HF hub dataset {repo}", hub=hub, fields=Fields(),
                license="see the hub page", citation="")


def _override(card: Card, mapping: Any, labels: Any) -> Card:
    update: dict[str, Any] = {}
    if mapping is not None:
        given = parse_mapping(mapping) if isinstance(mapping, str) else dict(mapping)
        base = card.fields.model_dump() if card.fields else {}
        try:
            update["fields"] = Fields.model_validate({**base, **given})
        except ValidationError as e:
            first = e.errors()[0]
            raise BadInput(f"--mapping: field '{first['loc'][0]}': {first['msg']}") from None
    if labels is not None:
        given_labels = parse_labels(labels) if isinstance(labels, str) else dict(labels)
        update["labels"] = {_label_key(k): v for k, v in given_labels.items()}
    return card.model_copy(update=update)


class _Located(NamedTuple):
    kind: str
    """``path``, ``bundled``, ``data dir``, ``hub`` or ``missing``."""
    file: Path | Traversable | None
    root: Path | None
    """Folder laid out like the staged datasets folder, for joins."""


def _locate(card: Card, explicit: Path | None) -> _Located:
    env = os.environ.get(DATA_DIR_ENV)
    env_root = Path(env) if env and Path(env).is_dir() else None
    if explicit is not None:
        if explicit.is_file():
            return _Located("path", explicit, env_root)
        if card.local and (explicit / card.local).is_file():
            return _Located("path", explicit / card.local, explicit)
        raise BadInput(f"--path: {explicit} has no {card.local or 'data file'} for {card.id}")
    if card.bundled:
        return _Located("bundled", meta_datasets_root().joinpath(card.bundled), None)
    if card.local and Path(card.local).is_absolute():
        return _Located("path", Path(card.local), Path(card.local).parent)
    if card.local and env_root and (env_root / card.local).is_file():
        return _Located("data dir", env_root / card.local, env_root)
    if card.hub:
        return _Located("hub", None, env_root)
    return _Located("missing", None, None)


def _not_found(card: Card, why: str = "") -> BadInput:
    hint = (f"set {DATA_DIR_ENV} to a folder containing {card.local} (laid out like the "
            "staged datasets folder) or pass --path" if card.local else "pass --path")
    return BadInput(f"{card.id}: data not found: {hint}{'; ' + why if why else ''}")


def _availability(card: Card, cards: dict[str, Card]) -> Availability:
    if card.parts:
        parts = [_availability(cards[p], cards) for p in card.parts if p in cards]
        ok = len(parts) == len(card.parts) and all(p.available for p in parts)
        return Availability(card, ok, "all parts" if ok else "needs every part")
    try:
        found = _locate(card, None)
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


def _load_card(card: Card, explicit: Path | None) -> Dataset:
    found = _locate(card, explicit)
    if found.kind == "missing":
        raise _not_found(card)
    if found.kind == "hub":
        rows = _hub_rows(card)
        name, source = f"hub {card.hub.id}", f"hub: {card.hub.id}"
    else:
        if found.kind == "bundled" and not found.file.is_file():
            raise BadInput(f"{card.id}: bundled file {card.bundled} is missing from the install")
        name = str(found.file)
        rows = _read_rows(found.file.read_bytes(), name, _format_of(found.file.name, card.format))
        source = f"{found.kind}: {found.file}"
    joined, used = _read_joins(card, found.root)
    if used:
        source += "; joined " + ", ".join(used)
    return Dataset(card.id, tuple(_to_examples(card, rows, name, joined)), card, source)


def _hub_rows(card: Card) -> list[_Row]:
    """Rows from the HF hub through ``datasets`` (needs network or a warm HF cache)."""
    import datasets

    hub = card.hub
    try:
        data = datasets.load_dataset(hub.id, hub.config, split=hub.split, revision=hub.revision)
    except (OSError, RuntimeError, ValueError) as e:
        raise _not_found(card, f"the HF hub ({hub.id}) failed: {str(e).splitlines()[0]}") from None
    return [_Row(f"hub {hub.id} row {i}", i, dict(r)) for i, r in enumerate(data)]


def _read_joins(card: Card, root: Path | None) -> tuple[list[dict[str, dict]], list[str]]:
    """Each join's records keyed by its key column; a missing file is skipped."""
    tables, used = [], []
    for join in card.joins:
        file = Path(join.path) if Path(join.path).is_absolute() else (root / join.path if root else None)
        if file is None or not file.is_file():
            tables.append({})
            continue
        table: dict[str, dict] = {}
        for row in _read_rows(file.read_bytes(), str(file), _format_of(file.name, None)):
            key = _label_key(row.index if join.match[1] == ROW else _require(row, join.match[1], str(file)))
            if key in table:
                raise BadInput(f"{file}: {row.where}: field '{join.match[1]}': duplicate key '{key}'")
            table[key] = row.data
        tables.append(table)
        used.append(join.path if root is None else os.path.relpath(file, root))
    return tables, used


# ---------------------------------------------------------------- reading files


class _Row(NamedTuple):
    where: str
    """``line N`` or ``record N`` (1-based) for error messages."""
    index: int
    """0-based position in the file."""
    data: dict[str, Any]


def _format_of(name: str, declared: str | None) -> str:
    if declared:
        return declared
    suffix = name.rsplit(".", 1)[-1].lower()
    formats = {"json": "json", "jsonl": "jsonl", "csv": "csv", "parquet": "parquet"}
    if suffix not in formats:
        raise BadInput(f"{name}: unknown file type '.{suffix}' (expected .json, .jsonl, .csv or .parquet)")
    return formats[suffix]


def _read_rows(data: bytes, name: str, fmt: str) -> list[_Row]:
    if fmt == "parquet":
        return _parquet_rows(data, name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise BadInput(f"{name}:{line}: undecodable bytes (not UTF-8) at byte {e.start}") from None
    if fmt == "csv":
        return _csv_rows(text, name)
    if fmt == "json" and text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as e:
            raise BadInput(f"{name}:{e.lineno}: invalid JSON ({e.msg})") from None
        return [_Row(f"record {i + 1}", i, _object(r, name, f"record {i + 1}")) for i, r in enumerate(records)]
    return _jsonl_rows(text, name)


def _jsonl_rows(text: str, name: str) -> list[_Row]:
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise BadInput(f"{name}:{lineno}: invalid JSON ({e.msg})") from None
        rows.append(_Row(f"line {lineno}", len(rows), _object(record, name, f"line {lineno}")))
    return rows


def _object(record: Any, name: str, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise BadInput(f"{name}: {where}: a record must be a JSON object, got {type(record).__name__}")
    return record


def _csv_rows(text: str, name: str) -> list[_Row]:
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as e:
        raise BadInput(f"{name}: not readable as CSV ({str(e).splitlines()[0]})") from None
    return [_Row(f"record {i + 1}", i, r) for i, r in enumerate(frame.to_dict("records"))]


def _parquet_rows(data: bytes, name: str) -> list[_Row]:
    import pandas as pd
    import pyarrow as pa

    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except (OSError, ValueError, pa.ArrowException) as e:
        raise BadInput(f"{name}: not readable as Parquet ({str(e).splitlines()[0]})") from None
    return [_Row(f"record {i + 1}", i, r) for i, r in enumerate(frame.to_dict("records"))]


# ---------------------------------------------------------------- records -> examples


def _require(row: _Row, column: str, name: str) -> Any:
    value = row.data.get(column)
    if column not in row.data or _is_missing(value):
        raise BadInput(f"{name}: {row.where}: field '{column}': missing")
    return _plain(value)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    """numpy scalars (from Parquet) as Python values."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, dict, str)) else value


def _text(row: _Row, column: str, name: str) -> str:
    value = _require(row, column, name)
    if isinstance(value, (bool, int, float)):
        return str(value)  # e.g. PandaLM stores a few responses as JSON true
    if not isinstance(value, str):
        raise BadInput(f"{name}: {row.where}: field '{column}': expected text, got {type(value).__name__}")
    return value


def _label_key(value: Any) -> str:
    """One spelling per raw label value: 1, 1.0 and "1" are the same label."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _label(card: Card, row: _Row, column: str, name: str) -> Label:
    raw = _label_key(_require(row, column, name))
    if raw not in card.labels:
        allowed = ", ".join(card.labels)
        raise BadInput(f"{name}: {row.where}: field '{column}': label '{raw}' out of range (expected {allowed})")
    return card.labels[raw]


def majority(votes: tuple[Label, ...]) -> Label | None:
    """The most frequent vote; a draw between labels counts as ``tie``."""
    if not votes:
        return None
    ranked = Counter(votes).most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return "tie"
    return ranked[0][0]


def _to_examples(card: Card, rows: list[_Row], name: str, joined: list[dict[str, dict]]) -> list[Example]:
    examples: list[Example] = []
    first_seen: dict[str, str] = {}
    for row in rows:
        example = _to_example(card, row, name, joined)
        if example.id in first_seen:
            column = card.fields.id or ROW
            raise BadInput(
                f"{name}: {row.where}: field '{column}': duplicate id '{example.id}' "
                f"(first at {first_seen[example.id]})"
            )
        first_seen[example.id] = row.where
        examples.append(example)
    return examples


def _to_example(card: Card, row: _Row, name: str, joined: list[dict[str, dict]]) -> Example:
    f = card.fields
    parts = [_text(row, c, name) for c in f.instruction]
    instruction = "\n\n".join(p for p in parts if p.strip())
    if not instruction:
        raise BadInput(f"{name}: {row.where}: field '{'+'.join(f.instruction)}': empty instruction")
    responses = {}
    for key, column in (("response_a", f.response_a), ("response_b", f.response_b)):
        responses[key] = _text(row, column, name)
        if not responses[key].strip() and not card.allow_empty_responses:
            raise BadInput(f"{name}: {row.where}: field '{column}': empty response")
    votes = tuple(_label(card, row, c, name) for c in f.votes)
    gold = _label(card, row, f.gold, name) if f.gold else majority(votes)
    key = _text(row, f.id, name) if f.id else str(row.index)
    extra = _optional(row, f)
    for join, table in zip(card.joins, joined):
        match = table.get(_label_key(row.index if join.match[0] == ROW else _require(row, join.match[0], name)))
        if match is not None:
            extra = _merge(extra, _optional(_Row(row.where, row.index, match), join.fields))
    try:
        return Example(
            id=f"{card.id}/{key}", instruction=instruction, gold=gold, votes=votes,
            subset=card.id, **responses, **extra,
        )
    except ValidationError as e:
        first = e.errors()[0]
        raise BadInput(f"{name}: {row.where}: field '{first['loc'][0]}': {first['msg']}") from None


def _optional(row: _Row, f: JoinFields) -> dict[str, Any]:
    """Generators, reference and metadata: present or null, never required."""
    out: dict[str, Any] = {"metadata": {c: _plain(row.data.get(c)) for c in f.metadata}}
    for key in ("generator_a", "generator_b", "reference"):
        column = getattr(f, key, None)
        if column:
            value = row.data.get(column)
            out[key] = None if _is_missing(value) else str(_plain(value))
    return out


def _merge(base: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **{k: v for k, v in more.items() if k != "metadata"}}
    merged["metadata"] = {**base["metadata"], **more["metadata"]}
    return merged


def _check_unique(examples: tuple[Example, ...], dataset_id: str) -> None:
    counts = Counter(e.id for e in examples)
    duplicated = [i for i, n in counts.items() if n > 1]
    if duplicated:
        raise BadInput(f"{dataset_id}: duplicate example id '{duplicated[0]}' across parts")


def _short(example: Example, width: int) -> dict[str, Any]:
    def cut(text: str) -> str:
        flat = " ".join(text.split())
        return flat if len(flat) <= width else flat[: width - 1] + "…"

    return {
        "id": example.id, "gold": example.gold, "votes": list(example.votes),
        "instruction": cut(example.instruction), "response_a": cut(example.response_a),
        "response_b": cut(example.response_b),
        "generator_a": example.generator_a, "generator_b": example.generator_b,
    }
