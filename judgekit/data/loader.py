"""Finding a meta-dataset's data (path, bundled, data dir, hub) and loading it."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from judgekit.data.cards import (
    CANONICAL_FIELDS,
    CLASSIFY_FIELDS,
    SCORED_FIELDS,
    Card,
    ClassifyFields,
    Fields,
    HubSource,
    ScoredFields,
    builtin_cards,
    is_hub_id,
    label_key,
    load_card,
)
from judgekit.data.examples import check_unique, to_examples
from judgekit.data.files import ROW, Row, format_of, read_rows, require
from judgekit.data.labelled import to_labelled_outputs
from judgekit.data.scored import to_scored_examples
from judgekit.errors import BadInput
from judgekit.records import LABELS, Example, LabelledOutput, RunKind, ScoredExample, content_hash
from judgekit.resources import DATA_DIR_ENV, Availability, availability, locate


@dataclass(frozen=True)
class Dataset:
    """Examples plus where they came from."""

    id: str
    examples: tuple[Example, ...] | tuple[ScoredExample, ...] | tuple[LabelledOutput, ...]
    card: Card
    source: str
    """Human-readable origin, e.g. ``data dir: /data/llmbar/...`` or ``hub: ...``."""

    @property
    def kind(self) -> RunKind:
        """pairwise (Examples), pointwise (ScoredExamples) or classify (LabelledOutputs): the kind of run it feeds."""
        if self.card.classify is not None:
            return "classify"
        return "pointwise" if self.card.scored is not None else "pairwise"

    @property
    def labels(self) -> tuple[str, ...]:
        """Classify data: the label set, in order; empty for other kinds."""
        return self.card.classify.names if self.card.classify is not None else ()

    @property
    def positive_label(self) -> str | None:
        """Classify data: the label of the problem class, when the card or mapping names one."""
        return self.card.classify.positive if self.card.classify is not None else None

    @property
    def label_descriptions(self) -> dict[str, str]:
        """Classify data: what each label means, where the card says."""
        return dict(self.card.classify.descriptions) if self.card.classify is not None else {}

    @cached_property
    def content_hash(self) -> str:
        """sha256 of the examples' canonical JSON (``records.content_hash``)."""
        return content_hash(self.examples)


def list_datasets() -> list[Availability]:
    """Every built-in card (validated) and whether its data is readable right now."""
    cards = builtin_cards()
    return [availability(card, cards) for card in cards.values()]


def load_dataset(
    spec: str | Card,
    *,
    path: str | Path | None = None,
    mapping: str | Mapping[str, Any] | None = None,
    labels: str | Mapping[str, str] | None = None,
    limit: int | None = None,
    responses: str | Path | None = None,
) -> Dataset:
    """Load a meta-dataset by built-in id, card (file or object), data file, or ``hf:OWNER/NAME[:CONFIG][@SPLIT]``.

    ``mapping`` (``"instruction=prompt,response_a=out1,gold=label"`` or a dict)
    and ``labels`` (``"1=a,2=b,0=tie"``) override a card's, or describe a
    plain data file; ``+`` joins several columns (``votes=v1+v2+v3``). A
    mapping with ``label`` describes labelled outputs (classify):
    ``"input=prompt,response=answer,label=h1+h2+h3,positive=fail"`` with
    ``labels`` naming the label set (``"yes=fail,no=pass"``, or ``"pass,fail"``).
    ``responses`` replaces a program-verified card's response file (any
    model's IFEval responses for ``ifeval``).
    """
    if limit is not None and limit < 0:
        raise BadInput(f"--limit: must be >= 0, got {limit}")
    cards = builtin_cards()
    card = _card_for(spec, cards)
    if responses is not None:
        card = _with_responses(card, Path(responses))
    if mapping is not None or labels is not None:
        if card.parts:
            raise BadInput(f"--mapping/--labels: {card.id} combines other datasets; map each part instead")
        card = _override(card, mapping, labels)
    explicit = Path(path) if path is not None else None
    if explicit is not None and not explicit.exists():
        raise BadInput(f"--path: {explicit} does not exist")
    if card.parts:
        parts = [_load_card(cards[p] if p in cards else _unknown(p), explicit) for p in card.parts]
        examples = tuple(e for d in parts for e in d.examples)
        check_unique(examples, card.id)
        source = "; ".join(f"{d.id}: {d.source}" for d in parts)
        dataset = Dataset(card.id, examples, card, source)
    else:
        dataset = _load_card(card, explicit)
    if not dataset.examples:
        raise BadInput(f"{card.id}: holds no examples ({dataset.source})")
    if limit is not None:
        dataset = Dataset(dataset.id, dataset.examples[:limit], dataset.card, dataset.source)
    return dataset


def data_file(card: Card) -> Path:
    """Where a card's own data file is right now (an explicit file, the data dir); bad input naming the fix."""
    found = locate(card, None)
    if found.kind not in ("path", "data dir"):
        raise _not_found(card)
    return Path(found.file)


def _with_responses(card: Card, responses: Path) -> Card:
    if card.verify is None:
        raise BadInput(f"--responses: {card.id} is labelled by people, not by a program; --responses replaces the "
                       "response file of a program-verified dataset (ifeval, ifeval/prompts)")
    if not responses.is_file():
        raise BadInput(f"--responses: {responses}: file not found")
    verified = card.verify.model_copy(update={"responses": str(responses.resolve())})
    return card.model_copy(update={"verify": verified})


def parse_mapping(text: str) -> dict[str, Any]:
    """``"instruction=a+b,gold=label"`` -> ``{"instruction": ["a", "b"], "gold": "label"}``.

    Scored data use the scored keys (``input=prompt_id,response=text,system=model,
    score.fluency=f1+f2+f3,scale=1-5``, or long: ``criterion=aspect,scores=s1+s2``);
    ``score.NAME`` keys are gathered under ``criteria``.
    """
    result: dict[str, Any] = {}
    known = tuple(dict.fromkeys((*CANONICAL_FIELDS, *SCORED_FIELDS, *CLASSIFY_FIELDS)))
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        criterion = key.removeprefix("score.") if key.startswith("score.") else None
        if not sep or (key not in known and not criterion) or key == "score.NAME":
            raise BadInput(f"--mapping: '{item}' is not FIELD=COLUMN with FIELD one of {', '.join(known)}")
        columns = [c.strip() for c in value.split("+") if c.strip()]
        if criterion:
            result.setdefault("criteria", {})[criterion] = columns
        elif key == "scale":
            result[key] = _scale(item, value)
        elif key in ("instruction", "votes", "metadata", "scores", "label", "group", "context") or (
                key == "input" and len(columns) > 1):  # classify joins several input columns
            result[key] = columns
        else:
            result[key] = columns[0] if columns else None
    return result


def _scale(item: str, value: str) -> tuple[float, float]:
    low, sep, high = value.strip().partition("-")
    try:
        return float(low), float(high)
    except ValueError:
        raise BadInput(f"--mapping: '{item}': a scale is LOW-HIGH, e.g. scale=1-5") from None


def parse_labels(text: str) -> dict[str, str]:
    """``"1=a,2=b,0=tie"`` -> ``{"1": "a", "2": "b", "0": "tie"}``.

    The label follows the last ``=``, so a raw value may hold one (Arena-Hard's ``A=B=tie``).
    """
    result: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        raw, sep, label = item.rpartition("=")
        if not sep or label.strip() not in LABELS:
            raise BadInput(f"--labels: '{item}' is not VALUE=LABEL with LABEL one of a, b, tie")
        result[raw.strip()] = label.strip()
    return result


def parse_label_names(text: str) -> dict[str, str]:
    """Classify labels: ``"yes=fail,no=pass"`` -> ``{"yes": "fail", "no": "pass"}``; a bare ``pass`` is ``pass=pass``.

    The label set's order is the order given.
    """
    result: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        raw, sep, label = item.partition("=")
        raw, label = raw.strip(), (label if sep else raw).strip()
        if not raw or not label:
            raise BadInput(f"--labels: '{item}' is not VALUE=LABEL (or a bare LABEL)")
        key = label_key(raw)
        if key in result:
            raise BadInput(f"--labels: the value '{key}' is given twice")
        result[key] = label
    return result


def summarize(dataset: Dataset, *, examples: int = 3, width: int = 200) -> dict[str, Any]:
    """Counts, label balance, annotators and generator coverage, plus a few short examples."""
    if dataset.kind == "pointwise":
        return _summarize_scored(dataset, examples, width)
    if dataset.kind == "classify":
        return _summarize_labelled(dataset, examples, width)
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
        "notes": " ".join(dataset.card.notes.split()),
        "content_hash": dataset.content_hash,
        "examples": [_short(e, width) for e in items[:examples]],
    }


def _summarize_scored(dataset: Dataset, examples: int, width: int) -> dict[str, Any]:
    items = dataset.examples
    criteria = Counter(c for e in items for c in e.criteria)
    raters = Counter(len(s.scores) for e in items for s in e.criteria.values())
    return {
        "id": dataset.id,
        "kind": "pointwise",
        "description": " ".join(dataset.card.description.split()),
        "source": dataset.source,
        "n": len(items),
        "inputs": len({e.input_id for e in items}),
        "systems": dict(Counter(e.system or "unknown" for e in items).most_common()),
        "criteria": dict(criteria),
        "scale": list(dataset.card.scored.scale),
        "scores_per_item": {str(k): v for k, v in sorted(raters.items())},
        "with_text": sum(bool(e.response.strip()) for e in items),
        "license": dataset.card.license,
        "citation": dataset.card.citation.strip(),
        "notes": " ".join(dataset.card.notes.split()),
        "content_hash": dataset.content_hash,
        "examples": [{"id": e.id, "input_id": e.input_id, "system": e.system,
                      "response": " ".join(e.response.split())[:width],
                      "criteria": {c: list(s.scores) for c, s in e.criteria.items()}} for e in items[:examples]],
    }


def _summarize_labelled(dataset: Dataset, examples: int, width: int) -> dict[str, Any]:
    items = dataset.examples
    gold = Counter(e.gold or "none" for e in items)
    votes = Counter(sum(v is not None for v in e.votes) for e in items if e.votes)
    return {
        "id": dataset.id,
        "kind": "classify",
        "description": " ".join(dataset.card.description.split()),
        "source": dataset.source,
        "n": len(items),
        "labels": list(dataset.labels),
        "positive_label": dataset.positive_label,
        "gold": {k: gold.get(k, 0) for k in (*dataset.labels, "none")},
        "votes_per_item": {str(k): v for k, v in sorted(votes.items())} or None,
        "annotators": dataset.card.annotators,
        "clusters": len({e.cluster if e.cluster is not None else e.input for e in items}),
        "with_context": sum(e.context is not None for e in items),
        "systems": dict(Counter(e.system for e in items if e.system).most_common()),
        "license": dataset.card.license,
        "citation": dataset.card.citation.strip(),
        "notes": " ".join(dataset.card.notes.split()),
        "content_hash": dataset.content_hash,
        "examples": [{"id": e.id, "gold": e.gold, "votes": dict(Counter(v or "none" for v in e.votes)),
                      "input": _cut(e.input, width), "output": _cut(e.output, width)} for e in items[:examples]],
    }


def _card_for(spec: str | Card, cards: dict[str, Card]) -> Card:
    if isinstance(spec, Card):
        return spec
    if spec in cards:
        return cards[spec]
    if spec.startswith("hf:"):
        return _hub_card(spec)
    candidate = Path(spec)
    if candidate.is_dir():
        raise BadInput(f"{spec}: is a folder; give a data file (.jsonl, .json, .csv, .parquet) or a card (.yaml), "
                       "or a folder laid out like the staged datasets with --path")
    if not candidate.exists() and (candidate.suffix in DATA_SUFFIXES or spec.startswith(("/", ".", "~"))):
        raise BadInput(f"{spec}: no such file")
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return load_card(candidate)
    if candidate.is_file():
        fmt = format_of(candidate.name, None)
        return Card(
            id=candidate.stem, description=f"local file {candidate}", local=str(candidate.resolve()),
            format=fmt, fields=Fields(), license="unknown", citation="",
        )
    return _unknown(spec)


DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".yaml", ".yml")
"""What a dataset given by path ends in: a data file or a card."""


def _unknown(spec: str) -> Card:
    raise BadInput(
        f"unknown dataset '{spec}': not a built-in id (see 'judgekit datasets list'), "
        "an existing .jsonl/.json/.csv/.parquet or .yaml card file, or hf:OWNER/NAME"
    )


def _hub_card(spec: str) -> Card:
    name, _, split = spec[3:].partition("@")
    repo, _, config = name.partition(":")
    if not is_hub_id(repo):
        raise BadInput(f"'{spec}': '{repo}' is not a hub dataset id; expected hf:OWNER/NAME[:CONFIG][@SPLIT] "
                       "(a local file is given by its path)")
    hub = HubSource(id=repo, config=config or None, split=split or "train")
    return Card(id=spec, description=f"HF hub dataset {repo}", hub=hub, fields=Fields(),
                license="see the hub page", citation="")


def _override(card: Card, mapping: Any, labels: Any) -> Card:
    given = (parse_mapping(mapping) if isinstance(mapping, str) else dict(mapping)) if mapping is not None else {}
    if card.classify is not None or any(k in given for k in ("label", "group", "context", "positive")):
        return _classify_override(card, given, labels)
    update: dict[str, Any] = {}
    if mapping is not None:
        scored = card.scored is not None or any(k in given for k in SCORED_FIELDS if k not in CANONICAL_FIELDS)
        if scored and any(k in given for k in CANONICAL_FIELDS if k not in SCORED_FIELDS):
            raise BadInput("--mapping: mixes pair fields (response_a, gold, "
                           "...) with scored ones (input, score.NAME, ...)")
        model, key = (ScoredFields, "scored") if scored else (Fields, "fields")
        current = card.scored if scored else card.fields
        base = current.model_dump() if current else {}
        try:
            update[key] = model.model_validate({**base, **given})
        except ValidationError as e:
            first = e.errors()[0]
            field = first["loc"][0] if first["loc"] else "mapping"
            raise BadInput(f"--mapping: field '{field}': {first['msg'].removeprefix('Value error, ')}") from None
        if scored:
            update["fields"] = None
    if labels is not None:
        given_labels = parse_labels(labels) if isinstance(labels, str) else dict(labels)
        update["labels"] = {label_key(k): v for k, v in given_labels.items()}
    return card.model_copy(update=update)


def _classify_override(card: Card, given: dict[str, Any], labels: Any) -> Card:
    """The card's classify mapping with the given keys and labels in place (a plain file's, from scratch)."""
    stray = next((k for k in given if k not in CLASSIFY_FIELDS), None)
    if stray is not None:
        raise BadInput(f"--mapping: '{stray}' is not a field of labelled "
                       f"outputs (classify: {', '.join(CLASSIFY_FIELDS)})")
    merged = {**(card.classify.model_dump() if card.classify is not None else {}), **given}
    if labels is not None:
        merged["labels"] = parse_label_names(labels) if isinstance(labels, str) else dict(labels)
    if not merged.get("labels"):
        raise BadInput("--labels: labelled outputs need their label set, e.g. --labels yes=fail,no=pass (raw value "
                       "= label name, in the order you want them) or --labels pass,fail")
    try:
        fields = ClassifyFields.model_validate(merged)
    except ValidationError as e:
        first = e.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:  # a rule across fields: the labels, the positive label, group
            raise BadInput(f"--mapping/--labels: {message}") from None
        field = first["loc"][0]
        raise BadInput(f"--labels: {message}" if field == "labels"
                       else f"--mapping: field '{field}': {message}") from None
    return card.model_copy(update={"classify": fields, "fields": None, "scored": None})


def _not_found(card: Card, why: str = "") -> BadInput:
    hint = (f"set {DATA_DIR_ENV} to a folder containing {card.local} (laid out like the "
            "staged datasets folder) or pass --path" if card.local else "pass --path")
    return BadInput(f"{card.id}: data not found: {hint}{'; ' + why if why else ''}")


def _load_card(card: Card, explicit: Path | None) -> Dataset:
    found = locate(card, explicit)
    if found.kind == "missing":
        raise _not_found(card)
    if found.kind == "hub":
        rows = _hub_rows(card)
        name, source = f"hub {card.hub.id}", f"hub: {card.hub.id}"
    else:
        if found.kind == "bundled" and not found.file.is_file():
            raise BadInput(f"{card.id}: bundled file {card.bundled} is missing from the install")
        name = str(found.file)
        rows = read_rows(found.file.read_bytes(), name, format_of(found.file.name, card.format), card.records)
        source = f"{found.kind}: {found.file}"
        if card.verify is not None:
            rows, verified = _verified(card, rows, name, found.root)
            source += f"; {verified}"
    if card.scored is not None:
        return Dataset(card.id, tuple(to_scored_examples(card, rows, name)), card, source)
    if card.classify is not None:
        return Dataset(card.id, tuple(to_labelled_outputs(card, rows, name)), card, source)
    joined, used = _read_joins(card, found.root)
    if used:
        source += "; joined " + ", ".join(used)
    return Dataset(card.id, tuple(to_examples(card, rows, name, joined)), card, source)


def _verified(card: Card, rows: list[Row], name: str, root: Path | None) -> tuple[list[Row], str]:
    """A program-verified card's records: the responses joined to the inputs and checked (``data.ifeval``)."""
    from judgekit.data.ifeval import verified_rows  # the verifier loads NLTK: only for these cards

    responses = Path(card.verify.responses)
    if not responses.is_absolute():
        if root is None or not (root / responses).is_file():
            raise BadInput(f"{card.id}: response file {responses} not found: set {DATA_DIR_ENV} to a folder "
                           "holding it or pass --responses FILE")
        responses = root / responses
    return verified_rows(rows, name, responses, card.verify.level)


def _hub_rows(card: Card) -> list[Row]:
    """Rows from the HF hub through ``datasets`` (needs network or a warm HF cache)."""
    import datasets

    hub = card.hub
    # The hub client logs every retry; offline that buries our one-line error.
    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)
    try:
        data = datasets.load_dataset(hub.id, hub.config, split=hub.split, revision=hub.revision)
    except (OSError, RuntimeError, ValueError) as e:
        raise _not_found(card, f"the HF hub ({hub.id}) failed: {str(e).splitlines()[0]}") from None
    finally:
        hub_log.setLevel(level)
    return [Row(f"hub {hub.id} row {i}", i, dict(r)) for i, r in enumerate(data)]


def _read_joins(card: Card, root: Path | None) -> tuple[list[dict[str, dict]], list[str]]:
    """Each join's records keyed by its key column; a missing file is skipped."""
    tables, used = [], []
    for join in card.joins:
        file = Path(join.path) if Path(join.path).is_absolute() else (root / join.path if root else None)
        if file is None or not file.is_file():
            tables.append({})
            continue
        table: dict[str, dict] = {}
        for row in read_rows(file.read_bytes(), str(file), format_of(file.name, None)):
            key = label_key(row.index if join.match[1] == ROW else require(row, join.match[1], str(file)))
            if key in table:
                raise BadInput(f"{file}: {row.where}: field '{join.match[1]}': duplicate key '{key}'")
            table[key] = row.data
        tables.append(table)
        used.append(join.path if root is None else os.path.relpath(file, root))
    return tables, used


def _cut(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _short(example: Example, width: int) -> dict[str, Any]:
    def cut(text: str) -> str:
        return _cut(text, width)

    return {
        "id": example.id, "gold": example.gold, "votes": list(example.votes),
        "instruction": cut(example.instruction), "response_a": cut(example.response_a),
        "response_b": cut(example.response_b),
        "generator_a": example.generator_a, "generator_b": example.generator_b,
    }
