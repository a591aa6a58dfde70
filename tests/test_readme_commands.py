"""The README's commands are real: each runs as written (with --help), and `make report`
does what it says, for the demo and for a workbook of one's own."""

import hashlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.workbooks import grid, valid_rows, write_xlsx

from analysis import config

ROOT = config.PROJ_ROOT
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: The suite's command line as the README writes it, and how the test runs it.
VENV_ANALYSIS = ".venv/bin/analysis"


def readme_commands(text: str = README) -> list[str]:
    """Every command line of the README's ```bash blocks, without its comment."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = re.sub(r"(^|\s+)#.*$", "", line).strip()
            if line:
                commands.append(line)
    return commands


def help_run(command: str) -> list[str]:
    """The invocation that checks ``command`` exists as written, without doing anything.

    ``make TARGET [VAR=value ...]`` is a dry run (``make -n``); the suite's command line
    (``.venv/bin/analysis SUB ...`` or ``python -m analysis SUB ...``) asks for ``SUB --help``.
    """
    words = shlex.split(command)
    if words[0] == "make":
        return ["make", "-n", *words[1:]]
    if words[0] == VENV_ANALYSIS:
        sub = words[1]
    elif words[:3] == ["python", "-m", "analysis"]:
        sub = words[3]
    else:
        raise ValueError(f"the README runs a command this test does not check: {command}")
    exe = ROOT / VENV_ANALYSIS
    # In a checkout without .venv (another environment running the tests) the same entry
    # point, through this interpreter.
    base = [str(exe)] if exe.is_file() else [sys.executable, "-m", "analysis"]
    return [*base, sub, "--help"]


def test_readme_shows_the_two_commands_first():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands[:2] == ["make report", "make test"]


def test_the_command_reader_keeps_commands_and_drops_comments():
    text = "x\n```bash\nmake report   # the demo\n# 2. a step\n\nanalysis-free line\n```\n"
    assert readme_commands(text) == ["make report", "analysis-free line"]
    assert help_run("make report WORKBOOK=my.xlsx")[:3] == ["make", "-n", "report"]
    assert help_run(".venv/bin/analysis report data/raw/x.xlsx [--trust x]")[-2:] == [
        "report",
        "--help",
    ]
    with pytest.raises(ValueError, match="does not check"):
        help_run("analysis report x.xlsx")  # only as written after activating: not in a block


@pytest.mark.parametrize("command", readme_commands(), ids=lambda c: c[:60])
def test_every_readme_command_runs_as_written(command):
    run = subprocess.run(help_run(command), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    if not command.startswith("make"):
        assert "usage:" in run.stdout


def test_make_test_runs_the_whole_suite_and_ci_calls_it():
    dry = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "-m pytest" in dry.stdout and "--nbval-lax" in dry.stdout
    # The demo workbooks the tests need are written for them, never into data/raw.
    assert "data/raw" not in dry.stdout
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_make_lab_starts_jupyterlab_on_the_notebooks():
    dry = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert ".venv/bin/jupyter lab --ServerApp.root_dir=notebooks" in dry.stdout


def test_make_report_names_the_organisation_only_when_trust_is_typed():
    def dry(*args):
        run = subprocess.run(
            ["make", "-n", "report", *args], cwd=ROOT, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return [line for line in run.stdout.splitlines() if "-m analysis report" in line]

    # Own workbook: the organisation is the workbook's, unless TRUST= is typed.
    assert dry("WORKBOOK=my trust.xlsx") == [
        '.venv/bin/python -m analysis report "my trust.xlsx"  --audience internal'
    ]
    assert dry("WORKBOOK=my.xlsx", "TRUST=mine") == [
        '.venv/bin/python -m analysis report "my.xlsx" --trust mine --audience internal'
    ]
    # The demo names its organisation, and reads its standards ratings from the raw folder
    # (data/raw/<trust>.ratings.csv or .yaml, when there is one).
    demo = dry()
    trust, raw = config.DEFAULT_TRUST, os.environ.get("ANALYSIS_RAW_DIR", "data/raw")
    assert len(demo) == 1 and demo[0].endswith(
        f'/{trust}.xlsx --trust {trust} --audience internal --standard-ratings "{raw}"'
    )
    # An own workbook reads a ratings file only when one is named.
    assert dry("WORKBOOK=my.xlsx", "STANDARD_RATINGS=r.csv") == [
        '.venv/bin/python -m analysis report "my.xlsx"  --audience internal'
        ' --standard-ratings "r.csv"'
    ]


# -- end to end -----------------------------------------------------------------------------


def _make(*args: str) -> subprocess.CompletedProcess:
    # As a user runs it, not as a sub-make of `make test`; in the tests' temporary folders
    # (the ANALYSIS_* settings conftest.py set), never the checkout's data/ and outputs/.
    drop = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return subprocess.run(
        ["make", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=900
    )


@pytest.fixture(scope="module")
def demo_report():
    run = _make("report")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return run


@pytest.mark.e2e
def test_make_report_writes_the_report_and_prints_its_path(demo_report):
    html = Path(demo_report.stdout.strip().splitlines()[-1])  # the README: it prints the path last
    assert html == config.trust_output_dir(config.DEFAULT_TRUST) / "report.html"
    assert html.is_file() and html.stat().st_size > 100_000
    for name in ("findings.csv", "tables.xlsx", "report.ipynb", "provenance.json"):
        assert (html.parent / name).is_file(), name
    assert any((html.parent / "charts").glob("*.png"))


@pytest.mark.e2e
def test_make_report_runs_the_reproduction_check_first(demo_report):
    """Generate, ingest, analyse and check every published Norfolk & Suffolk figure.

    The demo's `make report` runs `reproduce` first (the report then carries it); this was
    tests/test_reproduce.py's end-to-end test, which ran the same check a second time.
    """
    import json

    import pandas as pd

    from analysis.synthetic import reproduce as R

    summary = [line for line in demo_report.stdout.splitlines() if " figures: " in line]
    assert len(summary) == 1 and " 0 FAIL; wrote " in summary[0], demo_report.stdout[-2000:]
    out = config.trust_output_dir(config.DEFAULT_TRUST)
    table = pd.read_csv(out / "reproduction.csv")
    assert list(table.columns) == R.COLUMNS
    assert len(table) >= 250
    assert not (table.status == R.FAIL).any()
    scores = table[table.figure_id.str.endswith("-score")]
    assert len(scores) == 5 and (scores.status == R.EXACT).all()
    incs = json.loads((out / "inconsistencies.json").read_text())
    inconsistent = table[table.status.str.startswith(R.INCONSISTENT)]
    assert {d for rec in incs for d in rec["dropped"]} == set(inconsistent.figure_id)
    # The report carries the check: it was made on the very same workbook.
    meta = json.loads((out / "reproduction.json").read_text())
    assert meta["summary"][R.FAIL] == 0


@pytest.mark.e2e
def test_make_report_on_an_own_workbook_never_replaces_the_demo(demo_report, tmp_path):
    demo = config.trust_output_dir(config.DEFAULT_TRUST) / "report.html"
    before = demo.read_bytes()
    from analysis.instrument import load_instrument

    rows = valid_rows(load_instrument(), 12)
    # A blank trust column: its own folder, named from its sha256, never its file name
    # (here a person's, spelt as nothing else in the package or its outputs is).
    own = write_xlsx(tmp_path / "Zelda Quixley cases.xlsx", grid(rows))
    run = _make("report", f"WORKBOOK={own}")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    neutral = "workbook-" + hashlib.sha256(own.read_bytes()).hexdigest()[:8]
    assert f"organisation: {neutral} (the workbook names no organisation" in run.stderr
    html = config.trust_output_dir(neutral) / "report.html"
    assert run.stdout.strip().splitlines()[-1] == str(html) and html.is_file()
    # The file's name (it could be a person's) reaches no output: not the title, nor any file.
    for path in html.parent.rglob("*"):
        assert "quixley" not in path.name.lower(), path
        if path.suffix in (".html", ".json", ".csv", ".ipynb"):
            assert "quixley" not in path.read_text(encoding="utf-8").lower(), path
    # A trust column naming the demo's organisation: refused, the demo's report kept.
    for row in rows:
        row["trust"] = "Norfolk & Suffolk"
    mine = write_xlsx(tmp_path / "mine.xlsx", grid(rows))
    run = _make("report", f"WORKBOOK={mine}")
    assert run.returncode != 0
    assert "already holds a report made from another workbook" in run.stderr
    assert f"--trust {config.DEFAULT_TRUST}" in run.stderr
    assert demo.read_bytes() == before
