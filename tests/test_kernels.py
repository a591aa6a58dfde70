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
