"""The batch's state: what makes an organisation up to date, and what forces a rerun."""

from __future__ import annotations

import hashlib

from analysis import config
from analysis.pipeline import state as batch_state


def test_why_run_reasons(tmp_path):
    out = tmp_path / "t"
    out.mkdir()
    state = {"schema": 1, "input_sha256": "i", "instrument_sha256": "s"}
    state |= {"code_sha256": "c", "params_sha256": "p"}
    assert batch_state.why_run(out, state, ["report.html"]) == "no previous successful run"
    batch_state.write_state(out, state)
    assert batch_state.why_run(out, state, []) is None
    assert batch_state.why_run(out, state, ["report.html"]) == "output missing: report.html"
    (out / "report.html").write_text("x")
    assert batch_state.why_run(out, state, ["report.html"]) is None
    assert batch_state.why_run(out, {**state, "input_sha256": "j"}, []) == "workbook changed"
    assert (
        batch_state.why_run(out, {**state, "code_sha256": "d"}, []) == "code or notebooks changed"
    )
    assert batch_state.why_run(out, {**state, "instrument_sha256": "x"}, []) == "instrument changed"
    assert batch_state.why_run(out, {**state, "params_sha256": "x"}, []) == "parameters changed"
    (out / batch_state.STATE_FILE).write_text("{not json")
    assert batch_state.why_run(out, state, []) == "no previous successful run"


def test_code_hash_tracks_sources_and_notebooks(tmp_path):
    pkg, nbs = tmp_path / "analysis", tmp_path / "notebooks"
    (pkg / "__pycache__").mkdir(parents=True)
    nbs.mkdir()
    (pkg / "a.py").write_text("x = 1")
    (nbs / "10_report.ipynb").write_text("{}")
    h0 = batch_state.code_hash(pkg, nbs)
    (pkg / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    assert batch_state.code_hash(pkg, nbs) == h0  # bytecode is not code
    (pkg / "a.py").write_text("x = 2")
    h1 = batch_state.code_hash(pkg, nbs)
    assert h1 != h0
    (nbs / "10_report.ipynb").write_text('{"cells": []}')
    assert batch_state.code_hash(pkg, nbs) != h1
    assert len(batch_state.code_hash(None, None)) == 64  # the real package hashes


def test_params_hash_depends_on_audience_and_values():
    a = batch_state.params_hash({"x": 1}, "internal")
    assert a == batch_state.params_hash({"x": 1}, "internal")
    assert a != batch_state.params_hash({"x": 1}, "publication")
    assert a != batch_state.params_hash({"x": 2}, "internal")


def test_current_state_hashes_workbook_instrument_code_and_parameters(tmp_path):
    book = tmp_path / "a.csv"
    book.write_bytes(b"case_id\n1\n")
    got = batch_state.current_state(book, None, {"trust_name": "A"}, "internal", "codehash")
    assert got == {
        "schema": batch_state.STATE_SCHEMA,
        "input_sha256": hashlib.sha256(b"case_id\n1\n").hexdigest(),
        "instrument_sha256": hashlib.sha256(config.DEFAULT_INSTRUMENT.read_bytes()).hexdigest(),
        "code_sha256": "codehash",
        "params_sha256": batch_state.params_hash({"trust_name": "A"}, "internal"),
    }


def test_clear_state_forgets_the_last_run(tmp_path):
    batch_state.write_state(tmp_path, {"schema": 1})
    assert batch_state.read_state(tmp_path) == {"schema": 1}
    batch_state.clear_state(tmp_path)
    assert batch_state.read_state(tmp_path) == {}
    batch_state.clear_state(tmp_path)  # nothing to forget is fine
