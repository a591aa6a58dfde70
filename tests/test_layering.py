"""The package's architecture, checked: phases, their allowed imports, module size, no cycles.

Imports are read from the source with ``ast`` (nothing is imported), including those inside
functions: an import deferred to keep start-up fast still counts as a dependency.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from analysis import config

PACKAGE = config.PACKAGE_DIR
PHASES = ("instrument", "ingest", "engine", "render", "pipeline", "synthetic")
#: Shared infrastructure any phase may use.
COMMON = {"analysis", "analysis.config", "analysis.errors", "analysis.fileio", "analysis.locks"}
MAX_LINES = 700

#: phase -> phases it must never import.
FORBIDDEN = {
    "instrument": {"ingest", "engine", "render", "pipeline", "synthetic"},
    "ingest": {"engine", "render", "pipeline", "synthetic"},
    "engine": {"render", "pipeline", "synthetic", "ingest"},
    "render": {"pipeline", "synthetic", "ingest"},
    "synthetic": {"render", "pipeline"},
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, name: str) -> set[str]:
    """Every ``analysis...`` module or name that ``path`` imports, absolute and resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("analysis")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("analysis"):
                continue
            out.add(mod)
            # ``from analysis.render import charts`` imports the submodule analysis.render.charts
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        for imp in _imports(path, name):
            # keep only real modules (a name imported from a module resolves to that module)
            while imp and imp not in mods:
                imp = imp.rpartition(".")[0]
            if imp and imp != name:
                graph[name].add(imp)
    return graph


def _phase(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in PHASES else None


def test_every_phase_is_a_package():
    for phase in PHASES:
        assert (PACKAGE / phase / "__init__.py").is_file(), phase


def test_no_module_is_over_the_size_limit():
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_only_shared_infrastructure_lives_at_the_top():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == {"__init__", "__main__", "cli", "config", "errors", "fileio", "locks"}


@pytest.mark.parametrize("phase", sorted(FORBIDDEN))
def test_phase_imports_respect_the_layers(phase):
    bad = [
        f"{mod} imports {imp}"
        for mod, imps in _graph().items()
        if _phase(mod) == phase
        for imp in imps
        if _phase(imp) in FORBIDDEN[phase]
    ]
    assert not bad, "\n".join(bad)


def test_synthetic_uses_the_engine_only_through_its_public_face():
    bad = [
        f"{mod} imports {imp}"
        for mod, imps in _graph().items()
        if _phase(mod) == "synthetic"
        for imp in imps
        if _phase(imp) == "engine" and imp != "analysis.engine"
    ]
    assert not bad, "\n".join(bad)


def test_there_is_no_import_cycle():
    graph = _graph()
    # a package's __init__ importing its own submodules is how a public face is made; the
    # submodules importing the package back is the cycle to catch, so packages count as nodes.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):
                continue  # a package re-exporting its own submodule
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_imports_inside_functions(tmp_path):
    # the cycle test is only as good as the import reader: it must see deferred imports
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from analysis.engine import scoring\n    return scoring\n")
    assert "analysis.engine.scoring" in _imports(src, "analysis.render.m")
