"""Turning a card's records into Examples: field mapping, labels, votes, joins."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from judgekit.data.cards import Card, JoinFields, label_key
from judgekit.data.files import ROW, Row, is_missing, plain, require
from judgekit.errors import BadInput
from judgekit.records import Example, Label


def _text(row: Row, column: str, name: str) -> str:
    value = require(row, column, name)
    if isinstance(value, (bool, int, float)):
        return str(value)  # e.g. PandaLM stores a few responses as JSON true
    if not isinstance(value, str):
        raise BadInput(f"{name}: {row.where}: field '{column}': expected text, got {type(value).__name__}")
    return value


def _label(card: Card, row: Row, column: str, name: str) -> Label:
    raw = label_key(require(row, column, name))
    if raw not in card.labels:
        allowed = ", ".join(card.labels)
        raise BadInput(f"{name}: {row.where}: field '{column}': label '{raw}' out of range (expected {allowed})")
    return card.labels[raw]


def majority(votes: Iterable[Label | None]) -> Label | None:
    """The most frequent vote; a draw for the most votes is ``tie``; None when no vote counts.

    Missing votes (None: an annotator who did not label, a judge's invalid
    verdict) are skipped. Annotators' votes make a gold label this way and a
    panel's or samples' votes a verdict (``judge.strategies.common``).
    ``agreement.reliability.majority_label`` differs on purpose: it asks for
    more than half of the raters and gives None otherwise, as
    inter-rater statistics do.
    """
    ranked = Counter(vote for vote in votes if vote is not None).most_common()
    if not ranked:
        return None
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return "tie"
    return ranked[0][0]


def to_examples(card: Card, rows: list[Row], name: str, joined: list[dict[str, dict]]) -> list[Example]:
    """One Example per row; a duplicate id is refused.

    Without an id column in the mapping, examples are numbered by position,
    but a column named ``id`` is still checked: duplicates there mean the file
    is not what its mapping says (rows appended twice, two files joined), and
    judging them would pair unrelated items.
    """
    examples: list[Example] = []
    first_seen: dict[str, str] = {}
    unmapped_ids: dict[str, str] = {}
    for row in rows:
        example = _to_example(card, row, name, joined)
        if example.id in first_seen:
            column = card.fields.id or ROW
            raise BadInput(
                f"{name}: {row.where}: field '{column}': duplicate id '{example.id}' "
                f"(first at {first_seen[example.id]})"
            )
        first_seen[example.id] = row.where
        if card.fields.id is None and not is_missing(row.data.get("id")):
            value = label_key(plain(row.data["id"]))
            if value in unmapped_ids:
                raise BadInput(f"{name}: {row.where}: field 'id': duplicate id '{value}' "
                               f"(first at {unmapped_ids[value]}), though the mapping does not use it")
            unmapped_ids[value] = row.where
        examples.append(example)
    return examples


def _to_example(card: Card, row: Row, name: str, joined: list[dict[str, dict]]) -> Example:
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
    cluster = _text(row, f.cluster, name) if f.cluster else None
    extra = _optional(row, f)
    for join, table in zip(card.joins, joined):
        match = table.get(label_key(row.index if join.match[0] == ROW else require(row, join.match[0], name)))
        if match is not None:
            extra = _merge(extra, _optional(Row(row.where, row.index, match), join.fields))
    try:
        return Example(
            id=f"{card.id}/{key}", instruction=instruction, gold=gold, votes=votes,
            subset=card.id, cluster=cluster, **responses, **extra,
        )
    except ValidationError as e:
        first = e.errors()[0]
        raise BadInput(f"{name}: {row.where}: field '{first['loc'][0]}': {first['msg']}") from None


def _optional(row: Row, f: JoinFields) -> dict[str, Any]:
    """Generators, reference and metadata: present or null, never required."""
    out: dict[str, Any] = {"metadata": {c: plain(row.data.get(c)) for c in f.metadata}}
    for key in ("generator_a", "generator_b", "reference"):
        column = getattr(f, key, None)
        if column:
            value = row.data.get(column)
            out[key] = None if is_missing(value) else str(plain(value))
    return out


def _merge(base: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **{k: v for k, v in more.items() if k != "metadata"}}
    merged["metadata"] = {**base["metadata"], **more["metadata"]}
    return merged


def check_unique(examples: tuple[Example, ...], dataset_id: str) -> None:
    counts = Counter(e.id for e in examples)
    duplicated = [i for i, n in counts.items() if n > 1]
    if duplicated:
        raise BadInput(f"{dataset_id}: duplicate example id '{duplicated[0]}' across parts")
