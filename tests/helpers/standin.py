"""``python tests/helpers/standin.py COMMAND ...``: the real command line, slow steps stood in.

The report notebook is the slow step (a kernel, a minute of rendering), then the static
charts. Fault tests run the real ``python -m analysis`` code in a real subprocess with
no charts drawn (``tables.xlsx`` is still written) and the notebook step replaced as
the environment variable ``STANDIN_NOTEBOOK`` says:

``fast``
    write a one-cell executed notebook at once;
``slow``
    create the file ``<pid>`` in the folder named by ``STANDIN_MARKER`` (the run is
    now inside its notebook step, its processed cases and findings staged), then
    sleep until killed;
``enospc``
    write half a notebook, then fail as papermill's save does on a full disk (an
    ``OSError`` naming no file).

The slow step only sleeps, so a test that signals the process on seeing the marker
is deterministic: the signal always lands in the middle of the run.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path

import nbformat

from analysis.cli import main
from analysis.pipeline import kernels
from analysis.render import charts


def _notebook(notebook, output, parameters, *, cwd, progress=False) -> None:
    mode = os.environ.get("STANDIN_NOTEBOOK", "fast")
    if mode == "slow":
        (Path(os.environ["STANDIN_MARKER"]) / str(os.getpid())).write_text("started")
        time.sleep(600)
    if mode == "enospc":
        Path(output).write_text('{"cells": [')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as papermill's write does
    cell = nbformat.v4.new_code_cell(f"parameters = {parameters!r}")
    cell.metadata["tags"] = ["injected-parameters"]
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), str(output))


if __name__ == "__main__":
    # Only when run as the command: pytest's --doctest-modules imports every module under
    # tests/, and patching at import time stood in for every later test's notebook and charts.
    kernels.execute_notebook = _notebook
    charts.all_charts = lambda findings, instrument: []
    charts.iter_charts = lambda findings, instrument: iter(())
    sys.exit(main(sys.argv[1:]))
