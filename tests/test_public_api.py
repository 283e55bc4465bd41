"""The public API is ``judgekit.__all__`` (and the public modules' own ``__all__``); notebooks and docs use
nothing else, so internals can move without breaking what people copy from them."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from types import ModuleType

import pytest

import judgekit

REPO = Path(__file__).resolve().parents[1]
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def public_module(name: str) -> bool:
    return name in judgekit.__all__ and isinstance(getattr(judgekit, name), ModuleType)


def public_in(module: str, name: str) -> bool:
    """``name`` is public in ``judgekit.<module>``: the module is under a public one and lists it in ``__all__``."""
    return public_module(module.split(".")[0]) and name in getattr(import_module(f"judgekit.{module}"), "__all__", ())


def non_public(code: str) -> list[str]:
    """Every use of a judgekit name that is not public, as the line that uses it."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names
                      if a.name.startswith("judgekit.") and not public_module(a.name.split(".")[1])]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "judgekit":
            module = node.module.partition(".")[2]
            for alias in node.names:
                if not (alias.name in judgekit.__all__ if not module else public_in(module, alias.name)):
                    found.append(f"from {node.module} import {alias.name}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "judgekit":
            if node.attr not in judgekit.__all__:
                found.append(f"judgekit.{node.attr}")
    return found


def notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    # IPython magics (%matplotlib) are not Python
    return "\n".join(line for s in sources for line in s.splitlines() if not line.lstrip().startswith(("%", "!")))


def doc_code(path: Path) -> str:
    return "\n".join(PYTHON_BLOCK.findall(path.read_text(encoding="utf-8")))


SOURCES = [pytest.param(p, id=p.relative_to(REPO).as_posix()) for p in sorted((REPO / "notebooks").glob("*.ipynb"))]
SOURCES += [pytest.param(p, id=p.relative_to(REPO).as_posix())
            for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]]


@pytest.mark.parametrize("path", SOURCES)
def test_notebooks_and_docs_use_only_public_names(path):
    code = notebook_code(path) if path.suffix == ".ipynb" else doc_code(path)
    assert non_public(code) == []


def test_the_check_catches_an_internal_import():
    assert sorted(non_public("from judgekit.analysis.compare import Options\nimport judgekit.runs.run_dir\n"
                             "import judgekit\njudgekit.run_row(1)\nfrom judgekit import summary_frame")) == [
        "from judgekit import summary_frame", "from judgekit.analysis.compare import Options",
        "import judgekit.runs.run_dir", "judgekit.run_row"]
    assert non_public("import judgekit\nfrom judgekit import read_run, AnalysisOptions\n"
                      "from judgekit.agreement import fleiss_kappa\nfrom judgekit.cli import app\n"
                      "judgekit.load_judge('mock:first')") == []


def test_every_public_name_resolves_and_nothing_else_does():
    for name in judgekit.__all__:
        assert getattr(judgekit, name) is not None, name
    assert judgekit.AnalysisOptions().n_resamples == 1000
    assert judgekit.report_data.__module__ == "judgekit.analysis.compare"
    assert set(dir(judgekit)) >= set(judgekit.__all__)
    with pytest.raises(AttributeError, match="no attribute 'run_row'"):
        judgekit.run_row  # noqa: B018


@pytest.mark.parametrize("module", ["agreement", "backends", "cli", "integrations", "judge"])
def test_each_public_module_says_what_in_it_is_public(module):
    loaded = getattr(judgekit, module)
    assert loaded.__all__
    for name in loaded.__all__:  # a name it defines, or a submodule (judgekit.integrations.inspect_ai)
        assert hasattr(loaded, name) or find_spec(f"{loaded.__name__}.{name}") is not None, name


def test_importing_judgekit_and_listing_its_names_loads_nothing_heavy():
    code = ("import sys, judgekit\nnames = dir(judgekit) + judgekit.__all__\n"
            "print(sorted(m for m in ('pydantic', 'numpy', 'pandas', 'judgekit.records', 'judgekit.analysis') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
