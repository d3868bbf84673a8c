"""Shape of the analysis and report packages: no import cycles, no backend switching."""

from __future__ import annotations

import ast
from pathlib import Path

import dataeff

SRC = Path(dataeff.__file__).parent
PACKAGES = ("analysis", "report")


def _imports() -> dict[str, set[str]]:
    """Module -> the dataeff.analysis / dataeff.report modules it imports, function-level ones too."""
    graph = {}
    for package in PACKAGES:
        for path in sorted((SRC / package).glob("*.py")):
            name = f"dataeff.{package}.{path.stem}".removesuffix(".__init__")
            found = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                else:
                    continue
                found |= {t for t in targets if t.split(".")[:2] in (["dataeff", p] for p in PACKAGES)
                          and (SRC / Path(*t.split(".")[1:])).with_suffix(".py").exists()}
            graph[name] = found - {name}
    return graph


def test_no_import_cycles_inside_analysis_and_report():
    graph = _imports()
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in graph.get(node, ()):
            assert state.get(nxt) != 1, f"import cycle: {' -> '.join(path + [nxt])}"
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


def test_library_code_never_chooses_a_matplotlib_backend():
    for path in SRC.rglob("*.py"):
        assert "matplotlib.use(" not in path.read_text(), path
