"""Whole-run transactions (analysis.pipeline.transaction): lock, staging, commit, recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from analysis.errors import UserError
from analysis.pipeline import interrupts, transaction

HOLD = """
import sys
from analysis.pipeline import transaction
with transaction.locked(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of tmp_path/t until its stdin is closed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "t")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline() == "held\n"
    yield proc
    proc.stdin.close()
    proc.wait(timeout=30)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- names and the lock ----------------------------------------------------------------------


def test_check_name_refuses_a_slug_too_long_to_name_files():
    assert transaction.check_name("a" * 100) == "a" * 100
    with pytest.raises(UserError, match="101 characters long: at most 100"):
        transaction.check_name("a" * 101)


def test_a_second_run_is_refused_with_the_pid_of_the_first(tmp_path, holder):
    with pytest.raises(transaction.Busy, match=rf"pid {holder.pid}, started .*--wait") as err:
        with transaction.locked(tmp_path / "t"):
            pass
    assert err.value.exit_code == 2
    assert str(tmp_path / ".t.lock") in str(err.value)


def test_another_organisation_is_not_locked(tmp_path, holder):
    with transaction.locked(tmp_path / "t-2"):
        assert (tmp_path / ".t-2.lock").exists()


def test_wait_starts_when_the_other_run_lets_go(tmp_path, holder, capsys):
    got = []

    def second():
        with transaction.locked(tmp_path / "t", wait=True):
            got.append(time.monotonic())

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)
    assert not got  # still waiting
    released = time.monotonic()
    holder.stdin.close()
    thread.join(timeout=30)
    # The holder removed its lock file as it let go; the waiter locked a new one.
    assert got and got[0] >= released
    assert f"waiting for the other run for t (pid {holder.pid}" in capsys.readouterr().err
    assert not (tmp_path / ".t.lock").exists()


def test_lock_is_reentrant_in_one_process_and_removed_at_the_end(tmp_path):
    final = tmp_path / "t"
    with transaction.locked(final):
        with transaction.locked(final):  # a batch job, then the report it runs
            assert (tmp_path / ".t.lock").exists()
        # still held by the outer block: another process is refused
        res = subprocess.run(
            [sys.executable, "-c", HOLD, str(final)], capture_output=True, text=True, input=""
        )
        assert res.returncode == 1 and f"pid {os.getpid()}" in res.stderr
    assert _names(tmp_path) == []


# -- staging and commit --------------------------------------------------------------------------


def test_commit_replaces_the_whole_folder(tmp_path):
    final = tmp_path / "final"
    final.mkdir()
    (final / "stale.txt").write_text("old")
    stage = transaction.Staging(final)
    assert stage.build.parent == tmp_path and stage.build.name.startswith(".final.build-")
    (stage.build / "report.html").write_text("new")
    stage.commit()
    assert _names(final) == ["report.html"]
    assert _names(tmp_path) == ["final"]


def test_staging_folders_get_shared_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        stage = transaction.Staging(tmp_path / "out" / "t", tmp_path / "processed" / "t.parquet")
    finally:
        os.umask(umask)
    assert stage.build.stat().st_mode & 0o777 == 0o755
    assert stage.processed_dir.stat().st_mode & 0o777 == 0o755
    stage.discard()


def _staged(tmp_path: Path, old: bool = True) -> tuple[transaction.Staging, Path, Path]:
    outputs, processed = tmp_path / "outputs", tmp_path / "processed"
    final, cases = outputs / "t", processed / "t.parquet"
    if old:
        final.mkdir(parents=True)
        (final / "findings.csv").write_text("old findings")
        processed.mkdir()
        cases.write_text("old cases")
    stage = transaction.Staging(final, cases)
    (stage.build / "findings.csv").write_text("new findings")
    (stage.processed_dir / "t.parquet").write_text("new cases")
    return stage, final, cases


def test_commit_swaps_outputs_and_processed_cases_together(tmp_path):
    stage, final, cases = _staged(tmp_path)
    stage.commit()
    assert (final / "findings.csv").read_text() == "new findings"
    assert cases.read_text() == "new cases"
    assert _names(final) == ["findings.csv"]  # no commit marker left
    assert _names(tmp_path / "outputs") == ["t"]
    assert _names(tmp_path / "processed") == ["t.parquet"]


def test_commit_of_a_first_run(tmp_path):
    stage, final, cases = _staged(tmp_path, old=False)
    stage.commit()
    assert (final / "findings.csv").read_text() == "new findings"
    assert cases.read_text() == "new cases"


def test_commit_undoes_the_outputs_when_the_cases_cannot_be_replaced(tmp_path):
    stage, final, cases = _staged(tmp_path)
    cases.unlink()
    cases.mkdir()  # a folder where the processed file goes: the last rename fails
    (cases / "x").write_text("x")
    with stage, pytest.raises(OSError):
        stage.commit()
    assert (final / "findings.csv").read_text() == "old findings"
    assert _names(final) == ["findings.csv"]
    assert _names(tmp_path / "outputs") == ["t"]
    assert _names(tmp_path / "processed") == ["t.parquet"]


def test_commit_refuses_a_run_that_staged_no_cases(tmp_path):
    stage, final, cases = _staged(tmp_path)
    (stage.processed_dir / "t.parquet").unlink()
    with stage, pytest.raises(RuntimeError, match="staged no processed cases"):
        stage.commit()
    assert (final / "findings.csv").read_text() == "old findings"
    assert cases.read_text() == "old cases"
    assert _names(tmp_path / "outputs") == ["t"]


def test_a_failed_run_leaves_no_staging_folders(tmp_path):
    with pytest.raises(ValueError), transaction.Staging(tmp_path / "o" / "t", tmp_path / "p.pq"):
        raise ValueError("a step failed")
    assert _names(tmp_path) == ["o"]
    assert _names(tmp_path / "o") == []


def test_sigterm_during_the_commit_waits_for_it(tmp_path, monkeypatch):
    stage, final, cases = _staged(tmp_path)
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        if not calls:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives between the renames
        calls.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(transaction.os, "replace", replace)
    restore = interrupts.install()
    try:
        with pytest.raises(interrupts.Terminated):
            stage.commit()
            time.sleep(1)  # the signal is delivered as the commit ends, not after this
    finally:
        restore()
    assert len(calls) == 3  # old outputs aside, new in, cases in: all of it happened
    assert (final / "findings.csv").read_text() == "new findings"
    assert cases.read_text() == "new cases"


# -- recovery ------------------------------------------------------------------------------------


def test_recover_removes_what_killed_runs_left_and_says_so(tmp_path, capsys):
    outputs, processed = tmp_path / "outputs", tmp_path / "processed"
    for path in (
        outputs / ".t.build-123-abcdef01",
        outputs / ".t.old-77-0123abcd",
        outputs / ".build-t-k2_x9abc",  # an earlier version's build folder
        processed / ".t.build-123-abcdef01",
        # another organisation's, whose name starts the same: not ours to remove
        outputs / ".t-2.build-456-abcdef01",
        outputs / ".build-t-2-k2_x9abc",
    ):
        path.mkdir(parents=True)
        (path / "findings.csv").write_text("x")
    (outputs / "t").mkdir()
    notes = transaction.recover(outputs / "t", processed / "t.parquet")
    assert len(notes) == 4
    err = capsys.readouterr().err
    assert (
        f"removed {outputs / '.t.build-123-abcdef01'}, left by an interrupted run (pid 123)" in err
    )
    assert "(pid 77)" in err
    assert _names(outputs) == [".build-t-2-k2_x9abc", ".t-2.build-456-abcdef01", "t"]
    assert _names(processed) == []


def test_recover_finishes_a_commit_cut_short_after_the_outputs(tmp_path, capsys):
    outputs, processed = tmp_path / "outputs", tmp_path / "processed"
    (outputs / "t").mkdir(parents=True)
    (outputs / "t" / "findings.csv").write_text("new findings")
    (outputs / "t" / transaction.COMMIT_MARKER).write_text("9-0000abcd")
    staged = processed / ".t.build-9-0000abcd" / "t.parquet"
    staged.parent.mkdir(parents=True)
    staged.write_text("new cases")
    (processed / "t.parquet").write_text("old cases")
    transaction.recover(outputs / "t", processed / "t.parquet")
    assert (processed / "t.parquet").read_text() == "new cases"
    assert _names(outputs / "t") == ["findings.csv"]
    assert _names(processed) == ["t.parquet"]
    assert "finished a commit cut short" in capsys.readouterr().err


def test_recover_undoes_a_swap_cut_short(tmp_path):
    outputs = tmp_path / "outputs"
    old, build = outputs / ".t.old-9-0000abcd", outputs / ".t.build-9-0000abcd"
    for path, text in ((old, "old findings"), (build, "new findings")):
        path.mkdir(parents=True)
        (path / "findings.csv").write_text(text)
    (build / transaction.COMMIT_MARKER).write_text("9-0000abcd")
    notes = transaction.recover(outputs / "t", tmp_path / "processed" / "t.parquet")
    assert notes[0] == f"restored {outputs / 't'}: a run was killed while replacing it"
    assert (outputs / "t" / "findings.csv").read_text() == "old findings"
    assert _names(outputs) == ["t"]


def test_recover_with_nothing_to_do_says_nothing(tmp_path, capsys):
    (tmp_path / "t").mkdir()
    assert transaction.recover(tmp_path / "t", tmp_path / "missing" / "t.parquet") == []
    assert capsys.readouterr().err == ""
