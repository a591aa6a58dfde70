"""Shared fixtures. Keep this small and generic: other test modules add their own."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Make tests/helpers importable as ``helpers`` whichever way pytest is started.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers.tiny import TINY_INSTRUMENT_YAML

from analysis.instrument import load_instrument  # noqa: E402


@pytest.fixture
def tiny_instrument_path(tmp_path: Path) -> Path:
    """The tiny instrument written to a YAML file."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_INSTRUMENT_YAML, encoding="utf-8")
    return path


@pytest.fixture
def tiny_instrument(tiny_instrument_path: Path):
    """The tiny instrument, loaded."""
    return load_instrument(tiny_instrument_path)


@pytest.fixture(scope="session")
def default_instrument():
    """The package's default instrument (which grows as it is completed)."""
    return load_instrument()


ANY_OF_QUESTION = """  - id: q_oversight
    text: "Was there effective oversight?"
    criterion: "2.2"
    applies_when:
      any_of:
        - {case_type: [Licence]}
        - {q_typed: ["Yes"]}
"""


@pytest.fixture
def any_of_instrument(tmp_path):
    """The tiny instrument plus q_oversight, which applies to licences OR sufficient typed
    reports (an any_of skip rule)."""
    path = tmp_path / "any.yaml"
    path.write_text(TINY_INSTRUMENT_YAML + ANY_OF_QUESTION, encoding="utf-8")
    return load_instrument(path)
