"""Nothing wrong gets through: ``report`` under signals, concurrent runs and file-system faults.

Real ``python -m analysis report`` subprocesses (``tests/helpers/standin.py``: the real
command line with the notebook step stood in, so that a run can be stopped at a known
point in seconds) are SIGTERMed, interrupted and SIGKILLed in the middle, and run
twice at once; then the outputs and the processed cases must be exactly what they
were, and the next run must clean up. File-system faults (a full disk, a read-only
folder, a file in the way, a name too long) must be a message with exit status 2,
naming the path, never a traceback and never a 0-byte file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from helpers.faults import assert_no_file_name, read_only
from helpers.tiny import TINY_INSTRUMENT_YAML
from helpers.workbooks import grid, valid_rows, write_xlsx

from analysis import config
from analysis.cli import main
from analysis.fileio import StorageError
from analysis.instrument import load_instrument
from analysis.pipeline import kernels, report
from analysis.render import charts

STANDIN = Path(__file__).parent / "helpers" / "standin.py"
#: A file name that may identify a person: it must reach no output.
PERSONAL = "Jane-Doe"


# -- the site: a baseline run, copied for each test -------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Workbooks A (named after a person) and B, and a baseline run of A as trust ``base``."""
    tmp = tmp_path_factory.mktemp("site")
    inst_path = tmp / "tiny.yaml"
    inst_path.write_text(TINY_INSTRUMENT_YAML, encoding="utf-8")
    inst = load_instrument(inst_path)
    a = write_xlsx(tmp / f"{PERSONAL}-cases.xlsx", grid(valid_rows(inst, 24), inst.columns))
    b = write_xlsx(tmp / "b.xlsx", grid(valid_rows(inst, 30), inst.columns))
    env = dict(os.environ)
    env.update(
        ANALYSIS_RAW_DIR=str(tmp / "raw"),
        ANALYSIS_PROCESSED_DIR=str(tmp / "processed"),
        ANALYSIS_OUTPUTS_DIR=str(tmp / "outputs"),
        PYTHONPATH=os.pathsep.join(
            [str(Path(config.PACKAGE_DIR).parent), env.get("PYTHONPATH", "")]
        ),
    )
    site = {"tmp": tmp, "inst": inst_path, "a": a, "b": b, "env": env}
    done = _run(site, "base", a)
    assert done.returncode == 0, done.stderr[-3000:]
    return site


def _spawn(site, argv, notebook="fast", marker=None) -> subprocess.Popen:
    env = {**site["env"], "STANDIN_NOTEBOOK": notebook}
    if marker is not None:
        marker.mkdir()
        env["STANDIN_MARKER"] = str(marker)
    return subprocess.Popen(
        [sys.executable, str(STANDIN), *argv],
        cwd=site["tmp"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _start(site, trust, workbook, *extra, notebook="fast", marker=None) -> subprocess.Popen:
    argv = ["report", str(workbook), "--trust", trust, "--instrument", str(site["inst"]), *extra]
    return _spawn(site, argv, notebook, marker)


def _run(site, trust, workbook, *extra, notebook="fast") -> subprocess.CompletedProcess:
    proc = _start(site, trust, workbook, *extra, notebook=notebook)
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _seed(site, trust: str) -> None:
    """Give ``trust`` the baseline's outputs and processed cases (a previous good run)."""
    out, processed = site["tmp"] / "outputs", site["tmp"] / "processed"
    shutil.copytree(out / "base", out / trust)
    shutil.copy2(processed / "base.parquet", processed / f"{trust}.parquet")


def _snapshot(site, trust: str) -> dict[str, str]:
    """sha256 of every file of the trust's outputs and its processed cases."""
    out = site["tmp"] / "outputs" / trust
    files = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file()}
    files["processed"] = site["tmp"] / "processed" / f"{trust}.parquet"
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in sorted(files.items())}


def _leftovers(site, trust: str) -> list[str]:
    """Staging folders, lock files, temporary files of the trust, anywhere."""
    found = []
    for folder in (site["tmp"] / "outputs", site["tmp"] / "processed"):
        found += [p.name for p in folder.iterdir() if p.name.startswith(f".{trust}.")]
    found += [p.name for p in (site["tmp"] / "outputs").rglob("*.tmp")]
    return sorted(found)


def _wait_for(folder: Path, proc: subprocess.Popen, n: int = 1, timeout: float = 300) -> list[int]:
    """Wait until ``n`` runs have reached their (stand-in) notebook step; return their pids."""
    end = time.monotonic() + timeout
    while len(list(folder.iterdir())) < n:
        if proc.poll() is not None:
            pytest.fail(f"run ended early ({proc.returncode}): {proc.stderr.read()[-3000:]}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail("run never reached its notebook step")
        time.sleep(0.1)
    return [int(p.name) for p in folder.iterdir()]


def _readline(stream, timeout: float = 300) -> str:
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not got:
        pytest.fail("no line within the time allowed")
    return got[0]


# -- privacy ---------------------------------------------------------------------------------


def test_no_input_file_name_in_any_output_or_processed_file(site):
    tmp = site["tmp"]
    assert_no_file_name([tmp / "outputs" / "base", tmp / "processed"], PERSONAL)
    prov = json.loads((tmp / "outputs" / "base" / "provenance.json").read_text())
    assert prov["input_file"] == "the workbook supplied"
    assert prov["input_sha256"] == hashlib.sha256(site["a"].read_bytes()).hexdigest()


def test_a_workbook_naming_no_organisation_gets_a_neutral_name_not_its_file_name(site):
    # No --trust and no trust values: the run is for "workbook-" and the first 8 hex digits
    # of the workbook's sha256, and the file's name (a person's) reaches no output.
    tmp = site["tmp"]
    argv = ["report", str(site["a"]), "--instrument", str(site["inst"])]
    proc = _spawn(site, argv)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    slug = "workbook-" + hashlib.sha256(site["a"].read_bytes()).hexdigest()[:8]
    assert f"organisation: {slug} (the workbook names no organisation" in err
    assert "--trust NAME" in err and "never its file name" in err
    assert (tmp / "outputs" / slug / "provenance.json").is_file()
    assert (tmp / "processed" / f"{slug}.parquet").is_file()
    assert_no_file_name([tmp / "outputs" / slug, tmp / "processed"], PERSONAL)
    assert_no_file_name([tmp / "outputs" / slug, tmp / "processed"], PERSONAL.lower())
    shutil.rmtree(tmp / "outputs" / slug)  # the site is shared: leave it as it was
    (tmp / "processed" / f"{slug}.parquet").unlink()


# -- signals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_report_replaces_nothing_and_leaves_nothing(site, signum, status):
    trust = f"sig{status}"
    _seed(site, trust)
    before = _snapshot(site, trust)
    marker = site["tmp"] / f"{trust}.started"
    proc = _start(site, trust, site["b"], notebook="slow", marker=marker)
    _wait_for(marker, proc)
    # Mid-run: the new cases are staged, not yet in data/processed (the tester's finding).
    assert _snapshot(site, trust) == before
    assert any(".build-" in n for n in _leftovers(site, trust))
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err[-3000:]
    assert "interrupted" in err and "Traceback" not in err
    assert _snapshot(site, trust) == before
    assert _leftovers(site, trust) == []


def test_sigkill_mid_report_replaces_nothing_and_the_next_run_cleans_up(site):
    trust = "killed"
    _seed(site, trust)
    before = _snapshot(site, trust)
    marker = site["tmp"] / f"{trust}.started"
    proc = _start(site, trust, site["b"], notebook="slow", marker=marker)
    _wait_for(marker, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert _snapshot(site, trust) == before
    left = _leftovers(site, trust)
    assert f".{trust}.build-" in "".join(left) and ".lock" in "".join(left)

    again = _run(site, trust, site["b"])
    assert again.returncode == 0, again.stderr[-3000:]
    removed = [line for line in again.stderr.splitlines() if line.startswith("removed ")]
    assert len(removed) == 2  # the outputs' and the processed cases' staging folders
    assert all(f"left by an interrupted run (pid {proc.pid})" in line for line in removed)
    assert _leftovers(site, trust) == []
    after = _snapshot(site, trust)
    assert after["findings.csv"] != before["findings.csv"]
    assert after["processed"] != before["processed"]
    prov = json.loads((site["tmp"] / "outputs" / trust / "provenance.json").read_text())
    assert prov["input_sha256"] == hashlib.sha256(site["b"].read_bytes()).hexdigest()


def test_a_second_run_is_refused_naming_the_first_or_waits_for_it(site):
    trust = "busy"
    _seed(site, trust)
    before = _snapshot(site, trust)
    marker = site["tmp"] / f"{trust}.started"
    first = _start(site, trust, site["b"], notebook="slow", marker=marker)
    _wait_for(marker, first)

    refused = _run(site, trust, site["a"])
    assert refused.returncode == 2
    assert f"another run for {trust} is in progress (pid {first.pid}, started" in refused.stderr
    assert "--wait" in refused.stderr and "Traceback" not in refused.stderr
    assert _snapshot(site, trust) == before

    waiting = _start(site, trust, site["b"], "--wait")
    said = _readline(waiting.stderr)
    assert said.startswith(f"waiting for the other run for {trust} (pid {first.pid}, started")
    assert waiting.poll() is None  # queued behind the first run
    first.terminate()
    assert first.wait(timeout=120) == 143
    _, err = waiting.communicate(timeout=600)
    assert waiting.returncode == 0, err[-3000:]
    assert _snapshot(site, trust)["findings.csv"] != before["findings.csv"]
    assert _leftovers(site, trust) == []


def test_sigterm_stops_a_batch_and_its_workers_clean_up(site):
    books = site["tmp"] / "batch-books"
    books.mkdir()
    inst = load_instrument(site["inst"])
    for slug in ("alpha", "beta"):  # batch names each from its trust column
        rows = valid_rows(inst, 30)
        for r in rows:
            r["trust"] = slug
        write_xlsx(books / f"{slug}.xlsx", grid(rows, inst.columns))
    marker = site["tmp"] / "batch.started"
    argv = ["batch", *map(str, sorted(books.iterdir())), "--instrument", str(site["inst"])]
    argv += ["--jobs", "2", "--no-aggregate", "--no-progress"]
    proc = _spawn(site, argv, "slow", marker)
    workers = _wait_for(marker, proc, n=2)
    proc.terminate()  # the batch's own process only, as a scheduler would
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-3000:]
    assert "interrupted" in err and "Traceback" not in err
    for pid in workers:  # the workers stopped too (the batch waited for them)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    for slug in ("alpha", "beta"):
        assert _leftovers(site, slug) == []
        assert not (site["tmp"] / "outputs" / slug).exists()
        assert not (site["tmp"] / "processed" / f"{slug}.parquet").exists()


# -- file-system faults in a subprocess ----------------------------------------------------------


def test_a_full_disk_in_the_notebook_step_is_a_message_and_leaves_no_empty_file(site):
    trust = "full"
    _seed(site, trust)
    before = _snapshot(site, trust)
    res = _run(site, trust, site["b"], notebook="enospc")
    assert res.returncode == 2, res.stderr[-3000:]
    # The write named no file: the message names the run's build folder, on that disk.
    folder = site["tmp"] / "outputs" / f".{trust}.build-"
    assert res.stderr.startswith(f"error: no space left on the disk holding {folder}")
    assert "[Errno 28]" in res.stderr
    assert "Traceback" not in res.stderr
    assert _snapshot(site, trust) == before  # no half notebook kept as report.failed.ipynb
    assert _leftovers(site, trust) == []
    empty = [
        p for p in (site["tmp"] / "outputs").rglob("*") if p.is_file() and not p.stat().st_size
    ]
    assert empty == []


# -- file-system faults, in process --------------------------------------------------------------


@pytest.fixture
def here(tmp_path, monkeypatch, site):
    """Outputs and processed folders of this test alone; the notebook step stood in."""
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path / "outputs")
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "processed")
    monkeypatch.setattr(config, "RAW_DIR", tmp_path / "raw")

    def notebook(nb, output, parameters, *, cwd, progress=False):
        cell = nbformat.v4.new_code_cell("1")
        cell.metadata["tags"] = ["injected-parameters"]
        nbformat.write(nbformat.v4.new_notebook(cells=[cell]), str(output))

    monkeypatch.setattr(kernels, "execute_notebook", notebook)
    monkeypatch.setattr(charts, "all_charts", lambda findings, instrument: [])
    monkeypatch.setattr(charts, "iter_charts", lambda findings, instrument: iter(()))
    return tmp_path


def _report(site, *extra, trust="t") -> list[str]:
    return ["report", str(site["b"]), "--trust", trust, "--instrument", str(site["inst"]), *extra]


def test_a_full_disk_writing_the_findings_is_a_message_chained_to_the_cause(
    site, here, monkeypatch, capsys
):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)  # the findings.csv writer
    assert main(_report(site)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no space left on the disk holding ")
    assert f"holding {here / 'outputs'}/.t.build-" in err and "[Errno 28]" in err, err
    with pytest.raises(StorageError) as caught:
        report.run_report("t", site["b"], instrument_path=site["inst"])
    assert caught.value.__cause__.errno == errno.ENOSPC
    assert sorted(p.name for p in here.rglob("*")) == ["outputs", "processed"]


def test_a_full_disk_writing_the_tables_names_the_build_folder(site, here, monkeypatch, capsys):
    from analysis.render import tables

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # xlsxwriter names no file

    monkeypatch.setattr(tables, "write_tables", full)
    assert main(_report(site)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: no space left on the disk holding {here / 'outputs'}/.t.build-")
    assert sorted(p.name for p in here.rglob("*")) == ["outputs", "processed"]


def test_a_full_disk_keeping_the_failed_notebook_keeps_the_original_error(
    site, here, monkeypatch, capsys
):
    def failing(nb, output, parameters, *, cwd, progress=False):
        nbformat.write(nbformat.v4.new_notebook(), str(output))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(output))

    def copy_on_a_full_disk(src, dst):
        Path(dst).write_text("{")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(kernels, "execute_notebook", failing)
    monkeypatch.setattr(kernels.shutil, "copyfile", copy_on_a_full_disk)
    assert main(_report(site)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no space left on the disk holding ")
    assert "report.ipynb" in err  # the original error, not the copy's
    assert "note: the failed notebook could not be kept" in err
    assert not (config.OUTPUTS_DIR / "t" / "report.failed.ipynb").exists()
    assert [p for p in here.rglob("*") if p.is_file() and not p.stat().st_size] == []


def test_a_failing_notebook_is_kept_and_nothing_replaced(site, here, monkeypatch):
    def failing(nb, output, parameters, *, cwd, progress=False):
        nbformat.write(nbformat.v4.new_notebook(), str(output))
        raise RuntimeError("a cell failed")

    monkeypatch.setattr(kernels, "execute_notebook", failing)
    with pytest.raises(RuntimeError, match="a cell failed"):
        report.run_report("t", site["b"], instrument_path=site["inst"])
    out = config.OUTPUTS_DIR / "t"
    assert sorted(p.name for p in out.iterdir()) == ["report.failed.ipynb"]
    assert json.loads((out / "report.failed.ipynb").read_text())["cells"] == []
    assert list(config.PROCESSED_DIR.iterdir()) == []  # the cases were staged, never swapped in


@pytest.mark.parametrize("folder", ["outputs", "processed"])
def test_a_read_only_folder_is_a_message(site, here, capsys, folder):
    with read_only(here / folder):
        assert main(_report(site)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: permission denied for ") and str(here / folder) in err
    assert "read-only for you" in err and "Traceback" not in err
    assert not (here / "outputs" / "t").exists()


def test_outputs_folder_that_is_a_file_is_a_message(site, here, capsys):
    (here / "outputs").write_text("a file where the outputs folder goes")
    assert main(_report(site)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {here / 'outputs'} already exists and is not a folder")
    assert (here / "outputs").read_text().startswith("a file")


def test_trust_folder_that_is_a_file_is_refused_before_the_run(site, here, capsys):
    (here / "outputs").mkdir()
    (here / "outputs" / "t").write_text("not a folder")
    assert main(_report(site)) == 2
    assert capsys.readouterr().err.startswith(f"error: {here / 'outputs' / 't'} is a file, not")
    assert sorted(p.name for p in (here / "outputs").iterdir()) == ["t"]
    assert not (here / "processed").exists() or list((here / "processed").iterdir()) == []


def test_processed_file_that_is_a_folder_is_refused_before_the_run(site, here, capsys):
    (here / "processed" / "t.parquet").mkdir(parents=True)
    assert main(_report(site)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {here / 'processed' / 't.parquet'} is a folder, not a file")
    assert not (here / "outputs" / "t").exists()


def test_a_slug_too_long_is_refused_up_front(site, here, capsys):
    assert main(_report(site, trust="a" * 300)) == 2
    assert "300 characters long: at most 100 are allowed" in capsys.readouterr().err
    assert sorted(p.name for p in here.iterdir()) == []  # nothing written, not even a folder


def test_a_path_too_long_for_the_file_system_is_a_message(site, here, monkeypatch, capsys):
    monkeypatch.setattr(config, "OUTPUTS_DIR", here / ("o" * 300))
    assert main(_report(site)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: a name in ") and "is too long for the file system" in err
    assert "[Errno 36]" in err and "Traceback" not in err


def test_a_good_run_after_faults_leaves_only_its_outputs(site, here):
    res = report.run_report("t", site["b"], instrument_path=site["inst"])
    assert res.out_dir == here / "outputs" / "t"
    assert sorted(p.name for p in (here / "outputs").iterdir()) == ["t"]
    assert sorted(p.name for p in (here / "processed").iterdir()) == ["t.parquet"]


def test_importing_the_standin_patches_nothing():
    # --doctest-modules imports every module under tests/: the stand-ins must apply only when
    # standin.py runs as the command, or every later test loses its notebook and charts.
    from helpers import standin  # noqa: F401

    from analysis.pipeline import kernels
    from analysis.render import charts

    assert charts.all_charts.__module__ == "analysis.render.charts.build"
    assert charts.iter_charts.__module__ == "analysis.render.charts.build"
    assert kernels.execute_notebook.__module__ == "analysis.pipeline.kernels"


def test_report_prints_the_ingests_warnings(site, here, monkeypatch, capsys):
    # `ingest` printed its warnings (hidden rows, near-duplicate names, warning rules broken)
    # but `report` printed none of them: only the rule count reached provenance (S7-46).
    from analysis import ingest
    from analysis.ingest.problems import Problem

    real = ingest.ingest_file

    def with_warnings(*args, **kwargs):
        result = real(*args, **kwargs)
        hidden = Problem("b.xlsx", "cases", 7, None, None, "row 7 is hidden", "warning")
        result.warnings.append(hidden)
        result.rule_warnings["plan-when-low"] = 2
        return result

    monkeypatch.setattr(ingest, "ingest_file", with_warnings)
    assert main(_report(site)) == 0
    err = capsys.readouterr().err.splitlines()
    assert "warning: b.xlsx, sheet 'cases', row 7: row 7 is hidden" in err
    assert (
        "warning: 2 case(s) break consistency rules of severity warning: plan-when-low (2)" in err
    )
