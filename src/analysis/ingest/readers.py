"""Read the raw cells of a case workbook or CSV file into a grid, and its merged ranges.

Workbooks (xlsx/xlsm/xlsb/xls/ods): python-calamine opens the file and lists its sheets
with their visibility (cheap, and its errors for damaged or encrypted files are precise);
fastexcel (the same calamine parser, straight to Arrow) reads the chosen sheet's cells as
text, without a Python object per cell, using the cached values of formulas; merged ranges
come from the sheet's XML, inflated on a side thread while the cells are parsed. This is
~14x faster than openpyxl on a 10,000-case sheet (``bench/ingest.py``). ``pandas.read_excel``
is not used because ingest needs the exact cell text (``"3 "`` vs ``3``), the cells'
positions, sheet visibility and merged ranges, which it discards.

CSV: encoding and delimiter sniffed, read by pandas' C parser (the :mod:`csv` module for
ragged files).

Decisions on odd workbooks: a hidden ``cases`` sheet is refused unless named with
``--sheet`` (a hidden sheet is often a stale copy, and the officer cannot see what is
being read); hidden sheets beside a visible ``cases`` sheet are ignored; cells that
Excel shows as errors (``#N/A``) or formulas never calculated read as blank.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from analysis import config
from analysis.ingest.guards import check_file, check_zip, column_index, ole2_encrypted
from analysis.ingest.problems import IngestError, Report

#: A merged range, ``((row0, col0), (row1, col1))``, 0-based and inclusive.
Merged = tuple[tuple[int, int], tuple[int, int]]

_MERGE_REF = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Z0-9$:]+)"')
_EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")


def read_grid(path: Path, sheet: str | None, rep: Report) -> tuple[pd.DataFrame, list[Merged]]:
    """Raw cells of any supported file, and the merged ranges of the sheet read.

    Parameters
    ----------
    path
        The workbook or CSV file; its bytes, not its name, decide how it is read.
    sheet
        The sheet to read (workbooks only); by default ``cases``, or the only visible sheet.
    rep
        Collects the problems; ``rep.sheet`` is set to the sheet read.

    Returns
    -------
    tuple
        The cells as a frame of text (row 0 = Excel row 1, column 0 = column A, blank
        cells missing or empty) and the merged ranges (none for CSV).

    Raises
    ------
    IngestError
        Through ``rep``, when the file cannot be read.
    """
    kind = check_file(path, rep)
    ext = path.suffix.lower()
    excel_ext = ext in _EXCEL_SUFFIXES
    if kind == "text":
        with open(path, "rb") as fh:
            blob = fh.read()
        if excel_ext:
            try:
                _decode(blob, Report(rep.file))
            except IngestError:
                rep.stop(f"is not an Excel workbook although it is named {ext} (damaged?)")
            rep.warn(f"is a text (CSV) file although it is named {ext}; read it as CSV")
        return _read_csv(blob, rep), []
    if not excel_ext:
        rep.warn(f"is an Excel workbook although it is named {ext or 'without extension'}")
    return _read_excel(path, kind, sheet, rep)


# -- workbooks ------------------------------------------------------------------------


def _read_excel(
    path: Path, kind: str, sheet: str | None, rep: Report
) -> tuple[pd.DataFrame, list[Merged]]:
    """Raw cells of the chosen sheet (a frame, row 0 = Excel row 1) plus its merged ranges."""
    if kind == "zip":
        check_zip(path, rep)
    with open(path, "rb") as fh:
        return _read_book(path, fh, kind, sheet, rep)


def _read_book(
    path: Path, fh: BinaryIO, kind: str, sheet: str | None, rep: Report
) -> tuple[pd.DataFrame, list[Merged]]:
    """:func:`_read_excel` on an open file: choose the sheet, read its cells and merged ranges."""
    import python_calamine

    ext = path.suffix.lower()
    matches = (kind == "zip" and ext in (".xlsx", ".xlsm", ".xlsb", ".ods")) or (
        kind == "ole2" and ext == ".xls"
    )
    try:
        if matches:
            # Reading by extension gives calamine's precise error messages.
            book = python_calamine.CalamineWorkbook.from_path(str(path))
        else:
            # A misnamed file: from_filelike sniffs the content instead of trusting the name.
            book = python_calamine.CalamineWorkbook.from_filelike(fh)
    except Exception as exc:  # any reader failure is a property of the user's file
        if kind == "ole2":
            fh.seek(0)
            if ole2_encrypted(fh.read()):
                rep.stop(
                    "is password-protected (encrypted); open it in Excel, remove the password "
                    "(File > Info > Protect Workbook) and save it again as .xlsx"
                )
            rep.stop(
                "is an old-style .xls or other Office file that could not be read "
                f"({_reason(exc)}); open it in Excel and save it as .xlsx"
            )
        rep.stop(f"is not a readable workbook ({_reason(exc)})")
    try:
        name = _choose_sheet(book, sheet, rep)
        rep.sheet = name
        if kind == "zip" and ext != ".ods":
            merged = None  # read from the sheet's XML below, without parsing its cells twice
        else:
            # xls, xlsb and ods: calamine's own parse is the only source of merged ranges
            # (such files are rare and small).
            try:
                merged = list(book.get_sheet_by_name(name).merged_cell_ranges or [])
            except Exception:  # merged ranges are a nicety; not every format has them
                merged = []
    except IngestError:
        raise
    except Exception as exc:
        rep.stop(f"could not be read ({_reason(exc)})")
    finally:
        book.close()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Inflating the sheet for its merged ranges overlaps the cell parse (both release
        # the GIL), so it adds nothing to the wall time on two cores.
        pending = pool.submit(_xlsx_merged, path, name) if merged is None else None
        fh.seek(0)
        source = str(path) if matches else fh.read()
        try:
            rows = _read_cells(source, name)
        except Exception as exc:
            # Safety net: a file fastexcel stumbles on is read the slower way, cell by cell.
            try:
                rows = _read_cells_slowly(source, name)
            except Exception:
                rep.stop(f"could not be read ({_reason(exc)})")
        if pending is not None:
            try:
                merged = pending.result()
            except Exception:  # merged ranges are a nicety: never a reason to refuse a file
                merged = []
    return rows, merged


def _read_cells(source: str | bytes, sheet: str) -> pd.DataFrame:
    """Every cell of ``sheet`` as text: a frame whose row 0 is Excel row 1, column 0 column A.

    fastexcel (calamine in Rust, straight to Arrow) reads all cells as strings, so no Python
    object is made per cell; the columns are Arrow-backed pandas strings, blank cells missing.
    Numbers come as their shortest text (``3``, ``2.5``) and dates as ISO text.
    """
    import fastexcel

    reader = fastexcel.read_excel(source)
    # header_row=None with skip_rows=0 keeps leading blank rows, so positions are Excel's.
    sh = reader.load_sheet_by_name(sheet, header_row=None, skip_rows=0, dtypes="string")
    if sh.height == 0 or sh.width == 0:
        return pd.DataFrame()
    table = sh.to_arrow()
    # Leading blank columns are not read: place each column at its absolute position.
    positions = [c.absolute_index for c in sh.selected_columns]
    cols = {pos: table.column(i).to_pandas() for i, pos in enumerate(positions)}
    frame = pd.DataFrame(cols)
    width = max(positions) + 1
    if positions != list(range(width)):
        frame = frame.reindex(columns=range(width))
    return frame


def _read_cells_slowly(source: str | bytes, sheet: str) -> pd.DataFrame:
    """The cells of ``sheet`` through python-calamine's Python objects (as :func:`_read_cells`)."""
    import python_calamine

    if isinstance(source, str):
        book = python_calamine.CalamineWorkbook.from_path(source)
    else:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(source))
    try:
        # skip_empty_area=False keeps row 0 = Excel row 1 even when A1 is blank.
        rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    finally:
        book.close()
    return pd.DataFrame(rows, dtype=object)


def _xlsx_merged(path: Path, sheet: str) -> list[Merged]:
    """Merged ranges of one xlsx sheet, ``((row0, col0), (row1, col1))`` 0-based, inclusive.

    They sit in ``<mergeCells>`` after the cells, so the sheet's XML is streamed through
    (inflating it costs a tenth of parsing its cells) and only its tail is searched.
    The archive was vetted by :func:`analysis.ingest.guards.check_zip` (no DTD, sizes in limits).
    """
    import xml.etree.ElementTree as ET

    rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    with zipfile.ZipFile(path) as zf:
        book = ET.fromstring(zf.read("xl/workbook.xml"))
        rid = next(
            (
                e.get(rel)
                for e in book.iter()
                if e.tag.endswith("}sheet") and e.get("name") == sheet
            ),
            None,
        )
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        target = next((e.get("Target") for e in rels if e.get("Id") == rid), None)
        if target is None:
            return []
        part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        tail, found = b"", False
        with zf.open(part) as fh:
            while chunk := fh.read(1 << 20):
                if found:
                    tail += chunk
                    continue
                tail = tail[-32:] + chunk  # the end tag may straddle two chunks
                at = _sheetdata_end(tail)
                if at >= 0:
                    tail, found = tail[at:], True
    out = []
    for ref in _MERGE_REF.findall(tail):
        a, _, b = ref.decode().partition(":")
        (r0, c0), (r1, c1) = _cell_ref(a), _cell_ref(b or a)
        out.append(((r0, c0), (r1, c1)))
    return out


def _sheetdata_end(buf: bytes) -> int:
    """Where ``</sheetData>`` (or ``<sheetData/>``, any prefix) starts in ``buf``, else -1.

    ``bytes.find`` (memchr speed) looks for the name, which occurs only in the opening and
    closing tags; a regex over megabytes of cells would cost more than inflating them.
    """
    i = buf.find(b"sheetData")
    while i >= 0:
        lt = buf.rfind(b"<", 0, i)
        if lt >= 0 and buf[lt + 1 : lt + 2] == b"/":
            return lt
        gt = buf.find(b">", i)
        if lt >= 0 and gt > 0 and buf[gt - 1 : gt] == b"/":
            return lt
        i = buf.find(b"sheetData", i + 9)
    return -1


def _cell_ref(ref: str) -> tuple[int, int]:
    """``"C9"`` -> ``(8, 2)``: 0-based row and column."""
    m = re.fullmatch(r"\$?([A-Z]{1,3})\$?(\d+)", ref)
    if m is None:
        raise ValueError(f"bad cell reference {ref!r}")
    return int(m.group(2)) - 1, column_index(m.group(1).encode()) - 1


def _reason(exc: Exception) -> str:
    """A reader's error in a few plain words, to quote in a problem."""
    text = str(exc).strip() or type(exc).__name__
    if "entity" in text.lower():
        return "it uses XML entities, which no Excel workbook does"
    return text[:200]


def _choose_sheet(book, sheet: str | None, rep: Report) -> str:
    """The name of the sheet to read from a python-calamine workbook (see the module notes)."""
    from python_calamine import SheetTypeEnum, SheetVisibleEnum

    meta = list(book.sheets_metadata)
    names = [m.name for m in meta]
    hidden = {m.name for m in meta if m.visible != SheetVisibleEnum.Visible}
    worksheets = [m.name for m in meta if m.typ == SheetTypeEnum.WorkSheet]

    def listing() -> str:
        return ", ".join(f"{n!r}" + (" (hidden)" if n in hidden else "") for n in names) or "none"

    if sheet is not None:
        if sheet in names:
            return sheet
        folded = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
        if len(folded) == 1:
            return folded[0]
        rep.stop(f"has no sheet named {sheet!r} (sheets found: {listing()})")
    target = config.CASES_SHEET.casefold()
    cases = [n for n in worksheets if n.strip().casefold() == target]
    if cases:
        if cases[0] in hidden:
            rep.stop(
                f"sheet {cases[0]!r} is hidden; unhide it in Excel (right-click a sheet tab > "
                f"Unhide), or name it with --sheet {cases[0]!r} to read it anyway"
            )
        return cases[0]
    visible = [n for n in worksheets if n not in hidden]
    if len(visible) == 1:
        rep.warn(f"no sheet named {config.CASES_SHEET!r}; read the only sheet, {visible[0]!r}")
        return visible[0]
    rep.stop(
        f"has no sheet named {config.CASES_SHEET!r} and {len(visible)} visible sheets, so which "
        f"holds the cases is unclear (sheets found: {listing()}); rename the case sheet "
        f"to {config.CASES_SHEET!r} or name it with --sheet"
    )


# -- CSV ------------------------------------------------------------------------------


def _decode(blob: bytes, rep: Report) -> str:
    """A CSV file's text: UTF-8 (or UTF-16 with a BOM), else Windows or Latin-1 with a warning."""
    if blob.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ["utf-16"]
    else:
        encodings = ["utf-8-sig", "cp1252", "latin-1"]
    for enc in encodings:
        try:
            text = blob.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc not in ("utf-8-sig", "utf-16"):
            rep.warn(f"is not UTF-8 text; read it as {enc} (save as 'CSV UTF-8' to avoid this)")
        break
    else:  # only UTF-16 can fail here (an odd byte count, say): latin-1 decodes any bytes
        rep.stop("is not a text (CSV) file")
    controls = sum(
        1 for ch in text[:65536] if unicodedata.category(ch) == "Cc" and ch not in "\t\r\n"
    )
    if "\x00" in text or controls > max(2, len(text[:65536]) // 200):
        rep.stop("is neither an Excel workbook nor a text (CSV) file (it holds binary data)")
    return text


def _read_csv(blob: bytes, rep: Report) -> pd.DataFrame:
    """The records of a CSV file as a frame of text, one row per record (blank lines kept)."""
    text = _decode(blob, rep)
    first = next((line for line in text[:1_000_000].splitlines() if line.strip()), "")
    sep = re.fullmatch(r'"?sep=(.)"?\s*', first)
    if sep and text.lstrip().startswith(first):
        # Excel's "sep=;" hint line: it names the delimiter and Excel does not show it as a row.
        delimiter = sep.group(1)
        text = text.lstrip().split("\n", 1)[1] if "\n" in text else ""
    else:
        counts = {d: first.count(d) for d in ",;\t|"}
        delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    try:
        # pandas' C parser is several times faster than the csv module on large files.
        return pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,
            dtype=object,
            keep_default_na=False,  # "NA" and "N/A" are answers here, not missing values
            na_filter=False,
            skip_blank_lines=False,  # keep record numbers equal to the rows Excel would show
            engine="c",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        pass  # ragged rows or odd quoting: the csv module copes and reports clearly
    csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024**2))
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        rep.stop(f"is not a well-formed CSV file ({exc})")
    # Pad ragged rows so every row has the same width, as a sheet does.
    width = max((len(r) for r in rows), default=0)
    return pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)
