"""End to end: the README's two commands are real and `make report` does what it says."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from analysis import config

ROOT = config.PROJ_ROOT
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_shows_the_two_commands_first():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands[:2] == ["make report", "make test"]


def test_make_test_runs_the_whole_suite_and_ci_calls_it():
    dry = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "-m pytest" in dry.stdout and "--nbval-lax" in dry.stdout
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.e2e
def test_make_report_writes_the_report_and_prints_its_path():
    # As a user runs it: no path overrides, and not as a sub-make of `make test`.
    drop = ("ANALYSIS_", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    run = subprocess.run(
        ["make", "report"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=900
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    html = Path(run.stdout.strip().splitlines()[-1])  # the README: it prints the path last
    assert html == config.trust_output_dir(config.DEFAULT_TRUST) / "report.html"
    assert html.is_file() and html.stat().st_size > 100_000
    for name in ("findings.csv", "tables.xlsx", "report.ipynb", "provenance.json"):
        assert (html.parent / name).is_file(), name
    assert any((html.parent / "charts").glob("*.png"))
