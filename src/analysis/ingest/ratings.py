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
from analysis.ingest.problems import IngestError, Problem
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
    name = path.name
    ratings = instrument.ratings
    if ratings is None:
        raise RatingsFileError(
            [_problem(name, None, None, None, "the instrument declares no ratings")]
        )
    blob = read_small_file(path, MAX_RATINGS_BYTES, "standards ratings file", "a few lines")
    try:
        text = blob.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RatingsFileError([_problem(name, None, None, None, "is not UTF-8 text")]) from None
    rows = _rows(text, name, path.suffix.lower())
    wanted = [s.id for s in ratings.standards if s.rests_on == "inspectors"]
    by_key = {}
    for lvl in ratings.scale:
        by_key[answer_key(lvl.id)] = lvl.id
        by_key.setdefault(answer_key(lvl.label), lvl.id)
    problems: list[Problem] = []
    out: dict[str, str] = {}
    first_row: dict[str, int] = {}
    for row, standard, rating in rows:
        if standard not in ratings.by_id:
            problems.append(
                _problem(
                    name,
                    row,
                    "standard",
                    standard,
                    f"{standard!r} is not a standard of "
                    f"{instrument.id} (rated by inspectors: {', '.join(wanted) or 'none'})",
                )
            )
            continue
        if standard not in wanted:
            problems.append(
                _problem(
                    name,
                    row,
                    "standard",
                    standard,
                    f"standard {standard} is rated from the cases, not by inspectors; leave it out",
                )
            )
            continue
        if standard in first_row:
            problems.append(
                _problem(
                    name,
                    row,
                    "standard",
                    standard,
                    f"standard {standard} is rated twice (also row {first_row[standard]})",
                )
            )
            continue
        first_row[standard] = row
        level = by_key.get(answer_key(rating or ""))
        if level is None:
            allowed = ", ".join(lvl.label for lvl in ratings.scale)
            problems.append(
                _problem(
                    name, row, "rating", rating, f"{rating!r} is not a rating (allowed: {allowed})"
                )
            )
            continue
        out[standard] = level
    for sid in wanted:
        if sid not in first_row:
            problems.append(
                _problem(
                    name,
                    None,
                    "standard",
                    None,
                    f"standard {sid} ({ratings.by_id[sid].title}) has no rating",
                )
            )
    if problems:
        raise RatingsFileError(problems)
    return {sid: out[sid] for sid in wanted}


def _problem(file: str, row, column, value, message: str) -> Problem:
    return Problem(file=file, sheet=None, row=row, column=column, value=value, message=message)


def _rows(text: str, name: str, suffix: str) -> list[tuple[int, str, str | None]]:
    """(row, standard, rating) from CSV (row = the line, header 1) or YAML (row = order)."""
    if suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RatingsFileError(
                [
                    _problem(
                        name, None, None, None, f"is not valid YAML: {' '.join(str(exc).split())}"
                    )
                ]
            ) from None
        if not isinstance(data, dict):
            raise RatingsFileError(
                [_problem(name, None, None, None, "must map each standard to its rating")]
            )
        return [
            (i, str(k), None if v is None else str(v)) for i, (k, v) in enumerate(data.items(), 1)
        ]
    if suffix != ".csv":
        raise RatingsFileError([_problem(name, None, None, None, "must be a .csv or .yaml file")])
    records = list(csv.reader(io.StringIO(text)))
    if not records or [c.strip().lower() for c in records[0]] != ["standard", "rating"]:
        raise RatingsFileError(
            [_problem(name, 1, None, None, "the header must be exactly: standard,rating")]
        )
    out = []
    for i, rec in enumerate(records[1:], start=2):
        if not any(c.strip() for c in rec):
            continue
        if len(rec) != 2:
            raise RatingsFileError(
                [_problem(name, i, None, None, "needs two values: standard,rating")]
            )
        out.append((i, rec[0].strip(), rec[1].strip()))
    return out
