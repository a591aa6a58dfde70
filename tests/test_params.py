"""Notebook parameters from -f/-p: read as papermill reads them; audience and instrument refused."""

from __future__ import annotations

import os

import pytest

from analysis import config
from analysis.errors import UserError
from analysis.pipeline import params


def test_load_params(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("trust_name: Demo\nthreshold: 3\n")
    assert params.load_params(p, [["extra", "4"]]) == {
        "trust_name": "Demo",
        "threshold": 3,
        "extra": 4,
    }
    p.write_text("- not a mapping\n")
    with pytest.raises(UserError, match="mapping"):
        params.load_params(p)
    p.write_text("trust: x\n")
    with pytest.raises(UserError, match="trust"):
        params.load_params(p)
    with pytest.raises(UserError, match="cannot read"):
        params.load_params(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("name", "option"),
    [("audience", "--audience"), ("instrument_path", "--instrument"), ("trust", "--trust")],
)
def test_reserved_names_are_refused_with_the_right_option(tmp_path, name, option):
    with pytest.raises(UserError, match=f"`{name}` cannot be set .*use {option}"):
        params.load_params(None, [[name, "x"]])
    f = tmp_path / "params.yaml"
    f.write_text(f"{name}: x\n")
    with pytest.raises(UserError, match=f"use {option}"):
        params.load_params(f)
    with pytest.raises(UserError, match=f"use {option}"):
        params.check_parameters({name: "x", "trust_name": "T"})


def test_values_are_yaml_and_pairs_override_the_file(tmp_path):
    f = tmp_path / "params.yaml"
    f.write_text("trust_name: From file\nn: 2\n")
    assert params.load_params(f, [["n", "3"], ["flag", "true"]]) == {
        "trust_name": "From file",
        "n": 3,
        "flag": True,
    }
    f.write_text("")
    assert params.load_params(f) == {}
    f.write_text("a: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        params.load_params(f)


def test_parameters_file_must_be_a_small_regular_file(tmp_path, monkeypatch):
    # /dev/zero: a device, refused before it is opened (it was read until memory ran out).
    with pytest.raises(UserError, match="/dev/zero is a device, pipe or socket"):
        params.load_params("/dev/zero")
    with pytest.raises(UserError, match="is a folder"):
        params.load_params(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="device, pipe or socket"):
        params.load_params(fifo)  # never opened, so never blocks
    # 11 bytes against a 10-byte limit: refused; 10 bytes ("a: 1234567") read.
    monkeypatch.setattr(params, "MAX_PARAMS_BYTES", 10)
    big = tmp_path / "big.yaml"
    big.write_text("a: 12345678")
    with pytest.raises(UserError, match="larger than 10 bytes"):
        params.load_params(big)
    big.write_text("a: 1234567")
    assert params.load_params(big) == {"a": 1234567}
    big.write_bytes(b"a: \xff\n")
    with pytest.raises(UserError, match="UTF-8"):
        params.load_params(big)


# -- the notebook's own parameters (issue 13: R13, R17) -------------------------------------------

NOTEBOOK = config.NOTEBOOKS_DIR / "10_report.ipynb"


def test_unknown_parameters_are_refused_with_did_you_mean():
    with pytest.raises(UserError) as err:
        params.check_notebook_parameters({"no_such_param": 1, "trust_nme": "X"}, NOTEBOOK)
    text = str(err.value)
    assert "`no_such_param` is not a parameter of 10_report.ipynb\n" in text  # nothing close
    assert "`trust_nme` is not a parameter of 10_report.ipynb; did you mean `trust_name`?" in text
    # The list of what may be set leaves out what the command sets itself.
    assert text.endswith("(parameters that -p and -f may set: trust_name)")


def test_a_threshold_is_refused_saying_what_sets_it():
    # low_threshold is the findings' (computed before the notebook runs), not the notebook's:
    # papermill would have ignored -5 and the findings kept 10.
    with pytest.raises(UserError) as err:
        params.check_notebook_parameters({"low_threshold": -5}, NOTEBOOK)
    text = str(err.value)
    assert "`low_threshold` is not a report parameter" in text
    assert f"`report` uses {config.LOW_BASE_THRESHOLD}" in text and "--low-threshold N" in text


def test_values_must_have_the_declared_type():
    params.check_notebook_parameters({"trust_name": "Carrow Moor"}, NOTEBOOK)  # accepted
    with pytest.raises(UserError, match=r"`trust_name` must be str .* not 3 \(int\)"):
        params.check_notebook_parameters({"trust_name": 3}, NOTEBOOK)
    with pytest.raises(UserError, match=r"`trust_name` must be str .* not True"):
        params.check_notebook_parameters({"trust_name": True}, NOTEBOOK)


def test_declared_types_are_checked_per_kind(tmp_path, monkeypatch):
    declared = {
        "n": {"inferred_type_name": "int"},
        "x": {"inferred_type_name": "float"},
        "flag": {"inferred_type_name": "bool"},
    }
    monkeypatch.setattr(params, "declared_parameters", lambda nb: declared)
    params.check_notebook_parameters({"n": 3, "x": 2, "flag": False}, "nb.ipynb")
    with pytest.raises(UserError) as err:
        params.check_notebook_parameters({"n": True, "x": "2", "flag": 1}, "nb.ipynb")
    text = str(err.value)
    assert "`n` must be int" in text and "`x` must be float" in text
    assert "`flag` must be bool" in text  # all three at once


def test_out_dir_is_the_commands():
    with pytest.raises(UserError, match="`out_dir` cannot be set .*outputs/<trust>/"):
        params.load_params(None, [["out_dir", "/tmp/x"]])
