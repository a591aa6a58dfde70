"""Find the header row of a grid of raw cells and take out the instrument's columns.

The column ids are on row 1 (workbooks made before the template had a wording row, and
the demo workbooks), or on row 2 under a row of question wording (the template of
``python -m analysis template``). Which one is never guessed:

- more ids on row 2 than on row 1 (a wording can be spelt like an id: "Trust"), and a
  text above *every* id of row 2, none merged: a two-row header, data from row 3. A
  title or banner above the ids fills one cell, not one per column, so it is still
  refused, saying which rows to delete;
- otherwise ids on row 1: a one-row header, data from row 2;
- ids further down: refused, saying which rows to delete.

Unknown columns and data under no header are warned about, a required column missing or
an id given twice is an error.
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


def _wording_row(grid: list[list], ids_row: int, known: dict[str, str], merged) -> bool:
    """True when the row above ``ids_row`` has a text above every id, none merged."""
    above, ids = grid[ids_row - 1], grid[ids_row]
    cols = [i for i, v in enumerate(ids) if (t := clean_text(v)) and t.casefold() in known]
    if any(r0 == ids_row - 1 and c1 > c0 for (r0, c0), (_, c1) in merged):
        return False
    return bool(cols) and all(i < len(above) and clean_text(above[i]) for i in cols)


def locate_header(
    cells: pd.DataFrame, inst: Instrument, merged: Sequence[Merged], rep: Report
) -> dict[int, str]:
    """Map column positions to instrument column ids using the header (see module notes).

    The row the ids were found on (0 or 1) is :func:`header_row` of the same cells.
    """
    row = header_row(cells, inst, merged)
    return _locate(cells, inst, merged, rep, row)


def header_row(cells: pd.DataFrame, inst: Instrument, merged: Sequence[Merged] = ()) -> int:
    """0 when the ids are on row 1; 1 for the template's two-row header (wording, then ids)."""
    known = {c.casefold(): c for c in inst.columns}
    grid = cells.iloc[:2].to_numpy(dtype=object).tolist()
    if len(grid) < 2:
        return 0
    first, second = (
        sum(1 for v in r if (t := clean_text(v)) and t.casefold() in known) for r in grid
    )
    # A wording can be spelt like an id ("Trust"), so row 2 needs more ids than row 1.
    two = second >= 2 and second > first
    return 1 if two and _wording_row(grid, 1, known, merged) else 0


def _locate(
    cells: pd.DataFrame, inst: Instrument, merged: Sequence[Merged], rep: Report, top: int
) -> dict[int, str]:
    known = {c.casefold(): c for c in inst.columns}

    def hits(row: Sequence) -> int:
        return sum(1 for v in row if (t := clean_text(v)) and t.casefold() in known)

    grid = cells.iloc[:HEADER_SCAN_ROWS].to_numpy(dtype=object).tolist()
    if not grid or not any(clean_text(v) for row in grid for v in row):
        rep.stop("has no data: the sheet is empty")
    first = hits(grid[top])
    best_row, best = top, first
    for i, row in enumerate(grid[top + 1 : HEADER_SCAN_ROWS], start=top + 1):
        n = hits(row)
        if n > best:
            best_row, best = i, n
    if best_row > top and best >= 2:
        rep.stop(
            f"the header (column ids such as {inst.identifier_column}) is on row {best_row + 1}, "
            f"not row 1: delete row{'s' if best_row > 1 else ''} 1"
            f"{f' to {best_row}' if best_row > 1 else ''} so the ids are on row 1 (or on "
            "row 2, under a text for every column, as in the template)",
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
        if r0 == top and c1 > c0:
            r = top + 1
            rep.error(
                f"header cells {column_letter(c0)}{r}:{column_letter(c1)}{r} are merged; "
                "unmerge them so every column has its own id",
                row=r,
            )
    mapping: dict[int, str] = {}
    where: dict[str, int] = {}
    for i, v in enumerate(grid[top]):
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
                row=top + 1,
                column=cid,
            )
        else:
            mapping[i] = cid
            where[cid] = i
    for cid in inst.required_columns:
        if cid not in where:
            rep.error(f"required column {cid} is missing from the header row", column=cid)
    return mapping


def case_frame(
    cells: pd.DataFrame, mapping: dict[int, str], rep: Report, top: int = 0
) -> pd.DataFrame:
    """Data rows (below the ids' row ``top``) as an object frame indexed by Excel row number."""
    data = cells.iloc[top + 1 :]
    raw = data[list(mapping)].copy()
    raw.columns = list(mapping.values())
    raw.index = pd.RangeIndex(top + 2, len(data) + top + 2, name="source_row")
    # Data in columns with no header is reported (once per column) rather than silently lost.
    header = cells.iloc[top].tolist() if len(cells) > top else []
    for pos in cells.columns:
        if pos in mapping or clean_text(header[pos]) is not None:
            continue
        filled = normalise_text(data[pos]).notna().to_numpy()
        if filled.any():
            first = int(filled.argmax()) + top + 2
            rep.warn(
                f"column {column_letter(pos)} has no header but holds data in {int(filled.sum())} "
                f"row{'s' if filled.sum() != 1 else ''} (first: row {first}); ignored",
            )
    return raw


def warn_merged(merged: Sequence[Merged], rep: Report, top: int = 0) -> None:
    """Warn about merged cells below the header: only the first of them holds a value."""
    for (r0, c0), (r1, c1) in merged:
        if r0 > top:
            rep.warn(
                f"cells {column_letter(c0)}{r0 + 1}:{column_letter(c1)}{r1 + 1} are merged; "
                "only the first holds a value, so give every case its own cells",
                row=r0 + 1,
            )
