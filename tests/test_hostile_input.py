"""Hostile and strange input: every case ends in a correct result or a clear IngestError.

All files are made at test time. Each test also checks that a failed ingest writes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import time
import zipfile
from pathlib import Path

import pytest
from helpers.workbooks import grid, valid_rows, write_big_xlsx, write_csv, write_xlsx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.errors import UserError
from analysis.ingest import IngestError, Limits, ingest_file, read_cases, xmlscan

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@pytest.fixture
def rows(tiny_instrument):
    return valid_rows(tiny_instrument, 5)


@pytest.fixture
def good_xlsx(tmp_path, rows):
    return write_xlsx(tmp_path / "good.xlsx", grid(rows))


def refused(path, inst, tmp_path, **kw) -> str:
    """Ingest must fail with an IngestError, write nothing, and return the message text."""
    out = tmp_path / "processed"
    with pytest.raises(IngestError) as info:
        ingest_file(path, "t", inst, out_dir=out, **kw)
    assert not out.exists() or list(out.iterdir()) == []
    return str(info.value)


def rewrite_zip(src: Path, dst: Path, part: str, fn) -> Path:
    """Copy an xlsx, passing one part's text through ``fn``."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for name in zi.namelist():
            data = zi.read(name)
            if name == part:
                data = fn(data.decode("utf-8")).encode("utf-8")
            zo.writestr(name, data)
    return dst


# -- wrong kinds of file ------------------------------------------------------------------


def test_empty_file(tmp_path, tiny_instrument):
    path = tmp_path / "cases.xlsx"
    path.write_bytes(b"")
    assert "cases.xlsx: is empty (0 bytes)" in refused(path, tiny_instrument, tmp_path)


def test_folder_instead_of_file(tmp_path, tiny_instrument):
    (tmp_path / "d.xlsx").mkdir()
    assert "is a folder" in refused(tmp_path / "d.xlsx", tiny_instrument, tmp_path)


def test_binary_junk_named_xlsx(tmp_path, tiny_instrument):
    path = tmp_path / "cases.xlsx"
    path.write_bytes(bytes(range(256)) * 20)
    assert "is not an Excel workbook although it is named .xlsx" in refused(
        path, tiny_instrument, tmp_path
    )


def test_csv_named_xlsx_is_read_as_csv(tmp_path, tiny_instrument, rows):
    path = write_csv(tmp_path / "cases.xlsx", grid(rows))
    warnings = []
    assert len(read_cases(path, tiny_instrument, warnings=warnings)) == 5
    assert "is a text (CSV) file although it is named .xlsx" in warnings[0].message


def test_xlsx_named_csv_is_read_as_workbook(tmp_path, tiny_instrument, good_xlsx):
    path = tmp_path / "cases.csv"
    path.write_bytes(good_xlsx.read_bytes())
    warnings = []
    assert len(read_cases(path, tiny_instrument, warnings=warnings)) == 5
    assert "is an Excel workbook although it is named .csv" in warnings[0].message


def test_corrupt_zip_garbage(tmp_path, tiny_instrument):
    path = tmp_path / "cases.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 500)
    assert "damaged zip archive" in refused(path, tiny_instrument, tmp_path)


def test_truncated_xlsx(tmp_path, tiny_instrument, good_xlsx):
    path = tmp_path / "cases.xlsx"
    blob = good_xlsx.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    assert "not a readable" in refused(path, tiny_instrument, tmp_path)


def test_zip_with_garbage_parts(tmp_path, tiny_instrument):
    path = tmp_path / "cases.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "not xml at all <<<")
    # The guard's scan finds the unbalanced markup and expat names it, before any reader.
    assert (
        "cases.xlsx: is not a readable xlsx workbook (part xl/workbook.xml is not well-formed "
        "XML: syntax error at line 1)"
    ) in refused(path, tiny_instrument, tmp_path)


def test_plain_zip_is_not_a_workbook(tmp_path, tiny_instrument):
    path = tmp_path / "cases.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert "is a zip archive, not an Excel workbook" in refused(path, tiny_instrument, tmp_path)


def test_password_protected_ole2(tmp_path, tiny_instrument):
    path = tmp_path / "cases.xlsx"
    junk = b"\x00" * 100 + "EncryptedPackage".encode("utf-16-le") + b"\xff" * 2000
    path.write_bytes(OLE2 + junk)
    text = refused(path, tiny_instrument, tmp_path)
    assert "is password-protected" in text and "remove the password" in text


def test_ole2_junk(tmp_path, tiny_instrument):
    path = tmp_path / "cases.xls"
    path.write_bytes(OLE2 + b"\x13\x37" * 2000)
    assert "old-style .xls or other Office file that could not be read" in refused(
        path, tiny_instrument, tmp_path
    )


XLS = Path(__file__).resolve().parents[1] / (
    ".venv/lib/python3.11/site-packages/statsmodels/datasets/macrodata/src/macrodata.xls/"
    "macrodata.xls"
)


@pytest.mark.skipif(not XLS.exists(), reason="no legacy .xls file available to read")
def test_legacy_xls_is_read(tmp_path, tiny_instrument):
    # A real BIFF8 .xls that is not a case workbook: calamine reads it, so the problems
    # are about its content (sheets, header), not about the format.
    text = refused(XLS, tiny_instrument, tmp_path)
    assert "no sheet named 'cases' and 3 visible sheets" in text
    text = refused(XLS, tiny_instrument, tmp_path, sheet="Quarterly")
    assert "row 1 holds none of the instrument's column ids" in text


@pytest.mark.skipif(not XLS.exists(), reason="no legacy .xls file available to read")
def test_xls_named_xlsx_is_read_by_content(tmp_path, tiny_instrument):
    path = tmp_path / "cases.xlsx"
    path.write_bytes(XLS.read_bytes())
    assert "no sheet named 'cases' and 3 visible sheets" in refused(path, tiny_instrument, tmp_path)


def test_xlsx_named_xls_is_read_by_content(tmp_path, tiny_instrument, good_xlsx):
    path = tmp_path / "cases.xls"
    path.write_bytes(good_xlsx.read_bytes())
    assert len(read_cases(path, tiny_instrument)) == 5


def test_a_quote_never_closed_is_named_once(tmp_path, tiny_instrument, rows):
    # Line 1 is the header; line 3 (the second case) gets a quote before its first value.
    # Line 5 holds a note in quotes with a comma, so the stray quote "closes" there and
    # the records shift: the parsers alone would report misplaced answers, not the quote.
    rows[3]["notes"] = "seen, then moved"
    cells = grid(rows)
    lines = write_csv(tmp_path / "x.csv", cells).read_text().splitlines(keepends=True)
    assert lines[4].count('"') == 2  # the note, quoted by the csv writer
    lines[2] = '"' + lines[2]
    path = tmp_path / "cases.csv"
    path.write_text("".join(lines))
    text = refused(path, tiny_instrument, tmp_path)
    assert text.startswith("1 problem in cases.csv:")
    assert "cases.csv: line 3: a quote opened here is never closed" in text


def test_a_quoted_note_across_lines_is_read(tmp_path, tiny_instrument, rows):
    # A note over two lines with quotes inside, as Excel writes it: quoted, quotes doubled.
    rows[1]["notes"] = 'two lines,\nand a "quoted" word'
    path = write_csv(tmp_path / "cases.csv", grid(rows))
    assert '"two lines,\nand a ""quoted"" word"' in path.read_text()
    df = read_cases(path, tiny_instrument)
    assert len(df) == 5 and df["case_id"].tolist() == [r["case_id"] for r in rows]


def test_nul_bytes_in_csv(tmp_path, tiny_instrument):
    path = tmp_path / "cases.csv"
    path.write_bytes(b"case_id,x\n\x00\x01\x02\x03" * 50)
    assert "holds binary data" in refused(path, tiny_instrument, tmp_path)


# -- CSV encodings and delimiters ---------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "delimiter", "warns"),
    [
        ("utf-8-sig", ",", False),
        ("utf-8", ";", False),
        ("utf-8", "\t", False),
        ("latin-1", ",", True),
        ("cp1252", ";", True),
        ("utf-16", "\t", False),
    ],
)
def test_csv_variants(tmp_path, tiny_instrument, rows, encoding, delimiter, warns):
    rows[0]["case_id"] = "Bíró-Ø"
    rows[1]["notes"] = 'café; "quoted", with separators\nand a line break'
    path = write_csv(tmp_path / "cases.csv", grid(rows), delimiter=delimiter, encoding=encoding)
    warnings = []
    df = read_cases(path, tiny_instrument, warnings=warnings)
    assert df["case_id"].tolist()[0] == "Bíró-Ø"
    assert df["source_row"].tolist() == [2, 3, 4, 5, 6]
    assert bool(warnings) == warns


def test_utf16_csv_cut_mid_character(tmp_path, tiny_instrument):
    # The BOM promises two bytes a character; one byte more cannot be decoded as UTF-16.
    path = tmp_path / "cases.csv"
    path.write_bytes("case_id,q_review\r\nC1,Yes\r\n".encode("utf-16") + b"x")
    assert "cases.csv: is not a text (CSV) file" in refused(path, tiny_instrument, tmp_path)


def test_excel_sep_hint_line(tmp_path, tiny_instrument, rows):
    rows[1]["q_review"] = "bad"
    path = tmp_path / "cases.csv"
    write_csv(path, grid(rows), delimiter=";")
    path.write_text("sep=;\n" + path.read_text())
    text = refused(path, tiny_instrument, tmp_path)
    assert "cases.csv, row 3, column q_review: 'bad'" in text


def test_ragged_csv(tmp_path, tiny_instrument, rows):
    cells = grid(rows)
    cells[2] = cells[2] + ["stray"]
    path = write_csv(tmp_path / "cases.csv", cells)
    warnings = []
    assert len(read_cases(path, tiny_instrument, warnings=warnings)) == 5
    assert "has no header but holds data in 1 row (first: row 3)" in warnings[0].message


def test_csv_header_not_on_row_1(tmp_path, tiny_instrument, rows):
    path = write_csv(tmp_path / "cases.csv", [["Inspection of X"]] + grid(rows))
    text = refused(path, tiny_instrument, tmp_path)
    assert "cases.csv, row 2: the header" in text and "delete row 1 so" in text


# -- odd workbooks --------------------------------------------------------------------------


def test_merged_header_cells(tmp_path, tiny_instrument, rows):
    path = write_xlsx(tmp_path / "cases.xlsx", grid(rows), merge=["B1:C1"])
    text = refused(path, tiny_instrument, tmp_path)
    assert "row 1: header cells B1:C1 are merged" in text


def test_merged_banner_above_header(tmp_path, tiny_instrument, rows):
    cells = [["Inspection of adult offending work"], *grid(rows)]
    path = write_xlsx(tmp_path / "cases.xlsx", cells, merge=["A1:K1"])
    assert "is on row 2, not row 1" in refused(path, tiny_instrument, tmp_path)


def test_hidden_cases_sheet_refused_unless_named(tmp_path, tiny_instrument, rows):
    path = write_xlsx(
        tmp_path / "cases.xlsx", grid(rows), other_sheets={"notes": [["x"]]}, hidden=["cases"]
    )
    text = refused(path, tiny_instrument, tmp_path)
    assert "sheet 'cases' is hidden" in text and "--sheet 'cases'" in text
    assert len(read_cases(path, tiny_instrument, sheet="cases")) == 5


def test_visible_cases_with_hidden_others(tmp_path, tiny_instrument, rows):
    path = write_xlsx(
        tmp_path / "cases.xlsx",
        grid(rows),
        other_sheets={"lists": [["Yes"]], "old": [["zzz"]]},
        hidden=["lists", "old"],
    )
    assert len(read_cases(path, tiny_instrument)) == 5


def test_formulas_use_cached_values(tmp_path, tiny_instrument, rows):
    import xlsxwriter

    path = tmp_path / "cases.xlsx"
    cells = grid(rows)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("cases")
    for r, row in enumerate(cells):
        for c, v in enumerate(row):
            if v is not None:
                ws.write(r, c, v)
    col = cells[0].index
    ws.write_formula(1, col("q_review"), '="Insufficient "&"review"', None, "Insufficient review")
    ws.write_formula(1, col("n_oms"), "=1+2", None, 3)
    wb.close()
    df = read_cases(path, tiny_instrument)
    assert df.at[0, "q_review"] == "Insufficient review"
    assert df.at[0, "n_oms"] == 3


def test_error_and_uncalculated_formula_cells_explained(tmp_path, tiny_instrument, rows):
    import openpyxl

    path = write_xlsx(tmp_path / "cases.xlsx", grid(rows))
    wb = openpyxl.load_workbook(path)
    ws = wb["cases"]
    header = [c.value for c in ws[1]]
    ws.cell(row=2, column=header.index("q_review") + 1, value="=VLOOKUP(A2,Z1:Z2,1,FALSE)")
    ws.cell(row=3, column=header.index("q_review") + 1, value="#N/A")
    wb.save(path)
    text = refused(path, tiny_instrument, tmp_path)
    assert "row 2, column q_review: holds the formula =VLOOKUP(A2,Z1:Z2,1,FALSE) whose" in text
    assert "row 3, column q_review: holds the Excel error #N/A, so it reads as blank" in text


def test_numbers_and_dates_stored_oddly(tmp_path, tiny_instrument, rows):
    rows[0]["case_id"] = 1001  # a number: "1001", not "1001.0"
    rows[1]["n_oms"] = "3"  # a number stored as text
    rows[2]["q_contacts"] = " 4 "
    path = write_xlsx(tmp_path / "cases.xlsx", grid(rows))
    df = read_cases(path, tiny_instrument)
    assert df.at[0, "case_id"] == "1001"
    assert df.at[1, "n_oms"] == 3 and df.at[2, "q_contacts"] == 4


def test_date_in_coded_column(tmp_path, tiny_instrument, rows):
    import xlsxwriter

    path = tmp_path / "cases.xlsx"
    cells = grid(rows)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("cases")
    for r, row in enumerate(cells):
        for c, v in enumerate(row):
            if v is not None:
                ws.write(r, c, v)
    fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_datetime(3, cells[0].index("case_type"), dt.datetime(2014, 1, 2), fmt)
    wb.close()
    text = refused(path, tiny_instrument, tmp_path)
    assert "row 4, column case_type: '2014-01-02' is not an allowed value" in text


def test_very_long_text(tmp_path, tiny_instrument, rows):
    rows[0]["notes"] = "x" * 40_000
    path = write_xlsx(tmp_path / "cases.xlsx", grid(rows))
    df = read_cases(path, tiny_instrument)
    assert "notes" not in df.columns and len(df) == 5
    rows[1]["q_review"] = "y" * 40_000
    path = write_xlsx(tmp_path / "bad.xlsx", grid(rows))
    text = refused(path, tiny_instrument, tmp_path)
    line = next(x for x in text.splitlines() if "q_review" in x)
    assert len(line) < 400 and "'yyyyy" in line and "...'" in line


def test_hundred_thousand_rows(tmp_path, tiny_instrument):
    base = valid_rows(tiny_instrument, 20)
    cells = [list(base[0])]
    for i in range(100_000):
        r = base[i % 20]
        cells.append([f"C{i:06d}" if c == "case_id" else r[c] for c in cells[0]])
    path = write_csv(tmp_path / "big.csv", cells)
    start = time.perf_counter()
    result = ingest_file(path, "big", tiny_instrument, out_dir=tmp_path / "out")
    assert result.n_cases == 100_000
    assert time.perf_counter() - start < 60  # ~5 s here; generous for slow CI


def test_hundred_thousand_rows_xlsx(tmp_path, tiny_instrument):
    base = valid_rows(tiny_instrument, 20)
    header = list(base[0])
    cells = [header] + [
        [f"C{i:06d}" if c == "case_id" else base[i % 20][c] for c in header] for i in range(100_000)
    ]
    path = write_big_xlsx(tmp_path / "big.xlsx", cells)
    start = time.perf_counter()
    df = read_cases(path, tiny_instrument)
    assert len(df) == 100_000 and df["source_row"].iloc[-1] == 100_001
    assert time.perf_counter() - start < 60  # ~5 s here; generous for slow CI


# -- XML attacks and zip bombs -------------------------------------------------------------

LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)
XXE = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def _strings_part(good_xlsx) -> str:
    with zipfile.ZipFile(good_xlsx) as zf:
        return next(n for n in zf.namelist() if n.endswith("sharedStrings.xml"))


def test_billion_laughs_in_shared_strings(tmp_path, tiny_instrument, good_xlsx):
    part = _strings_part(good_xlsx)
    path = rewrite_zip(
        good_xlsx,
        tmp_path / "cases.xlsx",
        part,
        lambda s: s.replace("?>", "?>" + LAUGHS, 1).replace("<t>C00000</t>", "<t>&lol3;</t>"),
    )
    text = refused(path, tiny_instrument, tmp_path)
    assert f"part {part} declares a DTD or entities" in text


def test_external_entity_in_sheet(tmp_path, tiny_instrument, good_xlsx):
    part = "xl/worksheets/sheet1.xml"
    path = rewrite_zip(
        good_xlsx, tmp_path / "cases.xlsx", part, lambda s: s.replace("?>", "?>" + XXE, 1)
    )
    assert "declares a DTD or entities" in refused(path, tiny_instrument, tmp_path)


def test_entity_hidden_past_prolog_scan_is_still_refused(tmp_path, tiny_instrument, good_xlsx):
    # A long comment pushes the DTD past the pre-check; calamine then refuses the entity.
    part = _strings_part(good_xlsx)
    pad = "<!--" + "p" * (xmlscan.PROLOG_BYTES + 10) + "-->"
    path = rewrite_zip(
        good_xlsx,
        tmp_path / "cases.xlsx",
        part,
        lambda s: s.replace("?>", "?>" + pad + XXE, 1).replace("<t>C00000</t>", "<t>&xxe;</t>"),
    )
    text = refused(path, tiny_instrument, tmp_path)
    assert "XML entities" in text and "root:" not in text


def test_zip_bomb_refused(tmp_path, tiny_instrument, good_xlsx):
    # The ratio limit is lifted so that the byte budget is what stops this one.
    limits = Limits(max_inflated_mb=5, max_ratio=10_000)
    path = tmp_path / "cases.xlsx"
    with zipfile.ZipFile(good_xlsx) as zi, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zo:
        for name in zi.namelist():
            zo.writestr(name, zi.read(name))
        zo.writestr("xl/media/pad.bin", b"\x00" * (20 * 1024**2))
    assert path.stat().st_size < 1024**2
    text = refused(path, tiny_instrument, tmp_path, limits=limits)
    assert "over the 5 MB limit (a 'zip bomb'?)" in text


def test_stray_cell_far_away_refused(tmp_path, tiny_instrument, good_xlsx):
    # One value in XFD1048576 would make the reader build a 17-billion-cell grid.
    part = "xl/worksheets/sheet1.xml"
    path = rewrite_zip(
        good_xlsx,
        tmp_path / "cases.xlsx",
        part,
        lambda s: s.replace('<dimension ref="A1:K6"/>', '<dimension ref="A1:XFD1048576"/>').replace(
            "</sheetData>",
            '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
            "</sheetData>",
        ),
    )
    text = refused(path, tiny_instrument, tmp_path)
    assert "used range of A1:XFD1048576 (17,179,869,184 cells" in text


# -- fuzzing -------------------------------------------------------------------------------

# INGEST_FUZZ_EXAMPLES=2000 for a long local run.
FUZZ = settings(
    max_examples=int(os.environ.get("INGEST_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _outcome(path: Path, inst, out: Path) -> None:
    """Ingest either succeeds with one complete file or raises IngestError leaving none."""
    try:
        ingest_file(path, "fuzz", inst, out_dir=out)
    except IngestError as exc:
        assert exc.problems and all(str(p) for p in exc.problems)
        assert not out.exists() or not any(out.iterdir())
        return
    assert [p.name for p in out.iterdir()] == ["fuzz.parquet"]


@FUZZ
@given(blob=st.binary(max_size=3000), ext=st.sampled_from([".xlsx", ".csv", ".xls", ""]))
def test_fuzz_random_bytes(tmp_path_factory, tiny_instrument, blob, ext):
    d = tmp_path_factory.mktemp("fz")
    path = d / f"f{ext}"
    path.write_bytes(blob)
    _outcome(path, tiny_instrument, d / "out")


@FUZZ
@given(
    prefix=st.sampled_from([b"", b"PK\x03\x04", OLE2, b"\xef\xbb\xbf"]),
    blob=st.binary(max_size=2000),
)
def test_fuzz_magic_prefixed_bytes(tmp_path_factory, tiny_instrument, prefix, blob):
    d = tmp_path_factory.mktemp("fz")
    path = d / "f.xlsx"
    path.write_bytes(prefix + blob)
    _outcome(path, tiny_instrument, d / "out")


@FUZZ
@given(text=st.text(max_size=2000))
def test_fuzz_random_csv_text(tmp_path_factory, tiny_instrument, text):
    d = tmp_path_factory.mktemp("fz")
    header = ",".join(tiny_instrument.columns)
    path = d / "f.csv"
    path.write_text(header + "\n" + text, encoding="utf-8", errors="surrogatepass")
    _outcome(path, tiny_instrument, d / "out")


CELL = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from(["Yes", "no", "N/A", "n.a.", "Typed", "licence", "2", " 3 ", "#N/A", "="]),
)


@FUZZ
@given(data=st.data())
def test_fuzz_cells_in_valid_skeleton(tmp_path_factory, tiny_instrument, data):
    rows = valid_rows(tiny_instrument, 4)
    cells = grid(rows)
    n = data.draw(st.integers(min_value=0, max_value=6))
    for _ in range(n):
        r = data.draw(st.integers(min_value=1, max_value=len(cells) - 1))
        c = data.draw(st.integers(min_value=0, max_value=len(cells[0]) - 1))
        cells[r][c] = data.draw(CELL)
    d = tmp_path_factory.mktemp("fz")
    as_csv = data.draw(st.booleans())
    if as_csv:
        path = write_csv(d / "f.csv", cells)
    else:
        path = write_xlsx(d / "f.xlsx", cells)
    _outcome(path, tiny_instrument, d / "out")


# -- fuzzing inside the container ------------------------------------------------------------

#: A valid five-case workbook's parts, made once per instrument (name -> inflated bytes).
_BASE: dict[str, list[tuple[str, bytes]]] = {}


def _base_parts(inst, tmp: Path) -> list[tuple[str, bytes]]:
    if inst.sha256 not in _BASE:
        book = write_xlsx(tmp / "base.xlsx", grid(valid_rows(inst, 5)))
        with zipfile.ZipFile(book) as zf:
            _BASE[inst.sha256] = [(n, zf.read(n)) for n in zf.namelist()]
    return _BASE[inst.sha256]


def _mutate(blob: bytes, data) -> bytes:
    """Flip, truncate, reorder, repeat or insert bytes of ``blob`` (hypothesis draws which)."""
    if not blob:
        return data.draw(st.binary(max_size=20))
    how = data.draw(st.sampled_from(["flip", "truncate", "swap", "repeat", "insert", "delete"]))
    i = data.draw(st.integers(0, len(blob) - 1))
    j = data.draw(st.integers(i, min(len(blob), i + 200)))
    if how == "flip":
        return blob[:i] + bytes([blob[i] ^ data.draw(st.integers(1, 255))]) + blob[i + 1 :]
    if how == "truncate":
        return blob[:i]
    if how == "swap":  # two pieces change places
        k = data.draw(st.integers(j, min(len(blob), j + 200)))
        return blob[:i] + blob[j:k] + blob[i:j] + blob[k:]
    if how == "repeat":
        return blob[:j] + blob[i:j] * data.draw(st.integers(2, 50)) + blob[j:]
    if how == "insert":
        return blob[:i] + data.draw(st.binary(min_size=1, max_size=40)) + blob[i:]
    return blob[:i] + blob[j:]


CONTAINER = settings(
    max_examples=int(os.environ.get("INGEST_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@CONTAINER
@given(data=st.data())
def test_fuzz_inside_the_container(tmp_path_factory, tiny_instrument, data):
    """Mutate XML parts (re-zipped validly), the zip's own bytes, or the order of its parts.

    Ingest must answer with a clear IngestError or UserError, or a valid result: never
    another exception, never a crash.
    """
    d = tmp_path_factory.mktemp("cz")
    parts = list(_base_parts(tiny_instrument, d))
    level = data.draw(st.sampled_from(["xml", "xml", "zip", "order"]))
    path = d / "f.xlsx"
    if level == "order":
        parts = data.draw(st.permutations(parts))
    if level == "xml":
        k = data.draw(st.integers(0, len(parts) - 1))
        for _ in range(data.draw(st.integers(1, 3))):
            parts[k] = (parts[k][0], _mutate(parts[k][1], data))
    stored = data.draw(st.booleans())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as zf:
        for name, blob in parts:
            zf.writestr(name, blob)
    if level == "zip":
        blob = path.read_bytes()
        for _ in range(data.draw(st.integers(1, 3))):
            blob = _mutate(blob, data)
        path.write_bytes(blob)
    out = d / "out"
    try:
        ingest_file(path, "fuzz", tiny_instrument, out_dir=out)
    except UserError as exc:  # IngestError is one
        assert str(exc) and "Traceback" not in str(exc)
        assert not out.exists() or not any(out.iterdir())
        return
    assert [p.name for p in out.iterdir()] == ["fuzz.parquet"]


def test_problem_lines_never_hold_tracebacks(tmp_path, tiny_instrument):
    path = tmp_path / "x.csv"
    path.write_bytes(io.BytesIO(b"\xff\xfe\x00\x00garbage").getvalue())
    with pytest.raises(IngestError) as info:
        read_cases(path, tiny_instrument)
    assert "Traceback" not in str(info.value)


@pytest.mark.skipif(not XLS.exists(), reason="no legacy .xls file available to read")
def test_xls_cannot_hold_the_instrument(tmp_path, default_instrument):
    # Every .xls used to fail with "required column ... is missing": say why instead.
    text = refused(XLS, default_instrument, tmp_path, sheet="Quarterly")
    n = len(default_instrument.required_columns)
    assert "is an old-style .xls workbook, which holds at most 256 columns (A to IV), but " in text
    assert f"instrument iaow-2013-14 needs {n}" in text and "save it as .xlsx" in text
    assert "required column" not in text


def test_instrument_option_pointing_at_a_device(tmp_path, good_xlsx, capsys):
    from analysis import cli

    args = ["ingest", str(good_xlsx), "--trust", "t", "--instrument", "/dev/zero"]
    assert cli.main([*args, "--out-dir", str(tmp_path / "out")]) == 2
    assert "instrument /dev/zero is a device, pipe or socket" in capsys.readouterr().err


# -- concurrent runs -------------------------------------------------------------------------

HOLD = """
import sys
from analysis.locks import locked
with locked(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _hold(final):
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(final)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout.readline() == b"held\n"
    return proc


@pytest.mark.parametrize("elsewhere", [False, True])
def test_a_second_ingest_for_one_file_is_refused(tmp_path, good_xlsx, tiny_instrument, elsewhere):
    # Another run holds the lock: ingest refuses, names its pid, writes nothing; once the
    # lock is free it runs. Into the processed folder, the lock is report's (beside the
    # organisation's outputs); into another folder, the lock beside the file.
    from analysis import config
    from analysis.locks import Busy

    out = tmp_path / "elsewhere" if elsewhere else config.PROCESSED_DIR
    holder = _hold(out / "t" if elsewhere else config.trust_output_dir("t"))
    try:
        with pytest.raises(Busy, match=rf"another run for t is in progress \(pid {holder.pid}"):
            ingest_file(good_xlsx, "t", tiny_instrument, out_dir=out if elsewhere else None)
        assert not (out / "t.parquet").exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert ingest_file(good_xlsx, "t", tiny_instrument, out_dir=out).n_cases == 5
    (out / "t.parquet").unlink()


def test_ingest_elsewhere_does_not_wait_for_a_report(tmp_path, good_xlsx, tiny_instrument):
    from analysis import config

    holder = _hold(config.trust_output_dir("t"))  # a report for t, running
    try:
        out = tmp_path / "elsewhere"
        assert ingest_file(good_xlsx, "t", tiny_instrument, out_dir=out).n_cases == 5
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
