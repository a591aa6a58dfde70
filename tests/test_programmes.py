"""The programmes besides 2013-14: their demo organisations, workbooks and words.

A workbook made for another programme names it on its settings sheet; report and batch
read it against that instrument, and the report speaks of standards, not outcomes.
"""

from __future__ import annotations

import openpyxl
import pytest
from test_synth import OTHER_PROGRAMMES

from analysis import config, engine
from analysis.errors import UserError
from analysis.ingest import IngestError, declared_instrument, read_cases
from analysis.instrument import declared_programme, load_instrument
from analysis.instrument.template import write_template
from analysis.pipeline.programmes import programme_file
from analysis.render import narrative
from analysis.synthetic import generate as synth
from analysis.synthetic.profile import load_profile, profile_instrument


@pytest.mark.parametrize(("name", "instrument"), sorted(OTHER_PROGRAMMES.items()))
def test_demo_organisations_are_synthetic_and_name_their_programme(name, instrument):
    prof = load_profile(name)
    assert prof["synthetic"] is True and "(synthetic)" in prof["name"]
    assert prof["instrument"] == instrument
    assert "ldus" not in prof  # a profile no longer needs local delivery units
    assert profile_instrument(prof).id == instrument


@pytest.mark.parametrize(("name", "instrument"), sorted(OTHER_PROGRAMMES.items()))
def test_generated_workbook_declares_its_programme_and_ingests(tmp_path, name, instrument):
    path = synth.synthesise(name, tmp_path / f"{name}.xlsx", n_cases=12)
    assert declared_instrument(path) == instrument
    assert programme_file(path) == config.INSTRUMENTS_DIR / f"{instrument}.yaml"
    cases = read_cases(path, instrument=programme_file(path), trust=name)
    assert len(cases) == 12
    # Read against the default (2013-14) instrument, it is refused by name, not misread.
    with pytest.raises(IngestError, match="made for instrument"):
        read_cases(path, trust=name)


def test_ingest_command_reads_a_workbook_against_the_programme_it_declares(tmp_path, capsys):
    """`python -m analysis ingest` without --instrument, like report and batch."""
    from analysis.cli import main

    path = synth.synthesise("tarnbrook", tmp_path / "t.xlsx", n_cases=6)
    out = tmp_path / "processed"
    assert main(["ingest", "--trust", "tarnbrook", "--out-dir", str(out), str(path)]) == 0
    assert (out / "tarnbrook.parquet").is_file()
    # --instrument still wins, and a mismatch is refused by name.
    code = main(["ingest", "--trust", "t", "--out-dir", str(out), "--instrument",
                 str(config.DEFAULT_INSTRUMENT), str(path)])  # fmt: skip
    assert code == 2 and "made for instrument 'hmip-youth-2021'" in capsys.readouterr().err
    assert not (out / "t.parquet").exists()


def test_default_programme_workbooks_declare_nothing(tmp_path):
    path = synth.synthesise("eastmere", tmp_path / "eastmere.xlsx", n_cases=5)
    assert declared_instrument(path) is None and programme_file(path) is None
    assert declared_programme(load_instrument()) is None


def test_template_names_its_programme(tmp_path):
    inst = load_instrument(config.INSTRUMENTS_DIR / "hmip-probation-2023.yaml")
    path = write_template(tmp_path / "blank.xlsx", inst)
    rows = list(openpyxl.load_workbook(path)["settings"].iter_rows(values_only=True))
    assert rows[1][:2] == ("instrument", "hmip-probation-2023")
    assert declared_instrument(path) == "hmip-probation-2023"


def test_an_unknown_programme_is_refused_with_the_known_ones(tmp_path):
    path = synth.synthesise("wrenfield", tmp_path / "w.xlsx", n_cases=3)
    book = openpyxl.load_workbook(path)
    book["settings"]["B1"] = "../../etc/passwd"
    book.save(path)
    with pytest.raises(UserError, match="none of the programmes .*hmip-probation-2023"):
        programme_file(path)


def test_a_settings_sheet_naming_two_programmes_or_two_settings_sheets_are_refused(tmp_path):
    # Which declaration holds would be a guess: the first one used to count unsaid (S7-18),
    # and a second "Settings " sheet made both count for nothing, so a youth workbook was
    # read against the 2013-14 questions and refused for 'missing' columns (S7-19).
    inst = load_instrument(config.INSTRUMENTS_DIR / "hmip-probation-2023.yaml")
    path = synth.synthesise("wrenfield", tmp_path / "w.xlsx", n_cases=3)
    book = openpyxl.load_workbook(path)
    book["settings"].append(["instrument", "hmip-probation-2023"])  # the same again: fine
    book.save(path)
    assert len(read_cases(path, instrument=inst, trust="wrenfield")) == 3
    book["settings"].append(["instrument", "iaow-2013-14"])
    book.save(path)
    with pytest.raises(IngestError) as info:
        read_cases(path, instrument=inst, trust="wrenfield")
    assert str(info.value.problems[0]) == (
        "w.xlsx, sheet 'settings', row 3, column B: names instrument twice: "
        "'hmip-probation-2023' (row 1) and 'iaow-2013-14'; keep one"
    )
    book = openpyxl.load_workbook(tmp_path / "w.xlsx")
    del book["settings"]["A3"], book["settings"]["B3"]
    book.create_sheet("Settings ").append(["instrument", "iaow-2013-14"])
    book.save(path)
    two = r"has 2 settings sheets \('settings', 'Settings '\): keep one"
    with pytest.raises(IngestError, match=two) as info:
        read_cases(path, instrument=inst, trust="wrenfield")
    assert str(info.value.problems[0]).startswith("w.xlsx: has 2 settings sheets")


def test_a_long_programme_name_is_cut_in_the_message(tmp_path):
    path = synth.synthesise("wrenfield", tmp_path / "w.xlsx", n_cases=3)
    book = openpyxl.load_workbook(path)
    book["settings"]["B1"] = "x" * 5000
    book.save(path)
    with pytest.raises(UserError) as info:
        programme_file(path)
    assert "'" + "x" * 60 + "...' (5000 characters)" in str(info.value)
    assert len(str(info.value)) < 400


def test_probation_report_speaks_of_standards(tmp_path):
    """Analysed on synthetic cases, the report's words are the instrument's, not 2013-14's."""
    inst = load_instrument(config.INSTRUMENTS_DIR / "hmip-probation-2023.yaml")
    path = synth.synthesise("wrenfield", tmp_path / "w.xlsx", n_cases=20)
    findings = engine.analyse(
        read_cases(path, instrument=inst, trust="wrenfield"), inst, "wrenfield"
    )
    title = narrative.title_block("Wrenfield", inst, "internal", findings)
    assert "Inspection of probation services in Wrenfield" in title
    assert "adult offending" not in title
    assert "Standard 2.1: Assessment" in narrative.outcome_header(findings, inst, "S1")
    assert narrative.score_sentence(findings, inst, "S4").startswith(
        "Across the prompts of its key questions, "
    )
    assert narrative.score_sentence(findings, inst, "S4").endswith(
        "of the relevant judgements on reviewing were sufficient."
    )
    summary = narrative.summary_table(findings, inst)
    assert "by standard" in summary and "2.3 Implementation and delivery" in summary
    assert "Outcome" not in summary
    assert narrative.factors_unit(inst) is None
    scoring = narrative.scoring_approach(findings, inst)
    assert "Appendix 5" not in scoring and "Standard 2.2 score" in scoring


def test_youth_court_and_out_of_court_prompts_apply_to_their_own_cases(tmp_path):
    inst = load_instrument(config.INSTRUMENTS_DIR / "hmip-youth-2021.yaml")
    path = synth.synthesise("tarnbrook", tmp_path / "t.xlsx", n_cases=16)
    cases = read_cases(path, instrument=inst, trust="tarnbrook")
    court = cases["disposal"] == "Court disposal"
    assert court.any() and (~court).any()
    assert (cases.loc[~court, "c_a_des_support"] == "Not applicable").all()
    assert (cases.loc[court, "o_a_des"] == "Not applicable").all()


def test_ratings_table_shows_each_rating_as_a_labelled_band():
    """Hand-made rating rows: the band carries its text, the numbers are the rows'."""
    import pandas as pd

    from analysis.engine.findings import conform

    inst = load_instrument(config.INSTRUMENTS_DIR / "hmip-probation-2023.yaml")
    rows = [
        # 35 of 50 = 70%, Good (65-79); a resampled rating differs in 1 of 5 resamples.
        dict(kind="rating", measure_id="rating_2.1", label="Assessment", category="Good",
             numerator=35, denominator=50, percent=70.0, ci_low=56.2, ci_high=80.9,
             p_different=0.2, method="lowest key question"),
        dict(kind="rating", measure_id="rating_2.2", label="Planning", category="Inadequate",
             numerator=20, denominator=50, percent=40.0, ci_low=27.6, ci_high=53.8,
             p_different=0.004, method="lowest key question: kq_2.2.3; Wilson score interval"),
        dict(kind="rating", measure_id="rating_overall", label="Overall rating", category="",
             method="not rated"),
    ]  # fmt: skip
    findings = conform(pd.DataFrame(rows).assign(trust="wrenfield"))
    assert narrative.has_ratings(findings)
    html = narrative.ratings_table(findings, inst)
    assert '<span class="rating rating-good">Good</span>' in html
    assert '<span class="rating rating-inadequate">Inadequate</span>' in html
    assert '<span class="rating rating-none">Not rated</span>' in html
    assert "70% (35 of 50)" in html and "56 to 81" in html and ">20%<" in html
    assert ">0%<" in html  # 0.4%, rounded
    # What each rating rests on, in the instrument's words (its number as the tables show it).
    assert (
        '<span class="rating-basis">Rests on the lowest key question, 2.2.3: Does planning '
        "focus sufficiently on keeping other people safe?</span>"
    ) in html
    assert "kq_" not in html
    assert not narrative.has_ratings(findings[findings["kind"] != "rating"])


def test_ratings_table_says_only_what_its_instrument_rates():
    """Probation: no overall, no inspectors' standards; youth: both (caption and note say so)."""
    import pandas as pd

    from analysis.engine.findings import conform

    def table(programme, rows):
        inst = load_instrument(config.INSTRUMENTS_DIR / f"{programme}.yaml")
        findings = conform(pd.DataFrame(rows).assign(trust="x"))
        return narrative.ratings_table(findings, inst)

    one = dict(kind="rating", measure_id="rating_2.1", label="Assessment", category="Good",
               numerator=35, denominator=50, percent=70.0, method="lowest")  # fmt: skip
    probation = table("hmip-probation-2023", [one])
    assert "overall rating sums" not in probation and "as inspectors rated" not in probation
    assert "(the lowest of its key questions)" in probation
    overall = dict(kind="rating", measure_id="rating_overall", label="Overall rating",
                   category="Good", numerator=20, method="sum of the points")  # fmt: skip
    youth = table("hmip-youth-2021", [one, overall])
    assert "and as inspectors rated the organisation-level standards" in youth
    assert "the overall rating sums the standards&#x27; points" in youth
