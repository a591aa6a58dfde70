"""Write a blank case workbook for inspectors to fill in.

``python -m analysis template --out cases.xlsx`` writes:

- an ``instructions`` sheet, first: how to fill the workbook in and report on it, and
  which colour stands for which outcome;
- a ``cases`` sheet: row 1 holds each column's question wording (a case detail's label)
  for people, row 2 the column id ingest reads, one column per instrument column;
  cases go from row 3 (:data:`FIRST_CASE_ROW`). Ingest tells this two-row header from
  the one-row header of older workbooks without guessing (see
  :mod:`analysis.ingest.header`). Both header rows are coloured by the outcome the
  column belongs to (:func:`column_group`); the two rows and the case id column are
  frozen. Every coded column has an Excel drop-down (list data validation) and an
  input message with the question wording; count columns accept whole numbers in range;
- a hidden ``codes`` sheet: one column of allowed codes per coded column. Every
  drop-down points at a range there rather than an inline list, because Excel
  limits an inline list to 255 characters;
- a ``dictionary`` sheet: id, label, wording, allowed answers and skip rule;
- a ``rules`` sheet, when the instrument has consistency rules: each rule's id, kind,
  severity, conditions, what must follow, message and source (ingest checks them all);
- a ``settings`` sheet, when the instrument declares languages: a ``language`` row whose
  value (a drop-down of the language ids) tells ingest which language the answers are
  written in (Welsh ``Na`` is No, English ``NA`` is Not applicable).
"""

from __future__ import annotations

from pathlib import Path

from analysis.errors import UserError
from analysis.fileio import atomic_path
from analysis.instrument import Instrument, declared_programme, load_instrument
from analysis.instrument.rules import rule_info

#: Data validation covers this many case rows (Excel's whole column would bloat the file).
TEMPLATE_ROWS = 2000
#: The cases sheet's header: question wording on row 1, column ids on row 2 (Excel rows).
WORDING_ROW, IDS_ROW = 1, 2
#: The first row of cases (Excel row).
FIRST_CASE_ROW = 3
#: Header colours of the column groups: case details, each outcome, other questions.
GROUP_COLOURS = {
    "details": "#E7E6E6",
    "O1": "#DDEBF7",
    "O2": "#E2EFDA",
    "O3": "#FFF2CC",
    "O4": "#FCE4D6",
    "O5": "#EADCF4",
    "other": "#F2F2F2",
}
#: Colours for outcomes beyond those above, in turn.
_MORE_COLOURS = ("#D9F2F2", "#F9E0EC", "#E4E9D2")
#: Most lines of question wording row 1 is sized for (a longer one scrolls in its cell).
_WORDING_LINES = 9
#: Excel's limits on an input message.
_TITLE_MAX, _MESSAGE_MAX = 32, 255


def _quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def column_group(inst: Instrument, cid: str) -> str:
    """The group a column's header is coloured by: ``details``, an outcome id, or ``other``.

    A question belongs to its first outcome, else to its criterion's outcome.
    """
    if cid in inst.case_details:
        return "details"
    q = inst.questions.get(cid)
    if q is None:
        return "other"
    if q.outcomes:
        return q.outcomes[0]
    crit = inst.criteria.get(q.criterion) if q.criterion else None
    return crit.outcome if crit is not None and crit.outcome else "other"


def group_name(inst: Instrument, group: str) -> str:
    """``"O1 Assisting sentencing"``, ``"Case details"`` or ``"Other questions"``."""
    if group in inst.outcomes:
        return f"{group} {inst.outcomes[group].name}"
    return {"details": "Case details"}.get(group, "Other questions")


def _colours(inst: Instrument, groups: list[str]) -> dict[str, str]:
    out, extra = {}, iter(_MORE_COLOURS * (1 + len(groups)))
    for g in dict.fromkeys(groups):
        out[g] = GROUP_COLOURS.get(g) or next(extra)
    return out


def header_text(inst: Instrument, cid: str) -> str:
    """Row 1 of the cases sheet: the question wording (with its criterion), or the label."""
    q = inst.questions.get(cid)
    if q is not None:
        return f"{q.criterion} {q.text}" if q.criterion else q.text
    d = inst.case_details[cid]
    return d.label + ("" if d.required else " (optional)")


def column_info(inst: Instrument) -> list[dict[str, str]]:
    """One record per instrument column: id, kind, label, wording, allowed answers, skip rule."""
    rows = []
    for cid in inst.columns:
        q = inst.questions.get(cid)
        if q is not None:
            aset = inst.answer_set(q)
            if aset is None:
                lo = q.min if q.min is not None else 0
                allowed = (
                    f"whole number {lo} to {q.max}"
                    if q.max is not None
                    else f"whole number >= {lo}"
                )
            else:
                allowed = ", ".join(aset.code_values)
            skip = ""
            if q.has_rule:
                rule = q.full_rule_text()
                na = aset.na_code if aset else None
                skip = f"only when {rule}; otherwise {na or 'blank'}"
            rows.append(
                {
                    "id": cid,
                    "kind": "question" if q.scored else "question (not scored)",
                    "label": q.label,
                    "wording": q.text,
                    "criterion": q.criterion,
                    "allowed": allowed,
                    "skip_rule": skip,
                    "outcomes": ", ".join(q.outcomes),
                    "group": group_name(inst, column_group(inst, cid)),
                }
            )
        else:
            d = inst.case_details[cid]
            if d.codes:
                allowed = ", ".join(d.codes)
            elif d.type == "count":
                lo = d.min if d.min is not None else 0
                allowed = (
                    f"whole number {lo} to {d.max}"
                    if d.max is not None
                    else f"whole number >= {lo}"
                )
            elif d.type == "identifier":
                allowed = "unique text"
            elif d.type == "free_text":
                allowed = "free text (not kept)"
            elif d.type == "date":
                allowed = "a date (2024-03-31 or 31/03/2024)"
            else:
                allowed = "text"
            rows.append(
                {
                    "id": cid,
                    "kind": "case detail" + ("" if d.required else " (optional)"),
                    "label": d.label,
                    "wording": d.description or d.label,
                    "criterion": "",
                    "allowed": allowed,
                    "skip_rule": "",
                    "outcomes": "",
                    "group": group_name(inst, "details"),
                }
            )
    return rows


def write_template(out: str | Path, instrument: Instrument | str | Path | None = None) -> Path:
    """Write a blank case workbook.

    Parameters
    ----------
    out
        The .xlsx file to write (replaced atomically if it exists).
    instrument
        A loaded instrument or a path to one; the default instrument when None.

    Returns
    -------
    Path
        ``out``.
    """
    import xlsxwriter

    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise UserError(f"--out {out} must end in .xlsx")
    if not out.parent.exists():
        raise UserError(f"folder {out.parent} does not exist")
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    info = column_info(inst)
    groups = [column_group(inst, r["id"]) for r in info]
    colours = _colours(inst, groups)
    with atomic_path(out) as tmp:
        wb = xlsxwriter.Workbook(str(tmp))
        wb.set_properties({"title": f"Case workbook: {inst.title}", "comments": inst.version})
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        wording = {
            g: wb.add_format(
                {"bold": True, "text_wrap": True, "valign": "top", "bg_color": c, "border": 1}
            )
            for g, c in colours.items()
        }
        ids = {
            g: wb.add_format({"font_color": "#404040", "bg_color": c, "border": 1, "italic": True})
            for g, c in colours.items()
        }
        instructions = wb.add_worksheet("instructions")
        cases = wb.add_worksheet("cases")
        dictionary = wb.add_worksheet("dictionary")
        codes = wb.add_worksheet("codes")
        # The consistency rules (the case-logic issue) get a "rules" sheet of their own,
        # after the dictionary, listed like it: one row per rule with its wording.

        top, first = WORDING_ROW - 1, FIRST_CASE_ROW - 1  # 0-based rows
        code_col, lines = 0, 1
        for c, rec in enumerate(info):
            cid = rec["id"]
            allowed = inst.allowed_values(cid)
            text = header_text(inst, cid)
            cases.write_string(top, c, text, wording[groups[c]])
            cases.write_string(IDS_ROW - 1, c, cid, ids[groups[c]])
            longest = max([len(cid), *(len(a) for a in allowed)] or [len(cid)])
            width = min(max(longest + 2, 18), 40)
            cases.set_column(c, c, width)
            lines = max(lines, min(_WORDING_LINES, 1 + len(text) // max(1, int(width) - 2)))
            message = _cut(
                rec["wording"]
                + (f"\nAllowed: {rec['allowed']}" if rec["allowed"] else "")
                + (f"\nAnswer {rec['skip_rule']}" if rec["skip_rule"] else ""),
                _MESSAGE_MAX,
            )
            title = _cut(cid, _TITLE_MAX)
            last = first + TEMPLATE_ROWS - 1
            if allowed:
                codes.write_string(0, code_col, cid, head)
                for r, code in enumerate(allowed, start=1):
                    codes.write_string(r, code_col, code)
                letter = xlsxwriter.utility.xl_col_to_name(code_col)
                source = f"={_quote_sheet('codes')}!${letter}$2:${letter}${len(allowed) + 1}"
                cases.data_validation(
                    first, c, last, c,
                    {
                        "validate": "list",
                        "source": source,
                        "input_title": title,
                        "input_message": message,
                        "error_title": "Not an allowed answer",
                        "error_message": _cut(f"Choose one of: {', '.join(allowed)}", _MESSAGE_MAX),
                        "error_type": "stop",
                    },
                )  # fmt: skip
                code_col += 1
                continue
            kind = (
                inst.questions[cid].answers
                if cid in inst.questions
                else inst.case_details[cid].type
            )
            spec = inst.questions.get(cid) or inst.case_details[cid]
            if kind == "count":
                lo = spec.min if spec.min is not None else 0
                hi = spec.max if spec.max is not None else 1_000_000
                cases.data_validation(
                    first, c, last, c,
                    {
                        "validate": "integer",
                        "criteria": "between",
                        "minimum": lo,
                        "maximum": hi,
                        "input_title": title,
                        "input_message": message,
                        "error_title": "Not a whole number in range",
                        "error_message": f"Enter a whole number from {lo} to {hi}",
                    },
                )  # fmt: skip
            else:
                cases.data_validation(
                    first, c, last, c,
                    {"validate": "any", "input_title": title, "input_message": message},
                )  # fmt: skip
        cases.set_row(top, 15 * lines)
        cases.freeze_panes(first, 1)
        cases.set_paper(9)  # A4, landscape, the two header rows on every page
        cases.set_landscape()
        cases.repeat_rows(top, IDS_ROW - 1)
        codes.hide()

        # Another programme than the default is named, so that report and batch read the
        # workbook against its own instrument.
        programme = declared_programme(inst) is not None
        if inst.languages or programme:
            _settings_sheet(wb, inst, head, wrap, programme)
        _instructions_sheet(instructions, wb, inst, colours, bool(inst.languages))
        instructions.activate()

        fields = [
            "id", "kind", "label", "wording", "criterion", "allowed", "skip_rule", "outcomes",
            "group",
        ]  # fmt: skip
        widths = [28, 18, 40, 70, 10, 45, 45, 12, 36]
        _table(dictionary, fields, widths, info, head, wrap)
        if inst.consistency:
            # The consistency rules every case must satisfy.
            fields = ["id", "kind", "severity", "when", "then", "message", "source"]
            widths = [34, 16, 9, 45, 45, 60, 60]
            _table(wb.add_worksheet("rules"), fields, widths, rule_info(inst), head, wrap)
        wb.close()
    return out


def _table(ws, fields: list[str], widths: list[int], records: list[dict], head, wrap) -> None:
    """A sheet of text records: a header row of ``fields``, frozen and filterable."""
    for c, (name, width) in enumerate(zip(fields, widths, strict=True)):
        ws.write_string(0, c, name, head)
        ws.set_column(c, c, width, wrap)
    for r, rec in enumerate(records, start=1):
        for c, name in enumerate(fields):
            ws.write_string(r, c, rec[name])
    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, len(records), len(fields) - 1)


def _instructions_sheet(ws, wb, inst: Instrument, colours: dict[str, str], settings: bool) -> None:
    """The first sheet: how to fill the workbook in, and what the header colours mean."""
    title = wb.add_format({"bold": True, "font_size": 14})
    bold = wb.add_format({"bold": True, "font_size": 12})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    ws.set_column(0, 0, 64)  # fits A4 portrait in LibreOffice too
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    steps = [
        f"This workbook records one probation case per row for {inst.title} "
        f"(instrument {inst.id}, version {inst.version}).",
        f"1. Fill in the cases sheet from row {FIRST_CASE_ROW}, one case per row. Row "
        f"{WORDING_ROW} gives each column's question; row {IDS_ROW} gives the column id the "
        "analysis reads: do not change, delete or reorder those two rows.",
        "2. Choose answers from the drop-down of each cell: selecting a cell shows the "
        "question, the allowed answers and when it applies. A question that does not apply "
        "to a case is answered Not applicable where that is offered, otherwise left blank.",
        "3. The dictionary sheet lists every column: its id, wording, allowed answers and "
        "when it applies (the skip rule).",
        "4. Do not enter names or other personal details in free-text columns: the analysis "
        "does not keep them, but the workbook does.",
        "5. Save as .xlsx and report on it: python -m analysis report <this file>.xlsx. "
        "Every problem found is listed at once, with its sheet, row, column and value.",
    ]
    if settings:
        steps.append(
            "6. If the answers are written in Welsh, choose the language on the settings "
            "sheet: some spellings mean different answers in different languages."
        )
    ws.write_string(0, 0, "How to fill in this case workbook", title)
    row = 1
    for text in steps:
        ws.write_string(row, 0, text, wrap)
        # LibreOffice keeps a wrapped row at one line unless told its height.
        ws.set_row(row, 15 * (1 + len(text) // 55))
        row += 1
    row += 1
    ws.write_string(row, 0, "Column colours: the outcome each column belongs to", bold)
    row += 1
    for g, colour in colours.items():
        ws.write_string(row, 0, group_name(inst, g), wb.add_format({"bg_color": colour}))
        row += 1


def _settings_sheet(wb, inst: Instrument, head, wrap, programme: bool = False) -> None:
    """The ``settings`` sheet: ``language | <id>`` and ``instrument | <id>``, read by ingest.

    The ``instrument`` row (another programme than the default) tells report and batch
    which instrument the workbook was made for (see module notes).
    """
    ws = wb.add_worksheet("settings")
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 10)
    ws.set_column(2, 2, 80, wrap)
    for c, name in enumerate(["setting", "value", "meaning"]):
        ws.write_string(0, c, name, head)
    row = 1
    if programme:
        ws.write_string(row, 0, "instrument")
        ws.write_string(row, 1, inst.id)
        ws.write_string(
            row, 2, f"The programme this workbook was made for: {inst.title} (do not change)."
        )
        row += 1
    if not inst.languages:
        return
    ws.write_string(row, 0, "language")
    names = ", ".join(f"{k} = {v}" for k, v in inst.languages.items())
    ws.write_string(
        row,
        2,
        f"The language the answers are written in ({names}). Some spellings mean different "
        "answers in different languages (Welsh Na is No, English NA is Not applicable); "
        "ingest refuses them unless this is filled in.",
    )
    ws.data_validation(
        row, 1, row, 1, {"validate": "list", "source": list(inst.languages), "error_type": "stop"}
    )


def add_cli(parser) -> None:
    """Arguments of ``python -m analysis template``."""
    parser.add_argument("--out", type=Path, required=True, help="workbook to write (.xlsx)")
    parser.add_argument("--instrument", type=Path, help="instrument YAML (default: the package's)")


def cli(args) -> int:
    """Write the template and say where."""
    path = write_template(args.out, args.instrument)
    print(f"wrote {path}")
    return 0
