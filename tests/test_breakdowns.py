"""Breakdowns of category questions and the sample profile, by hand."""

import numpy as np
import pandas as pd
import pytest
from helpers.instruments import ANSWER_SETS

from analysis.engine.breakdowns import breakdown, category_questions
from analysis.engine.profile import MISSING, profile, profile_columns, sample_rows
from analysis.engine.scoring import judgement_matrix
from analysis.instrument import load_instrument

TINY = (
    """
id: tinyb
version: "0"
"""
    + ANSWER_SETS
    + """outcomes:
  - {id: O1, number: 1, name: One}
  - {id: O2, number: 2, name: Two}
criteria:
  - {id: "1.1", outcome: O1, stage: s, title: C11}
  - {id: "2.1", outcome: O2, stage: s, title: C21}
case_details:
  - {id: case_id, type: identifier, sensitive: true}
  - {id: trust, type: text, required: false}
  - {id: ldu, type: text}
  - {id: gender, type: category, codes: [Male, Female]}
  - {id: notes, type: free_text, required: false, sensitive: true}
questions:
  - {id: q1, text: Q1, criterion: "1.1"}
  - {id: rev, text: Review, criterion: "2.1", answers: review}
"""
)
NA = "Not applicable"


@pytest.fixture
def inst(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text(TINY)
    return load_instrument(p)


@pytest.fixture
def cases():
    return pd.DataFrame(
        {
            "case_id": ["c1", "c2", "c3", "c4", "c5"],
            "trust": "t",
            "ldu": ["South", "North", "South", None, "North"],
            "gender": ["Female", "Male", "Male", "Male", "Male"],
            "notes": ["secret"] * 5,
            "q1": ["Yes", NA, NA, NA, NA],
            "rev": ["Sufficient review", "No review", "Sufficient review", NA, None],
        }
    )


def test_category_questions(inst):
    assert category_questions(inst) == ["rev"]


def test_breakdown_by_hand(inst, cases):
    b = breakdown(cases, inst).set_index("category")
    # Relevant: c1-c3 (c4 not applicable, c5 blank). Sufficient 2, insufficient 0, none 1.
    assert list(b.index) == ["Sufficient review", "Insufficient review", "No review"]
    assert list(b["denominator"]) == [3, 3, 3]
    assert list(b["numerator"]) == [2, 0, 1]
    np.testing.assert_allclose(b["percent"], [200 / 3, 0, 100 / 3])
    # Wilson 0/3: upper = z^2/(3 + z^2) = 3.841459/6.841459 = .561497
    assert b.loc["Insufficient review", "ci_low"] == 0
    assert b.loc["Insufficient review", "ci_high"] == pytest.approx(56.1497, abs=1e-3)
    assert set(b["kind"]) == {"breakdown"} and set(b["measure_id"]) == {"rev"}


def test_profile(inst, cases):
    assert profile_columns(inst) == ["ldu", "gender"]
    p = profile(cases, inst)
    ldu = p[p["measure_id"] == "ldu"]
    # Free-text column sorted, blank last as MISSING; base is every case (5).
    assert list(ldu["category"]) == ["North", "South", MISSING]
    assert list(ldu["numerator"]) == [2, 2, 1]
    assert set(ldu["denominator"]) == {5}
    g = p[p["measure_id"] == "gender"]
    assert list(g["category"]) == ["Male", "Female"]  # declared order
    np.testing.assert_allclose(g["percent"], [80, 20])
    assert "secret" not in set(p["category"]) and "c1" not in set(p["category"])


def test_sample_rows(inst, cases):
    s = sample_rows(judgement_matrix(cases, inst), inst).set_index("measure_id")
    assert s.loc["n_cases", "numerator"] == 5
    # O1: only c1 has a relevant q1; O2: c1-c3 have a relevant review.
    assert s.loc["n_cases_O1", "numerator"] == 1
    assert s.loc["n_cases_O2", "numerator"] == 3


def test_profile_of_a_count_detail_in_numeric_order(tmp_path, cases):
    p = tmp_path / "c.yaml"
    p.write_text(
        TINY.replace("  - {id: notes,", "  - {id: n_oms, type: count, min: 1}\n  - {id: notes,")
    )
    inst = load_instrument(p)
    assert profile_columns(inst) == ["ldu", "gender", "n_oms"]
    cases = cases.assign(n_oms=pd.array([2, 10, 1, 2, None], dtype="Int64"))
    got = profile(cases, inst)
    n = got[got["measure_id"] == "n_oms"]
    # 1 once, 2 twice, 10 once ("10" after "2", unlike text order), one blank; base 5.
    assert list(n["category"]) == ["1", "2", "10", MISSING]
    assert list(n["numerator"]) == [1, 2, 1, 1]
    np.testing.assert_allclose(n["percent"], [20, 40, 20, 20])
