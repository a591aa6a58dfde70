"""One run's outputs and processed cases: replaced together at the end, or not at all.

A run for an organisation holds its lock (:func:`analysis.locks.locked`: ``fcntl.flock``
on ``outputs/.<name>.lock``, released by the operating system even when the process is
killed; ``ingest`` takes the same lock) and builds everything in staging folders beside
the targets, on the same file system, so that each replacement is one atomic rename
(:class:`Staging`):

- ``outputs/.<name>.build-<pid>-<hex>/`` becomes ``outputs/<name>/``;
- ``data/processed/.<name>.build-<pid>-<hex>/<name>.parquet`` replaces
  ``data/processed/<name>.parquet``, only once the outputs are in place.

The commit (:meth:`Staging.commit`) holds Ctrl-C and SIGTERM back and undoes its
first renames if a later one fails. A run killed outright (SIGKILL, power loss)
leaves staging folders, and at worst the two renames half done; the next run for
the organisation, holding the lock, puts things right before it starts
(:func:`recover`) and says what it did: a commit cut short between the outputs and
the processed cases is completed (the outputs carry a marker naming their staged
cases), one cut short inside the outputs swap is undone, and every staging folder
left over is removed.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import sys
from pathlib import Path
from types import TracebackType

from analysis.errors import UserError
from analysis.fileio import shared_permissions, storage_error

# The run's lock, shared with ingest; re-exported for the pipeline's callers.
from analysis.locks import Busy, lock_path, locked  # noqa: F401
from analysis.pipeline import interrupts

#: Longest organisation slug: it names files and folders (``.<slug>.build-<pid>-<hex>``),
#: and file systems allow 255 bytes a name.
MAX_NAME_LENGTH = 100
#: In an outputs folder whose commit may be cut short: the token of its staged cases.
COMMIT_MARKER = ".commit"
_TOKEN = r"\d+-[0-9a-f]+"


def check_name(name: str) -> str:
    """Return ``name`` if it is short enough to name the run's files, else raise UserError."""
    if len(name) > MAX_NAME_LENGTH:
        raise UserError(
            f"the organisation slug is {len(name)} characters long: at most {MAX_NAME_LENGTH} "
            "are allowed, because it names files and folders; use a shorter --trust"
        )
    return name


# -- staging and commit ----------------------------------------------------------------------


def _os_error(code: int, path: Path) -> OSError:
    return OSError(code, os.strerror(code), str(path))


def _staging_dir(parent: Path, name: str, kind: str, token: str) -> Path:
    path = parent / f".{name}.{kind}-{token}"
    parent.mkdir(parents=True, exist_ok=True)
    path.mkdir()
    shared_permissions(path, folder=True)
    return path


class Staging:
    """The staging folders of one run; create it while holding :func:`locked`.

    Parameters
    ----------
    final
        The output folder the run replaces.
    processed
        The processed-cases file the run replaces, or None (the aggregate has none).

    Attributes
    ----------
    build
        Where the run writes its outputs.
    processed_dir
        Where the run writes ``processed.name`` (None without ``processed``).
    """

    def __init__(self, final: str | Path, processed: str | Path | None = None) -> None:
        self.final = Path(final)
        self.processed = Path(processed) if processed is not None else None
        # Refuse now what the commit could not replace, rather than after the whole run.
        if self.final.exists() and not self.final.is_dir():
            raise storage_error(_os_error(errno.ENOTDIR, self.final))
        if self.processed is not None and self.processed.is_dir():
            raise storage_error(_os_error(errno.EISDIR, self.processed))
        self.token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.build = _staging_dir(self.final.parent, self.final.name, "build", self.token)
        self.processed_dir: Path | None = None
        if self.processed is not None:
            try:
                self.processed_dir = _staging_dir(
                    self.processed.parent, self.processed.stem, "build", self.token
                )
            except BaseException:
                self.discard()
                raise

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()

    def discard(self) -> None:
        """Remove the staging folders (whatever is left of them)."""
        for path in (self.build, self.processed_dir):
            if path is not None and path.exists():
                shutil.rmtree(path, ignore_errors=True)

    def commit(self) -> None:
        """Swap the outputs into place, then the processed cases; undo the first if need be.

        Raises
        ------
        RuntimeError
            When the run staged no processed cases although it was to.
        OSError
            When a rename fails; what was already renamed is put back first.
        """
        staged = None
        if self.processed is not None and self.processed_dir is not None:
            staged = self.processed_dir / self.processed.name
            if not staged.is_file():
                raise RuntimeError(f"the run staged no processed cases at {staged}")
        old = self.final.parent / f".{self.final.name}.old-{self.token}"
        with interrupts.deferred():
            if staged is not None:
                (self.build / COMMIT_MARKER).write_text(self.token, encoding="utf-8")
            had_old = self.final.exists()
            if had_old:
                os.replace(self.final, old)
            try:
                os.replace(self.build, self.final)
            except OSError:
                if had_old:
                    os.replace(old, self.final)
                raise
            if staged is not None:
                try:
                    os.replace(staged, self.processed)
                except OSError:
                    os.replace(self.final, self.build)
                    if had_old:
                        os.replace(old, self.final)
                    raise
                (self.final / COMMIT_MARKER).unlink()
            # Still holding signals back: a run stopped now would leave the old outputs.
            if had_old:
                shutil.rmtree(old, ignore_errors=True)
            self.discard()


# -- recovery ---------------------------------------------------------------------------------


def _leftovers(parent: Path, name: str, kind: str) -> list[Path]:
    pattern = re.compile(rf"\.{re.escape(name)}\.{kind}-({_TOKEN})")
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.iterdir() if pattern.fullmatch(p.name))


def _legacy_builds(parent: Path, name: str) -> list[Path]:
    # Build folders of earlier versions of the suite (tempfile.mkdtemp(prefix=".build-<name>-")).
    pattern = re.compile(rf"\.build-{re.escape(name)}-[a-z0-9_]{{8}}")
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.iterdir() if pattern.fullmatch(p.name) and p.is_dir())


def _pid(path: Path) -> str:
    m = re.search(r"-(\d+)-[0-9a-f]+$", path.name)
    return f" (pid {m.group(1)})" if m else ""


def recover(final: str | Path, processed: str | Path | None = None) -> list[str]:
    """Put right what runs killed outright left behind; call it while holding :func:`locked`.

    Returns
    -------
    list of str
        What was done, one sentence each (also printed to stderr).
    """
    final = Path(final)
    processed = Path(processed) if processed is not None else None
    notes = []
    olds = _leftovers(final.parent, final.name, "old")
    if not final.exists() and olds:
        # Killed between moving the old outputs aside and moving the new ones in.
        os.replace(olds[-1], final)
        notes.append(f"restored {final}: a run was killed while replacing it")
    marker = final / COMMIT_MARKER
    if marker.is_file():
        token = marker.read_text(encoding="utf-8").strip()
        if processed is not None:
            staged = processed.parent / f".{processed.stem}.build-{token}" / processed.name
            if staged.is_file():
                # Killed between the outputs and the processed cases: finish the commit.
                os.replace(staged, processed)
                notes.append(f"finished a commit cut short: {processed} now matches {final}")
        marker.unlink()
    stale = _leftovers(final.parent, final.name, "build") + _leftovers(
        final.parent, final.name, "old"
    )
    stale += _legacy_builds(final.parent, final.name)
    if processed is not None:
        stale += _leftovers(processed.parent, processed.stem, "build")
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            notes.append(f"could not remove {path}, left by an interrupted run: remove it by hand")
        else:
            notes.append(f"removed {path}, left by an interrupted run{_pid(path)}")
    for note in notes:
        print(note, file=sys.stderr)
    return notes
