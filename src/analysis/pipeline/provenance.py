"""Provenance of one report run: what went in, which code and instrument, when.

Run times and file hashes are written ONLY to ``outputs/<trust>/provenance.json``
(and shown in the report's last appendix), never into ``findings.csv`` or
``tables.xlsx``, so that those two files are byte-identical when the same
workbook is analysed twice.
"""

from __future__ import annotations

import json
import platform
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from analysis.fileio import atomic_path, sha256_file

#: Bump when the keys of provenance.json change meaning.
PROVENANCE_SCHEMA = 2
#: What provenance.json says of the input instead of its name, which may name a person
#: (workbooks are often saved as the inspector's or the case holder's name).
INPUT_FILE = "the workbook supplied"


def package_version() -> str:
    """Installed version of the ``analysis`` package ("unknown" outside an install)."""
    try:
        return metadata.version("analysis")
    except metadata.PackageNotFoundError:
        return "unknown"


def now_utc() -> str:
    """Current time, UTC, ISO 8601 to the second (what the report shows)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def build_provenance(
    *,
    input_path: str | Path | None,
    instrument: Any,
    parameters: dict[str, Any],
    started: str | None = None,
    rule_warnings: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Describe one run.

    Parameters
    ----------
    input_path
        The case workbook that was ingested (None when the run started from findings).
    instrument
        The loaded :class:`analysis.instrument.Instrument`.
    parameters
        The run's parameters (trust, audience, ...); must be JSON-serialisable.
    started
        ISO time the run started; now when omitted.
    rule_warnings
        Cases of the input breaking each consistency rule of severity warning (rule id ->
        count), from ingest. Recorded as ``consistency_warnings``: counts and rule ids only,
        never case ids or rows.

    Returns
    -------
    dict
        JSON-serialisable provenance record. The input is identified by its sha256
        alone: neither its name nor its folder is kept, because either can identify
        people (a workbook saved under a name, a home directory).
    """
    record: dict[str, Any] = {
        "schema": PROVENANCE_SCHEMA,
        "started": started or now_utc(),
        "finished": None,
        "duration_seconds": None,
        "input_file": None,
        "input_sha256": None,
        "instrument_id": instrument.id,
        "instrument_version": instrument.version,
        "instrument_file": Path(instrument.path).name,
        "instrument_sha256": instrument.sha256,
        "package_version": package_version(),
        "python_version": platform.python_version(),
        "parameters": dict(parameters),
        "consistency_warnings": {
            "total": sum((rule_warnings or {}).values()),
            "rules": dict(sorted((rule_warnings or {}).items())),
        },
        "outputs": {},
    }
    if input_path is not None:
        record["input_file"] = INPUT_FILE
        record["input_sha256"] = sha256_file(input_path)
    return record


def finish_provenance(
    record: dict[str, Any], out_dir: str | Path, started_monotonic: float | None = None
) -> dict[str, Any]:
    """Stamp the finish time and the sha256 of every output file in ``out_dir``.

    Parameters
    ----------
    record
        The record from :func:`build_provenance` (updated in place and returned).
    out_dir
        The folder holding the run's outputs; provenance.json itself is skipped.
    started_monotonic
        ``time.monotonic()`` at the start of the run, to record the duration.
    """
    record["finished"] = now_utc()
    if started_monotonic is not None:
        record["duration_seconds"] = round(time.monotonic() - started_monotonic, 1)
    out_dir = Path(out_dir)
    outputs = {}
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(out_dir).as_posix()
        if rel != "provenance.json":
            outputs[rel] = sha256_file(path)
    record["outputs"] = outputs
    return record


def write_provenance(record: dict[str, Any], out_dir: str | Path) -> Path:
    """Write ``provenance.json`` into ``out_dir`` (atomically: temp file then rename)."""
    path = Path(out_dir) / "provenance.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_provenance(out_dir: str | Path) -> dict[str, Any]:
    """The provenance record in ``out_dir``, or an empty dict when there is none."""
    path = Path(out_dir) / "provenance.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))
