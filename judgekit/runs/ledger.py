"""The ledger of a split: every run on it, one JSON line each, appended and never rewritten.

``SPLIT_DIR/ledger.jsonl`` is how ``judgekit versions`` knows how many judge
versions have looked at the test side. A run on the split appends a
``started`` line before its first call (so a run killed halfway still counts
as a look at the test items) and a ``finished`` line with its headline
figure when it ends. Each line goes out in one ``write`` on a file opened
for appending and is fsynced before the run goes on: a kill -9 loses no
recorded line, and two runs appending at once do not interleave.

Runs on the dev side are recorded too (``on: dev``), for the versions table;
only test-side lines count as looks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import ValidationError

from judgekit.errors import JudgekitError
from judgekit.records import FORMAT_VERSION, Record

LEDGER = "ledger.jsonl"


class LedgerEntry(Record):
    """One line of ``ledger.jsonl``."""

    format_version: int = FORMAT_VERSION
    event: Literal["started", "finished"]
    on: Literal["dev", "test"]
    version: str
    """The judge version (``judge.identity.version_of``)."""
    judge: str
    protocol: str
    protocol_hash: str | None = None
    params: dict = {}
    run: str
    """The run dir, as an absolute path."""
    time: str
    n: int
    """Items on the side judged."""
    dataset_hash: str | None = None
    headline: str | None = None
    """Finished lines: the run's headline figure, its value and interval, and whether the run completed."""
    value: float | None = None
    ci: tuple[float, float] | None = None
    complete: bool | None = None


class Ledger(NamedTuple):
    entries: list[LedgerEntry]
    damaged: list[int]
    """Line numbers that do not read as an entry (a write cut short by a crash of the machine)."""


def append_entry(split_dir: Path, entry: LedgerEntry) -> None:
    """Append one line durably: one write to an append-only descriptor, then fsync."""
    path = split_dir / LEDGER
    line = (entry.model_dump_json() + "\n").encode("utf-8")
    new = not path.exists()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as e:
        raise JudgekitError(f"{path}: cannot append the run to the ledger ({e.strerror})") from None
    try:
        if os.fstat(fd).st_size and not _ends_with_newline(path):
            line = b"\n" + line  # a line torn by a crash stays a line of its own
        os.write(fd, line)
        os.fsync(fd)
        if new:  # the file's name must survive too
            _fsync_folder(split_dir)
    except OSError as e:
        raise JudgekitError(f"{path}: cannot append the run to the ledger ({e.strerror})") from None
    finally:
        os.close(fd)


def read_ledger(split_dir: Path) -> Ledger:
    """Every readable entry in order; an unreadable line is reported by number, not fatal."""
    path = split_dir / LEDGER
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return Ledger([], [])
    entries, damaged = [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(LedgerEntry.model_validate_json(line))
        except ValidationError:
            damaged.append(lineno)
    return Ledger(entries, damaged)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
