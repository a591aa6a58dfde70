"""The charts a run builds once: staged for the notebook, read back exactly, never an output."""

from __future__ import annotations

import pandas as pd
import pytest
from fixtures_findings import fixture_findings, fixture_instrument

from analysis.engine import run as engine
from analysis.pipeline import report, staged_charts
from analysis.render import charts


def _same(a: charts.Chart, b: charts.Chart) -> None:
    for name in ("id", "title", "subtitle", "alt_text", "kind", "x_title", "y_title"):
        assert getattr(a, name) == getattr(b, name)
    assert (a.intervals, a.source) == (b.intervals, b.source)
    pd.testing.assert_frame_equal(a.data, b.data, check_exact=True)


@pytest.fixture
def run_folder(tmp_path):
    findings = fixture_findings()
    engine.write_findings(findings, tmp_path)
    return tmp_path, findings


def test_staged_charts_read_back_exactly_and_are_placed_as_built_ones(run_folder):
    folder, findings = run_folder
    inst = fixture_instrument()
    built = charts.all_charts(findings, inst)
    staged_charts.mark_pending(folder)
    staged_charts.write(folder, built)
    assert not (folder / staged_charts.PENDING).exists()
    read = staged_charts.load(folder, findings, inst)
    assert len(read) == len(built)
    for a, b in zip(built, read, strict=True):
        _same(a, b)
    # NaN (a suppressed or empty bar's numbers) survives the JSON as NaN, not as 0 or None.
    assert any(c.data["numerator"].isna().any() for c in read)
    # The same charts in the same places as when the notebook builds its own.
    own = report.place_charts(findings, inst)
    staged = report.place_charts(findings, inst, folder)
    assert {k: [c.id for c in v] for k, v in own.items()} == {
        k: [c.id for c in v] for k, v in staged.items()
    }


def test_charts_staged_for_other_findings_are_not_used(run_folder):
    folder, findings = run_folder
    inst = fixture_instrument()
    built = charts.all_charts(findings, inst)
    staged_charts.write(folder, built[:1])
    # The findings file changes after the charts were staged: they are stale.
    with open(folder / "findings.csv", "a", encoding="utf-8") as f:
        f.write("\n")
    assert len(staged_charts.load(folder, findings, inst)) == len(built)


def test_no_staged_charts_means_the_notebook_builds_them(tmp_path):
    findings, inst = fixture_findings(), fixture_instrument()
    assert len(staged_charts.load(tmp_path, findings, inst)) == len(
        charts.all_charts(findings, inst)
    )
    assert len(staged_charts.load("", findings, inst)) == len(charts.all_charts(findings, inst))


def test_removed_before_the_outputs_are_committed(run_folder):
    folder, findings = run_folder
    staged_charts.mark_pending(folder)
    staged_charts.write(folder, charts.all_charts(findings, fixture_instrument()))
    staged_charts.remove(folder)
    assert not (folder / staged_charts.STAGED).exists()
    assert not (folder / staged_charts.PENDING).exists()


def test_charts_json_cannot_hold_are_not_staged(run_folder):
    import numpy as np

    folder, findings = run_folder
    inst = fixture_instrument()
    built = charts.all_charts(findings, inst)
    built[0].title = np.int64(3)  # not JSON: staging is skipped, the notebook builds its own
    staged_charts.mark_pending(folder)
    staged_charts.write(folder, built)
    assert not (folder / staged_charts.STAGED).exists()
    assert not (folder / staged_charts.PENDING).exists()
