"""The reproduction check appears in a report only when it was made on the report's input."""

import json

import pandas as pd

from analysis.pipeline import report
from analysis.render import narrative

TABLE = pd.DataFrame(
    {
        "figure_id": ["A", "B", "C"],
        "section": ["O1", "O4 1.2", "O5 3.1"],
        "wording": ["w", "w", "w"],
        "published": ["85%", "46 of 62", "almost three-quarters"],
        "reproduced": ["84.76 -> 85%", "46 of 62", "27 of 42 (64.3%)"],
        "status": ["exact", "exact", "inconsistent in source (27/42 is 64.3%)"],
    }
)


def _write(tmp_path, sha):
    TABLE.to_csv(tmp_path / "reproduction.csv", index=False)
    (tmp_path / "reproduction.json").write_text(json.dumps({"workbook_sha256": sha}))


def test_shown_for_the_same_workbook(tmp_path):
    _write(tmp_path, "abc")
    got = report.read_reproduction(tmp_path, "abc")
    assert got["figure_id"].tolist() == ["A", "B", "C"]


def test_hidden_for_another_workbook_or_none(tmp_path):
    _write(tmp_path, "abc")
    assert report.read_reproduction(tmp_path, "other") is None
    assert report.read_reproduction(tmp_path, None) is None
    assert report.read_reproduction(tmp_path / "missing", "abc") is None


def test_section_counts_statuses_and_escapes():
    html = narrative.reproduction_section(TABLE.assign(section=["<b>x</b>", "y", "z"]))
    assert "Of its 3 quantitative statements: 2 exact, 0 within band, " in html
    assert "1 inconsistent in source, 0 FAIL" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
