"""The memory of each organisation's last successful run, so a batch skips what is up to date.

An organisation whose workbook, instrument, code (the ``analysis`` package's files,
and the notebooks' cells) and run parameters are unchanged since its last
*successful* run needs no rerun. The hashes are kept in
``outputs/<trust>/.batch-state.json``, written by every successful run, ``report`` as
well as ``batch``, and only after success, so a failure is always retried.

A notebook counts by what it runs and shows, not by what JupyterLab saves around it:
its code cells, and any markdown cell the report shows (not tagged ``report-hide``),
each with trailing whitespace stripped; outputs, execution counts, cell ids and
metadata are ignored (:func:`notebook_digest`). Each file's hash is recorded, so
:func:`why_run` can say which changed ("notebook 10_report.ipynb changed").
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
#: 2: notebooks hashed on their cells' source only, and each code file's hash recorded.
STATE_SCHEMA = 2
#: Markdown cells with this tag stay out of the report (analysis.render.export), so out of
#: the hash too.
HIDDEN_TAG = "report-hide"
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


def notebook_digest(text: str) -> str:
    """sha256 of what a notebook runs and shows: its cells' source, normalised.

    Code cells, and markdown cells not tagged ``report-hide``, in order, each as its
    type and its lines with trailing whitespace stripped (and no trailing blank lines).
    Outputs, execution counts, cell ids, notebook and cell metadata are left out, so
    JupyterLab saving a notebook it ran, or a changed kernel name, is no change. Text
    that is not a notebook is hashed as it is.
    """
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return hashlib.sha256(text.encode()).hexdigest()
    kept = []
    for cell in cells if isinstance(cells, list) else []:
        kind = cell.get("cell_type")
        tags = cell.get("metadata", {}).get("tags", [])
        if kind == "code" or (kind == "markdown" and HIDDEN_TAG not in tags):
            src = cell.get("source", "")
            src = "".join(src) if isinstance(src, list) else str(src)
            lines = [line.rstrip() for line in src.splitlines()]
            kept.append([kind, "\n".join(lines).rstrip("\n")])
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()


def code_digests(
    package_dir: Path | None = None, notebooks_dir: Path | None = None
) -> dict[str, str]:
    """sha256 of each file of the installed ``analysis`` package and of each notebook.

    Keyed ``analysis/<path>`` and ``notebooks/<name>``; a notebook by
    :func:`notebook_digest`, every other file by its bytes.
    """
    package_dir = package_dir or config.PACKAGE_DIR
    notebooks_dir = notebooks_dir or config.NOTEBOOKS_DIR
    out = {}
    for rel, path in _code_files(Path(package_dir), Path(notebooks_dir)):
        if path.suffix == ".ipynb":
            out[rel] = notebook_digest(path.read_text(encoding="utf-8", errors="replace"))
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def digests_hash(digests: dict[str, str]) -> str:
    """One hash of :func:`code_digests` (paths with contents: a renamed file is a change)."""
    h = hashlib.sha256()
    for rel in sorted(digests):
        h.update(rel.encode() + b"\0" + digests[rel].encode() + b"\0")
    return h.hexdigest()


def code_hash(package_dir: Path | None = None, notebooks_dir: Path | None = None) -> str:
    """Hash of the installed ``analysis`` package files and the notebooks' cells.

    Any edit to the code, an instrument, a template or a notebook's cells changes it,
    so every organisation is rerun after an upgrade.
    """
    return digests_hash(code_digests(package_dir, notebooks_dir))


def params_hash(parameters: dict[str, Any], audience: str) -> str:
    """Hash of the run parameters (a different audience or -f file is a different report)."""
    blob = json.dumps({"audience": audience, "parameters": parameters}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def current_state(
    workbook: Path,
    instrument: Path | None,
    parameters: dict[str, Any],
    audience: str,
    code: dict[str, str] | str,
    standard_ratings: Path | None = None,
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
        :func:`code_digests` (computed once per batch), so that :func:`why_run` can
        name the files that changed; or just a :func:`code_hash`.
    standard_ratings
        The inspectors' ratings file the run reads, if any (its sha256 is recorded).

    Raises
    ------
    OSError
        When the workbook or instrument cannot be read.
    """
    state = {
        "schema": STATE_SCHEMA,
        "input_sha256": sha256_file(workbook),
        "instrument_sha256": sha256_file(instrument or config.DEFAULT_INSTRUMENT),
        "code_sha256": code if isinstance(code, str) else digests_hash(code),
        "params_sha256": params_hash(parameters, audience),
    }
    if standard_ratings is not None:
        # Only with a file: a state recorded before the key existed still matches.
        state["standard_ratings_sha256"] = sha256_file(standard_ratings)
    if not isinstance(code, str):
        state["code_files"] = dict(sorted(code.items()))
    return state


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
    "standard_ratings_sha256": "standards ratings file changed",
}
#: At most this many changed files are named; the rest are counted.
NAMED_FILES = 3


def changed_code(old: dict[str, str], new: dict[str, str]) -> str:
    """Which code files differ, in words: ``notebook 10_report.ipynb changed``.

    Examples
    --------
    >>> changed_code({"notebooks/10_report.ipynb": "a"}, {"notebooks/10_report.ipynb": "b"})
    'notebook 10_report.ipynb changed'
    >>> changed_code({"analysis/a.py": "a"}, {"analysis/a.py": "a", "analysis/b.py": "b"})
    'code changed (analysis/b.py)'
    """
    files = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    notebooks = [f.removeprefix("notebooks/") for f in files if f.startswith("notebooks/")]
    code = [f for f in files if not f.startswith("notebooks/")]
    parts = []
    if notebooks:
        parts.append(f"notebook{'s' if len(notebooks) > 1 else ''} {_some(notebooks)} changed")
    if code:
        parts.append(f"code changed ({_some(code)})")
    return "; ".join(parts) or _KEY_WORDS["code_sha256"]


def _some(names: list[str]) -> str:
    more = len(names) - NAMED_FILES
    return ", ".join(names[:NAMED_FILES]) + (f" and {more} more" if more > 0 else "")


def why_run(out_dir: Path, state: dict[str, Any], expected_outputs: Iterable[str]) -> str | None:
    """Why an organisation must be (re)run, or None when it is up to date.

    ``first run`` (no output folder yet), ``no successful run recorded`` (outputs but no
    state: the last run failed, or predates the record), ``workbook changed``,
    ``instrument changed``, ``notebook 10_report.ipynb changed``, ``code changed
    (analysis/...)``, ``parameters changed``, ``standards ratings file changed`` or
    ``output missing: report.html``.

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
        return "first run" if not Path(out_dir).exists() else "no successful run recorded"
    for key, words in _KEY_WORDS.items():
        if old.get(key) != state.get(key):
            if key == "code_sha256" and "code_files" in old and "code_files" in state:
                return changed_code(old["code_files"], state["code_files"])
            return words
    missing = [f for f in expected_outputs if not (Path(out_dir) / f).exists()]
    if missing:
        return f"output missing: {missing[0]}"
    return None
