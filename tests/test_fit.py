"""Outcome fitting: one candidate per question so that each score rounds as published."""

from __future__ import annotations

import pytest
from helpers.synthetic import spec, tiny_instrument

from analysis.synthetic.fit import fit_outcomes, free_rates, outcome_score
from analysis.synthetic.solve import Solution, free_candidates
from analysis.synthetic.statements import round_half_up


@pytest.fixture
def inst(tmp_path):
    return tiny_instrument(tmp_path)


def test_fit_outcomes_hits_rounded_score(inst):
    cands = {
        "q_report": [Solution({"Yes": 9, "No": 1}, 9, 10)],  # pinned at 90%
        "q_checks": free_candidates(inst, inst.questions["q_checks"], spec(prefer=20)),
    }
    choice, scores = fit_outcomes(inst, cands, {"O1": 70.0})
    assert round_half_up(scores["O1"]) == 70
    assert abs(scores["O1"] - 70) <= 0.3
    checks = cands["q_checks"][choice["q_checks"]]
    assert (checks.above, checks.relevant) == (10, 20)  # (90 + 50) / 2 = 70


def test_outcome_score_is_the_mean_of_question_percentages(inst):
    """O1 over q_report 9/10 (90%) and q_checks 10/20 (50%); q_victim has no case."""
    chosen = {"q_report": (9, 10), "q_checks": (10, 20), "q_victim": (0, 0)}
    assert outcome_score(inst, "O1", chosen) == pytest.approx(70.0)
    assert outcome_score(inst, "O2", {"q_report": (9, 10)}) is None


def test_free_rates_make_up_the_difference(inst):
    """O1 = 70 with q_report pinned at 90%: the free q_checks needs (2 * 70 - 90) = 50%."""
    cands = {
        "q_report": [Solution({"Yes": 9, "No": 1}, 9, 10)],
        "q_checks": free_candidates(inst, inst.questions["q_checks"], spec(prefer=20)),
    }
    assert free_rates(inst, cands, ["q_checks"], {"O1": 70.0}) == pytest.approx({"O1": 0.5})
