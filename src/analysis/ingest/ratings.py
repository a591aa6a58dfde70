"""Organisation-level standards rated by inspectors (domain one): a small separate input.

Some standards (leadership, staff, services, information and facilities) are rated by
inspectors from interviews and documents, not from the case sample. Their ratings are
entered as a tiny file beside the case workbook, one standard per line:

- CSV with the header ``standard,rating`` (``1.1,Good``), or
- YAML, a mapping ``"1.1": Good``.

A rating is the scale's id or its label as the instrument writes it (``good`` or ``Good``,
in any case). It is validated like any input: every problem at once, each naming the file,
row, column and value (exit status 2), and never a guess.

``report --standard-ratings FILE`` reads one; ``batch --standard-ratings DIR`` reads each
organisation's from a folder, named ``<slug>.ratings.csv`` (or ``.yaml``, ``.yml``):
:func:`ratings_file`. Only the file's sha256 reaches an output (provenance), never its name.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml

from analysis.errors import UserError
from analysis.fileio import read_small_file
from analysis.ingest.checks import TRUST_SLUG
from analysis.ingest.problems import IngestError, Report
from analysis.instrument import Instrument, answer_key


class RatingsFileError(IngestError):
    """A standards ratings file has problems (``problems`` lists every one of them)."""

    #: What the batch summary calls the input that failed (its name never reaches it).
    what = "standards ratings file"


#: A standards-ratings file is a few lines; refuse anything larger than this (bytes).
MAX_RATINGS_BYTES = 64 * 1024
#: How an organisation's ratings file is named in a folder: ``<slug>`` then one of these.
RATINGS_SUFFIXES = (".ratings.csv", ".ratings.yaml", ".ratings.yml")


def is_ratings_file(path: str | Path) -> bool:
    """Whether a file is named as a standards-ratings file (``*.ratings.csv``, ...).

    A folder of workbooks may hold them too: ``batch`` never takes one for a case workbook.
    """
    return Path(path).name.lower().endswith(RATINGS_SUFFIXES)


def named_organisation(path: str | Path) -> str | None:
    """The organisation slug a ratings file is named for (``eastmere.ratings.csv``), or None.

    >>> named_organisation("ratings/eastmere.ratings.yaml"), named_organisation("mine.csv")
    ('eastmere', None)
    """
    name = Path(path).name.lower()
    for suffix in RATINGS_SUFFIXES:
        if name.endswith(suffix) and TRUST_SLUG.fullmatch(name[: -len(suffix)]):
            return name[: -len(suffix)]
    return None


def ratings_file(folder: str | Path, slug: str) -> Path | None:
    """The organisation's ratings file in ``folder`` (``<slug>.ratings.csv|yaml|yml``), or None.

    Raises
    ------
    UserError
        When the folder holds more than one for the organisation (which to read is a guess).
    """
    found = [Path(folder) / f"{slug}{suffix}" for suffix in RATINGS_SUFFIXES]
    found = [p for p in found if p.is_file()]
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise UserError(f"{folder} holds two standards ratings files for {slug}: {names}; keep one")
    return found[0] if found else None


def read_standard_ratings(path: str | Path, instrument: Instrument) -> dict[str, str]:
    """The inspectors' ratings of the instrument's ``rests_on: inspectors`` standards.

    Returns
    -------
    dict
        Standard id -> rating id, in the instrument's order of standards.

    Raises
    ------
    RatingsFileError
        An :class:`~analysis.ingest.IngestError` naming every problem: an unknown
        standard, one not rated by inspectors, one given twice or missing, an unknown
        rating, a file that is neither CSV nor YAML.
    """
    path = Path(path)
    rep = Report(path.name, RatingsFileError)  # every problem at once, as a workbook's
    ratings = instrument.ratings
    if ratings is None:
        rep.stop("the instrument declares no ratings")
    blob = read_small_file(path, MAX_RATINGS_BYTES, "standards ratings file", "a few lines")
    try:
        text = blob.decode("utf-8-sig")
    except UnicodeDecodeError:
        rep.stop("is not UTF-8 text")
    rows = _rows(text, rep, path.suffix.lower())
    wanted = [s.id for s in ratings.standards if s.rests_on == "inspectors"]
    by_key = {}
    for lvl in ratings.scale:
        by_key[answer_key(lvl.id)] = lvl.id
        by_key.setdefault(answer_key(lvl.label), lvl.id)
    out: dict[str, str] = {}
    first_row: dict[str, int] = {}
    for row, standard, rating in rows:
        if standard not in ratings.by_id:
            why = (
                f"{standard!r} is not a standard of {instrument.id} "
                f"(rated by inspectors: {', '.join(wanted) or 'none'})"
            )
        elif standard not in wanted:
            why = f"standard {standard} is rated from the cases, not by inspectors; leave it out"
        elif standard in first_row:
            why = f"standard {standard} is rated twice (also row {first_row[standard]})"
        else:
            why = ""
        if why:
            rep.error(why, row=row, column="standard", value=standard)
            continue
        first_row[standard] = row
        level = by_key.get(answer_key(rating or ""))
        if level is None:
            allowed = ", ".join(lvl.label for lvl in ratings.scale)
            rep.error(
                f"{rating!r} is not a rating (allowed: {allowed})",
                row=row,
                column="rating",
                value=rating,
            )
            continue
        out[standard] = level
    for sid in wanted:
        if sid not in first_row:
            rep.error(
                f"standard {sid} ({ratings.by_id[sid].title}) has no rating", column="standard"
            )
    rep.fail(("standard", "rating"))
    return {sid: out[sid] for sid in wanted}


def _rows(text: str, rep: Report, suffix: str) -> list[tuple[int, str, str | None]]:
    """(row, standard, rating) from CSV (row = the line, header 1) or YAML (row = order)."""
    if suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            rep.stop(f"is not valid YAML: {' '.join(str(exc).split())}")  # one line
        if not isinstance(data, dict):
            rep.stop("must map each standard to its rating")
        out = []
        for i, (k, v) in enumerate(data.items(), 1):
            # One standard, one rating: a list or mapping is refused before it is ever
            # turned into text (nested aliases, a "billion laughs", would be gigabytes).
            if not _scalar(k) or not (v is None or _scalar(v)):
                what = f"standard {k!r}" if _scalar(k) else "a standard"
                rep.error(
                    f"{what} must have one rating, not a list or mapping",
                    row=i,
                    column="rating" if _scalar(k) else "standard",
                    value=str(k) if _scalar(k) else None,
                )
                continue
            out.append((i, str(k), None if v is None else str(v)))
        rep.fail(("standard", "rating"))
        return out
    if suffix != ".csv":
        rep.stop("must be a .csv or .yaml file")
    records = list(csv.reader(io.StringIO(text)))
    if not records or [c.strip().lower() for c in records[0]] != ["standard", "rating"]:
        rep.stop("the header must be exactly: standard,rating", row=1)
    out = []
    for i, rec in enumerate(records[1:], start=2):
        if not any(c.strip() for c in rec):
            continue
        if len(rec) != 2:
            rep.stop("needs two values: standard,rating", row=i)
        out.append((i, rec[0].strip(), rec[1].strip()))
    return out


def _scalar(value: object) -> bool:
    """Whether a YAML value is one plain value (text, a number, a date), not a collection."""
    return not isinstance(value, (list, tuple, dict, set))
