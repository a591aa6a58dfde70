"""Notebook parameters given on the command line (``-f PARAMS.yaml``, ``-p NAME VALUE``).

``report`` and ``batch`` pass them to the report notebook as papermill does. Some
names are not the notebook's to set: the organisation, the audience and the
instrument decide what the findings hold, and the report takes them from the
findings' context. Setting one here would let a report disagree with its findings
(a "Publication version" banner over unsuppressed figures), so it is refused with
the option that does set it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from analysis.errors import UserError

#: Parameter names the command sets itself -> how the user sets them instead.
RESERVED = {
    "trust": "--trust (in batch: each workbook's name)",
    "audience": "--audience",
    "instrument_path": "--instrument",
}


def add_parameter_options(parser: argparse.ArgumentParser) -> None:
    """Declare ``-f/--parameters-file`` and ``-p/--parameter`` on a command's parser."""
    parser.add_argument(
        "-f",
        "--parameters-file",
        dest="parameters_file",
        metavar="PARAMS.yaml",
        help="YAML mapping of notebook parameters (as papermill -f)",
    )
    parser.add_argument(
        "-p",
        "--parameter",
        dest="parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="one notebook parameter (as papermill -p); repeatable",
    )


def check_parameters(params: Mapping[str, Any]) -> None:
    """Refuse parameters that only the command's own options may set.

    Raises
    ------
    UserError
        Naming the option to use instead.
    """
    for name, option in RESERVED.items():
        if name in params:
            raise UserError(
                f"`{name}` cannot be set as a notebook parameter (-p or -f): the findings "
                f"are computed for it, so the report takes it from them; use {option}"
            )


def load_params(path: str | Path | None, pairs: list[list[str]] | None = None) -> dict[str, Any]:
    """Parameters for every run: a YAML mapping (papermill's ``-f``) then ``-p`` pairs.

    Values of ``-p`` are read as YAML, as papermill does (``-p n 3`` gives 3).

    Raises
    ------
    UserError
        When the file cannot be read or is not a mapping, or a name is
        :data:`RESERVED`.
    """
    params: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UserError(f"cannot read parameters file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise UserError(f"{path}: not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise UserError(f"{path}: parameters must be a YAML mapping of name: value")
        params.update(loaded)
    for name, value in pairs or []:
        params[name] = yaml.safe_load(value)
    check_parameters(params)
    return params
