"""Nothing wrong gets through silently: languages, organisations, spellings, hidden data.

Each test builds its workbook here and states by hand what ingest must make of it.
"""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest
from helpers.workbooks import grid, valid_rows, write_csv, write_xlsx

from analysis import cli
from analysis.errors import UserError
from analysis.ingest import IngestError, check_trust, ingest_file, read_cases
from analysis.ingest.checks import lookalikes, one_edit_apart, slug, spelling_key


def refused(path, inst, **kw) -> IngestError:
    with pytest.raises(IngestError) as info:
        read_cases(path, inst, **kw)
    return info.value


def messages(problems) -> list[str]:
    return [str(p) for p in problems]


# -- languages ---------------------------------------------------------------------------------


@pytest.fixture
def welsh_rows(tiny_instrument):
    rows = valid_rows(tiny_instrument, 6)
    # Case 0 answers in Welsh; case 1's typed report question is Welsh No.
    rows[0]["f_alcohol_identified"] = "Ie"
    rows[1]["report_type"] = "Typed"
    rows[1]["q_typed"] = "Na"
    return rows


def test_na_is_refused_unless_the_language_is_declared(tmp_path, tiny_instrument, welsh_rows):
    path = write_xlsx(tmp_path / "cy.xlsx", grid(welsh_rows))
    err = refused(path, tiny_instrument)
    (line,) = messages(err.problems)
    assert "row 3, column q_typed: 'Na' is ambiguous: in " in line
    assert "in Welsh (cy) 'Na' means 'No'" in line
    assert "in English (en) 'NA' means 'Not applicable'" in line and "--language" in line


@pytest.mark.parametrize(
    ("language", "reads"), [("cy", "No"), ("Welsh", "No"), ("en", "Not applicable")]
)
def test_declared_language_reads_na(tmp_path, tiny_instrument, welsh_rows, language, reads):
    path = write_xlsx(tmp_path / "cy.xlsx", grid(welsh_rows))
    warnings = []
    df = read_cases(path, tiny_instrument, language=language, warnings=warnings)
    assert df.at[1, "q_typed"] == reads and df.at[0, "f_alcohol_identified"] == "Yes"
    (w,) = [str(x) for x in warnings if "'Na'" in str(x)]
    assert f"'Na' was read as {reads!r} because the workbook's language is" in w


def test_settings_sheet_declares_the_language(tmp_path, tiny_instrument, welsh_rows):
    settings = {"settings": [["language", "cy"], ["note", "filled in Welsh"]]}
    path = write_xlsx(tmp_path / "cy.xlsx", grid(welsh_rows), other_sheets=settings)
    assert read_cases(path, tiny_instrument).at[1, "q_typed"] == "No"
    # The command line may repeat it, but not contradict it.
    assert read_cases(path, tiny_instrument, language="cy").at[1, "q_typed"] == "No"
    err = refused(path, tiny_instrument, language="en")
    assert "settings sheet says the workbook's language is 'cy' but --language says 'en'" in str(
        err
    )


def test_unknown_languages(tmp_path, tiny_instrument, welsh_rows):
    path = write_xlsx(
        tmp_path / "x.xlsx", grid(welsh_rows), other_sheets={"settings": [["language", "fr"]]}
    )
    assert "the settings sheet's language 'fr' is not a language of instrument tiny" in str(
        refused(path, tiny_instrument)
    )
    with pytest.raises(
        UserError,
        match=r"--language 'gd' is not a language of instrument tiny "
        r"\(languages: en \(English\), cy \(Welsh\)\)",
    ):
        read_cases(path, tiny_instrument, language="gd")


def test_an_answer_only_in_another_language_is_warned_about(tmp_path, tiny_instrument, welsh_rows):
    # Declared English, case 0's Welsh "Ie" is an answer only in Welsh: read as Yes, said.
    path = write_xlsx(tmp_path / "cy.xlsx", grid(welsh_rows))
    warnings = []
    df = read_cases(path, tiny_instrument, language="en", warnings=warnings)
    assert df.at[0, "f_alcohol_identified"] == "Yes"
    (w,) = [str(x) for x in warnings if "'Ie'" in str(x)]
    assert "'Ie' is Welsh (cy) for 'Yes', but the workbook is declared English (en)" in w
    # Declared Welsh, "Ie" is the workbook's own language: nothing to say about it.
    warnings = []
    read_cases(path, tiny_instrument, language="cy", warnings=warnings)
    assert not [w for w in warnings if "'Ie'" in str(w)]


@pytest.mark.parametrize("typed", ["cy\n", " cy", "cy "])
def test_a_language_is_matched_in_full(tmp_path, tiny_instrument, welsh_rows, typed):
    path = write_xlsx(tmp_path / "cy.xlsx", grid(welsh_rows))
    with pytest.raises(UserError, match=r"is not a language of instrument tiny"):
        read_cases(path, tiny_instrument, language=typed)


def test_every_no_typed_as_na_keeps_the_scores(tmp_path, default_instrument):
    # The tester's case: "Na" for every No of a workbook. Undeclared, every such cell is
    # refused; declared Welsh, the cases are exactly those of the English workbook.
    inst = default_instrument
    rows = valid_rows(inst, 30)
    english = read_cases(write_xlsx(tmp_path / "en.xlsx", grid(rows)), inst, trust="t")
    nos = 0
    for r in rows:
        for q in inst.questions:
            if r[q] == "No":
                r[q], nos = "Na", nos + 1
    assert nos > 30
    welsh = write_xlsx(tmp_path / "cy.xlsx", grid(rows))
    err = refused(welsh, inst, trust="t")
    assert len(err.problems) == nos and all("is ambiguous" in p.message for p in err.problems)
    assert read_cases(welsh, inst, trust="t", language="cy").equals(english)


def test_language_on_the_command_line(
    tmp_path, tiny_instrument_path, tiny_instrument, welsh_rows, capsys
):
    path = write_xlsx(tmp_path / "cy.xlsx", grid(welsh_rows))
    args = ["ingest", str(path), "--trust", "t", "--instrument", str(tiny_instrument_path)]
    args += ["--out-dir", str(tmp_path / "out")]
    assert cli.main(args) == 2
    assert "'Na' is ambiguous" in capsys.readouterr().err
    assert cli.main([*args, "--language", "cy"]) == 0
    assert "warning: cy.xlsx" in capsys.readouterr().err


# -- one organisation ---------------------------------------------------------------------------


def test_rows_of_another_organisation_are_refused(tmp_path, tiny_instrument):
    rows = valid_rows(tiny_instrument, 6)
    for i in (2, 3, 5):
        rows[i]["trust"] = "Other Trust"
    path = write_xlsx(tmp_path / "mixed.xlsx", grid(rows))
    with pytest.raises(IngestError) as info:
        ingest_file(path, "norfolk", tiny_instrument, out_dir=tmp_path / "out")
    (line,) = messages(info.value.problems)
    assert "row 4, column trust: names organisation 'Other Trust' in 3 rows (rows 4, 5, 7)" in line
    assert "not norfolk (--trust)" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_spellings_of_the_organisation_itself_are_its_slug(tmp_path, tiny_instrument):
    rows = valid_rows(tiny_instrument, 4)
    rows[0]["trust"], rows[1]["trust"] = "Norfolk & Suffolk", "norfolk-and-suffolk"
    rows[2]["trust"] = " NORFOLK AND SUFFOLK "
    df = read_cases(
        write_xlsx(tmp_path / "ns.xlsx", grid(rows)), tiny_instrument, trust="norfolk-and-suffolk"
    )
    assert df["trust"].tolist() == ["norfolk-and-suffolk"] * 4


def test_two_organisations_without_trust(tmp_path, tiny_instrument):
    rows = valid_rows(tiny_instrument, 4)
    rows[0]["trust"], rows[1]["trust"], rows[3]["trust"] = "A", "B", "a"
    warnings = []
    path = write_xlsx(tmp_path / "ab.xlsx", grid(rows))
    df = read_cases(path, tiny_instrument, warnings=warnings)
    # Nothing is pooled: every case keeps the organisation it names.
    trusts = df["trust"].tolist()
    assert trusts[:2] == ["A", "B"] and pd.isna(trusts[2]) and trusts[3] == "a"
    assert any(
        str(w).endswith(
            "column trust: names 2 organisations ('A' on rows 2, 5; 'B' on row 3); "
            "each case keeps its own (no organisation was given, so none is pooled into another's "
            "figures)"
        )
        for w in warnings
    )


@pytest.mark.parametrize("bad", ["norfolk\n", "norfolk ", "Norfolk", "a--b", "-a", ""])
def test_slug_is_matched_in_full(bad):
    with pytest.raises(UserError, match="is not a valid organisation slug"):
        check_trust(bad)


def test_slug_and_spelling_keys():
    assert slug("Norfolk & Suffolk") == slug("norfolk and suffolk ") == "norfolk-and-suffolk"
    assert slug("Ynys Môn") == "ynys-mon"
    assert spelling_key("Norwich & Broadland") == spelling_key("NORWICH AND BROADLAND.")


# -- one spelling per value -----------------------------------------------------------------------


def test_near_duplicate_units_are_warned_about(tmp_path, default_instrument):
    rows = valid_rows(default_instrument, 6)
    ldus = ["Norwich & Broadland", "Norwich and Broadland", "Ynys Mo\u0302n", "Ynys M\u00f4n",
            "Ipswich", "IPSWICH"]  # fmt: skip
    for r, ldu in zip(rows, ldus, strict=True):
        r["ldu"] = ldu
    warnings = []
    df = read_cases(
        write_xlsx(tmp_path / "ldu.xlsx", grid(rows)), default_instrument, warnings=warnings
    )
    # NFD and NFC spellings of Môn are one text: one group, no warning.
    assert df["ldu"].tolist()[2:4] == ["Ynys M\u00f4n"] * 2
    near = sorted(w.message for w in warnings if "spelt 2 ways" in w.message)
    # The column is named once, by the problem's place, not again in the message.
    assert {w.column for w in warnings if "spelt 2 ways" in w.message} == {"ldu"}
    assert near == [
        "'IPSWICH' (row 7) and 'Ipswich' (row 6) look like one local delivery unit "
        "spelt 2 ways; they are counted as separate groups: make them the same",
        "'Norwich & Broadland' (row 2) and 'Norwich and Broadland' (row 3) look like "
        "one local delivery unit spelt 2 ways; they are counted as separate groups: make them "
        "the same",
    ]


def test_case_ids_differing_only_in_case_or_punctuation_are_warned_about(tmp_path, tiny_instrument):
    # One case entered twice at 5 pm: "CM-0001" and "cm 0001" (rows 2 and 4). Read as two
    # cases, as typed, with a warning naming both; "CM-0002" is another case (no warning).
    rows = valid_rows(tiny_instrument, 3)
    for r, ident in zip(rows, ["CM-0001", "CM-0002", "cm 0001"], strict=True):
        r["case_id"] = ident
    warnings = []
    df = read_cases(
        write_xlsx(tmp_path / "ids.xlsx", grid(rows)), tiny_instrument, warnings=warnings
    )
    assert len(df) == 3
    assert [w.message for w in warnings if "case ids" in w.message] == [
        "column case_id: case ids 'CM-0001' (row 2) and 'cm 0001' (row 4) differ only in "
        "case, spaces or punctuation; they are counted as separate cases: if they are one "
        "case entered twice, remove one"
    ]


def test_lookalike_letters_and_one_edit():
    cyrillic = "M\u043e\u043erside"  # two Cyrillic o
    assert spelling_key(cyrillic) == spelling_key("Moorside") == "moorside"
    assert spelling_key("\u039c\u03bforside") == "moorside"  # Greek capital Mu, small omicron
    assert spelling_key("\uff2doorside") == "moorside"  # a fullwidth M
    assert lookalikes(cyrillic) == ["\u043e (CYRILLIC SMALL LETTER O)"]
    assert lookalikes("Moorside") == []
    # Dropped, added, changed, swapped: one edit each; two edits or the same: not.
    assert one_edit_apart("moorsde", "moorside") and one_edit_apart("moorside", "moorsde")
    assert one_edit_apart("moorside", "moorsidex") and one_edit_apart("moorside", "maorside")
    assert one_edit_apart("moorside", "moorsdie")
    assert not one_edit_apart("moorside", "moorside")
    assert not one_edit_apart("moorside", "marside") and not one_edit_apart("moorside", "moorsi")


def test_typos_and_lookalikes_are_warned_about(tmp_path, default_instrument):
    rows = valid_rows(default_instrument, 8)
    ldus = ["Moorside", "Moorside", "Moorsde", "Bridgend", "Bridgend", "M\u043eorside",
            "North 1", "North 2"]  # fmt: skip
    for r, ldu in zip(rows, ldus, strict=True):
        r["ldu"] = ldu
    warnings = []
    read_cases(write_xlsx(tmp_path / "ldu.xlsx", grid(rows)), default_instrument, warnings=warnings)
    near = sorted(w.message for w in warnings if w.column == "ldu" and "Moors" in w.message)
    # Rows: the header is row 1, so case i is on row i + 2. "North 1"/"North 2" differ by
    # their number, as numbered units do: no warning. "Bridgend" stands alone.
    assert near == [
        "'Moorsde' (row 4) and 'Moorside' (rows 2, 3) differ by one letter; if "
        "they are one local delivery unit, they are counted as separate groups: make them "
        "the same",
        "'Moorside' (rows 2, 3) and 'M\u043eorside' (row 7) look like one local "
        "delivery unit spelt 2 ways ('M\u043eorside' holds \u043e (CYRILLIC SMALL LETTER O), "
        "not Latin letters); they are counted as separate groups: make them the same",
    ]


# -- hidden rows and columns, sheets -------------------------------------------------------------


def test_hidden_rows_and_columns_are_warned_about(tmp_path, tiny_instrument):
    import xlsxwriter

    cells = grid(valid_rows(tiny_instrument, 5))
    path = tmp_path / "hidden.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("cases")
    for r, row in enumerate(cells):
        for c, v in enumerate(row):
            if v is not None:
                ws.write(r, c, v)
    ws.set_row(2, None, None, {"hidden": True})
    ws.set_row(4, None, None, {"hidden": True})
    ws.set_column(7, 7, None, None, {"hidden": True})  # H: the eighth column
    wb.close()
    warnings = []
    assert len(read_cases(path, tiny_instrument, warnings=warnings)) == 5
    text = [w.message for w in warnings]
    assert (
        "2 rows are hidden in Excel (hidden or filtered out: rows 3, 5); they are read and "
        "counted as cases like the others: unhide them to check" in text
    )
    assert any(
        t.startswith(f"column H ({cells[0][7]}) is hidden in Excel; its values") for t in text
    )


def test_sheets_named_alike_are_ambiguous(tmp_path, tiny_instrument):
    # Excel will not name two sheets alike, but other programs do: rename one in the XML.
    rows = valid_rows(tiny_instrument, 5)
    made = write_xlsx(
        tmp_path / "made.xlsx", grid(rows[:2]), sheet="Cases", other_sheets={"other": grid(rows)}
    )
    path = tmp_path / "two.xlsx"
    with zipfile.ZipFile(made) as zi, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zo:
        for name in zi.namelist():
            data = zi.read(name)
            if name in ("xl/workbook.xml", "docProps/app.xml"):
                data = data.replace(b'"other"', b'"cases"').replace(b">other<", b">cases<")
            zo.writestr(name, data)
    err = refused(path, tiny_instrument)
    assert "has 2 sheets named like 'cases' ('Cases', 'cases'), differing only in case" in str(err)
    assert len(read_cases(path, tiny_instrument, sheet="cases")) == 5
    assert len(read_cases(path, tiny_instrument, sheet="Cases")) == 2
    assert "name one exactly with --sheet" in str(refused(path, tiny_instrument, sheet="CASES"))


# -- text files -------------------------------------------------------------------------------


def test_csv_mixing_encodings_is_refused_with_line_numbers(tmp_path, tiny_instrument):
    rows = valid_rows(tiny_instrument, 4)
    rows[0]["case_id"], rows[2]["case_id"] = "Bíró", "Zoë"
    path = write_csv(tmp_path / "mixed.csv", grid(rows))
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].decode().encode("cp1252")  # line 4 pasted in from a Windows file
    path.write_bytes(b"\n".join(lines))
    err = refused(path, tiny_instrument)
    assert (
        "mixes two text encodings: it is UTF-8 except on line 4 (1 in all; line 4 reads 'Zo\\\\xeb"
        in str(err)
    )


def test_csv_in_one_legacy_encoding_is_read_with_a_warning(tmp_path, tiny_instrument):
    rows = valid_rows(tiny_instrument, 3)
    rows[1]["case_id"] = "Zoë"
    path = write_csv(tmp_path / "win.csv", grid(rows), encoding="cp1252")
    warnings = []
    assert read_cases(path, tiny_instrument, warnings=warnings)["case_id"].tolist()[1] == "Zoë"
    assert "read it as cp1252 (first non-UTF-8 text on line 3;" in warnings[0].message
