"""Every pytest run here works in temporary folders, never the checkout's data/ or outputs/.

That is the suite, the docstrings and the notebooks under nbval alike (see
tests/helpers/isolation.py). This runs before anything imports analysis.config, which
reads the ANALYSIS_* settings once, at import time.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers.isolation import changes, isolate, snapshot  # noqa: E402

#: The user's folders no test may touch.
GUARDED = [ROOT / "data", ROOT / "outputs"]

_SESSION = isolate()  # None in an xdist worker: the controller made the folders
_BEFORE = snapshot(GUARDED)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if the checkout's data/ or outputs/ changed while it ran."""
    if hasattr(session.config, "workerinput"):
        return  # the controller checks, once, over the whole run
    found = changes(_BEFORE, snapshot(GUARDED))
    if found:
        shown = "\n  ".join(found[:20]) + ("\n  ..." if len(found) > 20 else "")
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (
            "the tests changed the checkout's data/ or outputs/ (they must use the "
            f"ANALYSIS_* temporary folders; or something else wrote there meanwhile):\n  {shown}"
        )
        if reporter is not None:
            reporter.write_line(f"ERROR: {message}", red=True, bold=True)
        else:
            print(f"ERROR: {message}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's temporary folders (only in the process that made them)."""
    if _SESSION is not None:
        shutil.rmtree(_SESSION, ignore_errors=True)
