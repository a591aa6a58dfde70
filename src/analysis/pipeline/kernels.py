"""How the suite starts notebook kernels: over Unix sockets, not TCP ports.

Parallel papermill runs on TCP can collide on ports (papermill issues #511
"ZMQError: Address already in use", #239 "Kernel didn't respond"), and every
TCP kernel warns that it runs without encryption. IPC sockets live in the
kernel's private runtime folder, named after its unique connection file, so two
kernels never share an address and nothing listens on the network.

The notebook runs in a helper thread, so that a signal (Ctrl-C, SIGTERM; see
:mod:`analysis.pipeline.interrupts`) reaches the main thread rather than the
middle of papermill's event loop, where ``KeyboardInterrupt`` would strand a
pending task (the asyncio tracebacks at exit) and skip the kernel's shutdown. The
main thread then kills the notebook's kernel: papermill sees a dead kernel, shuts
it down and removes its sockets as after any failure, and the interrupt goes on
once the thread is done.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def without_module(name: str) -> Iterator[None]:
    """Make ``import name`` fail (ImportError) inside the block, unless it is already loaded.

    For an optional module a library probes with ``try: import ... except ImportError``
    that this suite never needs; ``import name`` works again after the block.
    """
    if name in sys.modules:
        yield
        return
    sys.modules[name] = None  # type: ignore[assignment]  # the import system's "not here"
    try:
        yield
    finally:
        if sys.modules.get(name, 0) is None:
            del sys.modules[name]


# nbformat validates notebooks with jsonschema, whose format checkers probe optional
# modules; rfc3987_syntax (installed for jupyter-events) compiles 39 lark grammars on
# import: 2-3 s of CPU per process, a third of a report's import time, for the "iri"
# format no notebook schema uses (measured in bench/report.py).
with without_module("rfc3987_syntax"):
    import jsonschema  # noqa: F401

import nbformat  # noqa: E402
import papermill as pm  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402
from papermill.clientwrap import PapermillNotebookClient  # noqa: E402
from papermill.engines import NBClientEngine, papermill_engines  # noqa: E402
from papermill.log import logger as pm_logger  # noqa: E402
from papermill.utils import remove_args  # noqa: E402
from traitlets import default  # noqa: E402

from analysis.fileio import atomic_path, storage_error  # noqa: E402
from analysis.pipeline import interrupts  # noqa: E402


class _QuietOnceInterrupted(logging.Filter):
    """Drop papermill's log records once a signal stopped the run.

    The kernel is killed on purpose then, and nbclient logs "Error occurred while starting
    new kernel client ... Kernel died before replying to kernel_info": noise that reads
    like a fault. The run prints ``interrupted`` instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return interrupts.received() is None


# papermill hands its logger to nbclient, which logs the kernel's death with it.
logging.getLogger("papermill").addFilter(_QuietOnceInterrupted())

#: Live kernel managers, to find the kernels of a notebook being interrupted.
_MANAGERS: weakref.WeakSet[IPCKernelManager] = weakref.WeakSet()


class IPCKernelManager(AsyncKernelManager):
    """An async kernel manager whose kernels talk over Unix domain sockets."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # papermill creates the manager in the thread that runs the notebook.
        self.runner_thread = threading.current_thread()
        _MANAGERS.add(self)

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        # Socket paths derive from the connection file, unique per kernel; without one,
        # jupyter_client would fall back to "kernel-ipc" in the working directory. jupyter_client
        # reads ``ip`` before it names the connection file, so the fallback must be unique on
        # its own: ``id(self)`` repeats across processes (same code, same heap layout), and two
        # kernels started at once by parallel runs then raced for the same socket paths.
        if self.connection_file:
            return str(Path(self.connection_file).with_suffix("")) + "-ipc"
        return str(Path(_runtime_dir()) / f"kernel-{os.getpid()}-{uuid.uuid4().hex}-ipc")


def _runtime_dir() -> str:
    from jupyter_core.paths import jupyter_runtime_dir

    path = Path(jupyter_runtime_dir())
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


# -- a warm kernel for batch workers -----------------------------------------------------------

#: papermill engine name of :class:`WarmEngine`.
WARM_ENGINE = "analysis-warm"
#: Run in the warm kernel before each notebook, silently (no execution count, no output):
#: the previous notebook's names go (``%reset -f``; loaded modules stay, which is the
#: point), cells are numbered from 1 and charts' DOM ids counted from 1, as in a new kernel.
RESET_CODE = (
    "get_ipython().run_line_magic('reset', '-f')\n"
    "get_ipython().execution_count = 1\n"
    "__import__('analysis.render.export').render.export.reset_chart_ids()"
)
#: Imported in the warm kernel when it starts (what the report notebook's cells load).
WARM_IMPORTS = (
    "import analysis.pipeline.report, analysis.pipeline.provenance, analysis.render.export, "
    "analysis.render.narrative, analysis.render.charts, plotly.graph_objects, plotly.io"
)
#: This process's warm kernel, once :func:`keep_kernel_warm` asked for one.
_warm: dict[str, Any] = {}


class _WarmClient(PapermillNotebookClient):
    """papermill's client, resetting the kept kernel's namespace before the first cell."""

    def papermill_execute_cells(self) -> None:
        reply = self.wait_for_reply(self.kc.execute(RESET_CODE, silent=True, store_history=False))
        if reply is None or reply["content"].get("status") != "ok":
            raise RuntimeError("the warm kernel could not be reset before the notebook")
        super().papermill_execute_cells()


class WarmEngine(NBClientEngine):
    """papermill's nbclient engine on a kernel kept across runs in this process.

    A batch worker runs one organisation's report notebook after another: starting a
    kernel and importing pandas, plotly and the suite in it cost more CPU than most of
    the notebook's cells. The notebook is still parameterised and executed by
    papermill; only the kernel is reused, its namespace reset before each run
    (:data:`RESET_CODE`). A kernel that died, or ran in another folder, is replaced.
    """

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Execute ``nb_man``'s notebook as papermill's engine does, on the kept kernel."""
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        kwargs.pop("kernel_manager_class", None)
        _wait_for_prestart()  # a kernel started early (prestart_kernel) is this one
        km = _warm_kernel(kernel_name, start_timeout)
        km.runner_thread = threading.current_thread()  # for _kill_kernels on a signal
        client = _WarmClient(
            nb_man,
            km=km,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=pm_logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
            **kwargs,
        )
        try:
            return client.execute()
        finally:
            if client.kc is not None:
                client.kc.stop_channels()  # this run's client; the kernel stays


def keep_kernel_warm(start: bool = True, cwd: str | Path | None = None) -> None:
    """Run this process's notebooks on one kept kernel (:class:`WarmEngine`); ``start`` it now.

    For batch workers (:func:`analysis.pipeline.batch.warm_worker`). ``cwd``: the folder
    the notebooks will run in (papermill's ``cwd``; the notebooks folder by default), so
    that the first notebook finds the kernel already there. The kernel is shut down when
    the process exits.
    """
    _warm["enabled"] = True
    if start:
        from analysis import config

        _warm_kernel("python3", 60, str(cwd or config.NOTEBOOKS_DIR))


def _warm_kernel(kernel_name: str, start_timeout: int, cwd: str | None = None) -> IPCKernelManager:
    """The kept kernel for ``kernel_name`` in ``cwd`` (the current folder), started when needed."""
    from jupyter_core.utils import run_sync

    cwd = os.path.realpath(cwd or os.getcwd())
    key = (kernel_name, cwd)
    km = _warm.get("km")
    if km is not None and (_warm.get("key") != key or not run_sync(km.is_alive)()):
        _stop_warm_kernel()
        km = None
    if km is None:
        km = IPCKernelManager(kernel_name=kernel_name)
        _warm["starting_km"] = km  # stop_kernel kills it if the run ends while it starts
        try:
            run_sync(km.start_kernel)(cwd=cwd)
            kc = km.client()
            kc.start_channels()
            try:
                run_sync(kc.wait_for_ready)(timeout=start_timeout)
                run_sync(kc.execute_interactive)(WARM_IMPORTS, silent=True, timeout=120)
            finally:
                kc.stop_channels()
        finally:
            _warm.pop("starting_km", None)
        _warm.update(km=km, key=key)
        if not _warm.get("finalizer"):
            import multiprocessing.util

            # Pool workers leave through os._exit, which skips atexit but not these.
            _warm["finalizer"] = multiprocessing.util.Finalize(
                None, _stop_warm_kernel, exitpriority=50
            )
    return km


def prestart_kernel(cwd: str | Path | None = None) -> None:
    """Start this process's kept kernel (and its imports) now, in a background thread.

    For one cold ``report`` (issue 15): the kernel starts on the second core while the
    pipeline analyses, instead of after it. The notebook then runs on it
    (:class:`WarmEngine`), waiting for it if it is still starting; a kernel that failed to
    start is started again by the notebook, which reports the failure. End with
    :func:`stop_kernel`.
    """
    from analysis import config

    _warm["enabled"] = True
    folder = str(cwd or config.NOTEBOOKS_DIR)

    def start() -> None:
        try:
            _warm_kernel("python3", 60, folder)
        except Exception:  # noqa: BLE001 - the notebook starts one, and reports a failure
            pass

    thread = threading.Thread(target=start, name="kernel-prestart", daemon=True)
    _warm["starting"] = thread
    thread.start()


def prestart_after_ingest() -> None:
    """Ask the next report run in this process to :func:`prestart_kernel` once it has ingested.

    After the ingest, so an invalid workbook (the usual error) never starts a kernel.
    """
    _warm["prestart"] = True


def prestart_if_asked() -> None:
    """:func:`prestart_kernel`, if :func:`prestart_after_ingest` asked for it (once)."""
    if _warm.pop("prestart", False):
        prestart_kernel()


def _wait_for_prestart() -> None:
    thread = _warm.pop("starting", None)
    if thread is not None:
        thread.join()


#: Seconds :func:`stop_kernel` waits for a prestart thread once its kernel is killed.
PRESTART_JOIN = 15.0


def stop_kernel() -> None:
    """Stop this process's kept kernel, and one :func:`prestart_kernel` is still starting.

    A kernel still starting (the run was stopped, or failed, before its notebook) is
    killed, not waited for: its start and imports took minutes on a loaded machine, and a
    report stopped by SIGTERM waited for them before it could exit.
    """
    _warm.pop("prestart", None)
    thread = _warm.pop("starting", None)
    if thread is not None and thread.is_alive():
        _kill(_warm.get("starting_km"))
        thread.join(PRESTART_JOIN)  # a daemon: the process may exit even if it lingers
    _stop_warm_kernel()
    _warm.pop("enabled", None)


def _kill(km: Any) -> None:
    """Kill the process of a kernel manager's kernel, if it has one and it is running."""
    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        process.kill()


def _stop_warm_kernel() -> None:
    from jupyter_core.utils import run_sync

    km = _warm.pop("km", None)
    _warm.pop("key", None)
    if km is None:
        return
    process = getattr(km.provisioner, "process", None)
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(10)
    try:
        run_sync(km.cleanup_resources)()
    except Exception:  # noqa: BLE001 - best effort at exit: the sockets are in a private folder
        pass


def execute_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: dict[str, Any],
    *,
    cwd: str | Path,
    progress: bool = False,
) -> None:
    """Execute ``notebook`` with papermill into ``output`` on an IPC kernel.

    The kernel is a new one, or in a process that asked for it (:func:`keep_kernel_warm`:
    batch workers) the one kept across runs. Raises whatever papermill raises
    (``PapermillExecutionError`` for a failing cell); the executed notebook, error
    included, is saved at ``output`` either way. A signal while it runs shuts the kernel
    down, then raises ``KeyboardInterrupt``
    (:class:`analysis.pipeline.interrupts.Terminated` for SIGTERM).
    """
    outcome: dict[str, BaseException] = {}
    done = threading.Event()
    engine = WARM_ENGINE if _warm.get("enabled") else None

    def run() -> None:
        try:
            pm.execute_notebook(
                str(notebook),
                str(output),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(cwd),
                kernel_manager_class=IPCKernelManager,
                engine_name=engine,
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=run, name="notebook", daemon=True)
    thread.start()
    # An Event, not thread.join(): on Python 3.11 a join cut short by KeyboardInterrupt
    # marks the thread as finished while it still runs (the fix of bpo-45274).
    try:
        done.wait()
    except KeyboardInterrupt:
        # Further signals are ignored (interrupts) while the kernel goes; kill again
        # until the thread is done, in case the kernel was still starting.
        _kill_kernels(thread)
        while not done.wait(0.5):
            _kill_kernels(thread)
        raise
    if "error" in outcome:
        interrupts.raise_if_received()
        error = outcome["error"]
        if isinstance(error, OSError) and error.filename is None:
            # papermill saving the executed notebook (a full disk): name the file.
            raise storage_error(error, output) from error
        raise error


def _kill_kernels(thread: threading.Thread) -> None:
    for km in list(_MANAGERS):
        process = getattr(km.provisioner, "process", None) if km.runner_thread is thread else None
        if process is not None and process.poll() is None:
            process.kill()


papermill_engines.register(WARM_ENGINE, WarmEngine)


def point_parameters_at(nb_path: Path, build: Path, final: Path) -> None:
    """Make the executed notebook's injected parameters name the final folder, not ``build``.

    The notebook runs against the staging folder, which is gone once the outputs are
    swapped into place; rerunning ``report.ipynb`` later must find them.
    """
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = cell.source.replace(str(build), str(final))
    nbformat.write(nb, nb_path)


def keep_failed_notebook(nb_out: Path, final: Path, error: BaseException) -> None:
    """Keep the executed notebook, error included, as ``final/report.failed.ipynb``.

    Only a complete notebook is kept (papermill's copy is cut short when the disk is
    full), written atomically; if that fails too, the reason is noted on ``error``,
    which stays the error the run reports.
    """
    try:
        json.loads(nb_out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    try:
        with atomic_path(final / "report.failed.ipynb") as tmp:
            shutil.copyfile(nb_out, tmp)
    except OSError as exc:
        error.add_note(f"the failed notebook could not be kept: {exc}")
