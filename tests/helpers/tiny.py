"""The tiny hand-written instrument most tests use (its fixtures are in tests/conftest.py).

Here rather than in conftest.py so that a test module can import it by a name no other
file shares (the repository's root conftest.py is a ``conftest`` too).
"""

from helpers.instruments import ANSWER_SETS

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
