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
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from analysis import config
from analysis.errors import UserError
from analysis.fileio import read_small_file

#: Largest parameters file read: a few named values are a few hundred bytes, so a file
#: this large is the wrong file (``/dev/zero`` would otherwise be read until memory ran out).
MAX_PARAMS_BYTES = 1024**2

#: Parameter names the command sets itself -> how the user sets them instead.
RESERVED = {
    "trust": "--trust (in batch: each workbook's name)",
    "audience": "--audience",
    "instrument_path": "--instrument",
    "out_dir": "--trust (the report is written to outputs/<trust>/)",
}

#: Names a user may reach for that are not the notebook's: what decides them instead.
NOT_PARAMETERS = {
    name: (
        f"the {what} threshold is part of the findings, computed before the notebook runs "
        f"(`report` uses {default}, recorded in findings.meta.json); "
        f"`python -m analysis analyse --trust SLUG {option} N` computes findings with another"
    )
    for name, what, default, option in [
        ("low_threshold", "low-base", config.LOW_BASE_THRESHOLD, "--low-threshold"),
        (
            "suppression_threshold",
            "suppression",
            config.SUPPRESSION_THRESHOLD,
            "--suppression-threshold",
        ),
    ]
}

#: Python types papermill infers for a parameters cell's annotations -> the YAML types allowed.
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
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
            loaded = yaml.safe_load(_read_bounded(Path(path)).decode("utf-8"))
        except UnicodeDecodeError:
            raise UserError(f"{path}: a parameters file must be UTF-8 text") from None
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


def _read_bounded(path: Path) -> bytes:
    """The bytes of a parameters file: a regular file of at most :data:`MAX_PARAMS_BYTES`."""
    hint = "a parameters file is a short YAML mapping of name: value (is this the right file?)"
    return read_small_file(path, MAX_PARAMS_BYTES, "parameters file", hint)


def declared_parameters(notebook: str | Path) -> dict[str, dict[str, Any]]:
    """The parameters a notebook's ``parameters`` cell declares (``papermill.inspect_notebook``).

    Returns
    -------
    dict
        ``name -> {"inferred_type_name": "str", "default": ..., "help": ...}``.
    """
    import papermill  # heavy: only a run that passes parameters needs it

    return dict(papermill.inspect_notebook(str(notebook)))


def check_notebook_parameters(params: Mapping[str, Any], notebook: str | Path) -> None:
    """Refuse, before anything runs, a parameter the notebook does not declare or of the wrong type.

    papermill itself only warns ("Passed unknown parameter") and runs the whole report,
    which then ignores the value. Names the command sets itself are
    :func:`check_parameters`'s.

    Raises
    ------
    UserError
        Every problem at once: an unknown name (with the closest declared name, and what
        sets it when it is a findings setting such as ``low_threshold``), or a value
        whose type is not the one the notebook declares (``trust_name: 3``).
    """
    declared = declared_parameters(notebook)
    settable = sorted(n for n in declared if n not in RESERVED)
    problems = []
    for name, value in params.items():
        if name in RESERVED:
            continue  # check_parameters says which option sets it
        if name in NOT_PARAMETERS:
            problems.append(f"`{name}` is not a report parameter: {NOT_PARAMETERS[name]}")
            continue
        if name not in declared:
            close = difflib.get_close_matches(name, settable, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            problems.append(f"`{name}` is not a parameter of {Path(notebook).name}{hint}")
            continue
        kind = declared[name].get("inferred_type_name", "None")
        allowed = _TYPES.get(kind)
        ok = allowed is None or (
            isinstance(value, allowed) and not (bool not in allowed and isinstance(value, bool))
        )
        if not ok:
            problems.append(
                f"`{name}` must be {kind} (as the notebook declares it), not {value!r} "
                f"({type(value).__name__}); quote a text value: -p {name} '\"{value}\"'"
                if kind == "str"
                else f"`{name}` must be {kind} (as the notebook declares it), not {value!r}"
            )
    if problems:
        names = ", ".join(settable) or "none"
        raise UserError("\n".join(problems) + f"\n(parameters that -p and -f may set: {names})")
