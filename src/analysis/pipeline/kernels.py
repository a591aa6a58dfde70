"""How the suite starts notebook kernels: over Unix sockets, not TCP ports.

Parallel papermill runs on TCP can collide on ports (papermill issues #511
"ZMQError: Address already in use", #239 "Kernel didn't respond"), and every
TCP kernel warns that it runs without encryption. IPC sockets live in the
kernel's private runtime folder, named after its unique connection file, so two
kernels never share an address and nothing listens on the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import papermill as pm
from jupyter_client.manager import AsyncKernelManager
from traitlets import default


class IPCKernelManager(AsyncKernelManager):
    """An async kernel manager whose kernels talk over Unix domain sockets."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        # Socket paths derive from the connection file, unique per kernel; without one,
        # jupyter_client would fall back to "kernel-ipc" in the working directory.
        if self.connection_file:
            return str(Path(self.connection_file).with_suffix("")) + "-ipc"
        return str(Path(_runtime_dir()) / f"kernel-{id(self)}-ipc")


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
    the executed notebook, error included, is saved at ``output`` either way.
    """
    pm.execute_notebook(
        str(notebook),
        str(output),
        parameters=parameters,
        kernel_name="python3",
        progress_bar=progress,
        cwd=str(cwd),
        kernel_manager_class=IPCKernelManager,
    )
