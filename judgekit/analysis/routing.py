"""Route the items a judge should not decide to people, in files annotation tools import.

The judge decides an item when its verdict is valid and its confidence is at
least the threshold found by ``agreement.selective.coverage_at_accuracy``
(or given). Every other item goes to people: an invalid verdict, a verdict
without a confidence, or one below the threshold. Two files are written:

- JSONL, one task per line: ``id``, ``instruction``, ``response_a``,
  ``response_b`` and why it was routed (``reason``, ``confidence``), with an
  empty ``label`` for the annotator to fill in with ``a``, ``b`` or ``tie``;
- Label Studio task JSON (a list of ``{"data": {...}}`` tasks) for the
  labelling config in ``LABEL_STUDIO_CONFIG``.

The judge's own winner is left out of both, so it cannot anchor the people
who check it. ``judgekit import labels`` reads either file back once labelled.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judgekit.errors import BadInput
from judgekit.records import Example, RunRecords
from judgekit.analysis.trust import confidences_of_all

LABEL_STUDIO_CONFIG = """<View>
  <Header value="Which output follows the instruction better?"/>
  <Text name="instruction" value="$instruction"/>
  <Text name="response_a" value="$response_a"/>
  <Text name="response_b" value="$response_b"/>
  <Choices name="label" toName="instruction" choice="single" required="true">
    <Choice value="a"/>
    <Choice value="b"/>
    <Choice value="tie"/>
  </Choices>
</View>
"""
"""A Label Studio labelling config whose choices ``import labels`` reads back (``a``, ``b``, ``tie``)."""


@dataclass(frozen=True)
class Routed:
    """One item for people, and why the judge does not decide it."""

    example: Example
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


def write_tasks(routed: list[Routed], jsonl: Path, label_studio: Path) -> None:
    """Both task files, each written to a temp file and renamed, so neither is ever half written."""
    lines = "".join(json.dumps(_task(r)) + "\n" for r in routed)
    tasks = [{"data": {k: v for k, v in _task(r).items() if k != "label"}} for r in routed]
    for path, text in ((jsonl, lines), (label_studio, json.dumps(tasks, indent=1) + "\n")):
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


def _task(r: Routed) -> dict[str, Any]:
    e = r.example
    return {"id": e.id, "instruction": e.instruction, "response_a": e.response_a, "response_b": e.response_b,
            "reason": r.reason, "confidence": r.confidence, "label": None}
