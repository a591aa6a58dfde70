"""Measure an xlsx part's XML as it is inflated: cells, used range, hidden rows, merges, DTDs.

The workbook reader builds a dense grid spanning every cell it finds, so one stray value
in XFD1048576 makes it ask for 17 billion cells (512 GiB) and the process aborts; the
sheet's ``<dimension>`` element cannot be trusted to say so (it may be false or absent).
:class:`PartScan` therefore looks at the cells themselves, chunk by chunk, while
:mod:`analysis.ingest.guards` inflates the part:

- **Fast path** (every workbook Excel, LibreOffice, openpyxl or xlsxwriter writes): cells
  are ``<c r="B7" ...>``. numpy finds those tags and reads their references, without a
  Python object per cell (~0.3 s for a 10,000-case, 2.6-million-cell sheet).
- **Exact path**: if any cell tag is in another form (a namespace prefix, no ``r``, an
  odd reference, a character reference, UTF-16 text) the part is parsed again with expat,
  which follows the XML rules exactly, and cells without ``r`` are placed as the reader
  places them (after the previous cell of the row).

Either way the scan also collects hidden rows and columns, merged ranges, and whether the
part declares a DTD or entities (which no workbook does: entity-expansion attacks).

The workbook reader is lenient: it reads ``<row>...</rox>`` without a word, and of two
cells with one reference it keeps the last. So the scan also vouches for what the reader
cannot: the fast path counts the opening, closing and empty tags of every element and of
``row``, ``c`` and ``v``, and checks that cell references only ever increase (as every
writer writes them); a count that does not balance or a reference out of order sends the
part to expat, which names the first XML error exactly and lists cells written twice.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass, field

import numpy as np

#: Bytes kept from the end of one chunk for the next: a tag may straddle two chunks.
_CARRY = 1024
#: How much of a part to search for a DTD: the prolog, where XML allows one.
PROLOG_BYTES = 64 * 1024
_SP, _R, _EQ, _QUOTE = (ord(ch) for ch in ' r="')
_LT_C = int.from_bytes(b"<c", "little")
_COLON_C = int.from_bytes(b":c", "little")
#: Bytes that can end an element name: `<c` followed by one of them is a cell tag.
_NAME_END = np.zeros(256, dtype=bool)
_NAME_END[list(b" \t\n\r>/")] = True
_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_HIDDEN = re.compile(rb'<(?:\w+:)?(row|col)\s[^>]*?\bhidden\s*=\s*["\'](?:1|true)["\'][^>]*>')
_ATTR = {
    name: re.compile(rb"\b" + name + rb'\s*=\s*["\']([^"\']*)["\']')
    for name in (b"r", b"min", b"max")
}
_MERGE = re.compile(
    rb'<(?:\w+:)?mergeCell\s[^>]*?\bref\s*=\s*["\']([$A-Z]{1,4}[$\d]+(?::[$A-Z]{1,4}[$\d]+)?)'
)
_REF = re.compile(r"\$?([A-Z]{1,3})\$?(\d{1,7})")


class Unsafe(Exception):
    """The XML declares a DTD or entities."""


def column_index(letters: bytes) -> int:
    """1-based index of Excel column letters (``b"A"`` -> 1, ``b"AB"`` -> 28)."""
    n = 0
    for ch in letters.decode():
        n = n * 26 + ord(ch) - 64
    return n


def cell_ref(ref: str) -> tuple[int, int] | None:
    """``"C9"`` -> ``(8, 2)`` (0-based row and column), or None if it is no cell reference."""
    m = _REF.fullmatch(ref)
    if m is None:
        return None
    return int(m.group(2)) - 1, column_index(m.group(1).encode()) - 1


def column_letter(index: int) -> str:
    """Excel column letters for a 0-based index (0 -> A, 27 -> AB)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@dataclass
class PartScan:
    """What one XML part holds, measured from its bytes.

    ``last`` is the (row, column) of the furthest cell, 0-based, or None when the part has
    no cells. The used range is taken to start at A1: case sheets do (their header is on
    row 1), and it keeps the bound on the reader's grid on the safe side.
    """

    name: str
    cells: int = 0
    last: tuple[int, int] | None = None
    hidden_rows: list[int] = field(default_factory=list)  # 0-based
    hidden_cols: list[tuple[int, int]] = field(default_factory=list)  # inclusive, 0-based
    merged: list[str] = field(default_factory=list)  # "A1:B2" as written
    dtd: bool = False
    exact: bool = False  # measured by the exact (expat) path
    twice: list[str] = field(default_factory=list)  # references of cells written twice

    @property
    def grid(self) -> int:
        """How many cells the reader's dense grid spans: rows x columns of the used range."""
        return 0 if self.last is None else (self.last[0] + 1) * (self.last[1] + 1)

    @property
    def used_range(self) -> str:
        """The used range in Excel's notation, ``A1:XFD1048576``."""
        if self.last is None:
            return ""
        return f"A1:{column_letter(self.last[1])}{self.last[0] + 1}"

    def _reach(self, row: int, col: int) -> None:
        if self.last is None:
            self.last = (row, col)
        else:
            self.last = (max(self.last[0], row), max(self.last[1], col))


class Scanner:
    """Feeds the chunks of one part through the fast path; says when the exact one is needed."""

    def __init__(self, name: str) -> None:
        self.scan = PartScan(name)
        self._carry = b""
        self._seen = 0
        #: False once the fast path has met something it cannot vouch for.
        self.fast = True
        #: Opening minus closing minus empty tags: any element, then row, c and v.
        self._open = [0, 0, 0, 0]
        self._last_key = -1  # the last cell's row * 2**15 + column, in document order

    def feed(self, chunk: bytes, final: bool = False) -> None:
        """Scan one inflated chunk (``final`` for the last, which may be empty)."""
        if not self.fast:
            return
        if self._seen < PROLOG_BYTES:
            head = chunk[: PROLOG_BYTES - self._seen]
            if self._seen == 0 and (head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head[:4]):
                self.fast = False  # UTF-16: only expat reads it correctly
                return
            # A DTD must come before the root element, so the prolog is where to look.
            if _DTD.search(self._carry[-16:] + head):
                self.scan.dtd = True
        self._seen += len(chunk)
        buf = self._carry + chunk
        if final:
            buf += b" " * _CARRY
        end = len(buf) - _CARRY  # tags starting before `end` are complete in `buf`
        if end <= 0:
            self._carry = buf
            return
        self._carry = buf[end:]
        self._chunk(buf, end)
        if final and self.fast and any(self._open):
            self.fast = False  # tags that do not pair up: expat says where

    def _chunk(self, buf: bytes, end: int) -> None:
        scan = self.scan
        # Every search below counts only matches that start before `end`; the word looked
        # for may lie past `end` in a tag that starts before it, so the whole buffer is searched.
        if buf.find(b"hidden") >= 0:
            for m in _HIDDEN.finditer(buf, 0, len(buf)):
                if m.start() < end:
                    self._hidden(m)
        if buf.find(b"mergeCell") >= 0:
            scan.merged += [
                m.group(1).decode() for m in _MERGE.finditer(buf, 0, len(buf)) if m.start() < end
            ]
        a = np.frombuffer(buf, dtype=np.uint8)
        found = _cells(a, end)
        if found is None:
            self.fast = False  # a cell tag the fast path cannot read: measure exactly
            return
        n, last, keys, tags = found
        scan.cells += n
        if last is not None:
            scan._reach(*last)
        if len(keys):
            if keys[0] <= self._last_key or (len(keys) > 1 and not (np.diff(keys) > 0).all()):
                self.fast = False  # a cell out of order, or written twice: expat lists them
                return
            self._last_key = int(keys[-1])
        self._balance(a, end, tags)

    def _balance(self, a: np.ndarray, end: int, cells: np.ndarray) -> None:
        """Add this chunk's opening, closing and empty tags to the running balance."""
        lt = np.flatnonzero(a[:end] == 60)  # every `<` starting before `end`
        gt = np.flatnonzero(a == 62)  # every `>`: the carry holds the one closing a tag
        after = a[lt + 1]
        closing = lt[after == 47]  # `</`
        opening = lt[(after != 47) & (after != 63) & (after != 33)]  # not `</`, `<?`, `<!`
        # `/>` whose `/` lies in [0, end): a `>` at 0 closes a `/>` the last chunk counted.
        empty = int((a[gt[(gt >= 1) & (gt <= end)] - 1] == 47).sum())

        def empties(starts: np.ndarray) -> int:  # of these tags, the ones ending in `/>`
            if not len(starts):
                return 0
            return int((a[gt[np.searchsorted(gt, starts)] - 1] == 47).sum())

        def named(at: np.ndarray, skip: int, name: bytes, ends: np.ndarray | None = None):
            for k, ch in enumerate(name):  # narrowed letter by letter: few tags remain
                at = at[a[at + skip + k] == ch]
            return at if ends is None else at[ends[a[at + skip + len(name)]]]

        rows = named(opening, 1, b"row", _NAME_END)
        self._open[0] += len(opening) - len(closing) - empty
        self._open[1] += len(rows) - empties(rows) - len(named(closing, 2, b"row>"))
        self._open[2] += len(cells) - empties(cells) - len(named(closing, 2, b"c>"))
        self._open[3] += len(named(opening, 1, b"v>")) - len(named(closing, 2, b"v>"))

    def _hidden(self, m: re.Match) -> None:
        tag = m.group(0)
        if m.group(1) == b"row":
            r = _ATTR[b"r"].search(tag)
            if r and r.group(1).isdigit():
                self.scan.hidden_rows.append(int(r.group(1)) - 1)
            else:
                self.fast = False  # a hidden row placed by position: let expat count
            return
        lo, hi = _ATTR[b"min"].search(tag), _ATTR[b"max"].search(tag)
        if lo and hi and lo.group(1).isdigit() and hi.group(1).isdigit():
            self.scan.hidden_cols.append((int(lo.group(1)) - 1, int(hi.group(1)) - 1))


def _pairs(buf: np.ndarray, pair: int, end: int) -> np.ndarray:
    """Positions before ``end`` where the two bytes of ``pair`` (little-endian) start."""
    # Two views of the bytes as 16-bit words, one per alignment; the carry after `end`
    # keeps both inside the buffer.
    data = buf.data
    even = np.frombuffer(data, dtype="<u2", count=(end + 1) // 2)
    odd = np.frombuffer(data, dtype="<u2", offset=1, count=end // 2)
    return np.concatenate([np.flatnonzero(even == pair) * 2, np.flatnonzero(odd == pair) * 2 + 1])


def _cells(
    a: np.ndarray, end: int
) -> tuple[int, tuple[int, int] | None, np.ndarray, np.ndarray] | None:
    """The cell tags starting before ``end``: how many, the furthest, each key and position.

    A key is ``row * 2**15 + column`` (0-based); keys and positions are in document order.

    None when a cell tag is in a form the fast path does not read (a namespace prefix,
    attributes before ``r``, a reference that is not 1-3 capitals, 1-7 digits and a quote).
    """
    lt = _pairs(a, _LT_C, end)
    tags = np.sort(lt[_NAME_END[a[lt + 2]]])  # `<c` then a space, `>` or `/`: every cell tag
    prefixed = _pairs(a, _COLON_C, end)
    if len(prefixed) and _NAME_END[a[prefixed + 2]].any():
        return None
    if not len(tags):
        return 0, None, tags, tags
    if not ((a[tags + 2] == _SP) & (a[tags + 3] == _R) & (a[tags + 4] == _EQ)).all():
        return None
    if not (a[tags + 5] == _QUOTE).all():
        return None
    p = tags + 6
    # uint8 arithmetic wraps, so `(x - 65) < 26` tests for a capital in one comparison.
    l0 = (a[p] - 65) < 26
    l1 = l0 & ((a[p + 1] - 65) < 26)
    l2 = l1 & ((a[p + 2] - 65) < 26)
    letters = 1 + l1.view(np.uint8) + l2.view(np.uint8)
    q = p + letters  # the first digit
    digits = np.zeros(len(p), dtype=np.uint8)
    run = np.ones(len(p), dtype=bool)
    ok = l0.copy()
    for k in range(8):
        dk = a[q + k]
        is_digit = run & ((dk - 48) < 10)
        ok &= ~(run & ~is_digit) | (dk == _QUOTE)  # the digits must end with the quote
        digits += is_digit
        run = is_digit
        if not run.any():
            break
    ok &= ~run & (digits >= 1)
    if not ok.all():
        return None
    col = np.zeros(len(p), dtype=np.int64)
    for k in range(int(letters.max())):
        col = np.where(letters > k, col * 26 + (a[p + k].astype(np.int64) - 64), col)
    row = np.zeros(len(p), dtype=np.int64)
    for k in range(int(digits.max())):
        row = np.where(digits > k, row * 10 + (a[q + k].astype(np.int64) - 48), row)
    keys = (row - 1) * 2**15 + (col - 1)
    return len(tags), (int(row.max()) - 1, int(col.max()) - 1), keys, tags


def exact_scan(name: str, chunks) -> PartScan:
    """Measure a part with expat, following XML exactly (see the module notes).

    Raises
    ------
    Unsafe
        If the part declares a DTD or entities.
    xml.parsers.expat.ExpatError
        If it is not well-formed XML.
    """
    scan = PartScan(name, exact=True)
    state = {"row": -1, "col": -1}
    seen: set[int] = set()

    def doctype(*_):
        scan.dtd = True
        raise Unsafe(name)

    def start(tag: str, attrs: dict[str, str]) -> None:
        local = tag.rpartition(":")[2]
        if local == "row":
            r = attrs.get("r", "")
            state["row"] = int(r) - 1 if r.isdigit() else state["row"] + 1
            state["col"] = -1
            if attrs.get("hidden") in ("1", "true"):
                scan.hidden_rows.append(state["row"])
        elif local == "c":
            pos = cell_ref(attrs.get("r", "")) or (max(state["row"], 0), state["col"] + 1)
            state["col"] = pos[1]
            key = pos[0] * 2**15 + pos[1]
            if key in seen:
                scan.twice.append(f"{column_letter(pos[1])}{pos[0] + 1}")
            seen.add(key)
            scan.cells += 1
            scan._reach(*pos)
        elif local == "col" and attrs.get("hidden") in ("1", "true"):
            lo, hi = attrs.get("min", ""), attrs.get("max", "")
            if lo.isdigit() and hi.isdigit():
                scan.hidden_cols.append((int(lo) - 1, int(hi) - 1))
        elif local == "mergeCell" and "ref" in attrs:
            scan.merged.append(attrs["ref"])

    parser = xml.parsers.expat.ParserCreate()
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.StartElementHandler = start
    for chunk in chunks:
        parser.Parse(chunk, False)
    parser.Parse(b"", True)
    return scan
