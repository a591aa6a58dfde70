"""Read a case workbook, normalise the answers and validate them against the instrument.

``python -m analysis ingest FILE --trust SLUG`` writes ``data/processed/<trust>.parquet``
(see ``docs/design.md``) or, when anything is wrong, lists *every* problem at once,
each naming the file, sheet, Excel row and column, and writes nothing.

Order of work, and why:

1. **Look at the bytes before any parser does.** The content, not the extension,
   decides the reader. An xlsx is a zip of XML parts: refuse archives that would
   expand past :data:`MAX_UNCOMPRESSED_BYTES` (zip bombs) and XML parts that
   declare a DTD or entities (billion laughs, external entities). python-calamine
   does not expand entities, but its error for them is cryptic and later readers
   might not be so careful.
2. **Read raw cells.** Workbooks (xlsx/xlsm/xlsb/xls/ods): python-calamine opens the
   file and lists its sheets with their visibility (cheap, and its errors for damaged
   or encrypted files are precise); fastexcel (the same calamine parser, straight to
   Arrow) reads the chosen sheet's cells as text, without a Python object per cell,
   using the cached values of formulas; merged ranges come from the sheet's XML,
   inflated on a side thread while the cells are parsed. This is ~14x faster than
   openpyxl on a 10,000-case sheet (``bench/ingest.py``). ``pandas.read_excel`` is
   not used because ingest needs the exact cell text (``"3 "`` vs ``3``), the cells'
   positions, sheet visibility and merged ranges, which it discards. CSV: encoding
   and delimiter sniffed, read by pandas' C parser (the :mod:`csv` module for ragged
   files).
3. **Find the header** on row 1 (and say so if it is further down).
4. **Normalise** answer variants (:mod:`analysis.ingest.normalise`).
5. **Apply skip rules**: blanks where a question does not apply become its NA
   code; answers that contradict a rule and blanks where it applies are problems.
6. **Validate** codes, ranges, whole numbers, blanks and unique case ids with a
   pandera schema (``lazy=True``, no coercion), turning its failure cases into
   :class:`Problem` lines.

Decisions on odd workbooks: a hidden ``cases`` sheet is refused unless named with
``--sheet`` (a hidden sheet is often a stale copy, and the officer cannot see what is
being read); hidden sheets beside a visible ``cases`` sheet are ignored; cells that
Excel shows as errors (``#N/A``) or formulas never calculated read as blank.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import sys
import unicodedata
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import config
from analysis.errors import UserError
from analysis.fileio import atomic_path
from analysis.ingest.normalise import clean_text, normalise_codes, normalise_counts, normalise_text
from analysis.instrument import Instrument, load_instrument

#: Refuse files larger than this before reading them (bytes).
MAX_FILE_BYTES = 512 * 1024**2
#: Refuse xlsx archives whose parts would expand past this (bytes): zip-bomb guard.
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
#: Refuse xlsx archives with more parts than this.
MAX_ZIP_MEMBERS = 5_000
#: Refuse sheets whose declared used range holds more cells than this: the reader builds a
#: dense grid, so one stray value in XFD1048576 would otherwise exhaust memory.
MAX_SHEET_CELLS = 60_000_000
#: How far down to look for a header row that is not on row 1.
HEADER_SCAN_ROWS = 30
#: How much of each XML part to scan for a DTD (the prolog comes first).
XML_PROLOG_BYTES = 64 * 1024

TRUST_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_MERGE_REF = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Z0-9$:]+)"')
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_DIMENSION = re.compile(
    rb'<dimension\s+ref="\$?([A-Z]{1,3})\$?(\d{1,7})(?::\$?([A-Z]{1,3})\$?(\d{1,7}))?"'
)


# -- problems -------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in a case workbook.

    ``row`` is the row number Excel shows (header = 1, first case = 2); for CSV the
    header record is 1 likewise. ``sheet`` is None for CSV files.
    """

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    value: Any
    message: str
    level: str = "error"  # error | warning

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet is not None:
            where.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class IngestError(UserError):
    """A case workbook has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[Problem], warnings: Sequence[Problem] = ()):
        self.problems = list(problems)
        self.warnings = list(warnings)
        super().__init__(self._text())

    def _text(self) -> str:
        n = len(self.problems)
        file = self.problems[0].file if self.problems else "input"
        head = f"{n} problem{'s' if n != 1 else ''} in {file}:"
        return "\n".join([head, *(str(p) for p in self.problems)])


@dataclass(frozen=True)
class IngestResult:
    """What :func:`ingest_file` wrote."""

    path: Path
    n_cases: int
    warnings: list[Problem] = field(default_factory=list)


class _Report:
    """Collects problems for one file; ``fail()`` raises them all at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.sheet: str | None = None
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.cells: set[tuple[int, str]] = set()  # cells already reported, to avoid repeats

    def error(self, message: str, row: int | None = None, column: str | None = None, value=None):
        if row is not None and column is not None:
            if (row, column) in self.cells:
                return
            self.cells.add((row, column))
        self.errors.append(Problem(self.file, self.sheet, row, column, value, message))

    def warn(self, message: str, row: int | None = None, column: str | None = None, value=None):
        self.warnings.append(Problem(self.file, self.sheet, row, column, value, message, "warning"))

    def fail(self, order: Sequence[str] = ()) -> None:
        if not self.errors:
            return
        pos = {c: i for i, c in enumerate(order)}
        self.errors.sort(
            key=lambda p: (
                p.row is not None,
                p.row or 0,
                pos.get(p.column or "", len(pos)),
            )
        )
        raise IngestError(self.errors, self.warnings)

    def stop(self, message: str, **kw) -> None:
        """Report a problem that makes reading further pointless, and raise."""
        self.error(message, **kw)
        self.fail()


def check_trust(slug: str) -> str:
    """Return ``slug`` if it is a valid organisation slug, else raise :class:`UserError`."""
    if not isinstance(slug, str) or not TRUST_SLUG.match(slug):
        raise UserError(
            f"--trust {slug!r} is not a valid organisation slug: use lowercase letters, digits "
            "and single hyphens, e.g. norfolk-and-suffolk"
        )
    return slug


def column_letter(index: int) -> str:
    """Excel column letters for a 0-based index (0 -> A, 27 -> AB)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _show(value: object) -> str:
    """A cell value quoted for a message, cut short if very long."""
    text = clean_text(value)
    if text is None:
        return "blank"
    if (isinstance(value, (int, float)) and not isinstance(value, bool)) or _NUMBER.fullmatch(text):
        # A number is shown bare. (The reader gives every cell as text, so a number typed as
        # text looks the same as a number.)
        return text
    if len(text) > 60:
        text = text[:57] + "..."
    return repr(text)


# -- reading raw cells ----------------------------------------------------------------


def _sniff(head: bytes) -> str:
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head.startswith(_OLE2_MAGIC):
        return "ole2"
    return "text"


def _check_zip(path: Path, rep: _Report) -> None:
    """Refuse archives that are damaged, not workbooks, too large when expanded, or carry a DTD."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                rep.stop(f"holds {len(infos)} parts, more than any workbook; refusing to read it")
            total = sum(i.file_size for i in infos)
            if total > MAX_UNCOMPRESSED_BYTES:
                rep.stop(
                    f"would expand to {total / 1024**2:,.0f} MB, over the "
                    f"{MAX_UNCOMPRESSED_BYTES / 1024**2:,.0f} MB limit (a 'zip bomb'?); "
                    "refusing to read it"
                )
            names = {i.filename for i in infos}
            if "[Content_Types].xml" not in names and "mimetype" not in names:
                rep.stop("is a zip archive, not an Excel workbook")
            if "word/document.xml" in names or "ppt/presentation.xml" in names:
                rep.stop("is a Word or PowerPoint file, not an Excel workbook")
            for info in infos:
                if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
                    continue
                with zf.open(info) as fh:
                    head = fh.read(XML_PROLOG_BYTES)
                # NULs removed so a UTF-16 encoded part cannot hide its DTD.
                if _DTD.search(head.replace(b"\x00", b"")):
                    rep.stop(
                        f"part {info.filename} declares a DTD or entities, which no Excel "
                        "workbook does (an XML entity attack?); refusing to read it"
                    )
                dim = _DIMENSION.search(head)
                if dim and dim.group(3):
                    c0, r0, c1, r1 = dim.groups()
                    n = (_col_index(c1) - _col_index(c0) + 1) * (int(r1) - int(r0) + 1)
                    if n > MAX_SHEET_CELLS:
                        ref = f"{c0.decode()}{r0.decode()}:{c1.decode()}{r1.decode()}"
                        rep.stop(
                            f"a sheet ({info.filename}) has a used range of {ref} ({n:,} cells, "
                            f"over the {MAX_SHEET_CELLS:,} limit): something was typed or pasted "
                            "far beyond the data; delete the empty rows and columns after the "
                            "data and save again"
                        )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        rep.stop(f"is not a readable xlsx workbook (damaged zip archive: {exc})")
    except NotImplementedError as exc:  # e.g. an unsupported compression method
        rep.stop(f"is not a readable xlsx workbook ({exc})")


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters.decode():
        n = n * 26 + ord(ch) - 64
    return n


def _ole2_encrypted(blob: bytes) -> bool:
    # Password-protected xlsx files are OLE2 containers with these streams (UTF-16LE names).
    return "EncryptedPackage".encode("utf-16-le") in blob or (
        "EncryptionInfo".encode("utf-16-le") in blob
    )


def _read_excel(path: Path, kind: str, sheet: str | None, rep: _Report):
    """Raw cells of the chosen sheet (a frame, row 0 = Excel row 1) plus its merged ranges."""
    if kind == "zip":
        _check_zip(path, rep)
    with open(path, "rb") as fh:
        return _read_book(path, fh, kind, sheet, rep)


def _read_book(path: Path, fh, kind: str, sheet: str | None, rep: _Report):
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
            if _ole2_encrypted(fh.read()):
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


def _xlsx_merged(path: Path, sheet: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Merged ranges of one xlsx sheet, ``((row0, col0), (row1, col1))`` 0-based, inclusive.

    They sit in ``<mergeCells>`` after the cells, so the sheet's XML is streamed through
    (inflating it costs a tenth of parsing its cells) and only its tail is searched.
    The archive was vetted by :func:`_check_zip` (no DTD, sizes within limits).
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
    return int(m.group(2)) - 1, _col_index(m.group(1).encode()) - 1


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "entity" in text.lower():
        return "it uses XML entities, which no Excel workbook does"
    return text[:200]


def _choose_sheet(book, sheet: str | None, rep: _Report) -> str:
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
    raise AssertionError("unreachable")


def _decode(blob: bytes, rep: _Report) -> str:
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
    else:  # pragma: no cover - latin-1 decodes any bytes
        rep.stop("is not a text (CSV) file")
    controls = sum(
        1 for ch in text[:65536] if unicodedata.category(ch) == "Cc" and ch not in "\t\r\n"
    )
    if "\x00" in text or controls > max(2, len(text[:65536]) // 200):
        rep.stop("is neither an Excel workbook nor a text (CSV) file (it holds binary data)")
    return text


def _read_csv(blob: bytes, rep: _Report) -> pd.DataFrame:
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


def _read_grid(path: Path, sheet: str | None, rep: _Report):
    """Raw cells (list of rows, row 0 = Excel row 1) and merged ranges, from any format."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        rep.stop("file not found")
    except OSError as exc:
        rep.stop(f"cannot be read ({exc.strerror})")
    if path.is_dir():
        rep.stop("is a folder, not a file")
    if size == 0:
        rep.stop("is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        rep.stop(f"is {size / 1024**2:,.0f} MB, over the {MAX_FILE_BYTES / 1024**2:,.0f} MB limit")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        rep.stop(f"cannot be read ({exc.strerror})")
    kind = _sniff(head)
    ext = path.suffix.lower()
    excel_ext = ext in (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
    if kind == "text":
        if excel_ext:
            with open(path, "rb") as fh:
                blob = fh.read()
            try:
                _decode(blob, _Report(rep.file))
            except IngestError:
                rep.stop(f"is not an Excel workbook although it is named {ext} (damaged?)")
            rep.warn(f"is a text (CSV) file although it is named {ext}; read it as CSV")
        else:
            with open(path, "rb") as fh:
                blob = fh.read()
        return _read_csv(blob, rep), []
    if not excel_ext:
        rep.warn(f"is an Excel workbook although it is named {ext or 'without extension'}")
    return _read_excel(path, kind, sheet, rep)


# -- header ---------------------------------------------------------------------------


def _locate_header(cells: pd.DataFrame, inst: Instrument, merged, rep: _Report) -> dict[int, str]:
    """Map column positions to instrument column ids using row 1."""
    known = {c.casefold(): c for c in inst.columns}

    def hits(row: Sequence) -> int:
        return sum(1 for v in row if (t := clean_text(v)) and t.casefold() in known)

    grid = cells.iloc[:HEADER_SCAN_ROWS].to_numpy(dtype=object).tolist()
    if not grid or not any(clean_text(v) for row in grid for v in row):
        rep.stop("has no data: the sheet is empty")
    first = hits(grid[0])
    best_row, best = 0, first
    for i, row in enumerate(grid[1:HEADER_SCAN_ROWS], start=1):
        n = hits(row)
        if n > best:
            best_row, best = i, n
    if best_row and best >= 2:
        rep.stop(
            f"the header (column ids such as {inst.identifier_column}) is on row {best_row + 1}, "
            f"not row 1: delete row{'s' if best_row > 1 else ''} 1"
            f"{f' to {best_row}' if best_row > 1 else ''} so the ids are on row 1",
            row=best_row + 1,
        )
    if first == 0:
        rep.stop(
            "row 1 holds none of the instrument's column ids (expected a header row such as "
            f"{', '.join(inst.columns[:4])}, ...); is this a case workbook? "
            "`python -m analysis template` writes one to fill in",
            row=1,
        )
    for (r0, c0), (_, c1) in merged:
        if r0 == 0 and c1 > c0:
            rep.error(
                f"header cells {column_letter(c0)}1:{column_letter(c1)}1 are merged; unmerge "
                "them so every column has its own id",
                row=1,
            )
    mapping: dict[int, str] = {}
    where: dict[str, int] = {}
    for i, v in enumerate(grid[0]):
        text = clean_text(v)
        if text is None:
            continue
        cid = known.get(text.casefold())
        if cid is None:
            rep.warn(
                f"unknown column {text!r} (column {column_letter(i)}) is not in instrument "
                f"{inst.id}; ignored",
                column=text,
            )
        elif cid in where:
            rep.error(
                f"column id {cid} appears twice (columns {column_letter(where[cid])} and "
                f"{column_letter(i)})",
                row=1,
                column=cid,
            )
        else:
            mapping[i] = cid
            where[cid] = i
    for cid in inst.required_columns:
        if cid not in where:
            rep.error(f"required column {cid} is missing from the header row", column=cid)
    return mapping


# -- normalise and validate -------------------------------------------------------------


def _frame(cells: pd.DataFrame, mapping: dict[int, str], rep: _Report) -> pd.DataFrame:
    """Data rows as an object frame indexed by Excel row number, only instrument columns."""
    data = cells.iloc[1:]
    raw = data[list(mapping)].copy()
    raw.columns = list(mapping.values())
    raw.index = pd.RangeIndex(2, len(data) + 2, name="source_row")
    # Data in columns with no header is reported (once per column) rather than silently lost.
    header = cells.iloc[0].tolist() if len(cells) else []
    for pos in cells.columns:
        if pos in mapping or clean_text(header[pos]) is not None:
            continue
        filled = normalise_text(data[pos]).notna().to_numpy()
        if filled.any():
            first = int(filled.argmax()) + 2
            rep.warn(
                f"column {column_letter(pos)} has no header but holds data in {int(filled.sum())} "
                f"row{'s' if filled.sum() != 1 else ''} (first: row {first}); ignored",
            )
    return raw


def _allowed_text(allowed: Sequence[str]) -> str:
    return ", ".join(allowed)


def _suggest(text: str, allowed: Sequence[str]) -> str | None:
    """The allowed code closest to a misspelt value, if any is close."""
    t = text.casefold()
    best, score = None, 0.0
    for code in allowed:
        c = code.casefold()
        s = max(
            difflib.SequenceMatcher(None, t, c).ratio(),
            difflib.SequenceMatcher(None, t, c.split()[0] if c.split() else c).ratio() * 0.97,
        )
        if s > score:
            best, score = code, s
    return best if score >= 0.75 else None


def _normalise(raw: pd.DataFrame, inst: Instrument, rep: _Report) -> pd.DataFrame:
    """Canonical codes, tidied text and float counts, column by column."""
    out = {}
    for cid in raw.columns:
        kind = _kind(inst, cid)
        col = raw[cid]
        if kind == "coded":
            aset = inst.answer_set(cid) if cid in inst.questions else None
            out[cid] = normalise_codes(
                col, inst.allowed_values(cid), aset.na_code if aset else None
            )
        elif kind == "count":
            values, bad = normalise_counts(col)
            for row in values.index[bad.to_numpy()]:
                _count_error(rep, inst, cid, int(row), raw.at[row, cid], "is not a number")
            out[cid] = values
        else:
            out[cid] = normalise_text(col)
    return pd.DataFrame(out, index=raw.index)


def _kind(inst: Instrument, cid: str) -> str:
    if inst.allowed_values(cid):
        return "coded"
    if cid in inst.questions:
        return "count" if inst.questions[cid].answers == "count" else "coded"
    return {"count": "count", "free_text": "free_text"}.get(inst.case_details[cid].type, "text")


def _bounds(inst: Instrument, cid: str) -> tuple[int | None, int | None]:
    spec = inst.questions.get(cid) or inst.case_details[cid]
    lo = spec.min if spec.min is not None else 0  # a count is never negative
    return lo, spec.max


#: What a failed count check says (pandera check meaning -> message).
_COUNT_PROBLEMS = {"range": "is out of range", "whole": "is not a whole number"}


def _count_error(rep: _Report, inst: Instrument, cid: str, row: int, value, problem: str) -> None:
    """Report a bad count cell: what is wrong with it and which whole numbers are allowed."""
    rep.error(
        f"{_show(value)} {problem} (expected a whole number{_range_text(inst, cid)})",
        row=row,
        column=cid,
        value=value,
    )


def _range_text(inst: Instrument, cid: str) -> str:
    lo, hi = _bounds(inst, cid)
    if hi is None:
        return f" of at least {lo}"
    return f" from {lo} to {hi}"


def _skip_rules(norm: pd.DataFrame, raw: pd.DataFrame, inst: Instrument, rep: _Report) -> None:
    """Fill NA codes where a question does not apply; report contradictions and missing answers.

    Rules are applied in column order, so a rule on an earlier question sees that question's
    value after its own rule has filled it.
    """
    # Many questions share a rule (every typed-report question, say): compute each rule once,
    # and forget it when a column it reads is filled. Masks are numpy arrays over the codes of
    # the categorical columns: a few hundred questions cost milliseconds, not seconds.
    masks: dict[tuple, tuple[np.ndarray, np.ndarray, list[str]]] = {}
    for qid, q in inst.questions.items():
        if not q.has_rule or qid not in norm.columns:
            continue
        cols = q.rule_columns
        if any(c not in norm.columns for c in cols):
            continue  # the controlling column is missing: already reported
        key = (
            tuple(sorted(q.applies_when.items())),
            tuple(tuple(sorted(a.items())) for a in q.applies_any),
        )
        if key not in masks:
            known = np.ones(len(norm), dtype=bool)
            for c in cols:
                allowed = inst.allowed_values(c)
                known &= _member(norm[c], allowed) if allowed else norm[c].notna().to_numpy()
            applies = q.rule_mask(lambda c, values: _member(norm[c], values), len(norm))
            masks[key] = (known, applies, cols)
        known, applies, _ = masks[key]
        aset = inst.answer_set(q)
        na = aset.na_code if aset else None
        value = norm[qid]
        blank = value.isna().to_numpy()
        rule = q.rule_text()
        # Blank where the question does not apply: the NA code (counts stay blank).
        fill = blank & known & ~applies
        if na is not None and fill.any():
            norm[qid] = value = _filled(value, fill, na)
            masks = {k: v for k, v in masks.items() if qid not in v[2]}
        # Answered where it does not apply.
        valid = _member(value, aset.code_values) if aset else ~blank
        wrong = known & ~applies & ~blank & valid
        if na is not None:
            wrong &= ~_member(value, (na,))
        for row in norm.index[wrong]:
            rep.error(
                f"answered {_show(raw.at[row, qid])} but the question does not apply to this case "
                f"({_case_text(norm, row, cols)}; it applies only when {rule}); leave "
                f"it blank{f' or answer {na}' if na else ''}",
                row=int(row),
                column=qid,
                value=raw.at[row, qid],
            )
        # Blank where it applies.
        missing = known & applies & blank
        for row in norm.index[missing]:
            rep.error(
                f"is blank but the question applies to this case "
                f"({_case_text(norm, row, cols)}); answer it"
                + (f" (allowed: {_allowed_text(aset.code_values)})" if aset else ""),
                row=int(row),
                column=qid,
            )


def _member(col: pd.Series, values: Sequence[str]) -> np.ndarray:
    """``col.isin(values)`` as a numpy mask; for a categorical, by a lookup on its codes."""
    arr = col.array
    if isinstance(arr, pd.Categorical):
        wanted = set(values)
        # The last slot is for blanks (code -1).
        lookup = np.array([c in wanted for c in arr.categories] + [False], dtype=bool)
        return lookup[arr.codes]
    return col.isin(list(values)).to_numpy()


def _filled(col: pd.Series, where: np.ndarray, value: str) -> pd.Series:
    """``col`` with ``value`` put where ``where`` is true (a categorical keeps its categories)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.cat.categories
        if value not in cats:
            col = col.cat.add_categories([value])
            cats = col.cat.categories
        codes = col.cat.codes.to_numpy().copy()
        codes[where] = cats.get_loc(value)
        return pd.Series(
            pd.Categorical.from_codes(codes, dtype=col.dtype), index=col.index, name=col.name
        )
    out = col.copy()
    out[where] = value
    return out


def _case_text(norm: pd.DataFrame, row, columns: Sequence[str]) -> str:
    return ", ".join(f"{c} is {norm.at[row, c]}" for c in columns)


def _schema(inst: Instrument, columns: Sequence[str]):
    """Pandera schema for the normalised frame, plus what each column's checks mean.

    Built once per instrument and set of columns: a batch reads many workbooks.
    """
    key = (inst.sha256, tuple(columns))
    if key not in _SCHEMAS:
        _SCHEMAS.clear()  # one instrument at a time in practice; keep memory bounded
        _SCHEMAS[key] = _build_schema(inst, columns)
    return _SCHEMAS[key]


_SCHEMAS: dict[tuple, tuple] = {}


def _build_schema(inst: Instrument, columns: Sequence[str]):
    import pandera.pandas as pa

    spec: dict[str, Any] = {}
    meaning: dict[str, list[str]] = {}
    for cid in columns:
        kind = _kind(inst, cid)
        if kind == "free_text":
            continue
        q = inst.questions.get(cid)
        if q is not None:
            # Blanks in questions with a skip rule are judged by the rule, not here.
            nullable = q.has_rule
        else:
            d = inst.case_details[cid]
            nullable = not d.required or d.type == "identifier"
        checks, means = [], []
        if kind == "coded":
            checks.append(pa.Check.isin(list(inst.allowed_values(cid))))
            means.append("isin")
        elif kind == "count":
            lo, hi = _bounds(inst, cid)
            if hi is None:
                checks.append(pa.Check.greater_than_or_equal_to(lo))
            else:
                checks.append(pa.Check.in_range(lo, hi))
            means.append("range")
            checks.append(pa.Check(lambda s: s.isna() | (s % 1 == 0), name="whole_number"))
            means.append("whole")
        unique = cid == inst.identifier_column
        spec[cid] = pa.Column(checks=checks, nullable=nullable, unique=unique, required=False)
        meaning[cid] = means
    # No coercion: values were normalised already, and coercion could hide range failures.
    return pa.DataFrameSchema(spec, strict=False, coerce=False), meaning


def _validate(norm: pd.DataFrame, raw: pd.DataFrame, inst: Instrument, rep: _Report) -> None:
    import pandera.errors as pe

    schema, meaning = _schema(inst, list(norm.columns))
    ident = inst.identifier_column
    # Blank ids are reported here (not as pandera nulls) so duplicates of blank are not reported.
    if ident in norm.columns:
        for row in norm.index[norm[ident].isna().to_numpy()]:
            rep.error("blank case id: every case needs an identifier", row=int(row), column=ident)
    try:
        schema.validate(norm, lazy=True)
        return
    except pe.SchemaErrors as exc:
        failures = exc.failure_cases
    dup_rows: dict[str, list[int]] = {}
    if ident in norm.columns:
        ids = norm[ident]
        dups = ids[ids.notna() & ids.duplicated(keep=False)]
        for row, v in dups.items():
            dup_rows.setdefault(v, []).append(int(row))
    for rec in failures.itertuples(index=False):
        cid, check, idx = rec.column, str(rec.check), rec.index
        if cid not in norm.columns or idx is None or pd.isna(idx):
            rep.error(f"failed check {check}", column=cid if isinstance(cid, str) else None)
            continue
        row = int(idx)
        raw_value = raw.at[row, cid] if cid in raw.columns else rec.failure_case
        if check == "not_nullable":
            what = "an answer" if cid in inst.questions else "a value"
            allowed = inst.allowed_values(cid)
            rep.error(
                f"is blank; every case needs {what}"
                + (f" (allowed: {_allowed_text(allowed)})" if allowed else ""),
                row=row,
                column=cid,
            )
            continue
        if check == "field_uniqueness":
            others = [r for r in dup_rows.get(norm.at[row, cid], []) if r != row]
            rep.error(
                f"duplicate case id {_show(raw_value)} (also on row"
                f"{'s' if len(others) != 1 else ''} {', '.join(map(str, others))})",
                row=row,
                column=cid,
                value=raw_value,
            )
            continue
        num = rec.check_number
        means = meaning.get(cid, [])
        kind = (
            means[int(num)]
            if num is not None and not pd.isna(num) and int(num) < len(means)
            else ""
        )
        if kind == "isin":
            allowed = inst.allowed_values(cid)
            text = clean_text(raw_value) or ""
            what = "answer" if cid in inst.questions else "value"
            hint = _suggest(text, allowed)
            rep.error(
                f"{_show(raw_value)} is not an allowed {what} (allowed: {_allowed_text(allowed)})"
                + (f"; did you mean {hint!r}?" if hint else ""),
                row=row,
                column=cid,
                value=raw_value,
            )
        elif kind in _COUNT_PROBLEMS:
            _count_error(rep, inst, cid, row, raw_value, _COUNT_PROBLEMS[kind])
        else:
            rep.error(f"{_show(raw_value)} failed check {check}", row=row, column=cid)


#: Look for formulas and Excel errors behind blank cells only in sheets up to this many rows
#: (openpyxl is much slower than calamine).
EXPLAIN_BLANKS_MAX_ROWS = 20_000


def _explain_blanks(path: Path, mapping: dict[int, str], rep: _Report) -> None:
    """Say why a 'blank' cell is blank when it holds a formula or an Excel error.

    Calamine returns cached formula results and reads error cells (``#N/A``) and formulas
    never calculated (e.g. written by a script) as empty. Only then, and only for
    workbooks, openpyxl (which parses with defusedxml) looks at the cells themselves.
    """
    blanks = [i for i, p in enumerate(rep.errors) if p.row and p.message.startswith("is blank")]
    if not blanks or rep.sheet is None:
        return
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != _ZIP_MAGIC:
                return
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
        try:
            ws = wb[rep.sheet]
            if (ws.max_row or 0) > EXPLAIN_BLANKS_MAX_ROWS:
                return
            position = {cid: pos for pos, cid in mapping.items()}
            wanted = {(rep.errors[i].row, position.get(rep.errors[i].column)): i for i in blanks}
            rows = {r for r, _ in wanted}
            for r, row in enumerate(ws.iter_rows(max_row=max(rows)), start=1):
                if r not in rows:
                    continue
                for pos, cell in enumerate(row):
                    i = wanted.get((r, pos))
                    if i is None:
                        continue
                    what = None
                    if cell.data_type == "e":
                        what = f"holds the Excel error {cell.value}"
                    elif cell.data_type == "f" or str(cell.value or "").startswith("="):
                        formula = str(getattr(cell.value, "text", cell.value))[:60]
                        what = (
                            f"holds the formula {formula} whose result is an error or was never "
                            "saved (open and save the file in Excel)"
                        )
                    if what:
                        p = rep.errors[i]
                        rest = p.message.removeprefix("is blank").lstrip(";, ")
                        sep = " " if rest.startswith("but") else "; "
                        rep.errors[i] = replace(
                            p, message=f"{what}, so it reads as blank{sep}{rest}"
                        )
        finally:
            wb.close()
    except Exception:  # an explanation is a nicety; the problem itself is already reported
        return


def _output(norm: pd.DataFrame, inst: Instrument, trust: str | None) -> pd.DataFrame:
    """The processed-cases frame of docs/design.md.

    Every instrument column except free text (absent optional columns as blanks),
    ``trust`` filled from the slug where blank, and ``source_row``.
    """
    cols = {}
    n = len(norm)
    for cid in inst.columns:
        kind = _kind(inst, cid)
        if kind == "free_text":
            continue
        if cid in norm.columns:
            s = norm[cid]
        else:
            s = pd.Series([None] * n, index=norm.index, dtype=object)
        codes = inst.allowed_values(cid)
        if kind == "count":
            s = s.astype("float64").astype("Int64")
        elif codes:
            # Categorical with the instrument's codes in declared order: small in memory and
            # parquet, fast to group by, and every code keeps its place even when unused.
            arr = s.array
            cats = pd.Index(list(codes), dtype=object)
            if isinstance(arr, pd.Categorical) and arr.categories[: len(cats)].equals(cats):
                # Normalised columns list the allowed codes first and validation has passed,
                # so the codes carry over as they are.
                s = pd.Categorical.from_codes(arr.codes, categories=cats)
            else:
                s = pd.Categorical(s, categories=cats)
            s = pd.Series(s, index=norm.index)
        else:
            s = s.astype("str")
        cols[cid] = s
    if "trust" not in cols:
        cols["trust"] = pd.Series([None] * n, index=norm.index, dtype="str")
    if trust is not None:
        cols["trust"] = cols["trust"].fillna(trust)
    out = pd.DataFrame(cols, index=norm.index)
    out["source_row"] = norm.index.to_numpy(dtype="int64")
    return out.reset_index(drop=True)


# -- public API -------------------------------------------------------------------------


def read_cases(
    path: str | Path,
    instrument: Instrument | str | Path | None = None,
    sheet: str | None = None,
    trust: str | None = None,
    warnings: list[Problem] | None = None,
) -> pd.DataFrame:
    """Read, normalise and validate a case workbook.

    Parameters
    ----------
    path
        An .xlsx/.xlsm/.xls workbook or a .csv file.
    instrument
        A loaded instrument or a path to one; the default instrument when None.
    sheet
        The sheet to read; by default ``cases``, or the only visible sheet.
    trust
        Fills blanks in the ``trust`` column (validated as a slug).
    warnings
        If given, warnings (unknown columns, non-UTF-8 text, ...) are appended to it.

    Returns
    -------
    pandas.DataFrame
        One row per case: every instrument column except free text, coded columns as
        categoricals of their canonical codes, nullable-integer counts, plus ``trust``
        and ``source_row``.

    Raises
    ------
    IngestError
        Listing every problem found, when there is any.
    """
    path = Path(path)
    if trust is not None:
        check_trust(trust)
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    rep = _Report(path.name)
    try:
        cells, merged = _read_grid(path, sheet, rep)
        mapping = _locate_header(cells, inst, merged, rep)
        raw = _frame(cells, mapping, rep)
        del cells  # the raw cells can be large; free them before normalising
        for (r0, c0), (r1, c1) in merged:
            if r0 > 0:
                rep.warn(
                    f"cells {column_letter(c0)}{r0 + 1}:{column_letter(c1)}{r1 + 1} are merged; "
                    "only the first holds a value, so give every case its own cells",
                    row=r0 + 1,
                )
        norm = _normalise(raw, inst, rep)
        # Rows with nothing in any required column are spacing, not cases. Rows holding only
        # optional columns (a trust name filled down past the last case, a stray note) are
        # skipped with a warning rather than reported as cases with every answer blank.
        required = [c for c in inst.required_columns if c in norm.columns]
        filled = norm.notna()
        keep = filled[required].any(axis=1) | raw.index.isin([r for r, _ in rep.cells])
        optional_only = ~keep & filled.any(axis=1)
        if optional_only.any():
            skipped = norm.index[optional_only.to_numpy()]
            rep.warn(
                f"{len(skipped)} row{'s' if len(skipped) != 1 else ''} (first: row "
                f"{skipped[0]}) hold only optional columns "
                f"({', '.join(c for c in norm.columns if c not in required)}) and were skipped",
                row=int(skipped[0]),
            )
        norm, raw = norm[keep.to_numpy()], raw[keep.to_numpy()]
        if norm.empty:
            rep.stop("has a header row but no case rows")
        _skip_rules(norm, raw, inst, rep)
        _validate(norm, raw, inst, rep)
        _explain_blanks(path, mapping, rep)
        rep.fail(order=inst.columns)
    finally:
        if warnings is not None:
            warnings.extend(rep.warnings)
    return _output(norm, inst, trust)


def ingest_file(
    path: str | Path,
    trust: str,
    instrument: Instrument | str | Path | None = None,
    sheet: str | None = None,
    out_dir: str | Path | None = None,
) -> IngestResult:
    """Validate a case workbook and write ``<out_dir>/<trust>.parquet`` atomically.

    The parquet file is written to a temporary file in the same folder and moved into
    place with :func:`os.replace`, so a reader never sees half a file and a failed
    ingest leaves any earlier file untouched.

    Raises
    ------
    IngestError
        If the workbook has any problem; nothing is written.
    UserError
        If ``trust`` is not a valid slug.
    """
    check_trust(trust)
    warns: list[Problem] = []
    df = read_cases(path, instrument=instrument, sheet=sheet, trust=trust, warnings=warns)
    out_dir = Path(out_dir) if out_dir is not None else config.PROCESSED_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{trust}.parquet"
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False)
    return IngestResult(path=target, n_cases=len(df), warnings=warns)


# -- command line -------------------------------------------------------------------------


def add_cli(parser) -> None:
    """Arguments of ``python -m analysis ingest``."""
    parser.add_argument("file", type=Path, help="case workbook (.xlsx, .xlsm, .xls) or .csv")
    parser.add_argument(
        "--trust", required=True, help="organisation slug, e.g. norfolk-and-suffolk"
    )
    parser.add_argument("--sheet", help=f"sheet to read (default: {config.CASES_SHEET!r})")
    parser.add_argument("--instrument", type=Path, help="instrument YAML (default: the package's)")
    parser.add_argument(
        "--out-dir", type=Path, help="folder for <trust>.parquet (default: data/processed)"
    )


def cli(args) -> int:
    """Run ``ingest``: print every problem to stderr and return 2, or write the parquet file."""
    try:
        result = ingest_file(
            args.file,
            trust=args.trust,
            instrument=args.instrument,
            sheet=args.sheet,
            out_dir=args.out_dir,
        )
    except IngestError as exc:
        for w in exc.warnings:
            print(f"warning: {w}", file=sys.stderr)
        for p in exc.problems:
            print(p, file=sys.stderr)
        n = len(exc.problems)
        print(
            f"{n} problem{'s' if n != 1 else ''} found in {args.file}; nothing was written",
            file=sys.stderr,
        )
        return 2
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"wrote {result.path} ({result.n_cases} cases)")
    return 0
