"""Which organisation a workbook is for, when the user does not say (``report x.xlsx``).

The workbook's ``trust`` column decides when it names one organisation (``Norfolk &
Suffolk`` names ``norfolk-and-suffolk``); otherwise the file's name, slugified, does
(``My Trust 2024.xlsx`` -> ``my-trust-2024``), which then names the report and its
folder, so the command says which it used. Reading the column is a quick look, not a
validation: a workbook that cannot be read here falls back to its name, and ingest then
reports every problem it has, as it would with ``--trust``. A trust column naming several
organisations falls back to the name too, and ingest refuses the rows naming another.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from analysis.errors import UserError
from analysis.ingest.checks import slug
from analysis.ingest.guards import DEFAULT_LIMITS, Limits
from analysis.ingest.header import case_frame, locate_header
from analysis.ingest.normalise import clean_text
from analysis.ingest.problems import IngestError, Report
from analysis.ingest.read import TRUST_SLUG
from analysis.ingest.readers import read_grid
from analysis.instrument import Instrument, load_instrument


@dataclass(frozen=True)
class Organisation:
    """An organisation slug and where it was taken from."""

    slug: str
    #: ``trust column`` or ``file name``.
    source: str
    #: Why the trust column did not decide, when it did not ("" otherwise).
    note: str = ""

    def describe(self) -> str:
        """``organisation: x (from the workbook's trust column)``, for the terminal."""
        # The file name becomes the report's title and folder: say so, since a file is
        # often named after a person rather than an organisation.
        where = (
            "from the workbook's trust column"
            if self.source == "trust column"
            else "from the file name, which names the report and its folder"
        )
        note = f"; {self.note}" if self.note else ""
        return f"organisation: {self.slug} ({where}{note}; --trust SLUG names another)"


def trust_column_values(
    path: Path, inst: Instrument, sheet: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> list[str]:
    """The distinct organisation slugs the ``trust`` column spells, in order of first use.

    Raises
    ------
    IngestError
        When the workbook cannot be read (damaged, empty, hostile, no header row).
    """
    rep = Report(path.name)
    grid = read_grid(path, sheet, rep, limits)
    mapping = locate_header(grid.cells, inst, grid.merged, rep)
    if "trust" not in mapping.values():
        return []
    raw = case_frame(grid.cells, mapping, rep)
    seen: dict[str, None] = {}
    for value in raw["trust"]:
        text = clean_text(value)
        if text is not None and (s := slug(text)):
            seen.setdefault(s, None)
    return list(seen)


def organisation_of(
    path: str | Path,
    instrument: Instrument | str | Path | None = None,
    sheet: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Organisation:
    """The organisation a workbook is for: its ``trust`` column's, else its file name's.

    Raises
    ------
    UserError
        When neither gives a valid organisation slug (a name of symbols only, say).
    """
    path = Path(path)
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    note = ""
    try:
        named = trust_column_values(path, inst, sheet, limits)
    except IngestError:
        named = []  # ingest reports the problems in full
    if len(named) == 1 and TRUST_SLUG.fullmatch(named[0]):
        return Organisation(named[0], "trust column")
    if len(named) > 1:
        note = f"the trust column names {len(named)} organisations"
    by_name = slug(path.stem)
    if not TRUST_SLUG.fullmatch(by_name):
        raise UserError(
            f"cannot tell which organisation {path.name} is for: its trust column does not "
            "name one and its file name spells no slug; name it with --trust SLUG "
            "(lowercase letters, digits and hyphens, e.g. norfolk-and-suffolk)"
        )
    return Organisation(by_name, "file name", note)
