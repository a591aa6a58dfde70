"""Blank case workbook: sheets, header, drop-downs, input messages, dictionary sheet."""

from __future__ import annotations

import openpyxl
import pytest

from analysis import cli
from analysis.errors import UserError
from analysis.instrument.template import (
    GROUP_COLOURS,
    column_group,
    column_info,
    header_text,
    write_template,
)


@pytest.fixture
def tiny_book(tmp_path, tiny_instrument):
    path = write_template(tmp_path / "template.xlsx", tiny_instrument)
    return openpyxl.load_workbook(path)


def test_sheets_and_header(tiny_book, tiny_instrument):
    # settings: the tiny instrument declares languages (English and Welsh).
    assert tiny_book.sheetnames == ["instructions", "cases", "dictionary", "codes", "settings"]
    ws = tiny_book["cases"]
    # Row 1: the wording people read; row 2: the ids ingest reads.
    assert [c.value for c in ws[2]] == tiny_instrument.columns
    typed = tiny_instrument.columns.index("q_typed")
    assert ws[1][typed].value == "1.1 Was the typed report sufficient?"
    assert ws.max_row == 2  # blank: header only
    assert ws.freeze_panes == "B3"  # both header rows and the case id column
    assert tiny_book["codes"].sheet_state == "hidden"
    assert tiny_book["cases"].sheet_state == "visible"
    # openpyxl keeps one entry per run of equal widths (min to max).
    widths = {i: d.width for d in ws.column_dimensions.values() for i in range(d.min, d.max + 1)}
    assert sorted(widths) == list(range(1, len(tiny_instrument.columns) + 1))
    assert all(18 <= w <= 42 for w in widths.values())


def test_header_text_and_groups(tiny_instrument):
    assert header_text(tiny_instrument, "q_typed") == "1.1 Was the typed report sufficient?"
    detail = next(iter(tiny_instrument.case_details))
    assert header_text(tiny_instrument, detail).startswith(
        tiny_instrument.case_details[detail].label
    )
    assert column_group(tiny_instrument, detail) == "details"
    assert (
        column_group(tiny_instrument, "q_typed") == tiny_instrument.questions["q_typed"].outcomes[0]
    )


def test_columns_coloured_by_outcome(tiny_book, tiny_instrument):
    ws = tiny_book["cases"]
    for i, cid in enumerate(tiny_instrument.columns):
        want = GROUP_COLOURS[column_group(tiny_instrument, cid)].lstrip("#")
        for row in (1, 2):
            assert ws.cell(row, i + 1).fill.fgColor.rgb.endswith(want), (cid, row)
    # The instructions explain the colours with the outcomes' names.
    text = [c.value for c in tiny_book["instructions"]["A"] if c.value]
    assert text[0] == "How to fill in this case workbook"
    assert any("from row 3" in t for t in text)
    o = tiny_instrument.questions["q_typed"].outcomes[0]
    assert f"{o} {tiny_instrument.outcomes[o].name}" in text
    assert "Case details" in text


def test_the_template_filled_in_is_read(tmp_path, tiny_instrument):
    from helpers.workbooks import fill_template, valid_rows

    from analysis.ingest import read_cases

    rows = valid_rows(tiny_instrument, 3)
    template = write_template(tmp_path / "t.xlsx", tiny_instrument)
    filled = fill_template(template, rows, tmp_path / "filled.xlsx")
    df = read_cases(filled, tiny_instrument, language="en")
    assert len(df) == 3
    assert list(df["case_id"].astype(str)) == [str(r["case_id"]) for r in rows]


def _validations(ws):
    out = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            out[rng.coord.split(":")[0]] = dv
    return out


def test_dropdowns_on_every_coded_column(tiny_book, tiny_instrument):
    ws = tiny_book["cases"]
    codes = tiny_book["codes"]
    dvs = _validations(ws)
    header = [c.value for c in ws[2]]
    coded = tiny_instrument.coded_columns()
    assert coded
    for i, cid in enumerate(header):
        dv = dvs[f"{chr(65 + i)}3"]  # from the first case row
        if cid not in coded:
            assert dv.type != "list"
            continue
        assert dv.type == "list"
        # The list comes from the hidden codes sheet, never an inline list.
        sheet, rng = dv.formula1.split("!")
        assert sheet == "'codes'"
        col = rng.split(":")[0].replace("$", "")[:-1]
        values = [c.value for c in codes[col][1:] if c.value is not None]
        assert codes[col][0].value == cid
        assert values == list(tiny_instrument.allowed_values(cid))


def test_input_messages_and_counts(tiny_book, tiny_instrument):
    ws = tiny_book["cases"]
    dvs = _validations(ws)
    header = [c.value for c in ws[2]]
    q_typed = dvs[f"{chr(65 + header.index('q_typed'))}3"]
    assert q_typed.promptTitle == "q_typed"
    assert q_typed.prompt.startswith("Was the typed report sufficient?")
    assert "only when report_type is Typed" in q_typed.prompt
    n = dvs[f"{chr(65 + header.index('n_oms'))}3"]
    assert (n.type, n.formula1, n.formula2) == ("whole", "1", "5")


def test_dictionary_sheet(tiny_book, tiny_instrument):
    ws = tiny_book["dictionary"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("id", "kind", "label")
    assert [r[0] for r in rows[1:]] == tiny_instrument.columns
    by_id = {r[0]: r for r in rows[1:]}
    assert (
        by_id["q_review"][5] == "Sufficient review, Insufficient review, No review, Not applicable"
    )
    assert by_id["f_alcohol_progress"][6] == (
        "only when f_alcohol_identified is Yes; otherwise Not applicable"
    )


def test_default_instrument_long_lists_and_limits(tmp_path, default_instrument):
    path = write_template(tmp_path / "t.xlsx", default_instrument)
    wb = openpyxl.load_workbook(path)
    ws = wb["cases"]
    assert [c.value for c in ws[2]] == default_instrument.columns
    for dv in ws.data_validations.dataValidation:
        assert len(dv.prompt or "") <= 255 and len(dv.promptTitle or "") <= 32
        if dv.type == "list":
            assert dv.formula1.startswith("'codes'!")
    n_lists = sum(1 for dv in ws.data_validations.dataValidation if dv.type == "list")
    assert n_lists == len(default_instrument.coded_columns())


def test_column_info_covers_every_column(default_instrument):
    info = column_info(default_instrument)
    assert [r["id"] for r in info] == default_instrument.columns
    assert all(r["allowed"] for r in info)


def test_bad_out_paths(tmp_path, tiny_instrument):
    with pytest.raises(UserError, match="must end in .xlsx"):
        write_template(tmp_path / "t.csv", tiny_instrument)
    with pytest.raises(UserError, match="does not exist"):
        write_template(tmp_path / "nope" / "t.xlsx", tiny_instrument)


def test_cli(tmp_path, tiny_instrument_path, capsys):
    out = tmp_path / "t.xlsx"
    assert cli.main(["template", "--out", str(out), "--instrument", str(tiny_instrument_path)]) == 0
    assert out.exists() and "wrote" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert cli.main(["template", "--out", str(tmp_path / "x.txt")]) == 2
    assert "must end in .xlsx" in capsys.readouterr().err


def test_settings_sheet_declares_the_language(tmp_path, tiny_book, tiny_instrument):
    from helpers.workbooks import fill_template, valid_rows

    from analysis.ingest import IngestError, read_cases

    ws = tiny_book["settings"]
    assert [c.value for c in ws[2]][:2] == ["language", None]
    (dv,) = ws.data_validations.dataValidation
    assert dv.formula1 == '"en,cy"' and str(dv.sqref) == "B2"
    # Left blank, the language is not declared: "Na" is ambiguous, nothing else is wrong.
    rows = valid_rows(tiny_instrument, 3)
    rows[0]["report_type"], rows[0]["q_typed"] = "Typed", "Na"
    blank = fill_template(tmp_path / "template.xlsx", rows, tmp_path / "blank.xlsx")
    with pytest.raises(IngestError) as info:
        read_cases(blank, tiny_instrument)
    assert [p.message.split(":")[0] for p in info.value.problems] == ["'Na' is ambiguous"]
    # Filled in Welsh, with the language chosen: "Na" reads as No.
    ws["B2"] = "cy"
    template = tmp_path / "chosen.xlsx"
    tiny_book.save(template)
    filled = fill_template(template, rows, tmp_path / "filled.xlsx")
    assert read_cases(filled, tiny_instrument).at[0, "q_typed"] == "No"


def test_no_settings_sheet_without_languages(tmp_path, tiny_instrument):
    tiny_instrument.languages = {}
    book = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx", tiny_instrument))
    assert book.sheetnames == ["instructions", "cases", "dictionary", "codes"]


def test_rules_sheet_lists_every_consistency_rule(tmp_path, default_instrument):
    book = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx", default_instrument))
    assert book.sheetnames[-1] == "rules"
    ws = book["rules"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0] == ["id", "kind", "severity", "when", "then", "message", "source"]
    assert [r[0] for r in rows[1:]] == [r.id for r in default_instrument.consistency]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["id"] == "compliance-action-needed"
    assert first["when"] == "d_complied_without_action is No"
    assert first["then"] == (
        'd_compliance_action must be one of "Action taken, complied", '
        '"Action taken, breach or recall", "No action taken, breach or recall"'
    )
    assert first["severity"] == "error" and first["source"].startswith("Report O2 3.1")


def test_no_rules_sheet_without_rules(tiny_book):
    assert "rules" not in tiny_book.sheetnames
