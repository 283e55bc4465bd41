"""Every notebook runs top to bottom; each asserts its own key facts (published figures, counts) in cells.

Run in a fresh kernel from the notebooks/ folder, with the staged data that
conftest points ``JUDGEKIT_DATA_DIR`` at. Outputs stay in memory: the
committed notebooks are clean.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT_S = 600

def _uses_the_embedded_model(path: Path) -> bool:
    code = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    return bool(re.search(r"""load_judge\(\s*["']local""", code))


def _marks(path: Path) -> list:
    """Every notebook is in the slow tier (a kernel costs seconds to start; most replay whole datasets).

    One whose kernel loads the embedded model joins the embedded-model group
    (tests/conftest.py), so it never runs beside another model on two cores.
    """
    if _uses_the_embedded_model(path):
        return [pytest.mark.slow(reason="its kernel loads the embedded model"),
                pytest.mark.xdist_group("embedded-model")]
    return [pytest.mark.slow(reason="starts a notebook kernel")]


NOTEBOOK_PARAMS = [pytest.param(p, id=p.stem, marks=_marks(p)) for p in PATHS]


def test_the_notebooks_are_there_and_clean():
    assert [p.stem[:2] for p in PATHS] == ["01", "02", "03", "04", "05", "06", "07"]
    for path in PATHS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert code and all(not cell.outputs and cell.execution_count is None for cell in code), path.name
    assert [p.stem for p in PATHS if _uses_the_embedded_model(p)] == ["04_your_own_judge"]


@pytest.mark.parametrize("path", NOTEBOOK_PARAMS)
def test_notebook_runs_and_its_assertions_hold(path, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGEKIT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # notebooks import runs into temporary folders
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    try:
        client.execute(env=dict(os.environ))
    except CellExecutionError as error:  # the failing cell's source and traceback, not the whole notebook
        pytest.fail(f"{path.name}: {str(error)[-3000:]}")
    errors = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert errors == []
