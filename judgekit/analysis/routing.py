"""Route the items a judge should not decide to people, in files annotation tools import.

The judge decides an item when its verdict is valid and its confidence is at
least the threshold found by ``agreement.selective.coverage_at_accuracy``
(or given). Every other item goes to people: an invalid verdict, a verdict
without a confidence, or one below the threshold. Two files are written:

- JSONL, one task per line: ``id``, the texts a person needs (a pair's
  ``instruction``, ``response_a``, ``response_b``; a single output's
  ``input``, ``context``, ``output``) and why it was routed (``reason``,
  ``confidence``), with an empty ``label`` for the annotator to fill in
  (``a``, ``b`` or ``tie``; or one of the run's labels);
- Label Studio task JSON (a list of ``{"data": {...}}`` tasks) for the
  labelling config ``label_studio_config`` gives.

The judge's own winner is left out of both, so it cannot anchor the people
who check it. ``judgekit import labels`` reads either file back once labelled.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judgekit.analysis.trust import confidences_of_all
from judgekit.errors import BadInput
from judgekit.records import Example, LabelledOutput, RunRecords

SHOWN_FIELDS = {"pairwise": ("instruction", "response_a", "response_b"), "classify": ("input", "context", "output")}
"""The texts of an item a person reads to label it, by run kind."""

_QUESTIONS = {"pairwise": "Which output follows the instruction better?", "classify": "Which label fits the output?"}


def label_studio_config(kind: str, labels: tuple[str, ...]) -> str:
    """A Label Studio labelling config for the run's items whose choices ``import labels`` reads back."""
    texts = "".join(f'  <Text name="{name}" value="${name}"/>\n' for name in SHOWN_FIELDS[kind])
    choices = "".join(f'    <Choice value="{label}"/>\n' for label in labels)
    return (f'<View>\n  <Header value="{_QUESTIONS[kind]}"/>\n{texts}'
            f'  <Choices name="label" toName="{SHOWN_FIELDS[kind][0]}" choice="single" required="true">\n'
            f"{choices}  </Choices>\n</View>\n")


@dataclass(frozen=True)
class Routed:
    """One item for people, and why the judge does not decide it."""

    example: Example | LabelledOutput
    reason: str
    """``invalid`` (no valid verdict), ``no_confidence`` or ``low_confidence``."""
    confidence: float | None


def route(run: RunRecords, threshold: float | None) -> tuple[list[Routed], int]:
    """The items the judge should not decide at ``threshold`` (None: the judge decides nothing).

    Returns the routed items in the run's order and the number the judge keeps.
    """
    routed, kept = [], 0
    for example, winner, confidence in confidences_of_all(run):
        if winner is None:
            routed.append(Routed(example, "invalid", None))
        elif confidence is None:
            routed.append(Routed(example, "no_confidence", None))
        elif threshold is None or confidence < threshold:
            routed.append(Routed(example, "low_confidence", confidence))
        else:
            kept += 1
    return routed, kept


def write_tasks(routed: list[Routed], jsonl: Path, label_studio: Path, *, kind: str = "pairwise") -> None:
    """Both task files, each written to a temp file and renamed, so neither is ever half written."""
    lines = "".join(json.dumps(_task(r, kind)) + "\n" for r in routed)
    tasks = [{"data": {k: v for k, v in _task(r, kind).items() if k != "label"}} for r in routed]
    for path in (jsonl, label_studio):
        if not path.parent.is_dir():
            raise BadInput(f"{path}: folder {path.parent} does not exist")
    temps = []
    try:
        for path, text in ((jsonl, lines), (label_studio, json.dumps(tasks, indent=1) + "\n")):
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            temps.append((tmp, path))
        for tmp, path in temps:
            tmp.replace(path)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)


def _task(r: Routed, kind: str) -> dict[str, Any]:
    e = r.example
    return {"id": e.id, **{name: getattr(e, name) for name in SHOWN_FIELDS[kind]}, "reason": r.reason,
            "confidence": r.confidence, "label": None}
