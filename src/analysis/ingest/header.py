"""Find the header row of a grid of raw cells and take out the instrument's columns.

Row 1 must hold the column ids (a header found further down is a problem that says which
rows to delete); unknown columns and data under no header are warned about, a required
column missing or an id given twice is an error.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis.ingest.normalise import clean_text, normalise_text
from analysis.ingest.problems import Report
from analysis.ingest.readers import Merged
from analysis.ingest.xmlscan import column_letter
from analysis.instrument import Instrument

#: How far down to look for a header row that is not on row 1.
HEADER_SCAN_ROWS = 30


def locate_header(
    cells: pd.DataFrame, inst: Instrument, merged: Sequence[Merged], rep: Report
) -> dict[int, str]:
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


def case_frame(cells: pd.DataFrame, mapping: dict[int, str], rep: Report) -> pd.DataFrame:
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


def warn_merged(merged: Sequence[Merged], rep: Report) -> None:
    """Warn about merged cells below the header: only the first of them holds a value."""
    for (r0, c0), (r1, c1) in merged:
        if r0 > 0:
            rep.warn(
                f"cells {column_letter(c0)}{r0 + 1}:{column_letter(c1)}{r1 + 1} are merged; "
                "only the first holds a value, so give every case its own cells",
                row=r0 + 1,
            )
