"""Read a case workbook, normalise the answers and validate them against the instrument.

``python -m analysis ingest FILE --trust SLUG`` writes ``data/processed/<trust>.parquet``
(see ``docs/design.md``) or, when anything is wrong, lists *every* problem at once,
each naming the file, sheet, Excel row and column, and writes nothing.

Order of work, one module a step:

1. **Look at the bytes before any parser does** (:mod:`analysis.ingest.guards`): the
   content, not the extension, decides the reader; zip bombs, XML entities and absurd
   used ranges are refused.
2. **Read raw cells** (:mod:`analysis.ingest.readers`): fastexcel/python-calamine for
   workbooks, pandas' C parser for CSV, with the sheet's merged ranges.
3. **Find the header** on row 1, and say so if it is further down
   (:mod:`analysis.ingest.header`).
4. **Normalise, apply skip rules and validate** (:mod:`analysis.ingest.validate`).

Problems are collected in a :class:`~analysis.ingest.problems.Report` and raised together
as one :class:`~analysis.ingest.problems.IngestError`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.errors import UserError
from analysis.fileio import atomic_path
from analysis.ingest.header import case_frame, locate_header, warn_merged
from analysis.ingest.problems import IngestError, Problem, Report
from analysis.ingest.readers import read_grid
from analysis.ingest.validate import (
    apply_skip_rules,
    check_values,
    drop_spacing_rows,
    explain_blanks,
    normalise_cases,
    processed_frame,
)
from analysis.instrument import Instrument, load_instrument

TRUST_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class IngestResult:
    """What :func:`ingest_file` wrote."""

    path: Path
    n_cases: int
    warnings: list[Problem] = field(default_factory=list)


def check_trust(slug: str) -> str:
    """Return ``slug`` if it is a valid organisation slug, else raise :class:`UserError`."""
    if not isinstance(slug, str) or not TRUST_SLUG.match(slug):
        raise UserError(
            f"--trust {slug!r} is not a valid organisation slug: use lowercase letters, digits "
            "and single hyphens, e.g. norfolk-and-suffolk"
        )
    return slug


def read_cases(
    path: str | Path,
    instrument: Instrument | str | Path | None = None,
    sheet: str | None = None,
    trust: str | None = None,
    warnings: list[Problem] | None = None,
) -> pd.DataFrame:
    """Read, normalise and validate a case workbook.

    Parameters
    ----------
    path
        An .xlsx/.xlsm/.xls workbook or a .csv file.
    instrument
        A loaded instrument or a path to one; the default instrument when None.
    sheet
        The sheet to read; by default ``cases``, or the only visible sheet.
    trust
        Fills blanks in the ``trust`` column (validated as a slug).
    warnings
        If given, warnings (unknown columns, non-UTF-8 text, ...) are appended to it.

    Returns
    -------
    pandas.DataFrame
        One row per case: every instrument column except free text, coded columns as
        categoricals of their canonical codes, nullable-integer counts, plus ``trust``
        and ``source_row``.

    Raises
    ------
    IngestError
        Listing every problem found, when there is any.
    """
    path = Path(path)
    if trust is not None:
        check_trust(trust)
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    rep = Report(path.name)
    try:
        cells, merged = read_grid(path, sheet, rep)
        mapping = locate_header(cells, inst, merged, rep)
        raw = case_frame(cells, mapping, rep)
        del cells  # the raw cells can be large; free them before normalising
        warn_merged(merged, rep)
        norm = normalise_cases(raw, inst, rep)
        norm, raw = drop_spacing_rows(norm, raw, inst, rep)
        apply_skip_rules(norm, raw, inst, rep)
        check_values(norm, raw, inst, rep)
        explain_blanks(path, mapping, rep)
        rep.fail(order=inst.columns)
    finally:
        if warnings is not None:
            warnings.extend(rep.warnings)
    return processed_frame(norm, inst, trust)


def ingest_file(
    path: str | Path,
    trust: str,
    instrument: Instrument | str | Path | None = None,
    sheet: str | None = None,
    out_dir: str | Path | None = None,
) -> IngestResult:
    """Validate a case workbook and write ``<out_dir>/<trust>.parquet`` atomically.

    The parquet file is written to a temporary file in the same folder and moved into
    place with :func:`os.replace`, so a reader never sees half a file and a failed
    ingest leaves any earlier file untouched.

    Raises
    ------
    IngestError
        If the workbook has any problem; nothing is written.
    UserError
        If ``trust`` is not a valid slug.
    """
    check_trust(trust)
    warns: list[Problem] = []
    df = read_cases(path, instrument=instrument, sheet=sheet, trust=trust, warnings=warns)
    out_dir = Path(out_dir) if out_dir is not None else config.PROCESSED_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{trust}.parquet"
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False)
    return IngestResult(path=target, n_cases=len(df), warnings=warns)


# -- command line -------------------------------------------------------------------------


def add_cli(parser) -> None:
    """Arguments of ``python -m analysis ingest``."""
    parser.add_argument("file", type=Path, help="case workbook (.xlsx, .xlsm, .xls) or .csv")
    parser.add_argument(
        "--trust", required=True, help="organisation slug, e.g. norfolk-and-suffolk"
    )
    parser.add_argument("--sheet", help=f"sheet to read (default: {config.CASES_SHEET!r})")
    parser.add_argument("--instrument", type=Path, help="instrument YAML (default: the package's)")
    parser.add_argument(
        "--out-dir", type=Path, help="folder for <trust>.parquet (default: data/processed)"
    )


def cli(args) -> int:
    """Run ``ingest``: print every problem to stderr and return 2, or write the parquet file."""
    try:
        result = ingest_file(
            args.file,
            trust=args.trust,
            instrument=args.instrument,
            sheet=args.sheet,
            out_dir=args.out_dir,
        )
    except IngestError as exc:
        for w in exc.warnings:
            print(f"warning: {w}", file=sys.stderr)
        for p in exc.problems:
            print(p, file=sys.stderr)
        n = len(exc.problems)
        print(
            f"{n} problem{'s' if n != 1 else ''} found in {args.file}; nothing was written",
            file=sys.stderr,
        )
        return 2
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"wrote {result.path} ({result.n_cases} cases)")
    return 0
