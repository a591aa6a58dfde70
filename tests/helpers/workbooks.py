"""Build case workbooks at test time from any instrument (no binary fixtures in the repo).

``valid_row`` chooses, for every instrument column, a value that satisfies the
instrument's skip rules, so tests keep working as the instrument grows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from analysis.instrument import Instrument


def _applies(inst: Instrument, qid: str, row: Mapping[str, Any]) -> bool:
    q = inst.questions[qid]

    def holds(rule: Mapping[str, Any]) -> bool:
        return all(row.get(c) in values for c, values in rule.items())

    # Written out here, not taken from Question.rule_mask, so tests check that logic.
    return holds(q.applies_when) and (not q.applies_any or any(map(holds, q.applies_any)))


def _bounds(spec) -> tuple[int, int]:
    lo = spec.min if spec.min is not None else 0
    hi = spec.max if spec.max is not None else lo + 10
    return lo, hi


def valid_row(inst: Instrument, i: int = 0, blank_na: bool = False) -> dict[str, Any]:
    """A valid case (canonical values) for any instrument; ``i`` varies the choices.

    Parameters
    ----------
    blank_na
        Leave questions that do not apply blank (ingest should fill the NA code)
        instead of writing the NA code.
    """
    row: dict[str, Any] = {}
    for cid, d in inst.case_details.items():
        if d.type == "identifier":
            row[cid] = f"C{i:05d}"
        elif d.codes:
            row[cid] = d.codes[i % len(d.codes)]
        elif d.type == "count":
            lo, hi = _bounds(d)
            row[cid] = lo + i % (hi - lo + 1)
        elif d.type == "free_text":
            row[cid] = f"note {i}"
        elif cid == "trust":
            row[cid] = None
        else:
            row[cid] = f"{d.label} {i % 3}"
    answer_questions(inst, row, i, blank_na)
    # Repair the row until it keeps every consistency rule: a rule's `then` column takes the
    # first code it allows, and the questions it gates are answered or skipped afresh.
    for _ in range(50):
        broken = [r for r in inst.consistency if _breaks(inst, r, row)]
        if not broken:
            return row
        r = broken[0]
        allowed = [v for v in r.allowed if v != _na(inst, r.then_column)] or list(r.allowed)
        row[r.then_column] = allowed[0]
        answer_questions(inst, row, i, blank_na)
    raise AssertionError(f"valid_row({i}): could not satisfy {[r.id for r in broken]}")


def _na(inst: Instrument, cid: str) -> str | None:
    aset = inst.answer_set(cid) if cid in inst.questions else None
    return aset.na_code if aset else None


def _breaks(inst: Instrument, rule, row: Mapping[str, Any]) -> bool:
    """Whether ``row`` breaks a consistency rule (written out here, not taken from the code)."""

    def holds(conds: Mapping[str, Any]) -> bool:
        return all(_value(inst, row, c) in values for c, values in conds.items())

    if not holds(rule.when) or (rule.any_of and not any(map(holds, rule.any_of))):
        return False
    if rule.then_column in inst.questions and not _applies(
        inst, rule.then_column, _filled(inst, row)
    ):
        return False
    return _value(inst, row, rule.then_column) not in rule.allowed


def _value(inst: Instrument, row: Mapping[str, Any], cid: str) -> Any:
    """A cell as ingest reads it: a blank skipped question is its NA code."""
    v = row.get(cid)
    return _na(inst, cid) if v is None and cid in inst.questions else v


class _Filled(Mapping):
    """``row`` as ingest reads it, cell by cell on demand (a copy per question was quadratic)."""

    def __init__(self, inst: Instrument, row: Mapping[str, Any]):
        self.inst, self.row = inst, row

    def __getitem__(self, cid: str) -> Any:
        if cid not in self.row:
            raise KeyError(cid)
        return _value(self.inst, self.row, cid)

    def __iter__(self):
        return iter(self.row)

    def __len__(self) -> int:
        return len(self.row)


def _filled(inst: Instrument, row: Mapping[str, Any]) -> Mapping[str, Any]:
    return _Filled(inst, row)


def answer_questions(
    inst: Instrument,
    row: dict[str, Any],
    i: int = 0,
    blank_na: bool = False,
    keep: Iterable[str] = (),
) -> None:
    """Answer every question in column order; skipped ones get NA (or blank), answered ones
    keep a code they already hold when it still fits; ``keep`` columns are left as they are."""
    keep = set(keep)
    for qid, q in inst.questions.items():
        if qid in keep:
            continue
        aset = inst.answer_set(q)
        applies = _applies(inst, qid, _filled(inst, row))
        if aset is None:  # a count
            lo, hi = _bounds(q)
            row[qid] = lo + (i * 7 + len(qid)) % (hi - lo + 1) if applies else None
            continue
        na = aset.na_code
        if not applies:
            row[qid] = None if blank_na else na
            continue
        if row.get(qid) in aset.code_values and (row[qid] != na or _rule_wants_na(inst, qid)):
            continue
        choices = [c for c in aset.code_values if c != na]
        # Mix the question into the choice so columns do not all move in step.
        row[qid] = choices[(i + len(qid)) % len(choices)]


def _rule_wants_na(inst: Instrument, qid: str) -> bool:
    return any(r.then_column == qid and _na(inst, qid) in r.allowed for r in inst.consistency)


def valid_rows(inst: Instrument, n: int, blank_na: bool = False) -> list[dict[str, Any]]:
    """``n`` valid cases with distinct ids."""
    return [valid_row(inst, i, blank_na=blank_na) for i in range(n)]


def expected(inst: Instrument, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What ingest should return for ``rows``: NA codes filled, free text dropped."""
    out = []
    for r in rows:
        e = {}
        for cid in inst.columns:
            d = inst.case_details.get(cid)
            if d is not None and d.type == "free_text":
                continue
            v = r.get(cid)
            if v is None and cid in inst.questions and inst.answer_set(cid) is not None:
                if not _applies(inst, cid, e):
                    v = inst.answer_set(cid).na_code
            e[cid] = v
        out.append(e)
    return out


def grid(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> list[list[Any]]:
    """Header row plus one list per case."""
    columns = list(columns if columns is not None else rows[0].keys())
    return [list(columns)] + [[r.get(c) for c in columns] for r in rows]


def write_xlsx(
    path: Path,
    cells: Sequence[Sequence[Any]],
    sheet: str = "cases",
    other_sheets: Mapping[str, Sequence[Sequence[Any]]] | None = None,
    hidden: Iterable[str] = (),
    merge: Iterable[str] = (),
) -> Path:
    """Write a grid of cells (first row = header) to an xlsx with xlsxwriter.

    ``other_sheets`` adds sheets after the main one; ``hidden`` names sheets to hide;
    ``merge`` lists ranges such as ``"B1:C1"`` to merge (keeping the first cell's value).
    """
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "nan_inf_to_errors": True})
    sheets = {sheet: cells, **(other_sheets or {})}
    hidden = set(hidden)
    for name, data in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(data):
            for c, v in enumerate(row):
                if v is None:
                    continue
                ws.write(r, c, v)
        for rng in merge if name == sheet else ():
            first = rng.split(":")[0]
            col = ord(first[0]) - 65
            rownum = int(first[1:]) - 1
            value = data[rownum][col] if rownum < len(data) and col < len(data[rownum]) else ""
            ws.merge_range(rng, value)
        if name in hidden:
            ws.hide()
    # A hidden sheet cannot be the active one; activate the first visible sheet.
    visible = [ws for ws in wb.worksheets() if ws.name not in hidden]
    if visible:
        visible[0].activate()
    wb.close()
    return path


def write_csv(
    path: Path,
    cells: Sequence[Sequence[Any]],
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> Path:
    """Write a grid of cells to a CSV file."""
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh, delimiter=delimiter)
        for row in cells:
            w.writerow(["" if v is None else v for v in row])
    return path


def fill_template(template: Path, rows: Sequence[Mapping[str, Any]], out: Path) -> Path:
    """Fill a blank template's ``cases`` sheet with rows, as an officer would in Excel."""
    import openpyxl

    from analysis.instrument.template import FIRST_CASE_ROW, IDS_ROW

    wb = openpyxl.load_workbook(template)
    ws = wb["cases"]
    header = [c.value for c in ws[IDS_ROW]]
    for r, row in enumerate(rows, start=FIRST_CASE_ROW):
        for c, cid in enumerate(header, start=1):
            v = row.get(cid)
            if v is not None:
                ws.cell(row=r, column=c, value=v)
    wb.save(out)
    return out


def write_big_xlsx(path: Path, cells: Iterable[Sequence[Any]], sheet: str = "cases") -> Path:
    """Write a large one-sheet xlsx quickly by generating the sheet XML directly.

    xlsxwriter takes ~20 s for 100,000 rows; this takes a second or two. Strings are
    written inline, numbers as numbers.
    """
    import zipfile
    from xml.sax.saxutils import escape

    import xlsxwriter
    from xlsxwriter.utility import xl_col_to_name

    skeleton = path.with_suffix(".skeleton.xlsx")
    wb = xlsxwriter.Workbook(str(skeleton))
    wb.add_worksheet(sheet)
    wb.close()
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             "<sheetData>"]  # fmt: skip
    letters: list[str] = []
    for r, row in enumerate(cells, start=1):
        out = [f'<row r="{r}">']
        for c, v in enumerate(row):
            while len(letters) <= c:
                letters.append(xl_col_to_name(len(letters)))
            ref = f"{letters[c]}{r}"
            if v is None:
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(f'<c r="{ref}"><v>{v}</v></c>')
            else:
                out.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>')
        out.append("</row>")
        parts.append("".join(out))
    parts.append("</sheetData></worksheet>")
    with zipfile.ZipFile(skeleton) as zi, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zo:
        for name in zi.namelist():
            data = zi.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = "".join(parts).encode("utf-8")
            zo.writestr(name, data)
    skeleton.unlink()
    return path
