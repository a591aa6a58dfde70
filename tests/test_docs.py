"""The design document names only modules and names that exist."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from analysis import config

DESIGN = config.DOCS_DIR / "design.md"
#: ``analysis.engine.findings`` or ``analysis.engine.findings.conform``, in backticks or not.
DOTTED = re.compile(r"\banalysis(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
#: ``src/analysis/render/present.py`` style paths.
PATH = re.compile(r"src/analysis/[\w/.*-]+")


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` is a module, or a name reachable from the longest importable prefix."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _names(text: str) -> list[str]:
    return sorted({m.rstrip(".") for m in DOTTED.findall(text)})


def test_every_module_and_name_in_the_design_document_exists():
    text = DESIGN.read_text(encoding="utf-8")
    names = _names(text)
    assert len(names) > 20, "the design document should name the modules it describes"
    missing = [n for n in names if not _resolves(n)]
    assert not missing, f"docs/design.md names what does not exist: {missing}"


def test_every_path_in_the_design_document_exists():
    root = config.PROJ_ROOT
    text = DESIGN.read_text(encoding="utf-8")
    missing = [
        p
        for p in sorted(set(PATH.findall(text)))
        if not (list(root.glob(p.rstrip("/."))) if "*" in p else (root / p.rstrip(".")).exists())
    ]
    assert not missing, missing


def test_every_subpackage_is_described():
    text = DESIGN.read_text(encoding="utf-8")
    for pkg in sorted(p.parent.name for p in config.PACKAGE_DIR.glob("*/__init__.py")):
        assert f"analysis.{pkg}" in text, f"docs/design.md does not describe analysis.{pkg}"


@pytest.mark.parametrize(
    ("dotted", "ok"),
    [("analysis.config", True), ("analysis.config.PACKAGE_DIR", True), ("analysis.nope", False)],
)
def test_the_resolver_tells_real_names_from_missing_ones(dotted, ok):
    assert _resolves(dotted) is ok


def test_the_name_reader_finds_dotted_names():
    assert _names("see `analysis.engine.findings.conform()` and analysis.cli.") == [
        "analysis.cli",
        "analysis.engine.findings.conform",
    ]


def test_paths_are_read_relative_to_the_repository():
    assert PATH.findall("in `src/analysis/render/assets/`.") == ["src/analysis/render/assets/"]
    assert Path(config.PROJ_ROOT / "src/analysis").is_dir()
