"""Atomic file writes, and what to tell the user when the file system refuses one.

:func:`atomic_path` writes beside the target and renames, so a reader never sees half
a file and a failure leaves the old one (never a 0-byte file). When the operating
system refuses (a read-only folder, a full disk, a path through a file, a name too
long) it raises :class:`StorageError`: a :class:`~analysis.errors.UserError` naming
the path and what to do, which the command line prints without a traceback (exit
status 2), chained to the original :class:`OSError`. :func:`describe_os_error` words
any ``OSError`` that way; :func:`analysis.cli.main` uses it for the rest.

:func:`write_csv` is the one CSV writer: every text cell goes through
:func:`neutralise_formula` (OWASP "CSV injection"), so a name typed into a workbook
as ``=cmd|...`` can never run as a spreadsheet formula, whichever phase writes it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.errors import UserError

if TYPE_CHECKING:  # pandas is only needed by write_csv's caller
    import pandas as pd

#: A cell starting with one of these is run as a formula by Excel, LibreOffice and Sheets
#: (OWASP CSV-injection guidance); tab and carriage return can hide such a prefix.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: errno -> (what happened, what to do). ``{path}`` is the path concerned.
_ADVICE: dict[int, tuple[str, str]] = {
    errno.ENOSPC: (
        "no space left on the disk holding {path}",
        "free some space, or point the suite at another disk, and run again",
    ),
    errno.EDQUOT: (
        "disk quota exceeded for {path}",
        "free some space within your quota, or point the suite at another disk",
    ),
    errno.EACCES: (
        "permission denied for {path}",
        "the folder is read-only for you: fix its permissions, or point the suite at a "
        "writable folder (ANALYSIS_OUTPUTS_DIR, ANALYSIS_PROCESSED_DIR)",
    ),
    errno.EROFS: (
        "{path} is on a read-only file system",
        "point the suite at a writable folder (ANALYSIS_OUTPUTS_DIR, ANALYSIS_PROCESSED_DIR)",
    ),
    errno.ENOTDIR: (
        "{path} is a file, not a folder",
        "move the file out of the way, or point the suite at another folder",
    ),
    errno.EEXIST: (
        "{path} already exists and is not a folder",
        "move it out of the way, or point the suite at another folder",
    ),
    errno.EISDIR: (
        "{path} is a folder, not a file",
        "move the folder out of the way, or name another file",
    ),
    errno.ENAMETOOLONG: (
        "a name in {path} is too long for the file system",
        "use a shorter organisation slug or a folder with a shorter path",
    ),
    errno.ENOENT: (
        "{path} does not exist",
        "check the path, or create the folder",
    ),
    errno.EIO: (
        "input/output error on {path}",
        "the disk or network drive may be failing or disconnected: check it and run again",
    ),
}
_ADVICE[errno.EPERM] = _ADVICE[errno.EACCES]


class StorageError(UserError, OSError):
    """The file system refused to read or write a file; ``__cause__`` is the original error.

    Also an :class:`OSError` with the original ``errno`` and ``filename``, so code
    that handles ``OSError`` keeps working.
    """

    def __init__(self, message: str, cause: OSError, path: str | Path) -> None:
        OSError.__init__(self, cause.errno, message, str(path))
        self.message = message

    def __str__(self) -> str:
        return self.message


def _first_file_on_the_way(path: Path) -> Path:
    # ENOTDIR names the whole path; the culprit is the first ancestor that is a file.
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return path


def describe_os_error(exc: OSError, path: str | Path | None = None) -> str:
    """What went wrong, where, and what to do, with the original error at the end.

    Parameters
    ----------
    exc
        The operating system's error.
    path
        The path to name instead of the one ``exc`` names (a write to an open file names
        none; a temporary file means nothing to the user).
    """
    if isinstance(exc, StorageError):
        return str(exc)
    where = Path(path if path is not None else (exc.filename or "the file"))
    if exc.errno == errno.ENOTDIR:
        where = _first_file_on_the_way(where)
    what, advice = _ADVICE.get(exc.errno, ("cannot use {path}", "check the path and run again"))
    cause = f"[Errno {exc.errno}] {exc.strerror}" if exc.errno is not None else str(exc)
    return f"{what.format(path=where)}: {advice} (the system said: {cause})"


def storage_error(exc: OSError, path: str | Path | None = None) -> StorageError:
    """``exc`` as a :class:`StorageError`, worded by :func:`describe_os_error`."""
    if isinstance(exc, StorageError):
        return exc
    where = path if path is not None else (exc.filename or "")
    return StorageError(describe_os_error(exc, path), exc, where)


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` if need be and check that a file can be created in it.

    Raises
    ------
    StorageError
        When it cannot (a read-only folder, a path through a file, ...).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        named = exc.filename if exc.errno in (errno.ENOTDIR, errno.EEXIST) else None
        raise storage_error(exc, named or folder) from exc
    return folder


def _umask() -> int:
    # os.umask can only be read by setting it; restore at once.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def shared_permissions(path: Path, *, folder: bool = False) -> None:
    """Give ``path`` the permissions an ordinary new file (or folder) would get.

    ``mkstemp`` and ``mkdtemp`` make private files (0600, 0700); the suite's folders
    are shared with colleagues, so its files get ``0o666`` (folders ``0o777``) less the
    umask instead.
    """
    os.chmod(path, (0o777 if folder else 0o666) & ~_umask())


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it into place if the block succeeds.

    The temporary file lives in the target's folder (same file system, so
    :func:`os.replace` is atomic) and gets :func:`shared_permissions`. Whatever
    fails, the temporary file is removed, so a full disk never leaves a 0-byte file.

    Raises
    ------
    StorageError
        When the file system refuses (chained to its ``OSError``); an ``OSError``
        from the block is treated as a failure to write ``target`` (or, when it
        names no file, to write in its folder).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text()
    'done'
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise storage_error(exc) from exc
    tmp = Path(name)
    try:
        yield tmp
        shared_permissions(tmp)
        os.replace(tmp, target)
    except StorageError:
        tmp.unlink(missing_ok=True)
        raise
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        # The user knows the target, not the temporary name. An error naming no file (a
        # write) may come from another file written in the same block, as when several
        # files are written together: the folder they share is what can be named.
        if exc.filename is None:
            where = target.parent
        else:
            where = target if exc.filename == str(tmp) else exc.filename
        raise storage_error(exc, where) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def neutralise_formula(s: Any) -> Any:
    """Stop a text value being read as a formula by a spreadsheet.

    A text value starting with ``= + - @``, tab or carriage return gets a
    leading apostrophe, as OWASP recommends for CSV and Excel exports.
    Non-text values (numbers, missing values) are returned unchanged, so a
    real negative number stays a number.

    Parameters
    ----------
    s
        The value about to be written to a cell.

    Returns
    -------
    Any
        ``"'" + s`` for a dangerous string, otherwise ``s`` itself.

    Examples
    --------
    >>> neutralise_formula("=1+1"), neutralise_formula(-2), neutralise_formula("Leeds")
    ("'=1+1", -2, 'Leeds')
    """
    if isinstance(s, str) and s.startswith(FORMULA_PREFIXES):
        return "'" + s
    return s


def restore_formula(s: Any) -> Any:
    """Undo :func:`neutralise_formula` for a value read back from a CSV this suite wrote.

    ``"'=1+1"`` -> ``"=1+1"``; anything else is returned unchanged. (A true name that
    itself starts with an apostrophe and then ``= + - @`` cannot be told apart; the
    parquet beside every CSV keeps the true values, and readers prefer it.)

    Examples
    --------
    >>> restore_formula("'=1+1"), restore_formula("'quoted"), restore_formula(-2)
    ('=1+1', "'quoted", -2)
    """
    if isinstance(s, str) and s.startswith("'") and s[1:].startswith(FORMULA_PREFIXES):
        return s[1:]
    return s


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells are neutralised; numeric columns are untouched.

    Only object and string columns are mapped (element by element, so a number that
    happens to sit in a text column stays a number); ``df`` itself is not changed, so
    the parquet beside the CSV keeps the true values.
    """
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise_formula, na_action="ignore")
    return out


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Write ``df`` to ``path`` as CSV (no index, Unix line ends), formula-safe.

    Text cells are passed through :func:`neutralise_frame` first. The write itself is
    plain: wrap it in :func:`atomic_path` when the caller needs atomicity.
    """
    neutralise_frame(df).to_csv(path, index=False, lineterminator="\n")


def read_small_file(
    path: Path, limit: int, what: str, hint: str, error: type[Exception] = UserError
) -> bytes:
    """The bytes of a small input file (an instrument, a parameters file), bounded.

    The file is looked at (``stat``) before it is opened, so a FIFO is never opened (that
    would block) and ``/dev/zero`` is never read; the read itself is bounded too, in case the
    file grows or lies about its size (as files under ``/proc`` do). Every refusal is
    ``error`` naming ``what`` and ``path``; ``hint`` follows "larger than N bytes; ".
    """
    try:
        info = path.stat()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a device, pipe or socket"
        raise error(f"{what} {path} is {kind}, not a YAML file")
    too_big = error(f"{what} {path} is larger than {limit:,} bytes; {hint}")
    if info.st_size > limit:
        raise too_big
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the check, open() still
        # returns at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            blob = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(blob) > limit:
        raise too_big
    return blob


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, streamed so a large workbook does not fill memory.

    The one hash of an input's bytes: provenance, the batch's state, the demo manifest and
    the neutral organisation name of a workbook that names none all use it.
    """
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
