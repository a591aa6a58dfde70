"""What went wrong in one organisation's run: a short reason, and whether to try again.

Starting many Jupyter kernels at once occasionally fails (papermill issues #511
"ZMQError: Address already in use" - two kernels picked the same free port - and
#239 "Kernel didn't respond"). :func:`is_kernel_start_failure` recognises those
transient failures and :func:`kernel_retrying` retries them (with tenacity) after a
short pause; every other failure is final. :func:`describe_failure` words any
failure for the batch summary.
"""

from __future__ import annotations

import traceback

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_chain, wait_fixed

from analysis.errors import UserError
from analysis.fileio import describe_os_error

#: Kernel start retries and the pause before each (seconds): short, because the usual
#: cause (a port race between two starting kernels) clears as soon as one has bound.
KERNEL_RETRIES = 2
KERNEL_BACKOFF = (1.0, 3.0)

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


def kernel_retrying(
    retries: int = KERNEL_RETRIES, backoff: tuple[float, ...] = KERNEL_BACKOFF
) -> Retrying:
    """A tenacity policy: retry kernel start failures ``retries`` times, then re-raise.

    The k-th retry waits ``backoff[k]`` seconds (the last pause repeats when there are
    more retries than pauses). Any other exception is raised at once. After a call,
    ``policy.statistics["attempt_number"] - 1`` is the number of retries it took.
    """
    return Retrying(
        retry=retry_if_exception(is_kernel_start_failure),
        stop=stop_after_attempt(retries + 1),
        wait=wait_chain(*(wait_fixed(s) for s in backoff)),
        reraise=True,
    )


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else ""
    name = type(exc).__name__
    return _clip(f"{name}: {msg}" if msg else name, limit)


def _where(problem: object) -> str:
    # A problem without the workbook's file name, which may name a person and would
    # otherwise reach batch-summary.json; the summary row names the organisation.
    parts = [f"sheet {problem.sheet!r}"] if getattr(problem, "sheet", None) is not None else []
    if getattr(problem, "row", None) is not None:
        parts.append(f"row {problem.row}")
    if getattr(problem, "column", None) is not None:
        parts.append(f"column {problem.column}")
    return f"{', '.join(parts)}: {problem.message}" if parts else str(problem.message)


def describe_failure(exc: BaseException) -> str:
    """One short reason for the summary table."""
    name = type(exc).__name__
    if name in ("IngestError", "RatingsFileError"):
        problems = getattr(exc, "problems", [])
        if not problems:
            first = _first_line(exc)
        elif hasattr(problems[0], "message"):
            first = _where(problems[0])
        else:
            first = str(problems[0])
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return _clip(f"invalid {getattr(exc, 'what', 'workbook')}: {first}{more}")
    if name == "PapermillExecutionError":
        ename = getattr(exc, "ename", "") or "error"
        evalue = (getattr(exc, "evalue", "") or "").splitlines()
        cell = getattr(exc, "exec_count", None)
        where = f" in cell {cell}" if cell is not None else ""
        reason = f"notebook error{where}: {ename}: {evalue[0] if evalue else ''}".rstrip(": ")
        return reason[:160]
    if is_kernel_start_failure(exc):
        return "kernel did not start: " + _first_line(exc)
    if isinstance(exc, UserError):
        return _clip(str(exc).strip(), 300)  # written for the user already, path and all
    if isinstance(exc, OSError):
        return _clip(describe_os_error(exc), 300)
    return _first_line(exc)
