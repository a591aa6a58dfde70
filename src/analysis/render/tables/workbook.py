"""Writing ``tables.xlsx`` with ``gptables``: cover, contents, notes, then one table per sheet.

The workbook follows the UK Analysis Function guidance on releasing statistics in
spreadsheets, and is laid out by ``gptables``, the Analysis Function's own library: a
cover sheet, a contents sheet and a numbered notes sheet, then one table per sheet with
its title in cell A1, a few lines of text above it, exactly one header row naming each
column's unit, no merged cells and no blank rows or columns, each table marked up as an
Excel table, numbers stored as numbers. Notes are numbered in the order the tables
first reference them (``[note 1]`` in a title). Shorthand markers are those of the
guidance: ``[c]`` suppressed, ``[u]`` low reliability, ``[x]`` not available, ``[z]`` not
applicable (:data:`analysis.render.present.MARKERS`); each sheet's key, the cover and
the notes describe only the markers the workbook shows. Demonstration (synthetic) data
say so in the workbook title, every table title and a note.

Printing: A4, landscape when a table is wide, fitted to one page wide with its header
row repeated on every page.

Security and reproducibility (``gptables`` keeps both once told how, checked by the tests):

- the workbook is opened with ``strings_to_formulas=False``, ``strings_to_urls=False``
  and ``strings_to_numbers=False``, and every text is first passed through
  :func:`_inert`: :func:`analysis.render.textsafe.neutralise_formula` (an LDU named
  ``=HYPERLINK(...)`` stays inert text), then the two patterns ``gptables`` itself
  interprets are broken (``[text](url)`` would become a live link, ``$$id$$`` a note
  reference), and a text of no letters or digits, which ``gptables`` refuses, is
  labelled "(as recorded)";
- document properties carry a fixed creation date, so writing the same findings
  twice gives byte-identical files.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import gptables as gpt
import pandas as pd

from analysis import config
from analysis.instrument import Instrument
from analysis.render import present
from analysis.render.present import C
from analysis.render.tables.fast import faster_gptables
from analysis.render.tables.sheets import (
    INT,
    PCT,
    TEXT,
    Column,
    P,
    Table,
    build_tables,
    sheet_name,
    single_trust,
)
from analysis.render.textsafe import neutralise_formula

#: Fixed creation date: identical findings must give identical bytes.
FIXED_CREATED = datetime(2000, 1, 1, 0, 0, 0)
DEFAULT_CONTACT = "[Contact name and email address to be added before release]"


# -- notes ---------------------------------------------------------------------------------

#: Width of a sheet (in characters, summed over its columns) beyond which it prints landscape.
LANDSCAPE_WIDTH = 100
#: Paper size code of A4 in Excel's page setup.
A4 = 9
#: Font size of the workbook's text (the gptables theme's) and the height of one line of it.
FONT_PT, LINE_PT = 12, 16
#: Characters of 12 point Arial a column of width 1 holds, wrapping at word breaks (measured
#: in LibreOffice on these tables: 1.1 to 1.2; Excel holds fewer, so 1.0 clips neither).
CHARS_PER_WIDTH = 1.0
#: Width of the cover's one column: fits A4 portrait at 12 point.
COVER_WIDTH = 72
#: What a text of no letters or digits is labelled, as gptables refuses it bare.
AS_RECORDED = " (as recorded)"


def _notes(
    audience: str,
    shown: Sequence[present.Marker],
    synthetic: bool,
    unit: str = "outcome",
    judged: str = "judged above the line",
) -> dict[str, tuple[str, str]]:
    """Every note a table may reference: id -> (topic, text)."""
    key = []
    for m in shown:
        text = f"{m.symbol} {m.explanation}"
        if m is C and audience == "internal":
            text += (
                f" In this internal version the value is shown; it must be replaced by {C.symbol} "
                "before publication."
            )
        key.append(text)
    notes = {
        "synthetic": (
            "Synthetic data",
            "These tables are computed from synthetic (invented) cases made to demonstrate "
            "the analysis. They describe no real organisation or person.",
        ),
        "markers": ("Shorthand markers", " ".join(key) or "No shorthand markers are used."),
        "scores": (
            "Scores",
            f"{'An' if unit[:1] in 'aeiou' else 'A'} {unit} or criterion score is the share "
            f"of its relevant question answers {judged}, as in the published "
            "inspection reports.",
        ),
        "ratings": (
            "Ratings",
            "A rating places the percentage it rests on (the lowest of its key questions, "
            "their mean or one measure, as the instrument declares) in the instrument's "
            "bands; the overall rating places the sum of the counted standards' points in "
            "its own bands. Standards rated by inspectors are a separate input. The chance "
            "of a different rating is the share of case bootstrap resamples of the same size "
            "rated otherwise; no inspectorate publishes it.",
        ),
        "base": (
            "Relevant cases",
            "The base of a question is the cases where it applied: answers other than not "
            "applicable. Bases therefore vary between questions.",
        ),
        "ci": (
            "Confidence intervals",
            f"{config.CONFIDENCE_LEVEL:.0%} confidence intervals for percentages are Wilson "
            "score intervals, which behave well for small bases and for percentages near 0 "
            "or 100.",
        ),
        "factors": (
            "Offending-related factors",
            "Interventions and progress are percentages of the cases where the factor was "
            "identified; a factor's group follows the report's table 3.5.",
        ),
        "differences": (
            "Differences",
            "Differences between two groups are in percentage points (first group minus "
            "second); their intervals are Newcombe's hybrid score intervals. With more than "
            "two groups there is no single difference, only a test across all of them.",
        ),
        "pvalues": (
            "p-values",
            "Two groups: Fisher's exact test of their 2 by 2 table (two-sided; Pearson's "
            "chi-square for very large samples). More groups: chi-square, or the exact "
            "Fisher-Freeman-Halton test when an expected count is under 5. Values under "
            "0.001 are shown as <0.001.",
        ),
        "adjusted": (
            "Adjusted p-values",
            "Benjamini-Hochberg adjustment across all the questions screened in a "
            "comparison, controlling the false discovery rate; judge significance on these.",
        ),
        "rounding": (
            "Rounding",
            "Percentages are rounded to one decimal place and p-values to three, halves "
            "away from zero (1.25 becomes 1.3); counts are exact.",
        ),
    }
    if not synthetic:
        del notes["synthetic"]
    return notes


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
        f"bases of {present.LOW.meaning.split(': ')[-1]} are marked {present.LOW.symbol} "
        "(low reliability)."
    )


# -- cells ----------------------------------------------------------------------------------

_LINK = re.compile(r"\](\s*)\(")
_WORDLESS = re.compile(r"^[^A-Za-z0-9]*$")


def _inert(text: Any) -> str:
    """``text`` as a cell gptables writes as plain text: no formula, link or note reference."""
    s = neutralise_formula(str(text))
    s = _LINK.sub(lambda m: "] " + m.group(1) + "(", s).replace("$$", "$ $")
    return s + AS_RECORDED if s and _WORDLESS.match(s) else s


def _cell(value: Any, column: Column) -> Any:
    """A table cell: numbers rounded by the presentation layer, markers and texts inert."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if column.kind == TEXT or isinstance(value, str):
        return value if value in present.MARKER_SYMBOLS else _inert(value)
    v = float(value)
    if column.kind == INT:
        return present.whole(v)
    if column.kind == PCT:
        return present.round_half_up(v, 1)
    return present.p_cell(v)


_NUM_FORMATS = {INT: "0", PCT: "0.0", P: "0.000"}


def _used(tables: Sequence[Table]) -> list[str]:
    return [v for t in tables for r in t.rows for v in r if isinstance(v, str)]


def _refs(ids: Sequence[str], notes: dict[str, Any]) -> str:
    """Note references for gptables: ``" $$a$$$$b$$"`` becomes ``" [note 1][note 2]"``."""
    refs = "".join(f"$${n}$$" for n in ids if n in notes)
    return " " + refs if refs else ""


def _gptable(
    t: Table,
    org: str,
    tag: str,
    notes: dict[str, Any],
    synthetic: bool,
    source: str,
    audience: str,
    numbered: list[str],
) -> gpt.GPTable:
    """One table's sheet: title with its note references, key, source and data.

    ``numbered`` is the notes already referenced by earlier sheets, in number order; the
    title lists those first, then its new ones (appended to ``numbered``), so its note
    numbers ascend as gptables numbers notes by first reference.
    """
    frame = pd.DataFrame(
        [[_cell(v, c) for v, c in zip(r, t.columns, strict=True)] for r in t.rows],
        columns=[c.header for c in t.columns],
        dtype=object,
    )
    shown = present.markers_for(audience, used=_used([t]))
    key = present.marker_key(shown, ", ")
    wanted = [
        n
        for n in dict.fromkeys(("synthetic",) * synthetic + ("markers",) * bool(shown) + t.notes)
        if n in notes
    ]
    new = [n for n in wanted if n not in numbered]
    numbered += new
    refs = [n for n in numbered if n in wanted]
    fmt = [
        {"column": {"columns": [c.header], "format": {"num_format": f, "align": "right"}}}
        for c in t.columns
        if (f := _NUM_FORMATS.get(c.kind))
    ]
    return gpt.GPTable(
        table=frame,
        table_name=sheet_name(t.sheet)[:24] + "_table",
        title=_inert(f"{t.title}, {org}{tag}") + _refs(refs, notes),
        instructions=_inert("This worksheet contains one table. " + t.description),
        legend=[f"Shorthand: {key}." if key else "No shorthand markers are used in this table."],
        source=_inert(source),
        index_columns={},
        additional_formatting=fmt,
    )


def _theme() -> gpt.Theme:
    """The theme of gptables with a 14 point table title (16 crowds a printed page)."""
    cover = {"text_wrap": True, "valign": "top"}
    return gpt.Theme(
        {
            "global": {"font_size": FONT_PT, "font_name": "Arial", "font_color": "automatic"},
            "cover_title": {"bold": True, "font_size": 16, **cover},
            "cover_subtitle": {"bold": True, "font_size": 14, **cover},
            "cover_text": cover,
            "title": {"bold": True, "font_size": 14},
            "subtitle": {"font_size": FONT_PT},
            "instructions": None,
            "scope": None,
            "column_heading": {"bold": True, "bottom": 1, "text_wrap": 1, "valign": "top"},
            "index_1": {"bold": True, "text_wrap": 1},
            "index_2": {"text_wrap": 1},
            "index_3": {"text_wrap": 1},
            "data": {"text_wrap": 1, "valign": "top"},
            "source": {"font_size": FONT_PT},
            "legend": {"font_size": FONT_PT},
            "description_order": ["instructions", "legend", "source", "scope"],
        }
    )


def _lines(text: Any, width: float) -> int:
    """Lines a wrapped cell of ``width`` needs for ``text``, breaking at spaces (an estimate).

    Width 10 holds 10 characters: "word word" (9) fits, so ten words take five lines.

    >>> _lines("a b", 10), _lines("word " * 10, 10), _lines("x" * 20, 10)
    (1, 5, 2)
    """
    per_line = max(1, int(width * CHARS_PER_WIDTH))
    lines, used = 1, 0
    for word in str(text if text is not None else "").split():
        if used and used + 1 + len(word) > per_line:
            lines, used = lines + 1, len(word)
        else:
            used += len(word) + (1 if used else 0)
        while used > per_line:  # a word longer than a line breaks inside it
            lines, used = lines + 1, used - per_line
    return lines


def _fit_rows(
    ws: Any, first_row: int, rows: Sequence[Sequence[Any]], widths: Sequence[float], pt=LINE_PT
) -> None:
    """Give each wrapped row the height its text needs.

    Excel sizes wrapped rows itself when it opens a file, but LibreOffice keeps the
    default height, so long texts overlapped the next row there; explicit heights
    serve both.
    """
    for i, values in enumerate(rows):
        texts = [(v, w) for v, w in zip(values, widths, strict=False) if isinstance(v, str)]
        n = max((_lines(v, w) for v, w in texts), default=1)
        if n > 1:
            ws.set_row(first_row + i, n * pt)


def _page_setup(ws: Any, columns: Sequence[Column] | None, header_row: int | None) -> None:
    """A4, fitted to one page wide; landscape when wide; the header row on every page."""
    ws.set_paper(A4)
    ws.fit_to_pages(1, 0)
    if columns:
        for j, c in enumerate(columns):
            ws.set_column(j, j, c.width)
        if sum(c.width for c in columns) > LANDSCAPE_WIDTH:
            ws.set_landscape()
    if header_row is not None:
        ws.repeat_rows(header_row)


# -- writing --------------------------------------------------------------------------------


def write_tables(
    findings: pd.DataFrame,
    instrument: Instrument,
    out_path: str | Path,
    audience: str = "internal",
    *,
    synthetic: bool = False,
    organisation: str | None = None,
    contact: str = DEFAULT_CONTACT,
    by_organisation: pd.DataFrame | None = None,
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
        The data are synthetic (the demo workbooks, tests): said in the workbook's title,
        on the cover, in every table title and in a note.
    organisation
        Name for titles; defaults to the display name of the findings' ``trust`` slug.
    contact
        Contact line for the cover sheet.
    by_organisation
        The aggregate's: every organisation's findings, for its ratings by organisation
        (:func:`analysis.render.tables.sheets.build_tables`).

    Returns
    -------
    Path
        ``out_path``.
    """
    tables = build_tables(findings, instrument, audience, by_organisation=by_organisation)
    trust = single_trust(findings)
    org = organisation or present.trust_display_name(trust) or "the organisation inspected"
    shown = present.markers_for(audience, findings["flags"], used=_used(tables))
    w = present.words(instrument)
    notes = _notes(audience, shown, synthetic, w.unit, w.say("judged_above_line"))
    if not any(t.sheet.startswith("Ratings") for t in tables):
        del notes["ratings"]  # only a programme with ratings has the note
    tag = " (synthetic data)" if synthetic else ""
    title = f"{instrument.title}: findings tables, {org}{tag}"
    source = (
        f"Source: case inspection findings; instrument {instrument.id} version "
        f"{instrument.version}."
    )
    # gptables numbers the notes in the order the sheets first reference them.
    numbered: list[str] = []
    sheets = {
        t.sheet: _gptable(t, org, tag, notes, synthetic, source, audience, numbered) for t in tables
    }
    numbered += [k for k in notes if k not in numbered]

    heading = {"bold": True, "font_size": 14}
    intro = [w.say("tables_intro")]
    if synthetic:
        intro += [[heading, "Synthetic data"], notes["synthetic"][1]]
    about: list[Any] = [
        _inert(
            f"Findings of the case assessment of {org}: {w.unit} and criterion scores, key "
            "questions, offending-related factors, comparisons between groups and their "
            "differences, answer breakdowns and the profile of the cases inspected. Each "
            "table is on its own sheet; the Contents sheet links to them and the Notes sheet "
            "explains the markers and methods, numbered as the tables reference them."
        ),
        [heading, "Source"],
        _inert(f"Case inspection findings table for {org}, computed by the analysis suite."),
        [heading, "Instrument"],
        _inert(
            f"{instrument.title} ({instrument.id}), version {instrument.version}, "
            f"sha256 {instrument.sha256[:12]}. {instrument.source}".strip()
        ),
        [heading, "Audience"],
        _audience_text(audience, shown),
        [heading, "Shorthand markers"],
        present.marker_key(shown, "; ") or "None are used.",
    ]
    cover = gpt.Cover(
        title=_inert(title),
        intro=intro,
        about=about,
        contact=[_inert(contact)],
        width=COVER_WIDTH,
    )
    notes_table = pd.DataFrame(
        [[k, topic, _inert(text)] for k, (topic, text) in notes.items()],
        columns=["Note reference", "Topic", "Note text"],
    )
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # gptables warns of blank cells (a row with no marker has an empty Markers cell)
        # and of notes no table references (a method note whose table is absent).
        warnings.filterwarnings("ignore", message=r"\s*(Empty or null cell|The following notes)")
        warnings.filterwarnings("ignore", message="Name looks like a cell name")
        # pandas deprecations inside gptables itself (its own business, not this output's).
        warnings.filterwarnings("ignore", category=FutureWarning, module="gptables")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="gptables")
        with faster_gptables():  # the same workbook, without gptables' row-by-row frames
            wb = gpt.produce_workbook(
                filename=str(out),
                sheets=sheets,
                theme=_theme(),
                cover=cover,
                contentsheet_label="Contents",
                notes_table=notes_table,
                notesheet_label="Notes",
                auto_width=False,  # each column has its width (Column.width)
                workbook_options={
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                    "strings_to_numbers": False,
                },
            )
    wb.set_properties(
        {
            "title": _inert(title),
            "subject": "Case inspection findings tables",
            "author": "analysis",
            "company": "",
            "comments": f"Instrument {instrument.id} version {instrument.version}",
            "created": FIXED_CREATED,
        }
    )
    columns = {t.sheet: t.columns for t in tables} | {
        "Contents": [Column("Sheet name", TEXT, 24), Column("Table description", TEXT, 100)],
        "Notes": [Column("Note number", INT, 10), Column("Topic", TEXT, 24), Column("", TEXT, 96)],
    }
    header_rows = {name: g.data_range[0] for name, g in sheets.items()}
    # What each sheet's wrapped rows hold, from its header row down, to size them.
    body = {t.sheet: [[c.header for c in t.columns], *t.rows] for t in tables} | {
        "Contents": [["Sheet name"], *[[t.sheet, t.title + tag] for t in tables]],
        "Notes": [["Note number"], *[[1, *notes[k]] for k in numbered]],
    }
    for ws in wb.worksheets():
        name = ws.get_name()
        _page_setup(ws, columns.get(name), header_rows.get(name, 2 if name != "Cover" else None))
        if name in body:
            widths = [c.width for c in columns[name]]
            _fit_rows(ws, header_rows.get(name, 2), body[name], widths)
    cover_rows = [title, "Introductory information", *intro, "About these data", *about]
    cover_rows += ["Contact", contact]
    for i, text in enumerate(cover_rows):
        text = text[-1] if isinstance(text, list) else text
        pt = 22 if i == 0 else LINE_PT + 2
        width = COVER_WIDTH * (FONT_PT / 16 if i == 0 else 1)
        _fit_rows(wb.get_worksheet_by_name("Cover"), i, [[text]], [width], pt)
    wb.close()
    return out
