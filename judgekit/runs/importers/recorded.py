"""What every importer of recorded verdicts shares: a finished run's manifest and all-or-nothing writing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from judgekit.data import Dataset
from judgekit.records import (
    HEADLINES,
    Classification,
    Example,
    LabelledOutput,
    Manifest,
    Rating,
    ScoredExample,
    Verdict,
)
from judgekit.runs.run_dir import RunDir
from judgekit.version import __version__


def recorded_manifest(dataset: Dataset, *, n_verdicts: int, dataset_id: str | None = None,
                      **fields: Any) -> Manifest:
    """The manifest of recorded verdicts: complete, started and finished now, on ``dataset``'s examples.

    A recorded pairwise run is headlined by the per-order mean accuracy, as
    LLMBar and PandaLM report their judges, unless its orders were combined by a
    declared rule (``headline`` given). ``dataset_id`` names the dataset when the importer was asked for it by
    another id than the card's (an LLMBar subset read from a user's folder).
    """
    now = datetime.now(UTC).isoformat(timespec="seconds")
    fields.setdefault("headline", HEADLINES[fields.get("kind", "pairwise")])  # pairwise: per order, as published
    return Manifest(dataset=dataset_id or dataset.id, dataset_hash=dataset.content_hash,
                    package_version=__version__, started_at=now, finished_at=now, complete=True,
                    n_examples=len(dataset.examples), n_verdicts=n_verdicts, **fields)


def write_run(path: Path, manifest: Manifest,
              examples: Sequence[Example] | Sequence[ScoredExample] | Sequence[LabelledOutput],
              verdicts: Sequence[Verdict] | Sequence[Rating] | Sequence[Classification]) -> None:
    """A new run dir holding recorded verdicts, its lock released."""
    run_dir = RunDir.create(path, manifest, examples)
    for verdict in verdicts:
        run_dir.append(verdict)
    run_dir.close()


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A hidden sibling of ``out`` to write into, renamed to ``out`` at the end: all or nothing.

    On any failure (Ctrl-C included) the sibling is removed and ``out`` is
    untouched. An empty folder at ``out`` (made for the import) is replaced.
    """
    staging = out.with_name(f".{out.name}.import-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        yield staging
        if out.is_dir():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def source_file(dataset: Dataset) -> Path:
    """The data file a dataset loaded from a file was read from (the first part of its ``source``)."""
    return Path(dataset.source.split(": ", 1)[1].split("; ", 1)[0])
