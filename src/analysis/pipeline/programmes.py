"""Which programme's instrument a workbook is run against, when the user does not say.

A workbook made for another programme than the default says so on its ``settings`` sheet
(``instrument | <id>``); the template and the demo-data generator write that row. The id
names a file of ``src/analysis/instrument/programmes/``; ``--instrument`` overrides it.
"""

from __future__ import annotations

import re
from pathlib import Path

from analysis import config, ingest
from analysis.engine.findings import read_context
from analysis.errors import UserError

#: An instrument id a settings sheet may name: a file name in the programmes folder.
_PROGRAMME_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


def programme_file(workbook: str | Path) -> Path | None:
    """The instrument file of the programme a workbook declares, or None (the default's).

    The declaration is read by :func:`analysis.ingest.declared_instrument`.

    Raises
    ------
    UserError
        When the id names no programme (the known ones are listed).
    """
    declared = ingest.declared_instrument(workbook)
    if declared is None:
        return None
    path = config.INSTRUMENTS_DIR / f"{declared}.yaml"
    if not _PROGRAMME_ID.fullmatch(declared) or not path.is_file():
        # (Scales live in wording/ beneath, so every *.yaml here is a programme.)
        known = ", ".join(sorted(p.stem for p in config.INSTRUMENTS_DIR.glob("*.yaml")))
        raise UserError(
            f"{Path(workbook).name}: its settings sheet names instrument {declared!r}, which "
            f"is none of the programmes ({known}); correct it, or pass --instrument FILE"
        )
    return path


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
