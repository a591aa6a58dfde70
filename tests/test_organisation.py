"""Which organisation a workbook is for, when the user does not say (ingest.organisation)."""

from __future__ import annotations

import pytest
from helpers.workbooks import grid, valid_rows, write_csv, write_xlsx

from analysis.errors import UserError
from analysis.ingest import organisation_of


def _book(path, tiny, trusts):
    rows = valid_rows(tiny, len(trusts))
    for row, trust in zip(rows, trusts, strict=True):
        row["trust"] = trust
    writer = write_csv if path.suffix == ".csv" else write_xlsx
    return writer(path, grid(rows))


def test_one_organisation_in_the_trust_column_decides(tmp_path, tiny_instrument):
    # Two spellings of one organisation and a blank: one slug, norfolk-and-suffolk.
    book = _book(
        tmp_path / "my cases.xlsx",
        tiny_instrument,
        ["Norfolk & Suffolk", None, "norfolk and suffolk"],
    )
    found = organisation_of(book, tiny_instrument)
    assert (found.slug, found.source, found.note) == ("norfolk-and-suffolk", "trust column", "")
    assert found.describe() == (
        "organisation: norfolk-and-suffolk (from the workbook's trust column; "
        "--trust SLUG names another)"
    )


def test_a_blank_trust_column_falls_back_to_the_file_name(tmp_path, tiny_instrument):
    book = _book(tmp_path / "Eastmere Cases 2014.csv", tiny_instrument, [None, None])
    found = organisation_of(book, tiny_instrument)
    assert (found.slug, found.source) == ("eastmere-cases-2014", "file name")
    assert "from the file name" in found.describe()


def test_several_organisations_fall_back_to_the_file_name_and_say_why(tmp_path, tiny_instrument):
    book = _book(tmp_path / "mixed.xlsx", tiny_instrument, ["Eastmere", "Carrow Moor", "Eastmere"])
    found = organisation_of(book, tiny_instrument)
    assert (found.slug, found.note) == ("mixed", "the trust column names 2 organisations")


def test_no_trust_column_or_an_unreadable_file_falls_back_to_the_file_name(
    tmp_path, tiny_instrument
):
    rows = valid_rows(tiny_instrument, 2)
    no_column = write_xlsx(
        tmp_path / "no-column.xlsx", grid(rows, [c for c in rows[0] if c != "trust"])
    )
    assert organisation_of(no_column, tiny_instrument).slug == "no-column"
    broken = tmp_path / "Broken Book.xlsx"
    broken.write_bytes(b"not a zip file")  # ingest reports what is wrong with it in full
    assert organisation_of(broken, tiny_instrument).slug == "broken-book"


def test_a_name_that_spells_no_slug_is_refused(tmp_path, tiny_instrument):
    book = _book(tmp_path / "___.csv", tiny_instrument, [None])
    with pytest.raises(UserError, match="name it with --trust SLUG"):
        organisation_of(book, tiny_instrument)
