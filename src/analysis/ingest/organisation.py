"""Which organisation a workbook is for, when the user does not say (``report x.xlsx``).

The workbook's ``trust`` column decides when it names one organisation (``Norfolk &
Suffolk`` names ``norfolk-and-suffolk``). Otherwise the run gets a neutral name made from
the first eight hex digits of the workbook's sha256 (``workbook-3fa2c1d9``), never from its
file name: a file is often named after a person (``jane-smith-cases.xlsx``), and the slug
names the output folder, the report's title and its provenance. The name is stable (the
same bytes give the same name, whatever the file is called), and the command says how to
give a real one (``--trust NAME`` or a ``trust`` column). Reading the column is a quick
look, not a validation: a workbook that cannot be read here gets the neutral name, and
ingest then reports every problem it has, as it would with ``--trust``. A trust column
naming several organisations gets it too, and ingest refuses the rows naming another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from analysis import config
from analysis.errors import UserError
from analysis.fileio import sha256_file
from analysis.ingest.checks import TRUST_SLUG, slug
from analysis.ingest.guards import DEFAULT_LIMITS, Limits
from analysis.ingest.header import case_frame, locate_header
from analysis.ingest.normalise import clean_text
from analysis.ingest.problems import IngestError, Report
from analysis.ingest.readers import read_grid, shorten
from analysis.instrument import Instrument, load_instrument


@dataclass(frozen=True)
class Organisation:
    """An organisation slug and where it was taken from."""

    slug: str
    #: ``trust column``, or ``workbook sha256`` (the neutral name, :data:`NEUTRAL_PREFIX`).
    source: str
    #: Why the trust column did not decide, when it did not ("" otherwise).
    note: str = ""

    def describe(self) -> str:
        """``organisation: x (from the workbook's trust column; ...)``, for the terminal."""
        note = f"; {self.note}" if self.note else ""
        if self.source == "trust column":
            where = f"from the workbook's trust column{note}"
            return f"organisation: {self.slug} ({where}; --trust SLUG names another)"
        # The neutral name becomes the output folder and the report's title: say how to
        # give the organisation's own, since the file's name is never used.
        return (
            f"organisation: {self.slug} (the workbook names no organisation{note}, so it has "
            "a neutral name from its sha256, never its file name; name it with --trust NAME, "
            "e.g. --trust norfolk-and-suffolk, or fill in the workbook's trust column)"
        )


#: The neutral organisation name of a workbook that names none: this, then 8 hex digits.
NEUTRAL_PREFIX = "workbook-"


def neutral_name(path: str | Path) -> str:
    """``workbook-`` and the first 8 hex digits of the file's sha256 (its bytes, not its name).

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d, "jane-smith-cases.csv")
    ...     _ = p.write_bytes(b"abc")
    ...     neutral_name(p)
    'workbook-ba7816bf'
    """
    return NEUTRAL_PREFIX + sha256_file(path)[:8]


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
    """The organisation a workbook is for: its ``trust`` column's, else a neutral name.

    The neutral name is :func:`neutral_name`'s (from the file's sha256), never the file
    name, which may name a person.

    Raises
    ------
    UserError
        When the file cannot be read at all (no permission, say).
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
        note = f"its trust column names {len(named)} organisations"
    try:
        name = neutral_name(path)
    except OSError as exc:
        raise UserError(f"cannot read the workbook {path}: {exc.strerror or exc}") from None
    return Organisation(name, "workbook sha256", note)


def declared_instrument(
    path: str | Path, sheet: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> str | None:
    """The instrument id a workbook's ``settings`` sheet declares (``instrument | <id>``).

    The template and the demo-data generator write it for every programme but the default
    one, so a batch can run each workbook against its own programme. Like
    :func:`organisation_of`, a quick look: a CSV file, or a workbook that cannot be read
    here, declares nothing, and ingest then reports what is wrong with it.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return None
    try:
        return read_grid(path, sheet, Report(path.name), limits).instrument
    except (IngestError, OSError):
        return None


#: An instrument id a settings sheet may name: a file name in the programmes folder.
PROGRAMME_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


def programme_file(workbook: str | Path) -> Path | None:
    """The instrument file of the programme a workbook declares, or None (the default's).

    The declaration is read by :func:`declared_instrument`.

    Raises
    ------
    UserError
        When the id names no programme (the known ones are listed).
    """
    declared = declared_instrument(workbook)
    if declared is None:
        return None
    path = config.INSTRUMENTS_DIR / f"{declared}.yaml"
    if not PROGRAMME_ID.fullmatch(declared) or not path.is_file():
        known = ", ".join(sorted(p.stem for p in config.INSTRUMENTS_DIR.glob("*.yaml")))
        raise UserError(
            f"{Path(workbook).name}: its settings sheet names instrument {shorten(declared)}, "
            f"which is none of the programmes ({known}); correct it, or pass --instrument FILE"
        )
    return path
