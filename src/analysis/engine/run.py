"""The analysis engine: processed cases in, the findings table out.

``python -m analysis analyse --trust SLUG`` reads ``data/processed/SLUG.parquet``
and writes ``outputs/SLUG/findings.csv``, ``findings.parquet`` and their context
``findings.meta.json`` (:class:`analysis.engine.findings.FindingsContext`). Only
aggregates leave this module: no case identifier, free text or case row.

Row order is fixed (sample, profile, outcome scores, criterion scores,
questions, breakdowns, factors, comparisons) and no timestamp is recorded, so
two runs on the same data give byte-identical files.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis import config
from analysis.engine.breakdowns import breakdown
from analysis.engine.compare import compare, group_values, joint_group_counts
from analysis.engine.disclosure import AUDIENCES, apply_disclosure
from analysis.engine.factors import factor_rows, factor_table
from analysis.engine.findings import CONTEXT_FILE, PARQUET_CONTEXT_KEY, FindingsContext, conform
from analysis.engine.profile import profile, sample_rows
from analysis.engine.scoring import judgement_matrix, question_frame, score_frame, score_rows
from analysis.errors import UserError
from analysis.fileio import atomic_path, write_csv
from analysis.instrument import Instrument, load_instrument


def analyse(
    cases: pd.DataFrame,
    instrument: Instrument,
    trust: str,
    *,
    audience: str = "internal",
    low_threshold: int = config.LOW_BASE_THRESHOLD,
    suppression_threshold: int = config.SUPPRESSION_THRESHOLD,
    comparisons: Sequence[str] | None = None,
    outcome_method: str | None = None,
    level: float = config.CONFIDENCE_LEVEL,
) -> pd.DataFrame:
    """Compute the whole findings table for one organisation.

    Parameters
    ----------
    cases
        Processed cases (one row per case, canonical codes).
    instrument
        The instrument the cases were recorded against.
    trust
        Organisation slug written in every row.
    audience
        ``internal`` (low bases flagged) or ``publication`` (disclosive cells suppressed).
    low_threshold, suppression_threshold
        Disclosure thresholds (see :mod:`analysis.engine.disclosure`).
    comparisons
        Case-detail columns to compare groups by; by default the instrument's
        ``compare: true`` details. Absent columns, and columns with one group, are skipped.
    outcome_method
        ``question_mean`` or ``criterion_mean``; default the instrument's.
    level
        Confidence level of every interval.

    Returns
    -------
    pandas.DataFrame
        The findings table, conformed to :data:`analysis.engine.findings.FINDINGS_COLUMNS`.
    """
    if audience not in AUDIENCES:
        raise UserError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    cases = cases.reset_index(drop=True)
    j = judgement_matrix(cases, instrument)
    parts = [
        sample_rows(j, instrument),
        profile(cases, instrument, level=level),
        score_rows(score_frame(j, instrument, outcome_method, level)),
        question_frame(j, instrument, level),
        breakdown(cases, instrument, level=level),
        factor_rows(factor_table(j, instrument), instrument, level),
    ]
    if comparisons is None:
        comparisons = instrument.comparison_columns
    groups = {gv: group_values(cases, instrument, gv) for gv in comparisons if gv in cases.columns}
    groups = {gv: g for gv, g in groups.items() if len(g) >= 2}
    counts = joint_group_counts(j, cases, groups)
    for gv in groups:
        parts.append(compare(j, cases, instrument, gv, level, counts[gv]))
    parts = [p for p in parts if len(p)]
    df = conform(pd.concat(parts, ignore_index=True))
    df["trust"] = trust
    df["trust"] = df["trust"].astype("string")
    return apply_disclosure(df, audience, low_threshold, suppression_threshold, instrument)


def write_findings(
    df: pd.DataFrame, out_dir: str | Path, context: FindingsContext | None = None
) -> dict[str, Path]:
    """Write ``findings.csv``, ``findings.parquet`` and ``findings.meta.json`` together.

    Each file is written to a temporary file beside it and the three are moved into
    place only when all are complete, so a failure leaves the previous ones, never a
    table without its context. The context also goes into the parquet file's metadata
    (under :data:`analysis.engine.findings.PARQUET_CONTEXT_KEY`); ``findings.csv``
    holds the table alone.

    Parameters
    ----------
    df
        The findings table.
    out_dir
        Folder to write into (created if needed).
    context
        What the findings were computed for (:meth:`FindingsContext.for_run`); the
        defaults (internal, no instrument) when None, as for a hand-made table.

    Returns
    -------
    dict
        ``{"csv": path, "parquet": path, "meta": path}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = conform(df)
    meta = (context or FindingsContext()).to_json()
    paths = {
        "csv": out_dir / "findings.csv",
        "parquet": out_dir / "findings.parquet",
        "meta": out_dir / CONTEXT_FILE,
    }
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata(
        {**table.schema.metadata, PARQUET_CONTEXT_KEY: meta.encode("utf-8")}
    )
    with ExitStack() as stack:
        tmp = {k: stack.enter_context(atomic_path(p)) for k, p in paths.items()}
        write_csv(df, tmp["csv"])  # text cells neutralised; the parquet keeps true values
        pq.write_table(table, tmp["parquet"])
        tmp["meta"].write_text(meta, encoding="utf-8")
    return paths


def summary_lines(df: pd.DataFrame) -> list[str]:
    """One line per outcome score, e.g. ``O1  85%  (78-91)  Assisting sentencing``."""
    out = []
    for r in df[df["kind"] == "outcome_score"].itertuples(index=False):
        if pd.isna(r.percent):
            out.append(f"{r.outcome:<4} n/a  {r.label}")
            continue
        ci = f"({r.ci_low:.0f}-{r.ci_high:.0f})" if pd.notna(r.ci_low) else ""
        out.append(f"{r.outcome:<4}{r.percent:4.0f}%  {ci:<9} {r.label}")
    return out


# -- command line --------------------------------------------------------------------


def add_cli(parser: argparse.ArgumentParser) -> None:
    """Declare the ``analyse`` command's arguments."""
    parser.add_argument(
        "--trust", required=True, help="organisation slug, e.g. norfolk-and-suffolk"
    )
    parser.add_argument(
        "--audience",
        choices=AUDIENCES,
        default="internal",
        help="internal: flag low bases; publication: also suppress small cells",
    )
    parser.add_argument(
        "--instrument",
        type=Path,
        default=None,
        help="instrument YAML (default: the package's default instrument)",
    )
    parser.add_argument(
        "--outcome-method",
        choices=("question_mean", "criterion_mean"),
        default=None,
        help="override the instrument's outcome scoring method",
    )
    parser.add_argument(
        "--low-threshold",
        type=int,
        default=config.LOW_BASE_THRESHOLD,
        help="bases under this are flagged low (default %(default)s)",
    )
    parser.add_argument(
        "--suppression-threshold",
        type=int,
        default=config.SUPPRESSION_THRESHOLD,
        help="publication: suppress counts under this (default %(default)s)",
    )


def cli(args: argparse.Namespace) -> int:
    """Run ``analyse``: read the processed cases, write findings, print a summary."""
    src = config.processed_path(args.trust)
    if not src.exists():
        raise UserError(
            f"no processed cases for {args.trust!r} at {src}: run "
            f"`python -m analysis ingest` for this organisation first"
        )
    inst = load_instrument(args.instrument)
    cases = pd.read_parquet(src)
    options = {
        "audience": args.audience,
        "low_threshold": args.low_threshold,
        "suppression_threshold": args.suppression_threshold,
        "outcome_method": args.outcome_method,
    }
    df = analyse(cases, inst, args.trust, **options)
    context = FindingsContext.for_run(inst, **options)
    paths = write_findings(df, config.trust_output_dir(args.trust), context)
    print(f"{args.trust}: {len(cases)} cases, {len(df)} findings ({args.audience})")
    for line in summary_lines(df):
        print("  " + line)
    print(f"wrote {paths['csv']}")
    return 0
