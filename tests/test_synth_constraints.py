"""The generator's joint model: consistency rules as constraints, offender managers, case mix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.consistency import SIX_RULES, rule
from helpers.synthetic import tiny_instrument as load_tiny

from analysis.synthetic import constraints as C
from analysis.synthetic.demo import demo_profiles
from analysis.synthetic.generate import generate, offender_managers
from analysis.synthetic.profile import load_profile, profile_instrument


@pytest.fixture
def tiny(tmp_path):
    """The synthetic tests' tiny instrument (q_checks, q_review, q_review_detail, ...)."""
    return load_tiny(tmp_path)


# "No review" of the plan means its detail cannot be judged sufficient: the tiny instrument's
# q_review_detail already has a skip rule, so these rules read other columns.
NO_CHECKS_NO_REVIEW = rule(
    "no-checks-no-review",
    "review",
    {"q_checks": ["No"]},
    {"q_review": ["No review", "Not applicable"]},
)
REVIEW_NEEDS_CHECKS = rule(
    "review-needs-checks", "review", {"q_review": ["Sufficient review"]}, {"q_checks": ["Yes"]}
)


def test_forbidden_bans_the_then_codes_where_the_conditions_hold(tiny):
    codes = ("Sufficient review", "Insufficient review", "No review", "Not applicable")
    data = {"q_checks": np.array(["Yes", "No", "Not applicable"], dtype=object)}
    got = C.forbidden([NO_CHECKS_NO_REVIEW], "q_review", codes, data, 3, tiny)
    # Only the second case did no checks: it may not have a sufficient or insufficient review.
    assert got.tolist() == [
        [False, False, False, False],
        [True, True, False, False],
        [False, False, False, False],
    ]


def test_forbidden_applies_a_rule_backwards_at_its_condition_column(tiny):
    # q_checks answered after q_review: a sufficient review rules out "No" and "Not applicable".
    codes = ("Yes", "No", "Not applicable")
    data = {"q_review": np.array(["Sufficient review", "No review"], dtype=object)}
    got = C.forbidden([REVIEW_NEEDS_CHECKS], "q_checks", codes, data, 2, tiny)
    assert got.tolist() == [[False, True, True], [False, False, False]]


def test_a_rule_whose_columns_are_not_all_answered_waits(tiny):
    got = C.forbidden([NO_CHECKS_NO_REVIEW], "q_review", ("No review",), {}, 2, tiny)
    assert not got.any()


def test_violations_count_cases_breaking_each_rule():
    cases = pd.DataFrame(
        {
            "q_checks": ["No", "No", "Yes", "No"],
            "q_review": ["Sufficient review", "No review", "Sufficient review", "Not applicable"],
        }
    )
    # Case 0 breaks the first rule (no checks, yet a sufficient review) and also
    # the second (sufficient review, no checks); no other case breaks either.
    assert C.violations([NO_CHECKS_NO_REVIEW, REVIEW_NEEDS_CHECKS], cases) == {
        "no-checks-no-review": 1,
        "review-needs-checks": 1,
    }


def test_swap_repair_keeps_every_count_and_group():
    codes = ("A", "B")
    values = np.array(["A", "B", "A", "B"], dtype=object)
    banned = np.zeros((4, 2), dtype=bool)
    banned[0, 0] = True  # case 0 may not be A
    keys = np.array(["x", "y", "x", "x"], dtype=object)
    got, left = C.swap_repair(values, codes, banned, keys, np.random.default_rng(0))
    # The only partner in group x holding B is case 3: the two swap.
    assert left == 0
    assert got.tolist() == ["B", "B", "A", "A"]


def test_swap_repair_reports_what_no_swap_can_fix():
    banned = np.array([[True, False], [True, False]])
    values = np.array(["A", "A"], dtype=object)
    _, left = C.swap_repair(values, ("A", "B"), banned, np.zeros(2), np.random.default_rng(0))
    assert left == 2


def test_answer_order_puts_a_then_column_after_its_conditions(tiny):
    order = C.answer_order(tiny, [REVIEW_NEEDS_CHECKS])
    assert order.index("q_checks") > order.index("q_review")
    # Skip rules still hold: a gate comes before the question it opens.
    assert order.index("q_review_detail") > order.index("q_review")
    # With q_checks pinned by figures and q_review free, the rule is enforced at q_review.
    fixed = C.answer_order(tiny, [REVIEW_NEEDS_CHECKS], fixed={"q_checks"})
    assert fixed.index("q_checks") < fixed.index("q_review")
    assert sorted(order) == sorted(tiny.questions)


def test_a_then_not_applicable_rule_becomes_a_gate(tiny):
    r = rule("x", "review", {"q_checks": ["No"]}, {"q_review": ["Not applicable"]})
    inst = C.with_rule_gates(tiny, [r])
    assert inst.questions["q_review"].applies_when == {"q_checks": ("Yes", "Not applicable")}
    assert tiny.questions["q_review"].applies_when == {}


@pytest.mark.parametrize("seed", range(50))
def test_tiny_obeys_rules_for_every_seed(tiny, seed):
    prof = {
        "name": "T",
        "slug": "t",
        "n_cases": 40,
        "ldus": {"A": 0.5, "B": 0.5},
        "mixes": {"om_grade": {"PO": 0.5, "PSO": 0.5}},
    }
    rules = (NO_CHECKS_NO_REVIEW, REVIEW_NEEDS_CHECKS)
    cases = generate(prof, seed=seed, instrument=tiny, rules=rules)
    assert C.violations(rules, cases, tiny) == dict.fromkeys(
        ["no-checks-no-review", "review-needs-checks"], 0
    )


def test_calibrated_counts_stay_exact_under_a_rule(tiny):
    # 60 cases; q_checks exactly 30 Yes of 60, and no sufficient review without checks.
    prof = {
        "name": "T",
        "slug": "t",
        "n_cases": 60,
        "seed": 3,
        "ldus": {"A": 30, "B": 30},
        "mixes": {"om_grade": {"PO": 30, "PSO": 30}},
        "targets": {"q_checks": {"numerator": 30, "denominator": 60}},
    }
    cases = generate(prof, instrument=tiny, rules=(REVIEW_NEEDS_CHECKS,))
    assert (cases["q_checks"] == "Yes").sum() == 30
    assert C.violations([REVIEW_NEEDS_CHECKS], cases, tiny) == {"review-needs-checks": 0}


PROFILES = demo_profiles()


@pytest.mark.parametrize("seed", range(50))
def test_every_profile_obeys_the_instruments_rules(seed):
    """50 random seeds, spread over all the profiles (small case counts, uncalibrated)."""
    path = PROFILES[seed % len(PROFILES)]
    prof = load_profile(path)
    inst = profile_instrument(prof)
    rules = (*inst.consistency, *SIX_RULES)
    cases = generate(prof, seed=1000 + seed, n_cases=30, rules=SIX_RULES)
    bad = {k: v for k, v in C.violations(rules, cases, inst).items() if v}
    assert bad == {}, f"{path.stem} seed {1000 + seed}"


def test_offender_managers_share_cells_and_hold_a_few_cases_each():
    details = pd.DataFrame({"ldu": ["A"] * 9 + ["B"] * 3, "om_grade": ["PO"] * 6 + ["PSO"] * 6})
    prof = {"offender_managers": {"cases_per_om": 4}}
    om = offender_managers(prof, details, np.random.default_rng(1))
    # Cells: A/PO 6 cases -> 2 managers of 3; A/PSO 3 -> 1; B/PSO 3 -> 1.
    sizes = pd.Series(om).value_counts().sort_index()
    assert sizes.to_dict() == {"A|PO|OM1": 3, "A|PO|OM2": 3, "A|PSO|OM1": 3, "B|PSO|OM1": 3}
    assert all(m.startswith("A|PO") for m in om[:6])


def test_cases_of_one_offender_manager_correlate():
    prof = load_profile("fenmarsh-and-rivermouth")
    cases = generate(prof, seed=5, n_cases=400)
    om = pd.Series(cases.attrs["offender_manager"])
    q = pd.Series(cases.attrs["latent_quality"])
    # Share of the latent quality's variance between managers (one-way ANOVA estimate).
    k = om.value_counts().mean()
    means = q.groupby(om).transform("mean")
    msb = ((means - q.mean()) ** 2).sum() / (om.nunique() - 1)
    msw = ((q - means) ** 2).sum() / (len(q) - om.nunique())
    icc = (msb - msw) / (msb + (k - 1) * msw)
    assert icc > 0.2


def test_case_mix_follows_case_type_and_offence():
    prof = load_profile("lowbridge-city")
    cases = generate(prof, seed=2, n_cases=400)
    lic = cases["case_type"] == "Licence"
    ap = cases["l_ap_resident"] == "Yes"
    # Approved-premises residents are mostly licence cases.
    assert (ap & lic).sum() > 2 * (ap & ~lic).sum()
    sex = cases["principal_offence"] == "Sexual offences"
    mappa = cases["p_mappa_eligible"] == "Yes"
    if sex.any():
        assert mappa[sex].mean() > mappa[~sex].mean()
    high = cases["rosh_start"].isin(["High", "Very high"])
    assert (cases.loc[high, "om_grade"] == "PO").mean() > 0.5


def test_answer_order_puts_a_question_after_the_answers_its_propensity_reads(tiny):
    # Column order answers q_checks before q_review; a propensity of q_checks that reads
    # q_review moves q_checks after it.
    plain = C.answer_order(tiny)
    assert plain.index("q_checks") < plain.index("q_review")
    order = C.answer_order(tiny, reads={"q_checks": ["q_review"]})
    assert order.index("q_checks") > order.index("q_review")
    assert sorted(order) == sorted(tiny.questions)


def test_a_propensity_may_read_an_earlier_answer():
    from analysis.synthetic.generate import propensities, propensity_reads

    prof = {
        "propensity": {"q_checks": {"case_type": {"Licence": 1.0}, "q_review": {"No review": -2.0}}}
    }
    details = pd.DataFrame({"case_type": ["Licence", "Community order", "Licence"]})
    props = propensities(prof, details)
    assert propensity_reads(props)["q_checks"] == ["q_review"]
    answered = {
        "case_type": details.case_type.to_numpy(),
        "q_review": np.array(["No review", "No review", "Sufficient review"], dtype=object),
    }
    # Licence +1, "No review" -2: worked out by hand per case.
    assert props["q_checks"](answered).tolist() == [-1.0, -2.0, 1.0]


def test_propagation_finds_a_contradiction_a_chain_of_rules_reaches(tiny):
    # Licence forces checks, checks force a sufficient review, which opens the detail
    # question; North requires the detail "Yes" and PSO requires it "No".
    rules = [
        rule("licence-checks", "t", {"case_type": ["Licence"]}, {"q_checks": ["Yes"]}),
        rule("checks-review", "t", {"q_checks": ["Yes"]}, {"q_review": ["Sufficient review"]}),
        rule("north-yes", "figure", {"ldu": ["North"]}, {"q_review_detail": ["Yes"]}),
        rule("pso-no", "t", {"om_grade": ["PSO"]}, {"q_review_detail": ["No"]}),
    ]
    known = {"case_type": "Licence", "ldu": "North"}
    assert not C.feasible(rules, tiny, {**known, "om_grade": "PSO"})
    assert C.feasible(rules, tiny, {**known, "om_grade": "PO"})
    assert C.feasible(rules, tiny, {**known, "ldu": "South", "om_grade": "PSO"})
    # The contrapositive: with the detail known "No", a North licence case cannot stand.
    assert not C.feasible(rules[:3], tiny, {**known, "q_review_detail": "No"})


def test_a_figure_on_all_or_none_of_a_group_becomes_a_rule(tiny):
    from analysis.synthetic.statements import Statement

    def fig(n, d):
        return Statement(f"f{n}", "comparison", "q_checks", n, d, group_var="ldu", group="North")

    cases = pd.DataFrame({"ldu": ["North", "South"]})
    got = C.figure_rules(tiny, {"q_checks": [fig(2, 2), fig(0, 3), fig(3, 5)]}, cases)
    assert [(r.when, r.then_column, r.allowed) for r in got] == [
        ({"ldu": ("North",)}, "q_checks", ("Yes",)),
        ({"ldu": ("North",)}, "q_checks", ("No",)),
    ]
