"""judgekit's modules import each other without cycles, counting imports made inside functions.

A cycle hidden in a function body still couples the two modules both ways
(each needs the other to work), and so does one through an import under
``if TYPE_CHECKING:``: the annotation names the other module's type, so
neither reads without the other. Not edges: registry dispatch by name
(``importlib.import_module`` of a computed name).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"judgekit": REPO / "judgekit", "judgekit.protocols": REPO / "protocols",
            "judgekit.meta_datasets": REPO / "meta_datasets"}
"""Where each package's source lives (pyproject maps protocols/ and meta_datasets/ into judgekit)."""


def modules() -> dict[str, Path]:
    found = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The judgekit modules a module imports, anywhere in its body (functions and TYPE_CHECKING blocks included)."""
    is_package = path.name == "__init__.py"
    edges = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from pkg import module`` runs pkg/__init__.py first: an edge to the package as well
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
    return edges


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_import_graph_has_no_cycle():
    found = modules()
    graph = {name: imports(name, path, set(found)) for name, path in found.items()}
    assert sum(map(len, graph.values())) > 100  # the graph really was read
    loop = cycle(graph)
    assert loop is None, "import cycle: " + " -> ".join(loop)


def test_the_checker_sees_imports_inside_functions_and_type_checking_ones(tmp_path):
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from judgekit.runs import run_dir as rundir\n"
                      "def f():\n    from judgekit.judge import api\n    from . import records\n", encoding="utf-8")
    known = {"judgekit", "judgekit.judge.api", "judgekit.runs.run_dir", "judgekit.records", "judgekit.m"}
    assert imports("judgekit.m", module, known) == {"judgekit", "judgekit.judge.api", "judgekit.records",
                                                    "judgekit.runs.run_dir"}


STAGES = ("data", "judge", "backends", "runs", "agreement", "analysis", "report", "cli", "integrations")
"""The pipeline's stages, each a package under judgekit/: a newcomer reads the flow from the folder names."""


def test_the_top_of_the_package_holds_the_stages_and_the_shared_vocabulary_only():
    top = {path.stem for path in (REPO / "judgekit").glob("*.py")}
    assert top == {"__init__", "records", "errors", "version", "resources"}  # no flat cluster of analysis modules
    packages = {path.name for path in (REPO / "judgekit").iterdir() if (path / "__init__.py").is_file()}
    assert packages == set(STAGES)


def test_statistics_read_no_files_and_renderers_compute_no_figures():
    """agreement/ imports nothing of judgekit beyond itself and errors; report/ never imports the statistics
    (it lays out what analysis computed) and analysis/ never imports a renderer."""
    found = modules()
    graph = {name: imports(name, path, set(found)) for name, path in found.items()}
    for name, edges in graph.items():
        if name.startswith("judgekit.agreement"):
            assert all(e.startswith("judgekit.agreement") or e == "judgekit.errors" for e in edges), (name, edges)
        if name.startswith("judgekit.report"):
            assert not any(e.startswith(("judgekit.agreement", "judgekit.analysis")) for e in edges), (name, edges)
        if name.startswith(("judgekit.analysis", "judgekit.agreement")):
            assert not any(e.startswith(("judgekit.report", "judgekit.cli")) for e in edges), (name, edges)
