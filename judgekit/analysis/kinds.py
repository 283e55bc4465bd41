"""The run kinds analysis knows, by the manifest's ``kind``: adding a kind is one line here."""

from __future__ import annotations

from collections.abc import Sequence

from judgekit.analysis.classify import CLASSIFY
from judgekit.analysis.kind import Kind
from judgekit.analysis.pairwise import PAIRWISE
from judgekit.analysis.pointwise import POINTWISE
from judgekit.errors import BadInput
from judgekit.records import RunRecords

KINDS: dict[str, Kind] = {kind.name: kind for kind in (PAIRWISE, POINTWISE, CLASSIFY)}


def kind_of(runs: Sequence[RunRecords]) -> Kind:
    """The one kind these runs share; runs of different kinds are bad input (their figures differ)."""
    if not runs:
        raise BadInput("no run dirs given")
    first = runs[0]
    for run in runs[1:]:
        if run.manifest.kind != first.manifest.kind:
            raise BadInput(f"{run.path}: a {run.manifest.kind} run cannot be reported with the "
                           f"{first.manifest.kind} run {first.path}")
    return KINDS[first.manifest.kind]
