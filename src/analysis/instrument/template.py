"""Write a blank case workbook for inspectors to fill in.

``python -m analysis template --out cases.xlsx`` writes:

- a ``cases`` sheet: row 1 holds the column ids ingest expects, one column per
  instrument column; every coded column has an Excel drop-down (list data
  validation) and an input message with the question wording; count columns
  accept whole numbers in range; the header is frozen;
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
from analysis.instrument import Instrument, load_instrument
from analysis.instrument.rules import rule_info

#: Data validation covers this many case rows (Excel's whole column would bloat the file).
TEMPLATE_ROWS = 2000
#: Excel's limits on an input message.
_TITLE_MAX, _MESSAGE_MAX = 32, 255


def _quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


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
                rule = q.rule_text()
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
    with atomic_path(out) as tmp:
        wb = xlsxwriter.Workbook(str(tmp))
        wb.set_properties({"title": f"Case workbook: {inst.title}", "comments": inst.version})
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        cases = wb.add_worksheet("cases")
        dictionary = wb.add_worksheet("dictionary")
        codes = wb.add_worksheet("codes")

        code_col = 0
        for c, rec in enumerate(info):
            cid = rec["id"]
            allowed = inst.allowed_values(cid)
            cases.write_string(0, c, cid, head)
            longest = max([len(cid), *(len(a) for a in allowed)] or [len(cid)])
            cases.set_column(c, c, min(max(longest + 2, 10), 40))
            message = _cut(
                rec["wording"]
                + (f"\nAllowed: {rec['allowed']}" if rec["allowed"] else "")
                + (f"\nAnswer {rec['skip_rule']}" if rec["skip_rule"] else ""),
                _MESSAGE_MAX,
            )
            title = _cut(cid, _TITLE_MAX)
            if allowed:
                codes.write_string(0, code_col, cid, head)
                for r, code in enumerate(allowed, start=1):
                    codes.write_string(r, code_col, code)
                letter = xlsxwriter.utility.xl_col_to_name(code_col)
                source = f"={_quote_sheet('codes')}!${letter}$2:${letter}${len(allowed) + 1}"
                cases.data_validation(
                    1, c, TEMPLATE_ROWS, c,
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
                    1, c, TEMPLATE_ROWS, c,
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
                    1, c, TEMPLATE_ROWS, c,
                    {"validate": "any", "input_title": title, "input_message": message},
                )  # fmt: skip
        cases.freeze_panes(1, 1)
        cases.activate()
        codes.hide()

        if inst.languages:
            _settings_sheet(wb, inst, head, wrap)

        fields = ["id", "kind", "label", "wording", "criterion", "allowed", "skip_rule", "outcomes"]
        widths = [28, 18, 40, 70, 10, 45, 45, 12]
        for c, (name, width) in enumerate(zip(fields, widths, strict=True)):
            dictionary.write_string(0, c, name, head)
            dictionary.set_column(c, c, width, wrap)
        for r, rec in enumerate(info, start=1):
            for c, name in enumerate(fields):
                dictionary.write_string(r, c, rec[name])
        dictionary.freeze_panes(1, 1)
        dictionary.autofilter(0, 0, len(info), len(fields) - 1)
        if inst.consistency:
            _rules_sheet(wb, inst, head, wrap)
        wb.close()
    return out


def _rules_sheet(wb, inst: Instrument, head, wrap) -> None:
    """The ``rules`` sheet: the consistency rules every case must satisfy."""
    ws = wb.add_worksheet("rules")
    info = rule_info(inst)
    fields = ["id", "kind", "severity", "when", "then", "message", "source"]
    widths = [34, 16, 9, 45, 45, 60, 60]
    for c, (name, width) in enumerate(zip(fields, widths, strict=True)):
        ws.write_string(0, c, name, head)
        ws.set_column(c, c, width, wrap)
    for r, rec in enumerate(info, start=1):
        for c, name in enumerate(fields):
            ws.write_string(r, c, rec[name])
    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, len(info), len(fields) - 1)


def _settings_sheet(wb, inst: Instrument, head, wrap) -> None:
    """The ``settings`` sheet: ``language | <id>``, read by ingest (see module notes)."""
    ws = wb.add_worksheet("settings")
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 10)
    ws.set_column(2, 2, 80, wrap)
    for c, name in enumerate(["setting", "value", "meaning"]):
        ws.write_string(0, c, name, head)
    ws.write_string(1, 0, "language")
    names = ", ".join(f"{k} = {v}" for k, v in inst.languages.items())
    ws.write_string(
        1,
        2,
        f"The language the answers are written in ({names}). Some spellings mean different "
        "answers in different languages (Welsh Na is No, English NA is Not applicable); "
        "ingest refuses them unless this is filled in.",
    )
    ws.data_validation(
        1, 1, 1, 1, {"validate": "list", "source": list(inst.languages), "error_type": "stop"}
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
