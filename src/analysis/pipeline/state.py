"""The batch's memory of each organisation's last successful run, to skip what is up to date.

An organisation whose workbook, instrument, code (a hash of the ``analysis``
package sources and the notebooks) and run parameters are unchanged since its
last *successful* run needs no rerun. The hashes are kept in
``outputs/<trust>/.batch-state.json``, written only after success, so a failure
is always retried.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from analysis import config
from analysis.fileio import atomic_path
from analysis.pipeline.provenance import sha256_file

#: Name of the per-organisation state file (hidden: it is bookkeeping, not an output).
STATE_FILE = ".batch-state.json"
#: Bump when the state file's keys change meaning; an old state then never matches.
STATE_SCHEMA = 1
#: Outputs a successful trust run leaves (checked before skipping).
EXPECTED_OUTPUTS = ("report.html", "findings.parquet")


def _code_files(package_dir: Path, notebooks_dir: Path) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for p in sorted(package_dir.rglob("*")):
        # Only what can change a report: sources, instruments, profiles, templates, assets.
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"):
            files.append(("analysis/" + p.relative_to(package_dir).as_posix(), p))
    if notebooks_dir.is_dir():
        for p in sorted(notebooks_dir.glob("*.ipynb")):
            files.append(("notebooks/" + p.name, p))
    return files


def code_hash(package_dir: Path | None = None, notebooks_dir: Path | None = None) -> str:
    """Hash of the installed ``analysis`` package files and the notebooks.

    Any edit to the code, an instrument, a template or a notebook changes it,
    so every organisation is rerun after an upgrade. Paths are hashed with the
    contents so that renaming a file counts as a change.
    """
    package_dir = package_dir or config.PACKAGE_DIR
    notebooks_dir = notebooks_dir or config.NOTEBOOKS_DIR
    h = hashlib.sha256()
    for rel, path in _code_files(Path(package_dir), Path(notebooks_dir)):
        h.update(rel.encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def params_hash(parameters: dict[str, Any], audience: str) -> str:
    """Hash of the run parameters (a different audience or -f file is a different report)."""
    blob = json.dumps({"audience": audience, "parameters": parameters}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def current_state(
    workbook: Path,
    instrument: Path | None,
    parameters: dict[str, Any],
    audience: str,
    code: str,
) -> dict[str, Any]:
    """The state a successful run would record now.

    Parameters
    ----------
    workbook
        The organisation's case workbook.
    instrument
        Its instrument YAML; the default instrument when None.
    parameters, audience
        The run's notebook parameters and audience.
    code
        :func:`code_hash` (computed once per batch).

    Raises
    ------
    OSError
        When the workbook or instrument cannot be read.
    """
    return {
        "schema": STATE_SCHEMA,
        "input_sha256": sha256_file(workbook),
        "instrument_sha256": sha256_file(instrument or config.DEFAULT_INSTRUMENT),
        "code_sha256": code,
        "params_sha256": params_hash(parameters, audience),
    }


def read_state(out_dir: Path) -> dict[str, Any]:
    """The recorded state of the last successful run, or {} (missing or unreadable)."""
    try:
        return json.loads((Path(out_dir) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_state(out_dir: Path, state: dict[str, Any]) -> Path:
    """Record a successful run atomically (a crash mid-write must not look like success)."""
    path = Path(out_dir) / STATE_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def clear_state(out_dir: Path) -> None:
    """Forget the last successful run (before a new one: if it fails, it is retried)."""
    (Path(out_dir) / STATE_FILE).unlink(missing_ok=True)


_KEY_WORDS = {
    "schema": "batch state format changed",
    "input_sha256": "workbook changed",
    "instrument_sha256": "instrument changed",
    "code_sha256": "code or notebooks changed",
    "params_sha256": "parameters changed",
}


def why_run(out_dir: Path, state: dict[str, Any], expected_outputs: Iterable[str]) -> str | None:
    """Why an organisation must be (re)run, or None when it is up to date.

    Parameters
    ----------
    out_dir
        The organisation's output folder.
    state
        :func:`current_state` for this run.
    expected_outputs
        Files (relative to ``out_dir``) a successful run leaves; a deleted
        output forces a rerun even when nothing else changed.
    """
    old = read_state(out_dir)
    if not old:
        return "no previous successful run"
    for key, words in _KEY_WORDS.items():
        if old.get(key) != state.get(key):
            return words
    missing = [f for f in expected_outputs if not (Path(out_dir) / f).exists()]
    if missing:
        return f"output missing: {missing[0]}"
    return None
