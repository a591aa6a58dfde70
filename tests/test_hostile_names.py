"""One neutralisation for every text output: the same hostile names through every writer.

LDU names typed into a workbook as spreadsheet formulas (OWASP "CSV injection") go
through ingest, the engine and each writer: findings.csv, tables.xlsx, the report's
HTML fragments, provenance.json and the aggregate's findings.csv and funnel.csv.
Worked by hand: every CSV cell that starts with ``= + - @``, tab or CR must start with
the apostrophe instead; no xlsx cell is a formula; the parquet keeps the true names.
"""

from __future__ import annotations

import csv
import json

import openpyxl
import pandas as pd
import pytest
from fixtures_findings import FIXTURE_INSTRUMENT_YAML
from helpers.pooling import TRUSTS, two_trust_cases
from helpers.workbooks import grid

from analysis import config
from analysis.engine import run as engine
from analysis.engine.findings import FindingsContext
from analysis.fileio import FORMULA_PREFIXES
from analysis.ingest.read import read_cases
from analysis.instrument import load_instrument
from analysis.pipeline import aggregate, provenance
from analysis.render.narrative import comparisons
from analysis.render.tables import write_tables

#: The attacker's names (issue 13, R01a), plus a tab and a CR hiding a formula: ingest trims
#: the white space, so "\t=1+1" arrives as the live "=1+1" and must be neutralised after.
HOSTILE = ["=cmd|' /C calc'!A0", "+SUM(1+1)", "-2+3", "@SUM(A1)", "\t=1+1", "\r=2+2"]
TRIMMED = ["=cmd|' /C calc'!A0", "+SUM(1+1)", "-2+3", "@SUM(A1)", "=1+1", "=2+2"]


def _csv_cells(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _assert_csv_inert(path):
    """No text cell starts with a formula prefix; a negative number such as -33.3 may."""
    cells = _csv_cells(path)
    live = [c for c in cells if c.startswith(FORMULA_PREFIXES) and not _is_number(c)]
    assert live == [], (path.name, live[:5])
    return cells


def _write_strings(path, cells):
    """An xlsx whose text cells are strings (``ws.write`` would turn ``=...`` into a formula)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("cases")
    for r, row in enumerate(cells):
        for c, v in enumerate(row):
            if isinstance(v, str):
                ws.write_string(r, c, v)
            elif v is not None:
                ws.write(r, c, v)
    wb.close()
    return path


@pytest.fixture
def hostile(tmp_path, monkeypatch):
    """trust-a's four cases with hostile LDU names, written as an xlsx and read back."""
    inst_path = tmp_path / "fixture.yaml"
    inst_path.write_text(FIXTURE_INSTRUMENT_YAML, encoding="utf-8")
    inst = load_instrument(inst_path)
    outputs, processed = tmp_path / "outputs", tmp_path / "processed"
    processed.mkdir()
    monkeypatch.setattr(config, "OUTPUTS_DIR", outputs)
    monkeypatch.setattr(config, "PROCESSED_DIR", processed)
    for i, trust in enumerate(TRUSTS):
        cases = two_trust_cases(trust, inst).drop(columns="source_row")
        # Three hostile names per organisation: cases 1-2, case 3, case 4.
        names = HOSTILE[2 * i : 2 * i + 2] + [HOSTILE[4 + i]]
        cases["ldu"] = [names[0], names[0], names[1], names[2]]
        book = _write_strings(tmp_path / f"{trust}.xlsx", grid(cases.to_dict("records")))
        read = read_cases(book, instrument=inst, trust=trust)
        read.to_parquet(processed / f"{trust}.parquet", index=False)
        findings = engine.analyse(read, inst, trust)
        engine.write_findings(findings, outputs / trust, FindingsContext.for_run(inst))
    return inst, inst_path, outputs


def test_ingest_trims_then_the_parquet_keeps_the_true_names(hostile):
    _, _, outputs = hostile
    df = pd.read_parquet(outputs / "trust-a" / "findings.parquet")
    ldu = set(df.loc[df["group_var"] == "ldu", "group"])
    # trust-a: "=cmd...", "+SUM(1+1)" and "\t=1+1" (trimmed to "=1+1").
    assert {TRIMMED[0], TRIMMED[1], TRIMMED[4]} <= ldu


def test_findings_csv_is_inert_and_numbers_stay_numbers(hostile):
    _, _, outputs = hostile
    cells = _assert_csv_inert(outputs / "trust-a" / "findings.csv")
    assert "'" + TRIMMED[0] in cells and "'=1+1" in cells and "'+SUM(1+1)" in cells
    b = pd.read_csv(outputs / "trust-b" / "findings.csv", dtype=str, keep_default_na=False)
    assert {"'-2+3", "'@SUM(A1)", "'=2+2"} <= set(b["group"])
    # Numeric columns are written as numbers: a difference can be negative, unprefixed.
    assert any(c.startswith("-") and _is_number(c) for c in cells)


def test_tables_xlsx_has_no_formula(hostile, tmp_path):
    inst, _, outputs = hostile
    df = pd.read_parquet(outputs / "trust-a" / "findings.parquet")
    path = write_tables(df, inst, tmp_path / "tables.xlsx", "internal")
    wb = openpyxl.load_workbook(path)
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    assert "'" + TRIMMED[0] in texts
    assert not [t for t in texts if t.startswith(FORMULA_PREFIXES)]


def test_report_html_escapes_and_keeps_the_names_readable(hostile):
    inst, _, outputs = hostile
    df = pd.read_parquet(outputs / "trust-a" / "findings.parquet")
    html = comparisons.comparison_section(df, inst, "ldu")
    # HTML is escaped, not apostrophe-prefixed: the reader sees the name as typed.
    assert "=cmd|&#x27; /C calc&#x27;!A0" in html
    assert "'=cmd" not in html and "&#x27;=cmd" not in html


def test_provenance_names_no_ldu(hostile, tmp_path):
    inst, _, outputs = hostile
    record = provenance.build_provenance(
        input_path=tmp_path / "trust-a.xlsx", instrument=inst, parameters={"trust": "trust-a"}
    )
    path = provenance.write_provenance(record, outputs / "trust-a")
    text = json.dumps(json.loads(path.read_text(encoding="utf-8")))
    for name in TRIMMED:
        assert name not in text


def test_aggregate_csvs_are_inert(hostile):
    _, inst_path, outputs = hostile
    out = aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)
    cells = _assert_csv_inert(out)
    # The aggregate compares organisations by gender and grade, not by LDU (LDUs are each
    # organisation's own): the hostile names do not reach it, raw or neutralised.
    assert not [c for c in cells if c.lstrip("'") in TRIMMED]
    _assert_csv_inert(out.parent / "funnel.csv")
    wb = openpyxl.load_workbook(out.parent / "tables.xlsx")
    assert not [
        c.coordinate
        for ws in wb.worksheets
        for r in ws.iter_rows()
        for c in r
        if c.data_type == "f"
    ]


def test_findings_read_back_from_the_csv_are_the_true_names(hostile):
    from analysis.pipeline import report

    _, _, outputs = hostile
    (outputs / "trust-a" / "findings.parquet").unlink()  # readers fall back to the CSV
    back = report.read_findings(outputs / "trust-a")
    assert {TRIMMED[0], TRIMMED[1], TRIMMED[4]} <= set(back["group"])
