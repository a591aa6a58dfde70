"""The batch runner: fault isolation, incremental skips, kernel retries, summary and exit status.

Most tests use a stand-in for the report pipeline (``_fake_runner``, a module-level
function so worker processes can call it) so they run in seconds; one test runs the
real pipeline on three tiny workbooks (marked ``notebooks``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from analysis import config
from analysis.cli import main
from analysis.ingest import Organisation
from analysis.pipeline import batch, state

# -- stand-ins ----------------------------------------------------------------------------


class PapermillExecutionError(Exception):
    """Same name as papermill's notebook failure."""

    def __init__(self, evalue: str):
        super().__init__(evalue)
        self.ename, self.evalue, self.exec_count = "ValueError", evalue, 3


class IngestError(Exception):
    """Same name as analysis.ingest's error."""

    def __init__(self, problem: str):
        super().__init__(f"1 problem in x.xlsx:\n{problem}")
        self.problems = [problem]


def _fake_runner(job: batch.Job) -> dict:
    """Behaves as the workbook's text says: ok, broken, flaky kernel (N times), notebook error."""
    text = Path(job.workbook).read_text()
    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)  # as the real pipeline makes its folder
    if text.startswith("broken"):
        raise IngestError("x.xlsx, row 1: no header row")
    if text.startswith("notebook-error"):
        raise PapermillExecutionError("Address already in use (but from user code)")
    if text.startswith("flaky"):
        n_fail = int(text.split()[1])
        counter = out / "attempts"
        seen = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(seen + 1))
        if seen < n_fail:
            raise RuntimeError("Kernel didn't respond in 60 seconds")
    (out / "report.html").write_text(f"<p>{job.trust}</p>")
    (out / "findings.parquet").write_text("x")
    runs = out / "runs"
    # Atomic, like the real pipeline's outputs: a worker terminated mid-write (when another
    # worker crashes, the pool kills the rest) must not leave an empty counter behind.
    tmp = out / f"runs.{os.getpid()}.tmp"
    tmp.write_text(str(int(runs.read_text()) + 1 if runs.exists() else 1))
    os.replace(tmp, runs)
    return {"report": out / "report.html", "phases": {"notebook": 0.01}}


#: A stand-in for the package's and notebooks' file hashes.
PINNED_CODE = {"analysis/a.py": "1", "notebooks/10_report.ipynb": "1"}


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    raw, outputs = tmp_path / "raw", tmp_path / "outputs"
    raw.mkdir()
    monkeypatch.setattr(config, "RAW_DIR", raw)
    monkeypatch.setattr(config, "OUTPUTS_DIR", outputs)
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "processed")
    # Pinned: the real hash changes whenever anyone edits the package during the test run.
    monkeypatch.setattr(batch, "code_digests", lambda: dict(PINNED_CODE))
    return raw, outputs


def _jobs(raw: Path, **books: str) -> list[batch.Job]:
    jobs = []
    for slug, text in books.items():
        p = raw / f"{slug}.csv"
        p.write_text(text)
        jobs.append(batch.Job(slug, p))
    return jobs


def _run(jobs, **kw):
    kw.setdefault("runner", _fake_runner)
    kw.setdefault("backoff", (0.0,))
    kw.setdefault("progress", False)
    return {r.trust: r for r in batch.run_batch(jobs, workers=2, **kw)}


def _runs(outputs: Path, trust: str) -> int:
    p = outputs / trust / "runs"
    return int(p.read_text()) if p.exists() else 0


# -- fault isolation and incremental runs ------------------------------------------------------


def test_failure_is_isolated_and_good_trusts_are_skipped_next_time(dirs):
    raw, outputs = dirs
    jobs = _jobs(raw, a="ok", b="broken", c="ok")
    res = _run(jobs)
    assert res["a"].status == res["c"].status == "ok"
    assert res["b"].status == "failed"
    assert res["b"].summary_status.startswith("failed (invalid workbook: x.xlsx, row 1")
    assert (outputs / "a" / state.STATE_FILE).exists()
    assert not (outputs / "b" / state.STATE_FILE).exists()  # only success records state

    again = _run(_jobs(raw, a="ok", b="broken", c="ok"))
    assert again["a"].status == again["c"].status == "skipped"
    assert again["b"].status == "failed"  # a failure is always retried
    assert _runs(outputs, "a") == 1

    forced = _run(_jobs(raw, a="ok", b="ok", c="ok"), force=True)
    assert {r.status for r in forced.values()} == {"ok"}
    assert _runs(outputs, "a") == 2


def test_changed_input_instrument_code_or_params_trigger_rerun(dirs, tmp_path, monkeypatch):
    raw, outputs = dirs
    _run(_jobs(raw, a="ok", b="ok"))

    res = _run(_jobs(raw, a="ok ", b="ok"))  # a's workbook changed by one byte
    assert (res["a"].status, res["b"].status) == ("ok", "skipped")

    inst = tmp_path / "inst.yaml"
    inst.write_text("id: other")
    jobs = _jobs(raw, a="ok ", b="ok")
    jobs[1].instrument = inst
    res = _run(jobs)
    assert (res["a"].status, res["b"].status) == ("skipped", "ok")

    jobs = _jobs(raw, a="ok ", b="ok")
    jobs[0].parameters = {"trust_name": "A"}
    jobs[1].instrument = inst
    res = _run(jobs)
    assert (res["a"].status, res["b"].status) == ("ok", "skipped")

    changed = {**PINNED_CODE, "notebooks/10_report.ipynb": "2"}
    monkeypatch.setattr(batch, "code_digests", lambda: changed)
    jobs = _jobs(raw, a="ok ", b="ok")
    jobs[0].parameters = {"trust_name": "A"}
    jobs[1].instrument = inst
    res = _run(jobs)
    assert (res["a"].status, res["b"].status) == ("ok", "ok")
    assert res["a"].why == "notebook 10_report.ipynb changed"


def test_the_batch_says_why_each_trust_is_run_or_skipped(dirs, monkeypatch):
    raw, _ = dirs
    lines: list[str] = []
    # First batch: nothing was run before.
    _run(_jobs(raw, a="ok", b="ok", c="ok"), say=lines.append)
    assert lines == ["a: run (first run)", "b: run (first run)", "c: run (first run)"]
    # Second: a's workbook gains a byte, the report notebook's code changes for all, so
    # a reports the first difference in the order workbook, instrument, code, parameters.
    lines.clear()
    monkeypatch.setattr(
        batch, "code_digests", lambda: {**PINNED_CODE, "notebooks/10_report.ipynb": "2"}
    )
    res = _run(_jobs(raw, a="ok!", b="ok", c="ok"), say=lines.append)
    assert lines == [
        "a: rerun (workbook changed)",
        "b: rerun (notebook 10_report.ipynb changed)",
        "c: rerun (notebook 10_report.ipynb changed)",
    ]
    assert res["a"].why == "workbook changed"
    # Third: nothing changed; then --force.
    lines.clear()
    res = _run(_jobs(raw, a="ok!", b="ok", c="ok"), say=lines.append)
    assert lines == ["a: skipped (unchanged)", "b: skipped (unchanged)", "c: skipped (unchanged)"]
    assert res["b"].summary_status == "skipped (unchanged)"
    lines.clear()
    _run(_jobs(raw, a="ok!", b="ok"), say=lines.append, force=True)
    assert lines == ["a: rerun (--force)", "b: rerun (--force)"]


def test_a_failed_run_is_retried_and_says_so(dirs):
    raw, _ = dirs
    _run(_jobs(raw, a="broken"))  # its folder exists, but no state was recorded
    lines: list[str] = []
    _run(_jobs(raw, a="ok"), say=lines.append)
    assert lines == ["a: rerun (no successful run recorded)"]


# -- kernel retries -----------------------------------------------------------------------------


def test_kernel_failure_is_retried_and_reported(dirs):
    raw, outputs = dirs
    res = _run(_jobs(raw, a="flaky 2", b="flaky 1", c="flaky 5", d="notebook-error"))
    assert res["a"].status == "ok" and res["a"].kernel_retries == 2
    assert res["a"].summary_status == "ok after 2 kernel retries"
    assert res["b"].summary_status == "ok after 1 kernel retry"
    assert res["c"].status == "failed" and res["c"].kernel_retries == 2
    assert "kernel did not start" in res["c"].summary_status
    assert "after 2 kernel retries" in res["c"].summary_status
    assert (outputs / "c" / "attempts").read_text() == "3"  # first try plus two retries
    # A notebook error is never retried, whatever its text says.
    assert res["d"].status == "failed" and res["d"].kernel_retries == 0
    assert res["d"].reason.startswith("notebook error in cell 3: ValueError")


# -- discovery, parameters, summary, command line -----------------------------------------------


def test_discover(dirs, tmp_path):
    raw, _ = dirs
    for name in ("b.xlsx", "a.csv", "c.xlsm", "notes.txt", "~$a.xlsx"):
        (raw / name).write_text(name)  # unreadable as workbooks: ingest says why, in full
    # Each is for the neutral name of its bytes (no trust column), in that name's order.
    names = {
        n: "workbook-" + hashlib.sha256(f"{n}.{e}".encode()).hexdigest()[:8]
        for n, e in (("a", "csv"), ("b", "xlsx"), ("c", "xlsm"))
    }
    assert [p.name for _, p in batch.discover(None)] == sorted(
        ["a.csv", "b.xlsx", "c.xlsm"], key=lambda f: names[f[0]]
    )
    assert [s for s, _ in batch.discover([str(raw / "b.xlsx")])] == [names["b"]]
    (raw / "a.xlsx").write_text("a.csv")  # the same bytes as a.csv: the same organisation
    with pytest.raises(batch.UserError, match="two workbooks"):
        batch.discover(None)
    with pytest.raises(batch.UserError, match="no such workbook"):
        batch.discover([str(raw / "zzz.xlsx")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(batch.UserError, match="demo-data"):
        batch.discover(None, empty)


def test_discover_takes_the_organisation_from_the_trust_column(dirs, tiny_instrument, capsys):
    from helpers.workbooks import grid, valid_rows, write_csv

    raw, _ = dirs
    rows = valid_rows(tiny_instrument, 2)
    for r in rows:
        r["trust"] = "Carrow Moor"
    # A file named after a person: the trust column names the organisation, not the file.
    write_csv(raw / "Mary-Smith.csv", grid(rows))
    # No trust column: a neutral name from the workbook's sha256 (never "east-mere"), and
    # the console says so.
    east = write_csv(raw / "East Mere.csv", grid(rows, [c for c in rows[0] if c != "trust"]))
    neutral = "workbook-" + hashlib.sha256(east.read_bytes()).hexdigest()[:8]
    said = []
    found = batch.discover(None, instrument=tiny_instrument, say=said.append)
    assert [s for s, _ in found] == sorted(["carrow-moor", neutral])
    assert len(said) == 1 and said[0].startswith(
        f"East Mere.csv: organisation: {neutral} (the workbook names no organisation"
    )
    # A second workbook for Carrow Moor, and a copy of East Mere's under another name
    # (one sha256, so one neutral name): both, at once.
    write_csv(raw / "copy.csv", grid(rows))
    (raw / "%%%.csv").write_bytes(east.read_bytes())
    with pytest.raises(batch.UserError) as err:
        batch.discover(None, instrument=tiny_instrument)
    text = str(err.value)
    assert "two workbooks for 'carrow-moor'" in text and f"two workbooks for {neutral!r}" in text


def _input_error_runner(job: batch.Job) -> dict:
    if Path(job.workbook).read_text().startswith("invalid"):
        raise batch.UserError("x.xlsx, sheet 'cases', row 2: not a case")
    return _fake_runner(job)


def test_cli_exit_status_is_2_when_only_workbooks_were_invalid(dirs, monkeypatch, capsys):
    raw, _ = dirs
    monkeypatch.setattr(batch, "_report_pipeline", _input_error_runner)
    (raw / "a.csv").write_text("ok")
    (raw / "b.csv").write_text("invalid")
    argv = ["batch", "--jobs", "1", "--no-progress", "--no-aggregate"]
    assert main(argv) == 2  # an input error, as for one report
    (raw / "c.csv").write_text("notebook-error")
    assert main(argv) == 1  # a notebook failed too: not (only) the input's fault


def test_summary_table_lists_every_trust():
    results = [
        batch.Result("a", "ok", seconds=1.5, output="/x/a/report.html"),
        batch.Result("b", "failed", seconds=0.2, reason="invalid workbook: b.xlsx: no header"),
        batch.Result("c", "skipped", output="/x/c/report.html"),
        batch.Result("d", "ok", seconds=2.0, kernel_retries=1, output="/x/d/report.html"),
    ]
    text = batch.summary_table(results)
    lines = text.splitlines()
    assert lines[0].split() == ["trust", "status", "time", "output"]
    assert "failed (invalid workbook: b.xlsx: no header)" in text
    assert "ok after 1 kernel retry" in text
    assert lines[-1] == "2 ok, 1 skipped (up to date), 1 failed"


def test_cli_exit_status_and_summary(dirs, monkeypatch, capsys):
    raw, outputs = dirs
    monkeypatch.setattr(batch, "_report_pipeline", _fake_runner)  # inherited by forked workers
    # Stand-in workbooks whose organisation is their stem, as a trust column would name it
    # (without one, editing b would give it another name: test_discover*).
    monkeypatch.setattr(
        batch, "organisation_of", lambda p, inst: Organisation(p.stem, "trust column")
    )
    (raw / "a.csv").write_text("ok")
    (raw / "b.csv").write_text("broken")
    params = raw.parent / "params.yaml"
    params.write_text("trust_name: Demo\n")
    argv = ["batch", "--jobs", "2", "--no-progress", "--no-aggregate", "-f", str(params)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "1 ok, 0 skipped (up to date), 1 failed" in out
    summary = json.loads((outputs / "aggregate" / "batch-summary.json").read_text())
    assert [r["status"] for r in summary] == ["ok", "failed"]
    (raw / "b.csv").write_text("ok")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "a: skipped (unchanged)\nb: rerun (no successful run recorded)\n" in out
    assert "1 ok, 1 skipped (up to date), 0 failed" in out
    assert main(["batch", "--jobs", "0"]) == 2


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["-p", "audience", "publication"], "--audience"),
        (["-p", "instrument_path", "other.yaml"], "--instrument"),
    ],
)
def test_cli_refuses_audience_or_instrument_as_parameters(dirs, capsys, argv, option):
    raw, outputs = dirs
    (raw / "a.csv").write_text("ok")
    assert main(["batch", "--no-progress", "--no-aggregate", *argv]) == 2
    err = capsys.readouterr().err
    assert f"use {option}" in err and "Traceback" not in err
    assert not outputs.exists()  # refused before any organisation ran


def test_cli_refuses_audience_in_a_parameters_file(dirs, capsys):
    raw, _ = dirs
    (raw / "a.csv").write_text("ok")
    params = raw.parent / "params.yaml"
    params.write_text("trust_name: Demo\naudience: publication\n")
    assert main(["batch", "--no-progress", "-f", str(params)]) == 2
    assert "use --audience" in capsys.readouterr().err


# -- the real pipeline ----------------------------------------------------------------------------


@pytest.mark.notebooks
def test_real_pipeline_three_trusts_one_broken(dirs, tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).parent))
    from helpers.tiny import TINY_INSTRUMENT_YAML
    from helpers.workbooks import grid, valid_rows, write_xlsx

    from analysis.instrument import load_instrument

    raw, outputs = dirs
    inst_path = tmp_path / "tiny.yaml"
    inst_path.write_text(TINY_INSTRUMENT_YAML)
    inst = load_instrument(inst_path)
    for slug, n in (("alpha", 24), ("beta", 30)):
        rows = valid_rows(inst, n)
        for r in rows:
            r["trust"] = slug  # batch names each from its trust column, never its file
        write_xlsx(raw / f"{slug}.xlsx", grid(rows, inst.columns))
    (raw / "gamma.xlsx").write_text("this is not a workbook\n")
    # Not a workbook, so it names no organisation: a neutral name from its sha256, which
    # batch says beside the file's name.
    gamma_slug = "workbook-" + hashlib.sha256(b"this is not a workbook\n").hexdigest()[:8]
    argv = ["batch", "--no-progress", "--instrument", str(inst_path)]

    assert main(argv) == 2  # only an invalid workbook failed: an input error
    out = capsys.readouterr().out
    for slug in ("alpha", "beta"):
        assert (outputs / slug / "report.html").stat().st_size > 10_000
        assert (outputs / slug / state.STATE_FILE).exists()
    # "gamma: run (first run)" says why it runs; its result line says how it ended.
    assert any(line.startswith("gamma.xlsx: ") and gamma_slug in line for line in out.splitlines())
    gamma = [line for line in out.splitlines() if line.startswith(gamma_slug)]
    assert any("failed (invalid workbook" in line for line in gamma), gamma
    assert "2 ok, 0 skipped (up to date), 1 failed" in out
    assert (outputs / "aggregate" / "report.html").exists()
    assert (outputs / "aggregate" / "findings.parquet").exists()

    assert main(argv) == 2  # only an invalid workbook failed: an input error
    out = capsys.readouterr().out
    assert "0 ok, 2 skipped (up to date), 1 failed" in out
    assert any(
        "failed (invalid workbook" in line
        for line in out.splitlines()
        if line.startswith(gamma_slug)
    )


def _crashing_runner(job: batch.Job) -> dict:
    """Kills its worker process for a workbook saying 'crash' (as a segfault would)."""
    import os

    if Path(job.workbook).read_text().startswith("crash"):
        os._exit(1)
    return _fake_runner(job)


def test_worker_crash_fails_only_the_culprit(dirs):
    raw, _ = dirs
    res = _run(_jobs(raw, a="ok", b="crash", c="ok", d="ok"), runner=_crashing_runner)
    assert res["b"].status == "failed" and res["b"].reason == "worker process crashed"
    assert [res[t].status for t in "acd"] == ["ok", "ok", "ok"], [(t, res[t].reason) for t in "acd"]


# -- other runs and the file system ------------------------------------------------------------


HOLD = """
import sys
from analysis.pipeline import transaction
with transaction.locked(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_an_organisation_another_run_is_busy_with_fails_alone(dirs):
    import subprocess

    raw, outputs = dirs
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(outputs / "b")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        res = _run(_jobs(raw, a="ok", b="ok", c="ok"))
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert [res[t].status for t in "ac"] == ["ok", "ok"]
    assert res["b"].status == "failed"
    assert res["b"].reason.startswith(f"another run for b is in progress (pid {holder.pid},")
    assert _runs(outputs, "b") == 0 and not (outputs / "b" / state.STATE_FILE).exists()
    again = _run(_jobs(raw, a="ok", b="ok", c="ok"))  # once it is done, b runs
    assert (again["a"].status, again["b"].status) == ("skipped", "ok")


def test_cli_refuses_a_read_only_outputs_folder_before_running_anything(dirs, capsys):
    from helpers.faults import read_only

    raw, outputs = dirs
    (raw / "a.csv").write_text("ok")
    with read_only(outputs):
        assert main(["batch", "--no-progress", "--no-aggregate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: permission denied for {outputs}: the folder is read-only")
    assert "Traceback" not in err and list(outputs.iterdir()) == []
