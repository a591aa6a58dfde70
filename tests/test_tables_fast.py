"""tables.xlsx from the faster gptables table writer is gptables' own workbook, byte for byte."""

from __future__ import annotations

from contextlib import contextmanager

import openpyxl
import pytest
from fixtures_findings import fixture_findings, fixture_instrument

from analysis.render import tables
from analysis.render.tables import fast, workbook


@contextmanager
def _unpatched():
    yield False


def _cells(ws) -> list[tuple]:
    styles = ("font", "alignment", "fill", "border", "protection")
    return [
        (c.coordinate, c.value, c.number_format, *(repr(getattr(c, s)) for s in styles))
        for row in ws.iter_rows()
        for c in row
    ]


@pytest.mark.parametrize("audience", ["internal", "publication"])
def test_the_faster_writer_writes_the_same_bytes(audience, tmp_path, monkeypatch):
    findings, inst = fixture_findings(), fixture_instrument()
    ours = tables.write_tables(findings, inst, tmp_path / "fast.xlsx", audience, synthetic=True)
    monkeypatch.setattr(workbook, "faster_gptables", _unpatched)
    theirs = tables.write_tables(findings, inst, tmp_path / "lib.xlsx", audience, synthetic=True)
    assert ours.read_bytes() == theirs.read_bytes()
    # And so the same cells and styles, as a reader sees them.
    a, b = openpyxl.load_workbook(ours), openpyxl.load_workbook(theirs)
    assert a.sheetnames == b.sheetnames
    for name in a.sheetnames:
        assert _cells(a[name]) == _cells(b[name])


def test_the_library_is_restored_after_the_block():
    from gptables.core.wrappers import GPWorksheet

    before = GPWorksheet.__dict__["_write_table_elements"]
    with fast.faster_gptables() as patched:
        assert patched == (fast.metadata.version("gptables") == fast.GPTABLES_VERSION)
    assert GPWorksheet.__dict__["_write_table_elements"] is before


def test_another_gptables_version_runs_unpatched(monkeypatch):
    from gptables.core.wrappers import GPWorksheet

    monkeypatch.setattr(fast.metadata, "version", lambda name: "9.9.9")
    before = GPWorksheet.__dict__["_write_table_elements"]
    with fast.faster_gptables() as patched:
        assert patched is False
        assert GPWorksheet.__dict__["_write_table_elements"] is before
