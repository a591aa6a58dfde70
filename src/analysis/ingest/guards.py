"""Look at a file's bytes before any parser does, and refuse what no parser should be given.

The content, not the extension, decides the reader (:func:`check_file` sniffs it). An
xlsx is a zip of XML parts: :func:`check_zip` refuses archives that would expand past
:data:`MAX_UNCOMPRESSED_BYTES` (zip bombs), that hold more parts than any workbook, whose
XML parts declare a DTD or entities (billion laughs, external entities) or whose sheets
declare a used range too large to build a grid of. python-calamine does not expand
entities, but its error for them is cryptic and later readers might not be so careful.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from analysis.ingest.problems import Report

#: Refuse files larger than this before reading them (bytes).
MAX_FILE_BYTES = 512 * 1024**2
#: Refuse xlsx archives whose parts would expand past this (bytes): zip-bomb guard.
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
#: Refuse xlsx archives with more parts than this.
MAX_ZIP_MEMBERS = 5_000
#: Refuse sheets whose declared used range holds more cells than this: the reader builds a
#: dense grid, so one stray value in XFD1048576 would otherwise exhaust memory.
MAX_SHEET_CELLS = 60_000_000
#: How much of each XML part to scan for a DTD (the prolog comes first).
XML_PROLOG_BYTES = 64 * 1024

#: The first bytes of a zip archive (xlsx, xlsm, xlsb, ods).
ZIP_MAGIC = b"PK\x03\x04"
#: The first bytes of an OLE2 container (xls, or an encrypted xlsx).
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DIMENSION = re.compile(
    rb'<dimension\s+ref="\$?([A-Z]{1,3})\$?(\d{1,7})(?::\$?([A-Z]{1,3})\$?(\d{1,7}))?"'
)


def check_file(path: Path, rep: Report) -> str:
    """Refuse a missing, empty, oversized or unreadable file; else say what its bytes are.

    Returns
    -------
    str
        ``"zip"``, ``"ole2"`` or ``"text"`` (see :func:`sniff`).

    Raises
    ------
    IngestError
        Through ``rep``, when the file cannot be read at all.
    """
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
            head = fh.read(len(OLE2_MAGIC))
    except OSError as exc:
        rep.stop(f"cannot be read ({exc.strerror})")
    return sniff(head)


def sniff(head: bytes) -> str:
    """What a file's first bytes say it is: ``"zip"``, ``"ole2"`` or ``"text"``."""
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(OLE2_MAGIC):
        return "ole2"
    return "text"


def check_zip(path: Path, rep: Report) -> None:
    """Refuse archives that are damaged, not workbooks, too large when expanded, or carry a DTD.

    Raises
    ------
    IngestError
        Through ``rep``, naming the first reason to refuse the archive.
    """
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
                    n = (column_index(c1) - column_index(c0) + 1) * (int(r1) - int(r0) + 1)
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


def column_index(letters: bytes) -> int:
    """1-based index of Excel column letters (``b"A"`` -> 1, ``b"AB"`` -> 28)."""
    n = 0
    for ch in letters.decode():
        n = n * 26 + ord(ch) - 64
    return n


def ole2_encrypted(blob: bytes) -> bool:
    """Whether an OLE2 container is a password-protected (encrypted) xlsx."""
    # Such files hold these streams, named in UTF-16LE.
    return "EncryptedPackage".encode("utf-16-le") in blob or (
        "EncryptionInfo".encode("utf-16-le") in blob
    )
