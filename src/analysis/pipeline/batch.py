"""Run the per-organisation report pipeline for many workbooks in parallel.

``python -m analysis batch [WORKBOOK ...] [--standard-ratings DIR]`` runs
:mod:`analysis.pipeline.report` once per workbook (default: every ``.xlsx``/``.xlsm``/``.csv``
in ``data/raw/`` but ``*.ratings.csv``; the
organisation is the workbook's ``trust`` column's, else a neutral name from its sha256
(never its file name), as for ``report``:
:func:`analysis.ingest.organisation.organisation_of`) across the machine's cores, then
builds the cross-organisation aggregate
(:mod:`analysis.pipeline.aggregate`) from the organisations that succeeded.

``--standard-ratings DIR``: the inspectors' ratings of each organisation's domain-one
standards, one file per organisation in ``DIR`` named ``<slug>.ratings.csv`` (or ``.yaml``,
``.yml``; :func:`analysis.ingest.ratings_file`); an organisation without one has those
standards, and so its overall rating, not rated. ``data/raw`` may hold them beside the
workbooks (``make batch`` passes it).

Three properties matter to the inspectorate, who run this for every organisation:

Fault isolation
    One invalid workbook or failing notebook never stops the others. Each
    organisation's outcome is caught in its worker and reported in the summary;
    a failed notebook's executed copy (with the error in it) is kept.
Incremental
    An organisation unchanged since its last *successful* run (a batch's or a
    ``report``'s) is skipped (:mod:`analysis.pipeline.state`), so a failure is always
    retried. Before starting, the batch says why each organisation is run or skipped:
    ``eastmere: skipped (unchanged)``, ``carrow-moor: rerun (workbook changed)``,
    ``kestrel-downs: run (first run)``, ``lowbridge-city: rerun (--force)``.
Transient kernel failures
    A kernel that fails to start is retried after a short pause before the
    organisation is called failed (:mod:`analysis.pipeline.failures`), and the
    summary says so.

Each organisation's job holds its lock (:func:`analysis.pipeline.transaction.locked`)
from clearing its state to recording it, so the state always describes the outputs
beside it; an organisation another run is busy with fails (or waits, ``--wait``).
Ctrl-C or SIGTERM stops the batch: the signal is passed on to the workers, each
running organisation cleans up its staging folders, and nothing is replaced.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from analysis import config
from analysis.engine.disclosure import AUDIENCES
from analysis.errors import UserError
from analysis.fileio import atomic_path, check_writable
from analysis.ingest import is_ratings_file
from analysis.ingest.organisation import organisation_of
from analysis.instrument import Instrument, load_instrument
from analysis.pipeline import aggregate, inputs, interrupts, report, transaction
from analysis.pipeline.failures import (
    KERNEL_BACKOFF,
    KERNEL_RETRIES,
    describe_failure,
    kernel_retrying,
)
from analysis.pipeline.params import (
    add_parameter_options,
    check_notebook_parameters,
    load_params,
)
from analysis.pipeline.programmes import programme_file
from analysis.pipeline.state import (
    EXPECTED_OUTPUTS,
    clear_state,
    code_digests,
    current_state,
    why_run,
    write_state,
)

#: Workbook suffixes picked up from data/raw/ when no workbook is named.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".csv")

OK, SKIPPED, FAILED = "ok", "skipped", "failed"


# -- jobs and results ---------------------------------------------------------------------


@dataclass
class Job:
    """One organisation to run."""

    trust: str
    workbook: Path
    audience: str = "internal"
    parameters: dict[str, Any] = field(default_factory=dict)
    instrument: Path | None = None
    out_dir: Path | None = None
    wait: bool = False  # wait for another run of the organisation instead of failing
    #: The inspectors' ratings of its domain-one standards (a file), if any.
    standard_ratings: Path | None = None

    def __post_init__(self) -> None:
        self.workbook = Path(self.workbook)
        self.out_dir = Path(self.out_dir or config.trust_output_dir(self.trust))


@dataclass
class Result:
    """What happened to one organisation."""

    trust: str
    status: str  # ok | skipped | failed
    seconds: float = 0.0
    output: str = ""
    reason: str = ""
    kernel_retries: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    #: Why it was run (``first run``, ``workbook changed``, ``--force``, ...) or skipped.
    why: str = ""
    #: The failure was the input's (an invalid workbook: a UserError), not the machine's.
    input_error: bool = False

    @property
    def summary_status(self) -> str:
        """Status as the summary table words it."""
        if self.status == FAILED:
            retried = f"; after {self.kernel_retries} kernel retries" if self.kernel_retries else ""
            return f"failed ({self.reason}{retried})"
        if self.status == SKIPPED:
            return f"skipped ({self.reason})" if self.reason else "skipped"
        if self.kernel_retries:
            s = "retry" if self.kernel_retries == 1 else "retries"
            return f"ok after {self.kernel_retries} kernel {s}"
        return "ok"


# -- the worker side ----------------------------------------------------------------------

#: The function a worker calls to run one organisation: (job) -> dict of extra info.
#: Tests replace it with a stand-in; by default it is :func:`_report_pipeline`.
Runner = Callable[[Job], dict[str, Any]]


def _report_pipeline(job: Job) -> dict[str, Any]:
    """Run the real per-organisation pipeline (ingest, analyse, notebook, export)."""
    return report.run_for_batch(job) or {}


def init_worker(warm: bool) -> None:
    """Set up a worker process: signal handling, then (``warm``) :func:`warm_worker`."""
    interrupts.init_worker()
    if warm:
        warm_worker()


def warm_worker() -> None:
    """Import the heavy modules once per worker process, before the first job.

    Each worker serves several organisations; paying pandas / plotly / nbconvert
    imports once per worker rather than once per organisation is most of what
    makes the batch faster than a loop of command-line calls.
    """
    for mod in (
        "pandas",
        "numpy",
        "scipy.stats",
        "statsmodels.stats.proportion",
        "pyarrow.parquet",
        "python_calamine",
        "fastexcel",
        "xlsxwriter",
        "matplotlib.figure",
        "matplotlib.backends.backend_agg",
        "plotly.graph_objects",
        "plotly.io",
        "nbformat",
        "papermill",
        "nbclient",
        "jupyter_client",
        "nbconvert",
        "nbconvert.exporters.html",
        # What the report module defers (it is imported by notebooks, which need less).
        "analysis.engine.run",
        "analysis.render.charts",
        "analysis.render.tables",
        "analysis.pipeline.kernels",
    ):
        try:
            importlib.import_module(mod)
        except ImportError:
            pass  # a missing optional module shows up as a clear failure in the job itself
    # The report notebooks then run on one kernel kept for the worker's life, started (and
    # its imports made) now: a kernel per organisation cost more CPU than most of its cells.
    from analysis.pipeline import kernels

    try:
        kernels.keep_kernel_warm(start=True)
    except Exception:  # noqa: BLE001 - the first job starts it, and reports a failure
        kernels.keep_kernel_warm(start=False)


def run_job(
    job: Job,
    state: dict[str, Any],
    runner: Runner | None = None,
    retries: int = KERNEL_RETRIES,
    backoff: tuple[float, ...] = KERNEL_BACKOFF,
) -> Result:
    """Run one organisation in this process: returns a Result for anything but an interrupt.

    The job holds the organisation's lock throughout. The previous state file is
    removed before the run and a new one written only after it succeeded, so a
    failed or interrupted run is always retried next time, never mistaken for up to
    date. A kernel that fails to start is retried (``retries`` times, pausing
    ``backoff`` seconds; see :func:`analysis.pipeline.failures.kernel_retrying`); any
    other failure is final.
    """
    runner = runner or _report_pipeline
    t0 = time.perf_counter()
    out_dir = Path(job.out_dir)
    retrying = kernel_retrying(retries, backoff)
    try:
        with transaction.locked(out_dir, wait=job.wait):
            clear_state(out_dir)
            info = retrying(runner, job) or {}
            write_state(out_dir, {**state, "seconds": round(time.perf_counter() - t0, 2)})
    except Exception as exc:  # noqa: BLE001 - fault isolation: every failure is reported
        return Result(
            job.trust,
            FAILED,
            seconds=time.perf_counter() - t0,
            output=str(_failed_output(out_dir)),
            reason=describe_failure(exc),
            input_error=isinstance(exc, UserError),
            kernel_retries=max(retrying.statistics.get("attempt_number", 1) - 1, 0),
        )
    return Result(
        job.trust,
        OK,
        seconds=time.perf_counter() - t0,
        output=str(info.get("report", out_dir / "report.html")),
        kernel_retries=retrying.statistics["attempt_number"] - 1,
        phases=dict(info.get("phases", {})),
    )


def _worker_job(*args: Any) -> Result:
    """:func:`run_job` in a pool worker: after an interrupt has been cleaned up, exit."""
    if interrupts.received() is not None:
        return Result(args[0].trust, FAILED, reason="interrupted before it started")
    try:
        with interrupts.busy():
            return run_job(*args)
    except KeyboardInterrupt as exc:
        # The run has removed its staging folders; exit rather than take the next job.
        os._exit(interrupts.exit_status(exc))


def _failed_output(out_dir: Path) -> Path:
    # Point the reader at the executed notebook (it holds the error) when there is one;
    # analysis.pipeline.report keeps it as report.failed.ipynb.
    for name in ("report.failed.ipynb", "report.ipynb"):
        if (out_dir / name).exists():
            return out_dir / name
    return out_dir


# -- the parent side ----------------------------------------------------------------------


def discover(
    paths: list[str] | None,
    raw_dir: Path | None = None,
    instrument: Instrument | str | Path | None = None,
    say: Callable[[str], None] | None = None,
) -> list[tuple[str, Path]]:
    """Workbooks to run, as (slug, path), sorted by slug.

    The slug is :func:`~analysis.ingest.organisation.organisation_of`'s: the workbook's
    ``trust`` column when it names one organisation, else a neutral name from the file's
    sha256 (``workbook-3fa2c1d9``, never ``mary-smith`` from ``Mary-Smith.xlsx``), said
    through ``say`` with how to name it, since it becomes the report's folder and title.

    Raises
    ------
    UserError
        When a named workbook is missing or unreadable, two workbooks are for the same
        organisation, or none is found (every problem at once).
    """
    if paths:
        found = []
        for p in map(Path, paths):
            if not p.is_file():
                raise UserError(f"no such workbook: {p}")
            found.append(p)
    else:
        raw_dir = Path(raw_dir or config.RAW_DIR)
        found = sorted(
            p
            for p in raw_dir.glob("*")
            if p.suffix.lower() in WORKBOOK_SUFFIXES
            and not p.name.startswith(("~$", "."))
            and not is_ratings_file(p)  # an organisation's standards ratings, not cases
        )
        if not found:
            raise UserError(
                f"no workbooks (.xlsx, .xlsm, .csv) in {raw_dir}; "
                "run `python -m analysis demo-data` for demo data"
            )
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    slugs: dict[str, Path] = {}
    problems = []
    for p in found:
        try:
            # A workbook made for another programme is read with its own instrument.
            own = programme_file(p) if instrument is None else None
            org = organisation_of(p, own or inst)
        except UserError as exc:
            problems.append(str(exc))
            continue
        if org.source != "trust column" and say:
            say(f"{p.name}: {org.describe()}")
        if org.slug in slugs:
            problems.append(f"two workbooks for {org.slug!r}: {slugs[org.slug]} and {p}")
            continue
        slugs[org.slug] = p
    if problems:
        raise UserError("\n".join(problems))
    return sorted(slugs.items())


def _progress(total: int, disable: bool | None) -> tqdm:
    return tqdm(total=total, desc="trusts", unit="trust", disable=disable, file=sys.stderr)


def run_batch(
    jobs: list[Job],
    *,
    workers: int | None = None,
    force: bool = False,
    runner: Runner | None = None,
    progress: bool | None = None,
    retries: int = KERNEL_RETRIES,
    backoff: tuple[float, ...] = KERNEL_BACKOFF,
    say: Callable[[str], None] | None = None,
) -> list[Result]:
    """Run ``jobs`` across worker processes; return one Result per job, in job order.

    Parameters
    ----------
    jobs
        The organisations to run.
    workers
        Worker processes (default: the machine's cores, at most one per job to run).
    force
        Rerun every organisation even if it is up to date.
    runner
        The per-organisation function (default: the report pipeline). Must be
        importable by worker processes (a module-level function).
    progress
        Show the tqdm bar (None: only on a terminal).
    retries, backoff
        Kernel start retries and the pause before each.
    say
        Called with one line per organisation before any runs, saying why it is run or
        skipped (:func:`plan_line`); the command line prints them.
    """
    code = code_digests()
    results: dict[str, Result] = {}
    todo: list[tuple[Job, dict[str, Any]]] = []
    why: dict[str, str] = {}
    for job in jobs:
        try:
            state = current_state(
                job.workbook,
                job.instrument,
                job.parameters,
                job.audience,
                code,
                job.standard_ratings,
            )
        except OSError as exc:
            results[job.trust] = Result(job.trust, FAILED, reason=f"cannot read input: {exc}")
            if say:
                say(f"{job.trust}: cannot read its workbook")
            continue
        reason = "--force" if force else why_run(Path(job.out_dir), state, EXPECTED_OUTPUTS)
        why[job.trust] = reason or "unchanged"
        if say:
            say(plan_line(job.trust, reason))
        if reason is None:
            results[job.trust] = Result(
                job.trust,
                SKIPPED,
                output=str(Path(job.out_dir) / "report.html"),
                reason="unchanged",
                why="unchanged",
            )
            continue
        todo.append((job, state))

    if todo:
        # Longest first (by workbook size, a good proxy for run time): the last trust to
        # start is then a short one, so no worker idles while another finishes a big one.
        todo.sort(key=lambda js: -_size(js[0].workbook))
        n_workers = max(1, min(workers or usable_cores(), len(todo)))
        disable = None if progress is None else not progress
        with _progress(len(todo), disable) as bar:
            # Warming up only pays for the real pipeline; a stand-in runner needs none of it.
            _run_pool(todo, n_workers, runner, retries, backoff, results, bar, runner is None)
    for trust, res in results.items():
        res.why = res.why or why.get(trust, "")
    return [results[j.trust] for j in jobs]


def plan_line(trust: str, reason: str | None) -> str:
    """What the batch will do with one organisation, and why.

    Examples
    --------
    >>> plan_line("eastmere", None)
    'eastmere: skipped (unchanged)'
    >>> plan_line("eastmere", "first run")
    'eastmere: run (first run)'
    >>> plan_line("eastmere", "notebook 10_report.ipynb changed")
    'eastmere: rerun (notebook 10_report.ipynb changed)'
    """
    if reason is None:
        return f"{trust}: skipped (unchanged)"
    verb = "run" if reason == "first run" else "rerun"
    return f"{trust}: {verb} ({reason})"


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def _run_pool(todo, n_workers, runner, retries, backoff, results, bar, warm) -> None:
    """Run every job in a pool; survive a worker crash by rerunning the victims one by one."""
    counts = {"failed": 0}

    def record(res: Result) -> None:
        results[res.trust] = res
        counts["failed"] += res.status == FAILED
        bar.update(1)
        bar.set_postfix(
            done=bar.n - counts["failed"], failed=counts["failed"], remaining=bar.total - bar.n
        )

    crashed = _submit(todo, n_workers, runner, retries, backoff, warm, record)
    # A worker died (segfault, out of memory, os._exit) and took the pool with it. The job
    # that killed it cannot be told apart from its neighbours, so each unfinished job is
    # rerun alone in a fresh single-worker pool: only the culprit fails. Rare, so slow is fine.
    for item in crashed:
        again = _submit([item], 1, runner, retries, backoff, warm, record)
        if again:
            record(Result(item[0].trust, FAILED, reason="worker process crashed"))


def _submit(items, n_workers, runner, retries, backoff, warm, record) -> list:
    """Submit ``items`` to a fresh pool; record results; return the items a crash interrupted."""
    crashed = []
    pool = ProcessPoolExecutor(max_workers=n_workers, initializer=init_worker, initargs=(warm,))
    try:
        futures: dict[Future, tuple[Job, dict]] = {
            pool.submit(_worker_job, job, state, runner, retries, backoff): (job, state)
            for job, state in items
        }
        not_done = set(futures)
        while not_done:
            done, not_done = wait(not_done, return_when=FIRST_COMPLETED)
            for fut in done:
                job, _ = futures[fut]
                try:
                    res = fut.result()
                except BrokenProcessPool:
                    crashed.append(futures[fut])
                    continue
                except Exception as exc:  # noqa: BLE001 - e.g. a job that cannot be pickled
                    res = Result(job.trust, FAILED, reason=describe_failure(exc))
                record(res)
    except KeyboardInterrupt:
        # Cancel the queue and pass the signal on: Ctrl-C at a terminal reaches the
        # workers too, but SIGTERM (or a signal sent to this process alone) does not.
        # Each worker cleans up its organisation's staging folders and exits (the
        # interpreter waits for them on the way out); a repeated signal is ignored.
        pool.shutdown(wait=False, cancel_futures=True)
        signum = interrupts.received() or signal.SIGINT
        for child in multiprocessing.active_children():
            try:
                os.kill(child.pid, signum)
            except ProcessLookupError:
                pass  # already gone
        raise
    pool.shutdown(wait=True)
    return crashed


def summary_table(results: list[Result]) -> str:
    """A plain-text table: trust, status, time, output."""
    rows = [("trust", "status", "time", "output")]
    for r in results:
        secs = f"{r.seconds:.1f}s" if r.status != SKIPPED else "-"
        rows.append((r.trust, r.summary_status, secs, _rel(r.output)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        cells = [row[k].ljust(widths[k]) for k in range(3)] + [row[3]]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    n_ok = sum(r.status == OK for r in results)
    n_skip = sum(r.status == SKIPPED for r in results)
    n_fail = sum(r.status == FAILED for r in results)
    lines.append(f"{n_ok} ok, {n_skip} skipped (up to date), {n_fail} failed")
    return "\n".join(lines)


def _rel(path: str) -> str:
    if not path:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def write_summary(results: list[Result], path: Path) -> Path:
    """Keep the last batch's results as JSON beside the outputs (for the aggregate and CI)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n", encoding="utf-8")
    return path


# -- command line ---------------------------------------------------------------------------


def add_cli(parser: argparse.ArgumentParser) -> None:
    """Declare the ``batch`` command's arguments."""
    parser.add_argument(
        "workbooks",
        nargs="*",
        metavar="WORKBOOK",
        help=(
            "case workbooks (default: every .xlsx/.xlsm/.csv in data/raw/); the organisation "
            "is the trust column's, else a neutral name from the workbook's sha256"
        ),
    )
    parser.add_argument("--force", action="store_true", help="rerun organisations up to date")
    add_parameter_options(parser)  # applied to every organisation's run
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        help="worker processes (default: number of cores)",
    )
    parser.add_argument(
        "--audience",
        default="internal",
        choices=AUDIENCES,
        help="internal (all figures) or publication (small cells suppressed)",
    )
    parser.add_argument("--instrument", default=None, help="instrument YAML (default: built-in)")
    parser.add_argument(
        "--standard-ratings",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of the inspectors' domain-one ratings, one file per organisation named "
        "<slug>.ratings.csv (or .yaml); an organisation without one is not rated on them",
    )
    parser.add_argument(
        "--no-aggregate", action="store_true", help="skip the cross-organisation aggregate report"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="wait for other runs of an organisation to finish (default: that organisation fails)",
    )


def cli(args: argparse.Namespace) -> int:
    """Run the batch; exit status 2 when only invalid workbooks failed, 1 for other failures."""
    if args.jobs is not None and args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    params = load_params(args.parameters_file, args.parameter)
    if params:  # refused once, before any organisation runs
        check_notebook_parameters(params, config.NOTEBOOKS_DIR / report.REPORT_NOTEBOOK)
    instrument = Path(args.instrument) if args.instrument else None
    if instrument is not None and not instrument.is_file():
        raise UserError(f"no such instrument file: {instrument}")
    # Every organisation would fail the same way: say so once, before starting any.
    check_writable(config.OUTPUTS_DIR)
    check_writable(config.PROCESSED_DIR)
    ratings_dir = inputs.check_ratings_folder(args.standard_ratings)
    jobs = [
        Job(
            slug,
            path,
            audience=args.audience,
            parameters=params,
            # Each workbook runs against the programme it declares, unless --instrument.
            instrument=instrument or programme_file(path),
            wait=args.wait,
            standard_ratings=inputs.organisation_ratings(ratings_dir, slug),
        )
        for slug, path in discover(
            args.workbooks, instrument=instrument, say=lambda line: print(line, flush=True)
        )
    ]
    t0 = time.perf_counter()
    results = run_batch(
        jobs,
        workers=args.jobs,
        force=args.force,
        progress=False if args.no_progress else None,
        say=lambda line: print(line, flush=True),
    )
    print(summary_table(results))
    print(f"batch wall time {time.perf_counter() - t0:.1f}s")
    write_summary(results, aggregate.aggregate_dir() / "batch-summary.json")
    failed = [r for r in results if r.status == FAILED]
    # 2 when every failure was the input's (invalid workbooks), as for one report; 1 when
    # any was the machine's (a notebook, a kernel), which a rerun may cure.
    status = (1 if any(not r.input_error for r in failed) else 2) if failed else 0

    if not args.no_aggregate:
        # One aggregate pools one programme: the batch's (the default, or --instrument).
        own = {j.trust: j.instrument for j in jobs}
        ok = [r.trust for r in results if r.status in (OK, SKIPPED)]
        good = [t for t in ok if own.get(t) == instrument]
        others = sorted(set(ok) - set(good))
        if others:
            print(
                f"aggregate: leaves out {', '.join(others)} (inspected under another "
                "programme: `python -m analysis aggregate --instrument FILE` with their "
                "organisations pools them)"
            )
        if len(good) < 2:
            print("aggregate: skipped (needs at least two organisations that succeeded)")
        else:
            try:
                out = aggregate.build(good, audience=args.audience, instrument=instrument)
                print(f"aggregate: {_rel(str(out))} ({len(good)} organisations)")
            except Exception as exc:  # noqa: BLE001 - the trusts' reports still stand
                print(f"aggregate: failed ({describe_failure(exc)})", file=sys.stderr)
                status = 1
    return status
