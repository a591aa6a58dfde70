"""The report pipeline (analysis.pipeline.report): workbook in, offline HTML and tables out."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from fixtures_findings import FIXTURE_INSTRUMENT_YAML, fixture_findings, fixture_instrument
from helpers.faults import assert_no_file_name
from helpers.workbooks import grid, valid_rows, write_xlsx

from analysis import config
from analysis.cli import main
from analysis.engine import run as engine
from analysis.engine.findings import FINDINGS_COLUMNS, FindingsContext
from analysis.errors import UserError
from analysis.pipeline import report, staged_charts, state

XSS = "<script>alert(1)</script>"
TRUST = "test-trust"
PERSONAL = "Jane-Doe"


# -- units ----------------------------------------------------------------------------------


def test_read_findings_keeps_text_codes_and_numbers(tmp_path):
    df = fixture_findings()
    df.loc[0, "category"] = "None"  # an answer code pandas would read as missing
    df.loc[1, "group"] = "NA"  # an LDU pandas would read as missing
    engine.write_findings(df, tmp_path)
    (tmp_path / "findings.parquet").unlink()  # force the CSV path
    back = report.read_findings(tmp_path)
    assert list(back.columns) == FINDINGS_COLUMNS
    assert back.loc[0, "category"] == "None" and back.loc[1, "group"] == "NA"
    assert back["percent"].dtype == "Float64"
    pd.testing.assert_frame_equal(back, df, check_exact=False)


def test_read_findings_missing_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no findings table"):
        report.read_findings(tmp_path)


def test_load_findings_reads_an_existing_table_and_its_context(tmp_path):
    context = FindingsContext.for_run(fixture_instrument(), audience="publication")
    engine.write_findings(fixture_findings(), tmp_path, context)
    inst_path = tmp_path / "i.yaml"
    inst_path.write_text(FIXTURE_INSTRUMENT_YAML, encoding="utf-8")
    findings, inst, got = report.load_findings("x", tmp_path, inst_path)
    assert inst.id == "fixture" and len(findings) == len(fixture_findings())
    assert got == context and got.audience == "publication"


def test_load_findings_refuses_another_instrument(tmp_path):
    engine.write_findings(
        fixture_findings(), tmp_path, FindingsContext.for_run(fixture_instrument())
    )
    with pytest.raises(UserError, match="computed with instrument fixture 0.0.1"):
        report.load_findings("x", tmp_path)  # the default instrument


def test_load_findings_refuses_findings_without_context(tmp_path):
    engine.write_findings(fixture_findings(), tmp_path)
    (tmp_path / "findings.meta.json").unlink()
    with pytest.raises(UserError, match="no findings context"):
        report.load_findings("x", tmp_path)


def test_filter_cases():
    cases = pd.DataFrame({"ldu": ["A", "B", "C"], "gender": ["Male", "Female", "Male"]})
    assert len(report.filter_cases(cases, {"ldu": ("A", "B"), "gender": ("Male",)})) == 1
    assert len(report.filter_cases(cases, {"missing_column": ()})) == 3
    assert report.filter_cases(cases, {"ldu": ()}).empty


def test_place_charts_places_every_chart_once():
    from analysis.render import charts

    findings, inst = fixture_findings(), fixture_instrument()
    placed = report.place_charts(findings, inst)
    ids = [c.id for cs in placed.values() for c in cs]
    assert sorted(ids) == sorted(c.id for c in charts.all_charts(findings, inst))
    assert "summary" in placed and "O4" in placed and "factors" in placed
    assert "breakdown:r_rosh_review" in placed and "comparison:ldu" in placed
    assert placed.get("other", []) == []


def test_place_charts_places_the_ratings_chart_beside_the_ratings_table():
    from analysis.engine.findings import conform
    from analysis.instrument import load_instrument

    inst = load_instrument(config.INSTRUMENTS_DIR / "hmip-probation-2023.yaml")
    # 35 of 50 = 70%: Good.
    row = dict(kind="rating", measure_id="rating_2.1", label="Assessment", category="Good",
               numerator=35, denominator=50, percent=70.0)  # fmt: skip
    placed = report.place_charts(conform(pd.DataFrame([row]).assign(trust="x")), inst)
    [chart] = placed["ratings"]
    assert chart.id == "ratings" and list(chart.data["label"]) == ["Assessment – Good"]
    assert report.place_charts(fixture_findings(), fixture_instrument()).get("ratings") is None


def test_missing_workbook_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "RAW_DIR", tmp_path)
    with pytest.raises(UserError, match="no workbook"):
        report.run_report(TRUST, out_dir=tmp_path / "out")
    with pytest.raises(UserError, match="audience"):
        report.run_report(TRUST, tmp_path / "x.xlsx", audience="everyone")


@pytest.mark.parametrize(
    ("parameters", "option"),
    [({"audience": "publication"}, "--audience"), ({"instrument_path": "x.yaml"}, "--instrument")],
)
def test_run_report_refuses_audience_or_instrument_as_parameters(tmp_path, parameters, option):
    with pytest.raises(UserError, match=f"use {option}"):
        report.run_report(TRUST, tmp_path / "x.xlsx", parameters=parameters)


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["-p", "audience", "publication"], "--audience"),
        (["-p", "instrument_path", "other.yaml"], "--instrument"),
    ],
)
def test_cli_refuses_audience_or_instrument_as_parameters(tmp_path, capsys, argv, option):
    assert main(["report", str(tmp_path / "x.xlsx"), "--trust", TRUST, *argv]) == 2
    err = capsys.readouterr().err
    assert f"use {option}" in err and "Traceback" not in err


def test_cli_refuses_audience_in_a_parameters_file(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text("audience: publication\n")
    assert main(["report", "--trust", TRUST, "-f", str(params)]) == 2
    assert "use --audience" in capsys.readouterr().err


# -- the whole pipeline, twice ------------------------------------------------------------------


def _workbook(path: Path) -> Path:
    from analysis.instrument import load_instrument

    inst = load_instrument()
    rows = valid_rows(inst, 30)
    ldus = ["North", XSS, "South & East"]
    for i, r in enumerate(rows):
        r["case_id"] = f"ZZCASE-{i:04d}"
        r["notes"] = f"SECRETNOTE {i}"
        r["ldu"] = ldus[i % 3]
        r["trust"] = TRUST  # batch names the organisation from this column, never the file
    return write_xlsx(path, grid(rows))


def _run(tmp: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analysis", "report", *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Run ``python -m analysis report`` twice on one small synthetic workbook."""
    tmp = tmp_path_factory.mktemp("pipeline")
    env = dict(os.environ)
    for name in ("raw", "processed", "outputs"):
        (tmp / name).mkdir()
    env.update(
        ANALYSIS_RAW_DIR=str(tmp / "raw"),
        ANALYSIS_PROCESSED_DIR=str(tmp / "processed"),
        ANALYSIS_OUTPUTS_DIR=str(tmp / "outputs"),
    )
    _workbook(tmp / "raw" / f"{TRUST}.xlsx")
    out = tmp / "outputs" / TRUST
    first = _run(tmp, env, "--trust", TRUST)  # default workbook: data/raw/<trust>.xlsx
    assert first.returncode == 0, first.stderr[-3000:]
    snapshot = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    # The same workbook again, saved under a name that identifies a person.
    personal = tmp / f"{PERSONAL}-cases.xlsx"
    shutil.copy2(tmp / "raw" / f"{TRUST}.xlsx", personal)
    second = _run(tmp, env, str(personal), "--trust", TRUST)
    assert second.returncode == 0, second.stderr[-3000:]
    return {"tmp": tmp, "out": out, "first": first, "snapshot": snapshot, "env": env}


@pytest.mark.notebooks
def test_report_prints_the_html_path_and_writes_every_output(pipeline):
    out = pipeline["out"]
    assert pipeline["first"].stdout.strip() == str(out / "report.html")
    for name in (
        "findings.csv",
        "findings.parquet",
        "findings.meta.json",
        "tables.xlsx",
        "report.ipynb",
        "report.html",
        "provenance.json",
    ):
        assert (out / name).is_file(), name
    assert list((out / "charts").glob("*.png")) and list((out / "charts").glob("*.svg"))
    # No build folder or half-written file left behind.
    assert [p.name for p in (pipeline["tmp"] / "outputs").iterdir()] == [TRUST]
    assert not list(out.rglob("*.tmp"))
    # The notebook takes the audience from the findings' context, not from a parameter.
    nb = json.loads((out / "report.ipynb").read_text(encoding="utf-8"))
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and "audience" not in "".join(injected[0]["source"])
    assert json.loads((out / "findings.meta.json").read_text())["audience"] == "internal"


@pytest.mark.notebooks
def test_tables_of_real_data_are_not_marked_synthetic(pipeline):
    # The pipeline's workbook is written by the tests, not the demo generator.
    import openpyxl

    wb = openpyxl.load_workbook(pipeline["out"] / "tables.xlsx")
    words = " ".join(
        str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value
    )
    assert "synthetic" not in words.lower()


@pytest.mark.notebooks
def test_html_is_offline_and_counts_its_charts(pipeline):
    html = (pipeline["out"] / "report.html").read_text(encoding="utf-8")
    assert '<script src="http' not in html
    assert "cdn" not in html.lower()
    m = re.search(r'<meta name="analysis-chart-count" content="(\d+)">', html)
    assert m and int(m.group(1)) > 5
    assert int(m.group(1)) == len(re.findall(r"<figure [^>]*data-analysis-chart=", html))
    assert int(m.group(1)) == len(list((pipeline["out"] / "charts").glob("*.svg")))
    assert html.count("Plotly.newPlot") == int(m.group(1))
    assert len(html.encode()) < 6 * 1024 * 1024
    assert "jp-InputArea" not in html  # no code cells


@pytest.mark.notebooks
def test_report_structure_follows_the_reference(pipeline):
    html = (pipeline["out"] / "report.html").read_text(encoding="utf-8")
    for anchor in [
        "summary",
        *(f"outcome-{i}" for i in range(1, 6)),
        "appendix-profile",
        "appendix-scoring",
        "appendix-methods",
        "appendix-disclosure",
        "appendix-provenance",
    ]:
        assert f'id="{anchor}"' in html and f'href="#{anchor}"' in html, anchor
    assert "Overall, " in html and "was done well enough." in html
    assert "Key strengths" in html and "Key areas for improvement" in html
    prov = json.loads((pipeline["out"] / "provenance.json").read_text())
    assert prov["input_sha256"] in html and prov["instrument_sha256"] in html


@pytest.mark.notebooks
def test_hostile_ldu_is_escaped(pipeline):
    html = (pipeline["out"] / "report.html").read_text(encoding="utf-8")
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def _all_text(out: Path) -> dict[str, str]:
    texts = {}
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix in (".xlsx",):
            with zipfile.ZipFile(path) as z:
                texts[str(path)] = "".join(
                    z.read(n).decode("utf-8", "replace") for n in z.namelist()
                )
        elif path.suffix == ".parquet":
            texts[str(path)] = pd.read_parquet(path).to_csv()
        else:
            texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    return texts


@pytest.mark.notebooks
def test_no_case_ids_or_notes_in_any_output(pipeline):
    for path, text in _all_text(pipeline["out"]).items():
        assert "ZZCASE" not in text, path
        assert "SECRETNOTE" not in text, path


@pytest.mark.notebooks
def test_the_workbook_file_name_is_in_no_output(pipeline):
    tmp = pipeline["tmp"]
    assert_no_file_name([tmp / "outputs", tmp / "processed"], PERSONAL)
    html = (pipeline["out"] / "report.html").read_text(encoding="utf-8")
    assert "the workbook supplied" in html  # the provenance appendix, without the name


@pytest.mark.notebooks
def test_findings_and_tables_are_byte_identical_across_runs(pipeline):
    before, out = pipeline["snapshot"], pipeline["out"]
    assert (out / "findings.csv").read_bytes() == before["findings.csv"]
    assert (out / "tables.xlsx").read_bytes() == before["tables.xlsx"]
    assert (out / "findings.meta.json").read_bytes() == before["findings.meta.json"]
    # Run times and hashes live only in provenance.json, which does change.
    assert (out / "provenance.json").read_bytes() != before["provenance.json"]


@pytest.mark.notebooks
def test_invalid_workbook_leaves_previous_report_untouched(pipeline, tmp_path):
    out = pipeline["out"]
    before = (out / "report.html").read_bytes()
    bad = tmp_path / "bad.xlsx"
    write_xlsx(bad, [["case_id", "ldu"], ["ZZCASE-9", "North"]])
    res = _run(pipeline["tmp"], pipeline["env"], str(bad), "--trust", TRUST)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert (out / "report.html").read_bytes() == before
    assert [p.name for p in (pipeline["tmp"] / "outputs").iterdir()] == [TRUST]


@pytest.mark.notebooks
def test_a_batch_after_the_report_skips_the_organisation(pipeline):
    # (After the test above: the batch writes outputs/aggregate/batch-summary.json.)
    # The report recorded the state a batch records; nothing changed since (the second
    # report read a copy of the same workbook), so the batch reruns nothing.
    out = pipeline["out"]
    assert (out / state.STATE_FILE).is_file()
    run = subprocess.run(
        [sys.executable, "-m", "analysis", "batch", "--no-progress", "--no-aggregate"],
        cwd=pipeline["tmp"],
        env=pipeline["env"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"{TRUST}: skipped (unchanged)" in run.stdout.splitlines()
    assert "0 ok, 1 skipped (up to date), 0 failed" in run.stdout


def test_completeness_counts_answers_per_column():
    cases = pd.DataFrame({"a": [1, None, 3], "b": [None, None, "x"]})
    got = report.completeness(cases)
    assert got.to_dict("index") == {
        "a": {"answered": 2, "of cases": 3},
        "b": {"answered": 1, "of cases": 3},
    }


def test_load_cases_drops_identifiers(tmp_path, tiny_instrument):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"case_id": ["C1", "C2"], "case_type": ["Licence", "Licence"]}).to_parquet(path)
    got = report.load_cases("t", tiny_instrument, path)
    assert list(got.columns) == ["case_type"] and len(got) == 2


# -- an own workbook: whose outputs it may replace -------------------------------------------


def _own_book(path: Path, tiny, trust: str | None) -> Path:
    rows = valid_rows(tiny, 3)
    for row in rows:
        row["trust"] = trust
    return write_xlsx(path, grid(rows))


def _old_report(folder: Path, input_sha256: str | None) -> None:
    """A folder as a finished run leaves it (only the files the guard looks at)."""
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<p>old</p>")
    (folder / "provenance.json").write_text(json.dumps({"input_sha256": input_sha256}))


def test_choose_organisation():
    assert report.choose_organisation("x", None) == ("x", None)
    assert report.choose_organisation(None, None) == (config.DEFAULT_TRUST, None)  # the demo


def test_check_replaceable(tmp_path):
    book = tmp_path / "b.csv"
    book.write_bytes(b"case_id\n1\n")
    same = hashlib.sha256(b"case_id\n1\n").hexdigest()
    report.check_replaceable(tmp_path / "none", book, "x")  # nothing there yet
    reproduced = tmp_path / "reproduced"
    reproduced.mkdir()
    (reproduced / "reproduction.json").write_text("{}")  # another command's file: no report
    report.check_replaceable(reproduced, book, "x")
    _old_report(tmp_path / "same", same)
    report.check_replaceable(tmp_path / "same", book, "x")  # the same data, rerun
    _old_report(tmp_path / "other", "0" * 64)
    with pytest.raises(UserError, match="another workbook.*name the organisation: --trust x"):
        report.check_replaceable(tmp_path / "other", book, "x")
    _old_report(tmp_path / "garbled", None)
    (tmp_path / "garbled" / "provenance.json").write_text("{not json")
    with pytest.raises(UserError, match="another workbook"):
        report.check_replaceable(tmp_path / "garbled", book, "x")


@pytest.fixture
def own_dirs(tmp_path, monkeypatch):
    for name in ("RAW_DIR", "PROCESSED_DIR", "OUTPUTS_DIR"):
        monkeypatch.setattr(config, name, tmp_path / name.lower())
    return tmp_path


def test_an_own_workbook_never_replaces_another_report_unless_named(
    own_dirs, tiny_instrument_path, tiny_instrument, capsys
):
    # A 3-case workbook whose trust column names Norfolk & Suffolk, where the demo's
    # report (other data) already is: refused, and both the demo's report and processed
    # cases are left as they were.
    demo = config.trust_output_dir(config.DEFAULT_TRUST)
    _old_report(demo, "0" * 64)
    config.PROCESSED_DIR.mkdir()
    config.processed_path(config.DEFAULT_TRUST).write_bytes(b"demo cases")
    book = _own_book(own_dirs / "mine.xlsx", tiny_instrument, "Norfolk and Suffolk")
    argv = ["report", str(book), "--instrument", str(tiny_instrument_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "organisation: norfolk-and-suffolk (from the workbook's trust column" in err
    assert f"--trust {config.DEFAULT_TRUST}" in err and "nothing was replaced" in err
    assert (demo / "report.html").read_text() == "<p>old</p>"
    assert sorted(p.name for p in demo.iterdir()) == ["provenance.json", "report.html"]
    assert config.processed_path(config.DEFAULT_TRUST).read_bytes() == b"demo cases"


def test_an_own_workbook_with_a_blank_trust_column_gets_a_neutral_name(
    own_dirs, tiny_instrument_path, tiny_instrument, capsys
):
    # Named after a person, with a blank trust column: its report would go to
    # outputs/workbook-<8 hex digits of its sha256>/ (never outputs/jane-smith-cases/), where
    # a report made from another workbook is; the demo's folder is never looked at.
    book = _own_book(own_dirs / "jane-smith-cases.xlsx", tiny_instrument, None)
    neutral = "workbook-" + hashlib.sha256(book.read_bytes()).hexdigest()[:8]
    _old_report(config.trust_output_dir(neutral), "0" * 64)
    assert main(["report", str(book), "--instrument", str(tiny_instrument_path)]) == 2
    err = capsys.readouterr().err
    assert f"organisation: {neutral} (the workbook names no organisation" in err
    assert "--trust NAME" in err and f"--trust {neutral}" in err
    assert "jane" not in err.split("organisation:", 1)[1].split(")", 1)[0]
    assert not config.trust_output_dir("jane-smith-cases").exists()


def test_a_trust_column_naming_another_organisation_than_trust_is_refused(
    own_dirs, tiny_instrument_path, tiny_instrument, capsys
):
    book = _own_book(own_dirs / "mine.xlsx", tiny_instrument, "Eastmere")
    argv = [
        "report",
        str(book),
        "--trust",
        "carrow-moor",
        "--instrument",
        str(tiny_instrument_path),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "names organisation 'Eastmere' in 3 rows" in err and "not carrow-moor (--trust)" in err
    assert not config.trust_output_dir("carrow-moor").exists()
    assert not config.processed_path("carrow-moor").exists()


def test_charts_stop_being_drawn_once_the_run_is_interrupted(tmp_path):
    # Drawing every chart took 40 s to minutes after Ctrl-C or SIGTERM, while the run
    # waited for it before removing its build (issue 13, R03/R04b). Stopped before it
    # starts: no chart, no staged charts and no tables.xlsx (the build is removed anyway,
    # and the workbook writer has no point where it can stop); not stopped: all of them.
    import threading

    stop = threading.Event()
    stop.set()
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    staged_charts.write_tables_and_charts(
        fixture_findings(), fixture_instrument(), stopped, "internal", stop=stop
    )
    assert sorted(p.name for p in stopped.iterdir()) == []  # the notebook is not left waiting
    drawn = tmp_path / "drawn"
    drawn.mkdir()
    staged_charts.write_tables_and_charts(
        fixture_findings(), fixture_instrument(), drawn, "internal", stop=threading.Event()
    )
    assert (drawn / "tables.xlsx").is_file() and (drawn / staged_charts.STAGED).is_file()
    assert any((drawn / "charts").glob("*.png"))


def test_a_stop_while_the_charts_are_built_builds_no_further_chart(tmp_path, monkeypatch):
    # SIGTERM while the charts were built waited for every chart to be built first (4 s at
    # load 7, R03b). Stopped once the first chart is built: no later one is built, and
    # nothing is staged, written or drawn.
    import threading

    from analysis.render import charts

    stop = threading.Event()
    built_after_stop = []
    first = charts.all_charts(fixture_findings(), fixture_instrument())[0]

    def two_charts(findings, inst):
        stop.set()
        yield first
        built_after_stop.append("second")  # reached only if the loop asks for another
        yield first

    monkeypatch.setattr(charts, "iter_charts", two_charts)
    staged_charts.write_tables_and_charts(
        fixture_findings(), fixture_instrument(), tmp_path, "internal", stop=stop
    )
    assert built_after_stop == []
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_stop_while_the_charts_are_drawn_draws_no_further_chart(tmp_path, monkeypatch):
    # Stopped while the first chart is saved: that chart only.
    import threading

    from analysis.render import charts

    stop = threading.Event()
    saved = []

    def save(chart, folder):
        saved.append(chart.id)
        stop.set()

    monkeypatch.setattr(charts, "save_static", save)
    staged_charts.write_tables_and_charts(
        fixture_findings(), fixture_instrument(), tmp_path, "internal", stop=stop
    )
    assert saved == ["outcome-summary"]
