"""The calibration solver on small hand-made constraint sets with hand-worked answers."""

from __future__ import annotations

import numpy as np
import pytest
from test_synth import TINY_INSTRUMENT, tiny_profile

from analysis.instrument import load_instrument
from analysis.synthetic import calibrate as C
from analysis.synthetic import generate as synth

S = C.Statement


@pytest.fixture
def inst(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_INSTRUMENT, encoding="utf-8")
    return load_instrument(path)


def spec(qid="q_checks", pool=60, prefer=45, rate=0.6, **kw):
    return C.QuestionSpec(qid, pool=pool, prefer_relevant=prefer, prefer_rate=rate, **kw)


def test_round_half_up_and_percent_rules():
    assert C.round_half_up(62.5) == 63  # 20/32: the report prints 63%
    assert C.round_half_up(64.4999) == 64
    assert S("a", "question", "q", percent=63).accepts(20, 32)
    # Banker's rounding (62.5 -> 62) only where the source notes it.
    assert not S("a", "question", "q", percent=62).accepts(20, 32)
    assert S("a", "question", "q", percent=62, note="banker's rounding").accepts(20, 32)


def test_verbal_bands():
    assert C.verbal_ok("just under two-thirds", 27, 42)  # 64.3%
    assert not C.verbal_ok("almost three-quarters", 27, 42)
    assert C.verbal_ok("almost all", 13, 14) and not C.verbal_ok("almost all", 14, 14)
    assert C.verbal_ok("all but one", 19, 20)
    assert C.verbal_ok("great majority", 8, 9)  # written without "the" in the report
    assert C.verbal_ok("more than one-third", 7, 20) and not C.verbal_ok(
        "more than one-third", 1, 3
    )


def test_count_and_verbal_agree(inst):
    """'27 of 42' and 'just under two-thirds': 27/42 = 64.3% lies in [60, 64.67)."""
    sols, incs = C.solve_question(
        inst,
        spec(),
        [
            S("a", "question", "q_checks", numerator=27, denominator=42),
            S("b", "question", "q_checks", verbal="just under two-thirds"),
        ],
    )
    assert not incs
    assert [(s.above, s.relevant) for s in sols] == [(27, 42)]


def test_percent_and_count_agree(inst):
    """'41%' and '22 of 54': 22/54 = 40.7% rounds to 41."""
    sols, incs = C.solve_question(
        inst,
        spec(),
        [
            S("a", "question", "q_checks", numerator=22, denominator=54),
            S("b", "question", "q_checks", percent=41),
        ],
    )
    assert not incs and (sols[0].above, sols[0].relevant) == (22, 54)


def test_percent_with_base_solves_numerator(inst):
    """63% of 32: only 20/32 = 62.5% rounds (half up) to 63."""
    sols, _ = C.solve_question(
        inst, spec(), [S("a", "question", "q_checks", denominator=32, percent=63)]
    )
    assert {(s.above, s.relevant) for s in sols} == {(20, 32)}


def test_contradiction_is_reported_and_the_count_kept(inst):
    """27/42 = 64.3% cannot be 'almost three-quarters' [71%, 73%): the verbal one goes."""
    sols, incs = C.solve_question(
        inst,
        spec(),
        [
            S("count", "question", "q_checks", numerator=27, denominator=42),
            S("verbal", "question", "q_checks", verbal="almost three-quarters"),
        ],
    )
    assert (sols[0].above, sols[0].relevant) == (27, 42)
    assert len(incs) == 1
    rec = incs[0].as_dict()
    assert rec["dropped"] == ["verbal"] and set(rec["figure_ids"]) == {"count", "verbal"}
    assert "64.3%" in rec["reason"]


def test_percent_beats_verbal(inst):
    """'35%' of 20 needs 7/20; 'most' needs 77-80%: the percent is kept."""
    sols, incs = C.solve_question(
        inst,
        spec(),
        [
            S("p", "question", "q_checks", denominator=20, percent=35),
            S("v", "question", "q_checks", verbal="most"),
        ],
    )
    assert (sols[0].above, sols[0].relevant) == (7, 20)
    assert incs[0].dropped == ["v"]


def test_group_split_sums_to_overall(inst):
    """30 of 45 overall, PO 81%, PSO 47%: e.g. PO 21/26 + PSO 9/19 (hand-worked)."""
    sp = spec(pool=73, group_pools={"om_grade": {"PO": 40, "PSO": 33}})
    sols, incs = C.solve_question(
        inst,
        sp,
        [
            S("o", "question", "q_checks", numerator=30, denominator=45),
            S("po", "comparison", "q_checks", percent=81, group_var="om_grade", group="PO"),
            S("pso", "comparison", "q_checks", percent=47, group_var="om_grade", group="PSO"),
        ],
    )
    assert not incs
    split = sols[0].groups["om_grade"]
    (n_po, a_po), (n_pso, a_pso) = split["PO"], split["PSO"]
    assert (n_po + n_pso, a_po + a_pso) == (45, 30)
    assert C.round_half_up(100 * a_po / n_po) == 81 and C.round_half_up(100 * a_pso / n_pso) == 47


def test_split_that_cannot_sum_is_proven_inconsistent(inst):
    """27/42 with PSO 35% (6/17, 7/20, ...) leaves PO at 21/25 = 84%, never 83%."""
    sp = spec(pool=42, prefer=42, group_pools={"om_grade": {"PO": 25, "PSO": 17}})
    sols, incs = C.solve_question(
        inst,
        sp,
        [
            S("o", "question", "q_checks", numerator=27, denominator=42),
            S("po", "comparison", "q_checks", percent=83, group_var="om_grade", group="PO"),
            S("pso", "comparison", "q_checks", percent=35, group_var="om_grade", group="PSO"),
        ],
    )
    assert sols and (sols[0].above, sols[0].relevant) == (27, 42)
    assert len(incs) == 1
    assert "21/25 = 84.0%" in incs[0].reason


def test_direction_against_the_rest(inst):
    sp = spec(pool=37, prefer=18, rate=0.5, group_pools={"ldu": {"N": 15, "S": 12, "W": 10}})
    sols, incs = C.solve_question(
        inst,
        sp,
        [
            S("o", "question", "q_checks", numerator=9, denominator=18),
            S("d", "direction", "q_checks", group_var="ldu", higher="N", lower="rest"),
        ],
    )
    assert not incs
    g = sols[0].groups["ldu"]
    rest = (sum(g[k][1] for k in "SW"), sum(g[k][0] for k in "SW"))
    assert g["N"][1] / g["N"][0] > rest[0] / rest[1]


def test_breakdown_of_below_categories(inst):
    """35% 'No review' and 'one-quarter' of the reviews undertaken insufficient."""
    sols, incs = C.solve_question(
        inst,
        spec("q_review", pool=40, prefer=40, rate=0.5),
        [
            S("n", "breakdown", "q_review", percent=35, category="No review"),
            S(
                "i",
                "breakdown",
                "q_review",
                verbal="one-quarter",
                category="Insufficient review",
                among=["Sufficient review", "Insufficient review"],
            ),
        ],
    )
    assert not incs
    c = sols[0].counts
    total = sum(c.values())
    assert C.round_half_up(100 * c["No review"] / total) == 35
    assert C.verbal_ok(
        "one-quarter", c["Insufficient review"], c["Insufficient review"] + c["Sufficient review"]
    )


def test_fit_outcomes_hits_rounded_score(inst):
    cands = {
        "q_report": [C.Solution({"Yes": 9, "No": 1}, 9, 10)],  # pinned at 90%
        "q_checks": C._free_candidates(inst, inst.questions["q_checks"], spec(prefer=20)),
    }
    choice, scores = C.fit_outcomes(inst, cands, {"O1": 70.0})
    assert C.round_half_up(scores["O1"]) == 70
    assert abs(scores["O1"] - 70) <= 0.3
    checks = cands["q_checks"][choice["q_checks"]]
    assert (checks.above, checks.relevant) == (10, 20)  # (90 + 50) / 2 = 70


def test_exact_assignment_on_tiny_instrument(inst):
    """Targets are met exactly, skip rules hold and group splits land on the cases."""
    prof = synth.load_profile(
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
    det = synth.case_details(prof, inst, rng)
    qual = synth.latent_quality(prof, det, rng)
    cases, cal = C.calibrated_answers(prof, inst, det, qual, rng)
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
