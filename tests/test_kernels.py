"""Notebook kernels run over IPC sockets, so parallel runs cannot collide on TCP ports."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from analysis.pipeline.kernels import IPCKernelManager, execute_notebook, without_module


def test_without_module_refuses_the_import_only_inside_the_block():
    name = "analysis_test_absent_module"
    sys.modules.pop(name, None)
    with without_module(name), pytest.raises(ImportError):
        __import__(name)
    assert name not in sys.modules  # afterwards it is looked for again, as normal


def test_without_module_leaves_a_loaded_module_alone():
    with without_module("json"):
        import json

        assert json.dumps(1) == "1"
    assert sys.modules["json"] is json


def test_loading_the_kernels_module_skips_the_grammar_compiling_format_checker():
    code = "import sys, analysis.pipeline.kernels; print('rfc3987_syntax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_kernel_manager_uses_ipc():
    km = IPCKernelManager(kernel_name="python3")
    assert km.transport == "ipc"


def test_socket_paths_are_unique_before_the_connection_file_is_named():
    # jupyter_client reads ``ip`` before it names the connection file, so the fallback
    # path alone must keep kernels of parallel runs (other processes) apart.
    a, b = IPCKernelManager(kernel_name="python3"), IPCKernelManager(kernel_name="python3")
    assert a.connection_file == "" and a.ip != b.ip
    assert f"kernel-{os.getpid()}-" in Path(a.ip).name


@pytest.mark.notebooks
def test_parallel_kernels_run_and_leave_no_sockets_behind(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    src = tmp_path / "t.ipynb"
    nbformat.write(nb, src)

    def run(i):
        execute_notebook(src, tmp_path / f"out{i}.ipynb", {}, cwd=tmp_path)
        return nbformat.read(tmp_path / f"out{i}.ipynb", as_version=4).cells[0].outputs[0].text

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(run, range(2))) == ["42\n", "42\n"]
    # socket files live in the Jupyter runtime folder, never in the working directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out0.ipynb", "out1.ipynb", "t.ipynb"]


def test_a_full_disk_saving_the_notebook_names_it(tmp_path, monkeypatch):
    import errno
    import os

    from analysis.fileio import StorageError
    from analysis.pipeline import kernels

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # papermill's write names none

    monkeypatch.setattr(kernels.pm, "execute_notebook", full)
    with pytest.raises(StorageError) as caught:
        execute_notebook(tmp_path / "t.ipynb", tmp_path / "out.ipynb", {}, cwd=tmp_path)
    assert str(caught.value).startswith(f"no space left on the disk holding {tmp_path}/out.ipynb")
    assert caught.value.__cause__.errno == errno.ENOSPC


def test_keep_failed_notebook_keeps_only_a_whole_notebook(tmp_path):
    from analysis.pipeline import kernels

    final = tmp_path / "final"
    half = tmp_path / "half.ipynb"
    half.write_text('{"cells": [')
    kernels.keep_failed_notebook(half, final, RuntimeError("x"))
    assert not final.exists()
    whole = tmp_path / "whole.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), whole)
    kernels.keep_failed_notebook(whole, final, RuntimeError("x"))
    assert (final / "report.failed.ipynb").read_bytes() == whole.read_bytes()


def test_point_parameters_at_names_the_final_folder(tmp_path):
    from analysis.pipeline import kernels

    cell = nbformat.v4.new_code_cell('out_dir = "/o/.t.build-1-ab"\ntrust = "t"')
    cell.metadata["tags"] = ["injected-parameters"]
    other = nbformat.v4.new_code_cell('print("/o/.t.build-1-ab")')
    path = tmp_path / "r.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell, other]), path)
    kernels.point_parameters_at(path, Path("/o/.t.build-1-ab"), Path("/o/t"))
    got = nbformat.read(path, as_version=4)
    assert got.cells[0].source == 'out_dir = "/o/t"\ntrust = "t"'
    assert got.cells[1].source == 'print("/o/.t.build-1-ab")'  # only the parameters change


@pytest.mark.notebooks
def test_sigterm_mid_notebook_kills_its_kernel_and_stops(tmp_path):
    import glob
    import json
    import os
    import signal
    import threading
    import time

    from analysis.pipeline import interrupts

    started = tmp_path / "kernel.json"
    code = (
        "import json, os, time\n"
        "from ipykernel import get_connection_file\n"
        "ip = json.load(open(get_connection_file()))['ip']\n"
        f"open({str(started)!r} + '.tmp', 'w').write(json.dumps([os.getpid(), ip]))\n"
        f"os.replace({str(started)!r} + '.tmp', {str(started)!r})\n"
        "time.sleep(300)"
    )
    cells = [nbformat.v4.new_code_cell(code)]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "t.ipynb")

    def signal_once_started():
        while not started.exists():
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    restore = interrupts.install()
    threading.Thread(target=signal_once_started, daemon=True).start()
    t0 = time.monotonic()
    try:
        with pytest.raises(interrupts.Terminated):
            execute_notebook(tmp_path / "t.ipynb", tmp_path / "out.ipynb", {}, cwd=tmp_path)
    finally:
        restore()
    assert time.monotonic() - t0 < 200  # not the cell's five minutes
    pid, ip = json.loads(started.read_text())
    with pytest.raises(ProcessLookupError):  # the kernel is gone
        os.kill(pid, 0)
    assert glob.glob(f"{ip}-*") == []  # and so are its sockets


def test_papermill_is_quiet_once_a_signal_stopped_the_run(monkeypatch, caplog):
    import logging
    import signal

    from analysis.pipeline import interrupts

    log = logging.getLogger("papermill")
    with caplog.at_level(logging.ERROR, logger="papermill"):
        log.error("a real failure")
        monkeypatch.setattr(interrupts, "_received", signal.SIGTERM)
        log.error("Error occurred while starting new kernel client for kernel x: Kernel died")
    assert [r.getMessage() for r in caplog.records] == ["a real failure"]


@pytest.mark.notebooks
def test_a_warm_kernel_runs_each_notebook_as_a_new_kernel_would(tmp_path, monkeypatch):
    from analysis.pipeline import kernels

    monkeypatch.setattr(kernels, "_warm", {})
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 0", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(
                "import os\nprint('seen' if 'leftover' in globals() else 'fresh', x, os.getpid())"
                "\nleftover = 1"
            ),
        ],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}},
    )
    src = tmp_path / "t.ipynb"
    nbformat.write(nb, src)

    def run(i):
        execute_notebook(src, tmp_path / f"out{i}.ipynb", {"x": i}, cwd=tmp_path)
        cells = nbformat.read(tmp_path / f"out{i}.ipynb", as_version=4).cells
        return cells[-1].outputs[0].text.split(), [c.execution_count for c in cells]

    kernels.keep_kernel_warm(start=False)
    try:
        (w1, x1, pid1), counts1 = run(1)
        (w2, x2, pid2), counts2 = run(2)
        # the same kernel process, but nothing of the first notebook is left in it, and
        # cells are numbered as a new kernel numbers them (injected parameters, then ours)
        assert (w1, x1, w2, x2) == ("fresh", "1", "fresh", "2")
        assert pid1 == pid2 != str(os.getpid())
        assert counts1 == counts2 == [1, 2, 3]
        kernels._warm["km"].provisioner.process.kill()  # a kernel that died is replaced
        kernels._warm["km"].provisioner.process.wait()
        (w3, _, pid3), _ = run(3)
        assert w3 == "fresh" and pid3 != pid1
    finally:
        kernels._stop_warm_kernel()


@pytest.mark.notebooks
def test_a_prestarted_kernel_runs_the_notebook_and_is_stopped(tmp_path, monkeypatch):
    # A cold `report` starts its kernel while it analyses (issue 15): the notebook then
    # runs on that kernel, not on a second one, and stop_kernel leaves no process behind.
    from analysis.pipeline import kernels

    monkeypatch.setattr(kernels, "_warm", {})
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import os\nprint(os.getpid())")],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}},
    )
    nbformat.write(nb, tmp_path / "t.ipynb")
    kernels.prestart_after_ingest()
    kernels.prestart_if_asked()
    kernels.prestart_if_asked()  # asked once: a second run in the process starts nothing
    try:
        execute_notebook(tmp_path / "t.ipynb", tmp_path / "out.ipynb", {}, cwd=kernels_cwd())
        process = kernels._warm["km"].provisioner.process
        out = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs[0].text
        assert out.strip() == str(process.pid)
    finally:
        kernels.stop_kernel()
    assert process.poll() is not None and "km" not in kernels._warm


def kernels_cwd() -> Path:
    from analysis import config

    return config.NOTEBOOKS_DIR  # where prestart_kernel starts the kernel, as report runs it


def test_stop_kernel_kills_a_kernel_still_starting_rather_than_waiting(monkeypatch):
    # SIGTERM mid-report while the prestarted kernel was still importing: stop_kernel
    # joined its thread with no limit, and the run outlived the test's 120 s (CI, loaded).
    import threading

    from analysis.pipeline import kernels

    monkeypatch.setattr(kernels, "_warm", {})
    killed = threading.Event()
    started = threading.Event()

    class Process:
        def poll(self):
            return 0 if killed.is_set() else None

        def kill(self):
            killed.set()

    class Manager:
        provisioner = type("Provisioner", (), {"process": Process()})()

    def starting(kernel_name, start_timeout, cwd=None):
        kernels._warm["starting_km"] = Manager()
        started.set()
        killed.wait(60)  # a kernel importing for a minute, unless it is killed
        kernels._warm.pop("starting_km", None)
        raise RuntimeError("kernel died before replying")  # as wait_for_ready says

    monkeypatch.setattr(kernels, "_warm_kernel", starting)
    kernels.prestart_kernel()
    assert started.wait(10)
    thread = kernels._warm["starting"]
    kernels.stop_kernel()
    assert killed.is_set() and not thread.is_alive()
    assert kernels._warm == {}
