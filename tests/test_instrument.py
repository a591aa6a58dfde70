"""The default instrument, the published Norfolk & Suffolk figures, and the loader's error cases."""

from __future__ import annotations

import copy
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from analysis import config
from analysis.instrument import ABOVE, BELOW, NA, InstrumentError, load_instrument

PUBLISHED = config.PUBLISHED_DIR / "norfolk-and-suffolk-2014.yaml"
KINDS = {"outcome_score", "question", "breakdown", "factor", "profile", "comparison", "direction"}
KINDS |= {"contrast"}  # two questions compared ("less good at")
PREFIX = {"O1": "s_", "O2": "d_", "O3": "l_", "O4": "p_", "O5": "v_"}


@pytest.fixture(scope="module")
def inst():
    return load_instrument()


@pytest.fixture(scope="module")
def published():
    return yaml.safe_load(PUBLISHED.read_text(encoding="utf-8"))


# -- the default instrument ------------------------------------------------------------------


def test_default_instrument_loads(inst):
    assert inst.id == "iaow-2013-14"
    assert inst.version == "1.1.0"
    assert inst.path == config.DEFAULT_INSTRUMENT
    assert set(inst.outcomes) == {"O1", "O2", "O3", "O4", "O5"}
    assert inst.identifier_column == "case_id"
    # Every outcome is an average over several questions, as in the real tool.
    for outcome, n in inst.summary().items():
        assert n >= 15, f"{outcome} has only {n} scored questions"


def test_column_order_is_details_then_questions(inst):
    assert inst.columns[: len(inst.case_details)] == list(inst.case_details)
    assert len(inst.columns) == len(set(inst.columns))


def test_question_ids_are_snake_case_with_outcome_prefix(inst):
    for q in inst.questions.values():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", q.id), q.id
        if q.factor:
            assert q.id.startswith("f_"), q.id
        else:
            outcome = inst.criteria[q.criterion].outcome
            assert q.id.startswith(PREFIX[outcome]), f"{q.id} is under {outcome}"


def test_every_case_assessed_criterion_has_a_scored_question(inst):
    for c in inst.criteria.values():
        scored = inst.questions_for_criterion(c.id)
        if c.case_assessed:
            assert scored, f"criterion {c.id} has no scored question"
        else:
            assert not [q for q in inst.questions.values() if q.criterion == c.id], c.id


def test_unscored_questions_count_towards_no_outcome(inst):
    for q in inst.questions.values():
        if not q.scored:
            assert q.outcomes == (), q.id


def test_every_answer_set_has_a_not_applicable_code(inst):
    for aset in inst.answer_sets.values():
        assert aset.na_code == "Not applicable", aset.id
        assert set(aset.code_values) >= {"Not applicable"}
        assert all(c.scores in {ABOVE, BELOW, NA, None} for c in aset.codes)


def test_victim_questions_count_for_protecting_the_public(inst):
    both = [q for q in inst.questions.values() if set(q.outcomes) == {"O4", "O5"}]
    assert len(both) >= 5
    o4 = {q.id for q in inst.questions_for_outcome("O4")}
    o5 = {q.id for q in inst.questions_for_outcome("O5")}
    for q in both:
        assert q.id.startswith("v_")
        assert q.criterion in {"5.1", "5.2", "5.3"}
        assert q.id in o4 and q.id in o5
    # Victim contact (5.5) counts for work with victims only.
    assert all(q.outcomes == ("O5",) for q in inst.questions_for_criterion("5.5"))


def test_chart_questions_exist_and_each_outcome_has_a_chart(inst):
    charted = Counter()
    for q in inst.questions.values():
        if q.chart is not None:
            assert q.chart in inst.outcomes, f"{q.id}: chart {q.chart!r}"
            assert q.scored, f"{q.id} is charted but not scored"
            assert inst.criteria[q.criterion].outcome == q.chart, q.id
            charted[q.chart] += 1
    for outcome in inst.outcomes:
        assert 6 <= charted[outcome] <= 12, f"{outcome}: {charted[outcome]} chart questions"


def test_o1_chart_questions_are_about_typed_reports(inst):
    # The O1 data summary "refers to the 23 cases for which a written report had been prepared".
    for q in inst.questions.values():
        if q.chart == "O1":
            assert q.applies_when.get("report_type") == ("Typed",), q.id


def test_applies_when_chains_are_acyclic(inst):
    graph = {
        qid: [c for c in q.applies_when if c in inst.questions] for qid, q in inst.questions.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, "cycle: " + " -> ".join((*path, node))
        state[node] = 1
        for dep in graph[node]:
            visit(dep, (*path, node))
        state[node] = 2

    for qid in graph:
        visit(qid, ())
    order = list(inst.questions)
    for qid, deps in graph.items():
        for dep in deps:
            assert order.index(dep) < order.index(qid), f"{qid} depends on later {dep}"


def test_skip_rule_values_are_allowed_values(inst):
    for q in inst.questions.values():
        for col, values in q.applies_when.items():
            allowed = inst.allowed_values(col)
            assert values, f"{q.id}: empty rule on {col}"
            if allowed:
                assert set(values) <= set(allowed), (q.id, col, values)
            # A YAML 1.1 trap: unquoted Yes/No load as booleans.
            assert not {"True", "False"} & set(values), (q.id, col)


def test_review_quality_items_skip_when_there_was_no_review(inst):
    reviewed = ("Sufficient review", "Insufficient review")
    for qid in ("d_review_future_work", "d_review_compliance", "l_review_factors"):
        rule = inst.questions[qid].applies_when
        (col,) = rule
        assert inst.questions[col].answers == "review"
        assert rule[col] == reviewed


def test_factor_items_are_expanded(inst):
    assert len(inst.factors) == 10
    assert list(inst.factors)[:4] == inst_factor_head()
    for fid, factor in inst.factors.items():
        assert set(factor.items) == {"identified", "interventions", "progress"}
        ident = inst.questions[factor.items["identified"]]
        assert not ident.scored
        assert "l_lor_assessment" in ident.applies_when
        for item in ("interventions", "progress"):
            q = inst.questions[factor.items[item]]
            assert q.factor == fid and q.factor_item == item
            assert q.applies_when == {f"f_{fid}_identified": ("Yes",)}
            # Table 3.5 is descriptive: its cells (mean 39%) would make O3 = 66% unreachable.
            assert not q.scored and q.outcomes == ()
            assert inst.answer_set(q).codes_scoring(ABOVE) == ("Yes",)
    assert inst.factor_table["most_prevalent"] == 4


def inst_factor_head() -> list[str]:
    # Report table 3.5: the four most prevalent factors, in order.
    return ["thinking_behaviour", "lifestyle_associates", "alcohol", "relationships"]


def test_no_question_on_a_leadership_criterion(inst):
    leadership = {c.id for c in inst.criteria.values() if not c.case_assessed}
    assert leadership == {"1.4", "2.4", "3.4", "4.4", "5.4"}
    assert not [q.id for q in inst.questions.values() if q.criterion in leadership]


# -- the published figures -------------------------------------------------------------------


def test_published_header(inst, published):
    assert published["instrument"] == inst.id
    assert published["n_cases"] == 73
    assert published["trust"] == "norfolk-and-suffolk"
    assert len(published["ldus"]) >= 3
    ids = [f["id"] for f in published["figures"]]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    assert len(ids) >= 100


def _categories(value) -> list[str]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def test_every_published_figure_resolves(inst, published):
    keys = {
        "id", "section", "wording", "kind", "measure", "numerator", "denominator", "percent",
        "verbal", "category", "among", "group_var", "group", "higher", "lower", "note",
    }  # fmt: skip
    for f in published["figures"]:
        where = f["id"]
        assert set(f) == keys, where
        assert f["kind"] in KINDS, where
        m = f["measure"]
        if f["kind"] == "outcome_score":
            assert m in {f"score_{o}" for o in inst.outcomes}, where
            assert f["percent"] is not None, where
            continue
        assert m in inst.questions or m in inst.case_details, f"{where}: unknown measure {m}"
        if f["kind"] == "factor":
            assert inst.questions[m].factor is not None, where
        if f["kind"] == "profile":
            assert m in inst.case_details, where
        if f["kind"] in {"question", "breakdown", "comparison", "direction"}:
            assert m in inst.questions, where
        if f["kind"] == "question" and f["numerator"] is not None and m in inst.questions:
            assert inst.answer_set(m).codes_scoring(ABOVE), where
        for cat in _categories(f["category"]) + _categories(f["among"]):
            allowed = inst.allowed_values(m)
            if allowed:
                assert cat in allowed, f"{where}: {cat!r} is not a value of {m}"
            else:
                assert inst.case_details[m].type == "count" and re.fullmatch(r"\d+\+", cat), where
        if f["kind"] == "breakdown":
            assert f["category"] is not None, where
        gv = f["group_var"]
        if f["kind"] in {"comparison", "direction"}:
            assert gv in inst.case_details, f"{where}: group_var {gv!r}"
        if gv is not None:
            for g in (f["group"], f["higher"], f["lower"]):
                if g is None or g == "rest":
                    continue
                if gv == "ldu":
                    assert g in published["ldus"], f"{where}: LDU {g!r}"
                else:
                    assert g in inst.allowed_values(gv), f"{where}: {gv} value {g!r}"
        if f["kind"] == "comparison":
            assert f["group"] is not None, where
        if f["kind"] == "direction":
            assert f["higher"] and f["lower"] and f["higher"] != f["lower"], where
        has_value = any(f[k] is not None for k in ("numerator", "percent", "verbal"))
        assert has_value or f["kind"] == "direction", f"{where}: states nothing"


def test_published_counts_are_arithmetically_consistent(published):
    for f in published["figures"]:
        num, den, pct = f["numerator"], f["denominator"], f["percent"]
        if num is not None and den is not None:
            assert 0 <= num <= den, f["id"]
            if pct is not None:
                assert int(100 * num / den + 0.5) == pct, f["id"]
        if pct is not None:
            assert 0 <= pct <= 100, f["id"]
        if den is not None:
            assert den <= published["n_cases"], f["id"]


def test_factor_table_is_complete(inst, published):
    by_measure = Counter(f["measure"] for f in published["figures"] if f["kind"] == "factor")
    for factor in inst.factors.values():
        for qid in factor.items.values():
            assert by_measure[qid] >= 1, qid


def test_every_chart_question_or_outcome_score_is_published(inst, published):
    measures = {f["measure"] for f in published["figures"]}
    assert {f"score_{o}" for o in inst.outcomes} <= measures


# -- loader error cases ----------------------------------------------------------------------

MINIMAL = {
    "id": "mini",
    "version": "0.1.0",
    "answer_sets": {
        "yn": {
            "codes": [
                {"code": "Yes", "scores": "above"},
                {"code": "No", "scores": "below"},
                {"code": "Not applicable", "scores": "na"},
            ]
        }
    },
    "outcomes": [{"id": "O1", "number": 1, "name": "Outcome one"}],
    "criteria": [{"id": "1.1", "outcome": "O1", "stage": "a", "title": "Criterion"}],
    "case_details": [
        {"id": "case_id", "type": "identifier"},
        {"id": "kind", "type": "category", "codes": ["A", "B"]},
    ],
    "questions": [
        {"id": "q_first", "text": "First?", "criterion": "1.1"},
        {"id": "q_second", "text": "Second?", "criterion": "1.1", "applies_when": {"kind": ["A"]}},
    ],
}


def _write(tmp_path: Path, spec) -> Path:
    path = tmp_path / "instrument.yaml"
    text = spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def _spec(**changes):
    spec = copy.deepcopy(MINIMAL)
    spec.update(changes)
    return spec


def test_minimal_instrument_loads(tmp_path):
    inst = load_instrument(_write(tmp_path, MINIMAL))
    assert list(inst.questions) == ["q_first", "q_second"]
    assert inst.questions["q_second"].applies_when == {"kind": ("A",)}
    assert inst.summary() == {"O1": 2}


def test_unknown_criterion(tmp_path):
    spec = _spec()
    spec["questions"][0]["criterion"] = "9.9"
    with pytest.raises(InstrumentError, match=r"q_first: unknown criterion '9\.9'"):
        load_instrument(_write(tmp_path, spec))


def test_duplicate_question_id(tmp_path):
    spec = _spec()
    spec["questions"][1]["id"] = "q_first"
    with pytest.raises(InstrumentError, match="duplicate column id 'q_first'"):
        load_instrument(_write(tmp_path, spec))


def test_question_id_clashing_with_a_case_detail(tmp_path):
    spec = _spec()
    spec["questions"][0]["id"] = "kind"
    with pytest.raises(InstrumentError, match="duplicate column id 'kind'"):
        load_instrument(_write(tmp_path, spec))


def test_unknown_answer_set(tmp_path):
    spec = _spec()
    spec["questions"][0]["answers"] = "nonesuch"
    with pytest.raises(InstrumentError, match="q_first: unknown answer set 'nonesuch'"):
        load_instrument(_write(tmp_path, spec))


def test_answer_code_with_bad_scores(tmp_path):
    spec = _spec()
    spec["answer_sets"]["yn"]["codes"][0]["scores"] = "maybe"
    with pytest.raises(InstrumentError, match="answer set yn: code 'Yes' scores 'maybe'"):
        load_instrument(_write(tmp_path, spec))


def test_scored_question_needs_an_above_code(tmp_path):
    spec = _spec()
    spec["answer_sets"]["kinds"] = {"codes": [{"code": "X", "scores": None}]}
    spec["questions"][0]["answers"] = "kinds"
    with pytest.raises(InstrumentError, match="q_first: scored but its answers have no 'above'"):
        load_instrument(_write(tmp_path, spec))


def test_skip_rule_naming_a_later_column_reorders_the_columns(tmp_path):
    spec = _spec()
    spec["questions"][0]["applies_when"] = {"q_second": ["Yes"]}
    del spec["questions"][1]["applies_when"]
    inst = load_instrument(_write(tmp_path, spec))
    # The gate must come first so validation and generation see it before its dependants.
    assert list(inst.questions).index("q_second") < list(inst.questions).index("q_first")


def test_skip_rules_forming_a_cycle(tmp_path):
    spec = _spec()
    spec["questions"][0]["applies_when"] = {"q_second": ["Yes"]}
    spec["questions"][1]["applies_when"] = {"q_first": ["Yes"]}
    with pytest.raises(InstrumentError, match="skip rules form a cycle among: q_first, q_second"):
        load_instrument(_write(tmp_path, spec))


def test_unknown_key_in_a_question_is_refused(tmp_path):
    spec = _spec()
    spec["questions"][1]["applies_whn"] = {"q_first": ["Yes"]}
    with pytest.raises(
        InstrumentError, match=r"question q_second: unknown key\(s\) \['applies_whn'\]"
    ):
        load_instrument(_write(tmp_path, spec))


def test_chart_must_name_an_outcome(tmp_path):
    spec = _spec()
    spec["questions"][1]["chart"] = "O9"
    with pytest.raises(InstrumentError, match="q_second: chart 'O9' is not an outcome id"):
        load_instrument(_write(tmp_path, spec))


def test_skip_rule_naming_an_unknown_column(tmp_path):
    spec = _spec()
    spec["questions"][1]["applies_when"] = {"nowhere": ["Yes"]}
    with pytest.raises(InstrumentError, match="q_second: applies_when names unknown 'nowhere'"):
        load_instrument(_write(tmp_path, spec))


def test_skip_rule_with_an_unknown_value(tmp_path):
    spec = _spec()
    spec["questions"][1]["applies_when"] = {"kind": ["C"]}
    with pytest.raises(InstrumentError, match=r"q_second: applies_when kind has unknown \['C'\]"):
        load_instrument(_write(tmp_path, spec))


def test_unquoted_yes_in_a_skip_rule_is_caught(tmp_path):
    text = yaml.safe_dump(MINIMAL, sort_keys=False).replace("kind:\n    - A", "q_first: [Yes]")
    assert "q_first: [Yes]" in text
    with pytest.raises(
        InstrumentError, match=r"applies_when q_first: value True is a YAML boolean"
    ):
        load_instrument(_write(tmp_path, text))


def test_skip_rule_needs_a_not_applicable_code(tmp_path):
    spec = _spec()
    spec["answer_sets"]["yes_no"] = {
        "codes": [{"code": "Yes", "scores": "above"}, {"code": "No", "scores": "below"}]
    }
    spec["questions"][1]["answers"] = "yes_no"
    with pytest.raises(InstrumentError, match="q_second: has a skip rule but no 'na' answer"):
        load_instrument(_write(tmp_path, spec))


def test_not_yaml(tmp_path):
    with pytest.raises(InstrumentError, match="not valid YAML"):
        load_instrument(_write(tmp_path, "id: [unclosed\n  version: {"))


def test_not_a_mapping(tmp_path):
    with pytest.raises(InstrumentError, match="expected a mapping at the top level"):
        load_instrument(_write(tmp_path, "- just\n- a list\n"))


def test_missing_file(tmp_path):
    with pytest.raises(InstrumentError, match="cannot read instrument"):
        load_instrument(tmp_path / "absent.yaml")


def test_missing_required_key(tmp_path):
    spec = _spec()
    del spec["questions"][0]["text"]
    with pytest.raises(InstrumentError, match="missing or malformed entry 'text'"):
        load_instrument(_write(tmp_path, spec))


def test_unknown_outcome_on_a_question(tmp_path):
    spec = _spec()
    spec["questions"][0]["outcomes"] = ["O7"]
    with pytest.raises(InstrumentError, match="q_first: unknown outcome 'O7'"):
        load_instrument(_write(tmp_path, spec))


def test_factor_template_expansion(tmp_path):
    spec = _spec(
        factor_items={
            "identified": {
                "id": "f_{id}_identified",
                "text": "Was {label} a factor?",
                "criterion": "1.1",
                "scored": False,
            },
            "progress": {
                "id": "f_{id}_progress",
                "text": "Progress on {label}?",
                "criterion": "1.1",
                "applies_when": {"f_{id}_identified": ["Yes"]},
            },
        },
        factors=[{"id": "drugs", "label": "drug misuse"}],
    )
    inst = load_instrument(_write(tmp_path, spec))
    assert list(inst.questions)[-2:] == ["f_drugs_identified", "f_drugs_progress"]
    assert inst.questions["f_drugs_progress"].text == "Progress on drug misuse?"
    assert inst.questions["f_drugs_progress"].applies_when == {"f_drugs_identified": ("Yes",)}
    assert inst.factors["drugs"].items == {
        "identified": "f_drugs_identified",
        "progress": "f_drugs_progress",
    }


def test_coverage_document_lists_every_published_figure(published):
    text = (config.DOCS_DIR / "instrument-coverage.md").read_text(encoding="utf-8")
    missing = [f["id"] for f in published["figures"] if f"| {f['id']}" not in text]
    assert not missing, f"not in docs/instrument-coverage.md: {missing}"


def test_compare_flag_lists_comparison_columns_in_declared_order(tmp_path):
    spec = _spec()
    spec["case_details"].append({"id": "grade", "type": "category", "codes": ["PO", "PSO"]})
    spec["case_details"].append({"id": "unit", "type": "text", "compare": True})
    spec["case_details"][-2]["compare"] = True
    inst = load_instrument(_write(tmp_path, spec))
    assert inst.comparison_columns == ["grade", "unit"]


@pytest.mark.parametrize(
    ("detail", "why"),
    [
        ({"id": "n", "type": "count", "compare": True}, "this one is count"),
        ({"id": "who", "type": "text", "sensitive": True, "compare": True}, "is sensitive"),
    ],
)
def test_compare_flag_refused_on_counts_and_sensitive_details(tmp_path, detail, why):
    spec = _spec()
    spec["case_details"].append(detail)
    with pytest.raises(InstrumentError, match=f"case detail {detail['id']}: compare: true.*{why}"):
        load_instrument(_write(tmp_path, spec))


# -- any_of skip rules --------------------------------------------------------------------


def _any_of_spec():
    spec = _spec()
    spec["case_details"].append({"id": "level", "type": "category", "codes": ["Low", "High"]})
    # q_third applies to kind A cases that are high level or answered Yes to q_first.
    spec["questions"].append(
        {
            "id": "q_third",
            "text": "Third?",
            "criterion": "1.1",
            "applies_when": {"kind": ["A"], "any_of": [{"level": ["High"]}, {"q_first": ["Yes"]}]},
        }
    )
    return spec


def test_any_of_rule_is_parsed_and_worded(tmp_path):
    q = load_instrument(_write(tmp_path, _any_of_spec())).questions["q_third"]
    assert q.applies_when == {"kind": ("A",)}
    assert q.applies_any == ({"level": ("High",)}, {"q_first": ("Yes",)})
    assert q.has_rule and q.rule_columns == ["kind", "level", "q_first"]
    assert q.rule_text() == "kind is A and (level is High, or q_first is Yes)"


def test_any_of_rule_mask_by_hand(tmp_path):
    q = load_instrument(_write(tmp_path, _any_of_spec())).questions["q_third"]
    cases = {
        "kind": np.array(["A", "A", "A", "B", "A"]),
        "level": np.array(["High", "Low", "Low", "High", "High"]),
        "q_first": np.array(["No", "Yes", "No", "Yes", "Yes"]),
    }
    # A+High: yes; A+Yes: yes; A with neither: no; kind B: no whatever else; A+both: yes.
    mask = q.rule_mask(lambda c, v: np.isin(cases[c], v), 5)
    assert mask.tolist() == [True, True, False, False, True]


def test_any_of_naming_a_later_question_reorders_the_columns(tmp_path):
    spec = _any_of_spec()
    spec["questions"].insert(0, spec["questions"].pop())  # q_third declared first
    inst = load_instrument(_write(tmp_path, spec))
    assert list(inst.questions).index("q_first") < list(inst.questions).index("q_third")


@pytest.mark.parametrize(
    ("any_of", "message"),
    [
        ([{"level": ["High"]}], "two or more mappings"),
        ({"level": ["High"]}, "two or more mappings"),
        ([{"level": ["High"]}, {"nonesuch": ["Yes"]}], "applies_when names unknown 'nonesuch'"),
        ([{"level": ["Hihg"]}, {"q_first": ["Yes"]}], r"applies_when level has unknown \['Hihg'\]"),
    ],
)
def test_bad_any_of_rules_are_refused(tmp_path, any_of, message):
    spec = _any_of_spec()
    spec["questions"][-1]["applies_when"]["any_of"] = any_of
    with pytest.raises(InstrumentError, match=message):
        load_instrument(_write(tmp_path, spec))


def test_a_column_called_any_of_is_refused(tmp_path):
    spec = _spec()
    spec["case_details"].append({"id": "any_of", "type": "text"})
    with pytest.raises(InstrumentError, match="may not be called 'any_of'"):
        load_instrument(_write(tmp_path, spec))


# -- languages and answer aliases ------------------------------------------------------------


def _aliases(*groups, languages=None):
    return _spec(
        languages=languages or {"en": "English", "cy": "Welsh"}, answer_aliases=list(groups)
    )


def _group(language, source="a dictionary", **answers):
    return {"language": language, "source": source, "answers": answers}


def test_aliases_load_and_reach_only_columns_with_their_code(tmp_path):
    spec = _aliases(_group("cy", **{"No": ["Na"], "A": ["Ey"]}), _group(None, **{"Yes": ["1"]}))
    inst = load_instrument(_write(tmp_path, spec))
    assert inst.languages == {"en": "English", "cy": "Welsh"}
    q_first = {(a.text, a.code, a.language) for a in inst.aliases("q_first")}
    assert q_first == {("Na", "No", "cy"), ("1", "Yes", None)}
    assert [(a.text, a.code) for a in inst.aliases("kind")] == [("Ey", "A")]
    assert all(a.source == "a dictionary" for a in inst.answer_aliases)


def test_answer_set_aliases(tmp_path):
    spec = _spec(languages={"cy": "Welsh"})
    spec["answer_sets"]["yn"]["aliases"] = [_group("cy", **{"Yes": ["Ie"]})]
    inst = load_instrument(_write(tmp_path, spec))
    assert [(a.text, a.code) for a in inst.aliases("q_first")] == [("Ie", "Yes")]
    assert inst.aliases("kind") == ()


def test_one_spelling_may_mean_two_answers_in_two_languages(tmp_path):
    # Welsh "Na" is No and English "NA" is Not applicable: allowed, ingest asks which.
    spec = _aliases(_group("cy", **{"No": ["Na"]}), _group("en", **{"Not applicable": ["NA"]}))
    assert len(load_instrument(_write(tmp_path, spec)).answer_aliases) == 2


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([_group("cy", **{"No": ["Na"], "Not applicable": ["na"]})],
         "alias 'na' means 'Not applicable' and 'No' in cy"),
        ([_group(None, **{"No": ["N"]}), _group("en", **{"Yes": ["n"]})],
         "alias 'n' means 'Yes' and 'No'"),
        ([_group("cy", **{"No": ["yes"]})], "alias 'yes' \\(No\\) is spelt like the code 'Yes'"),
        ([_group("fr", **{"No": ["Non"]})], "language 'fr' is not declared under languages"),
        ([_group("cy", source="", **{"No": ["Na"]})], "every alias must cite its source"),
        ([{"language": "cy", "answers": {"No": ["Na"]}}], "every alias must cite its source"),
        ([_group("cy", **{"Nope": ["Na"]})], "'Nope' is not an answer code here"),
        ([_group("cy", **{"No": [True]})], "is a YAML boolean"),
        ([_group("cy", **{"No": ["  "]})], "an alias may not be blank"),
        ([{"language": "cy", "source": "x", "answers": {"No": ["Na"]}, "lang": 1}], "unknown key"),
    ],
)  # fmt: skip
def test_incoherent_aliases_are_refused(tmp_path, groups, message):
    with pytest.raises(InstrumentError, match=message):
        load_instrument(_write(tmp_path, _aliases(*groups)))


@pytest.mark.parametrize("languages", [{"EN": "English"}, {"english": "English"}, ["en"]])
def test_language_ids_are_iso_codes(tmp_path, languages):
    with pytest.raises(InstrumentError, match="language"):
        load_instrument(_write(tmp_path, _spec(languages=languages)))


def test_default_instrument_declares_welsh_and_english(inst):
    assert set(inst.languages) == {"en", "cy"}
    meanings = {(a.text, a.language): a.code for a in inst.aliases("v_victim_risk")}
    assert meanings[("Na", "cy")] == "No" and meanings[("NA", "en")] == "Not applicable"
    assert meanings[("Ie", "cy")] == "Yes" and meanings[("Naddo", "cy")] == "No"
    assert meanings[("Amherthnasol", "cy")] == "Not applicable"
    assert all(a.source for a in inst.answer_aliases)


# -- the file itself ---------------------------------------------------------------------------


def test_oversized_instrument_is_refused_without_reading_it(tmp_path, monkeypatch):
    from analysis.instrument import loader

    path = _write(tmp_path, MINIMAL)
    monkeypatch.setattr(loader, "MAX_INSTRUMENT_BYTES", 100)
    with pytest.raises(InstrumentError, match="is larger than 100 bytes; an instrument is a small"):
        load_instrument(path)


def test_device_is_refused(tmp_path):
    with pytest.raises(InstrumentError, match="/dev/zero is a device, pipe or socket"):
        load_instrument("/dev/zero")


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "instrument.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InstrumentError, match="is a device, pipe or socket, not a YAML file"):
        load_instrument(fifo)


def test_folder_is_refused(tmp_path):
    with pytest.raises(InstrumentError, match="is a folder, not a YAML file"):
        load_instrument(tmp_path)
