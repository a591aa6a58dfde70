"""The whole calibration on a tiny instrument: exact counts land on cases."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.synthetic import tiny_instrument
from test_synth import tiny_profile

from analysis.synthetic.calibrate import calibrated_answers, load_statements
from analysis.synthetic.generate import case_details, latent_quality
from analysis.synthetic.profile import load_profile
from analysis.synthetic.statements import Statement

S = Statement


@pytest.fixture
def inst(tmp_path):
    return tiny_instrument(tmp_path)


def test_exact_assignment_on_tiny_instrument(inst):
    """Targets are met exactly, skip rules hold and group splits land on the cases."""
    prof = load_profile(
        tiny_profile(
            40,
            ldus={"North": 20, "South": 20},
            mixes={
                "om_grade": {"PO": 24, "PSO": 16},
                "case_type": {"Community order": 28, "Licence": 12},
                "report_type": {"Typed": 15, "Oral": 10, "None": 15},
            },
            targets={
                "q_report": {"numerator": 12, "denominator": 15},
                "q_victim": {"numerator": 7, "denominator": 10},
                "f_drugs_identified": {"numerator": 18, "denominator": 40},
                "f_drugs_interventions": [
                    {"numerator": 9, "denominator": 18},
                    {"group_var": "om_grade", "group": "PO", "numerator": 7, "denominator": 10},
                ],
                "q_review": {"kind": "breakdown", "category": "No review", "numerator": 8},
            },
        )
    )
    rng = np.random.default_rng(1)
    det = case_details(prof, inst, rng)
    qual = latent_quality(prof, det, rng)
    cases, cal = calibrated_answers(prof, inst, det, qual, rng)
    assert not cal.inconsistencies
    yes = cases.q_report.eq("Yes")
    assert (yes.sum(), cases.q_report.ne("Not applicable").sum()) == (12, 15)
    assert (cases.loc[cases.report_type != "Typed", "q_report"] == "Not applicable").all()
    assert cases.q_victim.eq("Yes").sum() == 7
    assert (cases.loc[cases.case_type != "Licence", "q_victim"] == "Not applicable").all()
    assert cases.f_drugs_identified.eq("Yes").sum() == 18
    iv = cases.f_drugs_interventions
    assert (iv[cases.f_drugs_identified != "Yes"] == "Not applicable").all()
    assert iv.eq("Yes").sum() == 9 and iv.ne("Not applicable").sum() == 18
    po = cases.om_grade == "PO"
    assert (iv[po].eq("Yes").sum(), iv[po].ne("Not applicable").sum()) == (7, 10)
    assert cases.q_review.eq("No review").sum() == 8
    # Higher latent quality gets the good answers: above-the-line cases score higher.
    rel = iv.ne("Not applicable")
    assert qual[(iv == "Yes").to_numpy()].mean() > qual[(rel & (iv == "No")).to_numpy()].mean()


def test_load_statements_reads_the_published_file_then_the_targets(tmp_path):
    pub = tmp_path / "pub.yaml"
    pub.write_text("figures:\n  - {id: a, measure: q_checks, percent: 41}\n", encoding="utf-8")
    prof = {"calibrate_to": str(pub), "targets": {"q_report": [12, 15]}}
    assert [s.fid for s in load_statements(prof)] == ["a", "target:q_report"]
    assert load_statements({}) == []


def test_unknown_quantifier_is_reported_and_ignored(inst):
    prof = load_profile(tiny_profile(20))
    rng = np.random.default_rng(2)
    det = case_details(prof, inst, rng)
    qual = latent_quality(prof, det, rng)
    statements = [S("v", "question", "q_checks", verbal="umpteen")]
    cases, cal = calibrated_answers(prof, inst, det, qual, rng, statements=statements)
    assert "v: unknown quantifier 'umpteen', not used" in cal.warnings
    assert cal.statements[0].verbal is None and not cal.inconsistencies
    assert len(cases) == 20


def _calibrate(inst, statements, n=200, seed=3):
    prof = load_profile(tiny_profile(n))
    rng = np.random.default_rng(seed)
    det = case_details(prof, inst, rng)
    qual = latent_quality(prof, det, rng)
    cases, cal = calibrated_answers(prof, inst, det, qual, rng, statements=list(statements))
    return cases, cal


def _share(cases, qid, na="Not applicable"):
    rel = cases[qid].ne(na)
    return cases.loc[rel, qid].eq("Yes").sum() / rel.sum()


def test_a_verbal_figure_lands_anywhere_in_its_band_by_seed(inst):
    """'most' is 75%-90%: each seed aims at its own point of it, the same one every time."""
    most = [S("v", "question", "q_checks", verbal="most")]
    shares = [_share(_calibrate(inst, most, seed=s)[0], "q_checks") for s in range(6)]
    assert all(0.75 <= x <= 0.90 for x in shares)
    # The profile's own rate (0.7) would put every seed at the band's foot, 75%.
    assert len(set(shares)) > 1
    assert _share(_calibrate(inst, most, seed=2)[0], "q_checks") == shares[2]


def test_a_contrast_bounds_the_question_without_a_band(inst):
    """'the majority' (above half) is higher than q_checks: q_checks stays at or below half."""
    statements = [
        S("maj", "question", "q_report", verbal="the majority"),
        S("c", "contrast", "q_checks", verbal="less good at", higher="q_report", lower="q_checks"),
    ]
    cases, cal = _calibrate(inst, statements)
    assert not cal.inconsistencies
    assert _share(cases, "q_checks") < 0.5 < _share(cases, "q_report")


def test_a_contrast_between_two_free_questions_splits_at_their_rates(inst):
    # Both questions have the profile's default rate 0.7: q_checks above it, q_victim below.
    statements = [
        S("c", "contrast", "q_victim", verbal="less good at", higher="q_checks", lower="q_victim")
    ]
    cases, cal = _calibrate(inst, statements)
    assert _share(cases, "q_checks") > 0.7 > _share(cases, "q_victim")


def test_a_contrast_needs_two_questions(inst):
    statements = [S("c", "contrast", "q_checks", higher="q_checks", lower="no_such_question")]
    _, cal = _calibrate(inst, statements, n=20)
    assert "c: a contrast needs two question ids" in cal.warnings
