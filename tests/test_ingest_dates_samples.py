"""Ingest of date details, date skip rules and samples (issue 16, point 1), on the tiny
standards instrument. Expected values are worked by hand from the rows below."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.ingest import IngestError, read_cases
from analysis.ingest.normalise import NotADate, parse_date
from analysis.instrument import load_instrument

TINY = Path(__file__).parent / "data" / "instruments" / "tiny-standards.yaml"
HEADER = (
    "case_id,trust,sample,sentence_date,first_contact,"
    "a_engage,a_desist,a_safety,p_p1,p_p2,p_early,p_late,c_report"
)


@pytest.fixture(scope="module")
def inst():
    return load_instrument(TINY)


def write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "cases.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_dates_are_read_as_dates_and_date_rules_and_samples_apply(tmp_path, inst):
    rows = [
        # contact 4 days after sentence: p_early and p_late apply; c_report is the court sample's
        "S1,t,Supervision,2024-03-01 00:00:00,2024-03-05,Yes,No,Yes,Yes,Yes,Yes,No,",
        # UK date; contact 19 days after: p_early does not apply (blank -> NA), p_late does
        "S2,t,Supervision,01/03/2024,2024-03-20,Yes,Yes,Yes,No,Yes,,Yes,",
        # court case: every supervision question is blank -> NA; no contact date: no date rule holds
        "C1,t,Court,1/3/2024,,,,,,,,,Yes",
    ]
    df = read_cases(write(tmp_path, rows), inst, trust="t")
    assert str(df["sentence_date"].dtype).startswith("datetime64")
    assert df["sentence_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-01"] * 3
    assert df["first_contact"].isna().tolist() == [False, False, True]
    assert df["p_early"].astype(str).tolist() == ["Yes", "Not applicable", "Not applicable"]
    assert df["p_late"].astype(str).tolist() == ["No", "Yes", "Not applicable"]
    assert df["c_report"].astype(str).tolist() == ["Not applicable", "Not applicable", "Yes"]
    assert df["a_engage"].astype(str).tolist() == ["Yes", "Yes", "Not applicable"]


def test_bad_dates_and_answers_outside_the_rules_are_refused_all_at_once(tmp_path, inst):
    rows = [
        "S1,t,Supervision,31/02/2024,2024-03-05,Yes,No,Yes,Yes,Yes,Yes,No,Yes",
        "S2,t,Supervision,45352,2024-03-20,Yes,Yes,Yes,No,Yes,,Yes,",
        "S3,t,Supervision,next week,,Yes,Yes,Yes,No,Yes,,,",
        "S4,t,Supervision,2024-03-01,2024-04-01,Yes,Yes,Yes,No,Yes,Yes,Yes,",
    ]
    with pytest.raises(IngestError) as info:
        read_cases(write(tmp_path, rows), inst, trust="t")
    found = {(p.row, p.column): p.message for p in info.value.problems}
    assert "is not a date (no such day)" in found[(2, "sentence_date")]
    assert "is a number, not a date" in found[(3, "sentence_date")]
    assert "'next week' is not a date" in found[(4, "sentence_date")]
    # the court question answered in a supervision case
    assert "applies only when sample is Court" in found[(2, "c_report")]
    # 31 days apart: p_early does not apply
    assert "first_contact is within 10 days of sentence_date" in found[(5, "p_early")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01", "2024-03-01"),
        ("2024-03-01 13:05:00", "2024-03-01"),
        ("29/02/2024", "2024-02-29"),
        ("1.3.2024", "2024-03-01"),
        ("", None),
    ],
)
def test_parse_date_reads_excel_iso_and_uk_dates(text, expected):
    got = parse_date(text)
    assert (None if got is None else str(got)) == expected


@pytest.mark.parametrize("text", ["29/02/2023", "2024-13-01", "45352", "03/2024", "March 1"])
def test_parse_date_refuses_what_is_not_a_date(text):
    with pytest.raises(NotADate):
        parse_date(text)


# -- the inspectors' ratings of organisation-level standards --------------------------------


def test_standard_ratings_from_csv_and_yaml(tmp_path, inst):
    from analysis.ingest import read_standard_ratings

    csv_path = tmp_path / "ratings.csv"
    csv_path.write_text("standard,rating\n1.1,Good\n", encoding="utf-8")
    assert read_standard_ratings(csv_path, inst) == {"1.1": "good"}
    yaml_path = tmp_path / "ratings.yaml"
    yaml_path.write_text('"1.1": requires improvement\n', encoding="utf-8")
    assert read_standard_ratings(yaml_path, inst) == {"1.1": "requires_improvement"}


def test_standard_ratings_problems_are_all_reported(tmp_path, inst):
    from analysis.ingest import read_standard_ratings

    path = tmp_path / "ratings.csv"
    path.write_text("standard,rating\n2.1,Good\n9.9,Good\n1.1,Grand\n", encoding="utf-8")
    with pytest.raises(IngestError) as info:
        read_standard_ratings(path, inst)
    got = [(p.row, p.column, p.message) for p in info.value.problems]
    assert got[0][:2] == (2, "standard") and "rated from the cases" in got[0][2]
    assert got[1][:2] == (3, "standard") and "not a standard" in got[1][2]
    assert got[2][:2] == (4, "rating") and "'Grand' is not a rating" in got[2][2]
    assert "Requires improvement" in got[2][2]
    # 1.1 was given, but its rating was refused: it is not also reported as missing
    assert len(got) == 3
    path.write_text("standard,rating\n1.1,Good\n1.1,Good\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"rated twice \(also row 2\)"):
        read_standard_ratings(path, inst)
    path.write_text("standard,rating\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"standard 1.1 \(Leadership\) has no rating"):
        read_standard_ratings(path, inst)
    path.write_text("std,rating\n1.1,Good\n", encoding="utf-8")
    with pytest.raises(IngestError, match="header must be exactly"):
        read_standard_ratings(path, inst)
