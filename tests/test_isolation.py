"""The tests' own isolation (tests/helpers/isolation.py, used by the root conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import isolation

from analysis import config


def test_isolate_points_every_setting_at_a_fresh_folder_and_copies_the_demo(tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "eastmere.xlsx").write_bytes(b"book")
    (demo / ".demo-data.json").write_text("{}")
    (demo / "notes.txt").write_text("not a workbook")
    env = {"ANALYSIS_OUTPUTS_DIR": "/home/someone/real-outputs", isolation.DEMO_VAR: str(demo)}
    session = isolation.isolate(env)
    try:
        # Whatever they said before: a user's real folders are never used.
        assert env["ANALYSIS_RAW_DIR"] == str(session / "raw")
        assert env["ANALYSIS_PROCESSED_DIR"] == str(session / "processed")
        assert env["ANALYSIS_OUTPUTS_DIR"] == str(session / "outputs")
        assert sorted(p.name for p in (session / "raw").iterdir()) == [
            ".demo-data.json",
            "eastmere.xlsx",
        ]
        assert list((session / "outputs").iterdir()) == []
        # A process started with these settings (an xdist worker) reuses them.
        assert isolation.isolate(env) is None
        assert env["ANALYSIS_RAW_DIR"] == str(session / "raw")
        # ... unless they were changed since: then it makes its own.
        env["ANALYSIS_RAW_DIR"] = "/elsewhere"
        other = isolation.isolate(env)
        assert other is not None and other != session
        isolation.shutil.rmtree(other)
    finally:
        isolation.shutil.rmtree(session)


def test_snapshot_and_changes(tmp_path):
    (tmp_path / "raw").mkdir()
    kept, edited, gone = (tmp_path / "raw" / n for n in ("kept.xlsx", "edited.xlsx", "gone.xlsx"))
    for p in (kept, edited, gone):
        p.write_text("x")
    before = isolation.snapshot([tmp_path, tmp_path / "missing"])
    assert len(before) == 5  # the folder, raw/ and three files; a missing folder has none
    assert isolation.changes(before, isolation.snapshot([tmp_path])) == []
    edited.write_text("xy")  # one byte more
    gone.unlink()
    (tmp_path / "raw" / "new.parquet").write_text("x")
    assert isolation.changes(before, isolation.snapshot([tmp_path])) == [
        f"added: {tmp_path / 'raw' / 'new.parquet'}",
        f"removed: {gone}",
        f"changed: {tmp_path / 'raw'}",  # its listing changed, so did its modification time
        f"changed: {edited}",
    ]


def test_a_command_the_tests_start_writes_into_the_session_folders(tmp_path):
    code = "from analysis import config; print(config.OUTPUTS_DIR)"
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == str(config.OUTPUTS_DIR)
    assert Path(run.stdout.strip()).parent == Path(os.environ[isolation.SESSION_VAR])
    assert not isolation.inside(run.stdout.strip(), config.PROJ_ROOT)


def test_a_run_that_writes_into_data_fails(tmp_path):
    # A checkout of its own (the root conftest.py and the helper), with a test that
    # writes into its data/raw/: the run fails, naming the file; one that does not passes.
    root = config.PROJ_ROOT
    (tmp_path / "tests" / "helpers").mkdir(parents=True)
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "outputs").mkdir()
    (tmp_path / "conftest.py").write_text((root / "conftest.py").read_text())
    (tmp_path / "tests" / "helpers" / "isolation.py").write_text(
        Path(isolation.__file__).read_text()
    )
    (tmp_path / "test_writes.py").write_text(
        "from pathlib import Path\n\n"
        "def test_writes():\n"
        "    (Path(__file__).parent / 'data' / 'raw' / 'x.xlsx').write_text('x')\n"
    )
    (tmp_path / "test_reads.py").write_text("def test_reads():\n    assert True\n")

    def run(name):
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )

    ok = run("test_reads.py")
    assert ok.returncode == 0, ok.stdout
    bad = run("test_writes.py")
    assert bad.returncode == 1, bad.stdout
    assert "the tests changed the checkout's data/ or outputs/" in bad.stdout
    assert f"added: {tmp_path / 'data' / 'raw' / 'x.xlsx'}" in bad.stdout
