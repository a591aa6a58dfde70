"""Ctrl-C and SIGTERM: the run stops, cleans up after itself and exits 130 or 143.

Python turns Ctrl-C (SIGINT) into :class:`KeyboardInterrupt`, so ``finally`` blocks
remove a run's staging folders; SIGTERM (``kill``, a scheduler stopping a job) would
kill the process on the spot instead. :func:`install` makes both raise, SIGTERM as
:class:`Terminated` (a ``KeyboardInterrupt``, so every cleanup written for Ctrl-C
applies), and only the first signal counts: a second one while the run cleans up
is ignored, so the cleanup itself is never cut short.

The report notebook runs on an event loop in a helper thread
(:func:`analysis.pipeline.kernels.execute_notebook`): there nbclient installs no
signal handlers of its own, and the interrupted main thread cancels the loop's tasks,
which shuts the kernel down as on any failure, before the interrupt goes on.

A commit (renames that must all happen) runs inside :func:`deferred`: a signal
that arrives meanwhile is raised when the block is done. (Blocking the signals with
``pthread_sigmask`` would not do: another thread would take the signal, and Python
runs its handler in the main thread all the same.)
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: The signals a run stops for.
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: int | None = None
#: In a batch worker process: exit at once when a signal finds no job running.
_exit_when_idle = False
_busy = False
#: Depth of :func:`deferred` blocks being run.
_deferring = 0


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: handled exactly as Ctrl-C is, with exit status 143."""


def exit_status(exc: BaseException) -> int:
    """The exit status of a run stopped by ``exc``: 143 for SIGTERM, 130 for Ctrl-C."""
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def received() -> int | None:
    """The signal that asked this process to stop, or None."""
    return _received


def _exception(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def raise_if_received() -> None:
    """Raise the interrupt a signal asked for (after code that may have swallowed it)."""
    if _received is not None:
        raise _exception(_received)


def _handle(signum: int, frame: object) -> None:
    global _received
    if _received is not None:
        return  # already stopping: let the cleanup finish
    _received = signum
    if _exit_when_idle and not _busy:
        os._exit(128 + signum)  # an idle batch worker has nothing to clean up
    if _deferring:
        return  # deferred() raises it once its block is done
    raise _exception(signum)


def install() -> Callable[[], None]:
    """Raise on SIGINT and SIGTERM from now on; return the function that undoes it.

    Only the main thread can set handlers; elsewhere this does nothing. Undoing it
    restores the previous handlers and forgets any signal received, so that a second
    command run in the same process (a test) starts afresh.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {s: signal.signal(s, _handle) for s in SIGNALS}

    def restore() -> None:
        global _received
        for s, h in previous.items():
            signal.signal(s, h)
        _received = None

    return restore


def init_worker() -> None:
    """Install the handlers in a batch worker process (a pool initializer).

    A worker between jobs exits at once; a worker running one raises, so that the
    organisation's run cleans up, and then exits (:func:`analysis.pipeline.batch.run_job`).
    """
    global _exit_when_idle, _received
    _exit_when_idle, _received = True, None
    for s in SIGNALS:
        signal.signal(s, _handle)


@contextmanager
def busy() -> Iterator[None]:
    """Mark a batch worker as running a job (a signal then raises instead of exiting)."""
    global _busy
    _busy = True
    try:
        yield
    finally:
        _busy = False


@contextmanager
def deferred() -> Iterator[None]:
    """Run the block to its end whatever signal arrives; then raise the interrupt, if any."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if not _deferring:
        raise_if_received()
