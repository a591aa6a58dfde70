"""The cross-organisation aggregate: reading the organisations' findings, writing its own.

``python -m analysis aggregate`` reads ``outputs/<trust>/findings.parquet`` of
every organisation (or those named) and writes ``outputs/aggregate/``:

- ``findings.csv`` / ``findings.parquet``: the findings columns, pooled rows
  with ``trust = "aggregate"`` followed by each organisation's score and sample
  rows (``trust`` = its slug), so every figure in the aggregate report can be
  traced to counts; ``findings.meta.json``: their context (the aggregate's audience,
  thresholds, instrument), which the aggregate report takes its audience from;
- ``funnel.csv``: each organisation's outcome scores with the control limits at
  its base and where it lies;
- ``tables.xlsx`` (pooled rows, via :mod:`analysis.render.tables`), ``charts/``
  (static funnel plots) and ``report.html`` (``notebooks/20_aggregate.ipynb``).

The pooling itself is :mod:`analysis.engine.pooling`; this module reads the
organisations' findings and contexts (every organisation must have been analysed
with the instrument the aggregate uses), recomputes publication findings from the
processed cases (``data/processed/<trust>.parquet``), which also give the pooled
scores their intervals, and writes and renders the result.
"""

from __future__ import annotations

import argparse
import shutil
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis import config
from analysis.engine.disclosure import AUDIENCES
from analysis.engine.findings import FindingsContext, conform, read_context
from analysis.engine.pooling import (
    AGGREGATE,
    DEFAULT_N_BASIS,
    N_BASES,
    build_findings,
    funnel_table,
    funnels,
    pooled_rows,
)
from analysis.engine.run import analyse, write_findings
from analysis.engine.scoring import judged_questions
from analysis.errors import UserError
from analysis.fileio import write_csv
from analysis.ingest import declared_instrument
from analysis.instrument import Instrument, declared_programme, load_instrument
from analysis.pipeline import provenance, transaction
from analysis.pipeline.report import build_findings as build_trust_findings
from analysis.render.aggregate import title as aggregate_title
from analysis.render.export import export_html

#: The aggregate report notebook.
AGGREGATE_NOTEBOOK = "20_aggregate.ipynb"
#: Files in the aggregate folder that another command writes (batch): kept across runs.
KEPT_FILES = ("batch-summary.json",)


def aggregate_dir() -> Path:
    """Folder of the aggregate outputs."""
    return config.OUTPUTS_DIR / AGGREGATE


# -- reading ---------------------------------------------------------------------------


def available_trusts(outputs_dir: Path | None = None) -> list[str]:
    """Organisations with a findings table under ``outputs/`` (the aggregate excluded)."""
    outputs_dir = Path(outputs_dir or config.OUTPUTS_DIR)
    return sorted(
        p.parent.name
        for p in outputs_dir.glob("*/findings.parquet")
        if p.parent.name != AGGREGATE and not p.parent.name.startswith(".")
    )


def programme_trusts(instrument_id: str, outputs_dir: Path | None = None) -> list[str]:
    """:func:`available_trusts` whose findings were computed with the instrument ``instrument_id``.

    An organisation whose context cannot be read is kept, so that :func:`load_findings`
    refuses it by name rather than the aggregate leaving it out unseen.
    """
    outputs_dir = Path(outputs_dir or config.OUTPUTS_DIR)
    kept = []
    for t in available_trusts(outputs_dir):
        try:
            found = read_context(outputs_dir / t).instrument_id
        except Exception:  # noqa: BLE001 - refused, with its reason, by load_findings
            found = None
        if found in (None, instrument_id):
            kept.append(t)
    return kept


#: A ``c`` (suppressed) among a findings cell's ``;``-separated flags (as ``flag_set`` reads them).
_SUPPRESSED_FLAG = r"(?:^|;)\s*c\s*(?:;|$)"


def _has_suppressed(df: pd.DataFrame) -> bool:
    # One regular expression over the column, not flag_set on each of ~4,000 rows a trust.
    flags = df["flags"].astype("string").fillna("")
    return bool(flags.str.contains(_SUPPRESSED_FLAG, regex=True).any())


def load_findings(
    trusts: Sequence[str],
    instrument: Instrument,
    outputs_dir: Path | None = None,
    processed_dir: Path | None = None,
) -> pd.DataFrame:
    """Every organisation's findings, unsuppressed, one table.

    Each organisation's context (:func:`analysis.engine.findings.read_context`) must
    name ``instrument`` and the outcome method and confidence level the pooled rows
    use: pooling findings computed otherwise would mix different measures.

    Raises
    ------
    UserError
        When an organisation has no findings or context, its context does not match,
        or it has suppressed findings and no processed cases to recompute them from.
    """
    outputs_dir = Path(outputs_dir or config.OUTPUTS_DIR)
    processed_dir = Path(processed_dir or config.PROCESSED_DIR)
    pooled = FindingsContext.for_run(instrument)
    frames = []
    tables = _read_findings_files(trusts, outputs_dir)
    for t in trusts:
        path = outputs_dir / t / "findings.parquet"
        context = read_context(path.parent)
        _check_poolable(t, context, pooled, instrument)
        df = tables[t]
        if _has_suppressed(df):
            # Publication findings blank small counts; pooling needs them (pooled
            # cells are then suppressed again at the aggregate level where needed).
            cases_path = processed_dir / f"{t}.parquet"
            if not cases_path.exists():
                raise UserError(
                    f"{t}: findings are suppressed (publication) and no processed cases "
                    f"at {cases_path} to recompute them from"
                )
            df = analyse(
                pd.read_parquet(cases_path),
                instrument,
                t,
                audience="internal",
                low_threshold=context.low_threshold,
                suppression_threshold=context.suppression_threshold,
                outcome_method=context.outcome_method,
                level=context.confidence_level,
            )
        frames.append(df)
    if not frames:
        raise UserError("no organisations to aggregate")
    return conform(pd.concat(frames, ignore_index=True))


def _read_findings_files(trusts: Sequence[str], outputs_dir: Path) -> dict[str, pd.DataFrame]:
    """Each organisation's ``findings.parquet``, conformed; every problem reported at once.

    A missing, truncated or damaged file is refused, not skipped: the aggregate of fewer
    organisations than asked for would look complete. So is a folder whose findings name
    another organisation (a copied folder would count the same cases twice, under two
    names): the folder name is the organisation pooled, so it must be the findings' own.
    """
    problems, tables = [], {}
    for t in trusts:
        path = outputs_dir / t / "findings.parquet"
        if not path.exists():
            problems.append(f"no findings for {t!r} at {path}: run its report first")
            continue
        try:
            df = conform(pd.read_parquet(path))
        except (OSError, ValueError, pa.ArrowException) as exc:
            problems.append(
                f"{path} cannot be read as findings ({str(exc).splitlines()[0]}): it is "
                f"damaged or incomplete; run the report for {t!r} again "
                f"(python -m analysis report WORKBOOK --trust {t})"
            )
            continue
        named = sorted(set(df["trust"]) - {"", t})
        if named:
            problems.append(
                f"{path}: the findings are those of {', '.join(map(repr, named))}, not of "
                f"the folder's organisation {t!r} (a copied folder?): remove the folder or "
                "run that organisation's report into it"
            )
            continue
        df["trust"] = t
        tables[t] = df
    if problems:
        raise UserError("cannot aggregate:\n  " + "\n  ".join(problems))
    return tables


def _check_poolable(
    trust: str, context: FindingsContext, pooled: FindingsContext, instrument: Instrument
) -> None:
    """Refuse an organisation's findings computed with another instrument or method."""
    try:
        context.check_instrument(instrument)
    except UserError as exc:
        raise UserError(f"{trust}: {exc}") from None
    for name in ("outcome_method", "confidence_level"):
        theirs, ours = getattr(context, name), getattr(pooled, name)
        if theirs is not None and theirs != ours:
            raise UserError(
                f"{trust}: findings computed with {name} {theirs}, the aggregate pools "
                f"{ours}: rerun its report with the defaults"
            )


def load_cases(
    trusts: Sequence[str],
    processed_dir: Path | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame | None:
    """The organisations' processed cases stacked, or None when any is missing.

    ``columns`` (for instance the judged questions, all the pooled score intervals
    need) reads only those, with their answer codes as plain strings: stacked once
    with pyarrow, this skips rebuilding and re-checking every organisation's
    categorical columns in pandas, the slowest part of reading twelve organisations.
    """
    processed_dir = Path(processed_dir or config.PROCESSED_DIR)
    paths = [processed_dir / f"{t}.parquet" for t in trusts]
    if not all(p.exists() for p in paths):
        return None
    if columns is not None:
        tables = []
        for t, p in zip(trusts, paths, strict=True):
            tb = pq.read_table(p, columns=list(columns))
            plain = [
                pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
                for f in tb.schema
            ]
            tb = tb.cast(pa.schema(plain))
            tables.append(tb.append_column("trust", pa.array([t] * tb.num_rows, pa.string())))
        return pa.concat_tables(tables).to_pandas()
    frames = []
    for t, p in zip(trusts, paths, strict=True):
        df = pd.read_parquet(p)
        df["trust"] = t
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


# -- writing and the report -------------------------------------------------------------------


def write_outputs(
    agg: pd.DataFrame,
    instrument: Instrument,
    out_dir: Path,
    context: FindingsContext,
    *,
    n_basis: str = DEFAULT_N_BASIS,
    tables: bool = True,
) -> dict[str, Path]:
    """Write findings with their context, funnel table, funnel charts and tables.xlsx.

    ``tables.xlsx`` takes its audience from the context just written, as every
    renderer does; ``tables=False`` leaves it to :func:`write_tables_xlsx` (which
    :func:`build` runs beside the notebook).
    """
    # Heavy (Pillow): only the writing of the outputs needs it.
    from analysis.render.charts import funnel as funnel_chart

    out_dir = Path(out_dir)
    paths: dict[str, Path] = dict(write_findings(agg, out_dir, context))
    fs = funnels(agg, instrument, n_basis)
    paths["funnel"] = out_dir / "funnel.csv"
    write_csv(funnel_table(fs), paths["funnel"])
    for o, f in fs.items():
        for p in funnel_chart.save_static(f, out_dir / "charts" / f"funnel_{o}"):
            paths[f"chart_{o}_{p.suffix[1:]}"] = p
    if tables:
        paths["tables"] = write_tables_xlsx(agg, instrument, out_dir)
    return paths


def write_tables_xlsx(agg: pd.DataFrame, instrument: Instrument, out_dir: Path) -> Path:
    """``tables.xlsx`` of the pooled rows, in the audience of the context in ``out_dir``."""
    from analysis.render.tables import write_tables  # xlsxwriter, gptables: heavy

    path = Path(out_dir) / "tables.xlsx"
    own = agg[agg["trust"] != AGGREGATE]  # each organisation's ratings, one row per standard
    write_tables(
        pooled_rows(agg), instrument, path, read_context(out_dir).audience, by_organisation=own
    )
    return path


def run_notebook(
    out_dir: Path, parameters: dict, final: Path | None = None, title: str | None = None
) -> Path:
    """Execute notebooks/20_aggregate.ipynb and export ``report.html`` as trust reports are.

    The same exporter (:func:`analysis.render.export.export_html`) inlines the vendored
    plotly.js once, so the aggregate report is offline and obeys the same size
    limit. When ``out_dir`` is a staging folder that will become ``final``, the
    executed notebook's parameters are pointed at ``final``, and a failing notebook's
    executed copy is kept as ``final/report.failed.ipynb``. ``title`` is the page's
    <title> (the default instrument's ``aggregate_title`` when None).
    """
    # papermill and jupyter_client are heavy, and only running the notebook needs them.
    from analysis.pipeline import kernels

    out_dir = Path(out_dir)
    final = Path(final) if final is not None else out_dir
    nb_out = out_dir / "report.ipynb"
    try:
        kernels.execute_notebook(
            str(config.NOTEBOOKS_DIR / AGGREGATE_NOTEBOOK),
            str(nb_out),
            parameters=parameters,
            cwd=config.NOTEBOOKS_DIR,
            progress=False,
        )
    except Exception as exc:  # not an interrupt: a stopped run leaves nothing behind
        kernels.keep_failed_notebook(nb_out, final, exc)
        raise
    res = export_html(
        nb_out,
        out_dir / "report.html",
        title=title if title is not None else aggregate_title(load_instrument()),
    )
    if final != out_dir:
        kernels.point_parameters_at(nb_out, out_dir, final)
    return final / res.path.name


class _EarlyKernel:
    """The notebook's kernel started (with its imports) while the findings are pooled.

    Starting a kernel and importing pandas, plotly and the suite in it takes seconds
    during which this process would otherwise wait; started first, in a thread, it
    runs on the other core while this process reads and pools the findings. It is the
    kept kernel of :mod:`analysis.pipeline.kernels` (the one batch workers keep), used
    by this one aggregate and shut down after it, so the process is left as it was. In a
    process that already keeps a kernel (a batch worker) nothing changes.
    """

    def __init__(self) -> None:
        self.kernels = None  # the module, once imported (papermill: heavy) in the thread
        self.started = False  # whether this aggregate asked for the kept kernel
        self.thread = threading.Thread(target=self._start, name="aggregate-kernel", daemon=True)
        self.thread.start()

    def _start(self) -> None:
        from analysis.pipeline import kernels

        self.kernels = kernels
        if kernels._warm.get("enabled"):
            return
        kernels._warm["enabled"] = self.started = True
        try:
            kernels._warm_kernel("python3", 60, str(config.NOTEBOOKS_DIR))
        except Exception:  # noqa: BLE001 - execute_notebook starts one again, and says why
            pass

    def ready(self) -> None:
        """Wait until the kernel has started (or failed to)."""
        self.thread.join()

    def close(self) -> None:
        """Shut the kernel down; this process runs its next notebooks on new kernels."""
        self.thread.join()
        if not self.started:
            return
        self.kernels._stop_warm_kernel()
        self.kernels._warm.pop("enabled", None)


def inputs_of(trusts: Sequence[str], outputs_dir: Path) -> dict[str, dict]:
    """Each organisation's input as its own provenance records it: sha256, and whether synthetic.

    Read from ``outputs/<trust>/provenance.json`` (nothing when a trust has none), so the
    aggregate names every workbook it rests on without ever naming a file.
    """
    out = {}
    for t in trusts:
        rec = provenance.read_provenance(Path(outputs_dir) / t)
        out[t] = {"input_sha256": rec.get("input_sha256"), "synthetic": bool(rec.get("synthetic"))}
    return out


def check_distinct_inputs(inputs: dict[str, dict]) -> None:
    """Refuse two organisations whose reports rest on the very same workbook (same sha256).

    Pooling them would count the same cases twice, under two names.
    """
    seen: dict[str, list[str]] = {}
    for t, rec in inputs.items():
        if rec.get("input_sha256"):
            seen.setdefault(rec["input_sha256"], []).append(t)
    lines = [
        f"{', '.join(map(repr, ts))} were reported from the same workbook "
        f"(sha256 {sha[:12]}..., in their provenance.json)"
        for sha, ts in seen.items()
        if len(ts) > 1
    ]
    if lines:
        raise UserError(
            "cannot aggregate: the same cases would be counted twice:\n  "
            + "\n  ".join(lines)
            + "\n  run each organisation's report from its own workbook, or leave one out"
        )


def build(
    trusts: Sequence[str] | None = None,
    *,
    audience: str = "internal",
    instrument: str | Path | None = None,
    n_basis: str = DEFAULT_N_BASIS,
    outputs_dir: Path | None = None,
    report: bool = True,
    wait: bool = False,
) -> Path:
    """Build the aggregate outputs; return the report (or findings) path.

    Like an organisation's report, the aggregate is built in a staging folder under
    its lock and replaces ``outputs/aggregate/`` whole, or not at all
    (:mod:`analysis.pipeline.transaction`).

    Parameters
    ----------
    trusts
        Organisation slugs; default every organisation with findings.
    audience
        ``internal`` or ``publication`` (pooled small cells suppressed).
    instrument
        Instrument YAML; the default instrument when None.
    n_basis
        Funnel base: ``cases`` or ``judgements``.
    outputs_dir
        Folder holding ``<trust>/`` outputs; ``config.OUTPUTS_DIR`` when None.
    report
        Also execute the notebook and export ``report.html``.
    wait
        Wait for another aggregate run to finish instead of refusing.
    """
    outputs_dir = Path(outputs_dir or config.OUTPUTS_DIR)
    inst = load_instrument(instrument)
    # Unnamed, the organisations are those inspected under this programme: one aggregate
    # pools one instrument (others' findings are refused below when named).
    trusts = list(trusts) if trusts else programme_trusts(inst.id, outputs_dir)
    if len(trusts) < 2:
        raise UserError(
            f"the aggregate needs at least two organisations with findings; found {len(trusts)}"
        )
    early = _EarlyKernel() if report else None
    try:
        context = FindingsContext.for_run(inst, audience=audience)
        inputs = inputs_of(trusts, outputs_dir)
        check_distinct_inputs(inputs)
        findings = load_findings(trusts, inst, outputs_dir)
        # The pooled scores' intervals need only the judged questions of the cases.
        cases = load_cases(trusts, columns=judged_questions(inst))
        agg = build_findings(findings, inst, cases=cases, audience=context.audience)
        final = outputs_dir / AGGREGATE
        with transaction.locked(final, wait=wait):
            transaction.recover(final)
            with transaction.Staging(final) as stage:
                for name in KEPT_FILES:
                    if (final / name).is_file():
                        shutil.copy2(final / name, stage.build / name)
                t0 = time.monotonic()
                record = provenance.build_provenance(
                    input_path=None,
                    instrument=inst,
                    parameters={"audience": context.audience, "n_basis": n_basis, "trusts": trusts},
                )
                record["inputs"] = inputs
                provenance.write_provenance(record, stage.build)
                paths = write_outputs(
                    agg, inst, stage.build, context, n_basis=n_basis, tables=False
                )
                out = final / paths["csv"].name
                if report:
                    params = {
                        "findings_path": str(paths["parquet"]),
                        "n_basis": n_basis,
                        "instrument_path": str(inst.path),
                    }
                    early.ready()
                    # tables.xlsx is written in a thread while the notebook's kernel runs (this
                    # process mostly waits on it meanwhile), so the two use both cores. The
                    # notebook does not read tables.xlsx; the thread is joined before the
                    # staging folder is committed or removed.
                    with ThreadPoolExecutor(max_workers=1) as pool:
                        tables = pool.submit(write_tables_xlsx, agg, inst, stage.build)
                        try:
                            out = run_notebook(
                                stage.build, params, final, title=aggregate_title(inst)
                            )
                        finally:
                            tables.exception()  # wait, whatever the notebook did
                        tables.result()  # its error, if any, once the notebook succeeded
                else:
                    write_tables_xlsx(agg, inst, stage.build)
                provenance.finish_provenance(record, stage.build, t0)
                provenance.write_provenance(record, stage.build)
                stage.commit()
    finally:
        if early is not None:
            early.close()
    return out


def load_aggregate(path: str | Path | None = None) -> pd.DataFrame:
    """The aggregate findings table written by :func:`build`."""
    path = Path(path) if path else aggregate_dir() / "findings.parquet"
    if not path.exists():
        raise UserError(f"no aggregate findings at {path}: run `python -m analysis aggregate`")
    return conform(pd.read_parquet(path))


def load_or_build(
    findings_path: str | Path | None = None, instrument_path: str | Path | None = None
) -> tuple[pd.DataFrame, Instrument, FindingsContext]:
    """The aggregate findings, instrument and context the notebook works from.

    The findings are built from the organisations' findings when missing, so that
    ``notebooks/20_aggregate.ipynb`` runs top to bottom on a checkout where only
    trust outputs (or only workbooks) exist: missing trust findings are built from
    ``data/raw`` workbooks (ingest and analyse only, no reports).

    Raises
    ------
    UserError
        When the instrument is not the one the aggregate was built with.
    """
    inst = load_instrument(instrument_path or None)
    path = Path(findings_path) if findings_path else aggregate_dir() / "findings.parquet"
    # Findings written before they carried a context (an older version) are rebuilt too.
    if not path.exists() or not (path.parent / "findings.meta.json").exists():
        if len(available_trusts()) < 2:
            own = declared_programme(inst)
            for p in sorted(config.RAW_DIR.glob("*.xlsx")):
                # Only the workbooks of this instrument's programme pool together (the demo
                # data holds other programmes' organisations too).
                if declared_instrument(p) != own:
                    continue
                if not (config.trust_output_dir(p.stem) / "findings.parquet").exists():
                    build_trust_findings(p.stem, p, instrument=inst)
        build(instrument=instrument_path or None, report=False)
    agg = load_aggregate(path)
    context = read_context(path.parent)
    context.check_instrument(inst)
    return agg, inst, context


# -- command line ------------------------------------------------------------------------------


def add_cli(parser: argparse.ArgumentParser) -> None:
    """Declare the ``aggregate`` command's arguments."""
    parser.add_argument(
        "trusts", nargs="*", metavar="TRUST", help="organisation slugs (default: all with findings)"
    )
    parser.add_argument("--audience", choices=AUDIENCES, default="internal")
    parser.add_argument("--instrument", default=None, help="instrument YAML (default: built-in)")
    parser.add_argument(
        "--n-basis",
        choices=N_BASES,
        default=DEFAULT_N_BASIS,
        help="funnel plot base: cases (default, cautious) or relevant judgements",
    )
    parser.add_argument("--no-report", action="store_true", help="write findings and tables only")
    parser.add_argument(
        "--wait", action="store_true", help="if another aggregate run is in progress, wait for it"
    )


def cli(args: argparse.Namespace) -> int:
    """Build the aggregate and say where it is."""
    t0 = time.perf_counter()
    out = build(
        args.trusts or None,
        audience=args.audience,
        instrument=args.instrument,
        n_basis=args.n_basis,
        report=not args.no_report,
        wait=args.wait,
    )
    print(f"wrote {out} ({time.perf_counter() - t0:.1f}s)")
    return 0
