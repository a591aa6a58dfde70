"""Atomic writes and the file system's refusals as messages (analysis.fileio)."""

from __future__ import annotations

import errno
import os

import pytest
from helpers.faults import read_only

from analysis.errors import UserError
from analysis.fileio import (
    StorageError,
    atomic_path,
    check_writable,
    describe_os_error,
    storage_error,
)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "no space left on the disk holding /data/out/x.csv: free some space"),
        (errno.EDQUOT, "disk quota exceeded for /data/out/x.csv"),
        (errno.EACCES, "permission denied for /data/out/x.csv: the folder is read-only for you"),
        (errno.EPERM, "permission denied for /data/out/x.csv"),
        (errno.EROFS, "/data/out/x.csv is on a read-only file system"),
        (errno.EEXIST, "/data/out/x.csv already exists and is not a folder"),
        (errno.EISDIR, "/data/out/x.csv is a folder, not a file"),
        (errno.ENAMETOOLONG, "a name in /data/out/x.csv is too long for the file system"),
        (errno.EIO, "input/output error on /data/out/x.csv"),
        (errno.EXDEV, "cannot use /data/out/x.csv: check the path"),  # no advice of its own
    ],
)
def test_describe_os_error_names_the_path_what_to_do_and_the_cause(code, words):
    text = describe_os_error(OSError(code, os.strerror(code), "/data/out/x.csv"))
    assert text.startswith(words)
    assert text.endswith(f"(the system said: [Errno {code}] {os.strerror(code)})")


def test_describe_os_error_finds_the_file_in_the_way(tmp_path):
    (tmp_path / "outputs").write_text("not a folder")
    path = tmp_path / "outputs" / "t" / "findings.csv"
    text = describe_os_error(NotADirectoryError(errno.ENOTDIR, "Not a directory", str(path)))
    assert text.startswith(f"{tmp_path / 'outputs'} is a file, not a folder: move the file")


def test_describe_os_error_without_a_path_uses_the_one_given():
    text = describe_os_error(OSError(errno.ENOSPC, "No space left on device"), "/d/x.csv")
    assert text.startswith("no space left on the disk holding /d/x.csv")


def test_storage_error_is_a_user_error_and_an_os_error_chained_to_the_cause():
    cause = OSError(errno.ENOSPC, "No space left on device")
    err = storage_error(cause, "/d/x.csv")
    assert isinstance(err, UserError) and isinstance(err, OSError)
    assert err.errno == errno.ENOSPC and err.filename == "/d/x.csv" and err.exit_code == 2
    assert str(err) == describe_os_error(cause, "/d/x.csv")
    assert storage_error(err) is err and describe_os_error(err) == str(err)


def test_a_full_disk_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "findings.csv"
    target.write_text("old")
    with pytest.raises(StorageError) as caught:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.csv"]
    assert str(caught.value).startswith(f"no space left on the disk holding {tmp_path}:")
    cause = caught.value.__cause__
    assert isinstance(cause, OSError) and cause.errno == errno.ENOSPC


def test_the_temporary_name_is_never_shown(tmp_path):
    target = tmp_path / "report.html"
    with pytest.raises(StorageError) as caught:
        with atomic_path(target) as tmp:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert f"holding {target}:" in str(caught.value) and ".tmp" not in str(caught.value)


def test_a_file_in_the_way_is_named(tmp_path):
    (tmp_path / "outputs").write_text("x")
    with pytest.raises(StorageError, match="outputs is a file, not a folder"):
        with atomic_path(tmp_path / "outputs" / "t" / "x.csv"):
            pass


def test_a_name_too_long_is_a_message(tmp_path):
    with pytest.raises(StorageError, match="too long for the file system") as caught:
        with atomic_path(tmp_path / ("x" * 300 + ".csv")):
            pass
    assert caught.value.errno == errno.ENAMETOOLONG


def test_other_failures_pass_through_and_leave_nothing(tmp_path):
    with pytest.raises(ValueError):
        with atomic_path(tmp_path / "x.csv") as tmp:
            tmp.write_text("half")
            raise ValueError("not a file system error")
    assert list(tmp_path.iterdir()) == []


def test_nested_storage_errors_are_not_wrapped_twice(tmp_path):
    inner = StorageError("the inner message", OSError(errno.ENOSPC, "x"), "/a")
    with pytest.raises(StorageError) as caught:
        with atomic_path(tmp_path / "x.csv"):
            raise inner
    assert caught.value is inner


def test_atomic_files_get_ordinary_permissions(tmp_path):
    umask = os.umask(0o027)
    try:
        with atomic_path(tmp_path / "x.csv") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(umask)
    assert (tmp_path / "x.csv").stat().st_mode & 0o777 == 0o640


def test_check_writable_creates_the_folder(tmp_path):
    assert check_writable(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir() and list((tmp_path / "a" / "b").iterdir()) == []


def test_check_writable_names_a_file_in_the_way(tmp_path):
    (tmp_path / "outputs").write_text("x")
    with pytest.raises(StorageError, match=f"{tmp_path / 'outputs'} already exists and is not"):
        check_writable(tmp_path / "outputs")
    with pytest.raises(StorageError, match=f"{tmp_path / 'outputs'} is a file, not a folder"):
        check_writable(tmp_path / "outputs" / "more")


def test_check_writable_refuses_a_read_only_folder(read_only_folder):
    with pytest.raises(StorageError, match="permission denied for|read-only") as caught:
        check_writable(read_only_folder)
    assert str(read_only_folder) in str(caught.value)


@pytest.fixture
def read_only_folder(tmp_path):
    with read_only(tmp_path / "outputs") as folder:
        yield folder
