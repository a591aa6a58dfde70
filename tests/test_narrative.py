"""Report prose and tables drafted from the findings table (analysis.render.narrative)."""

from __future__ import annotations

import pandas as pd
import pytest
from fixtures_findings import HOSTILE_LDUS, fixture_findings, fixture_instrument

from analysis.engine.findings import conform
from analysis.render import narrative
from analysis.render.narrative import comparisons

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def inst():
    return fixture_instrument()


@pytest.fixture
def findings():
    return fixture_findings()


def _set(df: pd.DataFrame, mask, **values) -> pd.DataFrame:
    df = df.copy()
    for col, v in values.items():
        df.loc[mask, col] = v
    return conform(df)


@pytest.mark.parametrize(
    ("oid", "phrase"),
    [
        ("O1", "assist sentencing"),
        ("O2", "deliver the sentence of the court"),
        ("O3", "reduce the likelihood of reoffending"),
        ("O4", "protect the public by minimising the risk of harm to others"),
        ("O5", "deliver effective work for victims"),
    ],
)
def test_outcome_phrase_matches_reference_wording(inst, oid, phrase):
    assert narrative.outcome_phrase(inst.outcomes[oid]) == phrase


# -- chapters -----------------------------------------------------------------------------


def test_score_sentence_like_the_reference(inst, findings):
    assert narrative.score_sentence(findings, inst, "O4") == (
        "Overall, 66% of work to protect the public by minimising the risk of harm to others "
        "was done well enough."
    )
    assert narrative.score_sentence(findings, inst, "O1").startswith("Overall, 85% of work")


def test_summary_table_has_all_outcomes_with_anchors(inst, findings):
    html = narrative.summary_table(findings, inst)
    for o in inst.outcomes.values():
        assert f'href="#outcome-{o.number}"' in html
    assert "85%" in html and "60%" in html


def test_key_findings_skip_suppressed_and_low_bases(inst, findings):
    html = narrative.key_findings(findings, inst, "O4")
    # r_oversight is suppressed (3 of 4, flag c): never a key finding, never its counts.
    assert "Effective management oversight" not in html
    assert "3 of 4" not in html
    assert "Police checks on domestic abuse" in html  # 65%, below the 66% score
    assert "Sufficient review of risk of harm assessment" in html  # weakest
    assert "22 of 54" in html


def test_key_findings_use_wording_quantifiers(inst, findings):
    from analysis.engine.wording import quantifier

    html = narrative.key_findings(findings, inst, "O1")
    assert f"done well enough in {quantifier(20, 23)} of the relevant cases (20 of 23" in html


def test_question_table_marks_suppressed_and_low(inst, findings):
    html = narrative.question_table(findings, inst, "O4")
    assert "[c]" in html
    assert "3 of 4" not in html
    assert "26 of 40" in html and "65%" in html


def test_breakdown_questions_and_table(inst, findings):
    assert narrative.breakdown_questions(findings, inst, "O4") == ["r_rosh_review", "r_oversight"]
    html = narrative.breakdown_table(findings, inst, "r_rosh_review")
    assert "No review" in html and "18 of 54" in html
    suppressed = narrative.breakdown_table(findings, inst, "r_oversight")
    assert "[c]" in suppressed and "3 of 4" not in suppressed


def test_factor_table_orders_by_prevalence_and_suppresses(inst, findings):
    html = narrative.factor_table(findings, inst)
    order = [
        html.index(label)
        for label in (
            "thinking and behaviour",
            "alcohol misuse",
            "accommodation",
            "financial management",
        )
    ]
    assert order == sorted(order)
    assert "Most prevalent factors" in html and "Other common factors" in html
    assert "[c]" in html  # finance progress is suppressed
    assert "3 of 15" not in html


# -- comparisons ---------------------------------------------------------------------------


def test_no_difference_survives_bh_is_said_carefully(inst, findings):
    html = narrative.comparison_section(findings, inst, "om_grade")
    assert "None of the differences" in html
    assert "does not show that the groups performed alike" in html


def test_surviving_difference_is_stated_with_caveat(inst, findings):
    mask = (
        (findings["kind"] == "difference")
        & (findings["group_var"] == "om_grade")
        & (findings["measure_id"] == "s_children_checks")
    )
    df = _set(findings, mask, p_adjusted=0.01)
    html = narrative.comparison_section(df, inst, "om_grade")
    assert "more often in the PO group than in the PSO group" in html
    assert "81%, 13 of 16" in html
    assert "adjusted p = 0.01)" in html
    assert "prompts for further inquiry" in html
    # Suppressed differences (gender) never surface, even with a small p.
    g = (findings["kind"] == "difference") & (findings["group_var"] == "gender")
    assert "None of the differences" in narrative.comparison_section(
        _set(findings, g, p_adjusted=0.001), inst, "gender"
    )


def test_multi_group_difference(inst, findings):
    extra = pd.DataFrame(
        [
            dict(
                kind="difference",
                measure_id="r_rosh_review",
                group_var="ldu",
                group=" | ".join(["Norwich", *HOSTILE_LDUS]),
                p_value=0.001,
                p_adjusted=0.004,
                trust="x",
                method="chi-square; bh",
            ),
        ]
    )
    df = conform(pd.concat([findings, extra], ignore_index=True))
    html = narrative.comparison_section(df, inst, "ldu")
    assert "differed between the groups" in html
    assert "Norwich 50%, 10 of 20" in html


def test_user_strings_are_escaped(inst, findings):
    ldu = findings["group_var"] == "ldu"
    df = _set(findings, ldu & (findings["group"] == "Norwich"), group=XSS)
    html = narrative.comparison_section(df, inst, "ldu")
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "=HYPERLINK(&quot;http://x&quot;)" in html
    title = narrative.title_block(XSS, inst, "internal", findings)
    assert XSS not in title and "&lt;script&gt;" in title
    prov = narrative.provenance_section({"parameters": {"trust_name": XSS}, "input_file": XSS})
    assert XSS not in prov


def test_synthetic_data_is_marked_in_the_title_block(inst, findings):
    demo = narrative.title_block("Demo", inst, "internal", findings, synthetic=True)
    assert 'class="synthetic-banner"' in demo and "invented cases" in demo
    real = narrative.title_block("Real", inst, "internal", findings)
    assert "synthetic-banner" not in real and "invented" not in real


# -- appendices -----------------------------------------------------------------------------


def test_disclosure_notes_follow_the_audience(findings):
    internal = narrative.disclosure_notes(findings, "internal")
    public = narrative.disclosure_notes(findings, "publication")
    assert "must not be published" in internal
    assert "publication version" in public and "secondary" in public
    assert "No case identifiers" in internal


def test_scoring_approach_names_the_method(inst, findings):
    html = narrative.scoring_approach(findings, inst)
    assert "question mean" in html and "criterion mean" in html
    assert "score_" not in html


def test_contents_lists_outcomes_and_sections(inst):
    html = narrative.contents(inst, [("appendix-methods", "Appendix 4: Methods")])
    assert html.count("<li>") == 1 + len(inst.outcomes) + 1
    assert 'href="#appendix-methods"' in html


def test_long_lists_of_differences_are_capped(inst, findings, monkeypatch):
    monkeypatch.setattr(comparisons, "MAX_LISTED_DIFFERENCES", 1)
    d = (findings["kind"] == "difference") & (findings["group_var"] == "om_grade")
    html = narrative.comparison_section(_set(findings, d, p_adjusted=0.01), inst, "om_grade")
    assert "2 differences remained" in html
    assert "and 1 more, listed with every difference tested in tables.xlsx" in html


def test_comparisons_intro_names_the_variables_compared(inst):
    html = narrative.comparisons_intro(["om_grade", "gender", "rosh_start"], inst)
    assert "by the grade of the offender manager (probation officer, PO," in html
    # The fixture instrument labels rosh_start "OASys RoSH classification at start": the
    # acronym keeps its capitals mid-sentence; gender does not.
    assert ", gender and OASys RoSH classification at start." in html
    assert "local delivery unit" not in html
    assert narrative.comparisons_intro(["ldu"], inst).count("by local delivery unit (LDU).") == 1


def test_comparison_heading_keeps_acronyms(findings, inst):
    html = narrative.comparison_section(findings, inst, "om_grade")
    assert ">By offender manager grade</h3>" in html


def test_factor_table_ties_follow_declared_order_as_the_chart(inst, findings):
    from analysis.render import charts

    tied = _set(findings, findings["measure_id"] == "f_alcohol_identified", numerator=59)
    html = narrative.factor_table(tied, inst)
    # Declared order (thinking and behaviour first), not the label ("alcohol" < "thinking").
    assert html.index("thinking and behaviour") < html.index("alcohol misuse")
    chart = charts.factor_chart(tied, inst)
    assert [lab.split(" (")[0] for lab in chart.labels][:2] == [
        "thinking and behaviour",
        "alcohol misuse",
    ]
    # Two "most prevalent" factors in the fixture instrument: exactly those two.
    most, other = html.split("Other common factors")
    assert "alcohol misuse" in most and "accommodation" in other


def test_half_percentages_round_up_in_the_report(inst, findings):
    mask = (findings["kind"] == "question") & (findings["measure_id"] == "d_constructive")
    df = _set(findings, mask, numerator=50, denominator=80, percent=62.5)
    assert "<td class='num'>50 of 80</td><td class='num'>63%</td>" in narrative.question_table(
        df, inst, "O3"
    )


def test_a_question_with_no_relevant_case_is_not_marked_suppressed(inst, findings):
    # No relevant case: nothing to show, but nothing was suppressed either.
    mask = (findings["kind"] == "question") & (findings["measure_id"] == "d_police_checks")
    df = _set(findings, mask, numerator=0, denominator=0, percent=pd.NA, flags="low")
    html = narrative.question_table(df, inst, "O4")
    row = html.split("Police checks on domestic abuse")[1].split("</tr>")[0]
    assert "[c]" not in row and "0 of 0" in row and "[u]" in row


def test_surviving_differences_tie_in_declared_order(inst, findings):
    d = (findings["kind"] == "difference") & (findings["group_var"] == "om_grade")
    rows = narrative.surviving_differences(_set(findings, d, p_adjusted=0.01), "om_grade", inst)
    # Equal adjusted p: s_children_checks is declared first (alphabetically it is second).
    assert [r["measure_id"] for r in rows] == ["s_children_checks", "r_rosh_review"]


def test_provenance_section_shows_consistency_warnings():
    two = {"total": 3, "rules": {"rmp-not-required-low": 2, "mappa-sexual-offence": 1}}
    html = narrative.provenance_section({"consistency_warnings": two})
    assert "Consistency-rule warnings (cases)" in html
    assert "3: mappa-sexual-offence (1), rmp-not-required-low (2)" in html
    none = narrative.provenance_section({"consistency_warnings": {"total": 0, "rules": {}}})
    assert "Consistency-rule warnings (cases)" in none
    # A record written before the rules existed has no such row.
    assert "Consistency-rule" not in narrative.provenance_section({"input_file": "x"})
