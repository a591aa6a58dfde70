"""The batch's state: what makes an organisation up to date, and what forces a rerun."""

from __future__ import annotations

import hashlib
import json

from analysis import config
from analysis.pipeline import state as batch_state


def test_why_run_reasons(tmp_path):
    out = tmp_path / "t"
    out.mkdir()
    state = {"schema": 1, "input_sha256": "i", "instrument_sha256": "s"}
    state |= {"code_sha256": "c", "params_sha256": "p"}
    assert batch_state.why_run(out, state, ["report.html"]) == "no successful run recorded"
    assert batch_state.why_run(tmp_path / "new", state, []) == "first run"
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
    assert batch_state.why_run(out, {**state, "schema": 2}, []) == "batch state format changed"
    (out / batch_state.STATE_FILE).write_text("{not json")
    assert batch_state.why_run(out, state, []) == "no successful run recorded"


def test_why_run_names_the_code_files_that_changed(tmp_path):
    files = {"analysis/a.py": "1", "analysis/b.py": "1", "notebooks/10_report.ipynb": "1"}
    old = batch_state.current_state(_book(tmp_path), None, {}, "internal", files)
    batch_state.write_state(tmp_path, old)

    def why(changed: dict[str, str]) -> str | None:
        state = batch_state.current_state(_book(tmp_path), None, {}, "internal", files | changed)
        return batch_state.why_run(tmp_path, state, [])

    nb, a, b = "notebooks/10_report.ipynb", "analysis/a.py", "analysis/b.py"
    assert why({}) is None
    assert why({nb: "2"}) == "notebook 10_report.ipynb changed"
    assert why({b: "2"}) == "code changed (analysis/b.py)"
    assert (
        why({a: "2", nb: "2"}) == "notebook 10_report.ipynb changed; code changed (analysis/a.py)"
    )
    assert why({"analysis/c.py": "1"}) == "code changed (analysis/c.py)"  # a new file counts


def test_changed_code_names_three_files_then_counts():
    old = {f"analysis/{c}.py": "1" for c in "abcde"}
    new = {k: "2" for k in old}
    assert batch_state.changed_code(old, new) == (
        "code changed (analysis/a.py, analysis/b.py, analysis/c.py and 2 more)"
    )
    del new["analysis/e.py"]  # removed: a change too
    new |= {"notebooks/x.ipynb": "1", "notebooks/y.ipynb": "1"}
    assert batch_state.changed_code(old, new).startswith("notebooks x.ipynb, y.ipynb changed; ")


def _book(tmp_path):
    book = tmp_path / "book.csv"
    book.write_bytes(b"case_id\n1\n")
    return book


def _notebook(cells, **extra) -> str:
    return json.dumps(
        {"cells": cells, "metadata": extra.pop("metadata", {}), "nbformat": 4, **extra}
    )


def test_notebooks_count_by_their_cells_source_only():
    code = {"cell_type": "code", "source": ["x = 1\n", "y = 2"], "metadata": {}, "outputs": []}
    shown = {"cell_type": "markdown", "source": "Shown", "metadata": {}}
    hidden = {"cell_type": "markdown", "source": "Notes", "metadata": {"tags": ["report-hide"]}}
    base = batch_state.notebook_digest(_notebook([code, shown, hidden]))
    # What JupyterLab saves around the cells: none of it counts.
    ran = {
        **code,
        "execution_count": 7,
        "id": "abc",
        "outputs": [{"output_type": "stream", "text": "1"}],
        "metadata": {"scrolled": True, "tags": []},
        "source": "x = 1   \ny = 2\n\n",  # trailing spaces and blank lines, one string
    }
    notes = {**hidden, "source": "Other notes"}  # a hidden cell's text
    saved = _notebook([ran, shown, notes], metadata={"kernelspec": {"name": "other"}})
    assert batch_state.notebook_digest(saved) == base
    # What the notebook runs or shows: each counts.
    assert (
        batch_state.notebook_digest(_notebook([{**code, "source": "x = 2\ny = 2"}, shown, hidden]))
        != base
    )
    assert (
        batch_state.notebook_digest(_notebook([code, {**shown, "source": "New"}, hidden])) != base
    )
    assert batch_state.notebook_digest(_notebook([shown, code, hidden])) != base  # order
    assert batch_state.notebook_digest(_notebook([code, hidden])) != base  # a cell removed
    # Leading whitespace is code (Python indentation).
    assert (
        batch_state.notebook_digest(_notebook([{**code, "source": " x = 1\ny = 2"}, shown, hidden]))
        != base
    )
    # Not a notebook: its bytes.
    assert batch_state.notebook_digest("{broken") == hashlib.sha256(b"{broken").hexdigest()


def test_code_hash_ignores_a_notebook_saved_with_outputs(tmp_path):
    pkg, nbs = tmp_path / "analysis", tmp_path / "notebooks"
    pkg.mkdir()
    nbs.mkdir()
    cell = {"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": []}
    (nbs / "10_report.ipynb").write_text(_notebook([cell]))
    before = batch_state.code_digests(pkg, nbs)
    (nbs / "10_report.ipynb").write_text(
        _notebook([{**cell, "execution_count": 1, "outputs": [{"text": "1"}]}], metadata={"a": 1})
    )
    assert batch_state.code_digests(pkg, nbs) == before


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
    (nbs / "10_report.ipynb").write_text('{"cells": [{"cell_type": "code", "source": "1"}]}')
    assert batch_state.code_hash(pkg, nbs) != h1
    (pkg / "b.py").write_text("x = 2")  # a file added
    h2 = batch_state.code_hash(pkg, nbs)
    (pkg / "b.py").rename(pkg / "c.py")  # renamed, same contents
    assert batch_state.code_hash(pkg, nbs) != h2
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
