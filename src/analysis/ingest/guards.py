"""Look at a file's bytes before any parser does, and refuse what no parser should be given.

The content, not the extension, decides the reader (:func:`check_file` sniffs it). An
xlsx is a zip of XML parts, and every size a zip declares can be a lie, so
:func:`check_zip` bounds the *real* work the workbook reader would do:

- every part is inflated as a stream (never trusting its declared size) against a byte
  budget (:attr:`Limits.max_inflated_mb`, 200 MB by default) and a compression-ratio limit
  (:attr:`Limits.max_ratio`): a 3 MB file that declares 10 MB but inflates to 3 GB is
  refused after 200 MB, in a second or two, not after filling the memory;
- the cells present in every sheet, and the furthest one referenced, are counted while the
  part streams past (:mod:`analysis.ingest.xmlscan`), instead of trusting the sheet's
  ``<dimension>``: the reader builds a dense grid up to the furthest cell, so one stray
  value in XFD1048576 would make it ask for 512 GiB; at most :attr:`Limits.max_cells`
  (10 million: a 10,000-case sheet of the IAOW instrument spans 2.6 million) are allowed;
- parts that declare a DTD or entities (XML entity attacks), encrypted parts, unusual
  compression methods and binary (.xlsb) or OpenDocument (.ods) workbooks, whose cells
  cannot be measured this way, are refused;
- every zip, deflate and XML failure (``BadZipFile``, ``zlib.error``, ``EOFError``, a
  bad CRC, ...) becomes one clear problem, never a traceback.

The limits are options of ``ingest`` (``--max-inflated-mb``, ``--max-cells``) and can be
set in code by passing a :class:`Limits` to :func:`analysis.ingest.read_cases`.
"""

from __future__ import annotations

import copy
import struct
import xml.parsers.expat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from analysis.ingest.problems import Report
from analysis.ingest.xmlscan import PartScan, Scanner, Unsafe, exact_scan


@dataclass(frozen=True)
class Limits:
    """How much work a file may ask of the readers before it is refused."""

    #: Largest file read at all (MB).
    max_file_mb: float = 512
    #: Largest total an xlsx's parts may inflate to (MB).
    max_inflated_mb: float = 200
    #: Largest compression ratio of a part (checked once it passes 1 MB inflated). Sheets
    #: compress 10-20 times; a zip bomb, hundreds to a thousand.
    max_ratio: float = 100
    #: Most cells a sheet may hold, and most its used range (rows x columns) may span.
    max_cells: int = 10_000_000
    #: Most parts an xlsx may hold.
    max_parts: int = 5_000

    @property
    def max_inflated_bytes(self) -> int:
        """:attr:`max_inflated_mb` in bytes."""
        return int(self.max_inflated_mb * 1024**2)


DEFAULT_LIMITS = Limits()

#: The first bytes of a zip archive (xlsx, xlsm, xlsb, ods).
ZIP_MAGIC = b"PK\x03\x04"
#: The first bytes of an OLE2 container (xls, or an encrypted xlsx).
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

#: Read parts in chunks of this size while inflating them.
_CHUNK = 4 * 1024**2
#: The ratio limit applies once a part has inflated past this (tiny parts vary widely).
_RATIO_FLOOR = 1024**2
_XML_PART = (".xml", ".rels", ".vml")
#: The zip failures a damaged or crafted archive can raise while it is read.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    KeyError,
    IndexError,
    OverflowError,
    RuntimeError,
    NotImplementedError,
)


def check_file(path: Path, rep: Report, limits: Limits = DEFAULT_LIMITS) -> str:
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
        info = path.stat()
    except FileNotFoundError:
        rep.stop("file not found")
    except OSError as exc:
        rep.stop(f"cannot be read ({exc.strerror})")
    if path.is_dir():
        rep.stop("is a folder, not a file")
    if not path.is_file():
        rep.stop("is a device, pipe or socket, not a file")
    if info.st_size == 0:
        rep.stop("is empty (0 bytes)")
    if info.st_size > limits.max_file_mb * 1024**2:
        rep.stop(
            f"is {info.st_size / 1024**2:,.0f} MB, over the {limits.max_file_mb:,.0f} MB limit"
        )
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


def check_zip(path: Path, rep: Report, limits: Limits = DEFAULT_LIMITS) -> dict[str, PartScan]:
    """Inflate and measure every part of an xlsx; refuse it unless all is within limits.

    Returns
    -------
    dict
        Part name -> :class:`~analysis.ingest.xmlscan.PartScan` for every XML part (the
        reader takes merged ranges and hidden rows and columns from them).

    Raises
    ------
    IngestError
        Through ``rep``, naming the first reason to refuse the archive.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            _check_members(infos, rep, limits)
            scans: dict[str, PartScan] = {}
            budget = limits.max_inflated_bytes
            for info in infos:
                if info.is_dir():
                    continue
                is_xml = info.filename.lower().endswith(_XML_PART)
                scan, used = _measure(zf, info, rep, limits, budget, is_xml)
                budget -= used
                if scan is not None:
                    # Checked at once: a second part of the same name must not hide it.
                    _check_scan(scan, rep, limits)
                    scans[info.filename] = scan
    except _ZIP_ERRORS as exc:
        rep.stop(f"is not a readable xlsx workbook (damaged zip archive: {_why(exc)})")
    return scans


def _check_members(infos: list[zipfile.ZipInfo], rep: Report, limits: Limits) -> None:
    """Refuse an archive that is no Excel workbook, or whose parts no reader should open."""
    if len(infos) > limits.max_parts:
        rep.stop(f"holds {len(infos):,} parts, more than any workbook; refusing to read it")
    names = {i.filename for i in infos}
    if "xl/workbook.bin" in names:
        rep.stop(
            "is a binary Excel workbook (.xlsb), whose cells cannot be checked before reading; "
            "open it in Excel and save it as .xlsx (File > Save As > Excel Workbook)"
        )
    if "mimetype" in names or "content.xml" in names:
        rep.stop(
            "is an OpenDocument spreadsheet (.ods), whose cells cannot be checked before "
            "reading; open it and save it as .xlsx (Excel 2007-365)"
        )
    if "[Content_Types].xml" not in names:
        rep.stop("is a zip archive, not an Excel workbook")
    if "word/document.xml" in names or "ppt/presentation.xml" in names:
        rep.stop("is a Word or PowerPoint file, not an Excel workbook")
    for info in infos:
        if info.flag_bits & 0x1:
            rep.stop(
                f"part {info.filename} is encrypted inside the zip archive, which Excel never "
                "does (a damaged or crafted file?); refusing to read it"
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            rep.stop(
                f"part {info.filename} uses zip compression method {info.compress_type}, "
                "which Excel never writes (a damaged or crafted file?); refusing to read it"
            )


def _measure(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    rep: Report,
    limits: Limits,
    budget: int,
    is_xml: bool,
) -> tuple[PartScan | None, int]:
    """Inflate one part against the budget; scan it if it is XML. Returns (scan, bytes)."""
    scanner = Scanner(info.filename) if is_xml else None
    used = 0
    for chunk in _inflate(zf, info, rep, limits, budget):
        used += len(chunk)
        if scanner is not None:
            scanner.feed(chunk)
    if scanner is None:
        return None, used
    scanner.feed(b"", final=True)
    if scanner.fast:
        return scanner.scan, used
    # The fast path met a form it cannot vouch for: measure the part again, exactly.
    try:
        return exact_scan(info.filename, _inflate(zf, info, rep, limits, budget)), used
    except Unsafe:
        return PartScan(info.filename, dtd=True), used
    except xml.parsers.expat.ExpatError as exc:
        rep.stop(
            f"is not a readable xlsx workbook (part {info.filename} is not well-formed XML: "
            f"{xml.parsers.expat.ErrorString(exc.code)} at line {exc.lineno})"
        )
    except (LookupError, ValueError) as exc:  # e.g. an encoding no one has heard of
        rep.stop(
            f"is not a readable xlsx workbook (part {info.filename} is not readable XML: "
            f"{str(exc)[:100]})"
        )


def _inflate(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, rep: Report, limits: Limits, budget: int
) -> Iterator[bytes]:
    """The inflated bytes of one part, chunk by chunk, stopping at the budget or ratio limit.

    zipfile stops at the size the archive declares and checks the declared checksum, both of
    which may be lies told to the other readers, so the part is opened as if it declared
    neither: the whole deflate stream is inflated and counted, and its size and checksum
    are compared with the declared ones at the end.
    """
    loose = copy.copy(info)
    loose.file_size = 1 << 62  # never reached: the budget check below comes first
    del loose.CRC  # checked below, after the size, so that a lie is named as one
    total, crc = 0, 0
    with zf.open(loose) as fh:
        while chunk := fh.read(_CHUNK):
            total += len(chunk)
            if total > budget:
                mb = f"{limits.max_inflated_mb:g} MB"
                rep.stop(
                    f"expands to more than {mb} when unzipped (part {info.filename} declares "
                    f"{info.file_size:,} bytes), over the {mb} limit (a 'zip bomb'?); "
                    "refusing to read it (--max-inflated-mb raises the limit)"
                )
            if total > _RATIO_FLOOR and total > limits.max_ratio * max(info.compress_size, 1):
                rep.stop(
                    f"part {info.filename} expands more than {limits.max_ratio:g} times "
                    f"(from {info.compress_size:,} bytes to over {total:,}), far more than "
                    "any workbook (a 'zip bomb'?); refusing to read it"
                )
            crc = zlib.crc32(chunk, crc)
            yield chunk
    if total != info.file_size:
        rep.stop(
            f"part {info.filename} declares {info.file_size:,} bytes but inflates to "
            f"{total:,}: the archive is damaged or crafted; refusing to read it"
        )
    if crc != info.CRC:
        rep.stop(
            f"is not a readable xlsx workbook (part {info.filename} is damaged: its checksum "
            "does not match)"
        )


def _check_scan(scan: PartScan, rep: Report, limits: Limits) -> None:
    """Refuse a part with a DTD, too many cells, a too large used range, or a cell twice.

    The reader would keep one of two cells with one reference without a word.
    """
    if scan.dtd:
        rep.stop(
            f"part {scan.name} declares a DTD or entities, which no Excel workbook does (an "
            "XML entity attack?); refusing to read it"
        )
    if scan.cells > limits.max_cells:
        rep.stop(
            f"a sheet ({scan.name}) holds {scan.cells:,} cells, over the {limits.max_cells:,} "
            "limit (--max-cells raises it); refusing to read it"
        )
    if scan.grid > limits.max_cells:
        rep.stop(
            f"a sheet ({scan.name}) has a used range of {scan.used_range} ({scan.grid:,} cells, "
            f"over the {limits.max_cells:,} limit): something was typed or pasted far beyond "
            "the data; delete the empty rows and columns after the data and save again"
        )
    if scan.twice:
        shown = ", ".join(scan.twice[:5]) + (", ..." if len(scan.twice) > 5 else "")
        rep.stop(
            f"a sheet ({scan.name}) holds {len(scan.twice):,} cell"
            f"{'s' if len(scan.twice) != 1 else ''} written twice ({shown}), which Excel "
            "never writes (a damaged or crafted file?); only one of each would be read, so "
            "refusing to guess which"
        )


def _why(exc: BaseException) -> str:
    """A zip failure in a few words."""
    text = str(exc).strip()
    if isinstance(exc, zlib.error):
        return f"a compressed part is corrupt ({text})"
    if isinstance(exc, EOFError):
        return "it ends in the middle of a part (truncated?)"
    return (text or type(exc).__name__)[:200]


def ole2_encrypted(blob: bytes) -> bool:
    """Whether an OLE2 container is a password-protected (encrypted) xlsx."""
    # Such files hold these streams, named in UTF-16LE.
    return "EncryptedPackage".encode("utf-16-le") in blob or (
        "EncryptionInfo".encode("utf-16-le") in blob
    )
