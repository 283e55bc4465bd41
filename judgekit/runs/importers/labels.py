"""Read human labels returned for routed items back as a dataset (``judgekit import labels``).

Two inputs, both made from ``judgekit route``'s task files:

- the JSONL tasks with ``label`` filled in (``a``, ``b`` or ``tie``); a task
  whose label is still empty is skipped and counted;
- a Label Studio JSON export of the routed tasks: each task's ``data`` and its
  ``annotations``, each with a ``choices`` result. Cancelled annotations are
  ignored. Several annotations of one task become its ``votes``, and ``gold``
  is their majority (a draw is a tie).

The result is a JSONL dataset: one line per labelled item, with ``id``,
``instruction``, ``response_a``, ``response_b``, ``gold`` and ``votes``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judgekit.data.examples import majority
from judgekit.errors import BadInput
from judgekit.records import LABELS, Example, json_lines

TEXT_FIELDS = ("id", "instruction", "response_a", "response_b")


@dataclass(frozen=True)
class ReturnedLabels:
    """The labelled items, and how many tasks came back without a label."""

    examples: list[Example]
    unlabelled: int


def read_labels(path: str | Path) -> ReturnedLabels:
    """Labelled items from a filled-in JSONL task file or a Label Studio JSON export."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise BadInput(f"{path}: not UTF-8 text (byte {e.start})") from None
    if text.lstrip().startswith("["):
        try:
            tasks = json.loads(text)
        except json.JSONDecodeError as e:
            raise BadInput(f"{path}: invalid JSON ({e.msg}, line {e.lineno})") from None
        rows = [(f"task {i + 1}", _label_studio_row(path, i, t)) for i, t in enumerate(tasks)]
    else:
        rows = [(f"line {n}", _jsonl_row(path, n, r)) for n, r in json_lines(text, str(path))]
    examples, unlabelled, seen = [], 0, set()
    for where, (data, votes) in rows:
        if not votes:
            unlabelled += 1
            continue
        if data["id"] in seen:
            raise BadInput(f"{path}: {where}: field 'id': duplicate id '{data['id']}'")
        seen.add(data["id"])
        examples.append(Example(**{k: data[k] for k in TEXT_FIELDS}, gold=majority(tuple(votes)),
                                votes=tuple(votes) if len(votes) > 1 else ()))
    return ReturnedLabels(examples, unlabelled)


def write_dataset(labels: ReturnedLabels, out: Path) -> None:
    """The labelled items as a JSONL dataset (temp file renamed into place)."""
    if out.exists():
        raise BadInput(f"{out}: already exists; choose another --out")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    rows = [{"id": e.id, "instruction": e.instruction, "response_a": e.response_a, "response_b": e.response_b,
             "gold": e.gold, "votes": list(e.votes)} for e in labels.examples]
    try:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def _jsonl_row(path: Path, lineno: int, row: Any) -> tuple[dict[str, str], list[str]]:
    where = f"{path}:{lineno}"
    if not isinstance(row, dict):
        raise BadInput(f"{where}: expected a JSON object per line")
    data = _text_fields(where, row)
    label = row.get("label")
    if label is None or label == "":
        return data, []
    return data, [_check_label(where, "label", label)]


def _label_studio_row(path: Path, i: int, task: Any) -> tuple[dict[str, str], list[str]]:
    where = f"{path}: task {i + 1}"
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise BadInput(f"{where}: field 'data': expected an object (a Label Studio task)")
    data = _text_fields(where, task["data"])
    votes = []
    for k, annotation in enumerate(task.get("annotations") or []):
        if not isinstance(annotation, dict) or annotation.get("was_cancelled"):
            continue
        for result in annotation.get("result") or []:
            choices = (result.get("value") or {}).get("choices") if isinstance(result, dict) else None
            if choices:
                if len(choices) != 1:
                    raise BadInput(f"{where}: field 'annotations[{k}].result.value.choices': expected one choice")
                votes.append(_check_label(where, f"annotations[{k}].result.value.choices", choices[0]))
    return data, votes


def _text_fields(where: str, row: dict[str, Any]) -> dict[str, str]:
    for field in TEXT_FIELDS:
        if not isinstance(row.get(field), str) or (field == "id" and not row[field]):
            raise BadInput(f"{where}: field '{field}': missing or not text")
    return {field: row[field] for field in TEXT_FIELDS}


def _check_label(where: str, field: str, label: Any) -> str:
    if label not in LABELS:
        raise BadInput(f"{where}: field '{field}': label {label!r} is not one of {', '.join(LABELS)}")
    return label
