"""The instrument format's ratings, key questions, samples and dates (issue 16, point 1).

A tiny instrument (``tests/data/instruments/tiny-standards.yaml``) is loaded as written and
with one thing changed at a time; every expected value below is worked by hand.
"""

from __future__ import annotations

import copy
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import yaml

from analysis.instrument import InstrumentError, load_instrument

TINY = Path(__file__).parent / "data" / "instruments" / "tiny-standards.yaml"


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(TINY.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tiny():
    return load_instrument(TINY)


def load_changed(tmp_path, raw, change):
    """Load the tiny instrument after ``change(copy)`` has edited a deep copy of it."""
    spec = copy.deepcopy(raw)
    change(spec)
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return load_instrument(path)


def test_the_tiny_instrument_loads_with_its_sections(tiny):
    assert list(tiny.key_questions) == [
        "kq_engage",
        "kq_desist",
        "kq_safety",
        "kq_plan",
        "kq_court",
    ]
    assert [s.id for s in tiny.ratings.standards] == ["1.1", "2.1", "2.2", "3.1"]
    assert tiny.ratings.overall_standards == ("1.1", "2.1", "2.2", "3.1")
    assert tiny.key_questions["kq_plan"].columns == ("p_p1", "p_p2")
    assert tiny.key_questions["kq_engage"].columns == ("a_engage",)
    assert tiny.date_columns == ["sentence_date", "first_contact"]


def test_samples_add_their_condition_to_the_questions_skip_rules(tiny):
    # criteria 2.1 and 2.2 are the supervision sample, 3.1 the court sample
    assert tiny.questions["c_report"].applies_when == {"sample": ("Court",)}
    assert tiny.questions["a_engage"].applies_when == {"sample": ("Supervision",)}
    assert tiny.sample_of("c_report") == "court"
    assert tiny.sample_of("p_p1") == "supervision"
    assert tiny.questions["a_engage"].rule_text() == "sample is Supervision"


# -- unknown keys are refused, wherever they are ---------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # bands at the top level: today's silent mistake
        (lambda s: s.update(rating_bands=[{"rating": "good", "at_least": 65}]), "top level"),
        (lambda s: s["criteria"][1].update(bands=[1, 2]), r"criteria entry 2\.1.*bands"),
        (lambda s: s["outcomes"][0].update(rating="good"), "outcomes entry D1"),
        (lambda s: s["answer_sets"]["yn"].update(points=1), "answer set yn"),
        (lambda s: s["ratings"].update(bandz=[]), r"ratings\.bandz: unknown key"),
        (
            lambda s: s["ratings"]["bands"]["ranges"][1].update(to=60),
            r"ratings\.bands\.ranges\.1\.to: unknown key",
        ),
        (
            lambda s: s["ratings"]["standards"][1].update(bands=[]),
            r"ratings\.standards\.1\.bands: unknown key",
        ),
        (lambda s: s["key_questions"][0].update(prompt=["a_desist"]), r"key_questions\.1\.prompt"),
        (lambda s: s["samples"]["groups"][0].update(size=10), r"samples\.groups\.0\.size"),
        (lambda s: s["scoring"] if "scoring" in s else s.update(scoring={"bands": 1}), "scoring"),
    ],
)
def test_unknown_keys_are_refused_naming_the_file_and_key(tmp_path, raw, change, message):
    with pytest.raises(InstrumentError, match=message) as err:
        load_changed(tmp_path, raw, change)
    assert "unknown key" in str(err.value)


def test_a_pydantic_refusal_names_the_file(tmp_path, raw):
    with pytest.raises(InstrumentError, match=r"changed\.yaml: ratings\.bands\.source"):
        load_changed(tmp_path, raw, lambda s: s["ratings"]["bands"].pop("source"))


# -- bands ---------------------------------------------------------------------------------


def _ranges(raw, ranges, rounding=True):
    def change(s):
        s["ratings"]["bands"]["ranges"] = ranges
        s["ratings"]["bands"]["round_before_banding"] = rounding

    return change


def test_whole_percent_bands_may_leave_gaps_no_rounded_value_falls_in(tmp_path, raw):
    # rounded to whole percentages, "50-64%" then "65-79%" covers every possible value
    ranges = [
        {"rating": "inadequate", "at_most": 49},
        {"rating": "requires_improvement", "at_least": 50, "at_most": 64},
        {"rating": "good", "at_least": 65, "at_most": 79},
        {"rating": "outstanding", "at_least": 80},
    ]
    inst = load_changed(tmp_path, raw, _ranges(raw, ranges))
    assert inst.ratings.bands.rating(Fraction(129, 2)) is None  # 64.5 is never placed unrounded
    assert inst.ratings.bands.rating(inst.ratings.bands.value(129, 200)) == "good"  # 64.5 -> 65
    # ... but unrounded percentages fall in the gaps (49, 50), (64, 65): refused
    with pytest.raises(InstrumentError, match="no band holds 49.5"):
        load_changed(tmp_path, raw, _ranges(raw, ranges, rounding=False))


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        (
            [{"rating": "inadequate", "at_most": 50}, {"rating": "good", "at_least": 50}],
            "more than one",
        ),
        (
            [{"rating": "good", "below": 50}, {"rating": "inadequate", "at_least": 50}],
            "lower rating",
        ),
        ([{"rating": "inadequate", "below": 50}], "no band holds 50"),
        ([{"rating": "great", "at_least": 0}], "not on the scale"),
        ([{"rating": "good", "at_least": 0, "above": 1}], "not both"),
    ],
)
def test_bands_that_overlap_leave_a_gap_or_fall_are_refused(tmp_path, raw, ranges, message):
    with pytest.raises(InstrumentError, match=message):
        load_changed(tmp_path, raw, _ranges(raw, ranges))


def test_band_edges_inclusive_and_exclusive(tiny):
    b = tiny.ratings.bands
    # at_least 65 is inclusive, below 65 exclusive: 13 of 20 is exactly 65% -> good
    assert b.rating(b.value(13, 20)) == "good"
    # 64% (16 of 25) -> requires improvement; 80% (4 of 5) -> outstanding; 49% -> inadequate
    assert b.rating(b.value(16, 25)) == "requires_improvement"
    assert b.rating(b.value(4, 5)) == "outstanding"
    assert b.rating(b.value(49, 100)) == "inadequate"
    assert b.rating(b.value(1, 2)) == "requires_improvement"  # 50% is at_least 50
    assert b.value(0, 0) is None and b.rating(None) is None


def test_rounding_before_banding(tmp_path, raw, tiny):
    b = tiny.ratings.bands
    # 129 of 200 = 64.5%, rounded half up to 65 -> good; 6449 of 10000 = 64.49 -> 64 -> RI
    assert b.value(129, 200) == 65 and b.rating(b.value(129, 200)) == "good"
    assert b.value(6449, 10000) == 64 and b.rating(b.value(6449, 10000)) == "requires_improvement"
    # 159 of 200 = 79.5 -> 80 -> outstanding; 2 of 3 = 66.67 -> 67 -> good
    assert b.rating(b.value(159, 200)) == "outstanding" and b.value(2, 3) == 67
    unrounded = load_changed(
        tmp_path, raw, lambda s: s["ratings"]["bands"].update(round_before_banding=False)
    ).ratings.bands
    assert unrounded.value(129, 200) == Fraction(129, 2)
    assert unrounded.rating(unrounded.value(129, 200)) == "requires_improvement"
    assert unrounded.rating(unrounded.value(159, 200)) == "good"
    # to one decimal: 2 of 3 = 66.666.. -> 66.7
    one = load_changed(tmp_path, raw, lambda s: s["ratings"]["bands"].update(decimals=1))
    assert one.ratings.bands.value(2, 3) == Fraction(667, 10)


def test_points_and_overall_bands(tmp_path, raw, tiny):
    r = tiny.ratings
    assert [r.points(x) for x in ("inadequate", "requires_improvement", "good", "outstanding")] == [
        0,
        1,
        2,
        3,
    ]
    # four standards: 0..12 points; 2 -> inadequate, 3 and 6 -> RI, 7 -> good, 11 -> outstanding
    overall = r.overall
    rate = [
        next(b.rating for b in overall.ranges if b.contains(p)) for p in (2, 3, 6, 7, 10, 11, 12)
    ]
    assert rate == [
        "inadequate",
        "requires_improvement",
        "requires_improvement",
        "good",
        "good",
        "outstanding",
        "outstanding",
    ]
    with pytest.raises(InstrumentError, match=r"overall\.ranges: no band holds 12"):
        load_changed(
            tmp_path, raw, lambda s: s["ratings"]["overall"]["ranges"][3].update(at_most=11)
        )
    with pytest.raises(InstrumentError, match="needs points"):
        load_changed(tmp_path, raw, lambda s: s["ratings"]["scale"][0].pop("points"))


# -- standards and key questions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["ratings"]["standards"][1].update(key_questions=[]), "needs key_questions"),
        (
            lambda s: s["ratings"]["standards"][1].update(rests_on="median"),
            r"standards\.1\.rests_on",
        ),
        (
            lambda s: s["ratings"]["standards"][0].update(key_questions=["kq_engage"]),
            "separate input",
        ),
        (lambda s: s["ratings"]["standards"][2].update(measure="nope"), "not a key question"),
        (lambda s: s["ratings"]["standards"][1].update(sample="victims"), "unknown sample"),
        (
            lambda s: s["ratings"]["standards"][1].update(key_questions=["kq_x"]),
            "unknown key question",
        ),
        (lambda s: s["ratings"]["overall"].update(standards=["9.9"]), "unknown standard"),
        (lambda s: s["key_questions"][3].update(prompts=[]), "give prompts"),
        (lambda s: s["key_questions"][3].update(combine="at_least", at_least=3), "exceeds"),
        (lambda s: s["key_questions"][3].update(at_least=1), "goes with combine"),
        (lambda s: s["key_questions"][0].pop("question"), "needs question"),
        (lambda s: s["key_questions"][0].update(question="p_early"), None),  # unscored is fine
        (lambda s: s["key_questions"][0].update(id="a_engage"), "already a column"),
        (lambda s: s["key_questions"][0].pop("source"), r"key_questions\.1\.source"),
        (lambda s: s["samples"]["groups"][1].update(code="Victims"), "not a code of sample"),
        (lambda s: s["samples"]["groups"][1].update(criteria=["2.1"]), "belongs to both"),
        (lambda s: s["samples"].update(column="trust"), "not a category case detail"),
    ],
)
def test_incoherent_standards_are_refused(tmp_path, raw, change, message):
    if message is None:
        load_changed(tmp_path, raw, change)
        return
    with pytest.raises(InstrumentError, match=message):
        load_changed(tmp_path, raw, change)


# -- dates ---------------------------------------------------------------------------------


def test_date_skip_rules_compare_two_dates(tiny):
    early, late = tiny.questions["p_early"], tiny.questions["p_late"]
    assert early.rule_columns == ["sample", "first_contact", "sentence_date"]
    assert early.full_rule_text() == (
        "sample is Supervision and first_contact is within 10 days of sentence_date"
    )
    sentence = np.array(["2024-03-01", "2024-03-01", "2024-03-01", "2024-03-01"], "datetime64[D]")
    contact = np.array(["2024-03-11", "2024-03-12", "2024-02-20", "NaT"], "datetime64[D]")
    cols = {"sentence_date": sentence, "first_contact": contact}
    # 10 days after: within; 11 days: not; 10 days before: within (either way); blank: not
    assert early.date_mask(cols.get, 4).tolist() == [True, False, True, False]
    # sentence before contact: the first two only
    assert late.date_mask(cols.get, 4).tolist() == [True, True, False, False]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["case_details"][3].update(type="dat"), "type 'dat' is not one of"),
        (
            lambda s: s["questions"][5]["applies_when"]["dates"][0].update(of="trust"),
            "not a case detail of type date",
        ),
        (
            lambda s: s["questions"][5]["applies_when"]["dates"][0].update(within_days=-1),
            "whole number of days",
        ),
        (
            lambda s: s["questions"][6]["applies_when"]["dates"][0].update(after="sentence_date"),
            "exactly one of",
        ),
        (
            lambda s: s["questions"][6]["applies_when"]["dates"][0].update(since="x"),
            "unknown key",
        ),
        (lambda s: s["questions"][6]["applies_when"].update(dates={}), "must be a list"),
        (
            lambda s: s["questions"][6]["applies_when"].update(sentence_date=["2024-01-01"]),
            "is a date: compare it under dates",
        ),
    ],
)
def test_bad_date_details_and_rules_are_refused(tmp_path, raw, change, message):
    with pytest.raises(InstrumentError, match=message):
        load_changed(tmp_path, raw, change)


def test_the_2013_14_instrument_loads_unchanged():
    inst = load_instrument()
    assert inst.ratings is None and inst.samples is None and inst.key_questions == {}
    assert not any(q.applies_dates for q in inst.questions.values())
    # 247 questions before issue 12's gate questions, which add six (ids kept, new appended).
    gates = {
        "p_home_visit_merited",
        "p_home_visit_repeat_required",
        "p_cp_procedures_relevant",
        "p_multiagency_relevant",
        "p_police_da_checks_relevant",
        "p_cs_checks_needed",
    }
    assert gates <= set(inst.questions) and len(inst.questions) == 247 + len(gates)
    assert not any(inst.questions[g].scored for g in gates)
