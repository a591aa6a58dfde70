"""Command-line entry point: ``python -m analysis COMMAND ...``.

Each command lives in its own module, which exposes ``add_cli(parser)`` to
declare its arguments and ``cli(args) -> int`` to run. Building the parser
imports every command module, since each declares its own arguments.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from analysis.errors import UserError
from analysis.fileio import describe_os_error
from analysis.instrument import InstrumentError
from analysis.pipeline import interrupts

#: command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "dictionary": (
        "analysis.instrument.dictionary",
        "render the instrument as a markdown data dictionary",
    ),
    "template": ("analysis.instrument.template", "write a blank case workbook to fill in"),
    "ingest": (
        "analysis.ingest.read",
        "validate a case workbook; write data/processed/<trust>.parquet",
    ),
    "analyse": ("analysis.engine.run", "compute the findings table for one organisation"),
    "synthesise": ("analysis.synthetic.generate", "write a synthetic case workbook from a profile"),
    "demo-data": (
        "analysis.synthetic.demo",
        "write the demo workbooks (one per synthetic profile) into data/raw/",
    ),
    "reproduce": (
        "analysis.synthetic.reproduce",
        "check the demo data reproduces the reference report",
    ),
    "report": (
        "analysis.pipeline.report",
        "run the whole pipeline for one workbook and export the report",
    ),
    "batch": ("analysis.pipeline.batch", "run the report pipeline for many workbooks in parallel"),
    "aggregate": ("analysis.pipeline.aggregate", "build the cross-organisation aggregate report"),
    "pdf": ("analysis.render.pdf", "print a report to an A4 PDF (headless Chromium)"),
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Probation case-inspection analysis suite.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_) in COMMANDS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_, description=help_)
        mod.add_cli(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; user errors become a message and exit status 2."""
    # So do the file system's refusals (a full disk, a read-only folder, a path through a
    # file, a name too long): the message names the path, what to do and the original
    # error, never a traceback. Ctrl-C and SIGTERM stop the command cleanly, exit status
    # 130 and 143 (analysis.pipeline.interrupts).
    parser = build_parser()
    args = parser.parse_args(argv)
    restore_signals = interrupts.install()
    try:
        return int(args._module.cli(args) or 0)
    except (UserError, InstrumentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        _print_notes(exc)
        return getattr(exc, "exit_code", 2)
    except OSError as exc:
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        _print_notes(exc)
        return 2
    except KeyboardInterrupt as exc:
        print("interrupted", file=sys.stderr)
        return interrupts.exit_status(exc)
    finally:
        restore_signals()


def _print_notes(exc: BaseException) -> None:
    # What else went wrong on the way out (e.g. the failed notebook could not be kept).
    for note in getattr(exc, "__notes__", ()):
        print(f"note: {note}", file=sys.stderr)
