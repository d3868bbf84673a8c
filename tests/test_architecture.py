"""The shape of the package: no import cycles, modules of a readable size, and ARCHITECTURE.md
naming every module (the map kept true)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "dataeff"
MAX_LINES = 400
LONG_REASON = "Why this module is long:"


def _modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of src/dataeff (a package is its __init__.py)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the dataeff modules it imports, at the top or inside functions alike (a lazy
    import is still a dependency)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from . import x / from .y import z
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # 'from pkg import sub' depends on the submodule when there is one
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # 'import dataeff.x.y' -> the module part
                    target = target.rpartition(".")[0]
                if target.startswith("dataeff") and target != name and target != "dataeff":
                    edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycles():
    graph = import_graph(_modules())
    assert sum(len(edges) for edges in graph.values()) > 50  # the walk sees the real imports
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_lazy_imports_count_as_edges(tmp_path):
    modules = {"dataeff.x": tmp_path / "x.py", "dataeff.y": tmp_path / "y.py"}
    modules["dataeff.x"].write_text("def f():\n    from dataeff.y import g\n")
    modules["dataeff.y"].write_text("import dataeff.x\n")
    assert cycles(import_graph(modules)) == [["dataeff.x", "dataeff.y"]]


@pytest.mark.parametrize("name", sorted(_modules()))
def test_a_long_module_says_why(name):
    text = _modules()[name].read_text(encoding="utf-8")
    if len(text.splitlines()) > MAX_LINES:
        docstring = ast.get_docstring(ast.parse(text)) or ""
        assert LONG_REASON in docstring, f"{name} has {len(text.splitlines())} lines and no '{LONG_REASON}'"


def test_architecture_md_names_every_module():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = [path.relative_to(PACKAGE).as_posix() for path in _modules().values()
               if f"`{path.relative_to(PACKAGE).as_posix()}`" not in text]
    assert missing == []
