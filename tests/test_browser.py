"""The exported report renders every chart in a headless browser with NO network.

Skipped when Chromium is not installed, except on CI (``CI=true``), where a
missing browser is a failure: the offline rendering is the report's main promise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fixtures_findings import FIXTURE_INSTRUMENT_YAML, fixture_findings

from analysis import config
from analysis.engine import run as engine
from analysis.render.export import export_html

pytestmark = pytest.mark.browser

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")
XSS_LDU = "<script>alert(1)</script>"


def _chromium() -> str:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    msg = "headless Chromium not found (install it: apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(msg + "; CI=true, so the browser test must run")
    pytest.skip(msg)


def _no_network_prefix() -> list[str]:
    """Run in a fresh network namespace (no interfaces but loopback) when the OS allows it."""
    unshare = shutil.which("unshare")
    if unshare:
        ok = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=20)
        if ok.returncode == 0:
            return [unshare, "-rn"]
    return []


def _browser(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        *_no_network_prefix(),
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        # Even without a network namespace, every host name fails and any request that
        # still went out would hit a closed local port.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        *extra,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    """A report exported from the fixture findings, with a hostile LDU name."""
    import papermill as pm

    _chromium()  # skip (or fail on CI) before the slow part
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
