"""The run directory: what a run leaves behind, readable offline and resumable.

Layout (DESIGN "Run directory"):

- ``manifest.json``: the Manifest record (what was judged, by whom, how far it got);
- ``examples.jsonl``: a snapshot of the examples judged, so a run can be
  re-analysed without the dataset;
- ``verdicts.jsonl``: one Verdict per line, appended as results arrive, each
  beginning with the run's id (``{"run": ...}``, the manifest's ``run_id``):
  reading refuses lines of another run;
- ``batches/``: only for runs sent through a provider batch API, each
  batch's state, so a killed run polls the same batches (``backends.batch``).

A run dir is created atomically (built in a temporary sibling, then renamed),
so a directory named like a run is never half set up; the sibling of a start
killed half-way is removed by the next start at the same place. Verdict lines are
appended and flushed one by one; a kill -9 can leave at most one torn last
line, which resuming drops.

One run at a time writes a run dir: the writer holds an exclusive ``flock``
on ``.lock`` inside it (taken before the dir is renamed into place, released
when the writer closes it or its process ends, kill -9 included), so a second
run on the same ``--out`` refuses, or waits if asked, instead of interleaving
its verdicts with the first one's.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import re
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from judgekit.errors import BadInput, JudgekitError
from judgekit.records import (
    Classification,
    Example,
    LabelledOutput,
    Manifest,
    Rating,
    Record,
    ScoredExample,
    Verdict,
    describe_validation_error,
    read_jsonl,
    write_jsonl,
)

if TYPE_CHECKING:
    import pandas as pd

MANIFEST = "manifest.json"
EXAMPLES = "examples.jsonl"
VERDICTS = "verdicts.jsonl"
LOCK = ".lock"

IDENTITY_FIELDS = ("judge", "protocol", "protocol_hash", "dataset", "dataset_hash", "params")
"""Manifest fields that must match for a resume to continue the same run."""


@dataclass(frozen=True, repr=False)
class Run:
    """A run dir read into memory: its manifest, the examples, the verdicts so far.

    Verdicts are in the examples' order (the file holds them in finishing order).
    """

    path: Path
    manifest: Manifest
    examples: list[Example] | list[ScoredExample]
    verdicts: list[Verdict] | list[Rating]
    """Verdicts of a pairwise run, Ratings of a pointwise one (``manifest.kind``)."""

    def __repr__(self) -> str:  # short: a full repr of thousands of verdicts is slow and unreadable
        m = self.manifest
        return (f"Run({str(self.path)!r}, judge={m.judge!r}, protocol={m.protocol!r}, dataset={m.dataset!r}, "
                f"{len(self.verdicts)}/{len(self.examples)} verdicts, complete={m.complete})")

    def summary(self) -> pd.DataFrame:
        """Agreement with the human labels (with CIs) and cost, one row per figure, the headline first."""
        from judgekit.analysis.summary import summary_frame  # numpy/pandas load only when asked

        return summary_frame(self)

    def to_pandas(self) -> pd.DataFrame:
        """One row per (example, order): ids, gold, winners, raw text, margins, usage (see judgekit.report.export)."""
        from judgekit.report.export import to_frame

        return to_frame([self])


def read_run(path: str | Path) -> Run:
    """Read a run dir for analysis; any damage is a one-line BadInput.

    A torn last verdict line is tolerated in an incomplete run (a killed run
    looks like that) but not in one whose manifest says complete.
    """
    path = Path(path)
    if not path.is_dir():
        raise BadInput(f"{path}: not a run directory (no such directory)")
    manifest = _read_manifest(path / MANIFEST)
    example_type, verdict_type = record_types(manifest)
    examples = list(read_jsonl(path / EXAMPLES, example_type))
    verdicts, torn = _read_verdicts(path / VERDICTS, verdict_type, manifest.run_id)
    if torn is not None and manifest.complete:
        raise BadInput(f"{path / VERDICTS}:{torn}: truncated line in a run marked complete")
    _check_verdict_ids(path / VERDICTS, examples, verdicts)
    return Run(path=path, manifest=manifest, examples=examples, verdicts=_in_example_order(examples, verdicts))


class RunDir:
    """A run dir open for writing: append verdicts, update and finish the manifest.

    It holds the run dir's lock until :meth:`close` (or the end of the process).
    """

    def __init__(self, path: Path, manifest: Manifest, examples: list[Example], verdicts: list[Verdict], lock: Any):
        self.path = path
        self.manifest = manifest
        self.examples = examples
        self.verdicts = verdicts
        self._lock = lock

    @classmethod
    def create(cls, path: str | Path, manifest: Manifest, examples: Sequence[Example]) -> RunDir:
        """Make a new run dir atomically, locked; the parent folders are created if needed."""
        path = checked_place(path)
        if path.exists():
            raise BadInput(f"{path}: already exists")
        if path.is_symlink():
            raise BadInput(f"{path}: is a symbolic link to {os.readlink(path)}, which does not exist; "
                           "create that folder or choose another --out")
        manifest = manifest.model_copy(update={"run_id": manifest.run_id or uuid.uuid4().hex})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise BadInput(f"{path}: {_first_file(path.parent)} is a file, not a folder") from None
        except OSError as e:
            raise BadInput(f"{path}: cannot create the folder ({_reason(e)})") from None
        tmp = path.with_name(f"{_partial_prefix(path)}{os.getpid()}")
        _clear_abandoned_starts(path)
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir()
        except OSError as e:
            raise BadInput(f"{path}: cannot write in {path.parent} ({_reason(e)})") from None
        lock = None
        try:
            lock = _lock(tmp, path, wait=False)
            _write_start(tmp, path, manifest, examples)
            try:
                tmp.rename(path)
            except OSError as e:
                if path.exists():  # another run created it between our check and now
                    raise BadInput(f"{path}: another run created it just now; run again to resume it") from None
                raise BadInput(f"{path}: cannot create it ({_reason(e)})") from None
        except BaseException:
            if lock is not None:
                lock.close()
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(path, manifest, list(examples), [], lock)

    @classmethod
    def create_inside(cls, folder: str | Path, manifest: Manifest, examples: Sequence[Example]) -> RunDir:
        """Make a new run dir in an empty folder that must stay where it is (a mount point, a symbolic
        link's target, a folder the user made), locked; the manifest is written last, so the folder
        looks like a run only once it holds all of one. Leftovers of a start killed here are replaced."""
        folder = checked_place(folder)
        if not is_empty_place(folder):
            raise BadInput(f"{folder}: exists and is not a judgekit run directory; choose another --out")
        manifest = manifest.model_copy(update={"run_id": manifest.run_id or uuid.uuid4().hex})
        lock = _lock(folder, folder, wait=False)
        try:
            _write_start(folder, folder, manifest, examples)
        except BaseException:
            for name in _START_FILES:
                (folder / name).unlink(missing_ok=True)
            lock.close()
            raise
        return cls(folder, manifest, list(examples), [], lock)

    @classmethod
    def resume(cls, path: str | Path, manifest: Manifest, examples: Sequence[Example], *, wait: bool = False) -> RunDir:
        """Reopen an existing run dir for the same judge, protocol and examples.

        ``manifest`` describes the run being asked for; a mismatch with what is
        on disk is a BadInput naming the field. A torn last verdict line is cut
        off. Another run writing the dir is a BadInput, or with ``wait`` a wait
        for it to end.
        """
        path = Path(path)
        lock = _lock(path, path, wait=wait)
        try:
            return cls._reopen(path, manifest, examples, lock)
        except BaseException:
            lock.close()
            raise

    @classmethod
    def _reopen(cls, path: Path, manifest: Manifest, examples: Sequence[Example], lock: Any) -> RunDir:
        stored = _read_manifest(path / MANIFEST)
        for field in IDENTITY_FIELDS:
            old, new = getattr(stored, field), getattr(manifest, field)
            if old != new:
                hint = " (other data, or another --limit)" if field == "dataset_hash" else ""
                raise BadInput(
                    f"{path / MANIFEST}: field '{field}' is {old!r} but this run asks for {new!r}{hint}; "
                    "use another --out"
                )
        example_type, verdict_type = record_types(stored)
        stored_examples = list(read_jsonl(path / EXAMPLES, example_type))
        if [e.id for e in stored_examples] != [e.id for e in examples]:
            raise BadInput(
                f"{path / EXAMPLES}: the run holds {len(stored_examples)} examples, "
                f"not the {len(examples)} asked for (different dataset, --limit or order); use another --out"
            )
        verdicts, torn = _read_verdicts(path / VERDICTS, verdict_type, stored.run_id)
        _mend_tail(path / VERDICTS, torn is not None)
        _check_verdict_ids(path / VERDICTS, stored_examples, verdicts)
        return cls(path, stored, stored_examples, verdicts, lock)

    def close(self) -> None:
        """Release the run dir's lock: another run may write it from now on."""
        self._lock.close()

    def done_ids(self) -> set[str]:
        return {v.example_id for v in self.verdicts}

    def append(self, verdict: Verdict) -> None:
        """Record one verdict durably (one flushed line)."""
        try:
            with (self.path / VERDICTS).open("a", encoding="utf-8") as f:
                f.write(_line(verdict, self.manifest.run_id))
                f.flush()
        except OSError as e:
            raise JudgekitError(f"{self.path / VERDICTS}: cannot write ({e.strerror.lower()})") from None
        self.verdicts.append(verdict)

    def update(self, **fields: Any) -> None:
        """Rewrite the manifest with some fields changed (atomic replace)."""
        self.manifest = self.manifest.model_copy(update=fields)
        _write_manifest(self.path / MANIFEST, self.manifest)

    def run(self) -> Run:
        return Run(self.path, self.manifest, list(self.examples), _in_example_order(self.examples, self.verdicts))


def record_types(manifest: Manifest) -> tuple[type[Record], type[Record]]:
    """The example and verdict records a run of this kind holds."""
    return RECORD_TYPES[manifest.kind]


RECORD_TYPES: dict[str, tuple[type[Record], type[Record]]] = {
    "pairwise": (Example, Verdict), "pointwise": (ScoredExample, Rating), "classify": (LabelledOutput, Classification),
}
"""Each run kind's example and verdict records."""


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def _lock(folder: Path, run: Path, *, wait: bool) -> Any:
    """Hold ``folder/.lock`` exclusively (the open file is the lock), recording our pid in it."""
    try:
        if not os.access(folder, os.W_OK):
            raise PermissionError(13, "Read-only file system" if os.statvfs(folder).f_flag & os.ST_RDONLY
                                  else "Read-only folder")
        handle = (folder / LOCK).open("a+", encoding="utf-8")
    except OSError as e:
        raise BadInput(f"{run}: cannot write to the run dir ({e.strerror.lower()})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if not wait:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise BadInput(
                f"{run}: another run (pid {holder}) is writing this run dir; wait for it to end "
                "(or pass --wait), or use another --out"
            ) from None
        fcntl.flock(handle, fcntl.LOCK_EX)
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


MAX_NAME_BYTES = 255
"""The longest file name the usual file systems take (ext4, XFS, APFS, NTFS)."""
MAX_PATH_BYTES = 4096
_START_FILES = (EXAMPLES, EXAMPLES + ".tmp", VERDICTS, MANIFEST + ".tmp")
"""What a start writes before its manifest: a folder holding only these (and ``.lock``) is still empty."""
_FOLDER_FURNITURE = frozenset({"lost+found"})
"""What a freshly made file system holds at its root: a mount point with only this is empty."""


def checked_place(path: str | Path) -> Path:
    """``path`` as a Path, or BadInput when no file system takes it (a name over 255 bytes)."""
    path = Path(path)
    too_long = next((part for part in path.parts if len(os.fsencode(part)) > MAX_NAME_BYTES), None)
    if too_long is not None:
        raise BadInput(f"{path}: the name '{too_long[:40]}...' is {len(os.fsencode(too_long)):,} bytes; "
                       f"file systems take at most {MAX_NAME_BYTES}")
    if len(os.fsencode(str(path.absolute()))) > MAX_PATH_BYTES:
        raise BadInput(f"{path}: the path is longer than the {MAX_PATH_BYTES:,} bytes file systems take")
    return path


def is_empty_place(folder: Path) -> bool:
    """Whether a folder holds nothing of anyone's: at most a file system's furniture and leftovers
    of a run's start that nobody is writing any more."""
    names = {entry.name for entry in folder.iterdir()} - _FOLDER_FURNITURE
    if not names <= {LOCK, *_START_FILES} or MANIFEST in names:
        return False
    return not names or LOCK not in names or _abandoned(folder)


def _write_start(folder: Path, run: Path, manifest: Manifest, examples: Sequence[Example]) -> None:
    """The examples, an empty verdict file, then the manifest (last: it makes the folder a run)."""
    try:
        write_jsonl(folder / EXAMPLES, examples)
        (folder / VERDICTS).write_bytes(b"")
    except OSError as e:
        raise BadInput(f"{run}: cannot write the run dir ({_reason(e)})") from None
    _write_manifest(folder / MANIFEST, manifest)


def _reason(error: OSError) -> str:
    """Why the file system said no, in a few words (EPERM and EACCES both read "permission denied")."""
    return "permission denied" if isinstance(error, PermissionError) else (error.strerror or str(error)).lower()


def _partial_prefix(path: Path) -> str:
    """The start of a start's temporary sibling's name (short enough to leave room for the pid)."""
    return f".{path.name[:200]}.partial-"


def _clear_abandoned_starts(path: Path) -> None:
    """Remove the temporary dirs that starts of a run at ``path`` left when their process died half-way."""
    for partial in path.parent.glob(f"{glob.escape(_partial_prefix(path))}*"):
        if _abandoned(partial):
            shutil.rmtree(partial, ignore_errors=True)


def _abandoned(partial: Path) -> bool:
    """Whether nobody is building ``partial`` any more: nobody holds its lock (the OS drops a lock when
    its holder dies, kill -9 included), or it has no lock yet and the process named in it is gone."""
    try:
        with (partial / LOCK).open("r", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True
    except FileNotFoundError:
        pid = partial.name.rpartition("-")[2]
        return pid.isdigit() and not _alive(int(pid))
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _first_file(path: Path) -> Path:
    """The first ancestor-or-self of ``path`` that exists and is not a folder."""
    for candidate in (*reversed(path.parents), path):
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return path


def _write_manifest(path: Path, manifest: Manifest) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        raise JudgekitError(f"{path}: cannot write ({e.strerror.lower()})") from None


def _read_manifest(path: Path) -> Manifest:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: missing (not a judgekit run directory)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: not valid JSON ({e})") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        raise BadInput(f"{path}: {describe_validation_error(e)}") from None


def _line(verdict: Record, run_id: str | None) -> str:
    """One verdict line: the record's JSON with the run's id as its first key."""
    record = verdict.model_dump_json()
    return f'{{"run":{json.dumps(run_id)},{record[1:]}\n' if run_id is not None else record + "\n"


def _read_verdicts(path: Path, model: type[Record], run_id: str | None) -> tuple[list, int | None]:
    """Read verdict lines; return them and the line number of a torn last line, if any."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    lines = text.split("\n")
    tail = lines.pop()
    verdicts = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            verdicts.append(model.model_validate_json(_own_record(line, run_id, f"{path}:{lineno}")))
        except ValidationError as e:
            raise BadInput(f"{path}:{lineno}: {describe_validation_error(e)}") from None
    # A last line with no newline may be a write cut short by a kill: torn if unreadable.
    if tail.strip():
        try:
            verdicts.append(model.model_validate_json(_own_record(tail, run_id, f"{path}:{len(lines) + 1}")))
        except (ValidationError, BadInput):
            if _is_json(tail):
                raise
            return verdicts, len(lines) + 1
    return verdicts, None


def _own_record(line: str, run_id: str | None, where: str) -> str:
    """A verdict line's record JSON without its run id; BadInput for a line of another run (or of none)."""
    if run_id is not None and line.startswith(own := f'{{"run":{json.dumps(run_id)},'):
        return "{" + line[len(own):]
    if (found := _RUN_KEY.match(line)) is not None:
        raise BadInput(f"{where}: field 'run': {found[1]!r} is another run's id ({MANIFEST} says {run_id!r}); "
                       "the manifest and the verdicts come from different runs")
    if run_id is not None:
        raise BadInput(f"{where}: field 'run': missing ({MANIFEST} says {run_id!r}); "
                       "the manifest and the verdicts come from different runs")
    return line


_RUN_KEY = re.compile(r'\{"run":("(?:[^"\\]|\\.)*"|null),')
"""The run id a verdict line starts with."""


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _mend_tail(path: Path, torn: bool) -> None:
    """Make the file end in a newline: drop a torn last line, or terminate a whole one."""
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return
    if torn:
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
    else:
        with path.open("ab") as f:
            f.write(b"\n")


def _check_verdict_ids(path: Path, examples: list[Example], verdicts: list[Verdict]) -> None:
    known = {e.id for e in examples}
    seen: set[str] = set()
    for lineno, verdict in enumerate(verdicts, start=1):
        if verdict.example_id not in known:
            raise BadInput(f"{path}: verdict {lineno}: field 'example_id': {verdict.example_id!r} is not in {EXAMPLES}")
        if verdict.example_id in seen:
            raise BadInput(f"{path}: verdict {lineno}: field 'example_id': {verdict.example_id!r} appears twice")
        seen.add(verdict.example_id)


def _in_example_order(examples: list[Example], verdicts: list[Verdict]) -> list[Verdict]:
    position = {e.id: i for i, e in enumerate(examples)}
    return sorted(verdicts, key=lambda v: position[v.example_id])
