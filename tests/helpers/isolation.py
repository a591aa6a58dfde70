"""Tests never touch the checkout's data/ or outputs/: temporary folders, and a check.

Used by the repository's root ``conftest.py`` (so that both pytest runs of ``make test``,
the suite and the notebooks under nbval, are covered). Before anything imports
:mod:`analysis.config`, which reads the settings once, at import time, every pytest
session points ``ANALYSIS_RAW_DIR``, ``ANALYSIS_PROCESSED_DIR`` and
``ANALYSIS_OUTPUTS_DIR`` at folders of its own under one temporary folder, whatever they
said before (they may name a user's real folders elsewhere). Processes the tests start,
notebook kernels, ``make`` and the xdist workers inherit them; a worker, or a pytest
started by a test, reuses its parent's folders (``ANALYSIS_TEST_SESSION_DIR``).

The demo workbooks the notebooks read are copied in from ``ANALYSIS_TEST_DEMO_DIR``
(``make test`` writes them to ``build/test-demo``, never to ``data/raw``).

At the end, the checkout's ``data/`` and ``outputs/`` are compared with a snapshot taken
at the start (every path, its size and modification time); any difference fails the run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

#: The settings pointed at the session's folders, and each folder's name.
SETTINGS = {
    "ANALYSIS_RAW_DIR": "raw",
    "ANALYSIS_PROCESSED_DIR": "processed",
    "ANALYSIS_OUTPUTS_DIR": "outputs",
}
#: Set to the session's temporary folder, for the processes it starts.
SESSION_VAR = "ANALYSIS_TEST_SESSION_DIR"
#: A folder of demo workbooks to copy into the session's raw folder.
DEMO_VAR = "ANALYSIS_TEST_DEMO_DIR"

Snapshot = dict[str, tuple[int, int]]


def isolate(environ: dict[str, str] | None = None) -> Path | None:
    """Point the settings at a session's temporary folders; return it if this call made it.

    None when a parent process (the xdist controller, a pytest running this one) made
    it: its folders are reused and it removes them.
    """
    environ = os.environ if environ is None else environ
    inherited = environ.get(SESSION_VAR)
    if inherited and Path(inherited).is_dir():
        if all(environ.get(var) == str(Path(inherited) / name) for var, name in SETTINGS.items()):
            return None
    session = Path(tempfile.mkdtemp(prefix="analysis-tests-"))
    environ[SESSION_VAR] = str(session)
    for var, name in SETTINGS.items():
        (session / name).mkdir()
        environ[var] = str(session / name)
    demo = environ.get(DEMO_VAR)
    if demo and Path(demo).is_dir():
        for p in Path(demo).iterdir():
            if p.is_file() and (p.suffix == ".xlsx" or p.name == ".demo-data.json"):
                shutil.copy2(p, session / "raw" / p.name)
    return session


def snapshot(folders: list[Path]) -> Snapshot:
    """Every path under ``folders`` (the folders included): its size and modification time."""
    out: Snapshot = {}
    for folder in folders:
        if not folder.exists():
            continue
        for p in [folder, *folder.rglob("*")]:
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue  # removed while we looked: the next snapshot tells
            size = 0 if p.is_dir() else st.st_size
            out[str(p)] = (size, st.st_mtime_ns)
    return out


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What differs between two snapshots, one line per path: added, removed, changed."""
    lines = [f"added: {p}" for p in sorted(after.keys() - before.keys())]
    lines += [f"removed: {p}" for p in sorted(before.keys() - after.keys())]
    lines += [
        f"changed: {p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]
    ]
    return lines


def inside(path: str | Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or under it (both resolved)."""
    return Path(path).resolve().is_relative_to(folder.resolve())
