"""Measuring sheet XML as it streams: the fast path agrees with expat, chunked any way."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.ingest.xmlscan import PartScan, Scanner, cell_ref, column_letter, exact_scan

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def fast(xml: bytes, chunk: int) -> tuple[bool, PartScan]:
    scanner = Scanner("sheet.xml")
    for i in range(0, len(xml), chunk):
        scanner.feed(xml[i : i + chunk])
    scanner.feed(b"", final=True)
    return scanner.fast, scanner.scan


def exact(xml: bytes, chunk: int = 7) -> PartScan:
    return exact_scan("sheet.xml", (xml[i : i + chunk] for i in range(0, len(xml), chunk)))


def sheet(rows: dict[int, list[int]], hidden=(), merged=(), cols_hidden=()) -> bytes:
    """A worksheet with cells at (row, col), 0-based, in Excel's canonical form."""
    out = [f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}>']
    if cols_hidden:
        out.append("<cols>")
        out += [f'<col min="{a + 1}" max="{b + 1}" width="9" hidden="1"/>' for a, b in cols_hidden]
        out.append("</cols>")
    out.append("<sheetData>")
    for r in sorted(rows):
        attrs = ' hidden="1"' if r in hidden else ""
        out.append(f'<row r="{r + 1}" spans="1:3"{attrs}>')
        out += [f'<c r="{column_letter(c)}{r + 1}" t="n"><v>{c}</v></c>' for c in rows[r]]
        out.append("</row>")
    out.append("</sheetData>")
    if merged:
        out.append(f'<mergeCells count="{len(merged)}">')
        out += [f'<mergeCell ref="{m}"/>' for m in merged]
        out.append("</mergeCells>")
    out.append("</worksheet>")
    return "".join(out).encode()


def test_cell_ref_and_column_letters():
    assert cell_ref("A1") == (0, 0) and cell_ref("XFD1048576") == (1048575, 16383)
    assert cell_ref("$C$9") == (8, 2) and cell_ref("9C") is None and cell_ref("") is None
    assert [column_letter(i) for i in (0, 25, 26, 701, 702, 16383)] == [
        "A", "Z", "AA", "ZZ", "AAA", "XFD",
    ]  # fmt: skip


def test_counts_cells_hidden_rows_columns_and_merges():
    xml = sheet(
        {0: [0, 1, 2], 4: [1], 99: [27]},
        hidden={4},
        merged=["A1:B1", "$C$5:D5"],
        cols_hidden=[(3, 4)],
    )
    for chunk in (1, 5, 64, 10**6):
        ok, scan = fast(xml, chunk)
        assert ok, chunk
        assert (scan.cells, scan.last, scan.used_range) == (5, (99, 27), "A1:AB100")
        assert scan.hidden_rows == [4] and scan.hidden_cols == [(3, 4)]
        assert scan.merged == ["A1:B1", "$C$5:D5"]
    e = exact(xml)
    assert (e.cells, e.last, e.hidden_rows, e.hidden_cols) == (5, (99, 27), [4], [(3, 4)])
    assert e.merged == ["A1:B1", "$C$5:D5"]


def test_empty_sheet():
    ok, scan = fast(f"<worksheet {NS}><sheetData/></worksheet>".encode(), 3)
    assert ok and scan.cells == 0 and scan.last is None and scan.grid == 0


def test_dtd_in_the_prolog_is_found():
    xml = b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY e "x">]><worksheet/>'
    assert fast(xml, 4)[1].dtd
    assert not fast(b"<worksheet><!-- a comment --></worksheet>", 4)[1].dtd


CELLS = st.dictionaries(
    st.integers(0, 2_000_000),
    st.lists(st.integers(0, 20_000), min_size=1, max_size=5, unique=True).map(sorted),
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(rows=CELLS, chunk=st.integers(1, 300), hidden=st.sets(st.integers(0, 50), max_size=3))
def test_fast_path_agrees_with_expat(rows, chunk, hidden):
    # Rows past Excel's 1,048,576 and columns past XFD are still measured, not trusted away.
    rows = {r: [c for c in cs if c < 18_278] for r, cs in rows.items()}  # 3 letters at most
    rows = {r: cs for r, cs in rows.items() if cs and r < 9_999_999}
    xml = sheet(rows, hidden={r for r in hidden if r in rows})
    ok, got = fast(xml, chunk)
    want = exact(xml, chunk)
    assert ok
    assert (got.cells, got.last, sorted(got.hidden_rows)) == (
        want.cells,
        want.last,
        sorted(want.hidden_rows),
    )
    if rows:
        assert got.last == (max(rows), max(c for cs in rows.values() for c in cs))


@pytest.mark.parametrize(
    "cell",
    [
        "<x:c r='B2'/>",
        '<c s="1" r="B2"/>',
        "<c r='B2'/>",
        '<c r="b2"/>',
        '<c r="B2 "/>',
        '<c r="ABCD2"/>',
        '<c r="B12345678"/>',  # pragma: allowlist secret
        "<c/>",
        "<c>",
    ],
)
def test_forms_the_fast_path_leaves_to_expat(cell):
    xml = f'<worksheet {NS}><sheetData><row r="2">{cell}</row></sheetData></worksheet>'
    ok, _ = fast(xml.encode(), 16)
    assert not ok


@pytest.mark.parametrize(
    "broken",
    [
        ("</row>", "</rox>"),  # a misspelt closing tag: the counts of <row> and </row> differ
        ("</c>", ""),  # a cell left open
        ("</v>", "</x>"),  # a value closed by another name
        ("</sheetData>", ""),  # an element left open
    ],
)
def test_tags_that_do_not_pair_up_go_to_expat(broken):
    xml = sheet({0: [0, 1], 1: [0]}).decode().replace(*broken, 1).encode()
    for chunk in (3, 64, 10**6):
        assert not fast(xml, chunk)[0], chunk
    with pytest.raises(Exception, match="mismatched tag|unclosed token|no element found"):
        exact(xml)


def test_empty_rows_and_cells_pair_up():
    xml = sheet({0: [0]}).replace(
        b"</sheetData>", b'<row r="3"/><row r="4"><c r="A4" s="1"/></row></sheetData>'
    )
    for chunk in (1, 2, 5, 10**6):  # a `/>` split across chunks is counted once
        ok, scan = fast(xml, chunk)
        assert ok and scan.cells == 2, chunk


def test_cells_out_of_order_or_twice_go_to_expat_which_lists_the_twice():
    # A1, B1 then A1 again on a second row element: expat places and names them.
    xml = sheet({0: [0, 1]}).replace(
        b"</sheetData>", b'<row r="1"><c r="A1"><v>2</v></c></row></sheetData>'
    )
    for chunk in (4, 10**6):
        assert not fast(xml, chunk)[0]
    assert exact(xml).twice == ["A1"]
    assert exact(sheet({0: [0, 1], 3: [2]})).twice == []
