"""Answer assignment: exact counts and group splits placed on hand-made cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.synthetic import tiny_instrument

from analysis.synthetic.assign import applies_mask, assign_question, meet_gate_needs
from analysis.synthetic.solve import Solution


@pytest.fixture
def inst(tmp_path):
    return tiny_instrument(tmp_path)


def test_applies_mask_reads_frames_and_plain_arrays(inst):
    q = inst.questions["q_report"]  # applies to typed reports only
    data = {"report_type": np.array(["Typed", "Oral", "Typed", "None"], dtype=object)}
    assert applies_mask(data, q).tolist() == [True, False, True, False]
    assert applies_mask(pd.DataFrame(data), q).tolist() == [True, False, True, False]


def test_assign_question_hits_counts_and_group_splits(inst):
    """8 cases, 6 relevant and 4 'Yes'; PO 3 of 4 and PSO 1 of 2."""
    cases = pd.DataFrame({"om_grade": ["PO"] * 4 + ["PSO"] * 4})
    sol = Solution(
        {"Yes": 4, "No": 2}, above=4, relevant=6, groups={"om_grade": {"PO": (4, 3), "PSO": (2, 1)}}
    )
    quality = np.linspace(1, -1, 8)
    col = assign_question(cases, inst, "q_checks", sol, quality, np.random.default_rng(0))
    po = cases.om_grade.eq("PO")
    assert (col.ne("Not applicable").sum(), col.eq("Yes").sum(), col.eq("No").sum()) == (6, 4, 2)
    assert (col[po].ne("Not applicable").sum(), col[po].eq("Yes").sum()) == (4, 3)
    assert (col[~po].ne("Not applicable").sum(), col[~po].eq("Yes").sum()) == (2, 1)


def test_assign_question_stays_inside_the_skip_rule(inst):
    cases = pd.DataFrame({"report_type": ["Typed", "Oral", "Typed", "None", "Typed"]})
    sol = Solution({"Yes": 2, "No": 1}, above=2, relevant=3)
    col = assign_question(cases, inst, "q_report", sol, np.zeros(5), np.random.default_rng(1))
    assert col.tolist()[1] == col.tolist()[3] == "Not applicable"
    assert sorted(col[cases.report_type.eq("Typed")]) == ["No", "Yes", "Yes"]
    with pytest.raises(ValueError, match="4 relevant cases wanted, skip rules allow 3"):
        sol = Solution({"Yes": 4}, 4, 4)
        assign_question(cases, inst, "q_report", sol, np.zeros(5), np.random.default_rng(1))


def test_meet_gate_needs_swaps_the_gate_answers_between_groups(inst):
    """Women need 2 open cases and men 1: the first man's 'Yes' moves to the woman without."""
    cases = pd.DataFrame({"gender": ["M", "M", "M", "F", "F"]})
    col = pd.Series(["Yes", "Yes", "No", "Yes", "No"], name="f_drugs_identified")
    gate = inst.questions["f_drugs_identified"]  # 'Yes' opens f_drugs_interventions
    sol = Solution({"Yes": 3, "No": 2}, above=3, relevant=5)
    needs = {"gender": {"F": 2, "M": 1}}
    got = meet_gate_needs(col, cases, np.ones(5, bool), inst.questions, gate, needs, sol)
    assert got.tolist() == ["No", "Yes", "No", "Yes", "Yes"]
