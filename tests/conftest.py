"""Shared fixtures. Keep this small and generic: other test modules add their own."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Make tests/helpers importable as ``helpers`` whichever way pytest is started.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers.instruments import ANSWER_SETS

from analysis.instrument import load_instrument  # noqa: E402

#: A hand-written instrument small enough to predict every output exactly.
TINY_INSTRUMENT_YAML = (
    """\
id: tiny
version: "0.1.0"
title: Tiny test instrument
source: tests/conftest.py
"""
    + ANSWER_SETS
    + """outcomes:
  - {id: O1, number: 1, name: Assisting sentencing, short: Sentencing}
  - {id: O2, number: 2, name: Protecting the public, short: Public}
stages:
  - {id: assessment, number: 1, name: Assessment}
  - {id: delivery, number: 2, name: Delivery}
criteria:
  - {id: "1.1", outcome: O1, stage: assessment, title: Assessment to inform sentencing}
  - {id: "2.1", outcome: O2, stage: assessment, title: Assessment of risk}
  - {id: "2.2", outcome: O2, stage: delivery, title: Delivery of risk work}
case_details:
  - {id: case_id, label: Case identifier, type: identifier, sensitive: true}
  - {id: trust, label: Organisation, type: text, required: false}
  - {id: case_type, label: Type of case, type: category, codes: [Community order, Licence]}
  - {id: n_oms, label: Number of offender managers, type: count, min: 1, max: 5}
  - {id: report_type, label: Report for court, type: category, codes: [Typed, Oral, None]}
  - {id: notes, label: Notes, type: free_text, required: false, sensitive: true}
factor_items:
  identified:
    id: "f_{id}_identified"
    text: "Was {label} identified?"
    criterion: "2.1"
    scored: false
  progress:
    id: "f_{id}_progress"
    text: "Was progress made on {label}?"
    criterion: "2.2"
    applies_when: {"f_{id}_identified": ["Yes"]}
factors:
  - {id: alcohol, label: alcohol misuse}
questions:
  - id: q_typed
    text: "Was the typed report sufficient?"
    criterion: "1.1"
    applies_when: {report_type: [Typed]}
  - id: q_review
    text: "Was there a sufficient review of risk?"
    criterion: "2.2"
    answers: review
    outcomes: [O1, O2]
  - id: q_contacts
    text: "How many contacts were missed?"
    criterion: "2.2"
    answers: count
    scored: false
    max: 50
"""
)


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
