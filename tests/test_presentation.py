"""The instrument's presentation section: phrases, their sources, placeholders and defaults."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from analysis import config
from analysis.instrument import PHRASES, InstrumentError, Presentation, load_instrument

PROGRAMMES = sorted(config.INSTRUMENTS_DIR.glob("*.yaml"))


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(config.DEFAULT_INSTRUMENT.read_text(encoding="utf-8"))


def _load(tmp_path: Path, raw: dict) -> object:
    path = tmp_path / "inst.yaml"
    # The copy is not beside the shipped scale file: name that file by its full path.
    raw = {**raw, "wording": str(config.DEFAULT_WORDING)} if "wording" in raw else raw
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_instrument(path)


# -- the 2013-14 file gives today's words -----------------------------------------------------


def test_iaow_words_are_the_2014_reports():
    say = load_instrument().presentation.say
    # Typed from the reference report (title; chapter 1's first sentence; the Summary table).
    assert (
        say("report_title", organisation="Norfolk and Suffolk")
        == "Inspection of adult offending work in Norfolk and Suffolk"
    )
    assert (
        say("score_sentence", percent="85%", phrase="assist sentencing")
        == "Overall, 85% of work to assist sentencing was done well enough."
    )
    assert say("unit_heading", number=1, name="Assisting sentencing") == (
        "Outcome 1: Assisting sentencing"
    )
    assert say("unit_name", number=1, name="Assisting sentencing") == "1. Assisting sentencing"
    assert say("summary_caption") == (
        "The proportion of work judged to have been done well enough, by outcome"
    )
    assert say("aggregate_title") == "Inspection of adult offending work: all organisations"
    p = load_instrument().presentation
    assert (p.unit, p.units, p.Unit, p.factors_unit) == ("outcome", "outcomes", "Outcome", "O3")
    assert p.comparison_names["ldu"] == "local delivery unit (LDU)"


@pytest.mark.parametrize("path", PROGRAMMES, ids=lambda p: p.stem)
def test_every_programme_declares_every_phrase_with_a_source(path):
    """A shipped instrument leaves no phrase to the neutral default, and cites each."""
    p = load_instrument(path).presentation
    assert sorted(p.phrases) == sorted(PHRASES)
    assert all(ph.source for ph in p.phrases.values())
    assert all(p.sources.values())  # each setting declared (factors_unit, ...) cites one too


# The 2013-14 file cites its sources in its header and comments (it predates `source:`).
@pytest.mark.parametrize(
    "path", [p for p in PROGRAMMES if p.stem != "iaow-2013-14"], ids=lambda p: p.stem
)
def test_every_declared_item_cites_its_source(path):
    """Units, key questions, case details and prompts of the new programmes name a source."""
    inst = load_instrument(path)
    items = [*inst.outcomes.values(), *inst.criteria.values(), *inst.case_details.values()]
    items += list(inst.questions.values())
    assert [i.id for i in items if not i.source] == []


# -- neutral words without the section ----------------------------------------------------------


def test_an_instrument_without_the_section_gets_neutral_words(tmp_path, raw):
    bare = copy.deepcopy(raw)
    del bare["presentation"]
    p = _load(tmp_path, bare).presentation
    assert p == Presentation()
    # "{unit} ..." starts a heading: capitalised.
    assert p.say("unit_heading", number=2, name="X") == "Outcome 2: X"
    assert p.say("report_title", organisation="Y") == "Case inspection: Y"
    assert p.factors_unit is None and p.comparison_names == {}


# -- the loader's refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"programme_name": {"text": "x", "source": "y"}}, "unknown item"),
        ({"programme": {"text": "x"}}, "must cite its source"),
        ({"programme": {"text": "x", "source": " "}}, "must cite its source"),
        ({"programme": "x"}, "mapping with text and source"),
        ({"programme": {"text": "x", "source": "y", "note": "z"}}, "mapping with text and source"),
        ({"score_sentence": {"text": "{percentage} done", "source": "y"}}, "unknown placeholder"),
        ({"factors_unit": {"text": "O9", "source": "y"}}, "not a unit"),
        ({"comparison_names": {"text": {"pdu": "x"}, "source": "y"}}, "not case details"),
        ({"unit": {"text": "", "source": "y"}}, "non-empty string"),
    ],
)
def test_malformed_items_are_refused(tmp_path, raw, item, message):
    bad = copy.deepcopy(raw)
    bad["presentation"].update(item)
    with pytest.raises(InstrumentError, match=message):
        _load(tmp_path, bad)


def test_a_phrase_may_use_the_common_placeholders(tmp_path, raw):
    ok = copy.deepcopy(raw)
    ok["presentation"]["summary_heading"] = {"text": "{units} of {programme}", "source": "y"}
    say = _load(tmp_path, ok).presentation.say
    assert say("summary_heading") == "outcomes of Inspection of adult offending work"
