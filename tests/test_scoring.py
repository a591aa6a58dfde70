"""Scoring on a tiny hand-made instrument and case set; expected values worked by hand."""

import numpy as np
import pandas as pd
import pytest
from helpers.instruments import ANSWER_SETS

from analysis.engine.scoring import (
    judgement_matrix,
    question_frame,
    score_frame,
    score_rows,
)
from analysis.errors import UserError
from analysis.instrument import load_instrument

TINY = (
    """
id: tiny
version: "0"
"""
    + ANSWER_SETS
    + """outcomes:
  - {id: O1, number: 1, name: One}
  - {id: O2, number: 2, name: Two}
stages:
  - {id: a, number: 1, name: A}
criteria:
  - {id: "1.1", outcome: O1, stage: a, title: C11}
  - {id: "2.1", outcome: O2, stage: a, title: C21}
  - {id: "2.2", outcome: O2, stage: a, title: C22}
case_details:
  - {id: case_id, type: identifier, sensitive: true}
  - {id: trust, type: text, required: false}
  - {id: om_grade, type: category, codes: [PO, PSO]}
questions:
  - {id: a1, text: A1, criterion: "1.1"}
  - {id: a2, text: A2, criterion: "1.1", outcomes: [O1, O2]}
  - {id: b1, text: B1, criterion: "2.1"}
  - {id: b4, text: B4, criterion: "2.1"}
  - {id: b2, text: B2, criterion: "2.2", answers: review}
  - {id: b3, text: B3, criterion: "2.2"}
  - {id: u1, text: U1, criterion: "2.2", scored: false}
"""
)

NA = "Not applicable"


@pytest.fixture
def inst(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return load_instrument(p)


@pytest.fixture
def cases():
    return pd.DataFrame(
        {
            "case_id": ["c1", "c2", "c3", "c4"],
            "om_grade": ["PO", "PO", "PSO", "PSO"],
            "a1": ["Yes", "Yes", "No", "Yes"],
            "a2": ["Yes", "No", NA, "Yes"],
            "b1": ["Yes", "No", "Yes", NA],
            "b4": ["No", "No", "No", "No"],
            "b2": ["Sufficient review", "No review", "Insufficient review", "Sufficient review"],
            "b3": [NA, NA, NA, None],
            "u1": ["Yes", "Yes", "Yes", "Yes"],
        }
    )


# Question proportions (NA and blank excluded):
#   a1 3/4, a2 2/3, b1 2/3, b4 0/4, b2 2/4 (sufficient only), b3 none relevant (drops out).


def test_matrix_codes(inst, cases):
    j = judgement_matrix(cases, inst)
    assert j.matrix.dtype == np.int8
    assert j.questions == ["a1", "a2", "b1", "b4", "b2", "b3", "u1"]
    np.testing.assert_array_equal(j.matrix[:, j.index["a2"]], [1, 0, -1, 1])
    np.testing.assert_array_equal(j.matrix[:, j.index["b2"]], [1, 0, 0, 1])
    np.testing.assert_array_equal(j.matrix[:, j.index["b3"]], [-1, -1, -1, -1])


def test_matrix_from_categorical_columns(inst, cases):
    cat = cases.astype("category")
    np.testing.assert_array_equal(
        judgement_matrix(cat, inst).matrix, judgement_matrix(cases, inst).matrix
    )


def test_missing_column_is_user_error(inst, cases):
    with pytest.raises(UserError, match="b4"):
        judgement_matrix(cases.drop(columns="b4"), inst)


def test_question_rows(inst, cases):
    q = question_frame(judgement_matrix(cases, inst), inst).set_index("measure_id")
    assert q.loc["a1", "numerator"] == 3 and q.loc["a1", "denominator"] == 4
    assert q.loc["a1", "percent"] == pytest.approx(75.0)
    # Wilson 3/4 by hand (see test_stats): 30.064 to 95.441
    assert q.loc["a1", "ci_low"] == pytest.approx(30.064, abs=2e-3)
    assert q.loc["a1", "ci_high"] == pytest.approx(95.441, abs=2e-3)
    assert q.loc["b2", "percent"] == pytest.approx(50.0)
    assert q.loc["b3", "denominator"] == 0 and np.isnan(q.loc["b3", "percent"])
    assert q.loc["b2", "outcome"] == "O2" and q.loc["b2", "criterion"] == "2.2"


def test_scores_question_mean(inst, cases):
    s = score_rows(score_frame(judgement_matrix(cases, inst), inst)).set_index("measure_id")
    # O1: a1 and a2 -> (3/4 + 2/3) / 2 = 17/24 = 70.833%
    assert s.loc["score_O1", "percent"] == pytest.approx(100 * 17 / 24)
    # O2: a2 (also counts to O2), b1, b4, b2; b3 drops out; u1 is not scored:
    #     (2/3 + 2/3 + 0 + 1/2) / 4 = 11/24 = 45.833%
    assert s.loc["score_O2", "percent"] == pytest.approx(100 * 11 / 24)
    # Pooled judgements: O1 (3 + 2) / (4 + 3); O2 (2 + 2 + 0 + 2) / (3 + 3 + 4 + 4)
    assert (s.loc["score_O1", "numerator"], s.loc["score_O1", "denominator"]) == (5, 7)
    assert (s.loc["score_O2", "numerator"], s.loc["score_O2", "denominator"]) == (6, 14)
    # Criteria: 1.1 = 17/24, 2.1 = (2/3 + 0)/2 = 1/3, 2.2 = 1/2 (b3 drops out)
    assert s.loc["score_1.1", "percent"] == pytest.approx(100 * 17 / 24)
    assert s.loc["score_2.1", "percent"] == pytest.approx(100 / 3)
    assert s.loc["score_2.2", "percent"] == pytest.approx(50.0)
    assert s.loc["score_2.1", "outcome"] == "O2" and s.loc["score_2.1", "criterion"] == "2.1"
    assert list(s.index[:2]) == ["score_O1", "score_O2"]


def test_scores_criterion_mean(inst, cases):
    s = score_rows(score_frame(judgement_matrix(cases, inst), inst, "criterion_mean")).set_index(
        "measure_id"
    )
    # O2 by criterion: {a2} in 1.1 = 2/3, {b1, b4} in 2.1 = 1/3, {b2} in 2.2 = 1/2
    #   -> (2/3 + 1/3 + 1/2) / 3 = 1/2, where question_mean gave 11/24.
    assert s.loc["score_O2", "percent"] == pytest.approx(50.0)
    assert s.loc["score_O1", "percent"] == pytest.approx(100 * 17 / 24)


def test_unknown_outcome_method(inst, cases):
    with pytest.raises(UserError):
        score_frame(judgement_matrix(cases, inst), inst, "median")


def test_score_interval_by_hand(inst, cases):
    s = score_rows(score_frame(judgement_matrix(cases, inst), inst)).set_index("measure_id")
    # O1 = 1/2 * a1/4-ratio + 1/2 * a2-ratio. Influence z_i = sum_j w_j (y_ij - p_j d_ij) / r_j:
    #   c1: 1/2*(1-3/4)/4 + 1/2*(1-2/3)/3 =  1/32 + 1/18 =  25/288
    #   c2: 1/32 + 1/2*(0-2/3)/3          =  1/32 - 1/9  = -23/288
    #   c3: 1/2*(0-3/4)/4 + 0             = -3/32        = -27/288
    #   c4: as c1                                         =  25/288
    # sum z^2 = (625 + 529 + 729 + 625) / 288^2 = 2508 / 82944 = .0302373
    # Var = 4/3 * .0302373 = .0403164, SE = .200789; 1.959964 * SE = .393540
    # CI = .708333 -/+ .393540 = .314793 to 1.101873 -> clipped to 1.
    assert s.loc["score_O1", "ci_low"] == pytest.approx(31.4793, abs=1e-3)
    assert s.loc["score_O1", "ci_high"] == pytest.approx(100.0)


def test_all_na_case_does_not_change_interval(inst, cases):
    extra = pd.DataFrame([{c: NA for c in cases.columns} | {"case_id": "c5", "om_grade": "PO"}])
    more = pd.concat([cases, extra], ignore_index=True)
    a = score_frame(judgement_matrix(cases, inst), inst)
    b = score_frame(judgement_matrix(more, inst), inst)
    pd.testing.assert_frame_equal(a, b)


def test_question_with_no_relevant_case_everywhere(inst, cases):
    cases = cases.assign(a1=NA, a2=NA)
    s = score_rows(score_frame(judgement_matrix(cases, inst), inst)).set_index("measure_id")
    assert np.isnan(s.loc["score_O1", "percent"])
    assert np.isnan(s.loc["score_O1", "ci_low"])
    assert s.loc["score_O1", "denominator"] == 0
