"""The per-organisation lock: one run at a time writes an organisation's cases and outputs.

``report``, ``aggregate``, a batch job and ``ingest`` all hold it while they work
(:func:`locked`: ``fcntl.flock`` on ``outputs/.<name>.lock``, beside the organisation's
output folder). The operating system releases it even when the process is killed, so a
lock file left behind never blocks the next run. It lives here, in shared
infrastructure, because ingest may not import the pipeline.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from analysis.errors import UserError


class Busy(UserError):
    """Another run for the same organisation holds its lock."""


def lock_path(final: Path) -> Path:
    """The lock file of the run that writes ``final``: ``.<name>.lock`` beside it."""
    return final.parent / f".{final.name}.lock"


# -- the lock ----------------------------------------------------------------------------

#: Locks this process holds: path -> (pid, file descriptor, depth). A batch worker takes
#: the lock for the whole job, and the report it runs takes it again.
_HELD: dict[Path, tuple[int, int, int]] = {}


@contextmanager
def locked(final: str | Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the lock of the organisation whose outputs are ``final`` for the block.

    Parameters
    ----------
    final
        The organisation's output folder (the lock file goes beside it).
    wait
        Wait for another run holding the lock to finish, instead of refusing.

    Raises
    ------
    Busy
        When another run holds the lock and ``wait`` is false; the message names it.
    """
    final = Path(final)
    path = lock_path(final).absolute()
    held = _HELD.get(path)
    if held is not None and held[0] == os.getpid():
        _HELD[path] = (held[0], held[1], held[2] + 1)
        try:
            yield
        finally:
            _HELD[path] = held
        return
    fd = _acquire(path, final.name, wait)
    _HELD[path] = (os.getpid(), fd, 1)
    try:
        yield
    finally:
        del _HELD[path]
        _release(fd, path)


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "a run that has not said who it is yet"
    return f"pid {info['pid']}, started {info.get('started', '?')}"


def _acquire(path: Path, name: str, wait: bool) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                if not wait:
                    raise Busy(
                        f"another run for {name} is in progress ({holder}; lock file {path}): "
                        "let it finish, or pass --wait to start when it has"
                    ) from None
                print(f"waiting for the other run for {name} ({holder})", file=sys.stderr)
                fcntl.flock(fd, fcntl.LOCK_EX)
            # The holder removes the file as it lets go: if this is no longer the file at
            # `path`, lock the new one instead.
            if _same_file(fd, path):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "started": _now_utc()}).encode(), 0)
    return fd


def _release(fd: int, path: Path) -> None:
    try:
        # Removed while still locked, so a run waiting on this file sees it go and retries.
        if _same_file(fd, path):
            path.unlink()
    except OSError:
        pass  # a lock file left behind is harmless: the next run reuses it
    finally:
        os.close(fd)


def _now_utc() -> str:
    """Current time, UTC, ISO 8601 to the second (as the report's provenance writes it)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()
