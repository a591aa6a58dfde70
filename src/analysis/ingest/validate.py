"""Normalise the raw answers and validate them against the instrument.

After the header is found (:mod:`analysis.ingest.header`), in order:

1. **Normalise** answer variants (:mod:`analysis.ingest.normalise`).
2. **Drop spacing rows**: rows with nothing in any required column are not cases.
3. **Apply skip rules**: blanks where a question does not apply become its NA
   code; answers that contradict a rule and blanks where it applies are problems.
4. **Validate** codes, ranges, whole numbers, blanks and unique case ids with a
   pandera schema (``lazy=True``, no coercion), turning its failure cases into
   :class:`~analysis.ingest.problems.Problem` lines.
5. **Explain blanks** that hold a formula or an Excel error, when there are any.
6. **Shape the output**: the processed-cases frame of ``docs/design.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.ingest.guards import ZIP_MAGIC, sniff
from analysis.ingest.normalise import (
    CodeMatcher,
    Reading,
    code_matcher,
    normalise_codes,
    normalise_counts,
    normalise_dates,
    normalise_text,
    show,
)
from analysis.ingest.problems import Report
from analysis.instrument import Instrument


def matcher(inst: Instrument, cid: str, language: str | None) -> CodeMatcher:
    """The code matcher of a coded column, for the workbook's declared language."""
    return code_matcher(
        tuple(inst.allowed_values(cid)),
        inst.aliases(cid),
        language,
        tuple(inst.languages.items()),
    )


def normalise_cases(
    raw: pd.DataFrame, inst: Instrument, rep: Report, language: str | None = None
) -> pd.DataFrame:
    """Canonical codes, tidied text and float counts, column by column.

    Values that only the declared ``language`` made readable are warned about, once per
    spelling, saying what they would mean in the other languages.
    """
    out = {}
    settled: dict[str, tuple[Reading, CodeMatcher]] = {}
    for cid in raw.columns:
        kind = _kind(inst, cid)
        col = raw[cid]
        if kind == "coded":
            m = matcher(inst, cid, language)
            out[cid], found = normalise_codes(col, m)
            for text, reading in found.items():
                settled.setdefault(text, (reading, m))
        elif kind == "count":
            values, bad = normalise_counts(col)
            for row in values.index[bad.to_numpy()]:
                _count_error(rep, inst, cid, int(row), raw.at[row, cid], "is not a number")
            out[cid] = values
        elif kind == "date":
            values, bad, why = normalise_dates(col)
            for pos, reason in why.items():
                row = col.index[pos]
                rep.error(
                    f"{show(raw.at[row, cid])} {reason} (expected a date such as 2024-03-31 "
                    "or 31/03/2024)",
                    row=int(row),
                    column=cid,
                    value=raw.at[row, cid],
                )
            out[cid] = values
        else:
            out[cid] = normalise_text(col)
    name = inst.languages.get(language or "", language)
    for text, (reading, m) in sorted(settled.items()):
        if reading.foreign is not None:
            other = inst.languages.get(reading.foreign, reading.foreign)
            rep.warn(
                f"{text!r} is {other} ({reading.foreign}) for {reading.code!r}, but the "
                f"workbook is declared {name} ({language}); it was read as {reading.code!r}: "
                "check the language, or type the answer in the declared one"
            )
            continue
        rep.warn(
            f"{text!r} was read as {reading.code!r} because the workbook's language is "
            f"{name} ({language}); {m.alternatives(reading, besides=reading.code)}"
        )
    return pd.DataFrame(out, index=raw.index)


def drop_spacing_rows(
    norm: pd.DataFrame, raw: pd.DataFrame, inst: Instrument, rep: Report
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The normalised and raw frames without the rows that are not cases.

    Rows with nothing in any required column are spacing, not cases. Rows holding only
    optional columns (a trust name filled down past the last case, a stray note) are
    skipped with a warning rather than reported as cases with every answer blank. Rows
    with a problem already reported are kept, so the problem stands.

    Raises
    ------
    IngestError
        Through ``rep``, when no case row is left.
    """
    required = [c for c in inst.required_columns if c in norm.columns]
    filled = norm.notna()
    keep = filled[required].any(axis=1) | raw.index.isin([r for r, _ in rep.cells])
    optional_only = ~keep & filled.any(axis=1)
    if optional_only.any():
        skipped = norm.index[optional_only.to_numpy()]
        rep.warn(
            f"{len(skipped)} row{'s' if len(skipped) != 1 else ''} (first: row "
            f"{skipped[0]}) hold only optional columns "
            f"({', '.join(c for c in norm.columns if c not in required)}) and were skipped",
            row=int(skipped[0]),
        )
    norm, raw = norm[keep.to_numpy()], raw[keep.to_numpy()]
    if norm.empty:
        rep.stop("has a header row but no case rows")
    return norm, raw


def _kind(inst: Instrument, cid: str) -> str:
    if inst.allowed_values(cid):
        return "coded"
    if cid in inst.questions:
        return "count" if inst.questions[cid].answers == "count" else "coded"
    kinds = {"count": "count", "free_text": "free_text", "date": "date"}
    return kinds.get(inst.case_details[cid].type, "text")


def _bounds(inst: Instrument, cid: str) -> tuple[int | None, int | None]:
    spec = inst.questions.get(cid) or inst.case_details[cid]
    lo = spec.min if spec.min is not None else 0  # a count is never negative
    return lo, spec.max


#: What a failed count check says (pandera check meaning -> message).
_COUNT_PROBLEMS = {"range": "is out of range", "whole": "is not a whole number"}


def _count_error(rep: Report, inst: Instrument, cid: str, row: int, value, problem: str) -> None:
    """Report a bad count cell: what is wrong with it and which whole numbers are allowed."""
    rep.error(
        f"{show(value)} {problem} (expected a whole number{_range_text(inst, cid)})",
        row=row,
        column=cid,
        value=value,
    )


def _range_text(inst: Instrument, cid: str) -> str:
    lo, hi = _bounds(inst, cid)
    if hi is None:
        return f" of at least {lo}"
    return f" from {lo} to {hi}"


def apply_skip_rules(norm: pd.DataFrame, raw: pd.DataFrame, inst: Instrument, rep: Report) -> None:
    """Fill NA codes where a question does not apply; report contradictions and missing answers.

    Rules are applied in column order, so a rule on an earlier question sees that question's
    value after its own rule has filled it.
    """
    # Many questions share a rule (every typed-report question, say): compute each rule once,
    # and forget it when a column it reads is filled. Masks are numpy arrays over the codes of
    # the categorical columns: a few hundred questions cost milliseconds, not seconds.
    masks: dict[tuple, tuple[np.ndarray, np.ndarray, list[str]]] = {}
    for qid, q in inst.questions.items():
        if not q.has_rule or qid not in norm.columns:
            continue
        cols = q.rule_columns
        if any(c not in norm.columns for c in cols):
            continue  # the controlling column is missing: already reported
        key = (
            tuple(sorted(q.applies_when.items())),
            tuple(tuple(sorted(a.items())) for a in q.applies_any),
            q.applies_dates,
        )
        if key not in masks:
            known = np.ones(len(norm), dtype=bool)
            for c in cols:
                if c in inst.date_columns:
                    # A blank date meets no date condition (the question then does not
                    # apply); a cell that is not a date is reported already.
                    continue
                allowed = inst.allowed_values(c)
                known &= member_mask(norm[c], allowed) if allowed else norm[c].notna().to_numpy()
            applies = q.rule_mask(lambda c, values: member_mask(norm[c], values), len(norm))
            if q.applies_dates:
                applies &= q.date_mask(lambda c: norm[c].to_numpy("datetime64[D]"), len(norm))
            masks[key] = (known, applies, cols)
        known, applies, _ = masks[key]
        aset = inst.answer_set(q)
        na = aset.na_code if aset else None
        value = norm[qid]
        blank = value.isna().to_numpy()
        rule = q.full_rule_text()
        # Blank where the question does not apply: the NA code (counts stay blank).
        fill = blank & known & ~applies
        if na is not None and fill.any():
            norm[qid] = value = _filled(value, fill, na)
            masks = {k: v for k, v in masks.items() if qid not in v[2]}
        # Answered where it does not apply.
        valid = member_mask(value, aset.code_values) if aset else ~blank
        wrong = known & ~applies & ~blank & valid
        if na is not None:
            wrong &= ~member_mask(value, (na,))
        for row in norm.index[wrong]:
            rep.error(
                f"answered {show(raw.at[row, qid])} but the question does not apply to this case "
                f"({_case_text(norm, row, cols)}; it applies only when {rule}); leave "
                f"it blank{f' or answer {na}' if na else ''}",
                row=int(row),
                column=qid,
                value=raw.at[row, qid],
            )
        # Blank where it applies.
        missing = known & applies & blank
        for row in norm.index[missing]:
            rep.error(
                f"is blank but the question applies to this case "
                f"({_case_text(norm, row, cols)}); answer it"
                + (f" (allowed: {', '.join(aset.code_values)})" if aset else ""),
                row=int(row),
                column=qid,
            )


def member_mask(col: pd.Series, values: Sequence[str]) -> np.ndarray:
    """``col.isin(values)`` as a numpy mask; for a categorical, by a lookup on its codes."""
    arr = col.array
    if isinstance(arr, pd.Categorical):
        wanted = set(values)
        # The last slot is for blanks (code -1).
        lookup = np.array([c in wanted for c in arr.categories] + [False], dtype=bool)
        return lookup[arr.codes]
    return col.isin(list(values)).to_numpy()


def _filled(col: pd.Series, where: np.ndarray, value: str) -> pd.Series:
    """``col`` with ``value`` put where ``where`` is true (a categorical keeps its categories)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.cat.categories
        if value not in cats:
            col = col.cat.add_categories([value])
            cats = col.cat.categories
        codes = col.cat.codes.to_numpy().copy()
        codes[where] = cats.get_loc(value)
        return pd.Series(
            pd.Categorical.from_codes(codes, dtype=col.dtype), index=col.index, name=col.name
        )
    out = col.copy()
    out[where] = value
    return out


def _case_text(norm: pd.DataFrame, row, columns: Sequence[str]) -> str:
    # Quoted: a case whose report_type is the code None (no report) must not read as
    # one whose report_type is blank ("report_type is 'None'" vs "report_type is blank").
    return ", ".join(f"{c} is {show(norm.at[row, c])}" for c in columns)


def _schema(inst: Instrument, columns: Sequence[str]):
    """Pandera columns for the normalised frame, plus what each column's checks mean.

    Built once per instrument and set of columns: a batch reads many workbooks.
    """
    key = (inst.sha256, tuple(columns))
    if key not in _SCHEMAS:
        _SCHEMAS.clear()  # one instrument at a time in practice; keep memory bounded
        _SCHEMAS[key] = _build_schema(inst, columns)
    return _SCHEMAS[key]


_SCHEMAS: dict[tuple, tuple] = {}


def _build_schema(inst: Instrument, columns: Sequence[str]):
    import pandera.pandas as pa

    spec: dict[str, Any] = {}
    meaning: dict[str, list[str]] = {}
    for cid in columns:
        kind = _kind(inst, cid)
        if kind == "free_text":
            continue
        q = inst.questions.get(cid)
        if q is not None:
            # Blanks in questions with a skip rule are judged by the rule, not here.
            nullable = q.has_rule
        else:
            d = inst.case_details[cid]
            nullable = not d.required or d.type == "identifier"
        checks, means = [], []
        if kind == "coded":
            checks.append(pa.Check.isin(list(inst.allowed_values(cid))))
            means.append("isin")
        elif kind == "count":
            lo, hi = _bounds(inst, cid)
            if hi is None:
                checks.append(pa.Check.greater_than_or_equal_to(lo))
            else:
                checks.append(pa.Check.in_range(lo, hi))
            means.append("range")
            checks.append(pa.Check(lambda s: s.isna() | (s % 1 == 0), name="whole_number"))
            means.append("whole")
        unique = cid == inst.identifier_column
        spec[cid] = pa.Column(checks=checks, nullable=nullable, unique=unique, required=False)
        meaning[cid] = means
    return spec, meaning


def _plainly_valid(col: pd.Series, spec, inst: Instrument, cid: str) -> bool:
    """Whether a column passes its pandera checks, decided from its codes in one pass.

    Nearly every column of a workbook is valid; running pandera over hundreds of them
    costs more than reading the file, so only columns this cannot clear are validated
    by pandera (which then names each failing cell). It is exact or errs towards pandera.
    """
    if spec.unique:
        return False
    if not spec.nullable and col.isna().any():
        return False
    kind = _kind(inst, cid)
    if kind == "coded":
        arr, allowed = col.array, inst.allowed_values(cid)
        if not isinstance(arr, pd.Categorical):
            return False
        if list(arr.categories[: len(allowed)]) != list(allowed):
            return False
        return bool((arr.codes < len(allowed)).all())  # blanks are code -1
    if kind == "count":
        v = col.to_numpy(dtype="float64", na_value=np.nan)
        lo, hi = _bounds(inst, cid)
        fine = (v >= lo) & (v % 1 == 0)
        if hi is not None:
            fine &= v <= hi
        return bool((np.isnan(v) | fine).all())
    return True


def check_values(
    norm: pd.DataFrame,
    raw: pd.DataFrame,
    inst: Instrument,
    rep: Report,
    language: str | None = None,
) -> None:
    """Report every value the instrument does not allow, with the raw text the officer typed.

    A refused answer is explained: ambiguous between languages (and how to settle it), or
    not an answer at all, with the answer it most likely stands for.
    """
    import pandera.errors as pe
    import pandera.pandas as pa

    spec, meaning = _schema(inst, list(norm.columns))
    ident = inst.identifier_column
    # Blank ids are reported here (not as pandera nulls) so duplicates of blank are not reported.
    if ident in norm.columns:
        for row in norm.index[norm[ident].isna().to_numpy()]:
            rep.error("blank case id: every case needs an identifier", row=int(row), column=ident)
    unclear = {c: s for c, s in spec.items() if not _plainly_valid(norm[c], s, inst, c)}
    # No coercion: values were normalised already, and coercion could hide range failures.
    schema = pa.DataFrameSchema(unclear, strict=False, coerce=False)
    try:
        schema.validate(norm, lazy=True)
        return
    except pe.SchemaErrors as exc:
        failures = exc.failure_cases
    dup_rows: dict[str, list[int]] = {}
    if ident in norm.columns:
        ids = norm[ident]
        dups = ids[ids.notna() & ids.duplicated(keep=False)]
        for row, v in dups.items():
            dup_rows.setdefault(v, []).append(int(row))
    for rec in failures.itertuples(index=False):
        cid, check, idx = rec.column, str(rec.check), rec.index
        if cid not in norm.columns or idx is None or pd.isna(idx):
            rep.error(f"failed check {check}", column=cid if isinstance(cid, str) else None)
            continue
        row = int(idx)
        raw_value = raw.at[row, cid] if cid in raw.columns else rec.failure_case
        if check == "not_nullable":
            what = "an answer" if cid in inst.questions else "a value"
            allowed = inst.allowed_values(cid)
            rep.error(
                f"is blank; every case needs {what}"
                + (f" (allowed: {', '.join(allowed)})" if allowed else ""),
                row=row,
                column=cid,
            )
            continue
        if check == "field_uniqueness":
            others = [r for r in dup_rows.get(norm.at[row, cid], []) if r != row]
            rep.error(
                f"duplicate case id {show(raw_value)} (also on row"
                f"{'s' if len(others) != 1 else ''} {', '.join(map(str, others))})",
                row=row,
                column=cid,
                value=raw_value,
            )
            continue
        num = rec.check_number
        means = meaning.get(cid, [])
        kind = (
            means[int(num)]
            if num is not None and not pd.isna(num) and int(num) < len(means)
            else ""
        )
        if kind == "isin":
            what = "answer" if cid in inst.questions else "value"
            why = matcher(inst, cid, language).why_not(raw_value, what)
            rep.error(f"{show(raw_value)} {why}", row=row, column=cid, value=raw_value)
        elif kind in _COUNT_PROBLEMS:
            _count_error(rep, inst, cid, row, raw_value, _COUNT_PROBLEMS[kind])
        else:
            rep.error(f"{show(raw_value)} failed check {check}", row=row, column=cid)


#: Look for formulas and Excel errors behind blank cells only in sheets up to this many rows
#: (openpyxl is much slower than calamine).
EXPLAIN_BLANKS_MAX_ROWS = 20_000


def explain_blanks(path: Path, mapping: dict[int, str], rep: Report) -> None:
    """Say why a 'blank' cell is blank when it holds a formula or an Excel error.

    Calamine returns cached formula results and reads error cells (``#N/A``) and formulas
    never calculated (e.g. written by a script) as empty. Only then, and only for
    workbooks, openpyxl (which parses with defusedxml) looks at the cells themselves.
    """
    blanks = [i for i, p in enumerate(rep.errors) if p.row and p.message.startswith("is blank")]
    if not blanks or rep.sheet is None:
        return
    try:
        with open(path, "rb") as fh:
            if sniff(fh.read(len(ZIP_MAGIC))) != "zip":
                return
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
        try:
            ws = wb[rep.sheet]
            if (ws.max_row or 0) > EXPLAIN_BLANKS_MAX_ROWS:
                return
            position = {cid: pos for pos, cid in mapping.items()}
            wanted = {(rep.errors[i].row, position.get(rep.errors[i].column)): i for i in blanks}
            rows = {r for r, _ in wanted}
            for r, row in enumerate(ws.iter_rows(max_row=max(rows)), start=1):
                if r not in rows:
                    continue
                for pos, cell in enumerate(row):
                    i = wanted.get((r, pos))
                    if i is None:
                        continue
                    what = None
                    if cell.data_type == "e":
                        what = f"holds the Excel error {cell.value}"
                    elif cell.data_type == "f" or str(cell.value or "").startswith("="):
                        formula = str(getattr(cell.value, "text", cell.value))[:60]
                        what = (
                            f"holds the formula {formula} whose result is an error or was never "
                            "saved (open and save the file in Excel)"
                        )
                    if what:
                        p = rep.errors[i]
                        rest = p.message.removeprefix("is blank").lstrip(";, ")
                        sep = " " if rest.startswith("but") else "; "
                        rep.errors[i] = replace(
                            p, message=f"{what}, so it reads as blank{sep}{rest}"
                        )
        finally:
            wb.close()
    except Exception:  # an explanation is a nicety; the problem itself is already reported
        return


def processed_frame(norm: pd.DataFrame, inst: Instrument, trust: str | None) -> pd.DataFrame:
    """The processed-cases frame of docs/design.md.

    Every instrument column except free text (absent optional columns as blanks),
    ``trust`` filled from the slug where blank, and ``source_row``.
    """
    cols = {}
    n = len(norm)
    for cid in inst.columns:
        kind = _kind(inst, cid)
        if kind == "free_text":
            continue
        if cid in norm.columns:
            s = norm[cid]
        else:
            s = pd.Series([None] * n, index=norm.index, dtype=object)
        codes = inst.allowed_values(cid)
        if kind == "count":
            s = s.astype("float64").astype("Int64")
        elif kind == "date":
            s = s.astype("datetime64[s]")
        elif codes:
            # Categorical with the instrument's codes in declared order: small in memory and
            # parquet, fast to group by, and every code keeps its place even when unused.
            arr = s.array
            cats = pd.Index(list(codes), dtype=object)
            if isinstance(arr, pd.Categorical) and arr.categories[: len(cats)].equals(cats):
                # Normalised columns list the allowed codes first and validation has passed,
                # so the codes carry over as they are.
                s = pd.Categorical.from_codes(arr.codes, categories=cats)
            else:
                s = pd.Categorical(s, categories=cats)
            s = pd.Series(s, index=norm.index)
        else:
            s = s.astype("str")
        cols[cid] = s
    if "trust" not in cols:
        cols["trust"] = pd.Series([None] * n, index=norm.index, dtype="str")
    if trust is not None:
        cols["trust"] = cols["trust"].fillna(trust)
    out = pd.DataFrame(cols, index=norm.index)
    out["source_row"] = norm.index.to_numpy(dtype="int64")
    return out.reset_index(drop=True)
