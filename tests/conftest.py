"""Shared test setup: staged data location, an isolated cache, the data-skip rule,
the check that keeps the ``slow`` marker honest, and the one way tests run the CLI."""

from __future__ import annotations

import functools
import io
import os
import subprocess
import sys
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[1]
STAGED = REPO.parent / "shared" / "datasets"

# Point the loaders at the staged copies when they sit beside the checkout
# (as they do on developer machines and in CI); never copy them in.
if "JUDGEKIT_DATA_DIR" not in os.environ and STAGED.is_dir():
    os.environ["JUDGEKIT_DATA_DIR"] = str(STAGED)

# Under xdist the embedded model runs on one worker while the others run the
# rest: one llama.cpp thread leaves them their cores (two threads bought the
# model worker nothing against a busy neighbour, and slowed the neighbour).
# BLAS likewise (numpy, scipy, scikit-learn): a worker per core is all the
# parallelism there is, and a BLAS thread waiting for a busy core turns a
# 0.1 ms product into 9 ms (read before numpy loads its BLAS, hence here).
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("JUDGEKIT_THREADS", "1")
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

REQUIRE_DATA = os.environ.get("JUDGEKIT_REQUIRE_DATA") == "1"
"""Set by .ci/run: a test that needs the staged data fails instead of skipping."""


KILLS_PROCESSES = pytest.mark.slow(reason="starts real judgekit processes, then signals, kills or locks them out")
"""Crash-safety tests spend seconds on process start-up and real waits: the whole suite runs them, the fast tier not."""


@pytest.fixture
def data_dir() -> Path:
    """The staged datasets folder; skip (or fail under CI) when it is absent."""
    path = os.environ.get("JUDGEKIT_DATA_DIR")
    if path and Path(path).is_dir():
        return Path(path)
    message = "staged datasets not found: set JUDGEKIT_DATA_DIR or place ../shared/datasets beside the checkout"
    if REQUIRE_DATA:
        pytest.fail(message)
    pytest.skip(message)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    """Tests that use the staged data carry ``needs_data`` (``-m "not needs_data"`` runs without it).

    Tests that load the embedded model share one xdist group: under ``--dist
    loadgroup`` (pyproject's addopts) they run on one worker, which loads the
    model once and leaves the other core to the other tests, instead of two
    models fighting over two cores (a notebook whose kernel loads the model
    joins the group in test_notebooks.py).
    """
    for item in items:
        if "data_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.needs_data)
        slow = item.get_closest_marker("slow")
        if slow is not None and "reason" not in slow.kwargs:  # loads the model in this process
            item.add_marker(pytest.mark.xdist_group("embedded-model"))


@pytest.fixture(autouse=True)
def _slow_means_the_embedded_model(request, monkeypatch):
    """``slow`` marks every test that loads the embedded model, and other heavy work declared with a reason.

    Every load in this process goes through ``local.load_engine`` (the first
    one reads the weights, later ones share them), so watching it tells: a
    test without the marker that loads a model fails, and so does a marked
    test that never does, so the fast tier (``-m "not slow"``) never pays for
    the model. A marker with a reason (``slow(reason=...)``) is taken at its
    word: the work happens where this hook cannot see it (a notebook kernel,
    assembling the weights file, a browser, judgekit processes killed mid-run).
    """
    from judgekit.backends import local

    loads = []
    real = local.load_engine

    def watched(*args, **kwargs):
        engine = real(*args, **kwargs)
        loads.append(engine)
        return engine

    monkeypatch.setattr(local, "load_engine", watched)
    marker = request.node.get_closest_marker("slow")
    yield
    if marker is None and loads:
        pytest.fail("loads the embedded model but is not marked @pytest.mark.slow")
    if marker is not None and not loads and "reason" not in marker.kwargs:
        pytest.fail("marked slow but never loads the embedded model: drop the marker or give its reason")
    grouped = not getattr(request.config.option, "loadgroup", False) or request.node.nodeid.endswith("@embedded-model")
    if loads and not grouped:
        pytest.fail("pytest-xdist ignored the embedded-model group (see the pytest pin in pyproject.toml)")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own response cache, so no test sees another's answers."""
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


JUDGEKIT = str(Path(sys.executable).parent / "judgekit")
"""The installed console script, for tests that need a real process (signals, kills, resource limits)."""


class Result(NamedTuple):
    """What one ``judgekit`` command gave: exit code, stdout, stderr."""

    code: int
    out: str
    err: str


def run_judgekit(monkeypatch, capsys, *args, env=None) -> Result:
    """Run the real console entry point in-process (no start-up cost), with ``env`` set until the test ends.

    The one in-process runner: the ``cli`` fixture is this, bound to the test's monkeypatch and capsys.
    """
    from judgekit.cli import main

    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["judgekit", *map(str, args)])
    capsys.readouterr()  # only this command's output
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code or 0
    return Result(code, *capsys.readouterr())


@pytest.fixture
def cli(monkeypatch, capsys):
    """``cli(*args, env=None) -> Result``: ``judgekit ARGS`` in this process."""
    return functools.partial(run_judgekit, monkeypatch, capsys)


class _Output:
    """capsys's ``readouterr`` outside a test: what ``module_cli``'s commands print, redirected here."""

    def __init__(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()

    def readouterr(self) -> tuple[str, str]:
        found = self.out.getvalue(), self.err.getvalue()
        for stream in (self.out, self.err):
            stream.seek(0)
            stream.truncate()
        return found


@contextmanager
def module_cli(tmp_path_factory):
    """``cli`` for a module-scoped fixture that makes run dirs once for tests that only read them: its own
    monkeypatch, response cache and captured output, for the ``with`` block."""
    output = _Output()
    with pytest.MonkeyPatch.context() as monkeypatch, redirect_stdout(output.out), redirect_stderr(output.err):
        monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield functools.partial(run_judgekit, monkeypatch, output)


def judgekit_process(*args, env=None, timeout=120) -> Result:
    """``judgekit ARGS`` as a real process, how users meet its start-up, exit codes and one-line errors."""
    done = subprocess.run([JUDGEKIT, *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)
    return Result(done.returncode, done.stdout, done.stderr)
