"""A report on paper: ``report.html`` printed to an A4 ``report.pdf`` by headless Chromium.

``python -m analysis pdf [--trust SLUG | HTML]`` (``make pdf``). The page size, margins
and what is kept together come from the report's print stylesheet (``@page { size: A4 }``
in ``assets/report.css``); Chromium only prints, with no header or footer of its own.
The browser lays the page out at the width of A4's printable area, so the charts
(drawn by JavaScript at the window's width) fit the paper as drawn. Nothing is fetched:
the report is self-contained.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from analysis import config
from analysis.errors import UserError
from analysis.fileio import atomic_path

#: Browser executables tried in order.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Width (px at 96 dpi) of A4's printable area with the stylesheet's 12 mm side margins.
PRINT_WIDTH = round((210 - 2 * 12) / 25.4 * 96)
#: Virtual time (ms) the page's scripts get to draw every chart before printing.
SCRIPT_BUDGET_MS = 30_000
#: Longest the browser may take (s).
TIMEOUT = 300


def find_chromium() -> str:
    """The headless browser's path.

    Raises
    ------
    UserError
        When no Chromium or Chrome is on the PATH, saying how to install one.
    """
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise UserError(
        "printing the report to PDF needs headless Chromium, and none was found on the PATH "
        f"(looked for {', '.join(CHROMIUM_NAMES)}): install it (Debian/Ubuntu: "
        "`apt-get install chromium`; macOS: `brew install --cask chromium`), or open "
        "report.html in a browser and print it to PDF there"
    )


def chromium_command(browser: str, html: Path, pdf: Path, profile: Path) -> list[str]:
    """The command printing ``html`` to ``pdf`` (a throwaway ``profile`` folder)."""
    cmd = [
        browser,
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={PRINT_WIDTH},1200",
        f"--virtual-time-budget={SCRIPT_BUDGET_MS}",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        html.resolve().as_uri(),
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium refuses to start its sandbox as root (containers, CI).
        cmd.insert(1, "--no-sandbox")
    return cmd


def write_pdf(html: str | Path, pdf: str | Path | None = None) -> Path:
    """Print a report's HTML to PDF, atomically (an old PDF stays until the new one is whole).

    Parameters
    ----------
    html
        The exported ``report.html``.
    pdf
        Where to write; ``report.pdf`` beside the HTML when omitted.

    Raises
    ------
    UserError
        When the HTML is missing, no browser is found, or the browser fails.
    """
    html = Path(html)
    if not html.is_file():
        raise UserError(f"no report at {html}: run `python -m analysis report` first")
    pdf = Path(pdf) if pdf else html.with_suffix(".pdf")
    browser = find_chromium()
    with tempfile.TemporaryDirectory(prefix="analysis-pdf-") as profile, atomic_path(pdf) as tmp:
        try:
            res = subprocess.run(
                chromium_command(browser, html, tmp, Path(profile)),
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise UserError(f"{browser} did not print {html} within {TIMEOUT} s") from None
        if res.returncode != 0 or not tmp.is_file() or tmp.read_bytes()[:5] != b"%PDF-":
            tail = (res.stderr or "").strip().splitlines()[-5:]
            raise UserError(
                f"{browser} could not print {html} to PDF (exit {res.returncode})"
                + (": " + " / ".join(tail) if tail else "")
            )
    return pdf


def add_cli(parser: argparse.ArgumentParser) -> None:
    """Declare the ``pdf`` command's arguments."""
    parser.add_argument(
        "html",
        nargs="?",
        type=Path,
        help="report HTML to print (default: outputs/<trust>/report.html)",
    )
    parser.add_argument(
        "--trust",
        default=config.DEFAULT_TRUST,
        help="organisation slug, or `aggregate` (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, help="PDF to write (default: report.pdf beside it)")


def cli(args: argparse.Namespace) -> int:
    """Print the report to PDF and print the PDF's path."""
    html = args.html or config.trust_output_dir(args.trust) / "report.html"
    print(write_pdf(html, args.out))
    return 0
