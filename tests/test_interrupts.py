"""Ctrl-C and SIGTERM (analysis.pipeline.interrupts): raised, once, and never mid-commit."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import pytest

from analysis.pipeline import interrupts


@pytest.fixture
def handled():
    restore = interrupts.install()
    yield
    restore()


def test_exit_status_is_128_plus_the_signal():
    assert interrupts.exit_status(interrupts.Terminated()) == 143
    assert interrupts.exit_status(KeyboardInterrupt()) == 130
    assert isinstance(interrupts.Terminated(), KeyboardInterrupt)  # Ctrl-C's cleanups apply


def test_sigterm_raises_terminated_and_sigint_keyboard_interrupt(handled):
    with pytest.raises(interrupts.Terminated):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert interrupts.received() == signal.SIGTERM


def test_install_restores_the_previous_handlers_and_forgets_the_signal():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    restore = interrupts.install()
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    restore()
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert interrupts.received() is None


def test_a_second_signal_while_cleaning_up_is_ignored(handled):
    with pytest.raises(interrupts.Terminated):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    os.kill(os.getpid(), signal.SIGINT)  # e.g. an impatient Ctrl-C during the cleanup
    time.sleep(0.2)
    with pytest.raises(interrupts.Terminated):  # the first signal is what is reported
        interrupts.raise_if_received()


def test_deferred_runs_its_block_to_the_end_then_raises(handled):
    done = []
    with pytest.raises(interrupts.Terminated):
        with interrupts.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
            done.append("first rename")
            with interrupts.deferred():  # nested: only the outer block raises
                done.append("second rename")
            done.append("third rename")
    assert done == ["first rename", "second rename", "third rename"]


def test_deferred_without_a_signal_raises_nothing(handled):
    with interrupts.deferred():
        pass
    interrupts.raise_if_received()


def test_install_outside_the_main_thread_does_nothing():
    before = signal.getsignal(signal.SIGTERM)
    got = []
    thread = threading.Thread(target=lambda: got.append(interrupts.install()))
    thread.start()
    thread.join()
    assert signal.getsignal(signal.SIGTERM) == before
    got[0]()  # and undoing it does nothing either
    assert signal.getsignal(signal.SIGTERM) == before


def _idle_worker(ready):
    interrupts.init_worker()
    ready.set()
    time.sleep(30)


def _busy_worker(ready, note):
    interrupts.init_worker()
    try:
        with interrupts.busy():
            ready.set()
            time.sleep(30)
    except interrupts.Terminated:
        note.write_text("cleaned up")
        os._exit(143)


@pytest.mark.parametrize("busy", [False, True])
def test_a_worker_exits_at_once_when_idle_and_after_its_cleanup_when_busy(busy, tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready, note = ctx.Event(), tmp_path / "note"
    args = (ready, note) if busy else (ready,)
    proc = ctx.Process(target=_busy_worker if busy else _idle_worker, args=args)
    proc.start()
    assert ready.wait(30)
    os.kill(proc.pid, signal.SIGTERM)
    proc.join(30)
    assert proc.exitcode == 143
    assert note.exists() == busy
