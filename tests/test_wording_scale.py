"""The wording scale as data: a small hand-written scale, its banding edges, and every
refusal of the loader (gaps, overlaps, order, unknown phrases, unsourced widenings)."""

import copy

import pytest
import yaml

from analysis import config
from analysis.engine.wording import SCALE, ScaleError, load_scale, scale_for
from analysis.instrument import InstrumentError, load_instrument

# A small scale, every number chosen by hand: one verified source ("es"), one not.
BASE = {
    "id": "test-scale",
    "version": "1",
    "sources": {
        "es": {"title": "t", "url": "u", "quote": "few up to 15%", "verified": True},
        "other": {"title": "t", "url": "u", "quote": "not read", "verified": False},
    },
    "bands": [
        {"phrase": "few", "band": [0, 15], "basis": "published", "scale": "es"}
        | {"says": "few means up to 15%", "source": "ES: few up to 15%"},
        {"phrase": "the majority", "band": [15, 75], "basis": "derived", "scale": "es"}
        | {"source": "between few and most"},
        {"phrase": "most", "band": [75, 90], "basis": "published", "scale": "es"}
        | {"says": "most means 75% to 90%", "source": "ES: most 75% to 90%"},
        {"phrase": "almost all", "band": ["8/9", 100], "basis": "published", "scale": "es"}
        | {"says": "over 90%", "published": [90, 100], "widened_by": ["p89"]}
        | {"source": "ES: over 90%, widened to 8/9"},
        {"phrase": "half", "band": ["1/2 - 2", "1/2 + 2"], "basis": "landmark"}
        | {"source": "half +/- 2 points"},
    ],
    "aliases": {"nearly all": "almost all"},
    "comparatives": {
        "steps": [
            {"name": "few", "at": 15},
            {"name": "half", "at": "1/2", "landmark": True},
            {"name": "almost all", "at": 90},
        ],
        "about_points": 5,
        "percent_points": 10,
    },
    "all_but_min_base": 20,
    "ladder": [
        {"phrase": "few", "from": 0, "to": 15},
        {"phrase": "the majority", "from": 15, "to": 75},
        {"phrase": "most", "from": 75, "to": 90},
        {"phrase": "almost all", "from": 90, "to": 100},
    ],
    "report_pairs": [
        {"id": "p89", "phrase": "almost all", "n": 8, "N": 9, "where": "w", "quote": "q"},
    ],
}


def write(tmp_path, data, name="scale.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def refused(tmp_path, change) -> str:
    data = copy.deepcopy(BASE)
    change(data)
    with pytest.raises(ScaleError) as info:
        load_scale(write(tmp_path, data))
    return str(info.value)


@pytest.fixture
def scale(tmp_path):
    return load_scale(write(tmp_path, BASE))


# -- a good scale --------------------------------------------------------------------------


def test_fractions_and_points_are_exact(scale):
    assert scale.band("almost all") == (8 / 9, 1.0)
    # 1/2 - 2 points = 0.48, 1/2 + 2 points = 0.52.
    assert scale.band("half") == pytest.approx((0.48, 0.52))


@pytest.mark.parametrize(
    ("n", "N", "word"),
    [
        (2, 15, "few"),  # 13.3% < 15%
        (3, 20, "the majority"),  # exactly 15%: a cell includes its lower edge
        (3, 4, "most"),  # exactly 75%
        (8, 9, "most"),  # 88.9%: the writer's "most" although the reader's "almost all" holds it
        (9, 10, "almost all"),  # exactly 90%
        (18, 19, "almost all"),  # 94.7%, base under 20: no "all but one"
        (19, 20, "all but one"),
        (18, 20, "all but two"),
        (0, 7, "none"),
        (7, 7, "all"),
    ],
)
def test_writing_edges(scale, n, N, word):
    assert scale.quantifier(n, N) == word


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("Nearly  all", (8 / 9, 1.0)),  # an alias, any case and spacing
        ("about half", (0.45, 0.55)),  # 1/2 +/- 5 points
        ("more than half", (0.5, 0.9)),  # to the next step, 90%
        ("less than half", (0.15, 0.5)),  # from the step below, 15%
        ("more than 40%", (0.4, 0.5)),  # ten points beyond
        ("all but one", (0.95, 1.0)),  # 19/20 at the smallest base
        ("every", (1.0, 1.0)),
    ],
)
def test_reading_bands_and_comparatives(scale, phrase, expected):
    assert scale.band(phrase) == pytest.approx(expected)


def test_unknown_phrase_is_a_key_error(scale):
    with pytest.raises(KeyError):
        scale.band("umpteen")


# -- refusals ------------------------------------------------------------------------------


def _cell(data, phrase):
    return next(c for c in data["ladder"] if c["phrase"] == phrase)


def _band(data, phrase):
    return next(b for b in data["bands"] if b["phrase"] == phrase)


def test_refuses_a_gap_in_the_ladder(tmp_path):
    msg = refused(tmp_path, lambda d: _cell(d, "most").update({"from": 76}))
    assert "ladder cell 'most'" in msg and "a gap after 'the majority'" in msg


def test_refuses_overlapping_cells(tmp_path):
    # "almost all" from 89% (inside its band, 88.9%-100%) while "most" runs to 90%.
    msg = refused(tmp_path, lambda d: _cell(d, "almost all").update({"from": 89}))
    assert "ladder cell 'almost all': an overlap after 'most'" in msg


def test_refuses_unordered_cells(tmp_path):
    def swap(d):
        d["ladder"][1], d["ladder"][2] = d["ladder"][2], d["ladder"][1]

    assert "increasing order" in refused(tmp_path, swap)


def test_refuses_a_ladder_short_of_100(tmp_path):
    msg = refused(tmp_path, lambda d: _cell(d, "almost all").update({"to": 95}))
    assert "from 0% to 100%" in msg


def test_refuses_a_ladder_phrase_without_a_band(tmp_path):
    msg = refused(tmp_path, lambda d: _cell(d, "most").update({"phrase": "umpteen"}))
    assert "ladder cell 'umpteen': unknown phrase" in msg


def test_refuses_a_cell_outside_its_band(tmp_path):
    def widen(d):
        _cell(d, "most")["to"] = 92  # "most" is 75%-90%
        _cell(d, "almost all")["from"] = 92

    assert "outside the phrase's band" in refused(tmp_path, widen)


def test_refuses_an_alias_of_an_unknown_phrase(tmp_path):
    msg = refused(tmp_path, lambda d: d["aliases"].update({"loads": "umpteen"}))
    assert "alias 'loads'" in msg and "unknown phrase" in msg


def test_refuses_a_report_pair_outside_its_band(tmp_path):
    # 7/9 = 77.8% is not "almost all" (88.9%-100%).
    msg = refused(tmp_path, lambda d: d["report_pairs"][0].update({"n": 7}))
    assert "7/9 = 77.8%" in msg and "outside 'almost all'" in msg


def test_refuses_a_widening_without_the_pair_that_forces_it(tmp_path):
    msg = refused(tmp_path, lambda d: _band(d, "almost all").pop("widened_by"))
    assert "band 'almost all'" in msg and "widened beyond the published 90%" in msg


def test_refuses_a_widening_further_than_its_pair(tmp_path):
    # The pair is 8/9 = 88.9%; a band down to 85% reaches further than the evidence.
    msg = refused(tmp_path, lambda d: _band(d, "almost all").update({"band": [85, 100]}))
    assert "without a report pair at 85.0%" in msg


def test_refuses_a_band_resting_on_an_unverified_scale(tmp_path):
    msg = refused(tmp_path, lambda d: _band(d, "most").update({"scale": "other"}))
    assert "scale 'other' is not verified" in msg


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda d: _band(d, "most").update({"band": [75, "lots"]}), "not a percentage"),
        (lambda d: _band(d, "most").update({"band": [90, 75]}), "is above high"),
        (lambda d: _band(d, "most").update({"band": [75, 120]}), "outside 0-100%"),
        (lambda d: _band(d, "most").update({"phrase": "few"}), "declared twice"),
        (lambda d: _band(d, "most").update({"basis": "hunch"}), "basis 'hunch'"),
        (lambda d: _band(d, "half").update({"source": ""}), "names no source"),
        (lambda d: d.update({"colour": "blue"}), "unknown key(s) ['colour']"),
    ],
)
def test_refuses_malformed_bands(tmp_path, edit, words):
    msg = refused(tmp_path, edit)
    assert words in msg and "scale.yaml" in msg


def test_refuses_a_file_that_is_not_a_scale(tmp_path):
    path = tmp_path / "scale.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ScaleError, match="expected a mapping"):
        load_scale(path)


# -- the shipped scale and the instrument that names it -----------------------------------


def test_the_default_instrument_names_the_default_scale():
    inst = load_instrument()
    assert inst.wording_path == config.DEFAULT_WORDING
    assert scale_for(inst) is SCALE
    # Every published band rests on the one verified scale.
    published = [b for b in SCALE.bands.values() if b.basis == "published"]
    assert {b.scale for b in published} == {"education-scotland"}
    assert SCALE.sources["education-scotland"]["verified"] is True


def test_an_instrument_naming_a_missing_scale_is_refused(tmp_path):
    text = config.DEFAULT_INSTRUMENT.read_text(encoding="utf-8")
    assert "wording: wording/iaow-2013-14.yaml" in text
    inst = tmp_path / "programme.yaml"
    inst.write_text(text.replace("wording/iaow-2013-14.yaml", "nowhere.yaml"), encoding="utf-8")
    with pytest.raises(InstrumentError, match="wording: no scale file"):
        load_instrument(inst)


def test_another_programme_carries_its_own_scale(tmp_path):
    write(tmp_path, BASE, "own.wording.yaml")
    text = config.DEFAULT_INSTRUMENT.read_text(encoding="utf-8")
    inst = tmp_path / "programme.yaml"
    inst.write_text(text.replace("wording/iaow-2013-14.yaml", "own.wording.yaml"), encoding="utf-8")
    own = scale_for(load_instrument(inst))
    assert own.id == "test-scale"
    # Its "most" cell is 75%-90%, where the shipped ladder's is 77%-80%: 4 of 5 = 80%.
    assert own.quantifier(4, 5) == "most"
    assert SCALE.quantifier(4, 5) == "the large majority"


def test_the_shipped_widening_is_the_pair_that_forces_it():
    # Education Scotland: "almost all means over 90%". The report calls 8 of 9 victim
    # contacts "almost all" (O5 key strength 1), so the band starts at 8/9 = 88.9%, no lower.
    b = SCALE.bands["almost all"]
    assert b.published == (0.9, 1.0) and b.widened_by == ("O5-ks-victim-contact",)
    pair = next(p for p in SCALE.report_pairs if p.id == "O5-ks-victim-contact")
    assert (pair.n, pair.N) == (8, 9) and b.low == 8 / 9
    # Every other published band is exactly its scale's range.
    for other in SCALE.bands.values():
        if other.basis == "published" and other.phrase != "almost all":
            assert (other.low, other.high) == other.published and not other.widened_by
