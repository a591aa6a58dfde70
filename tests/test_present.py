"""Presentation decisions made once (analysis.render.present), with hand-worked values."""

from __future__ import annotations

import pandas as pd
import pytest
from fixtures_findings import fixture_findings, fixture_instrument

from analysis.engine.findings import conform
from analysis.render import present
from analysis.render.present import LOW, C, U, X, Z


@pytest.fixture(scope="module")
def inst():
    return fixture_instrument()


# -- rounding and numbers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "ndigits", "rounded"),
    [
        (0.5, 0, 1.0),
        (1.5, 0, 2.0),
        (2.5, 0, 3.0),  # Python's round(2.5) is 2
        (62.5, 0, 63.0),  # 50 of 80
        (-2.5, 0, -3.0),  # halves go away from zero, symmetric with 2.5 -> 3
        (0.49, 0, 0.0),
        (1.25, 1, 1.3),  # 1 of 80; round(1.25, 1) is 1.2
        (62.45, 1, 62.5),
        (2.675, 2, 2.68),  # the float is a hair below 2.675; the printed decimal is rounded
        (0.00045, 4, 0.0005),
    ],
)
def test_round_half_up(x, ndigits, rounded):
    assert present.round_half_up(x, ndigits) == rounded


@pytest.mark.parametrize(
    ("x", "text"), [(66.5, "67%"), (2.5, "3%"), (0.49, "0%"), (100.0, "100%"), (pd.NA, "–")]
)
def test_fmt_pct_rounds_half_up(x, text):
    assert present.fmt_pct(x) == text


def test_fifty_of_eighty_is_sixty_three_percent():
    # 50 / 80 = 0.625 exactly: 62.5% rounds up to 63%, never to the even 62%.
    assert present.fmt_pct(100 * 50 / 80) == "63%"
    assert present.pct_n_of_n(100 * 50 / 80, 50, 80) == "63% (50 of 80)"
    assert present.pct_n_of_n(62.5, float("nan"), 80) == "63%"
    assert present.fmt_pct(100 * 1 / 80, 1) == "1.3%"  # 1.25%


def test_fmt_int_ci_and_p():
    assert present.fmt_int(2453.0) == "2,453"
    assert present.fmt_int(0.5) == "1"
    assert present.fmt_ci(54.4, 86.6) == "54 to 87"
    assert present.fmt_ci(52.5, 71.5) == "53 to 72"
    assert present.fmt_ci(-2.5, 20.5) == "-3 to 21"
    assert present.fmt_ci(-0.3, 4.5) == "0 to 5"  # never "-0"
    assert present.fmt_ci(51.45, 72.35, 1, "%") == "51.5% to 72.4%"
    assert present.fmt_ci(None, 3) == "–"
    assert present.fmt_p(0.0004) == "<0.001"
    assert present.fmt_p(0.0312) == "0.03"
    assert present.fmt_p(0.045) == "0.05"  # f"{0.045:.2f}" gives 0.04
    assert present.fmt_p(0.0045) == "0.005"
    assert present.n_of_n(18.0, 22.0) == "18 of 22"


@pytest.mark.parametrize(
    ("p", "text"), [(0.0004, "p < 0.001"), (0.004, "p = 0.004"), (0.03, "p = 0.03")]
)
def test_p_equals_never_writes_equals_less_than(p, text):
    assert present.p_equals(p) == text


def test_significance_is_below_the_false_discovery_rate():
    assert present.is_significant(0.049)
    assert not present.is_significant(0.05)
    assert not present.is_significant(None) and not present.is_significant(pd.NA)


def test_plural_and_lists():
    assert present.plural(1, "question") == "1 question"
    assert present.plural(2, "question") == "2 questions"
    assert present.and_list(["a"]) == "a"
    assert present.and_list(["a", "b"]) == "a and b"
    assert present.and_list(["a", "b", "c"]) == "a, b and c"
    assert present.and_list([]) == ""


# -- markers --------------------------------------------------------------------------------


def test_markers_of_a_row():
    # The findings flag "low" is shown as the Analysis Function's [u] (low reliability).
    assert present.markers("low;c") == "[u] [c]"
    assert present.markers("secondary") == "[c]"
    assert present.markers({"low"}) == "[u]"
    assert present.markers("") == ""
    assert present.is_suppressed("low;secondary") and not present.is_suppressed("low")


def test_the_markers_are_the_analysis_functions():
    assert [m.symbol for m in present.MARKERS] == ["[c]", "[u]", "[x]", "[z]"]
    assert U is LOW
    assert "[low]" in LOW.explanation  # the change is explained where the marker is


def test_marker_key_lists_markers_in_table_order():
    assert present.marker_key([LOW, C]) == (
        "[c] suppressed to protect confidentiality; [u] low reliability: fewer than 10 "
        "relevant cases"
    )
    assert present.marker_key([Z, X], ", ") == "[x] not available, [z] not applicable"


def test_markers_for_the_audience():
    # Only publication suppresses: internal outputs describe [c] only if a flag carries it.
    assert present.markers_for("internal", ["low", "", "low"]) == (LOW, X, Z)
    assert present.markers_for("internal", ["low;c"]) == (C, LOW, X, Z)
    assert present.markers_for("publication") == (C, LOW, X, Z)


def test_markers_for_what_an_output_shows():
    # Only the markers found among the texts shown are kept: "[u] [c]" is two of them.
    assert present.markers_for("publication", used=["[u] [c]", "12", "Norwich"]) == (C, LOW)
    assert present.markers_for("internal", used=["[u] [c]"]) == (LOW,)
    assert present.markers_for("internal", used=["[z]", "[low]"]) == (Z,)


def test_missing_marker_follows_the_base():
    assert present.missing_marker(0) is Z
    assert present.missing_marker(0.0) is Z
    assert present.missing_marker(12) is X
    assert present.missing_marker(pd.NA) is X
    assert present.missing_marker(None) is X


def test_p_cell():
    assert present.p_cell(0.0004) == "<0.001"
    assert present.p_cell(0.00099) == "<0.001"
    assert present.p_cell(0.001) == 0.001
    assert present.p_cell(0.0125) == 0.013  # half up, not to the even 0.012
    assert present.p_cell(0.31) == 0.31
    assert present.p_cell(float("nan")) == "[x]"


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "name"),
    [
        ("norfolk-and-suffolk", "Norfolk and Suffolk"),
        ("city-of-london", "City of London"),
        ("newcastle-upon-tyne", "Newcastle upon Tyne"),
        ("sutton-in-ashfield", "Sutton in Ashfield"),
        ("the-wolds", "The Wolds"),
        ("kestrel_downs", "Kestrel Downs"),
    ],
)
def test_trust_display_name(slug, name):
    assert present.trust_display_name(slug) == name


def test_variable_label_keeps_acronyms(inst):
    assert present.variable_label("rosh_start", inst) == "OASys RoSH classification at start"
    assert present.variable_label("om_grade", inst) == "offender manager grade"
    assert present.variable_label("ldu") == "local delivery unit"
    assert present.variable_label("n_oms") == "n oms"


# -- order ----------------------------------------------------------------------------------


def test_ordered_report_order_then_declared_then_as_given():
    found = ["ldu", "rosh_start", "zz", "om_grade", "gender"]
    assert present.ordered(found, present.COMPARISON_ORDER) == [
        "om_grade",
        "gender",
        "ldu",
        "rosh_start",
        "zz",
    ]
    assert present.ordered(["b", "x", "a"], ["a", "b"]) == ["a", "b", "x"]


def test_ranked_ties_follow_the_declared_order_either_way():
    items = [("a", 5), ("b", 7), ("c", 5), ("d", 5)]
    declared = ["c", "a", "b"]  # d is not declared: after the declared ties
    down = present.ranked(items, lambda t: t[1], lambda t: t[0], declared)
    up = present.ranked(items, lambda t: t[1], lambda t: t[0], declared, descending=False)
    assert [t[0] for t in down] == ["b", "c", "a", "d"]
    assert [t[0] for t in up] == ["c", "a", "d", "b"]


def test_group_order_puts_declared_codes_first(inst):
    assert present.group_order(["PSO", "Other", "PO"], "om_grade", inst) == ["PO", "PSO", "Other"]
    assert present.group_order(["Wold", "Ashbury"], "ldu", inst) == ["Wold", "Ashbury"]


def test_by_significance_breaks_ties_by_declared_question_order(inst):
    rows = [
        {"measure_id": "r_rosh_review", "p_adjusted": 0.02},
        {"measure_id": "s_children_checks", "p_adjusted": 0.02},
        {"measure_id": "d_police_checks", "p_adjusted": 0.01},
    ]
    # s_children_checks is declared before r_rosh_review; alphabetically it is after.
    assert [r["measure_id"] for r in present.by_significance(rows, inst)] == [
        "d_police_checks",
        "s_children_checks",
        "r_rosh_review",
    ]


def test_profile_and_comparison_columns(inst):
    assert present.profile_columns(["ethnicity", "gender", "ldu", "case_type"], inst) == [
        "case_type",
        "gender",
        "ethnicity",
        "ldu",
    ]
    assert present.comparison_vars(["ldu", "", "gender", "om_grade"], inst) == [
        "om_grade",
        "gender",
        "ldu",
    ]


def test_breakdown_questions(inst):
    # r_rosh_review and r_oversight have three scoring answers; a yes/no question has two.
    f = fixture_findings()
    extra = f[f["measure_id"] == "r_rosh_review"].assign(measure_id="d_police_checks")
    both = conform(pd.concat([extra, f], ignore_index=True))
    assert present.breakdown_questions(both, inst) == ["r_rosh_review", "r_oversight"]


# -- factors --------------------------------------------------------------------------------


def _tied_findings() -> pd.DataFrame:
    """The fixture with alcohol misuse identified in 59 cases, as thinking and behaviour is."""
    f = fixture_findings()
    f.loc[f["measure_id"] == "f_alcohol_identified", ["numerator", "percent"]] = [59, 100 * 59 / 73]
    return conform(f)


def test_factors_tie_keeps_the_declared_order(inst):
    # Declared order: thinking_behaviour, alcohol, accommodation, finance. The labels sort
    # the other way ("alcohol misuse" < "thinking and behaviour"): the label is no tie-break.
    factors = present.factors(_tied_findings(), inst)
    assert [f.id for f in factors] == ["thinking_behaviour", "alcohol", "accommodation", "finance"]
    assert [f.prevalence for f in factors] == [59, 59, 28, 15]
    # Without the instrument, ties keep the findings order (the engine's rank order).
    assert [f.id for f in present.factors(_tied_findings())] == [f.id for f in factors]


def test_most_prevalent_and_most_common(inst):
    factors = present.factors(_tied_findings(), inst)
    # factor_table: {most_prevalent: 2} in the fixture instrument.
    assert present.factor_groups(factors, inst) == [
        present.MOST_PREVALENT,
        present.MOST_PREVALENT,
        present.OTHER_COMMON,
        present.OTHER_COMMON,
    ]
    assert [f.id for f in present.most_common(factors)] == ["thinking_behaviour", "alcohol"]
    untied = present.factors(fixture_findings(), inst)
    assert [f.id for f in present.most_common(untied)] == ["thinking_behaviour"]
    # No instrument setting: every factor is "most prevalent", as the engine ranks them.
    assert set(present.factor_groups(untied, None)) == {present.MOST_PREVALENT}


def test_a_suppressed_prevalence_has_no_rank(inst):
    f = fixture_findings()
    f.loc[f["measure_id"] == "f_thinking_behaviour_identified", "flags"] = "c"
    factors = present.factors(f, inst)
    assert factors[-1].id == "thinking_behaviour"
    assert present.factor_groups(factors, inst)[-1] == "[c]"
    assert present.factor_groups(factors, inst)[:2] == [present.MOST_PREVALENT] * 2
    assert present.most_common(factors) == []
    # Internal tables show the value, so they rank it: first again.
    assert present.factors(f, inst, hide_suppressed=False)[0].id == "thinking_behaviour"


def test_rating_basis_words_the_key_question_a_rating_rests_on():
    from analysis import config
    from analysis.instrument import load_instrument

    inst = load_instrument(config.INSTRUMENTS_DIR / "hmip-probation-2023.yaml")
    method = "lowest key question: kq_2.1.3; Wilson score interval; rounded half up"
    wording = "Does assessment focus sufficiently on keeping other people safe?"
    assert present.rating_basis(method, inst) == f"lowest key question, 2.1.3: {wording}"
    assert present.rating_basis(method, inst, ids="both") == (
        f"lowest key question, 2.1.3 (kq_2.1.3): {wording}"
    )
    assert (
        present.rating_basis(method, inst, ids="id") == f"lowest key question, kq_2.1.3: {wording}"
    )
    mean = "mean of kq_2.4.1, kq_2.4.3; bootstrap percentile interval"
    assert present.rating_basis(mean, inst) == (
        "mean of key questions 2.4.1: Does reviewing focus sufficiently on supporting "
        "engagement?; 2.4.3: Does reviewing focus sufficiently on keeping other people safe?"
    )
    # A prompt (question) as the one measure: its own wording and criterion.
    assert present.rating_basis("measure r_safe; Wilson", inst).startswith("measure, 2.4.3: ")
    # Nothing the instrument declares: the clause as it is.
    assert present.rating_basis("lowest key question: kq_9; x", inst) == "lowest key question: kq_9"
    assert present.rating_basis("rated by inspectors", None) == "rated by inspectors"
    assert present.rating_basis(None, inst) == ""
