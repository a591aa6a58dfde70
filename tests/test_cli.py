"""The command-line entry point: every command is registered and user errors exit 2 cleanly."""

import subprocess
import sys

import pytest

from analysis import cli
from analysis.errors import UserError


def test_every_registered_command_has_help():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    missing = sorted(set(cli.COMMANDS) - set(sub.choices))
    assert not missing, f"commands registered but not built: {missing}"


def test_a_command_whose_module_is_missing_fails_loudly(monkeypatch):
    # No command is skipped quietly: a missing module is a broken install, not a future command.
    monkeypatch.setitem(cli.COMMANDS, "ghost", ("analysis.no_such_module", "never built"))
    with pytest.raises(ModuleNotFoundError, match="analysis.no_such_module"):
        cli.build_parser()


def test_user_error_exits_2_without_traceback(monkeypatch, capsys):
    class Boom:
        @staticmethod
        def cli(args):
            raise UserError("the workbook has no 'cases' sheet")

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_returning(Boom))
    assert cli.main(["x"]) == 2
    err = capsys.readouterr().err
    assert "the workbook has no 'cases' sheet" in err
    assert "Traceback" not in err


def _parser_returning(module):
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("command")
    p.set_defaults(_module=module)
    return p


@pytest.mark.parametrize("argv", [["--help"], ["dictionary", "--help"]])
def test_module_entry_point(argv):
    out = subprocess.run([sys.executable, "-m", "analysis", *argv], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "usage" in out.stdout
