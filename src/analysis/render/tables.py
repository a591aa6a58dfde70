"""Accessible Excel tables of the findings table (``tables.xlsx``).

The workbook follows the UK Analysis Function guidance on releasing statistics
in spreadsheets (the layout ``gptables`` produces): a cover sheet, a contents
sheet and a notes sheet, then one table per sheet with its title as plain text
in cell A1, a few lines of text above it, exactly one header row, no merged
cells, no blank rows or columns inside the table, each table marked up as an
Excel table (screen readers announce it), numbers stored as numbers, and
shorthand markers (``[c]``, ``[low]``, ``[z]``) in a column of their own or in
place of a suppressed value.

Security and reproducibility:

- every text cell is written with ``write_string`` after
  :func:`analysis.render.textsafe.neutralise_formula`, and the workbook is opened with
  ``strings_to_formulas=False`` and ``strings_to_urls=False``, so an LDU named
  ``=HYPERLINK(...)`` stays inert text;
- document properties carry a fixed creation date, so writing the same findings
  twice gives byte-identical files.

Every figure is read from the findings table; nothing is recomputed from cases.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from analysis import config
from analysis.engine.findings import flag_set, number
from analysis.instrument import Instrument
from analysis.render.charts import GROUP_VAR_LABELS, GROUP_VAR_ORDER, PROFILE_ORDER, _factor_rows
from analysis.render.textsafe import neutralise_formula

AUDIENCES = ("internal", "publication")
#: Fixed creation date: identical findings must give identical bytes.
FIXED_CREATED = datetime(2000, 1, 1, 0, 0, 0)
DEFAULT_CONTACT = "[Contact name and email address to be added before release]"
SUPPRESSED_FLAGS = {"c", "secondary"}
C, LOW, Z = "[c]", "[low]", "[z]"

# How a value is stored: integer count, percent (1 dp), p-value, or text.
INT, PCT, P, TEXT = "int", "pct", "p", "text"


@dataclass(frozen=True)
class Column:
    """One column of a published table."""

    header: str
    kind: str = TEXT
    width: float = 14
    # True: numbers derived from a suppressible cell, replaced by [c] when suppressed.
    suppressible: bool = True


@dataclass
class Table:
    """One published table (one sheet)."""

    sheet: str
    title: str
    description: str
    columns: list[Column]
    rows: list[list[Any]]


# -- reading findings ---------------------------------------------------------------------


def _markers(flags: set[str]) -> str:
    out = []
    if "low" in flags:
        out.append(LOW)
    if flags & SUPPRESSED_FLAGS:
        out.append(C)
    return " ".join(out)


class _Cells:
    """Turns findings values into cell values for one audience."""

    def __init__(self, audience: str) -> None:
        self.publication = audience == "publication"

    def numbers(self, row: pd.Series | dict[str, Any], cols: Sequence[str]) -> list[Any]:
        """Values of numeric findings columns, [c] when suppressed for publication, [z] if blank."""
        hide = self.publication and bool(flag_set(row["flags"]) & SUPPRESSED_FLAGS)
        out: list[Any] = []
        for c in cols:
            v = number(row[c])
            out.append(C if hide else (Z if math.isnan(v) else v))
        return out


def _records_by(rows: pd.DataFrame, key: str) -> dict[Any, list[dict[str, Any]]]:
    """Rows as dicts, grouped by ``key`` in their original order."""
    out: dict[Any, list[dict[str, Any]]] = {}
    for rec in rows.to_dict("records"):
        out.setdefault(rec[key], []).append(rec)
    return out


def _single_trust(findings: pd.DataFrame) -> str:
    trusts = sorted(set(findings["trust"].dropna()) - {""})
    if len(trusts) > 1:
        raise ValueError(f"findings hold several organisations {trusts}; filter to one trust first")
    return trusts[0] if trusts else ""


def _display_name(slug: str) -> str:
    """'norfolk-and-suffolk' -> 'Norfolk and Suffolk'."""
    small = {"and", "of", "the", "in", "on"}
    words = slug.replace("-", " ").replace("_", " ").split()
    return " ".join(w if (w in small and i) else w[:1].upper() + w[1:] for i, w in enumerate(words))


def _question_order(instrument: Instrument) -> dict[str, int]:
    return {q: i for i, q in enumerate(instrument.questions)}


def _outcome_number(o: str) -> int:
    m = re.search(r"\d+", o or "")
    return int(m.group()) if m else 999


def _sheet_name(text: str) -> str:
    """Excel sheet names: at most 31 characters, no spaces or special characters."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")[:31] or "Sheet"


# -- the published tables ---------------------------------------------------------------

_N_COLS = ["numerator", "denominator", "percent", "ci_low", "ci_high"]


def _prop_columns(n_header: str, d_header: str) -> list[Column]:
    return [
        Column(n_header, INT, 14),
        Column(d_header, INT, 14),
        Column("Percentage (%)", PCT, 14),
        Column("95% CI lower (%)", PCT, 13),
        Column("95% CI upper (%)", PCT, 13),
    ]


def _outcome_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    rows = findings[findings["kind"] == "outcome_score"]
    if rows.empty:
        return None
    rows = rows.iloc[
        sorted(range(len(rows)), key=lambda i: _outcome_number(rows["outcome"].iloc[i]))
    ]
    out = []
    for _, r in rows.iterrows():
        name = (
            instrument.outcomes[r["outcome"]].name
            if r["outcome"] in instrument.outcomes
            else r["label"]
        )
        out.append([r["outcome"], name, *cells.numbers(r, _N_COLS), _markers(flag_set(r["flags"]))])
    return Table(
        sheet="Outcome_scores",
        title="Outcome scores: percentage of work done well enough",
        description=(
            "One row per outcome. The score is the share of the outcome's relevant "
            "question answers judged above the line (see Notes for the method)."
        ),
        columns=[
            Column("Outcome", TEXT, 10),
            Column("Outcome name", TEXT, 50),
            *_prop_columns("Answers above the line (n)", "Relevant answers (N)"),
            Column("Markers", TEXT, 10),
        ],
        rows=out,
    )


def _criterion_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    rows = findings[findings["kind"] == "criterion_score"]
    if rows.empty:
        return None
    crit_order = {c: i for i, c in enumerate(instrument.criteria)}
    keyed = sorted(rows.iterrows(), key=lambda t: (crit_order.get(t[1]["criterion"], 999), t[0]))
    out = []
    for _, r in keyed:
        crit = instrument.criteria.get(r["criterion"])
        title = crit.title if crit else r["label"]
        outcome = r["outcome"] or (crit.outcome if crit else "")
        out.append(
            [
                r["criterion"],
                outcome,
                title,
                *cells.numbers(r, _N_COLS),
                _markers(flag_set(r["flags"])),
            ]
        )
    return Table(
        sheet="Criterion_scores",
        title="Criterion scores: percentage of work done well enough",
        description="One row per case-assessed criterion of the inspection framework.",
        columns=[
            Column("Criterion", TEXT, 10),
            Column("Outcome", TEXT, 10),
            Column("Criterion title", TEXT, 60),
            *_prop_columns("Answers above the line (n)", "Relevant answers (N)"),
            Column("Markers", TEXT, 10),
        ],
        rows=out,
    )


def _question_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    rows = findings[findings["kind"] == "question"]
    if rows.empty:
        return None
    order = _question_order(instrument)
    keyed = sorted(
        rows.iterrows(),
        key=lambda t: (
            _outcome_number(t[1]["outcome"]),
            order.get(t[1]["measure_id"], 10**6),
            t[0],
        ),
    )
    out = []
    for _, r in keyed:
        q = instrument.questions.get(r["measure_id"])
        out.append(
            [
                r["outcome"],
                r["criterion"] or (q.criterion if q else ""),
                r["measure_id"],
                q.text if q else r["label"],
                *cells.numbers(r, _N_COLS),
                _markers(flag_set(r["flags"])),
            ]
        )
    return Table(
        sheet="Questions",
        title="Key questions by outcome: cases judged above the line",
        description=(
            "One row per scored question. The base (N) is the relevant cases: answers other "
            "than not applicable, so bases vary between questions."
        ),
        columns=[
            Column("Outcome", TEXT, 10),
            Column("Criterion", TEXT, 10),
            Column("Question id", TEXT, 22),
            Column("Question", TEXT, 70),
            *_prop_columns("Cases above the line (n)", "Relevant cases (N)"),
            Column("Markers", TEXT, 10),
        ],
        rows=out,
    )


def _factor_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    if not (findings["kind"] == "factor").any():
        return None
    factors = _factor_rows(findings, instrument, hide_suppressed=cells.publication)
    most = int(instrument.factor_table.get("most_prevalent", 4) or 0)
    out = []
    for i, f in enumerate(factors):
        ident = f["identified"]
        hidden = bool(flag_set(ident["flags"]) & SUPPRESSED_FLAGS) and cells.publication
        if hidden:
            # Its rank is unknown, so it belongs to neither group (listed last).
            group = C
        else:
            group = "Most prevalent factors" if i < most else "Other common factors"
        row: list[Any] = [group, f["label"]]
        row += cells.numbers(ident, ["numerator", "denominator"])
        flags = set(flag_set(ident["flags"]))
        for item in ("interventions", "progress"):
            if hidden:
                # The items' base is the suppressed prevalence, so they are withheld too.
                row += [C, C, C]
            elif item in f:
                row += cells.numbers(f[item], ["numerator", "denominator", "percent"])
                flags |= flag_set(f[item]["flags"])
            else:
                row += [Z, Z, Z]
        row.append(_markers(flags))
        out.append(row)
    return Table(
        sheet="Factors",
        title="Offending-related factors: prevalence, interventions and progress",
        description=(
            "Report table 3.5, flattened. Factors in order of prevalence (a factor whose "
            "prevalence is suppressed is listed last, with group [c]). Interventions and "
            "progress are percentages of the cases where the factor was identified."
        ),
        columns=[
            Column("Factor group", TEXT, 24),
            Column("Offending-related factor", TEXT, 40),
            Column("Cases where identified (n)", INT, 14),
            Column("Cases inspected (N)", INT, 14),
            Column("Sufficient interventions (n)", INT, 14),
            Column("Cases where identified, interventions base (N)", INT, 16),
            Column("Sufficient interventions (%)", PCT, 14),
            Column("Sufficient progress (n)", INT, 14),
            Column("Cases where identified, progress base (N)", INT, 16),
            Column("Sufficient progress (%)", PCT, 14),
            Column("Markers", TEXT, 10),
        ],
        rows=out,
    )


def _comparison_table(
    findings: pd.DataFrame, instrument: Instrument, cells: _Cells, group_var: str
) -> Table:
    comp = findings[(findings["kind"] == "comparison") & (findings["group_var"] == group_var)]
    diff = findings[(findings["kind"] == "difference") & (findings["group_var"] == group_var)]
    order = _question_order(instrument)
    qids = sorted(
        dict.fromkeys(list(comp["measure_id"]) + list(diff["measure_id"])),
        key=lambda q: order.get(q, 10**6),
    )
    # Rows grouped by question once (as dicts): filtering the frame per question made this
    # sheet quadratic, most of tables.xlsx's time with four comparison variables.
    comp_by, diff_by = _records_by(comp, "measure_id"), _records_by(diff, "measure_id")
    out = []
    for qid in qids:
        q = instrument.questions.get(qid)
        for r in comp_by.get(qid, []):
            text = q.text if q else r["label"]
            out.append(
                [qid, text, "Group", r["group"], *cells.numbers(r, _N_COLS)]
                + [Z] * 5
                + [_markers(flag_set(r["flags"]))]
            )
        for r in diff_by.get(qid, []):
            text = q.text if q else r["label"]
            out.append(
                [qid, text, "Difference", r["group"]]
                + [Z] * 5
                + cells.numbers(r, ["percent", "ci_low", "ci_high", "p_value", "p_adjusted"])
                + [_markers(flag_set(r["flags"]))]
            )
    label = GROUP_VAR_LABELS.get(group_var, group_var.replace("_", " "))
    if group_var in instrument.case_details:
        label = instrument.case_details[group_var].label.lower()
    return Table(
        sheet=_sheet_name(f"Comparison_{group_var}"),
        title=f"Comparison by {label}: cases judged above the line",
        description=(
            "Group rows give each group's result; difference rows give the difference in "
            "percentage points (first group minus second), its Newcombe 95% interval, "
            "Fisher's exact p-value and the Benjamini-Hochberg adjusted p-value. With more "
            "than two groups the difference row gives only the exact test across all groups."
        ),
        columns=[
            Column("Question id", TEXT, 22),
            Column("Question", TEXT, 60),
            Column("Row type", TEXT, 12),
            Column("Group", TEXT, 22),
            *_prop_columns("Cases above the line (n)", "Relevant cases (N)"),
            Column("Difference (percentage points)", PCT, 16),
            Column("Difference 95% CI lower", PCT, 14),
            Column("Difference 95% CI upper", PCT, 14),
            Column("p-value (Fisher exact)", P, 12),
            Column("Adjusted p-value (Benjamini-Hochberg)", P, 16),
            Column("Markers", TEXT, 10),
        ],
        rows=out,
    )


def _breakdown_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    rows = findings[findings["kind"] == "breakdown"]
    if rows.empty:
        return None
    order = _question_order(instrument)
    keyed = sorted(rows.iterrows(), key=lambda t: (order.get(t[1]["measure_id"], 10**6), t[0]))
    out = []
    for _, r in keyed:
        q = instrument.questions.get(r["measure_id"])
        out.append(
            [
                r["measure_id"],
                q.text if q else r["label"],
                r["category"],
                *cells.numbers(r, ["numerator", "denominator", "percent"]),
                _markers(flag_set(r["flags"])),
            ]
        )
    return Table(
        sheet="Breakdowns",
        title="Answer breakdowns: relevant cases by answer category",
        description="One row per question and answer category; bases are the relevant cases.",
        columns=[
            Column("Question id", TEXT, 22),
            Column("Question", TEXT, 60),
            Column("Answer category", TEXT, 30),
            Column("Cases (n)", INT, 12),
            Column("Relevant cases (N)", INT, 14),
            Column("Percentage (%)", PCT, 14),
            Column("Markers", TEXT, 10),
        ],
        rows=out,
    )


def _profile_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    sample = findings[findings["kind"] == "sample"]
    prof = findings[findings["kind"] == "profile"]
    if sample.empty and prof.empty:
        return None
    out = []
    for _, r in sample.iterrows():
        out.append(
            [r["label"] or r["measure_id"], "All cases", *cells.numbers(r, ["numerator"]), Z, Z, ""]
        )
    present = list(dict.fromkeys(prof["measure_id"]))
    ordered = [c for c in PROFILE_ORDER if c in present] + [
        c for c in present if c not in PROFILE_ORDER
    ]
    for col in ordered:
        for _, r in prof[prof["measure_id"] == col].iterrows():
            label = (
                instrument.case_details[col].label if col in instrument.case_details else r["label"]
            )
            out.append(
                [
                    label,
                    r["category"],
                    *cells.numbers(r, ["numerator", "denominator", "percent"]),
                    _markers(flag_set(r["flags"])),
                ]
            )
    return Table(
        sheet="Sample_profile",
        title="Sample profile: the cases inspected",
        description="Appendix 2 of the report: characteristics of the inspected case sample.",
        columns=[
            Column("Characteristic", TEXT, 40),
            Column("Category", TEXT, 34),
            Column("Cases (n)", INT, 12),
            Column("Cases inspected (N)", INT, 14),
            Column("Percentage (%)", PCT, 14),
            Column("Markers", TEXT, 10),
        ],
        rows=out,
    )


def build_tables(
    findings: pd.DataFrame, instrument: Instrument, audience: str = "internal"
) -> list[Table]:
    """The published tables, in workbook order, as plain data (cell values per row).

    Parameters
    ----------
    findings
        The findings table of one organisation.
    instrument
        Supplies question texts, criterion titles and orders.
    audience
        ``internal`` (suppressed cells keep their values and a ``[c]`` marker) or
        ``publication`` (suppressed values are replaced by ``[c]``).

    Returns
    -------
    list[Table]
        Tables with no rows in the findings are left out.
    """
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}, not {audience!r}")
    _single_trust(findings)
    cells = _Cells(audience)
    builders: list[Callable[[pd.DataFrame, Instrument, _Cells], Table | None]] = [
        _outcome_table,
        _criterion_table,
        _question_table,
        _factor_table,
    ]
    tables = [t for b in builders if (t := b(findings, instrument, cells)) is not None]
    present = list(dict.fromkeys(findings.loc[findings["kind"] == "comparison", "group_var"]))
    ordered = [g for g in GROUP_VAR_ORDER if g in present] + [
        g for g in present if g not in GROUP_VAR_ORDER
    ]
    tables += [_comparison_table(findings, instrument, cells, g) for g in ordered]
    for b in (_breakdown_table, _profile_table):
        if (t := b(findings, instrument, cells)) is not None:
            tables.append(t)
    seen: set[str] = set()
    for i, t in enumerate(tables, start=1):
        t.title = f"Table {i}: {t.title}"
        while t.sheet in seen or t.sheet in ("Cover", "Contents", "Notes"):
            t.sheet = _sheet_name(t.sheet[:28] + f"_{i}")
        seen.add(t.sheet)
    return tables


# -- notes ---------------------------------------------------------------------------------


def _notes(audience: str) -> list[list[str]]:
    c_text = (
        "Suppressed: the value is withheld to protect confidentiality because it, or its "
        f"complement, counts fewer than {config.SUPPRESSION_THRESHOLD} cases, or because it "
        "would reveal another suppressed value."
    )
    if audience == "internal":
        c_text += (
            " In this internal version the value is shown; it must be replaced by [c] "
            "before publication."
        )
    return [
        [C, c_text],
        [
            LOW,
            f"Low base: fewer than {config.LOW_BASE_THRESHOLD} relevant cases; treat the "
            "percentage with caution.",
        ],
        [
            Z,
            "Not applicable: the measure does not apply to this row (for example a p-value "
            "on a group row) or was not computed.",
        ],
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
        ["Rounding", "Percentages are rounded to one decimal place; counts are exact."],
    ]


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
            fmt = self.marker if isinstance(value, str) and value in (C, Z) else self.wrap
            self.string(ws, row, col, "" if value is None else value, fmt)
            return
        v = float(value)
        if column.kind == INT:
            ws.write_number(row, col, int(round(v)), self.int)
        elif column.kind == PCT:
            ws.write_number(row, col, round(v, 1), self.pct)
        else:
            ws.write_number(row, col, round(v, 4), self.p)


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
        rows = [[Z] * len(columns)]
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
        Name for titles; defaults to the findings' ``trust`` slug.
    contact
        Contact line for the cover sheet.

    Returns
    -------
    Path
        ``out_path``.
    """
    tables = build_tables(findings, instrument, audience)
    trust = _single_trust(findings)
    org = organisation or _display_name(trust) or "the organisation inspected"
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
        (
            "Publication: suppressed values are shown as [c]."
            if audience == "publication"
            else "Internal: not for publication. Values that publication would suppress are "
            "shown and marked [c].",
            w.wrap,
        ),
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

    notes = _notes(audience)
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
                f"Markers: {C} suppressed, {LOW} base under {config.LOW_BASE_THRESHOLD}, "
                f"{Z} not applicable; see the Notes sheet.",
                f"Source: case inspection findings; instrument {instrument.id} "
                f"version {instrument.version}.",
            ],
            t.columns,
            t.rows,
            _sheet_name(t.sheet)[:24] + "_table",
        )
    wb.close()
    return out
