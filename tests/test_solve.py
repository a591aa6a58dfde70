"""The per-question solver on small hand-made constraint sets with hand-worked answers."""

from __future__ import annotations

import pytest
from helpers.synthetic import spec, tiny_instrument

from analysis.synthetic.solve import (
    free_candidates,
    largest_remainder,
    solve_question,
    solve_split,
)
from analysis.synthetic.statements import Statement, round_half_up, verbal_ok

S = Statement


@pytest.fixture
def inst(tmp_path):
    return tiny_instrument(tmp_path)


def test_count_and_verbal_agree(inst):
    """'27 of 42' and 'just under two-thirds': 27/42 = 64.3% lies in [58.33, 64.67]."""
    sols, incs = solve_question(
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
    sols, incs = solve_question(
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
    sols, _ = solve_question(
        inst, spec(), [S("a", "question", "q_checks", denominator=32, percent=63)]
    )
    assert {(s.above, s.relevant) for s in sols} == {(20, 32)}


def test_contradiction_is_reported_and_the_count_kept(inst):
    """27/42 = 64.3% cannot be 'almost three-quarters' [71%, 73%): the verbal one goes."""
    sols, incs = solve_question(
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
    """'35%' of 20 needs 7/20; 'most' needs 75%-90%: the percent is kept."""
    sols, incs = solve_question(
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
    sols, incs = solve_question(
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
    assert round_half_up(100 * a_po / n_po) == 81 and round_half_up(100 * a_pso / n_pso) == 47


def test_split_that_cannot_sum_is_proven_inconsistent(inst):
    """27/42 with PSO 35% (6/17, 7/20, ...) leaves PO at 21/25 = 84%, never 83%."""
    sp = spec(pool=42, prefer=42, group_pools={"om_grade": {"PO": 25, "PSO": 17}})
    sols, incs = solve_question(
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
    sols, incs = solve_question(
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
    sols, incs = solve_question(
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
    assert round_half_up(100 * c["No review"] / total) == 35
    assert verbal_ok(
        "one-quarter", c["Insufficient review"], c["Insufficient review"] + c["Sufficient review"]
    )


def test_solve_split_gives_the_rest_to_the_unstated_group():
    """6 of 10 with group A at 4 of 5: B takes the other 2 of 5."""
    stated = [S("a", "comparison", "q", numerator=4, denominator=5, group_var="g", group="A")]
    assert solve_split(6, 10, {"A": 5, "B": 5}, stated) == {"A": (5, 4), "B": (5, 2)}
    # Group A has room for only 3 cases: no split holds.
    assert solve_split(6, 10, {"A": 3, "B": 7}, stated) is None


def test_largest_remainder():
    assert largest_remainder(10, [1, 1, 1]) == [4, 3, 3]  # 3.33 each; the first gets the extra
    assert largest_remainder(7, [0.5, 0.3, 0.2]) == [4, 2, 1]  # 3.5, 2.1, 1.4
    assert largest_remainder(3, [0, 0]) == [2, 1]  # no weights: equal shares


def test_free_candidates_keep_the_preferred_base(inst):
    """A free question: base 20, every count above the line, nearest 60% (12 of 20) first."""
    sols = free_candidates(inst, inst.questions["q_checks"], spec(prefer=20))
    assert {s.relevant for s in sols} == {20}
    assert sorted(s.above for s in sols) == list(range(21))
    assert (sols[0].above, sols[0].counts) == (12, {"Yes": 12, "No": 8})
