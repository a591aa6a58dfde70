"""The synthetic-data package: its modules import one another one way, and at the top.

The phase-wide rules (layers, cycles, the engine only through its public face) are
checked in test_layering.py.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import analysis.synthetic

PACKAGE = Path(analysis.synthetic.__file__).parent


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8")) for p in PACKAGE.glob("*.py")}


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    return []


def test_no_analysis_import_is_hidden_in_a_function():
    for name, tree in _modules().items():
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    assert not any(m.startswith("analysis") for m in _imported(node)), (
                        name,
                        fn.name,
                    )


def test_imports_run_one_way_from_the_statements_to_the_commands():
    graph = {}
    for name, tree in _modules().items():
        mods = [m for node in tree.body for m in _imported(node)]
        graph[name] = {
            m.removeprefix("analysis.synthetic.")
            for m in mods
            if m.startswith("analysis.synthetic.")
        }
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError
    assert order.index("statements") < order.index("solve") < order.index("calibrate")
    assert order.index("calibrate") < order.index("generate") < order.index("reproduce")
