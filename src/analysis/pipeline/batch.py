"""Run the per-organisation report pipeline for many workbooks in parallel.

``python -m analysis batch [WORKBOOK ...]`` runs :mod:`analysis.pipeline.report` once per
workbook (default: every ``.xlsx``/``.xlsm``/``.csv`` in ``data/raw/``; the
organisation slug is the file's stem) across the machine's cores, then builds
the cross-organisation aggregate (:mod:`analysis.pipeline.aggregate`) from the
organisations that succeeded.

Three properties matter to the inspectorate, who run this for every organisation:

Fault isolation
    One invalid workbook or failing notebook never stops the others. Each
    organisation's outcome is caught in its worker and reported in the summary;
    a failed notebook's executed copy (with the error in it) is kept.
Incremental
    An organisation whose workbook, instrument and code (a hash of the
    ``analysis`` package sources and the notebooks) and run parameters are
    unchanged since its last *successful* run is skipped. The hashes are kept
    in ``outputs/<trust>/.batch-state.json``, written only after success, so a
    failure is always retried.
Transient kernel failures
    Starting many Jupyter kernels at once occasionally fails (papermill issues
    #511 "ZMQError: Address already in use" - two kernels picked the same free
    port - and #239 "Kernel didn't respond"). Those are retried with a short
    backoff before the organisation is called failed, and the summary says so.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from analysis import config
from analysis.errors import UserError
from analysis.fileio import atomic_path
from analysis.pipeline.provenance import sha256_file

#: Workbook suffixes picked up from data/raw/ when no workbook is named.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".csv")
#: Name of the per-organisation state file (hidden: it is bookkeeping, not an output).
STATE_FILE = ".batch-state.json"
#: Bump when the state file's keys change meaning; an old state then never matches.
STATE_SCHEMA = 1
#: Kernel start retries and the pause before each (seconds): short, because the usual
#: cause (a port race between two starting kernels) clears as soon as one has bound.
KERNEL_RETRIES = 2
KERNEL_BACKOFF = (1.0, 3.0)

OK, SKIPPED, FAILED = "ok", "skipped", "failed"


# -- hashing and state -------------------------------------------------------------------


def _code_files(package_dir: Path, notebooks_dir: Path) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for p in sorted(package_dir.rglob("*")):
        # Only what can change a report: sources, instruments, profiles, templates, assets.
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"):
            files.append(("analysis/" + p.relative_to(package_dir).as_posix(), p))
    if notebooks_dir.is_dir():
        for p in sorted(notebooks_dir.glob("*.ipynb")):
            files.append(("notebooks/" + p.name, p))
    return files


def code_hash(package_dir: Path | None = None, notebooks_dir: Path | None = None) -> str:
    """Hash of the installed ``analysis`` package files and the notebooks.

    Any edit to the code, an instrument, a template or a notebook changes it,
    so every organisation is rerun after an upgrade. Paths are hashed with the
    contents so that renaming a file counts as a change.
    """
    package_dir = package_dir or config.PACKAGE_DIR
    notebooks_dir = notebooks_dir or config.NOTEBOOKS_DIR
    h = hashlib.sha256()
    for rel, path in _code_files(Path(package_dir), Path(notebooks_dir)):
        h.update(rel.encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def params_hash(parameters: dict[str, Any], audience: str) -> str:
    """Hash of the run parameters (a different audience or -f file is a different report)."""
    blob = json.dumps({"audience": audience, "parameters": parameters}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def current_state(job: Job, code: str) -> dict[str, Any]:
    """The state a successful run of ``job`` would record now."""
    return {
        "schema": STATE_SCHEMA,
        "input_sha256": sha256_file(job.workbook),
        "instrument_sha256": sha256_file(job.instrument or config.DEFAULT_INSTRUMENT),
        "code_sha256": code,
        "params_sha256": params_hash(job.parameters, job.audience),
    }


def read_state(out_dir: Path) -> dict[str, Any]:
    """The recorded state of the last successful run, or {} (missing or unreadable)."""
    try:
        return json.loads((Path(out_dir) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_state(out_dir: Path, state: dict[str, Any]) -> Path:
    """Record a successful run atomically (a crash mid-write must not look like success)."""
    path = Path(out_dir) / STATE_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


_KEY_WORDS = {
    "schema": "batch state format changed",
    "input_sha256": "workbook changed",
    "instrument_sha256": "instrument changed",
    "code_sha256": "code or notebooks changed",
    "params_sha256": "parameters changed",
}


def why_run(out_dir: Path, state: dict[str, Any], expected_outputs: Iterable[str]) -> str | None:
    """Why an organisation must be (re)run, or None when it is up to date.

    Parameters
    ----------
    out_dir
        The organisation's output folder.
    state
        :func:`current_state` for this run.
    expected_outputs
        Files (relative to ``out_dir``) a successful run leaves; a deleted
        output forces a rerun even when nothing else changed.
    """
    old = read_state(out_dir)
    if not old:
        return "no previous successful run"
    for key, words in _KEY_WORDS.items():
        if old.get(key) != state.get(key):
            return words
    missing = [f for f in expected_outputs if not (Path(out_dir) / f).exists()]
    if missing:
        return f"output missing: {missing[0]}"
    return None


# -- kernel failure classifier --------------------------------------------------------------

#: Messages of kernel start failures worth retrying (lower case).
_KERNEL_START_PATTERNS = (
    "address already in use",  # papermill #511: ZMQError, port race between kernels
    "kernel didn't respond",  # papermill #239: RuntimeError from wait_for_ready
    "kernel died before replying to kernel_info",
    "kernel failed to start",
    "timeout waiting for kernel_info reply",
    "error occurred while starting new kernel client",
)
#: Exception types that mean the *notebook* failed: never retried however they read.
_NOTEBOOK_ERRORS = ("PapermillExecutionError", "CellExecutionError", "CellTimeoutError")
#: Functions on a traceback that show a RuntimeError came from starting a kernel.
_KERNEL_START_FRAMES = ("start_new_kernel", "start_kernel", "wait_for_ready", "async_start_kernel")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def is_kernel_start_failure(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a transient failure to start a kernel.

    A notebook that raised (papermill's ``PapermillExecutionError``) is never a
    kernel failure, even if its own error text mentions ports or kernels: rerunning
    it would only fail again and waste time.
    """
    chain = _chain(exc)
    if any(type(e).__name__ in _NOTEBOOK_ERRORS for e in chain):
        return False
    for e in chain:
        text = f"{type(e).__name__}: {e}".lower()
        if type(e).__name__ == "ZMQError" and "address" in text:
            return True
        if any(p in text for p in _KERNEL_START_PATTERNS):
            return True
        if isinstance(e, RuntimeError | TimeoutError) and e.__traceback__ is not None:
            frames = {f.name for f in traceback.extract_tb(e.__traceback__)}
            if frames & set(_KERNEL_START_FRAMES):
                return True
    return False


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


#: Outputs a successful trust run leaves (checked before skipping).
EXPECTED_OUTPUTS = ("report.html", "findings.parquet")


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else ""
    name = type(exc).__name__
    out = f"{name}: {msg}" if msg else name
    return out if len(out) <= limit else out[: limit - 1] + "…"


def describe_failure(exc: BaseException) -> str:
    """One short reason for the summary table."""
    name = type(exc).__name__
    if name == "IngestError":
        problems = getattr(exc, "problems", [])
        first = str(problems[0]) if problems else _first_line(exc)
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return _clip(f"invalid workbook: {first}{more}")
    if name == "PapermillExecutionError":
        ename = getattr(exc, "ename", "") or "error"
        evalue = (getattr(exc, "evalue", "") or "").splitlines()
        cell = getattr(exc, "exec_count", None)
        where = f" in cell {cell}" if cell is not None else ""
        reason = f"notebook error{where}: {ename}: {evalue[0] if evalue else ''}".rstrip(": ")
        return reason[:160]
    if is_kernel_start_failure(exc):
        return "kernel did not start: " + _first_line(exc)
    return _first_line(exc)


# -- the worker side ----------------------------------------------------------------------

#: The function a worker calls to run one organisation: (job) -> dict of extra info.
#: Tests replace it with a stand-in; by default it is :func:`_report_pipeline`.
Runner = Callable[[Job], dict[str, Any]]


def _report_pipeline(job: Job) -> dict[str, Any]:
    """Run the real per-organisation pipeline (ingest, analyse, notebook, export)."""
    from analysis.pipeline import report

    return report.run_for_batch(job) or {}


def warm_worker() -> None:
    """Import the heavy modules once per worker process, before the first job.

    Each worker serves several organisations; paying pandas / plotly / nbconvert
    imports once per worker rather than once per organisation is most of what
    makes the batch faster than a loop of command-line calls.
    """
    import importlib

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
        "analysis.ingest",
        "analysis.engine.run",
        "analysis.render.charts",
        "analysis.render.tables",
        "analysis.render.export",
        "analysis.pipeline.report",
    ):
        try:
            importlib.import_module(mod)
        except ImportError:
            pass  # a missing optional module shows up as a clear failure in the job itself


def run_job(
    job: Job,
    state: dict[str, Any],
    runner: Runner | None = None,
    retries: int = KERNEL_RETRIES,
    backoff: tuple[float, ...] = KERNEL_BACKOFF,
) -> Result:
    """Run one organisation in this process: never raises, always returns a Result.

    The previous state file is removed before the run and a new one written only
    after it succeeded, so a failed or interrupted run is always retried next
    time, never mistaken for up to date. A kernel that fails to start is retried
    (``retries`` times, pausing ``backoff`` seconds); any other failure is final.
    """
    runner = runner or _report_pipeline
    t0 = time.perf_counter()
    out_dir = Path(job.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / STATE_FILE).unlink(missing_ok=True)
    attempt = 0
    while True:
        try:
            info = runner(job) or {}
        except Exception as exc:  # noqa: BLE001 - fault isolation: every failure is reported
            if is_kernel_start_failure(exc) and attempt < retries:
                time.sleep(backoff[min(attempt, len(backoff) - 1)])
                attempt += 1
                continue
            return Result(
                job.trust,
                FAILED,
                seconds=time.perf_counter() - t0,
                output=str(_failed_output(out_dir)),
                reason=describe_failure(exc),
                kernel_retries=attempt,
            )
        break
    write_state(out_dir, {**state, "seconds": round(time.perf_counter() - t0, 2)})
    return Result(
        job.trust,
        OK,
        seconds=time.perf_counter() - t0,
        output=str(info.get("report", out_dir / "report.html")),
        kernel_retries=attempt,
        phases=dict(info.get("phases", {})),
    )


def _failed_output(out_dir: Path) -> Path:
    # Point the reader at the executed notebook (it holds the error) when there is one;
    # analysis.pipeline.report keeps it as report.failed.ipynb.
    for name in ("report.failed.ipynb", "report.ipynb"):
        if (out_dir / name).exists():
            return out_dir / name
    return out_dir


# -- the parent side ----------------------------------------------------------------------


def discover(paths: list[str] | None, raw_dir: Path | None = None) -> list[tuple[str, Path]]:
    """Workbooks to run, as (slug, path), sorted by slug.

    Raises
    ------
    UserError
        When a named workbook is missing, two workbooks share a slug, or none is found.
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
            if p.suffix.lower() in WORKBOOK_SUFFIXES and not p.name.startswith(("~$", "."))
        )
        if not found:
            raise UserError(
                f"no workbooks (.xlsx, .xlsm, .csv) in {raw_dir}; "
                "run `python -m analysis demo-data` for demo data"
            )
    slugs: dict[str, Path] = {}
    for p in found:
        if p.stem in slugs:
            raise UserError(f"two workbooks for {p.stem!r}: {slugs[p.stem]} and {p}")
        slugs[p.stem] = p
    return sorted(slugs.items())


def load_params(path: str | Path | None, pairs: list[list[str]] | None = None) -> dict[str, Any]:
    """Parameters for every run: a YAML mapping (papermill's ``-f``) then ``-p`` pairs.

    Values of ``-p`` are read as YAML, as papermill does (``-p n 3`` gives 3).
    ``trust`` is always set per organisation and cannot be overridden here.
    """
    import yaml

    params: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UserError(f"cannot read parameters file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise UserError(f"{path}: not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise UserError(f"{path}: parameters must be a YAML mapping of name: value")
        params.update(loaded)
    for name, value in pairs or []:
        params[name] = yaml.safe_load(value)
    if "trust" in params:
        raise UserError("`trust` is set from each workbook's name; remove it from the parameters")
    return params


def _progress(total: int, disable: bool | None):
    from tqdm import tqdm

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
    """
    code = code_hash()
    results: dict[str, Result] = {}
    todo: list[tuple[Job, dict[str, Any]]] = []
    for job in jobs:
        try:
            state = current_state(job, code)
        except OSError as exc:
            results[job.trust] = Result(job.trust, FAILED, reason=f"cannot read input: {exc}")
            continue
        reason = None if force else why_run(Path(job.out_dir), state, EXPECTED_OUTPUTS)
        if not force and reason is None:
            results[job.trust] = Result(
                job.trust, SKIPPED, output=str(Path(job.out_dir) / "report.html"), reason=""
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
            warm = warm_worker if runner is None else None
            _run_pool(todo, n_workers, runner, retries, backoff, results, bar, warm)
    return [results[j.trust] for j in jobs]


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
    pool = ProcessPoolExecutor(max_workers=n_workers, initializer=warm)
    try:
        futures: dict[Future, tuple[Job, dict]] = {
            pool.submit(run_job, job, state, runner, retries, backoff): (job, state)
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
        # Do not wait for running trusts: cancel the queue and let the workers (which got
        # the same SIGINT from the terminal) stop.
        pool.shutdown(wait=False, cancel_futures=True)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n", encoding="utf-8")
    return path


# -- command line ---------------------------------------------------------------------------


def add_cli(parser: argparse.ArgumentParser) -> None:
    """Declare the ``batch`` command's arguments."""
    parser.add_argument(
        "workbooks",
        nargs="*",
        metavar="WORKBOOK",
        help="case workbooks (default: every .xlsx/.xlsm/.csv in data/raw/); slug = file stem",
    )
    parser.add_argument("--force", action="store_true", help="rerun organisations up to date")
    parser.add_argument(
        "-f",
        "--parameters-file",
        dest="parameters_file",
        metavar="PARAMS.yaml",
        help="YAML mapping of notebook parameters applied to every run (as papermill -f)",
    )
    parser.add_argument(
        "-p",
        "--parameter",
        dest="parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="one notebook parameter for every run (as papermill -p); repeatable",
    )
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
        choices=("internal", "publication"),
        help="internal (all figures) or publication (small cells suppressed)",
    )
    parser.add_argument("--instrument", default=None, help="instrument YAML (default: built-in)")
    parser.add_argument(
        "--no-aggregate", action="store_true", help="skip the cross-organisation aggregate report"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def cli(args: argparse.Namespace) -> int:
    """Run the batch; exit status 1 when any organisation (or the aggregate) failed."""
    if args.jobs is not None and args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    params = load_params(args.parameters_file, args.parameter)
    instrument = Path(args.instrument) if args.instrument else None
    if instrument is not None and not instrument.is_file():
        raise UserError(f"no such instrument file: {instrument}")
    jobs = [
        Job(slug, path, audience=args.audience, parameters=params, instrument=instrument)
        for slug, path in discover(args.workbooks)
    ]
    t0 = time.perf_counter()
    results = run_batch(
        jobs,
        workers=args.jobs,
        force=args.force,
        progress=False if args.no_progress else None,
    )
    print(summary_table(results))
    print(f"batch wall time {time.perf_counter() - t0:.1f}s")
    write_summary(results, config.OUTPUTS_DIR / "aggregate" / "batch-summary.json")
    status = 1 if any(r.status == FAILED for r in results) else 0

    if not args.no_aggregate:
        good = [r.trust for r in results if r.status in (OK, SKIPPED)]
        if len(good) < 2:
            print("aggregate: skipped (needs at least two organisations that succeeded)")
        else:
            from analysis.pipeline import aggregate

            try:
                out = aggregate.build(good, audience=args.audience, instrument=instrument)
                print(f"aggregate: {_rel(str(out))} ({len(good)} organisations)")
            except Exception as exc:  # noqa: BLE001 - the trusts' reports still stand
                print(f"aggregate: failed ({describe_failure(exc)})", file=sys.stderr)
                status = 1
    return status
