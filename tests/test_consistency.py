"""Ingest checks every consistency rule: all violations at once, errors stop, warnings counted.

The tiny instrument gets three hand-written rules, and a seven-case table whose violations
are worked out by hand below; then one violation of each IAOW rule is planted in a table
of valid cases and each is found at its row and columns.
"""

from __future__ import annotations

import json

import pytest
from helpers.workbooks import answer_questions, grid, valid_row, write_csv

from analysis import cli
from analysis.ingest import IngestError, Problem, ingest_file, read_cases
from analysis.instrument import load_instrument
from analysis.pipeline.provenance import build_provenance
from conftest import TINY_INSTRUMENT_YAML

RULES = """consistency:
  - id: progress-needs-review
    kind: review
    when: {q_review: [No review]}
    then: {f_alcohol_progress: ["No"]}
    severity: error
    message: "Without a review no progress can be recorded."
    source: "test"
  - id: licence-typed-sufficient
    kind: licence
    when: {case_type: [Licence]}
    then: {q_typed: ["Yes"]}
    severity: warning
    message: "Licence reports are usually sufficient."
    source: "test"
  - id: licence-or-oral-reviewed
    kind: review
    any_of:
      - {case_type: [Licence]}
      - {report_type: [Oral]}
    then: {q_review: [Sufficient review, Insufficient review]}
    severity: error
    message: "A licence case or an oral report is reviewed."
    source: "test"
"""

HEADER = ["case_id", "case_type", "n_oms", "report_type", "q_typed", "q_review", "q_contacts",
          "f_alcohol_identified", "f_alcohol_progress"]  # fmt: skip
#: Excel row 2 is A1. Expected, by hand:
#: A1 nothing fires. A2: progress-needs-review's conditions hold but f_alcohol_progress is
#: skipped (alcohol not identified): no violation. A3: progress Yes after No review: error.
#: A4: licence with q_typed No: warning. A5: oral, No review: error (licence-or-oral-reviewed),
#: and progress "Not applicable" where it applies: error (progress-needs-review).
#: A6: licence with no report, so q_typed is skipped (no warning); q_review Not applicable:
#: error. A7: q_typed "Maybe" is not an answer (reported as such, not judged by a rule).
CASES = [
    ["A1", "Community order", 1, "Typed", "Yes", "Sufficient review", 0, "Yes", "Yes"],
    ["A2", "Community order", 1, "None", None, "No review", 0, "No", None],
    ["A3", "Community order", 1, "Typed", "No", "No review", 0, "Yes", "Yes"],
    ["A4", "Licence", 1, "Typed", "No", "Sufficient review", 0, "No", None],
    ["A5", "Community order", 1, "Oral", None, "No review", 0, "Yes", "Not applicable"],
    ["A6", "Licence", 1, "None", None, "Not applicable", 0, "No", None],
    ["A7", "Licence", 1, "Typed", "Maybe", "Sufficient review", 0, "No", None],
]


@pytest.fixture
def ruled(tmp_path):
    path = tmp_path / "ruled.yaml"
    path.write_text(TINY_INSTRUMENT_YAML + RULES, encoding="utf-8")
    return path


def _refused(path, inst, **kw) -> IngestError:
    with pytest.raises(IngestError) as exc:
        read_cases(path, inst, **kw)
    return exc.value


def test_every_violation_at_once_with_row_case_columns_values(tmp_path, ruled):
    inst = load_instrument(ruled)
    warnings: list[Problem] = []
    counts: dict[str, int] = {}
    err = _refused(
        write_csv(tmp_path / "c.csv", [HEADER, *CASES]),
        inst,
        warnings=warnings,
        rule_warnings=counts,
    )
    got = [(p.row, p.column, p.rule) for p in err.problems]
    assert got == [
        (4, "f_alcohol_progress", "progress-needs-review"),
        (6, "q_review", "licence-or-oral-reviewed"),
        (6, "f_alcohol_progress", "progress-needs-review"),
        (7, "q_review", "licence-or-oral-reviewed"),
        (8, "q_typed", None),
    ]
    assert str(err.problems[0]) == (
        "c.csv, row 4, column f_alcohol_progress: case A3: inconsistent answers (rule "
        "progress-needs-review): q_review is 'No review', so f_alcohol_progress must be 'No', "
        "but it is 'Yes'. Without a review no progress can be recorded."
    )
    assert err.problems[1].message == (
        "case A5: inconsistent answers (rule licence-or-oral-reviewed): case_type is "
        "'Community order', report_type is 'Oral', so q_review must be 'Sufficient review' or "
        "'Insufficient review', but it is 'No review'. A licence case or an oral report is "
        "reviewed."
    )
    assert "but it is 'Not applicable'" in err.problems[2].message
    rule_warnings = [w for w in warnings if w.rule]
    assert [(w.row, w.column, w.rule) for w in rule_warnings] == [
        (5, "q_typed", "licence-typed-sufficient")
    ]
    assert "case A4: unusual answers" in rule_warnings[0].message
    assert counts == {"licence-typed-sufficient": 1}


def test_one_cell_breaking_two_rules_is_reported_twice(tmp_path, ruled):
    text = (ruled.read_text() + RULES.replace("consistency:\n", "")
            .replace("id: progress-needs-review", "id: progress-needs-review-again")
            .replace("id: licence-typed-sufficient", "id: licence-typed-2")
            .replace("id: licence-or-oral-reviewed", "id: licence-or-oral-2"))  # fmt: skip
    ruled.write_text(text)
    inst = load_instrument(ruled)
    err = _refused(write_csv(tmp_path / "c.csv", [HEADER, CASES[2]]), inst)
    assert [p.rule for p in err.problems] == [
        "progress-needs-review",
        "progress-needs-review-again",
    ]


def test_error_writes_nothing_and_cli_exits_2(tmp_path, ruled, capsys):
    path = write_csv(tmp_path / "c.csv", [HEADER, *CASES[:6]])
    out = tmp_path / "out"
    with pytest.raises(IngestError):
        ingest_file(path, "t", load_instrument(ruled), out_dir=out)
    assert not out.exists() or list(out.iterdir()) == []
    code = cli.main(
        ["ingest", str(path), "--trust", "t", "--instrument", str(ruled), "--out-dir", str(out)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "4 problems (4 break consistency rules) found" in err
    assert "nothing was written" in err
    assert "warning: c.csv, row 5, column q_typed: case A4: unusual answers" in err
    assert not out.exists() or list(out.iterdir()) == []


def test_warnings_are_written_and_counted_in_provenance(tmp_path, ruled, capsys):
    inst = load_instrument(ruled)
    # A1, A2 and A4 break only the warning rule (A4), so the ingest goes through.
    path = write_csv(tmp_path / "c.csv", [HEADER, CASES[0], CASES[1], CASES[3]])
    result = ingest_file(path, "t", inst, out_dir=tmp_path / "out")
    assert result.path.exists() and result.n_cases == 3
    assert result.rule_warnings == {"licence-typed-sufficient": 1}
    record = build_provenance(
        input_path=path, instrument=inst, parameters={}, rule_warnings=result.rule_warnings
    )
    assert record["consistency_warnings"] == {"total": 1, "rules": {"licence-typed-sufficient": 1}}
    assert "A4" not in json.dumps(record)  # counts and rule ids, never case ids
    assert build_provenance(input_path=None, instrument=inst, parameters={})[
        "consistency_warnings"
    ] == {"total": 0, "rules": {}}
    code = cli.main(
        [
            "ingest",
            str(path),
            "--trust",
            "t",
            "--instrument",
            str(ruled),
            "--out-dir",
            str(tmp_path / "o2"),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert (
        "1 case(s) break consistency rules of severity warning: licence-typed-sufficient (1)" in err
    )


def test_many_warnings_of_one_rule_are_summarised(tmp_path, ruled):
    from analysis.ingest.consistency import WARNINGS_SHOWN

    inst = load_instrument(ruled)
    n = WARNINGS_SHOWN + 5
    rows = [[f"B{i}", *CASES[3][1:]] for i in range(n)]
    warnings: list[Problem] = []
    counts: dict[str, int] = {}
    read_cases(
        write_csv(tmp_path / "c.csv", [HEADER, *rows]),
        inst,
        warnings=warnings,
        rule_warnings=counts,
    )
    ruled_w = [w for w in warnings if w.rule == "licence-typed-sufficient"]
    assert len(ruled_w) == WARNINGS_SHOWN + 1
    assert (
        ruled_w[-1].message == f"and 5 more cases break rule licence-typed-sufficient ({n} in all)"
    )
    assert counts == {"licence-typed-sufficient": n}


# -- one planted violation of every IAOW rule -----------------------------------------------

#: For each rule, cells that break it (and satisfy every skip rule): worked out by hand from
#: the rule's conditions, the `then` question's own skip rule and a code the rule forbids.
PLANTS: dict[str, dict[str, str]] = {
    "compliance-action-needed": {
        "d_noncompliance": "Yes",
        "d_complied_without_action": "No",
        "d_compliance_action": "No action needed",
    },
    "compliance-no-noncompliance": {
        "d_noncompliance": "No",
        "d_complied_without_action": "No",
        "d_compliance_action": "Action taken, complied",
    },
    "compliance-breach-is-enforcement": {
        "d_noncompliance": "Yes",
        "d_complied_without_action": "No",
        "d_compliance_action": "Action taken, breach or recall",
        "d_enforcement_used": "No",
    },
    "enforcement-for-risk-is-enforcement": {
        "p_enforcement_rosh_needed": "Yes",
        "p_enforcement_rosh_taken": "Yes",
        "d_enforcement_used": "No",
    },
    "enforcement-without-risk-needs-noncompliance": {
        "d_enforcement_used": "Yes",
        "p_enforcement_rosh_needed": "No",
        "d_noncompliance": "No",
    },
    "enforcement-none-when-complied": {
        "d_complied_without_action": "Yes",
        "p_enforcement_rosh_needed": "No",
        "d_enforcement_used": "Yes",
    },
    "enforcement-for-risk-prompt-needs-action": {
        "p_enforcement_rosh_needed": "Yes",
        "p_enforcement_rosh_taken": "No",
        "p_enforcement_rosh_prompt": "Yes",
    },
    "enforcement-for-risk-reasons-need-action": {
        "p_enforcement_rosh_needed": "Yes",
        "p_enforcement_rosh_taken": "No",
        "p_enforcement_rosh_reasons": "Yes",
    },
    "enforcement-for-risk-is-a-change": {"p_enforcement_rosh_needed": "Yes", "p_rosh_change": "No"},
    "review-plan-none-not-after-change": {
        "d_significant_change": "Yes",
        "d_plan_review": "No review",
        "d_review_after_change": "Yes",
    },
    "review-plan-needs-plan": {"d_plan": "No plan", "d_plan_review": "Sufficient review"},
    "review-plan-after-change-needs-plan": {
        "d_plan": "No plan",
        "d_significant_change": "Yes",
        "d_review_after_change": "Yes",
    },
    "review-lor-none-not-after-change": {
        "d_significant_change": "Yes",
        "l_lor_review": "No review",
        "l_review_after_change": "Yes",
    },
    "review-lor-needs-assessment": {
        "l_lor_assessment": "No assessment",
        "l_lor_review": "Insufficient review",
    },
    "review-rosh-none-not-after-change": {
        "d_significant_change": "Yes",
        "p_rosh_review": "No review",
        "p_rosh_review_change": "Yes",
    },
    "review-rosh-needs-assessment": {
        "p_rosh_screening": "No screening",
        "p_rosh_analysis": "No",
        "p_rosh_review": "Sufficient review",
    },
    "review-rmp-none-not-after-change": {
        "d_significant_change": "Yes",
        "rosh_start": "Medium",
        "p_rosh_classification": "Correct",
        "p_rmp": "Insufficient plan",
        "p_rmp_review": "No review",
        "p_rmp_review_change": "Yes",
    },
    "review-rmp-needs-plan": {"p_rmp": "No plan", "p_rmp_review": "Sufficient review"},
    "review-rmp-after-change-needs-plan": {
        "p_rmp": "No plan",
        "d_significant_change": "Yes",
        "p_rmp_review_change": "Yes",
    },
    "review-rosh-change-is-significant": {"p_rosh_change": "Yes", "d_significant_change": "No"},
    "plan-informed-lor-needs-assessment": {
        "l_lor_assessment": "No assessment",
        "d_plan": "Sufficient plan",
        "d_plan_informed_lor": "Yes",
    },
    "plan-informed-rosh-needs-assessment": {
        "p_rosh_screening": "No screening",
        "p_rosh_analysis": "No",
        "d_plan": "Sufficient plan",
        "d_plan_informed_rosh": "Yes",
    },
    "analysis-missing-not-sufficient": {
        "p_rosh_analysis": "No",
        "p_rosh_analysis_sufficient": "Yes",
    },
    "rmp-factors-need-analysis": {
        "p_rosh_analysis": "Not applicable",
        "p_rmp": "Sufficient plan",
        "p_rmp_all_factors": "Yes",
    },
    "rmp-required-medium-or-higher": {
        "rosh_start": "High",
        "p_rosh_classification": "Too low",
        "p_rmp": "Not applicable",
    },
    "rmp-not-required-low": {
        "rosh_start": "Low",
        "p_rosh_classification": "Correct",
        "p_rmp": "Sufficient plan",
    },
    "rosh-not-recorded-classification": {
        "rosh_start": "Not recorded",
        "p_rosh_classification": "Too low",
    },
    "rosh-classification-not-recorded": {
        "p_rosh_classification": "Not recorded",
        "rosh_start": "Medium",
    },
    "children-risk-is-cp-issue": {"p_cyp_risk_identified": "Yes", "p_cp_issues": "No"},
    "children-objectives-need-cp-issue": {
        "p_cp_issues": "No",
        "d_plan": "Sufficient plan",
        "d_plan_cp_objectives": "Yes",
    },
    "children-procedures-need-cp-issue": {"p_cp_issues": "No", "p_cp_procedures_relevant": "Yes"},
    "victims-specific-is-risk": {"v_victim_specific": "Yes", "v_victim_risk": "No"},
    "visor-needs-mappa": {"p_mappa_eligible": "No", "p_visor_required": "Yes"},
    "mappa-sexual-offence": {"principal_offence": "Sexual offences", "p_mappa_eligible": "No"},
    "alcohol-plan-is-judged": {
        "l_lor_assessment": "Sufficient assessment",
        "f_alcohol_identified": "Yes",
        "d_plan": "Insufficient plan",
        "l_alcohol_plan": "Not applicable",
    },
    "ap-restrictive-is-restriction": {"p_ap_restrictive": "Yes", "p_restrictive_imposed": "No"},
    "cs-checks-needed-is-judged": {"p_cs_checks_needed": "Yes", "p_cs_checks": "Not applicable"},
    "police-da-checks-relevant-is-judged": {
        "p_police_da_checks_relevant": "Yes",
        "p_police_da_checks": "Not applicable",
    },
    "multiagency-relevant-is-judged": {
        "p_multiagency_relevant": "Yes",
        "p_multiagency": "Not applicable",
    },
    "home-visit-merited-is-judged": {
        "rosh_start": "High",
        "p_rosh_classification": "Correct",
        "p_home_visit_merited": "Yes",
        "p_home_visit_initial": "Not applicable",
    },
    "home-visit-repeat-required-is-judged": {
        "p_home_visit_repeat_required": "Yes",
        "p_home_visit_repeat": "Not applicable",
    },
    "cp-procedures-relevant-is-judged": {
        "p_cp_issues": "Yes",
        "p_cp_procedures_relevant": "Yes",
        "p_cp_procedures": "Not applicable",
    },
}


def test_one_planted_violation_of_each_rule_is_reported(tmp_path, default_instrument):
    inst = default_instrument
    assert set(PLANTS) == {r.id for r in inst.consistency}, "every rule needs a planted case"
    rows, where = [], {}
    for i, rule in enumerate(inst.consistency):
        row = valid_row(inst, i)
        row.update(PLANTS[rule.id])
        answer_questions(inst, row, i, keep=PLANTS[rule.id])
        rows.append(row)
        where[rule.id] = i + 2  # Excel row: the header is row 1
    warnings: list[Problem] = []
    err = _refused(write_csv(tmp_path / "planted.csv", grid(rows)), inst, warnings=warnings)
    # Every problem is a rule violation: the plants keep the skip rules and codes.
    assert [str(p) for p in err.problems if p.rule is None] == []
    found = {(p.rule, p.row, p.column): p for p in [*err.problems, *warnings] if p.rule}
    for rule in inst.consistency:
        p = found.get((rule.id, where[rule.id], rule.then_column))
        assert p is not None, f"{rule.id} not reported on row {where[rule.id]}"
        assert p.level == ("error" if rule.severity == "error" else "warning")
        plant = PLANTS[rule.id]
        assert f"case C{where[rule.id] - 2:05d}:" in p.message
        for col in rule.columns[:-1]:
            assert f"{col} is {plant[col]!r}" in p.message, (rule.id, col)
        assert f"so {rule.then_column} must be" in p.message
        assert p.message.endswith(f"but it is {plant[rule.then_column]!r}. {rule.message}")
