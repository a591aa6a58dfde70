"""``python -m analysis pdf``: the command it runs, and its errors (no browser is started here).

Printing itself, and the A4 pages, are checked in Chromium by ``test_responsive.py``.
"""

from __future__ import annotations

import pytest

from analysis.errors import UserError
from analysis.render import pdf


def test_missing_chromium_is_a_clear_error(tmp_path, monkeypatch):
    html = tmp_path / "report.html"
    html.write_text("<html></html>", encoding="utf-8")
    monkeypatch.setenv("PATH", str(tmp_path))  # no browser on it
    with pytest.raises(UserError, match="needs headless Chromium.*install it"):
        pdf.write_pdf(html)
    assert not (tmp_path / "report.pdf").exists()


def test_missing_report_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no report at .*run `python -m analysis report` first"):
        pdf.write_pdf(tmp_path / "report.html")


def test_command_prints_at_the_width_of_a4_without_header(tmp_path):
    cmd = pdf.chromium_command("chromium", tmp_path / "r.html", tmp_path / "r.pdf", tmp_path)
    # A4 is 210 mm wide; less 12 mm margins each side, 186 mm at 96 px per inch is 703 px.
    assert f"--window-size={703},1200" in cmd
    assert "--no-pdf-header-footer" in cmd
    assert f"--print-to-pdf={tmp_path / 'r.pdf'}" in cmd
    assert cmd[-1] == (tmp_path / "r.html").resolve().as_uri()
