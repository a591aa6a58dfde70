"""The exported report renders every chart in a headless browser with NO network.

Skipped when Chromium is not installed, except on CI (``CI=true``), where a
missing browser is a failure: the offline rendering is the report's main promise.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from fixtures_findings import FIXTURE_INSTRUMENT_YAML, fixture_findings
from helpers import browser

from analysis import config
from analysis.engine import run as engine
from analysis.render.export import export_html

pytestmark = pytest.mark.browser

XSS_LDU = "<script>alert(1)</script>"


def _browser(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    return browser.run(
        url, profile, "--virtual-time-budget=15000", *extra, isolate=True, timeout=180
    )


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    """A report exported from the fixture findings, with a hostile LDU name."""
    import papermill as pm

    browser.chromium()  # skip (or fail on CI) before the slow part
    tmp = tmp_path_factory.mktemp("browser")
    df = fixture_findings()
    df.loc[df["group"] == "Norwich", "group"] = XSS_LDU
    engine.write_findings(df, tmp)
    inst = tmp / "fixture.yaml"
    inst.write_text(FIXTURE_INSTRUMENT_YAML, encoding="utf-8")
    pm.execute_notebook(
        str(config.NOTEBOOKS_DIR / "10_report.ipynb"),
        str(tmp / "report.ipynb"),
        parameters={"out_dir": str(tmp), "instrument_path": str(inst)},
        kernel_name="python3",
        progress_bar=False,
    )
    return export_html(tmp / "report.ipynb", tmp / "report.html", title="Browser test").path


def _rendered_charts(dom: str) -> int:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(dom, "html.parser")
    return sum(
        1 for div in soup.select("div.js-plotly-plot") if div.select_one("svg.main-svg") is not None
    )


def test_every_chart_renders_offline(report_html, tmp_path):
    html = report_html.read_text(encoding="utf-8")
    expected = int(re.search(r'name="analysis-chart-count" content="(\d+)"', html).group(1))
    assert expected > 5
    res = _browser(report_html.as_uri(), tmp_path / "profile", "--dump-dom")
    assert res.returncode == 0, res.stderr[-2000:]
    assert _rendered_charts(res.stdout) == expected
    # The hostile LDU stayed text: no script element was created from it.
    assert "<script>alert(1)</script>" not in res.stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in res.stdout


def test_screenshot(report_html, tmp_path):
    shot = tmp_path / "report.png"
    res = _browser(
        report_html.as_uri(),
        tmp_path / "profile",
        "--hide-scrollbars",
        "--window-size=1280,4000",
        f"--screenshot={shot}",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 50_000  # a blank page is a few kB
