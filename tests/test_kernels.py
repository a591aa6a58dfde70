"""Notebook kernels run over IPC sockets, so parallel runs cannot collide on TCP ports."""

from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from analysis.pipeline.kernels import IPCKernelManager, execute_notebook


def test_kernel_manager_uses_ipc():
    km = IPCKernelManager(kernel_name="python3")
    assert km.transport == "ipc"


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
