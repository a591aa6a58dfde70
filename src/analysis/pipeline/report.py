"""The whole per-organisation pipeline: workbook in, offline HTML report out.

``python -m analysis report [WORKBOOK] [--trust SLUG] [--audience ...] [--instrument PATH]
[--standard-ratings FILE]``

Without ``--trust`` the organisation is the workbook's (its ``trust`` column when that names
one organisation, else a neutral name from the workbook's sha256, never its file name;
:func:`analysis.ingest.organisation_of`), and the run refuses to replace outputs an earlier
run made from another workbook: only ``--trust`` replaces them. Without a workbook either,
it is the demo run (``data/raw/norfolk-and-suffolk.xlsx``).

1. ingest the workbook (``data/raw/<trust>.xlsx`` by default) into processed cases;
2. analyse them into the findings table (``findings.csv`` and ``.parquet``) and its
   context (``findings.meta.json``: audience, thresholds, instrument);
3. build the charts once, then write ``tables.xlsx`` and static charts (``charts/*.png|svg``);
4. execute ``notebooks/10_report.ipynb`` with papermill into ``report.ipynb``;
5. export it to a self-contained ``report.html`` (:mod:`analysis.render.export`);
6. write ``provenance.json`` (the only file holding run times and hashes).

Everything, the processed cases included, is built in staging folders and swapped into
``outputs/<trust>/`` and ``data/processed/<trust>.parquet`` together, only when every step
succeeded, under the organisation's lock (:mod:`analysis.pipeline.transaction`): a failure,
Ctrl-C or SIGTERM never leaves a half-written report next to an older findings table, nor
processed cases that disagree with the outputs; a second run for the organisation refuses
(or waits, ``--wait``) while one is in progress. When the notebook fails, its executed copy
(with the error) is kept as ``outputs/<trust>/report.failed.ipynb`` for diagnosis.

The tables and the notebooks take the audience from the findings' context
(:func:`analysis.engine.findings.read_context`), never from a notebook parameter:
``-p audience ...`` or ``-p instrument_path ...`` is refused (:mod:`analysis.pipeline.params`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import config, ingest
from analysis.engine.disclosure import AUDIENCES
from analysis.engine.findings import FINDINGS_COLUMNS, FindingsContext, conform, read_context
from analysis.errors import UserError
from analysis.fileio import restore_formula, storage_error
from analysis.ingest import Organisation
from analysis.instrument import Instrument, declared_programme, load_instrument
from analysis.pipeline import inputs, provenance, staged_charts, transaction
from analysis.pipeline.inputs import (  # noqa: F401 - choose_organisation: part of this API
    REQUIRED_OUTPUTS,
    check_replaceable,
    choose_organisation,
    read_ratings_input,
)
from analysis.pipeline.params import (
    add_parameter_options,
    check_notebook_parameters,
    check_parameters,
    load_params,
)
from analysis.pipeline.programmes import notebook_instrument, programme_file
from analysis.pipeline.state import code_digests, current_state, write_state
from analysis.render.export import export_html
from analysis.render.present import trust_display_name, words
from analysis.render.textsafe import safe_filename

#: The report notebook papermill executes.
REPORT_NOTEBOOK = "10_report.ipynb"
#: Case-detail columns the exploration notebook (90_explore) filters by.
EXPLORE_FILTERS = ("ldu", "om_grade", "gender", "case_type")
_NUMERIC = ["numerator", "denominator", "percent", "ci_low", "ci_high", "p_value", "p_adjusted"]


@dataclass
class ReportResult:
    """What one report run produced."""

    trust: str
    #: How the organisation was worked out from the workbook; None when it was named.
    chosen: Organisation | None
    html: Path
    out_dir: Path
    n_charts: int
    size: int
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)


# -- findings ------------------------------------------------------------------------------


def read_reproduction(out_dir: str | Path, input_sha256: str | None) -> pd.DataFrame | None:
    """The reproduction check of the reference report, when it is about this very input.

    ``python -m analysis reproduce`` records which workbook it checked; the table is
    returned only when that workbook's sha256 is ``input_sha256`` (the report's input),
    so a report on real data never carries a check made on synthetic data.
    """
    out_dir = Path(out_dir)
    meta, table = out_dir / "reproduction.json", out_dir / "reproduction.csv"
    if not (meta.is_file() and table.is_file() and input_sha256):
        return None
    if json.loads(meta.read_text(encoding="utf-8")).get("workbook_sha256") != input_sha256:
        return None
    return pd.read_csv(table, dtype=str, keep_default_na=False).map(restore_formula)


def read_findings(out_dir: str | Path) -> pd.DataFrame:
    """Read the findings table from ``out_dir`` (parquet when present, else CSV).

    The CSV is read with every text column as text and no NA guessing: an answer
    code "None" or an LDU called "NA" must stay text, not become missing; the
    apostrophe :func:`analysis.fileio.write_csv` put before a formula-like name is taken off.
    """
    out_dir = Path(out_dir)
    pq = out_dir / "findings.parquet"
    if pq.exists():
        return conform(pd.read_parquet(pq))
    csv = out_dir / "findings.csv"
    if not csv.exists():
        raise UserError(f"no findings table at {csv}")
    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    df = df.map(restore_formula)  # the CSV's text cells are formula-neutralised
    for c in _NUMERIC:
        if c in df.columns:
            df[c] = pd.to_numeric(df[c].replace("", None))
    return conform(df[[c for c in FINDINGS_COLUMNS if c in df.columns]])


def default_workbook(trust: str) -> Path:
    """``data/raw/<trust>.xlsx``: where ``report`` looks when no workbook is named."""
    return config.RAW_DIR / f"{trust}.xlsx"


def build_findings(
    trust: str,
    workbook: str | Path | None = None,
    instrument: Instrument | str | Path | None = None,
    audience: str = "internal",
    out_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Ingest a workbook and write its findings table and context (steps 1-2 of the pipeline).

    Used by the notebooks when a trust's findings do not exist yet, so that they run
    top to bottom on a fresh checkout holding only the demo workbook. The inspectors'
    ratings are the organisation's ``data/raw/<trust>.ratings.csv`` (or ``.yaml``), if any,
    as ``make report`` reads them.
    """
    from analysis.engine import run as engine  # scipy, statsmodels: heavy, as in run_report

    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument or None)
    workbook = Path(workbook) if workbook else default_workbook(trust)
    if not workbook.exists():
        raise UserError(
            f"no workbook at {workbook}: name one, or run `python -m analysis demo-data`"
        )
    result = ingest.ingest_file(workbook, trust, instrument=inst)
    cases = pd.read_parquet(result.path)
    ratings, _ = read_ratings_input(inputs.organisation_ratings(config.RAW_DIR, trust), inst)
    df = engine.analyse(cases, inst, trust, audience=audience, standard_ratings=ratings)
    out = Path(out_dir) if out_dir else config.trust_output_dir(trust)
    engine.write_findings(df, out, FindingsContext.for_run(inst, audience=audience))
    return df


def load_findings(
    trust: str,
    out_dir: str | Path | None = None,
    instrument_path: str | Path | None = None,
) -> tuple[pd.DataFrame, Instrument, FindingsContext]:
    """The findings table, instrument and context a notebook works from.

    Findings that do not exist yet are built (internal) from ``data/raw/<trust>.xlsx``.
    The audience and every other setting the report states come from the context,
    never from the notebook's parameters.

    Parameters
    ----------
    trust
        Organisation slug.
    out_dir
        Folder holding ``findings.csv``; ``analysis.config.trust_output_dir(trust)`` when empty.
    instrument_path
        Instrument YAML; when empty, the programme the findings (or the organisation's
        workbook) name (:func:`analysis.pipeline.programmes.notebook_instrument`), else
        the default instrument. It must be the instrument the findings were computed with.

    Raises
    ------
    UserError
        When the findings have no context or were computed with another instrument.
    """
    inst = load_instrument(notebook_instrument(trust, instrument_path, out_dir))
    out = Path(out_dir) if out_dir else config.trust_output_dir(trust)
    if not (out / "findings.csv").exists() and not (out / "findings.parquet").exists():
        build_findings(trust, instrument=inst, out_dir=out)
    context = read_context(out)
    context.check_instrument(inst)
    return read_findings(out), inst, context


def load_cases(trust: str, instrument: Instrument, path: str | Path | None = None) -> pd.DataFrame:
    """Processed cases to look at in a notebook: identifiers and free text removed.

    Reads ``path`` (a processed parquet file), by default the organisation's, ingesting
    ``data/raw/<trust>.xlsx`` first when it has not been ingested yet (a fresh checkout).
    """
    path = Path(path) if path is not None else config.processed_path(trust)
    if not path.exists():
        ingest.ingest_file(default_workbook(trust), trust, instrument=instrument)
    cases = pd.read_parquet(path)
    return cases.drop(columns=[c for c in instrument.sensitive_columns if c in cases.columns])


def pooled_trusts() -> list[str]:
    """Organisations with a workbook in ``data/raw/`` or processed cases, sorted by slug."""
    raw = {p.stem for p in config.RAW_DIR.glob("*.xlsx")}
    processed = {p.stem for p in config.PROCESSED_DIR.glob("*.parquet")}
    return sorted(raw | processed)


def load_pooled_cases(instrument: Instrument, trusts: list[str] | None = None) -> pd.DataFrame:
    """Several organisations' cases stacked for the explore notebook, each with its ``trust``.

    Each is read as :func:`load_cases` reads one (ingesting its workbook on first use,
    identifiers and free text removed); by default every organisation of
    :func:`pooled_trusts` (the twelve demo trusts after ``python -m analysis demo-data``).
    """
    if trusts is None:
        # Only the organisations inspected under this instrument's programme pool together.
        own = declared_programme(instrument)
        trusts = [
            t
            for t in pooled_trusts()
            if not default_workbook(t).is_file()
            or ingest.declared_instrument(default_workbook(t)) == own
        ]
    trusts = list(trusts)
    if not trusts:
        raise UserError(
            f"no organisations to pool: no workbooks in {config.RAW_DIR} and no processed "
            f"cases in {config.PROCESSED_DIR} (try `python -m analysis demo-data`)"
        )
    frames = [load_cases(t, instrument).assign(trust=t) for t in trusts]
    return pd.concat(frames, ignore_index=True)


def completeness(cases: pd.DataFrame) -> pd.DataFrame:
    """Per column: how many cases have a value (``answered``) out of all (``of cases``)."""
    out = cases.notna().sum().rename("answered").to_frame()
    out["of cases"] = len(cases)
    return out


def filter_cases(cases: pd.DataFrame, selected: dict[str, Any]) -> pd.DataFrame:
    """Cases whose value in each column is among the selected values.

    Parameters
    ----------
    cases
        Processed cases.
    selected
        Column -> allowed values; a column with no values selected keeps nothing, and a
        column not named keeps everything.
    """
    mask = pd.Series(True, index=cases.index)
    for column, values in selected.items():
        if column in cases.columns:
            mask &= cases[column].isin(list(values))
    return cases[mask]


def place_charts(
    findings: pd.DataFrame, instrument: Instrument, staged: str | Path | None = None
) -> dict[str, list[Any]]:
    """Every chart of :func:`analysis.render.charts.all_charts`, keyed by where the report shows it.

    ``staged``: the run's folder, whose staged charts are used (:mod:`.staged_charts`).

    Keys: ``summary``; ``ratings`` (:func:`analysis.render.charts.ratings_chart`, when the
    programme has ratings); each outcome id (its data summary); ``breakdown:<question id>``;
    ``factors``; ``comparison:<group_var>``; ``profile``; ``other`` (anything else, shown
    last so that no chart the suite draws is left out of the report).
    """
    outcome_of = {safe_filename(f"data-summary-{o}"): o for o in instrument.outcomes}
    question_of = {safe_filename(f"breakdown-{q}"): q for q in instrument.questions}
    placed: dict[str, list[Any]] = {}
    for chart in staged_charts.load(staged, findings, instrument):
        cid = chart.id
        if cid == "outcome-summary":
            key = "summary"
        elif cid in outcome_of:
            key = outcome_of[cid]
        elif cid in question_of:
            key = f"breakdown:{question_of[cid]}"
        elif cid == "factors":
            key = "factors"
        elif cid.startswith("comparison-"):
            key = "comparison:" + cid.removeprefix("comparison-")
        elif cid.startswith("profile-"):
            key = "profile"
        else:
            key = "other"
        placed.setdefault(key, []).append(chart)
    from analysis.render import charts  # heavy (matplotlib, plotly): not at import

    rated = charts.ratings_chart(findings, instrument)
    if rated is not None:
        placed["ratings"] = [rated]
    return placed


# -- the pipeline ----------------------------------------------------------------------------


#: Files in a trust's folder that another command writes (reproduce): kept across runs.
#: Not the batch's state file: every run writes its own (:mod:`analysis.pipeline.state`),
#: so a batch after a report skips the organisation when nothing has changed since.
KEPT_FILES = ("reproduction.csv", "reproduction.json", "inconsistencies.json")


def run_report(
    trust: str | Organisation | None,
    workbook: str | Path | None = None,
    *,
    audience: str = "internal",
    instrument_path: str | Path | None = None,
    parameters: dict[str, Any] | None = None,
    out_dir: str | Path | None = None,
    progress: bool = False,
    wait: bool = False,
    standard_ratings: str | Path | None = None,
) -> ReportResult:
    """Run the whole pipeline for one organisation.

    The run holds the organisation's lock throughout and replaces its outputs and
    its processed cases together at the end, or neither
    (:mod:`analysis.pipeline.transaction`); it first puts right what an earlier run,
    killed outright, left behind.

    Parameters
    ----------
    trust
        Organisation slug (also the output folder's name). None: the workbook's
        (:func:`choose_organisation`; or pass what :func:`analysis.ingest.organisation_of`
        found), and then outputs made from another workbook are
        never replaced (:func:`check_replaceable`).
    workbook
        The case workbook; ``data/raw/<trust>.xlsx`` when omitted.
    audience
        ``internal`` or ``publication``.
    instrument_path
        Instrument YAML; the package default when omitted.
    parameters
        Further notebook parameters (as ``papermill -p``), e.g. ``trust_name``.
    out_dir
        Final output folder; ``outputs/<trust>`` when omitted.
    progress
        Show papermill's cell progress bar.
    wait
        Wait for another run for the organisation to finish instead of refusing.
    standard_ratings
        The inspectors' ratings of the domain-one standards (CSV or YAML,
        :func:`analysis.ingest.read_standard_ratings`); without it those standards, and so
        the overall rating, are not rated. A folder: the organisation's file there, as for
        ``batch`` (``<trust>.ratings.csv`` or ``.yaml``, :func:`analysis.ingest.ratings_file`),
        if any. Read before anything is written.

    Returns
    -------
    ReportResult

    Raises
    ------
    UserError
        For problems the user can fix (missing workbook, invalid cases, bad audience,
        another run in progress, a full disk or a read-only folder).
    """
    if audience not in AUDIENCES:
        raise UserError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    check_parameters(parameters or {})
    if parameters:  # papermill only warns of an unknown name, after the whole run
        check_notebook_parameters(parameters, config.NOTEBOOKS_DIR / REPORT_NOTEBOOK)
    t0 = time.monotonic()
    if workbook is not None and not Path(workbook).is_file():
        raise UserError(f"no workbook at {workbook}")
    if instrument_path is None and workbook is not None:
        instrument_path = programme_file(workbook)
    inst = load_instrument(instrument_path or None)
    trust, chosen = choose_organisation(trust, workbook, inst)
    transaction.check_name(ingest.check_trust(trust))
    workbook = Path(workbook) if workbook else default_workbook(trust)
    if not workbook.is_file():
        raise UserError(
            f"no workbook at {workbook}: name one, or run `python -m analysis demo-data`"
        )
    if instrument_path is None and (declared := programme_file(workbook)) is not None:
        instrument_path, inst = declared, load_instrument(declared)
    standard_ratings = inputs.report_ratings_file(standard_ratings, trust, inst)
    ratings = read_ratings_input(standard_ratings, inst)
    final = Path(out_dir) if out_dir else config.trust_output_dir(trust)
    processed = config.processed_path(trust)
    # What the batch would record for this run (analysis.pipeline.state), taken before
    # it starts: a batch afterwards then skips the organisation if nothing changed.
    run_state = current_state(
        workbook, instrument_path, parameters or {}, audience, code_digests(), standard_ratings
    )
    with transaction.locked(final, wait=wait):
        if chosen is not None:
            check_replaceable(final, workbook, trust)
        transaction.recover(final, processed)
        with transaction.Staging(final, processed) as stage:
            try:
                exported, phases = _build_report(
                    stage,
                    trust,
                    workbook,
                    inst,
                    audience=audience,
                    instrument_path=instrument_path,
                    parameters=parameters or {},
                    progress=progress,
                    t0=t0,
                    ratings=ratings,
                )
                write_state(stage.build, run_state)
            except OSError as exc:
                if exc.filename is not None:
                    raise
                # A write naming no file (the tables, a chart) was one into the build folder.
                raise storage_error(exc, stage.build) from exc
            stage.commit()
    return ReportResult(
        trust=trust,
        chosen=chosen,
        html=final / "report.html",
        out_dir=final,
        n_charts=exported.n_charts,
        size=exported.size,
        seconds=time.monotonic() - t0,
        phases=phases,
    )


def _build_report(
    stage: transaction.Staging,
    trust: str,
    workbook: Path,
    inst: Instrument,
    *,
    audience: str,
    instrument_path: str | Path | None,
    parameters: dict[str, Any],
    progress: bool,
    t0: float,
    ratings: tuple[dict[str, str] | None, str | None] = (None, None),
) -> tuple[Any, dict[str, float]]:
    """Steps 1-6 into the staging folders; return the export result and phase times.

    ``ratings``: the inspectors' ratings and their file's sha256 (:func:`read_ratings_input`).
    """
    # scipy and statsmodels, papermill and jupyter_client are heavy, and the notebooks
    # importing this module neither analyse nor run notebooks.
    from analysis.engine import run as engine
    from analysis.pipeline import kernels

    phases: dict[str, float] = {}
    started = provenance.now_utc()
    build, final = stage.build, stage.final
    # Files other commands wrote into the trust's folder (the reproduction check) are
    # carried into the new build: the report notebook may show them.
    for name in KEPT_FILES:
        if (final / name).is_file():
            shutil.copy2(final / name, build / name)
    side = None
    stop_side = threading.Event()
    try:
        t = time.monotonic()
        # data/processed/<trust>.parquet, as the design's data flow says (the exploration
        # notebook reads it), staged until the outputs are committed with it.
        result = ingest.ingest_file(workbook, trust, instrument=inst, out_dir=stage.processed_dir)
        ingest.print_warnings(result)  # hidden rows, near-duplicate names, warning rules...
        cases = pd.read_parquet(result.path)
        phases["ingest"] = time.monotonic() - t
        kernels.prestart_if_asked()  # a cold `report`: its kernel starts while it analyses

        t = time.monotonic()
        findings = engine.analyse(
            cases, inst, trust, audience=audience, standard_ratings=ratings[0]
        )
        del cases  # nothing below may see case rows
        engine.write_findings(findings, build, FindingsContext.for_run(inst, audience=audience))
        # From here on, like the notebook, everything takes the audience from the findings.
        context = read_context(build)
        phases["analyse"] = time.monotonic() - t
        # tables.xlsx and the static charts are pure CPU work in this process, while the
        # notebook below runs in a kernel process: overlapping them uses the second core.
        side = ThreadPoolExecutor(max_workers=1)
        staged_charts.mark_pending(build)  # before the notebook can look for them
        # Demo workbooks (the generator's author stamp, kept when edited and saved again)
        # hold invented cases: the tables, the report's banner and provenance say so.
        from analysis.synthetic.demo import is_synthetic

        synthetic = is_synthetic(workbook)
        side_job = side.submit(
            staged_charts.write_tables_and_charts,
            findings,
            inst,
            build,
            context.audience,
            synthetic,
            stop_side,
        )

        params = {
            "trust": trust,
            "trust_name": trust_display_name(trust),
            "instrument_path": str(Path(instrument_path).resolve()) if instrument_path else "",
            **parameters,
        }
        # The provenance record names the audience too: it lists how the run was asked for.
        record = provenance.build_provenance(
            input_path=workbook,
            instrument=inst,
            parameters={**params, "audience": context.audience},
            started=started,
            rule_warnings=result.rule_warnings,
        )
        record["synthetic"] = synthetic
        record["standard_ratings_sha256"] = ratings[1]  # the file's hash, never its name
        provenance.write_provenance(record, build)

        t = time.monotonic()
        nb_out = build / "report.ipynb"
        try:
            kernels.execute_notebook(
                str(config.NOTEBOOKS_DIR / REPORT_NOTEBOOK),
                str(nb_out),
                parameters={**params, "out_dir": str(build)},
                cwd=config.NOTEBOOKS_DIR,
                progress=progress,
            )
        except Exception as exc:  # not an interrupt: a stopped run leaves nothing behind
            kernels.keep_failed_notebook(nb_out, final, exc)
            raise
        phases["notebook"] = time.monotonic() - t

        t = time.monotonic()
        title = words(inst).say("report_title", organisation=params["trust_name"])
        exported = export_html(nb_out, build / "report.html", title=title)
        phases["export"] = time.monotonic() - t

        t = time.monotonic()
        phases.update(side_job.result(), waiting_for_charts=time.monotonic() - t)
        staged_charts.remove(build)  # the notebook's copy of the charts: not an output
        kernels.point_parameters_at(nb_out, build, final)
        provenance.finish_provenance(record, build, t0)
        record["phases_seconds"] = {k: round(v, 2) for k, v in phases.items()}
        provenance.write_provenance(record, build)
        missing = [f for f in REQUIRED_OUTPUTS if not (build / f).exists()]
        if missing:
            raise RuntimeError(f"report run did not produce {', '.join(missing)}")
    except BaseException:
        stop_side.set()  # interrupted or failed: the charts are not wanted, stop drawing them
        raise
    finally:
        if side is not None:
            side.shutdown(wait=True)  # never remove the build under a running writer
    return exported, phases


def run_for_batch(job: Any) -> dict[str, Any]:
    """Entry point for :mod:`analysis.pipeline.batch` (one :class:`analysis.pipeline.batch.Job`)."""
    res = run_report(
        job.trust,
        job.workbook,
        audience=job.audience,
        instrument_path=job.instrument,
        parameters=dict(job.parameters or {}),
        out_dir=job.out_dir,
        wait=job.wait,
        standard_ratings=job.standard_ratings,
    )
    return {"report": res.html, "phases": res.phases}


# -- command line ------------------------------------------------------------------------------


def add_cli(parser: argparse.ArgumentParser) -> None:
    """Declare the ``report`` command's arguments."""
    parser.add_argument(
        "workbook",
        nargs="?",
        type=Path,
        help="case workbook (default: data/raw/<trust>.xlsx)",
    )
    parser.add_argument(
        "--trust",
        default=None,
        help="organisation slug, which also names the output folder. Default: the "
        "workbook's (its trust column when that names one organisation, else its file "
        "name), and then a report made from another workbook is never replaced; with no "
        f"workbook either: {config.DEFAULT_TRUST} (the demo)",
    )
    parser.add_argument(
        "--audience",
        choices=AUDIENCES,
        default="internal",
        help="internal: small bases marked [u]; publication: small cells suppressed [c]",
    )
    parser.add_argument(
        "--instrument",
        type=Path,
        default=None,
        help="instrument YAML (default: the package's default instrument)",
    )
    parser.add_argument(
        "--standard-ratings",
        type=Path,
        default=None,
        metavar="FILE",
        help="the inspectors' ratings of the organisation-level (domain one) standards: CSV "
        "'standard,rating' or YAML; without it they, and the overall rating, are not rated "
        "(a folder: its <trust>.ratings.csv or .yaml, if any, as for batch)",
    )
    add_parameter_options(parser)
    parser.add_argument("--progress", action="store_true", help="show notebook cell progress")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="if another run for the organisation is in progress, wait for it (default: refuse)",
    )


def cli(args: argparse.Namespace) -> int:
    """Run the pipeline and print the path of the HTML report."""
    params = load_params(args.parameters_file, args.parameter)
    if args.instrument is not None and not args.instrument.is_file():
        raise UserError(f"no such instrument file: {args.instrument}")
    trust: str | Organisation | None = args.trust
    if trust is None and args.workbook is not None and args.workbook.is_file():
        # Said before the run starts, which takes a while.
        trust = ingest.organisation_of(
            args.workbook, args.instrument or programme_file(args.workbook)
        )
        print(trust.describe(), file=sys.stderr)
    from analysis.pipeline import kernels  # heavy (papermill); run_report imports it anyway

    kernels.prestart_after_ingest()  # one report per process: start its kernel early
    try:
        res = run_report(
            trust,
            args.workbook,
            audience=args.audience,
            instrument_path=args.instrument,
            parameters=params,
            progress=args.progress,
            wait=args.wait,
            standard_ratings=args.standard_ratings,
        )
    finally:
        kernels.stop_kernel()
    print(
        f"{res.trust}: {res.n_charts} charts, {res.size / 1e6:.1f} MB, {res.seconds:.0f}s",
        file=sys.stderr,
    )
    print(res.html)
    return 0
