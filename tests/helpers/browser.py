"""Headless Chromium for the browser tests: find it, run it offline, measure a page.

A missing browser skips the test, except on CI (``CI=true``), where it is a failure.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")

#: Injected before ``</body>``: once the charts are drawn, writes what the page measures
#: (viewport and page widths, every value label's box against its chart's SVG) into
#: ``<pre id="measure">`` for ``--dump-dom`` to return.
MEASURE_JS = """
<script>
setTimeout(function () {
  var d = document.documentElement;
  var out = {vw: window.innerWidth, cw: d.clientWidth, sw: d.scrollWidth,
             bw: document.body.scrollWidth, charts: 0, labels: 0, outside: [], wide: []};
  document.querySelectorAll(".js-plotly-plot").forEach(function (el) {
    var svg = el.querySelector("svg.main-svg");
    if (!svg) return;
    out.charts++;
    var b = svg.getBoundingClientRect();
    el.querySelectorAll("g.textpoint text").forEach(function (t) {
      if (!t.textContent.trim()) return;
      out.labels++;
      var r = t.getBoundingClientRect();
      if (r.width === 0 || r.left < b.left - 0.5 || r.right > b.right + 0.5 ||
          r.top < b.top - 0.5 || r.bottom > b.bottom + 0.5) {
        out.outside.push([el.id, t.textContent, Math.round(r.right - b.right)]);
      }
    });
  });
  document.querySelectorAll("body *").forEach(function (e) {
    if (e.closest(".table-scroll")) return;
    var r = e.getBoundingClientRect();
    if (r.right > d.clientWidth + 1) out.wide.push(e.tagName + "." + e.className + " " + r.right);
  });
  out.wide = out.wide.slice(0, 10);
  var pre = document.createElement("pre");
  pre.id = "measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
  if (window.parent !== window) window.parent.postMessage(JSON.stringify(out), "*");
}, 12000);
</script>
"""
#: Headless Chromium's windows are at least 500 px wide, so a narrower viewport is an
#: iframe of that width; the page inside posts its measurements up to this frame.
FRAME_PAGE = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="{src}" style="width:{width}px;height:{height}px;border:0;display:block"></iframe>
<script>
window.addEventListener("message", function (e) {{
  var pre = document.createElement("pre");
  pre.id = "measure";
  pre.textContent = e.data;
  document.body.appendChild(pre);
}});
</script></body></html>
"""
#: The narrowest window headless Chromium opens (px).
MIN_WINDOW = 500


def framed(page: Path, width: int, height: int = 1000, anchor: str = "") -> Path:
    """A page showing ``page`` in an iframe ``width`` px wide (for viewports under 500 px)."""
    src = page.name + (f"#{anchor}" if anchor else "")
    out = page.with_name(f"frame-{width}-{anchor or 'top'}-{page.name}")
    out.write_text(FRAME_PAGE.format(src=src, width=width, height=height), encoding="utf-8")
    return out


def chromium() -> str:
    """The browser's path; skips the test without one (fails it when ``CI=true``)."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    msg = "headless Chromium not found (install it: apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(msg + "; CI=true, so the browser test must run")
    pytest.skip(msg)


def no_network_prefix() -> list[str]:
    """Run in a fresh network namespace (no interfaces but loopback) when the OS allows it."""
    unshare = shutil.which("unshare")
    if unshare:
        ok = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=20)
        if ok.returncode == 0:
            return [unshare, "-rn"]
    return []


def run(
    url: str, profile: Path, *extra: str, isolate: bool = False, timeout: int = 240
) -> subprocess.CompletedProcess:
    """Run headless Chromium on ``url`` with every host name unresolvable (no network).

    ``isolate`` also runs it in a network namespace of its own where the OS allows
    (:func:`no_network_prefix`).
    """
    cmd = [
        *(no_network_prefix() if isolate else []),
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        # Every host name fails, and any request that still went out would hit a closed
        # local port.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        f"--user-data-dir={profile}",
        *extra,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def measure(html: Path, width: int, tmp: Path) -> dict:
    """Open a copy of ``html`` at ``width`` px and return what :data:`MEASURE_JS` measured."""
    page = tmp / f"measure-{width}-{html.name}"
    text = html.read_text(encoding="utf-8")
    page.write_text(text.replace("</body>", MEASURE_JS + "</body>", 1), encoding="utf-8")
    url = (framed(page, width) if width < MIN_WINDOW else page).as_uri()
    res = run(
        url,
        tmp / f"profile-{width}",
        "--hide-scrollbars",
        "--allow-file-access-from-files",
        f"--window-size={max(width, MIN_WINDOW)},1000",
        "--virtual-time-budget=20000",
        "--dump-dom",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    found = re.search(r'<pre id="measure">(.*?)</pre>', res.stdout, flags=re.S)
    assert found, "the page did not finish measuring: " + res.stderr[-1000:]
    return json.loads(html_lib.unescape(found.group(1)))
