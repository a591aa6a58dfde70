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


def execute_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: dict[str, Any],
    *,
    cwd: str | Path,
    progress: bool = False,
) -> None:
    """Execute ``notebook`` with papermill into ``output`` on an IPC kernel.

    Raises whatever papermill raises (``PapermillExecutionError`` for a failing cell);
    the executed notebook, error included, is saved at ``output`` either way. A
    signal while it runs shuts the kernel down, then raises ``KeyboardInterrupt``
    (:class:`analysis.pipeline.interrupts.Terminated` for SIGTERM).
    """
    outcome: dict[str, BaseException] = {}
    done = threading.Event()

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
