"""Ingest: round trip, malformed workbooks, reading cells and merged ranges, CLI exit codes.

Also the pieces behind ``analysis.ingest`` (the problem report, cell addresses, sniffing) and
that ingest never imports a later phase of the pipeline.

Answer-variant normalisation is tested in test_normalise.py.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.workbooks import expected, fill_template, grid, valid_rows, write_csv, write_xlsx

import analysis
from analysis import cli
from analysis.errors import UserError
from analysis.ingest import IngestError, Problem, check_trust, ingest_file, read_cases, readers
from analysis.ingest.guards import sniff
from analysis.ingest.header import column_letter
from analysis.ingest.problems import Report
from analysis.ingest.xmlscan import Scanner, column_index
from analysis.instrument.template import write_template

# -- round trip ---------------------------------------------------------------------------


def _compare(df: pd.DataFrame, inst, rows) -> None:
    exp = expected(inst, rows)
    assert len(df) == len(exp)
    for i, e in enumerate(exp):
        for cid, v in e.items():
            got = df.at[i, cid]
            if v is None:
                assert pd.isna(got), (i, cid, got)
            else:
                assert got == v, (i, cid, got, v)


def test_round_trip_template_default_instrument(tmp_path, default_instrument):
    inst = default_instrument
    template = write_template(tmp_path / "template.xlsx", inst)
    rows = valid_rows(inst, 25, blank_na=True)
    filled = fill_template(template, rows, tmp_path / "filled.xlsx")
    warnings: list[Problem] = []
    df = read_cases(filled, inst, trust="test-trust", warnings=warnings)
    assert warnings == []
    free = [c for c, d in inst.case_details.items() if d.type == "free_text"]
    assert list(df.columns) == [c for c in inst.columns if c not in free] + ["source_row"]
    # Cases start on row 3, under the wording and id rows: 25 cases are rows 3 to 27.
    assert df["source_row"].tolist() == list(range(3, 28))
    assert (df["trust"] == "test-trust").all()
    rows = [{**r, "trust": "test-trust"} for r in rows]
    _compare(df, inst, rows)
    for cid in inst.columns:
        if cid in free:
            continue
        kind = inst.questions[cid].answers if cid in inst.questions else inst.case_details[cid].type
        if kind == "count":
            assert str(df[cid].dtype) == "Int64", cid
        elif inst.allowed_values(cid):
            # coded columns: categoricals over the instrument's codes, in declared order
            assert list(df[cid].cat.categories) == list(inst.allowed_values(cid)), cid
        else:
            assert str(df[cid].dtype) == "str", cid


def test_exact_frame_tiny_instrument(tmp_path, tiny_instrument):
    cells = [
        ["case_id", "trust", "case_type", "n_oms", "report_type", "notes", "q_typed",
         "q_review", "q_contacts", "f_alcohol_identified", "f_alcohol_progress"],
        ["A1", None, "licence", "2 ", "Typed", "long note", "y", "sufficient review", 3.0,
         "Yes", "no"],
        ["A2", "Tiny Trust", "Community order", 1, "none", None, None, "N/A", "0", "n", None],
    ]  # fmt: skip
    path = write_xlsx(tmp_path / "cases.xlsx", cells)
    df = read_cases(path, tiny_instrument, trust="tiny-trust")
    # "Tiny Trust" spells the slug tiny-trust, so it is that organisation, written as its slug.
    assert df.to_dict("records") == [
        {
            "case_id": "A1", "trust": "tiny-trust", "case_type": "Licence", "n_oms": 2,
            "report_type": "Typed", "q_typed": "Yes", "q_review": "Sufficient review",
            "q_contacts": 3, "f_alcohol_identified": "Yes", "f_alcohol_progress": "No",
            "source_row": 2,
        },
        {
            "case_id": "A2", "trust": "tiny-trust", "case_type": "Community order", "n_oms": 1,
            "report_type": "None", "q_typed": "Not applicable", "q_review": "Not applicable",
            "q_contacts": 0, "f_alcohol_identified": "No",
            "f_alcohol_progress": "Not applicable", "source_row": 3,
        },
    ]  # fmt: skip


def test_csv_round_trip_and_parquet(tmp_path, default_instrument):
    rows = valid_rows(default_instrument, 12)
    path = write_csv(tmp_path / "cases.csv", grid(rows))
    result = ingest_file(path, "csv-trust", default_instrument, out_dir=tmp_path / "out")
    assert result.n_cases == 12
    assert result.path == tmp_path / "out" / "csv-trust.parquet"
    df = pd.read_parquet(result.path)
    assert "notes" not in df.columns and "source_row" in df.columns
    _compare(df, default_instrument, [{**r, "trust": "csv-trust"} for r in rows])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["csv-trust.parquet"]


# -- malformed workbooks -------------------------------------------------------------


@pytest.fixture
def tiny_rows(tiny_instrument):
    return valid_rows(tiny_instrument, 6)


def _problems(path, inst, **kw) -> list[Problem]:
    with pytest.raises(IngestError) as info:
        read_cases(path, inst, **kw)
    return info.value.problems


def _one(problems, row, column) -> Problem:
    hits = [p for p in problems if p.row == row and p.column == column]
    assert len(hits) == 1, [str(p) for p in problems]
    return hits[0]


def _set(rows, i, **values):
    rows[i].update(values)
    return rows


def _first_with(inst, rows, column, values):
    return next(i for i, r in enumerate(rows) if r[column] in values)


def test_invalid_answer_message_and_suggestion(tmp_path, tiny_instrument, tiny_rows):
    _set(tiny_rows, 2, q_review="Sufficent")
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), 4, "q_review")
    assert str(p) == (
        "cases.xlsx, sheet 'cases', row 4, column q_review: 'Sufficent' is not an allowed "
        "answer (allowed: Sufficient review, Insufficient review, No review, Not applicable); "
        "did you mean 'Sufficient review'?"
    )
    assert p.value == "Sufficent" and p.sheet == "cases"


def test_invalid_category_code(tmp_path, tiny_instrument, tiny_rows):
    _set(tiny_rows, 0, case_type="Licnce")
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), 2, "case_type")
    assert "'Licnce' is not an allowed value (allowed: Community order, Licence)" in p.message
    assert "did you mean 'Licence'?" in p.message


def test_count_out_of_range(tmp_path, tiny_instrument, tiny_rows):
    _set(tiny_rows, 1, n_oms=9)
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), 3, "n_oms")
    assert p.message == "9 is out of range (expected a whole number from 1 to 5)"


def test_count_not_whole(tmp_path, tiny_instrument, tiny_rows):
    _set(tiny_rows, 1, n_oms="2.5")
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), 3, "n_oms")
    assert p.message.startswith("2.5 is not a whole number")


def test_count_not_a_number(tmp_path, tiny_instrument, tiny_rows):
    _set(tiny_rows, 4, q_contacts="several")
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), 6, "q_contacts")
    assert p.message == "'several' is not a number (expected a whole number from 0 to 50)"


def test_negative_count(tmp_path, tiny_instrument, tiny_rows):
    _set(tiny_rows, 0, q_contacts=-1)
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    assert "-1 is out of range" in _one(_problems(path, tiny_instrument), 2, "q_contacts").message


def test_duplicate_case_ids(tmp_path, tiny_instrument, tiny_rows):
    _set(tiny_rows, 4, case_id=tiny_rows[1]["case_id"])
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    problems = _problems(path, tiny_instrument)
    assert _one(problems, 3, "case_id").message == "duplicate case id 'C00001' (also on row 6)"
    assert _one(problems, 6, "case_id").message == "duplicate case id 'C00001' (also on row 3)"


def test_blank_case_id(tmp_path, tiny_instrument, tiny_rows):
    _set(tiny_rows, 3, case_id="  ")
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), 5, "case_id")
    assert p.message == "blank case id: every case needs an identifier"


def test_answer_contradicts_skip_rule(tmp_path, tiny_instrument, tiny_rows):
    i = _first_with(tiny_instrument, tiny_rows, "report_type", ("Oral", "None"))
    _set(tiny_rows, i, q_typed="Yes")
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), i + 2, "q_typed")
    rt = tiny_rows[i]["report_type"]
    assert p.message == (
        f"answered 'Yes' but the question does not apply to this case (report_type is '{rt}'; "
        "it applies only when report_type is Typed); leave it blank or answer Not applicable"
    )


def test_factor_progress_without_factor(tmp_path, tiny_instrument, tiny_rows):
    i = _first_with(tiny_instrument, tiny_rows, "f_alcohol_identified", ("No",))
    _set(tiny_rows, i, f_alcohol_progress="no")
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), i + 2, "f_alcohol_progress")
    assert "answered 'no' but the question does not apply" in p.message
    assert "f_alcohol_identified is 'No'" in p.message


def test_blank_where_question_applies(tmp_path, tiny_instrument, tiny_rows):
    i = _first_with(tiny_instrument, tiny_rows, "report_type", ("Typed",))
    _set(tiny_rows, i, q_typed=None)
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), i + 2, "q_typed")
    assert p.message.startswith("is blank but the question applies to this case")
    assert "(report_type is 'Typed')" in p.message


def test_a_case_detail_coded_none_is_quoted_not_mistaken_for_blank(
    tmp_path, tiny_instrument, tiny_rows
):
    # report_type's code None means "no report prepared"; the message quotes it, so it
    # cannot be read as a blank report_type.
    i = _first_with(tiny_instrument, tiny_rows, "report_type", ("None",))
    _set(tiny_rows, i, q_typed="Yes")
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), i + 2, "q_typed")
    assert "(report_type is 'None'; it applies only when report_type is Typed)" in p.message


def test_blank_answer_without_skip_rule(tmp_path, tiny_instrument, tiny_rows):
    _set(tiny_rows, 5, q_review=None)
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), 7, "q_review")
    assert p.message.startswith("is blank; every case needs an answer")


def test_blank_required_case_detail(tmp_path, tiny_instrument, tiny_rows):
    _set(tiny_rows, 0, case_type="")
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), 2, "case_type")
    assert p.message == "is blank; every case needs a value (allowed: Community order, Licence)"


def test_missing_required_columns_all_listed(tmp_path, tiny_instrument, tiny_rows):
    cols = [c for c in tiny_rows[0] if c not in ("q_review", "n_oms", "trust", "notes")]
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows, cols))
    problems = _problems(path, tiny_instrument)
    missing = {p.column for p in problems if "is missing" in p.message}
    assert missing == {"q_review", "n_oms"}  # optional trust and notes are not required


def test_unknown_column_is_a_warning(tmp_path, tiny_instrument, tiny_rows):
    rows = [{**r, "inspector": "JS"} for r in tiny_rows]
    path = write_xlsx(tmp_path / "cases.xlsx", grid(rows))
    warnings: list[Problem] = []
    df = read_cases(path, tiny_instrument, warnings=warnings)
    assert len(df) == 6 and "inspector" not in df.columns
    assert [w.level for w in warnings] == ["warning"]
    assert "unknown column 'inspector' (column L)" in warnings[0].message


def test_header_not_on_row_1(tmp_path, tiny_instrument, tiny_rows):
    cells = [["Case inspection 2014"], []] + grid(tiny_rows)
    path = write_xlsx(tmp_path / "cases.xlsx", cells)
    (p,) = _problems(path, tiny_instrument)
    assert p.row == 3
    assert "is on row 3, not row 1: delete rows 1 to 2" in p.message


def test_no_data_rows(tmp_path, tiny_instrument, tiny_rows):
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows)[:1])
    (p,) = _problems(path, tiny_instrument)
    assert p.message == "has a header row but no case rows"


def test_empty_sheet(tmp_path, tiny_instrument):
    path = write_xlsx(tmp_path / "cases.xlsx", [])
    (p,) = _problems(path, tiny_instrument)
    assert "has no data" in p.message


def test_wrong_sheet_names_sheets_found(tmp_path, tiny_instrument, tiny_rows):
    path = write_xlsx(
        tmp_path / "cases.xlsx",
        grid(tiny_rows),
        sheet="Sheet1",
        other_sheets={"Sheet2": [["x"]], "old": [["y"]]},
        hidden=["old"],
    )
    (p,) = _problems(path, tiny_instrument)
    assert p.sheet is None
    assert "no sheet named 'cases' and 2 visible sheets" in p.message
    assert "'Sheet1', 'Sheet2', 'old' (hidden)" in p.message


def test_single_sheet_with_other_name_is_read(tmp_path, tiny_instrument, tiny_rows):
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows), sheet="Data")
    warnings: list[Problem] = []
    assert len(read_cases(path, tiny_instrument, warnings=warnings)) == 6
    assert "read the only sheet, 'Data'" in warnings[0].message


def test_sheet_option(tmp_path, tiny_instrument, tiny_rows):
    path = write_xlsx(tmp_path / "cases.xlsx", [["x"]], other_sheets={"Data": grid(tiny_rows)})
    assert len(read_cases(path, tiny_instrument, sheet="data")) == 6
    (p,) = _problems(path, tiny_instrument, sheet="Nope")
    assert p.message == "has no sheet named 'Nope' (sheets found: 'cases', 'Data')"


def test_duplicate_header(tmp_path, tiny_instrument, tiny_rows):
    cells = grid(tiny_rows)
    cells = [row + [row[2]] for row in cells]  # case_type again in column L
    path = write_xlsx(tmp_path / "cases.xlsx", cells)
    p = _one(_problems(path, tiny_instrument), 1, "case_type")
    assert p.message == "column id case_type appears twice (columns C and L)"


def test_every_problem_at_once_sorted(tmp_path, tiny_instrument, tiny_rows):
    _set(tiny_rows, 0, q_review="bad", n_oms=0)
    _set(tiny_rows, 3, case_type="nope")
    cols = [c for c in tiny_rows[0] if c != "q_contacts"]
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows, cols))
    with pytest.raises(IngestError) as info:
        read_cases(path, tiny_instrument)
    where = [(p.row, p.column) for p in info.value.problems]
    assert where == [(None, "q_contacts"), (2, "n_oms"), (2, "q_review"), (5, "case_type")]
    text = str(info.value)
    assert text.splitlines()[0] == "4 problems in cases.xlsx:"


def test_csv_row_numbers(tmp_path, tiny_instrument, tiny_rows):
    _set(tiny_rows, 2, q_review="maybe")
    path = write_csv(tmp_path / "cases.csv", grid(tiny_rows))
    p = _one(_problems(path, tiny_instrument), 4, "q_review")
    assert str(p).startswith("cases.csv, row 4, column q_review: 'maybe' is not an allowed")


def test_rows_with_only_optional_columns_are_skipped(tmp_path, tiny_instrument, tiny_rows):
    cells = grid(tiny_rows)
    header = cells[0]
    cells += [[("t" if c == "trust" else None) for c in header] for _ in range(3)]
    path = write_xlsx(tmp_path / "cases.xlsx", cells)
    warnings: list[Problem] = []
    assert len(read_cases(path, tiny_instrument, warnings=warnings)) == 6
    assert "3 rows (first: row 8) hold only optional columns (trust, notes)" in str(warnings[0])


def test_blank_rows_are_skipped_but_numbered(tmp_path, tiny_instrument, tiny_rows):
    cells = grid(tiny_rows)
    cells.insert(3, [None] * len(cells[0]))
    cells[5][7] = "bad"  # q_review of the case now on row 6
    path = write_xlsx(tmp_path / "cases.xlsx", cells)
    (p,) = _problems(path, tiny_instrument)
    assert (p.row, p.column) == (6, "q_review")


# -- trust, files, CLI ------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["Norfolk", "a b", "-x", "x--y", "x_y", "", "x/y"])
def test_bad_trust_slug(slug):
    with pytest.raises(UserError):
        check_trust(slug)


def test_good_trust_slug():
    assert check_trust("norfolk-and-suffolk-2") == "norfolk-and-suffolk-2"


def test_failed_ingest_keeps_previous_output(tmp_path, tiny_instrument, tiny_rows):
    good = write_xlsx(tmp_path / "good.xlsx", grid(tiny_rows))
    out = tmp_path / "processed"
    ingest_file(good, "t", tiny_instrument, out_dir=out)
    before = (out / "t.parquet").read_bytes()
    _set(tiny_rows, 0, q_review="??")
    bad = write_xlsx(tmp_path / "bad.xlsx", grid(tiny_rows))
    with pytest.raises(IngestError):
        ingest_file(bad, "t", tiny_instrument, out_dir=out)
    assert (out / "t.parquet").read_bytes() == before
    assert [p.name for p in out.iterdir()] == ["t.parquet"]


def test_cli_success(tmp_path, tiny_instrument_path, tiny_instrument, tiny_rows, capsys):
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    out = tmp_path / "out"
    argv = ["ingest", str(path), "--trust", "abc", "--instrument", str(tiny_instrument_path)]
    assert cli.main([*argv, "--out-dir", str(out)]) == 0
    assert "6 cases" in capsys.readouterr().out
    assert pd.read_parquet(out / "abc.parquet").shape[0] == 6


def test_cli_problems_exit_2(tmp_path, tiny_instrument_path, tiny_rows, capsys):
    _set(tiny_rows, 0, q_review="Sufficent")
    _set(tiny_rows, 1, n_oms=99)
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    out = tmp_path / "out"
    code = cli.main(
        ["ingest", str(path), "--trust", "abc", "--instrument", str(tiny_instrument_path),
         "--out-dir", str(out)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "row 2, column q_review: 'Sufficent' is not an allowed answer" in err
    assert "row 3, column n_oms: 99 is out of range" in err
    assert "2 problems found in" in err and "nothing was written" in err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_cli_bad_trust_and_missing_file(tmp_path, capsys):
    assert cli.main(["ingest", str(tmp_path / "x.xlsx"), "--trust", "Bad Slug"]) == 2
    assert "not a valid organisation slug" in capsys.readouterr().err
    out = tmp_path / "o"
    code = cli.main(["ingest", str(tmp_path / "nope.xlsx"), "--trust", "t", "--out-dir", str(out)])
    assert code == 2
    assert "nope.xlsx: file not found" in capsys.readouterr().err


def test_cli_subprocess_exit_code(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "ingest", str(tmp_path / "nope.csv"), "--trust", "t",
         "--out-dir", str(tmp_path / "o")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "file not found" in proc.stderr and "Traceback" not in proc.stderr


def test_read_cases_accepts_path_to_instrument(tmp_path, tiny_instrument_path, tiny_instrument):
    rows = valid_rows(tiny_instrument, 3)
    path = write_csv(tmp_path / "c.csv", grid(rows))
    assert len(read_cases(path, tiny_instrument_path)) == 3


def test_source_row_is_excel_row(tmp_path, tiny_instrument):
    rows = valid_rows(tiny_instrument, 3)
    path = write_xlsx(Path(tmp_path / "c.xlsx"), grid(rows))
    assert read_cases(path, tiny_instrument)["source_row"].tolist() == [2, 3, 4]


# -- reading cells and merged ranges ---------------------------------------------------------

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _bare_xlsx(path: Path, sheet_xml: str) -> Path:
    """The parts merged ranges are found from: workbook, its relationships, two sheets."""
    book = (
        f'<workbook {_NS} xmlns:r="{_R}"><sheets>'
        '<sheet name="other" sheetId="1" r:id="rId1"/>'
        '<sheet name="cases" sheetId="2" r:id="rId2"/></sheets></workbook>'
    )
    rels = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Target="/xl/worksheets/sheet2.xml"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", book)
        zf.writestr("xl/_rels/workbook.xml.rels", rels)
        zf.writestr("xl/worksheets/sheet1.xml", f"<worksheet {_NS}><sheetData/></worksheet>")
        zf.writestr("xl/worksheets/sheet2.xml", sheet_xml)
    return path


def _merged(path: Path, sheet: str, chunk: int = 2**20) -> list:
    """The merged ranges the reader finds for ``sheet``, scanning parts in ``chunk`` bytes."""
    scans = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            scanner = Scanner(name)
            blob = zf.read(name)
            for i in range(0, len(blob), chunk):
                scanner.feed(blob[i : i + chunk])
            scanner.feed(b"", final=True)
            assert scanner.fast
            scans[name] = scanner.scan
    grid = readers.Grid(pd.DataFrame())
    readers._sheet_extras(path, sheet, scans, grid)
    return grid.merged


def test_merged_ranges_after_a_megabyte_of_cells(tmp_path):
    head = f"<worksheet {_NS}><sheetData>"
    # Pad so that "</sheetData>" straddles the reader's 1 MiB chunks.
    pad = "<row/>" * ((2**20 - len(head) - 5) // 6)
    filler = " " * (2**20 - 5 - len(head) - len(pad))
    xml = (
        head + pad + filler + '</sheetData><mergeCells count="2"><mergeCell ref="A2:B3"/>'
        '<mergeCell ref="$C$5:D5"/></mergeCells></worksheet>'
    )
    assert xml.index("</sheetData>") == 2**20 - 5
    path = _bare_xlsx(tmp_path / "big.xlsx", xml)
    # A2:B3 is rows 1-2, columns 0-1 counted from 0; C5:D5 is row 4, columns 2-3.
    assert _merged(path, "cases") == [((1, 0), (2, 1)), ((4, 2), (4, 3))]
    assert _merged(path, "other") == []


def test_merged_ranges_with_prefixed_tags_and_empty_sheet_data(tmp_path):
    prefixed = (
        f'<x:worksheet xmlns:x="{_NS[7:-1]}"><x:sheetData><x:row r="1"/></x:sheetData>'
        '<x:mergeCells><x:mergeCell ref="A1:C1"/></x:mergeCells></x:worksheet>'
    )
    assert _merged(_bare_xlsx(tmp_path / "a.xlsx", prefixed), "cases") == [((0, 0), (0, 2))]
    empty = (
        f'<worksheet {_NS}><sheetData/><mergeCells><mergeCell ref="B2"/></mergeCells></worksheet>'
    )
    assert _merged(_bare_xlsx(tmp_path / "b.xlsx", empty), "cases") == [((1, 1), (1, 1))]


def test_cells_keep_excel_positions_when_a1_is_blank(tmp_path):
    # Header at C5: rows 1-4 and columns A-B are blank but must keep their places, or every
    # row and column a message names would be wrong.
    cells = [[None] * 4] * 4 + [[None, None, "case_id", "q"], [None, None, "A1", 3]]
    path = write_xlsx(tmp_path / "offset.xlsx", cells)
    frame = readers._read_cells(str(path), "cases")
    assert frame.shape == (6, 4)
    assert frame.iat[4, 2] == "case_id" and frame.iat[5, 3] == "3"
    assert frame.iloc[:4].isna().all().all() and frame[[0, 1]].isna().all().all()


# -- any_of skip rules ------------------------------------------------------------------------


def _case(i, case_type, report_type, q_typed, q_oversight):
    na = "Not applicable"
    return {
        "case_id": f"C{i}",
        "trust": None,
        "case_type": case_type,
        "n_oms": 1,
        "report_type": report_type,
        "notes": None,
        "f_alcohol_identified": "No",
        "f_alcohol_progress": na,
        "q_typed": q_typed,
        "q_review": "No review",
        "q_contacts": 0,
        "q_oversight": q_oversight,
    }


def test_any_of_rule_fills_and_checks(tmp_path, any_of_instrument):
    na = "Not applicable"
    rows = [
        _case(1, "Licence", "Oral", na, "Yes"),  # applies: a licence case
        _case(2, "Community order", "Typed", "Yes", "No"),  # applies: typed report sufficient
        _case(3, "Community order", "Typed", "No", None),  # neither: blank becomes N/A
        _case(4, "Community order", "Oral", na, None),  # neither: blank becomes N/A
    ]
    path = write_xlsx(tmp_path / "ok.xlsx", grid(rows))
    df = read_cases(path, any_of_instrument)
    assert df["q_oversight"].astype(object).tolist() == ["Yes", "No", na, na]


def test_any_of_rule_problems_name_the_rule(tmp_path, any_of_instrument):
    na = "Not applicable"
    rows = [
        _case(1, "Licence", "Oral", na, None),  # applies but blank
        _case(2, "Community order", "Typed", "No", "Yes"),  # answered where it does not apply
    ]
    path = write_xlsx(tmp_path / "bad.xlsx", grid(rows))
    problems = _problems(path, any_of_instrument)
    assert _one(problems, 2, "q_oversight").message.startswith(
        "is blank but the question applies to this case (case_type is 'Licence', q_typed is "
        "'Not applicable'); answer it"
    )
    assert "it applies only when case_type is Licence, or q_typed is Yes)" in (
        _one(problems, 3, "q_oversight").message
    )


def test_a_workbook_the_fast_reader_cannot_read_is_read_the_slow_way(
    tmp_path, tiny_instrument, tiny_rows, monkeypatch
):
    def broken(source, sheet):
        raise RuntimeError("fastexcel could not cope")

    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    expected_frame = read_cases(path, tiny_instrument)
    monkeypatch.setattr(readers, "_read_cells", broken)
    assert read_cases(path, tiny_instrument).equals(expected_frame)


# -- the pieces behind analysis.ingest ---------------------------------------------------------


def test_report_lists_file_problems_first_then_by_row_then_column_order():
    rep = Report("x.xlsx")
    rep.sheet = "cases"
    rep.error("b is bad", row=3, column="b")
    rep.error("a is bad", row=3, column="a")
    rep.error("a is bad again", row=3, column="a")  # the same cell: reported once
    rep.error("column c is missing", column="c")
    rep.error("b is bad too", row=2, column="b")
    rep.warn("an odd column")
    with pytest.raises(IngestError) as info:
        rep.fail(order=["a", "b", "c"])
    problems = info.value.problems
    assert [p.message for p in problems] == [
        "column c is missing",
        "b is bad too",
        "a is bad",
        "b is bad",
    ]
    assert [w.message for w in info.value.warnings] == ["an odd column"]
    assert str(problems[2]) == "x.xlsx, sheet 'cases', row 3, column a: a is bad"
    assert str(info.value).splitlines()[0] == "4 problems in x.xlsx:"


def test_report_fail_without_errors_returns_and_stop_raises():
    rep = Report("x.csv")
    rep.warn("not UTF-8")
    assert rep.fail() is None
    with pytest.raises(IngestError) as info:
        rep.stop("is empty (0 bytes)")
    assert str(info.value) == "1 problem in x.csv:\nx.csv: is empty (0 bytes)"
    assert [w.message for w in info.value.warnings] == ["not UTF-8"]


@pytest.mark.parametrize(
    ("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (27, "AB"), (701, "ZZ"), (16383, "XFD")]
)
def test_column_letters_and_back(index, letters):
    # XFD, Excel's last column: X = 24, F = 6, D = 4, so 24 * 26**2 + 6 * 26 + 4 = 16384.
    assert column_letter(index) == letters
    assert column_index(letters.encode()) == index + 1


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2"),
        (b"case_id,", "text"),
        (b"PK\x05\x06", "text"),  # an empty zip archive's end record is not a workbook
        (b"", "text"),
    ],
)
def test_sniff_by_first_bytes(head, kind):
    assert sniff(head) == kind


_LATER_PHASES = ("engine", "render", "pipeline", "synthetic")


def _later_phase(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "analysis" and len(parts) > 1 and parts[1] in _LATER_PHASES


def test_ingest_source_never_imports_a_later_phase():
    # Every import statement, in functions too: ingest comes before the engine in the pipeline.
    package = Path(analysis.__file__).parent / "ingest"
    found = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            found += [(path.name, n) for n in names if _later_phase(n)]
    assert found == []


def test_importing_ingest_loads_no_later_phase():
    # In a fresh interpreter, so that modules other tests imported do not count.
    code = (
        "import importlib, pkgutil, sys, analysis.ingest as p\n"
        "for m in pkgutil.iter_modules(p.__path__):\n"
        "    importlib.import_module(f'analysis.ingest.{m.name}')\n"
        "print('\\n'.join(sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(analysis.__file__).parents[1])}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    loaded = proc.stdout.split()
    assert "analysis.ingest.read" in loaded and "analysis.instrument" in loaded
    assert [m for m in loaded if _later_phase(m)] == []


# -- two-row header (the template's) and one-row header (older workbooks) ---------------------


def _wording(inst, columns):
    return [f"Wording of {c}" for c in columns]


def test_two_row_header_wording_then_ids(tmp_path, tiny_instrument, tiny_rows):
    cells = grid(tiny_rows)
    cells = [_wording(tiny_instrument, cells[0]), *cells]
    path = write_xlsx(tmp_path / "cases.xlsx", cells)
    df = read_cases(path, tiny_instrument, language="en")
    # Six cases under the wording (row 1) and the ids (row 2): Excel rows 3 to 8.
    assert df["source_row"].tolist() == [3, 4, 5, 6, 7, 8]
    assert list(df["case_id"].astype(str)) == [str(r["case_id"]) for r in tiny_rows]


def test_one_row_header_still_read(tmp_path, tiny_instrument, tiny_rows):
    path = write_xlsx(tmp_path / "cases.xlsx", grid(tiny_rows))
    df = read_cases(path, tiny_instrument, language="en")
    assert df["source_row"].tolist() == [2, 3, 4, 5, 6, 7]


def test_wording_spelt_like_an_id_is_still_wording(tmp_path, tiny_instrument, tiny_rows):
    # A case detail labelled "Trust" reads like the id trust: row 2 still has more ids.
    cells = grid(tiny_rows)
    wording = _wording(tiny_instrument, cells[0])
    wording[0] = "trust"
    path = write_xlsx(tmp_path / "cases.xlsx", [wording, *cells])
    assert read_cases(path, tiny_instrument, language="en")["source_row"].tolist()[0] == 3


def test_a_row_above_the_ids_with_a_gap_is_refused(tmp_path, tiny_instrument, tiny_rows):
    # Not a wording row: one column has no text above its id, so no guess is made.
    cells = grid(tiny_rows)
    wording = _wording(tiny_instrument, cells[0])
    wording[3] = None
    path = write_xlsx(tmp_path / "cases.xlsx", [wording, *cells])
    (p,) = _problems(path, tiny_instrument)
    assert p.row == 2 and "is on row 2, not row 1: delete row 1" in p.message


def test_blank_condition_is_called_blank():
    # The case text of a skip-rule message: a blank cell is "blank", never "None" or "nan"
    # ("None" is also a report_type code, so it would say something else).
    from analysis.ingest.validate import _case_text

    norm = pd.DataFrame({"report_type": [None, "None", np.nan], "gender": ["Male", pd.NA, "F"]})
    # Values are quoted as typed, so the code 'None' cannot be mistaken for a blank.
    assert (
        _case_text(norm, 0, ["report_type", "gender"]) == "report_type is blank, gender is 'Male'"
    )
    assert (
        _case_text(norm, 1, ["report_type", "gender"]) == "report_type is 'None', gender is blank"
    )
    assert _case_text(norm, 2, ["report_type"]) == "report_type is blank"
