"""The reference report's inconsistencies, proved by brute force over every integer split.

Each proof enumerates every count the report's stated figures allow and shows that none
meets the figure the calibration drops (docs/instrument-coverage.md, "Inconsistencies").
The bands are written out by hand from their sources and checked against the code's once.
"""

from __future__ import annotations

import math

import pytest

from analysis.engine import band
from analysis.instrument import load_instrument
from analysis.synthetic.profile import load_profile, published_path
from analysis.synthetic.solve import QuestionSpec, solve_question
from analysis.synthetic.statements import Statement, proven_inconsistent, verbal_ok

S = Statement
#: "almost all": Education Scotland's "over 90%", widened to 8/9 (O5 key strength 1).
ALMOST_ALL_FROM = 8 / 9
#: "most": Education Scotland's "75% to 90%".
MOST = (0.75, 0.90)
#: "almost three-quarters": from the midpoint of 2/3 and 3/4 (17/24) to 3/4 - 2 points.
ALMOST_THREE_QUARTERS = (17 / 24, 0.73)


def rounds_to(a: int, n: int, percent: int) -> bool:
    """Whether a/n prints as ``percent`` (halves up, as the report rounds)."""
    return n > 0 and math.floor(100 * a / n + 0.5 + 1e-9) == percent


def test_hand_written_bands_are_the_codes():
    assert band("almost all") == pytest.approx((ALMOST_ALL_FROM, 1.0))
    assert band("most") == pytest.approx(MOST)
    assert band("almost three-quarters") == pytest.approx(ALMOST_THREE_QUARTERS)


# -- 1. RoSH classifications: "almost all" correct (Summary O4) vs O4 1.3 -------------------


def test_rosh_classifications_cannot_be_almost_all_correct():
    # O4 1.3: 7 incorrect (too low + too high), 6 of them too low, 6 not recorded. Every
    # answer count the 73 cases allow: correct, too low, too high, not recorded.
    shares = []
    for too_high in range(74):
        for correct in range(74):
            too_low, not_recorded = 6, 6
            base = correct + too_low + too_high + not_recorded
            if too_low + too_high == 7 and base <= 73:
                shares.append((correct / base, correct, base))
    # Too high is 1, so at most 73 - 13 = 60 correct: 60/73 = 82.2%, short of 8/9 = 88.9%.
    assert max(shares) == (60 / 73, 60, 73)
    assert not [s for s in shares if s[0] >= ALMOST_ALL_FROM]
    # The old bound, 61/73 = 83.6%, left out "7 incorrect" (it let too high be 0).
    assert 61 / 73 > max(shares)[0]
    # Only with unrecorded classifications outside the base would it fit: 60/67 = 89.6%.
    assert 60 / 67 >= ALMOST_ALL_FROM


def test_the_solver_drops_almost_all_with_the_tight_bound():
    inst = load_instrument()
    spec = QuestionSpec("p_rosh_classification", pool=73, prefer_relevant=73, prefer_rate=0.8)
    statements = [
        S("incorrect", "breakdown", "p_rosh_classification", numerator=7,
          category=["Too low", "Too high"]),
        S("toolow", "breakdown", "p_rosh_classification", numerator=6, category="Too low"),
        S("notrecorded", "breakdown", "p_rosh_classification", numerator=6,
          category="Not recorded"),
        S("almostall", "question", "p_rosh_classification", verbal="almost all"),
    ]  # fmt: skip
    sols, incs = solve_question(inst, spec, statements)
    assert [i.dropped for i in incs] == [["almostall"]]
    assert "allow only 0.0%-82.2%" in incs[0].reason
    best = max(sols, key=lambda s: s.above / s.relevant)
    assert (best.above, best.relevant) == (60, 73)


# -- 2. and 3. Safety of children: O4 3.2 (27 of 42) vs O5 3.1 -----------------------------


def test_27_of_42_is_not_almost_three_quarters():
    lo, hi = ALMOST_THREE_QUARTERS
    assert not lo <= 27 / 42 <= hi  # 64.3% against 70.8%-73%
    assert not verbal_ok("almost three-quarters", 27, 42)


def test_no_split_of_27_of_42_is_po_83_and_pso_35():
    po_when_pso_is_35 = set()
    for n_pso in range(1, 42):
        for a_pso in range(min(n_pso, 27) + 1):
            a_po, n_po = 27 - a_pso, 42 - n_pso
            if a_po <= n_po and rounds_to(a_pso, n_pso, 35):
                po_when_pso_is_35.add((a_po, n_po))
                assert not rounds_to(a_po, n_po, 83), (a_po, n_po, a_pso, n_pso)
    # PSO 6/17, 7/20 or 8/23 leaves PO 21/25 = 84%, 20/22 = 90.9%, 19/19 = 100%.
    assert sorted(po_when_pso_is_35) == [(19, 19), (20, 22), (21, 25)]


def _o5_splits(max_cases: int = 73):
    """Every PO/PSO split with PO at 83% and PSO at 35% over at most ``max_cases``."""
    for n_po in range(1, max_cases):
        for a_po in range(n_po + 1):
            if not rounds_to(a_po, n_po, 83):
                continue
            for n_pso in range(1, max_cases - n_po + 1):
                for a_pso in range(n_pso + 1):
                    if rounds_to(a_pso, n_pso, 35):
                        yield a_po, n_po, a_pso, n_pso


def test_o5_figures_alone_need_69_relevant_cases():
    lo, hi = ALMOST_THREE_QUARTERS
    fits = [s for s in _o5_splits() if lo <= (s[0] + s[2]) / (s[1] + s[3]) <= hi]
    # PO 83% + PSO 35% + "almost three-quarters" hold together, e.g. 45/54 + 6/17 =
    # 51/71 = 71.8% (the old note said they could not) ...
    assert (45, 54, 6, 17) in fits
    # ... but never on fewer than 69 cases (43/52 + 6/17 = 49/69 = 71.0%), while only 42
    # cases had child-protection issues (O4 3.2, the question's skip rule).
    assert min(s[1] + s[3] for s in fits) == 69
    assert (43, 52, 6, 17) in fits
    # No PO 83% / PSO 35% split at all has 27 above the line on 42 cases.
    assert not [s for s in _o5_splits(42) if (s[0] + s[2], s[1] + s[3]) == (27, 42)]


def test_the_solver_drops_the_o5_figures_against_27_of_42():
    inst = load_instrument()
    spec = QuestionSpec(
        "v_cyp_safety",
        pool=42,
        prefer_relevant=42,
        prefer_rate=0.64,
        group_pools={"om_grade": {"PO": 25, "PSO": 17}},
    )
    statements = [
        S("o4", "question", "v_cyp_safety", numerator=27, denominator=42),
        S("o5", "question", "v_cyp_safety", verbal="almost three-quarters"),
        S("po", "comparison", "v_cyp_safety", percent=83, group_var="om_grade", group="PO"),
        S("pso", "comparison", "v_cyp_safety", percent=35, group_var="om_grade", group="PSO"),
    ]
    sols, incs = solve_question(inst, spec, statements)
    assert sorted(d for i in incs for d in i.dropped) == ["o5", "po"]
    assert (sols[0].above, sols[0].relevant) == (27, 42)
    assert sols[0].groups["om_grade"] == {"PO": (25, 21), "PSO": (17, 6)}


# -- 4. Appropriate proposals: "most" (Summary) and "almost all" (key strength 1) ----------


def test_most_and_almost_all_hold_together_only_between_88_9_and_90_percent():
    # Every count of up to the 23 typed reports: both words hold only from 8/9 (88.9%) to
    # 9/10 (90%): 8/9, 9/10, 16/18, 17/19 (89.5%), 18/20; on all 23 they cannot (20/23 =
    # 87.0%, 21/23 = 91.3%), nor on 11 (10/11 = 90.9%), 17 (15/17 = 88.2%), 21 or 22. So
    # this pair is no longer "inconsistent in source" (it was with "most" at 77%-80%).
    both = [
        (a, n)
        for n in range(1, 24)
        for a in range(n + 1)
        if MOST[0] <= a / n <= MOST[1] and ALMOST_ALL_FROM <= a / n < 1
    ]
    assert both == [(8, 9), (9, 10), (16, 18), (17, 19), (18, 20)]
    assert [(a, n) for n in range(1, 24) for a in range(n + 1)
            if verbal_ok("most", a, n) and verbal_ok("almost all", a, n)] == both  # fmt: skip


def test_only_the_proven_figures_may_be_reported_inconsistent():
    """The published file excuses exactly the three figures proved above, no other."""
    prof = load_profile("norfolk-and-suffolk")
    assert set(proven_inconsistent(published_path(prof))) == {
        "O4-sum-classification",  # test_rosh_classifications_cannot_be_almost_all_correct
        "O5-3.1-cyp-safety",  # test_27_of_42_is_not_almost_three_quarters
        "O5-3.1-po",  # test_no_split_of_27_of_42_is_po_83_and_pso_35
    }
