"""Where a command's ``--out`` file may go: never into a run dir, never over a file the user did not give up.

``report``, ``compare`` and ``export`` check their ``--out`` here before doing any work, and
write it through a temporary sibling renamed into place, so a failure never leaves half a file.
"""

from __future__ import annotations

import os
from pathlib import Path

from judgekit.errors import BadInput


def check_out(out: Path | None, force: bool) -> None:
    """Refuse, before any work, to write into a run dir or over a file the user did not give up."""
    from judgekit.runs.run_dir import checked_place, is_run_dir

    if out is None:
        return
    checked_place(out)
    inside = next((folder for folder in out.absolute().parents if is_run_dir(folder)), None)
    if inside is not None:
        raise BadInput(f"--out {out}: is inside the run dir {inside}; write the output elsewhere")
    if out.is_dir():
        raise BadInput(f"--out {out}: is a directory; give a file name such as report.html")
    if out.exists() and not force:
        raise BadInput(f"--out {out}: already exists; pass --force to replace it")


def write_text(path: Path, text: str) -> None:
    """Write through a temporary sibling and rename: a failure never leaves half a file."""
    if path.is_dir():
        raise BadInput(f"--out {path}: is a directory; give a file name such as report.html")
    if not path.parent.is_dir():
        raise BadInput(f"--out {path}: folder {path.parent} does not exist")
    staging = path.with_name(f".{path.name[:200]}.{os.getpid()}.tmp")
    try:
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, path)
    except OSError as e:
        raise BadInput(f"--out {path}: cannot write ({e.strerror.lower()})") from None
    finally:
        if staging.exists():  # (unlinking a missing file on a read-only file system fails too)
            staging.unlink()
