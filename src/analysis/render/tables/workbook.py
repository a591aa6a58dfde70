"""Writing ``tables.xlsx``: cover, contents and notes sheets, then one table per sheet.

The workbook follows the UK Analysis Function guidance on releasing statistics
in spreadsheets (the layout ``gptables`` produces): a cover sheet, a contents
sheet and a notes sheet, then one table per sheet with its title as plain text
in cell A1, a few lines of text above it, exactly one header row, no merged
cells, no blank rows or columns inside the table, each table marked up as an
Excel table (screen readers announce it), numbers stored as numbers, and
shorthand markers (``[c]``, ``[low]``, ``[z]``) in a column of their own or in
place of a suppressed value. The cover, notes and sheet keys describe only the
markers that can occur for the audience (:func:`analysis.render.present.markers_for`).

Security and reproducibility:

- every text cell is written with ``write_string`` after
  :func:`analysis.render.textsafe.neutralise_formula`, and the workbook is opened with
  ``strings_to_formulas=False`` and ``strings_to_urls=False``, so an LDU named
  ``=HYPERLINK(...)`` stays inert text;
- document properties carry a fixed creation date, so writing the same findings
  twice gives byte-identical files.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from analysis import config
from analysis.instrument import Instrument
from analysis.render import present
from analysis.render.present import C, Z
from analysis.render.tables.sheets import (
    INT,
    PCT,
    TEXT,
    Column,
    build_tables,
    sheet_name,
    single_trust,
)
from analysis.render.textsafe import neutralise_formula

#: Fixed creation date: identical findings must give identical bytes.
FIXED_CREATED = datetime(2000, 1, 1, 0, 0, 0)
DEFAULT_CONTACT = "[Contact name and email address to be added before release]"


# -- notes ---------------------------------------------------------------------------------


def _notes(audience: str, shown: Sequence[present.Marker]) -> list[list[str]]:
    """The notes sheet's rows: the markers ``shown`` in this workbook, then the methods."""
    rows = []
    for m in shown:
        text = m.explanation
        if m is C and audience == "internal":
            text += (
                f" In this internal version the value is shown; it must be replaced by {C.symbol} "
                "before publication."
            )
        rows.append([m.symbol, text])
    return rows + [
        [
            "Relevant cases",
            "The base (N) of a question is the cases where it applied: "
            "answers other than not applicable. Bases therefore vary between questions.",
        ],
        [
            "Scores",
            "An outcome or criterion score is the share of its relevant question "
            "answers judged above the line, as in the published inspection reports.",
        ],
        [
            "Confidence intervals",
            f"{config.CONFIDENCE_LEVEL:.0%} confidence intervals for "
            "percentages are Wilson score intervals, which behave well for small bases and for "
            "percentages near 0 or 100.",
        ],
        [
            "Differences",
            "Differences between two groups are in percentage points (first "
            "group minus second); their intervals are Newcombe's hybrid score intervals.",
        ],
        ["p-values", "Fisher's exact test of the two groups' 2 by 2 table (two-sided)."],
        [
            "Adjusted p-values",
            "Benjamini-Hochberg adjustment across all the questions screened "
            "in a comparison, controlling the false discovery rate; judge significance on these.",
        ],
        [
            "Rounding",
            "Percentages are rounded to one decimal place, halves away from zero (1.25 "
            "becomes 1.3); counts are exact.",
        ],
    ]


def _audience_text(audience: str, shown: Sequence[present.Marker]) -> str:
    """The cover's audience paragraph; it names [c] only where [c] can occur."""
    if audience == "publication":
        return f"Publication: suppressed values are shown as {C.symbol}."
    if C in shown:
        return (
            "Internal: not for publication. Values that publication would suppress are shown "
            f"and marked {C.symbol}."
        )
    return (
        "Internal: not for publication. Nothing is suppressed: small counts are shown, and "
        f"bases of {present.LOW.meaning} are marked {present.LOW.symbol}."
    )


# -- writing --------------------------------------------------------------------------------


class _Writer:
    """Formats and safe cell writers for one workbook."""

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        base = {"font_name": "Arial", "font_size": 11}
        self.text = wb.add_format({**base, "valign": "top"})
        self.wrap = wb.add_format({**base, "valign": "top", "text_wrap": True})
        self.title = wb.add_format({**base, "bold": True, "font_size": 14})
        self.heading = wb.add_format({**base, "bold": True, "font_size": 12})
        self.header = wb.add_format({**base, "bold": True, "text_wrap": True, "valign": "top"})
        self.link = wb.add_format({**base, "font_color": "#0000FF", "underline": 1})
        self.int = wb.add_format({**base, "num_format": "0", "valign": "top"})
        self.pct = wb.add_format({**base, "num_format": "0.0", "valign": "top"})
        self.p = wb.add_format({**base, "num_format": "0.0000", "valign": "top"})
        self.marker = wb.add_format({**base, "align": "right", "valign": "top"})

    def string(self, ws: Any, row: int, col: int, value: Any, fmt: Any = None) -> None:
        ws.write_string(row, col, neutralise_formula(str(value)), fmt or self.text)

    def value(self, ws: Any, row: int, col: int, value: Any, column: Column) -> None:
        if column.kind == TEXT or isinstance(value, str):
            fmt = self.marker if value in (C.symbol, Z.symbol) else self.wrap
            self.string(ws, row, col, "" if value is None else value, fmt)
            return
        v = float(value)
        if column.kind == INT:
            ws.write_number(row, col, present.whole(v), self.int)
        elif column.kind == PCT:
            ws.write_number(row, col, present.round_half_up(v, 1), self.pct)
        else:
            ws.write_number(row, col, present.round_half_up(v, 4), self.p)


def _write_table_sheet(
    wb: xlsxwriter.Workbook,
    w: _Writer,
    sheet: str,
    title: str,
    lines: list[str],
    columns: list[Column],
    rows: list[list[Any]],
    table_name: str,
) -> None:
    ws = wb.add_worksheet(sheet)
    w.string(ws, 0, 0, title, w.title)
    for i, line in enumerate(lines, start=1):
        w.string(ws, i, 0, line)
    header_row = len(lines) + 1
    for j, col in enumerate(columns):
        ws.set_column(j, j, col.width)
    last_row = header_row + max(len(rows), 1)
    ws.add_table(
        header_row,
        0,
        last_row,
        len(columns) - 1,
        {
            "name": table_name,
            "style": "Table Style Light 1",
            "autofilter": False,
            "columns": [{"header": c.header, "header_format": w.header} for c in columns],
        },
    )
    if not rows:
        rows = [[Z.symbol] * len(columns)]
    for i, values in enumerate(rows, start=header_row + 1):
        for j, (value, col) in enumerate(zip(values, columns, strict=True)):
            w.value(ws, i, j, value, col)


def write_tables(
    findings: pd.DataFrame,
    instrument: Instrument,
    out_path: str | Path,
    audience: str = "internal",
    *,
    synthetic: bool = False,
    organisation: str | None = None,
    contact: str = DEFAULT_CONTACT,
) -> Path:
    """Write ``tables.xlsx``: cover, contents, notes, then one accessible table per sheet.

    Parameters
    ----------
    findings
        The findings table of one organisation (every value shown is read from it).
    instrument
        The instrument the findings were computed with.
    out_path
        The ``.xlsx`` file to write (its folder is created when missing).
    audience
        ``internal`` or ``publication``; in publication, suppressed values appear as ``[c]``.
    synthetic
        Add a cover note that the data are synthetic (demonstrations, tests).
    organisation
        Name for titles; defaults to the display name of the findings' ``trust`` slug.
    contact
        Contact line for the cover sheet.

    Returns
    -------
    Path
        ``out_path``.
    """
    tables = build_tables(findings, instrument, audience)
    trust = single_trust(findings)
    org = organisation or present.trust_display_name(trust) or "the organisation inspected"
    shown = present.markers_for(audience, findings["flags"])
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(
        str(out),
        {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    title = f"{instrument.title}: case assessment tables, {org}"
    wb.set_properties(
        {
            "title": neutralise_formula(title),
            "subject": "Case inspection findings tables",
            "author": "analysis",
            "company": "",
            "comments": f"Instrument {instrument.id} version {instrument.version}",
            "created": FIXED_CREATED,
        }
    )
    w = _Writer(wb)

    cover = wb.add_worksheet("Cover")
    cover.set_column(0, 0, 110)
    lines: list[tuple[str, Any]] = [
        (title, w.title),
        ("About these tables", w.heading),
        (
            f"Findings of the case assessment of {org}: outcome and criterion scores, key "
            "questions, offending-related factors, comparisons between groups, answer "
            "breakdowns and the profile of the cases inspected. Each table is on its own "
            "sheet; the Contents sheet links to them and the Notes sheet explains the "
            "markers and methods.",
            w.wrap,
        ),
        ("Source", w.heading),
        (f"Case inspection findings table for {org}, computed by the analysis suite.", w.wrap),
        ("Instrument", w.heading),
        (
            f"{instrument.title} ({instrument.id}), version {instrument.version}, "
            f"sha256 {instrument.sha256[:12]}. {instrument.source}".strip(),
            w.wrap,
        ),
        ("Audience", w.heading),
        (_audience_text(audience, shown), w.wrap),
    ]
    if synthetic:
        lines += [
            ("Synthetic data", w.heading),
            (
                "These tables are computed from synthetic (invented) cases. They describe no "
                "real organisation or person.",
                w.wrap,
            ),
        ]
    lines += [("Contact", w.heading), (contact, w.wrap)]
    for i, (text, fmt) in enumerate(lines):
        w.string(cover, i, 0, text, fmt)

    contents = wb.add_worksheet("Contents")
    contents.set_column(0, 0, 24)
    contents.set_column(1, 1, 90)
    w.string(contents, 0, 0, "Table of contents", w.title)
    w.string(contents, 1, 0, "This worksheet contains one table. Sheet names link to the sheets.")
    entries = [("Notes", "Notes: markers and methods")] + [(t.sheet, t.title) for t in tables]
    contents.add_table(
        2,
        0,
        2 + len(entries),
        1,
        {
            "name": "Contents_table",
            "style": "Table Style Light 1",
            "autofilter": False,
            "columns": [
                {"header": "Sheet name", "header_format": w.header},
                {"header": "Table title", "header_format": w.header},
            ],
        },
    )
    for i, (sheet, ttl) in enumerate(entries, start=3):
        contents.write_url(i, 0, f"internal:'{sheet}'!A1", w.link, string=sheet)
        w.string(contents, i, 1, ttl, w.wrap)

    notes = _notes(audience, shown)
    _write_table_sheet(
        wb,
        w,
        "Notes",
        "Notes: markers and methods",
        ["This worksheet contains one table."],
        [Column("Marker or topic", TEXT, 22), Column("Meaning", TEXT, 110)],
        notes,
        "Notes_table",
    )
    for t in tables:
        _write_table_sheet(
            wb,
            w,
            t.sheet,
            f"{t.title}, {org}",
            [
                "This worksheet contains one table. " + t.description,
                f"Markers: {present.marker_key(shown, ', ')}; see the Notes sheet.",
                f"Source: case inspection findings; instrument {instrument.id} "
                f"version {instrument.version}.",
            ],
            t.columns,
            t.rows,
            sheet_name(t.sheet)[:24] + "_table",
        )
    wb.close()
    return out
