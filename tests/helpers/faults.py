"""Real file-system faults for tests (a folder nobody may write to); privacy checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest


def _writable(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """Make ``folder`` read-only for the block (skip the test when that cannot be done).

    ``chmod`` does not stop root, so as root the folder is made immutable with
    ``chattr +i`` instead (where the file system and the container allow it).
    """
    folder.mkdir(parents=True, exist_ok=True)
    as_root = os.geteuid() == 0
    if as_root:
        if shutil.which("chattr") is None:
            pytest.skip("running as root, and no chattr to make a folder read-only")
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"running as root, and chattr +i failed: {done.stderr.decode().strip()}")
    else:
        folder.chmod(0o555)
    try:
        if _writable(folder):
            pytest.skip("could not make the folder read-only")
        yield folder
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)


def _texts(path: Path) -> list[str]:
    """Everything a file holds that a reader could see: bytes, zip members, parquet metadata."""
    texts = [path.read_bytes().decode("utf-8", "replace")]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            texts += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
            texts += z.namelist()
    if path.suffix == ".parquet":
        meta = pq.read_schema(path).metadata or {}
        texts += [
            k.decode("utf-8", "replace") + v.decode("utf-8", "replace") for k, v in meta.items()
        ]
        texts.append(pd.read_parquet(path).to_csv())
    return texts


def assert_no_file_name(folders: list[Path], name: str) -> None:
    """``name`` is in no file (nor file name) under ``folders``."""
    for folder in folders:
        for path in folder.rglob("*"):
            assert name not in path.name, path
            if path.is_file():
                assert not any(name in t for t in _texts(path)), path
