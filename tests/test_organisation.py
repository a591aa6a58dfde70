"""Which organisation a workbook is for, when the user does not say (ingest.organisation)."""

from __future__ import annotations

import hashlib

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


def _neutral(path):
    # The neutral name worked out independently: "workbook-" and 8 hex digits of sha256.
    return "workbook-" + hashlib.sha256(path.read_bytes()).hexdigest()[:8]


def test_a_blank_trust_column_gives_a_neutral_name_never_the_file_name(tmp_path, tiny_instrument):
    book = _book(tmp_path / "Jane Smith cases 2014.csv", tiny_instrument, [None, None])
    found = organisation_of(book, tiny_instrument)
    assert (found.slug, found.source) == (_neutral(book), "workbook sha256")
    assert "jane" not in found.slug.lower() and "smith" not in found.slug.lower()
    said = found.describe()
    assert "never its file name" in said and "--trust NAME" in said and "trust column" in said
    assert "Jane" not in said


def test_the_neutral_name_follows_the_bytes_not_the_file_name(tmp_path, tiny_instrument):
    # The same workbook under two names: one organisation (a rerun finds its own report);
    # one changed byte: another.
    book = _book(tmp_path / "jane-smith-cases.csv", tiny_instrument, [None, None])
    renamed = tmp_path / "cases.csv"
    renamed.write_bytes(book.read_bytes())
    assert (
        organisation_of(renamed, tiny_instrument).slug
        == organisation_of(book, tiny_instrument).slug
    )
    edited = tmp_path / "edited.csv"
    edited.write_bytes(book.read_bytes() + b"\n")
    assert (
        organisation_of(edited, tiny_instrument).slug != organisation_of(book, tiny_instrument).slug
    )


def test_several_organisations_give_the_neutral_name_and_say_why(tmp_path, tiny_instrument):
    book = _book(tmp_path / "mixed.xlsx", tiny_instrument, ["Eastmere", "Carrow Moor", "Eastmere"])
    found = organisation_of(book, tiny_instrument)
    assert (found.slug, found.note) == (_neutral(book), "its trust column names 2 organisations")
    assert "its trust column names 2 organisations" in found.describe()


def test_no_trust_column_or_an_unreadable_file_gives_the_neutral_name(tmp_path, tiny_instrument):
    rows = valid_rows(tiny_instrument, 2)
    no_column = write_xlsx(
        tmp_path / "no-column.xlsx", grid(rows, [c for c in rows[0] if c != "trust"])
    )
    assert organisation_of(no_column, tiny_instrument).slug == _neutral(no_column)
    broken = tmp_path / "Broken Book.xlsx"
    broken.write_bytes(b"not a zip file")  # ingest reports what is wrong with it in full
    # `printf 'not a zip file' | sha256sum` begins 1721cb4d.
    assert organisation_of(broken, tiny_instrument).slug == "workbook-1721cb4d"


def test_a_name_that_spells_no_slug_needs_no_naming(tmp_path, tiny_instrument):
    # Before, "___.csv" was refused (its name spells no slug); the name is not used now.
    book = _book(tmp_path / "___.csv", tiny_instrument, [None])
    assert organisation_of(book, tiny_instrument).slug == _neutral(book)


def test_a_workbook_that_cannot_be_read_is_a_clear_error(tmp_path, tiny_instrument):
    # A folder named like a workbook: no bytes to hash, a message and no traceback.
    folder = tmp_path / "cases.xlsx"
    folder.mkdir()
    with pytest.raises(UserError, match="cannot read the workbook .*cases.xlsx"):
        organisation_of(folder, tiny_instrument)
