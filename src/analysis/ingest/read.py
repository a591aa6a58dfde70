"""Read a case workbook, normalise the answers and validate them against the instrument.

``python -m analysis ingest FILE --trust SLUG`` writes ``data/processed/<trust>.parquet``
(see ``docs/design.md``) or, when anything is wrong, lists *every* problem at once,
each naming the file, sheet, Excel row and column, and writes nothing.

Order of work, one module a step:

1. **Look at the bytes before any parser does** (:mod:`analysis.ingest.guards`): the
   content, not the extension, decides the reader; every part of an xlsx is inflated and
   its cells counted against :class:`~analysis.ingest.guards.Limits` (zip bombs, XML
   entities, stray cells far beyond the data are refused).
2. **Read raw cells** (:mod:`analysis.ingest.readers`): fastexcel/python-calamine for
   workbooks, pandas' C parser for CSV, with the sheet's merged ranges, hidden rows and
   columns, and the language its ``settings`` sheet declares.
3. **Find the header** on row 1, and say so if it is further down
   (:mod:`analysis.ingest.header`).
4. **Normalise, apply skip rules and validate** (:mod:`analysis.ingest.validate`), reading
   answers in the workbook's language (:mod:`analysis.ingest.normalise`).
5. **Check across cells** (:mod:`analysis.ingest.checks`): one organisation, one spelling
   per unit, hidden rows and columns.
6. **Check the consistency rules** (:mod:`analysis.ingest.consistency`): every case against
   every rule of the instrument; ``error`` rules stop the ingest, ``warning`` rules are
   printed and counted.

Problems are collected in a :class:`~analysis.ingest.problems.Report` and raised together
as one :class:`~analysis.ingest.problems.IngestError`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.errors import UserError
from analysis.fileio import atomic_path
from analysis.ingest.checks import (
    TRUST_SLUG,
    check_trust_column,
    language_id,
    warn_hidden,
    warn_near_duplicates,
    workbook_language,
)
from analysis.ingest.consistency import check_consistency
from analysis.ingest.guards import DEFAULT_LIMITS, Limits
from analysis.ingest.header import case_frame, header_row, locate_header, warn_merged
from analysis.ingest.organisation import programme_file
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
from analysis.locks import locked

#: The old .xls format holds this many columns (A to IV).
XLS_COLUMNS = 256


@dataclass(frozen=True)
class IngestResult:
    """What :func:`ingest_file` wrote."""

    path: Path
    n_cases: int
    warnings: list[Problem] = field(default_factory=list)
    #: Cases breaking each consistency rule of severity warning (rule id -> count).
    rule_warnings: dict[str, int] = field(default_factory=dict)


def check_trust(slug: str) -> str:
    """Return ``slug`` if it is a valid organisation slug, else raise :class:`UserError`."""
    # fullmatch: `$` in a pattern would let a trailing newline through.
    if not isinstance(slug, str) or not TRUST_SLUG.fullmatch(slug):
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
    language: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    rule_warnings: dict[str, int] | None = None,
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
        The organisation (a slug): fills blanks in the ``trust`` column, and rows naming
        another organisation are refused.
    warnings
        If given, warnings (unknown columns, non-UTF-8 text, ...) are appended to it.
    language
        The language the answers are written in (an id of the instrument's ``languages``,
        or its name), when the workbook's ``settings`` sheet does not say.
    limits
        What the file may ask of the readers (sizes, cells; see
        :class:`~analysis.ingest.guards.Limits`).
    rule_warnings
        If given, filled with the number of cases breaking each consistency rule of
        severity ``warning`` (rule id -> count; no case ids).

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
    UserError
        If ``trust`` is not a valid slug or ``language`` not one of the instrument's.
    """
    path = Path(path)
    if trust is not None:
        check_trust(trust)
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    if language is not None:
        language_id(inst, language, "--language")  # a typo is refused before any reading
    rep = Report(path.name)
    try:
        grid = read_grid(path, sheet, rep, limits)
        if grid.format == "xls" and len(inst.required_columns) > XLS_COLUMNS:
            rep.stop(
                f"is an old-style .xls workbook, which holds at most {XLS_COLUMNS} columns "
                f"(A to IV), but instrument {inst.id} needs {len(inst.required_columns)}: "
                "the rest cannot be in this file. Open it in Excel, save it as .xlsx (File > "
                "Save As > Excel Workbook) and fill in the missing columns "
                "(`python -m analysis template` writes a complete workbook)"
            )
        if grid.instrument is not None and grid.instrument != inst.id:
            # Read against another programme's questions, every column would be "missing".
            rep.stop(
                f"says on its settings sheet that it was made for instrument "
                f"{grid.instrument!r}, but it is being read against {inst.id!r}: run it with "
                f"--instrument naming {grid.instrument}'s file (or leave --instrument out)"
            )
        lang = workbook_language(inst, language, grid.language, rep)
        mapping = locate_header(grid.cells, inst, grid.merged, rep)
        top = header_row(grid.cells, inst, grid.merged)
        raw = case_frame(grid.cells, mapping, rep, top)
        warn_merged(grid.merged, rep, top)
        hidden = [r for r in grid.hidden_rows if r > top]  # rows of cases, not the header
        warn_hidden(hidden, grid.hidden_cols, len(grid.cells), mapping, rep)
        del grid  # the raw cells can be large; free them before normalising
        norm = normalise_cases(raw, inst, rep, lang)
        norm, raw = drop_spacing_rows(norm, raw, inst, rep)
        apply_skip_rules(norm, raw, inst, rep)
        check_values(norm, raw, inst, rep, lang)
        check_trust_column(norm, trust, rep)
        warn_near_duplicates(norm, inst, rep)
        check_consistency(norm, inst, rep)
        explain_blanks(path, mapping, rep)
        rep.fail(order=inst.columns)
    finally:
        if warnings is not None:
            warnings.extend(rep.warnings)
        if rule_warnings is not None:
            rule_warnings.update(rep.rule_warnings)
    return processed_frame(norm, inst, trust)


def ingest_file(
    path: str | Path,
    trust: str,
    instrument: Instrument | str | Path | None = None,
    sheet: str | None = None,
    out_dir: str | Path | None = None,
    language: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    wait: bool = False,
) -> IngestResult:
    """Validate a case workbook and write ``<out_dir>/<trust>.parquet`` atomically.

    The whole ingest holds a lock (:func:`analysis.locks.locked`), so a second run that
    would write the same file refuses, or with ``wait`` waits, instead of both succeeding
    and the last to write winning. Writing the processed folder ``report`` reads and
    writes, it is the organisation's lock that ``report`` holds; writing another folder
    (``out_dir``), it is a lock beside the file, ``<out_dir>/.<trust>.lock``.

    The parquet file is written to a temporary file in the same folder and moved into
    place with :func:`os.replace`, so a reader never sees half a file and a failed
    ingest leaves any earlier file untouched.

    ``language`` and ``limits`` are as for :func:`read_cases`.

    Raises
    ------
    IngestError
        If the workbook has any problem; nothing is written.
    UserError
        If ``trust`` is not a valid slug.
    """
    check_trust(trust)
    warns: list[Problem] = []
    counts: dict[str, int] = {}
    out_dir = Path(out_dir) if out_dir is not None else config.PROCESSED_DIR
    shared = out_dir.absolute().resolve() == config.PROCESSED_DIR.absolute().resolve()
    with locked(config.trust_output_dir(trust) if shared else out_dir / trust, wait=wait):
        df = read_cases(
            path,
            instrument=instrument,
            sheet=sheet,
            trust=trust,
            warnings=warns,
            language=language,
            limits=limits,
            rule_warnings=counts,
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{trust}.parquet"
        with atomic_path(target) as tmp:
            df.to_parquet(tmp, index=False)
    return IngestResult(path=target, n_cases=len(df), warnings=warns, rule_warnings=counts)


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
    parser.add_argument(
        "--language",
        help="language the answers are written in, e.g. cy or en (settles answers such as "
        "'Na', Welsh No but English N/A); default: the workbook's settings sheet, if any",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="if another run for the organisation is in progress, wait for it to finish "
        "instead of refusing",
    )
    d = DEFAULT_LIMITS
    parser.add_argument(
        "--max-inflated-mb",
        type=_positive,
        default=d.max_inflated_mb,
        help=f"refuse an xlsx whose parts unzip to more than this (default: {d.max_inflated_mb:g})",
    )
    parser.add_argument(
        "--max-cells",
        type=lambda v: int(_positive(v)),
        default=d.max_cells,
        help="refuse a sheet holding or spanning more cells than this "
        f"(default: {d.max_cells:,}; a 10,000-case IAOW sheet spans 2.6 million)",
    )


def _positive(value: str) -> float:
    """An option's positive number."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number")
    return number


def cli(args) -> int:
    """Run ``ingest``: print every problem to stderr and return 2, or write the parquet file."""
    try:
        result = ingest_file(
            args.file,
            trust=args.trust,
            # Without --instrument, the programme the workbook's settings sheet declares.
            instrument=args.instrument or programme_file(args.file),
            sheet=args.sheet,
            out_dir=args.out_dir,
            language=args.language,
            limits=replace(
                DEFAULT_LIMITS, max_inflated_mb=args.max_inflated_mb, max_cells=args.max_cells
            ),
            wait=args.wait,
        )
    except IngestError as exc:
        for w in exc.warnings:
            print(f"warning: {w}", file=sys.stderr)
        for p in exc.problems:
            print(p, file=sys.stderr)
        n = len(exc.problems)
        broken = sum(p.rule is not None for p in exc.problems)
        rules = f" ({broken} break consistency rules)" if broken else ""
        print(
            f"{n} problem{'s' if n != 1 else ''}{rules} found in {args.file}; nothing was written",
            file=sys.stderr,
        )
        return 2
    print_warnings(result)
    print(f"wrote {result.path} ({result.n_cases} cases)")
    return 0


def print_warnings(result: IngestResult) -> None:
    """Print an ingest's warnings to stderr: each one, then the warning rules broken.

    ``ingest`` and ``report`` both print them (``report`` printed none: S7-46).
    """
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if result.rule_warnings:
        listed = ", ".join(f"{k} ({v})" for k, v in sorted(result.rule_warnings.items()))
        print(
            f"warning: {sum(result.rule_warnings.values())} case(s) break consistency rules of "
            f"severity warning: {listed}",
            file=sys.stderr,
        )
