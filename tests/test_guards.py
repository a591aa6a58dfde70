"""The workbook guard bounds the real work of reading a file, not the sizes it declares.

Every crafted file is made here, small, from a valid five-case workbook: zip headers are
patched byte by byte where a zip library would refuse to write the lie.
"""

from __future__ import annotations

import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from helpers.workbooks import grid, valid_rows, write_xlsx

from analysis import cli
from analysis.ingest import IngestError, Limits, guards, read_cases
from analysis.ingest.problems import Report

SHEET = "xl/worksheets/sheet1.xml"


@pytest.fixture
def good_xlsx(tmp_path, tiny_instrument):
    return write_xlsx(tmp_path / "good.xlsx", grid(valid_rows(tiny_instrument, 5)))


def refused(path: Path, inst, **kw) -> str:
    with pytest.raises(IngestError) as info:
        read_cases(path, inst, **kw)
    text = str(info.value)
    assert "Traceback" not in text
    return text


def rebuild(src: Path, dst: Path, parts: dict | None = None, extra: dict | None = None) -> Path:
    """Copy an xlsx, replacing parts (name -> new text or bytes) and adding others."""
    parts, extra = parts or {}, extra or {}
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for name in zi.namelist():
            data = parts.get(name, zi.read(name))
            zo.writestr(name, data(zi.read(name).decode()) if callable(data) else data)
        for name, data in extra.items():
            zo.writestr(name, data)
    return dst


def forge(path: Path, name: str, **fields) -> Path:
    """Patch one member's headers, local and central: file_size, crc, flags, method.

    Offsets are those of the zip format (APPNOTE 4.3.7 and 4.3.12).
    """
    blob = bytearray(path.read_bytes())
    local = {"flags": (6, "<H"), "method": (8, "<H"), "crc": (14, "<I"), "file_size": (22, "<I")}
    central = {"flags": (8, "<H"), "method": (10, "<H"), "crc": (16, "<I"), "file_size": (24, "<I")}
    at = blob.find(b"PK\x03\x04")
    while at >= 0:
        n, e = struct.unpack_from("<HH", blob, at + 26)
        if blob[at + 30 : at + 30 + n] == name.encode():
            for key, value in fields.items():
                off, fmt = local[key]
                struct.pack_into(fmt, blob, at + off, value)
        at = blob.find(b"PK\x03\x04", at + 4)
    at = blob.find(b"PK\x01\x02")
    while at >= 0:
        n = struct.unpack_from("<H", blob, at + 28)[0]
        if blob[at + 46 : at + 46 + n] == name.encode():
            for key, value in fields.items():
                off, fmt = central[key]
                struct.pack_into(fmt, blob, at + off, value)
        at = blob.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(blob))
    return path


# -- the byte budget and the compression ratio -------------------------------------------------


def test_member_declaring_a_small_size_but_inflating_large(tmp_path, tiny_instrument, good_xlsx):
    # 40 MB of zeros, declared as 1,000 bytes with the checksum of those 1,000: zipfile alone
    # would stop at the declared size and find nothing wrong; the reader would inflate it all.
    data = b"\0" * (40 * 1024**2)
    path = rebuild(good_xlsx, tmp_path / "lie.xlsx", extra={"xl/media/pad.bin": data})
    forge(path, "xl/media/pad.bin", file_size=1000, crc=zlib.crc32(data[:1000]))
    assert path.stat().st_size < 200_000
    start = time.perf_counter()
    text = refused(path, tiny_instrument, limits=Limits(max_inflated_mb=20, max_ratio=1e6))
    assert "part xl/media/pad.bin declares 1,000 bytes" in text
    assert "over the 20 MB limit (a 'zip bomb'?)" in text
    assert time.perf_counter() - start < 30


def test_declared_size_smaller_than_the_data_within_budget(tmp_path, tiny_instrument, good_xlsx):
    data = bytes(range(256)) * 4000  # 1 MB that compresses only a little
    path = rebuild(good_xlsx, tmp_path / "lie.xlsx", extra={"xl/media/pad.bin": data})
    forge(path, "xl/media/pad.bin", file_size=1000, crc=zlib.crc32(data[:1000]))
    text = refused(path, tiny_instrument)
    assert "part xl/media/pad.bin declares 1,000 bytes but inflates to 1,024,000" in text
    assert "damaged or crafted" in text


def test_declared_size_larger_than_the_data(tmp_path, tiny_instrument, good_xlsx):
    path = forge(Path(rebuild(good_xlsx, tmp_path / "big.xlsx")), SHEET, file_size=10**9)
    text = refused(path, tiny_instrument)
    assert "declares 1,000,000,000 bytes but inflates to" in text


def test_compression_ratio_limit(tmp_path, tiny_instrument, good_xlsx):
    path = rebuild(good_xlsx, tmp_path / "bomb.xlsx", extra={"xl/media/z.bin": b"\0" * 2**24})
    text = refused(path, tiny_instrument)
    assert "part xl/media/z.bin expands more than 100 times" in text and "zip bomb" in text
    # Lifting the limit in code lets the same file through to the budget and beyond.
    assert len(read_cases(path, tiny_instrument, limits=Limits(max_ratio=10_000))) == 5


def test_honest_workbook_well_within_limits(tmp_path, tiny_instrument, good_xlsx):
    scans = guards.check_zip(good_xlsx, Report(good_xlsx.name))
    sheet = scans[SHEET]
    # Header plus five cases, eleven columns each; the trust column is blank (not written).
    assert sheet.used_range == "A1:K6" and sheet.cells == 11 + 5 * 10
    assert not sheet.exact and not sheet.dtd


# -- damaged and crafted members -----------------------------------------------------------------


def _compressed_span(path: Path, name: str) -> tuple[int, int]:
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    blob = path.read_bytes()
    n, e = struct.unpack_from("<HH", blob, info.header_offset + 26)
    start = info.header_offset + 30 + n + e
    return start, start + info.compress_size


def test_corrupt_deflate_stream(tmp_path, tiny_instrument, good_xlsx):
    start, end = _compressed_span(good_xlsx, SHEET)
    blob = bytearray(good_xlsx.read_bytes())
    blob[start + 2 : end - 2] = b"\xff" * (end - start - 4)
    path = tmp_path / "corrupt.xlsx"
    path.write_bytes(bytes(blob))
    text = refused(path, tiny_instrument)
    assert "is not a readable xlsx workbook" in text
    assert "corrupt" in text or "damaged" in text


def test_flipped_byte_fails_the_checksum(tmp_path, tiny_instrument, good_xlsx):
    # A sheet stored uncompressed: one changed byte still inflates, but not to what was written.
    path = tmp_path / "stored.xlsx"
    with zipfile.ZipFile(good_xlsx) as zi, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zo:
        for name in zi.namelist():
            zo.writestr(name, zi.read(name))
    start, _ = _compressed_span(path, SHEET)
    blob = bytearray(path.read_bytes())
    blob[start + 100] ^= 0x01
    path.write_bytes(bytes(blob))
    assert "its checksum does not match" in refused(path, tiny_instrument)


def test_encryption_flag_on_a_member(tmp_path, tiny_instrument, good_xlsx):
    path = forge(rebuild(good_xlsx, tmp_path / "enc.xlsx"), SHEET, flags=0x1)
    text = refused(path, tiny_instrument)
    assert f"part {SHEET} is encrypted inside the zip archive" in text


@pytest.mark.parametrize("method", [12, 14, 99])
def test_unusual_compression_method(tmp_path, tiny_instrument, good_xlsx, method):
    path = forge(rebuild(good_xlsx, tmp_path / "m.xlsx"), SHEET, method=method)
    assert f"uses zip compression method {method}, which Excel never writes" in refused(
        path, tiny_instrument
    )


def test_two_parts_of_one_name_are_both_measured(tmp_path, tiny_instrument, good_xlsx):
    far = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    with zipfile.ZipFile(good_xlsx) as zi:
        sheet = zi.read(SHEET).decode()
    path = rebuild(good_xlsx, tmp_path / "dup.xlsx")
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr(SHEET, sheet.replace("</sheetData>", far + "</sheetData>"))
    assert "used range of A1:XFD1048576" in refused(path, tiny_instrument)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["[Content_Types].xml", "xl/workbook.bin"], "is a binary Excel workbook (.xlsb)"),
        (["mimetype", "content.xml"], "is an OpenDocument spreadsheet (.ods)"),
        (["[Content_Types].xml", "word/document.xml"], "is a Word or PowerPoint file"),
    ],
)
def test_other_zip_formats(tmp_path, tiny_instrument, names, message):
    path = tmp_path / "cases.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, "<x/>")
    assert message in refused(path, tiny_instrument)


def test_too_many_parts(tmp_path, tiny_instrument, good_xlsx):
    extra = {f"xl/media/p{i}.bin": b"x" for i in range(30)}
    path = rebuild(good_xlsx, tmp_path / "many.xlsx", extra=extra)
    text = refused(path, tiny_instrument, limits=Limits(max_parts=20))
    assert "parts, more than any workbook; refusing to read it" in text


# -- cells actually present ----------------------------------------------------------------------

FAR = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'


def _sheet(good_xlsx, tmp_path, fn, name="crafted.xlsx") -> Path:
    return rebuild(good_xlsx, tmp_path / name, parts={SHEET: fn})


@pytest.mark.parametrize(
    "dimension",
    ['<dimension ref="A1:K6"/>', "", '<dimension ref="A1"/>', '<dimension ref="B2:C3"/>'],
)
def test_stray_far_cell_with_a_lying_or_absent_dimension(
    tmp_path, tiny_instrument, good_xlsx, dimension
):
    def craft(xml: str) -> str:
        xml = xml.replace('<dimension ref="A1:K6"/>', dimension)
        return xml.replace("</sheetData>", FAR + "</sheetData>")

    text = refused(_sheet(good_xlsx, tmp_path, craft), tiny_instrument)
    assert "used range of A1:XFD1048576 (17,179,869,184 cells, over the 10,000,000 limit)" in text


@pytest.mark.parametrize(
    "cell",
    [
        '<x:c xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="XFD1048576">'
        "<x:v>1</x:v></x:c>",  # a namespace prefix
        '<c t="n" r="XFD1048576"><v>1</v></c>',  # r not first
        "<c r='XFD1048576'><v>1</v></c>",  # single quotes
        '<c r="&#88;FD1048576"><v>1</v></c>',  # a character reference
        '<c\nr="XFD1048576"><v>1</v></c>',  # a line break after the name
        '<c r="$XFD$1048576"><v>1</v></c>',  # absolute reference
    ],
)
def test_far_cell_in_forms_only_the_exact_parser_reads(tmp_path, tiny_instrument, good_xlsx, cell):
    row = f'<row r="1048576">{cell}</row>'
    path = _sheet(good_xlsx, tmp_path, lambda x: x.replace("</sheetData>", row + "</sheetData>"))
    scan = guards.check_zip(path, Report("x"), Limits(max_cells=10**12))[SHEET]
    assert scan.exact and scan.last == (1048575, 16383)
    assert "used range of A1:XFD1048576" in refused(path, tiny_instrument)


def test_cells_without_references_are_placed_by_position(tmp_path, tiny_instrument, good_xlsx):
    # No r on the cells: they follow each other along row 1048576, as the reader places them.
    row = '<row r="1048576">' + "<c><v>1</v></c>" * 12 + "</row>"
    path = _sheet(good_xlsx, tmp_path, lambda x: x.replace("</sheetData>", row + "</sheetData>"))
    scan = guards.check_zip(path, Report("x"), Limits(max_cells=10**12))[SHEET]
    assert scan.exact and scan.last == (1048575, 11) and scan.grid == 1048576 * 12
    assert "used range of A1:L1048576 (12,582,912 cells" in refused(path, tiny_instrument)


def test_cell_count_limit(tmp_path, tiny_instrument, good_xlsx):
    text = refused(good_xlsx, tiny_instrument, limits=Limits(max_cells=40))
    assert f"a sheet ({SHEET}) holds 61 cells, over the 40 limit (--max-cells" in text


def test_repeated_cell_counts_every_copy(tmp_path, tiny_instrument, good_xlsx):
    # 5,000 copies of A1: a used range of one cell, but 5,000 cells for the reader to hold.
    many = '<row r="7">' + '<c r="A7"><v>1</v></c>' * 5000 + "</row>"
    path = _sheet(good_xlsx, tmp_path, lambda x: x.replace("</sheetData>", many + "</sheetData>"))
    text = refused(path, tiny_instrument, limits=Limits(max_cells=1000))
    assert "holds 5,061 cells, over the 1,000 limit" in text


def test_malformed_xml_in_the_exact_path(tmp_path, tiny_instrument, good_xlsx):
    bad = "<x:c r='A7'><v>1</v>"  # a prefixed cell (exact path) in XML left unclosed
    path = _sheet(good_xlsx, tmp_path, lambda x: x.replace("</sheetData>", bad + "</sheetData>"))
    text = refused(path, tiny_instrument)
    assert f"part {SHEET} is not well-formed XML" in text and "at line" in text


def test_a_cell_written_twice_is_refused(tmp_path, tiny_instrument, good_xlsx):
    # Row 7 holds B7 = Yes and then B7 again = No: the reader would keep No without a word.
    twice = '<row r="7"><c r="B7" t="inlineStr"><is><t>Yes</t></is></c>'
    twice += '<c r="B7" t="inlineStr"><is><t>No</t></is></c></row>'
    path = _sheet(good_xlsx, tmp_path, lambda x: x.replace("</sheetData>", twice + "</sheetData>"))
    text = refused(path, tiny_instrument)
    assert f"a sheet ({SHEET}) holds 1 cell written twice (B7)" in text


def test_mismatched_tag_in_the_fast_path_is_refused(tmp_path, tiny_instrument, good_xlsx):
    # Every cell is in the fast path's form; only a closing tag is misspelt.
    path = _sheet(good_xlsx, tmp_path, lambda x: x.replace("</row>", "</rox>", 1))
    text = refused(path, tiny_instrument)
    assert f"part {SHEET} is not well-formed XML: mismatched tag at line" in text


def test_utf16_part_is_measured_exactly(tmp_path, tiny_instrument, good_xlsx):
    with zipfile.ZipFile(good_xlsx) as zi:
        xml = zi.read(SHEET).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    far = xml.replace("</sheetData>", FAR + "</sheetData>")
    path = rebuild(good_xlsx, tmp_path / "u16.xlsx", parts={SHEET: far.encode("utf-16")})
    assert "used range of A1:XFD1048576" in refused(path, tiny_instrument)


def test_dtd_declared_after_a_long_prolog_in_utf16(tmp_path, tiny_instrument, good_xlsx):
    with zipfile.ZipFile(good_xlsx) as zi:
        xml = zi.read(SHEET).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    evil = xml.replace("?>", '?><!DOCTYPE x [<!ENTITY e "e">]>', 1)
    path = rebuild(good_xlsx, tmp_path / "dtd.xlsx", parts={SHEET: evil.encode("utf-16")})
    assert "declares a DTD or entities" in refused(path, tiny_instrument)


# -- options ---------------------------------------------------------------------------------


def test_limits_are_command_line_options(tmp_path, good_xlsx, tiny_instrument_path, capsys):
    args = ["ingest", str(good_xlsx), "--trust", "t", "--instrument", str(tiny_instrument_path)]
    out = ["--out-dir", str(tmp_path / "out")]
    assert cli.main([*args, *out, "--max-cells", "40"]) == 2
    assert "over the 40 limit (--max-cells raises it)" in capsys.readouterr().err
    assert cli.main([*args, *out, "--max-inflated-mb", "0.001"]) == 2
    assert "over the 0.001 MB limit" in capsys.readouterr().err
    assert cli.main([*args, *out]) == 0
    with pytest.raises(SystemExit):
        cli.main([*args, *out, "--max-cells", "-3"])


def test_unknown_xml_encoding(tmp_path, tiny_instrument, good_xlsx):
    # Found by fuzzing: expat and ElementTree raise LookupError for an encoding they do not know.
    def craft(xml: str) -> str:
        return xml.replace('encoding="UTF-8"', 'encoding="sUTF-8"').replace("<c ", "<x:c ", 1)

    path = _sheet(good_xlsx, tmp_path, craft)
    assert f"part {SHEET} is not readable XML: unknown encoding" in refused(path, tiny_instrument)
    book = rebuild(
        good_xlsx,
        tmp_path / "book.xlsx",
        parts={"xl/workbook.xml": lambda x: x.replace('encoding="UTF-8"', 'encoding="sUTF-8"')},
    )
    assert len(read_cases(book, tiny_instrument)) == 5  # calamine reads it; merges are a nicety
