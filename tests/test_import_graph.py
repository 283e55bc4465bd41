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
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
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
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from judgekit.runs import run_dir as rundir\n"
                      "def f():\n    from judgekit.judge import api\n    from . import records\n", encoding="utf-8")
    known = {"judgekit", "judgekit.judge.api", "judgekit.runs.run_dir", "judgekit.records", "judgekit.m"}
    assert imports("judgekit.m", module, known) == {"judgekit.judge.api", "judgekit.records", "judgekit.runs.run_dir"}
