"""Read the raw cells of a case workbook or CSV file into a grid, and its merged ranges.

Workbooks (xlsx/xlsm/xls): python-calamine opens the file and lists its sheets with
their visibility (cheap, and its errors for damaged or encrypted files are precise);
fastexcel (the same calamine parser, straight to Arrow) reads the chosen sheet's cells as
text, without a Python object per cell, using the cached values of formulas. Merged
ranges and hidden rows and columns of an xlsx come from the guard's scan of its XML
(:func:`analysis.ingest.guards.check_zip`), which has inflated every part already. This is
over 10x faster than openpyxl on a 10,000-case sheet (``bench/ingest.py``).
``pandas.read_excel`` is not used because ingest needs the exact cell text (``"3 "`` vs
``3``), the cells' positions, sheet visibility and merged ranges, which it discards.

CSV: encoding and delimiter sniffed, read by pandas' C parser (the :mod:`csv` module for
ragged files). A file that is UTF-8 in places and not in others is refused with the line
numbers, not read in the wrong encoding.

Decisions on odd workbooks: a hidden ``cases`` sheet is refused unless named with
``--sheet`` (a hidden sheet is often a stale copy, and the officer cannot see what is
being read); hidden sheets beside a visible ``cases`` sheet are ignored; sheets whose
names differ only in case (``Cases`` and ``cases``) are refused as ambiguous unless
``--sheet`` names one exactly; cells that Excel shows as errors (``#N/A``) or formulas
never calculated read as blank. A sheet named ``settings`` may declare the workbook's
language in a row ``language | cy``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from analysis import config
from analysis.ingest.guards import (
    DEFAULT_LIMITS,
    Limits,
    check_file,
    check_zip,
    ole2_encrypted,
)
from analysis.ingest.problems import IngestError, Report
from analysis.ingest.xmlscan import PartScan, cell_ref

#: A merged range, ``((row0, col0), (row1, col1))``, 0-based and inclusive.
Merged = tuple[tuple[int, int], tuple[int, int]]

_EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
#: The sheet that may declare the workbook's settings (``language | cy``).
SETTINGS_SHEET = "settings"


@dataclass
class Grid:
    """The raw cells of the sheet read, and what else the file says about them.

    ``cells`` is a frame of text, row 0 = Excel row 1, column 0 = column A, blank cells
    missing or empty. Rows and columns below are 0-based.
    """

    cells: pd.DataFrame
    merged: list[Merged] = field(default_factory=list)
    #: ``xlsx`` (also xlsm), ``xls`` or ``csv``.
    format: str = "csv"
    hidden_rows: list[int] = field(default_factory=list)
    hidden_cols: list[tuple[int, int]] = field(default_factory=list)
    #: The ``language`` of the workbook's ``settings`` sheet, as typed; None if not declared.
    language: str | None = None
    #: The ``instrument`` of the ``settings`` sheet (the id of the programme the workbook
    #: was made for), as typed; None if not declared.
    instrument: str | None = None


def read_grid(path: Path, sheet: str | None, rep: Report, limits: Limits = DEFAULT_LIMITS) -> Grid:
    """Raw cells of any supported file, with the merged ranges and hidden rows of the sheet.

    Parameters
    ----------
    path
        The workbook or CSV file; its bytes, not its name, decide how it is read.
    sheet
        The sheet to read (workbooks only); by default ``cases``, or the only visible sheet.
    rep
        Collects the problems; ``rep.sheet`` is set to the sheet read.
    limits
        What the file may ask of the readers (:class:`~analysis.ingest.guards.Limits`).

    Raises
    ------
    IngestError
        Through ``rep``, when the file cannot be read.
    """
    kind = check_file(path, rep, limits)
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
        return Grid(_read_csv(blob, rep))
    if not excel_ext:
        rep.warn(f"is an Excel workbook although it is named {ext or 'without extension'}")
    return _read_excel(path, kind, sheet, rep, limits)


# -- workbooks ------------------------------------------------------------------------


def _read_excel(
    path: Path, kind: str, sheet: str | None, rep: Report, limits: Limits = DEFAULT_LIMITS
) -> Grid:
    """The chosen sheet of a workbook: its cells, merged ranges and hidden rows and columns."""
    scans = check_zip(path, rep, limits) if kind == "zip" else {}
    with open(path, "rb") as fh:
        return _read_book(path, fh, kind, sheet, rep, scans)


def _read_book(
    path: Path,
    fh: BinaryIO,
    kind: str,
    sheet: str | None,
    rep: Report,
    scans: dict[str, PartScan],
) -> Grid:
    """:func:`_read_excel` on an open file: choose the sheet, read its cells and settings."""
    import python_calamine

    ext = path.suffix.lower()
    matches = (kind == "zip" and ext in (".xlsx", ".xlsm")) or (kind == "ole2" and ext == ".xls")
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
        settings = _settings(book, rep, name)
        language, programme = settings.get("language"), settings.get("instrument")
        if kind == "zip":
            merged: list[Merged] = []
        else:
            # xls: calamine's own parse is the only source of merged ranges (such files are
            # small: the format holds 65,536 rows and 256 columns).
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
    grid = Grid(
        pd.DataFrame(),
        merged,
        "xlsx" if kind == "zip" else "xls",
        language=language,
        instrument=programme,
    )
    if kind == "zip":
        _sheet_extras(path, name, scans, grid)
    fh.seek(0)
    source = str(path) if matches else fh.read()
    try:
        grid.cells = _read_cells(source, name)
    except Exception as exc:
        # Safety net: a file fastexcel stumbles on is read the slower way, cell by cell.
        try:
            grid.cells = _read_cells_slowly(source, name)
        except Exception:
            rep.stop(f"could not be read ({_reason(exc)})")
    return grid


#: The rows a ``settings`` sheet may hold (column A, case-insensitive).
SETTINGS = ("language", "instrument")


def _settings(book, rep: Report, cases_sheet: str) -> dict[str, str]:
    """The rows of a ``settings`` sheet (``language | cy``, ``instrument | <id>``).

    A row with a blank value declares nothing. Two settings sheets, or one setting given
    two different values, are refused through ``rep``: which one holds is a guess (the
    workbook would be read against another programme, or in another language, unsaid).
    """
    names = [n for n in book.sheet_names if n.strip().casefold() == SETTINGS_SHEET]
    if len(names) > 1:
        rep.sheet = None  # the workbook's problem, not the cases sheet's
        rep.stop(f"has {len(names)} settings sheets ({', '.join(map(repr, names))}): keep one")
    if not names:
        return {}
    rows = book.get_sheet_by_name(names[0]).to_python(skip_empty_area=False)
    seen: dict[str, tuple[str, int]] = {}
    for i, row in enumerate(rows[:200], start=1):
        # Column A names the setting, column B holds its value (C may explain it).
        cells = [str(v).strip() for v in row[:2]]
        key = cells[0].casefold() if cells else ""
        value = cells[1] if len(cells) > 1 else ""
        if key not in SETTINGS or not value:
            continue
        if key in seen and seen[key][0] != value:
            first, at = seen[key]
            rep.sheet = names[0]
            rep.stop(
                f"names {key} twice: {shorten(first)} (row {at}) and {shorten(value)}; keep one",
                row=i,
                column="B",
            )
        seen.setdefault(key, (value, i))
    rep.sheet = cases_sheet
    return {k: v for k, (v, _) in seen.items()}


def shorten(value: str, limit: int = 60) -> str:
    """``value`` quoted, cut to ``limit`` characters (a message never dumps a long cell).

    >>> shorten("abc")
    "'abc'"
    >>> shorten("x" * 100, 5)
    "'xxxxx...' (100 characters)"
    """
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}"[:-1] + f"...' ({len(value)} characters)"


_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _sheet_extras(path: Path, sheet: str, scans: dict[str, PartScan], grid: Grid) -> None:
    """Merged ranges and hidden rows and columns of an xlsx sheet, from the guard's scan."""
    try:
        with zipfile.ZipFile(path) as zf:
            # Both parts are small and were vetted by the guard (no DTD, sizes in limits).
            book = ET.fromstring(zf.read("xl/workbook.xml"))
            rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError, zipfile.BadZipFile, OSError, LookupError, ValueError):
        return  # calamine read the workbook, so it knows better; these are niceties
    rid = next(
        (
            e.get(_REL_ID)
            for e in book.iter()
            if e.tag.endswith("}sheet") and e.get("name") == sheet
        ),
        None,
    )
    target = next((e.get("Target") for e in rels if e.get("Id") == rid), None)
    if target is None:
        return
    scan = scans.get(target.lstrip("/") if target.startswith("/") else f"xl/{target}")
    if scan is None:
        return
    for ref in scan.merged:
        a, _, b = ref.partition(":")
        first, last = cell_ref(a.replace("$", "")), cell_ref((b or a).replace("$", ""))
        if first and last:
            grid.merged.append((first, last))
    grid.hidden_rows = sorted(set(scan.hidden_rows))
    grid.hidden_cols = sorted(set(scan.hidden_cols))


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

    def alike(target: str) -> list[str]:
        return [n for n in names if n.strip().casefold() == target.strip().casefold()]

    if sheet is not None:
        if sheet in names:
            return sheet
        folded = alike(sheet)
        if len(folded) == 1:
            return folded[0]
        if folded:
            rep.stop(
                f"has {len(folded)} sheets named like {sheet!r} "
                f"({', '.join(map(repr, folded))}), differing only in case or spaces; "
                "name one exactly with --sheet"
            )
        rep.stop(f"has no sheet named {sheet!r} (sheets found: {listing()})")
    cases = [n for n in alike(config.CASES_SHEET) if n in worksheets]
    if len(cases) > 1:
        rep.stop(
            f"has {len(cases)} sheets named like {config.CASES_SHEET!r} "
            f"({', '.join(map(repr, cases))}), differing only in case or spaces, so which "
            f"holds the cases is unclear; name one exactly with --sheet {cases[0]!r}, or "
            "rename or delete the other"
        )
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


#: A UTF-8 encoded character of two or more bytes (RFC 3629): proof that a file is UTF-8.
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)


def _not_utf8_lines(blob: bytes) -> list[int]:
    """Numbers (1-based) of the lines of ``blob`` that are not valid UTF-8."""
    bad = []
    for i, line in enumerate(blob.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(i)
    return bad


def _decode(blob: bytes, rep: Report) -> str:
    """A CSV file's text: UTF-8 (or UTF-16 with a BOM), else Windows or Latin-1 with a warning.

    A file that is UTF-8 in places (it holds UTF-8 accented letters) but not in others was
    pasted together from two encodings: no single encoding reads it right, so it is
    refused with the lines to fix rather than read with every accent garbled.
    """
    if blob.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ["utf-16"]
    else:
        encodings = ["utf-8-sig", "cp1252", "latin-1"]
    for enc in encodings:
        try:
            text = blob.decode(enc)
        except UnicodeDecodeError:
            if enc == "utf-8-sig" and _UTF8_MULTIBYTE.search(blob):
                bad = _not_utf8_lines(blob)
                shown = ", ".join(map(str, bad[:10])) + (", ..." if len(bad) > 10 else "")
                sample = blob.split(b"\n")[bad[0] - 1][:80].decode("utf-8", "backslashreplace")
                rep.stop(
                    f"mixes two text encodings: it is UTF-8 except on line"
                    f"{'s' if len(bad) != 1 else ''} {shown} ({len(bad)} in all; line "
                    f"{bad[0]} reads {sample.strip()!r}), whose accented letters are in "
                    "another encoding (Windows cp1252?); retype them there, or save the "
                    "whole file again as 'CSV UTF-8'"
                )
            continue
        if enc not in ("utf-8-sig", "utf-16"):
            first = _not_utf8_lines(blob)[0]
            rep.warn(
                f"is not UTF-8 text; read it as {enc} (first non-UTF-8 text on line {first}; "
                "save as 'CSV UTF-8' to avoid this)"
            )
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
    skipped = 0  # lines before the records, for line numbers in messages
    if sep and text.lstrip().startswith(first):
        # Excel's "sep=;" hint line: it names the delimiter and Excel does not show it as a row.
        delimiter = sep.group(1)
        rest = text.lstrip().split("\n", 1)[1] if "\n" in text else ""
        skipped = text[: len(text) - len(rest)].count("\n")
        text = rest
    else:
        counts = {d: first.count(d) for d in ",;\t|"}
        delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    if '"' in text:
        _check_quotes(text, delimiter, skipped, rep)
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


def _check_quotes(text: str, delimiter: str, skipped: int, rep: Report) -> None:
    """Refuse a CSV with a quote that is never closed, naming the line it opens on.

    Both parsers are lenient: an opening quote before a value on line 2 swallows text up
    to the next quote in the file (perhaps the opening quote of a note further along) and
    the rest of the record shifts, which shows as dozens of misplaced answers and never as
    the one stray quote. The csv module's strict mode stops at the first such quote.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1  # the line the record being read starts on
    try:
        for _ in reader:
            start = reader.line_num + 1
    except csv.Error:
        rep.stop(
            f"line {start + skipped}: a quote opened here is never closed (or a value "
            "carries on after its closing quote); remove the stray quote, or close it"
        )
