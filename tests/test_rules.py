"""Consistency rules in the instrument format: what the loader reads, refuses and shares.

The loader's refusals are checked on the tiny instrument plus hand-written rules; the
IAOW rule set is checked for shape (every rule cites a source, kinds are known).
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.instrument import ConsistencyRule, InstrumentError, load_instrument
from analysis.instrument.model import RULE_KINDS, conditions_mask
from analysis.instrument.rules import rule_info
from conftest import TINY_INSTRUMENT_YAML

RULE = """consistency:
  - id: progress-needs-review
    kind: review
    when: {q_review: [No review]}
    then: {f_alcohol_progress: ["No"]}
    severity: error
    message: "No review, so no progress could be recorded."
    source: "test: hand-written"
"""


def _load(tmp_path, rules: str):
    path = tmp_path / "rules.yaml"
    path.write_text(TINY_INSTRUMENT_YAML + rules, encoding="utf-8")
    return load_instrument(path)


def _refused(tmp_path, rules: str) -> str:
    with pytest.raises(InstrumentError) as exc:
        _load(tmp_path, rules)
    return str(exc.value)


def test_rule_is_read(tmp_path):
    inst = _load(tmp_path, RULE)
    assert inst.consistency == (
        ConsistencyRule(
            id="progress-needs-review",
            kind="review",
            when={"q_review": ("No review",)},
            any_of=(),
            then_column="f_alcohol_progress",
            allowed=("No",),
            severity="error",
            message="No review, so no progress could be recorded.",
            source="test: hand-written",
        ),
    )
    assert inst.consistency[0].columns == ["q_review", "f_alcohol_progress"]
    assert rule_info(inst)[0]["then"] == 'f_alcohol_progress must be "No"'
    assert rule_info(inst)[0]["when"] == "q_review is No review"


def test_instrument_without_rules_has_none(tiny_instrument):
    assert tiny_instrument.consistency == ()


def test_unknown_question_refused_with_suggestion(tmp_path):
    msg = _refused(tmp_path, RULE.replace("when: {q_review:", "when: {q_reveiw:"))
    assert "consistency rule progress-needs-review" in msg
    assert "unknown question or case detail 'q_reveiw'; did you mean 'q_review'?" in msg


def test_unknown_code_refused_with_suggestion(tmp_path):
    msg = _refused(
        tmp_path,
        RULE.replace('then: {f_alcohol_progress: ["No"]}', 'then: {f_alcohol_progress: ["Noo"]}'),
    )
    assert "progress-needs-review" in msg
    assert "then f_alcohol_progress: unknown code 'Noo'; did you mean 'No'?" in msg


def test_unknown_then_column_refused(tmp_path):
    msg = _refused(
        tmp_path, RULE.replace("then: {f_alcohol_progress:", "then: {f_alcohol_progres:")
    )
    assert "then names unknown question or case detail 'f_alcohol_progres'" in msg
    assert "did you mean 'f_alcohol_progress'?" in msg


def test_free_column_refused(tmp_path):
    msg = _refused(tmp_path, RULE.replace("when: {q_review: [No review]}", "when: {trust: [x]}"))
    assert "names 'trust', which has no codes" in msg


def test_then_in_its_own_when_refused(tmp_path):
    msg = _refused(
        tmp_path,
        RULE.replace("when: {q_review: [No review]}", 'when: {f_alcohol_progress: ["Yes"]}'),
    )
    assert "then column 'f_alcohol_progress' is also one of its own conditions" in msg


def test_two_then_columns_refused(tmp_path):
    msg = _refused(
        tmp_path,
        RULE.replace(
            'then: {f_alcohol_progress: ["No"]}',
            'then: {f_alcohol_progress: ["No"], q_typed: ["No"]}',
        ),
    )
    assert "then must name exactly one column" in msg


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("kind: review", "kind: reviews"), "kind 'reviews' is not one of"),
        (("severity: error", "severity: fatal"), "severity 'fatal' is not error or warning"),
        (('    source: "test: hand-written"\n', ""), "needs a plain-English source"),
        (("    message:", "    mesage:"), "unknown key(s) ['mesage']; did you mean 'message'?"),
        (("    then:", "    any_of: [{case_type: [Licence]}]\n    then:"), "two or more mappings"),
        (('["No"]}', "[No]}"), "YAML boolean"),
    ],
)
def test_malformed_rule_refused(tmp_path, change, expected):
    msg = _refused(tmp_path, RULE.replace(*change))
    assert expected in msg
    assert "progress-needs-review" in msg


def test_duplicate_rule_id_refused(tmp_path):
    again = RULE.replace("consistency:\n", "")
    assert "duplicate rule id" in _refused(tmp_path, RULE + again)


CONTRADICTION = """consistency:
  - id: licence-reviewed
    kind: licence
    when: {case_type: [Licence]}
    then: {q_review: [Sufficient review]}
    severity: error
    message: "m"
    source: "s"
  - id: oral-not-reviewed
    kind: review
    when: {report_type: [Oral]}
    then: {q_review: [No review, Not applicable]}
    severity: warning
    message: "m"
    source: "s"
"""


def test_rules_no_case_could_satisfy_refused(tmp_path):
    # A licence case with an oral report meets both conditions; no code of q_review is in both.
    msg = _refused(tmp_path, CONTRADICTION)
    assert "consistency rules licence-reviewed and oral-not-reviewed can both apply" in msg
    assert "no case could satisfy both" in msg


def test_rules_on_disjoint_cases_accepted(tmp_path):
    # The same then-codes, but a case cannot be both Typed and Oral.
    inst = _load(
        tmp_path, CONTRADICTION.replace("{case_type: [Licence]}", "{report_type: [Typed]}")
    )
    assert [r.id for r in inst.consistency] == ["licence-reviewed", "oral-not-reviewed"]


def test_skip_rules_make_conditions_disjoint(tmp_path):
    # f_alcohol_progress is Yes only where f_alcohol_identified is Yes (its skip rule), so a
    # case cannot meet "progress Yes" and "identified No" at once: the pair is accepted.
    rules = """consistency:
  - id: progress-reviewed
    kind: factors
    when: {f_alcohol_progress: ["Yes"]}
    then: {q_review: [Sufficient review]}
    severity: error
    message: "m"
    source: "s"
  - id: no-alcohol-no-review
    kind: factors
    when: {f_alcohol_identified: ["No"]}
    then: {q_review: [No review]}
    severity: error
    message: "m"
    source: "s"
"""
    assert len(_load(tmp_path, rules).consistency) == 2
    # ... but "progress Not applicable" holds in exactly those cases: refused.
    clash = rules.replace(
        '{f_alcohol_progress: ["Yes"]}', '{f_alcohol_progress: ["Not applicable"]}'
    )
    assert "progress-reviewed and no-alcohol-no-review" in _refused(tmp_path, clash)


def test_one_condition_logic_for_skip_rules_and_consistency_rules(tmp_path, any_of_instrument):
    # q_oversight applies to licences OR sufficient typed reports; a rule with the same
    # conditions selects the same cases, by the same function.
    q = any_of_instrument.questions["q_oversight"]
    data = {
        "case_type": np.array(["Licence", "Community order", "Community order", "Licence"]),
        "q_typed": np.array(["No", "Yes", "No", "Yes"]),
    }

    def member(col, values):
        return np.isin(data[col], list(values))

    expected = [True, True, False, True]  # worked out from the rule by hand
    assert q.rule_mask(member, 4).tolist() == expected
    rule = ConsistencyRule(
        "r", "review", {}, q.applies_any, "q_review", ("No review",), "error", "m", "s"
    )
    assert rule.mask(member, 4).tolist() == expected
    assert conditions_mask({"q_typed": ("No",)}, q.applies_any, member, 4).tolist() == [
        True, False, False, False,
    ]  # fmt: skip


def test_iaow_rules_cite_sources_and_cover_the_kinds(default_instrument):
    rules = default_instrument.consistency
    assert len(rules) >= 30
    assert {r.kind for r in rules} <= set(RULE_KINDS)
    assert all(r.source and r.message for r in rules)
    # The six contradictions the issue found in the demo workbook each have a rule.
    ids = {r.id for r in rules}
    assert {
        "compliance-action-needed",
        "review-plan-none-not-after-change",
        "review-lor-needs-assessment",
        "visor-needs-mappa",
        "children-risk-is-cp-issue",
        "enforcement-for-risk-is-enforcement",
    } <= ids
