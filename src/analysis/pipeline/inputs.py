"""What a report run reads besides its workbook: its organisation, the inspectors' ratings.

The ratings are those of the organisation-level (domain one) standards. Both are settled
before anything is written: a bad ratings file fails the run as a bad workbook does (every
problem, naming file, row, column and value; exit status 2) with nothing written, and only
its sha256 reaches an output (``provenance.json``), never its name.
"""

from __future__ import annotations

import sys
from pathlib import Path

from analysis import config, ingest
from analysis.errors import UserError
from analysis.fileio import sha256_file
from analysis.ingest import Organisation
from analysis.instrument import Instrument
from analysis.pipeline import provenance

#: Files of a finished run (checked before the build folder replaces the old outputs).
REQUIRED_OUTPUTS = ("findings.csv", "tables.xlsx", "report.ipynb", "report.html", "provenance.json")


def read_ratings_input(
    path: str | Path | None, instrument: Instrument
) -> tuple[dict[str, str] | None, str | None]:
    """The inspectors' ratings in ``path`` and the file's sha256; ``(None, None)`` without one.

    Raises
    ------
    UserError
        When the file is missing; :class:`analysis.ingest.IngestError` (a UserError) when
        it has problems (:func:`analysis.ingest.read_standard_ratings`).
    """
    if path is None:
        return None, None
    path = Path(path)
    if not path.exists():
        raise UserError(f"no standards ratings file at {path}")
    # A device, pipe or folder is refused by the reader, which says which it is.
    return ingest.read_standard_ratings(path, instrument), sha256_file(path)


def organisation_ratings(folder: str | Path | None, slug: str) -> Path | None:
    """``batch --standard-ratings DIR``: the organisation's file there, or None.

    Named ``<slug>.ratings.csv`` (or ``.yaml``, ``.yml``): :func:`analysis.ingest.ratings_file`.
    """
    if folder is None:
        return None
    return ingest.ratings_file(folder, slug)


def report_ratings_file(
    given: str | Path | None, trust: str, instrument: Instrument
) -> Path | None:
    """``report --standard-ratings FILE|DIR``: the organisation's ratings file, or None.

    A folder gives its ``<trust>.ratings.csv|yaml``; without one the run goes on unrated,
    and says so when the instrument has standards inspectors rate (the user asked for
    their ratings; ``make report`` passes ``data/raw`` for every programme). A file named
    as another organisation's (``eastmere.ratings.yaml`` for ``tarnbrook``) is refused:
    rating one organisation with another's is a mistake no output would show.

    Raises
    ------
    UserError
        For a file named for another organisation, or a folder with two for this one.
    """
    if given is None:
        return None
    given = Path(given)
    if given.is_dir():
        found = organisation_ratings(given, trust)
        rated = instrument.ratings is not None and any(
            s.rests_on == "inspectors" for s in instrument.ratings.standards
        )
        if found is None and rated:
            print(
                f"note: {given} holds no standards ratings file for {trust} ({trust}.ratings.csv "
                "or .yaml): the standards inspectors rate, and the overall rating, are not rated",
                file=sys.stderr,
            )
        return found
    named = ingest.named_organisation(given)
    if named is not None and named != trust:
        raise UserError(
            f"the standards ratings file {given} is named for organisation {named!r}, not "
            f"{trust}: pass {trust}'s file ({trust}.ratings.csv or .yaml), or rename this "
            f"one if it is {trust}'s"
        )
    return given


def check_ratings_folder(folder: str | Path | None) -> Path | None:
    """The ``batch --standard-ratings`` folder, refused unless it is one."""
    if folder is None:
        return None
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(
            f"--standard-ratings for a batch names a folder holding <slug>.ratings.csv (or "
            f".yaml) per organisation; {folder} is not a folder"
        )
    return folder


def choose_organisation(
    trust: str | Organisation | None,
    workbook: str | Path | None,
    instrument: Instrument | None = None,
) -> tuple[str, Organisation | None]:
    """The organisation a run is for, and how it was chosen (None: named, or the demo's).

    ``--trust`` names it; else a workbook's own ``trust`` column or its neutral name
    (:func:`analysis.ingest.organisation_of`, or its result passed in as ``trust``); with
    neither, it is the demo organisation.
    """
    if isinstance(trust, Organisation):
        return trust.slug, trust
    if trust is not None:
        return trust, None
    if workbook is None:
        return config.DEFAULT_TRUST, None
    found = ingest.organisation_of(workbook, instrument)
    return found.slug, found


def check_replaceable(final: Path, workbook: Path, trust: str) -> None:
    """Refuse to replace a report made from another workbook, for an organisation not named.

    ``final`` holds a report when it has any of :data:`REQUIRED_OUTPUTS`; it may be
    replaced only when its provenance names this very workbook (by sha256: the same
    data, rerun). Files only other commands write (the reproduction check) hold no report.

    Raises
    ------
    UserError
        Naming the folder and the two ways on: ``--trust`` to replace it, or another slug.
    """
    if not any((final / name).exists() for name in REQUIRED_OUTPUTS):
        return
    try:
        made_from = provenance.read_provenance(final).get("input_sha256")
    except (OSError, ValueError):
        made_from = None  # unreadable: nothing shows it is this workbook's
    if made_from is not None and made_from == provenance.sha256_file(workbook):
        return
    raise UserError(
        f"{final} already holds a report made from another workbook, and {trust} was "
        "worked out from the workbook, not named: nothing was replaced. To replace that "
        f"report, name the organisation: --trust {trust}; to keep it, give this workbook "
        "another organisation slug: --trust SLUG"
    )
