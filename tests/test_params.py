"""Notebook parameters from -f/-p: read as papermill reads them; audience and instrument refused."""

from __future__ import annotations

import os

import pytest

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
