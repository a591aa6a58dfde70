"""The engine's public face: a lazy table of names, each loaded from its module on first use."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import analysis.engine as engine


def test_every_listed_name_resolves_to_its_module_attribute():
    for name, module in engine._EXPORTS.items():
        defined = getattr(importlib.import_module(f"analysis.engine.{module}"), name)
        assert getattr(engine, name) is defined, name
    assert engine.__all__ == list(engine._EXPORTS)
    assert set(engine.__all__) <= set(dir(engine))


def test_the_table_is_sorted_and_shadows_no_module():
    assert list(engine._EXPORTS) == sorted(engine._EXPORTS)
    modules = {m.name for m in pkgutil.iter_modules(engine.__path__)}
    assert set(engine._EXPORTS.values()) <= modules
    # A name that is also a module's name would become the module once it is imported.
    assert not set(engine._EXPORTS) & modules


def test_an_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        _ = engine.no_such_name
    with pytest.raises(ImportError):
        from analysis.engine import no_such_name  # noqa: F401


def test_names_load_only_their_own_module():
    """In a fresh interpreter: the package alone loads nothing; `band` loads only wording."""
    code = (
        "import sys, analysis.engine\n"
        "loaded = lambda: sorted(m for m in sys.modules if m.startswith('analysis.engine.'))\n"
        "print(loaded())\n"
        "from analysis.engine import band, quantifier\n"
        "print(loaded(), 'scipy' in sys.modules)\n"
    )
    src = str(Path(engine.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.splitlines() == ["[]", "['analysis.engine.wording'] False"]
