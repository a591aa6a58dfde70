"""Which programme's instrument a workbook is run against, when the user does not say.

A workbook made for another programme than the default says so on its ``settings`` sheet
(``instrument | <id>``); the template and the demo-data generator write that row. The id
names a file of ``src/analysis/instrument/programmes/``; ``--instrument`` overrides it.
"""

from __future__ import annotations

from pathlib import Path

from analysis import config
from analysis.engine.findings import read_context
from analysis.ingest import PROGRAMME_ID as _PROGRAMME_ID
from analysis.ingest import programme_file

__all__ = ["notebook_instrument", "programme_file"]


def notebook_instrument(
    trust: str, instrument_path: str | Path | None = None, out_dir: str | Path | None = None
) -> Path | None:
    """The instrument a notebook works with for ``trust`` when its parameter is empty.

    ``instrument_path`` when given; else the programme the organisation's findings were
    computed with (their context names it, and it is a shipped programme); else the one
    its workbook ``data/raw/<trust>.xlsx`` declares; else None (the default instrument).
    """
    if instrument_path:
        return Path(instrument_path)
    out = Path(out_dir) if out_dir else config.trust_output_dir(trust)
    if (out / "findings.meta.json").is_file():
        try:
            found = read_context(out).instrument_id
        except Exception:  # noqa: BLE001 - an unreadable context is reported by load_findings
            found = None
        path = config.INSTRUMENTS_DIR / f"{found}.yaml"
        if found and _PROGRAMME_ID.fullmatch(found) and path.is_file():
            return None if path.resolve() == config.DEFAULT_INSTRUMENT.resolve() else path
    workbook = config.RAW_DIR / f"{trust}.xlsx"
    return programme_file(workbook) if workbook.is_file() else None
