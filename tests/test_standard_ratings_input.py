"""The inspectors' ratings file through report and batch (``--standard-ratings``).

Domain-one standards are rated by inspectors, not from the cases: without their ratings
they, and the overall rating, are "Not rated"; with them the overall rating is computed.
The file is refused like a bad workbook and only its sha256 reaches an output.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers.faults import assert_no_file_name

from analysis import config
from analysis.cli import main
from analysis.errors import UserError
from analysis.ingest import is_ratings_file, ratings_file, read_standard_ratings
from analysis.instrument import load_instrument
from analysis.pipeline import batch, state
from analysis.synthetic import demo
from analysis.synthetic import generate as synth
from analysis.synthetic.profile import load_profile

YOUTH = config.INSTRUMENTS_DIR / "hmip-youth-2021.yaml"
#: A ratings file named as a person might save it: the name must reach no output.
PERSONAL = "Jane-Doe-ratings"
#: Hand-chosen ratings of the six standards rated by inspectors (1.1-1.4, 3.4, 4.1).
RATINGS_CSV = (
    "standard,rating\n"
    "1.1,Good\n1.2,Outstanding\n1.3,requires improvement\n1.4,Good\n3.4,Inadequate\n4.1,Good\n"
)
#: Their labels, as the findings and the report must show them.
EXPECTED = {
    "rating_1.1": "Good",
    "rating_1.2": "Outstanding",
    "rating_1.3": "Requires improvement",
    "rating_1.4": "Good",
    "rating_3.4": "Inadequate",
    "rating_4.1": "Good",
}
#: Points of each label (the instrument's scale: 0-3).
POINTS = {"Inadequate": 0, "Requires improvement": 1, "Good": 2, "Outstanding": 3}


def _run(tmp: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analysis", "report", *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def _env(tmp: Path, tag: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("processed", "outputs"):
        (tmp / f"{name}-{tag}").mkdir()
    env.update(
        ANALYSIS_RAW_DIR=str(tmp / "raw"),
        ANALYSIS_PROCESSED_DIR=str(tmp / f"processed-{tag}"),
        ANALYSIS_OUTPUTS_DIR=str(tmp / f"outputs-{tag}"),
    )
    return env


@pytest.fixture(scope="module")
def youth(tmp_path_factory):
    """A small synthetic youth workbook and a ratings file saved under a personal name."""
    tmp = tmp_path_factory.mktemp("ratings")
    (tmp / "raw").mkdir()
    book = synth.synthesise("tarnbrook", tmp / "raw" / "tarnbrook.xlsx", n_cases=16)
    ratings = tmp / f"{PERSONAL}.csv"
    ratings.write_text(RATINGS_CSV, encoding="utf-8")
    return {"tmp": tmp, "book": book, "ratings": ratings}


@pytest.fixture
def run_dirs(tmp_path, monkeypatch):
    """This process's outputs and processed folders, in ``tmp_path`` (for in-process runs)."""
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path / "outputs")
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "processed")
    return tmp_path


@pytest.mark.notebooks
def test_report_with_the_ratings_file_rates_overall_and_without_it_does_not(youth):
    tmp, book = youth["tmp"], youth["book"]
    env = _env(tmp, "with")
    got = _run(
        tmp, env, str(book), "--trust", "tarnbrook", "--standard-ratings", str(youth["ratings"])
    )
    assert got.returncode == 0, got.stderr[-3000:]
    out = tmp / "outputs-with" / "tarnbrook"
    findings = pd.read_csv(out / "findings.csv", dtype=str, keep_default_na=False)
    rated = findings[findings["kind"] == "rating"].set_index("measure_id")
    for mid, label in EXPECTED.items():
        assert rated.loc[mid, "category"] == label
    overall = rated.loc["rating_overall"]
    assert overall["category"] in POINTS
    # The overall's points are those of the twelve counted standards (4.1 does not count).
    counted = [m for m in rated.index if m not in ("rating_overall", "rating_4.1")]
    assert len(counted) == 12
    assert float(overall["numerator"]) == sum(POINTS[rated.loc[m, "category"]] for m in counted)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert f">{overall['category']}</span>" in html
    assert "Not rated" not in html
    # Provenance identifies the file by its sha256, never by its name.
    record = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    digest = hashlib.sha256(youth["ratings"].read_bytes()).hexdigest()
    assert record["standard_ratings_sha256"] == digest
    assert_no_file_name([out, tmp / "processed-with"], PERSONAL)

    env = _env(tmp, "without")
    got = _run(tmp, env, str(book), "--trust", "tarnbrook")
    assert got.returncode == 0, got.stderr[-3000:]
    out = tmp / "outputs-without" / "tarnbrook"
    findings = pd.read_csv(out / "findings.csv", dtype=str, keep_default_na=False)
    rated = findings[findings["kind"] == "rating"].set_index("measure_id")
    assert rated.loc["rating_overall", "category"] == ""
    assert rated.loc["rating_1.1", "category"] == ""
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<span class="rating rating-none">Not rated</span>' in html
    assert json.loads((out / "provenance.json").read_text())["standard_ratings_sha256"] is None


def test_a_bad_ratings_file_is_refused_like_a_bad_workbook(youth, tmp_path, run_dirs, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("standard,rating\n1.1,Great\n2.1,Good\n", encoding="utf-8")
    argv = ["report", str(youth["book"]), "--trust", "tarnbrook", "--standard-ratings", str(bad)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "bad.csv, row 2, column rating: 'Great' is not a rating" in err
    assert "bad.csv, row 3, column standard: standard 2.1 is rated from the cases" in err
    assert "standard 1.2 (Staff) has no rating" in err  # every problem at once
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "processed").exists()
    assert main([*argv[:-1], str(tmp_path / "missing.csv")]) == 2
    assert "no standards ratings file at" in capsys.readouterr().err


def test_ratings_file_naming_in_a_folder(tmp_path):
    assert ratings_file(tmp_path, "eastmere") is None
    (tmp_path / "eastmere.ratings.yaml").write_text('"1.1": good\n')
    assert ratings_file(tmp_path, "eastmere") == tmp_path / "eastmere.ratings.yaml"
    assert ratings_file(tmp_path, "east") is None  # another organisation's slug
    (tmp_path / "eastmere.ratings.csv").write_text("standard,rating\n1.1,Good\n")
    with pytest.raises(UserError, match="two standards ratings files for eastmere"):
        ratings_file(tmp_path, "eastmere")
    assert is_ratings_file("x/Eastmere.Ratings.CSV") and not is_ratings_file("x/ratings.xlsx")


def test_batch_never_takes_a_ratings_csv_for_a_workbook(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "RAW_DIR", tmp_path)
    (tmp_path / "a.csv").write_text("a")
    (tmp_path / "a.ratings.csv").write_text("standard,rating\n")
    assert [p.name for _, p in batch.discover(None)] == ["a.csv"]


def test_batch_gives_each_organisation_its_own_ratings_file(tmp_path, run_dirs, monkeypatch):
    """The CLI's jobs carry the folder's <slug>.ratings.* (a stand-in runner records them)."""
    seen = {}
    monkeypatch.setattr(
        batch, "discover", lambda *a, **k: [("a", tmp_path / "a.xlsx"), ("b", tmp_path / "b.xlsx")]
    )

    def fake_run_batch(jobs, **kw):
        seen.update({j.trust: j.standard_ratings for j in jobs})
        return []

    monkeypatch.setattr(batch, "run_batch", fake_run_batch)
    monkeypatch.setattr(batch, "programme_file", lambda path: None)
    folder = tmp_path / "ratings"
    folder.mkdir()
    (folder / "a.ratings.csv").write_text("standard,rating\n")
    assert main(["batch", "--no-aggregate", "--standard-ratings", str(folder)]) == 0
    assert seen == {"a": folder / "a.ratings.csv", "b": None}
    assert main(["batch", "--standard-ratings", str(folder / "a.ratings.csv")]) == 2


def test_a_changed_ratings_file_reruns_the_organisation(tmp_path):
    book, ratings, out = tmp_path / "w.xlsx", tmp_path / "r.csv", tmp_path / "out"
    book.write_bytes(b"cases")
    ratings.write_text("standard,rating\n1.1,Good\n")
    code = "c"
    before = state.current_state(book, None, {}, "internal", code, ratings)
    out.mkdir()
    (out / "report.html").write_text("x")
    state.write_state(out, before)
    assert state.why_run(out, before, ["report.html"]) is None
    ratings.write_text("standard,rating\n1.1,Inadequate\n")
    now = state.current_state(book, None, {}, "internal", code, ratings)
    assert state.why_run(out, now, ["report.html"]) == "standards ratings file changed"
    # Leaving the file out is a change too; without one, the state is as it always was.
    without = state.current_state(book, None, {}, "internal", code)
    assert state.why_run(out, without, ["report.html"]) == "standards ratings file changed"
    assert "standard_ratings_sha256" not in without


def test_demo_ratings_file_is_marked_synthetic_and_valid(tmp_path):
    prof = load_profile("tarnbrook")
    slug, path, action = demo._write_ratings(prof, tmp_path, {}, force=False)
    assert (slug, path.name, action) == ("tarnbrook", "tarnbrook.ratings.yaml", "wrote")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# SYNTHETIC: invented ratings")
    assert yaml.safe_load(text) == {str(k): v for k, v in prof["standard_ratings"].items()}
    got = read_standard_ratings(path, load_instrument(YOUTH))
    assert list(got) == ["1.1", "1.2", "1.3", "1.4", "3.4", "4.1"]
    manifest = {path.name: {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}}
    assert demo._write_ratings(prof, tmp_path, manifest, False)[2] == "kept (up to date)"
    path.write_text(text + "# my note\n", encoding="utf-8")
    assert demo._write_ratings(prof, tmp_path, manifest, False)[2].startswith("kept (edited")


def test_a_batch_names_a_bad_ratings_file_as_such_never_by_its_name(tmp_path):
    from analysis.pipeline.failures import describe_failure

    bad = tmp_path / f"{PERSONAL}.ratings.yaml"
    bad.write_text('"1.1": good\n1.2,Good\n', encoding="utf-8")
    with pytest.raises(UserError) as caught:
        read_standard_ratings(bad, load_instrument(YOUTH))
    reason = describe_failure(caught.value)
    assert reason.startswith("invalid standards ratings file: is not valid YAML")
    assert PERSONAL not in reason and "\n" not in reason


def test_findings_built_for_a_notebook_read_the_organisations_ratings_in_raw(
    youth, tmp_path, monkeypatch
):
    """A fresh checkout's notebook: data/raw/<trust>.ratings.* is read, as make report does."""
    from analysis.pipeline import report

    raw = tmp_path / "raw"
    raw.mkdir()
    monkeypatch.setattr(config, "RAW_DIR", raw)
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "processed")
    (raw / "tarnbrook.ratings.csv").write_text(RATINGS_CSV, encoding="utf-8")
    inst = load_instrument(YOUTH)
    got = report.build_findings("tarnbrook", youth["book"], inst, out_dir=tmp_path / "out")
    rated = got[got["kind"] == "rating"].set_index("measure_id")["category"]
    assert rated["rating_1.2"] == "Outstanding" and rated["rating_overall"] in POINTS
    (raw / "tarnbrook.ratings.csv").unlink()
    got = report.build_findings("tarnbrook", youth["book"], inst, out_dir=tmp_path / "out2")
    rated = got[got["kind"] == "rating"].set_index("measure_id")["category"]
    assert rated["rating_1.2"] == "" and rated["rating_overall"] == ""


def test_a_yaml_rating_that_is_a_list_is_refused_without_expanding_it(tmp_path):
    # Nested aliases ("billion laughs"): 1 KB of YAML whose last value is 9**10 strings.
    # Turning it into text took gigabytes and never finished (S7-34); each rating must be
    # one value, so each list is refused by its row, and nothing is expanded.
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("'1.1': *j")
    path = tmp_path / "lol.ratings.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(UserError) as info:
        read_standard_ratings(path, load_instrument(YOUTH))
    problems = info.value.problems
    assert [p.row for p in problems] == list(range(1, 12))
    assert problems[10].message == "standard '1.1' must have one rating, not a list or mapping"
    assert problems[0].message == "standard 'a' must have one rating, not a list or mapping"


def test_a_ratings_file_named_for_another_organisation_is_refused(
    youth, tmp_path, run_dirs, capsys
):
    # tarnbrook rated with eastmere.ratings.yaml ran without a word (S7-36).
    other = tmp_path / "eastmere.ratings.yaml"
    other.write_text('"1.1": good\n', encoding="utf-8")
    argv = ["report", str(youth["book"]), "--trust", "tarnbrook", "--standard-ratings", str(other)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"the standards ratings file {other} is named for organisation 'eastmere', not " in err
    assert "tarnbrook: pass tarnbrook's file (tarnbrook.ratings.csv or .yaml)" in err
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "processed").exists()


def test_a_ratings_folder_without_the_organisations_file_says_so(tmp_path, capsys):
    # report --standard-ratings DIR ran unrated without a word when DIR held no file for the
    # organisation (S7-38); a programme with no inspector-rated standards needs no note.
    from analysis.pipeline import inputs

    (tmp_path / "eastmere.ratings.yaml").write_text('"1.1": good\n', encoding="utf-8")
    assert inputs.report_ratings_file(tmp_path, "tarnbrook", load_instrument(YOUTH)) is None
    assert capsys.readouterr().err == (
        f"note: {tmp_path} holds no standards ratings file for tarnbrook (tarnbrook.ratings.csv "
        "or .yaml): the standards inspectors rate, and the overall rating, are not rated\n"
    )
    assert inputs.report_ratings_file(tmp_path, "tarnbrook", load_instrument()) is None
    assert capsys.readouterr().err == ""
    found = inputs.report_ratings_file(tmp_path, "eastmere", load_instrument(YOUTH))
    assert found == tmp_path / "eastmere.ratings.yaml"
    mine = tmp_path / "ratings-2024.csv"  # not named <slug>.ratings.*: no check to make
    assert inputs.report_ratings_file(mine, "tarnbrook", load_instrument(YOUTH)) == mine


def test_a_ratings_path_that_is_no_regular_file_says_what_it_is(tmp_path):
    # /dev/zero was "no standards ratings file at /dev/zero", though it is there (S7).
    from analysis.pipeline.inputs import read_ratings_input

    inst = load_instrument(YOUTH)
    with pytest.raises(UserError, match="/dev/zero is a device, pipe or socket"):
        read_ratings_input("/dev/zero", inst)
    with pytest.raises(UserError, match="is a folder"):
        read_ratings_input(tmp_path, inst)
    with pytest.raises(UserError, match="no standards ratings file at"):
        read_ratings_input(tmp_path / "missing.csv", inst)
