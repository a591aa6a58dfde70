"""The command-line entry point: every command is registered and user errors exit 2 cleanly."""

import errno
import signal
import subprocess
import sys

import pytest

from analysis import cli
from analysis.errors import UserError
from analysis.pipeline import interrupts


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


def _raising(exc):
    class Command:
        @staticmethod
        def cli(args):
            raise exc

    return Command


def test_file_system_error_exits_2_with_the_path_and_the_cause(monkeypatch, capsys):
    err = OSError(errno.EROFS, "Read-only file system", "/mnt/outputs/t")
    err.add_note("the failed notebook could not be kept: [Errno 30] Read-only file system")
    monkeypatch.setattr(cli, "build_parser", lambda: _parser_returning(_raising(err)))
    assert cli.main(["x"]) == 2
    out = capsys.readouterr().err
    assert out.splitlines() == [
        "error: /mnt/outputs/t is on a read-only file system: point the suite at a writable "
        "folder (ANALYSIS_OUTPUTS_DIR, ANALYSIS_PROCESSED_DIR) (the system said: [Errno 30] "
        "Read-only file system)",
        "note: the failed notebook could not be kept: [Errno 30] Read-only file system",
    ]


@pytest.mark.parametrize(
    ("exc", "status"), [(KeyboardInterrupt(), 130), (interrupts.Terminated(), 143)]
)
def test_interrupt_exits_130_or_143_and_restores_the_signal_handlers(
    monkeypatch, capsys, exc, status
):
    before = signal.getsignal(signal.SIGTERM)
    seen = []

    class Command:
        @staticmethod
        def cli(args):
            seen.append(signal.getsignal(signal.SIGTERM))
            raise exc

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_returning(Command))
    assert cli.main(["x"]) == status
    assert capsys.readouterr().err == "interrupted\n"
    assert seen[0] is not before  # SIGTERM raised while the command ran
    assert signal.getsignal(signal.SIGTERM) is before


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


@pytest.mark.parametrize("outcome", [0, 143, SystemExit(2)])
def test_the_module_entry_point_freezes_the_heap_before_exit(monkeypatch, outcome):
    # The collector's pass over a report's heap at interpreter exit took 5 to 6 s (the wait
    # after "interrupted", R03b): whatever the command's end (a status or argparse's
    # SystemExit), the heap is frozen before the process exits, with the command's status.
    import gc
    import runpy

    frozen = []

    def command():
        if isinstance(outcome, SystemExit):
            raise outcome
        return outcome

    monkeypatch.setattr(cli, "main", command)
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    with pytest.raises(SystemExit) as stop:
        runpy.run_module("analysis", run_name="__main__")
    assert stop.value.code == (2 if isinstance(outcome, SystemExit) else outcome)
    assert frozen == [True]
