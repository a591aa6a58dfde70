"""Paths come from the package, never from the working directory."""

import os
import subprocess
import sys
from pathlib import Path

from analysis import config


def _without_settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ANALYSIS_")}


def test_paths_anchor_on_the_repository(tmp_path):
    assert (config.PROJ_ROOT / "pyproject.toml").is_file()
    assert config.DEFAULT_INSTRUMENT.is_file()
    assert config.processed_path("x-trust") == config.PROCESSED_DIR / "x-trust.parquet"
    assert config.trust_output_dir("x-trust") == config.OUTPUTS_DIR / "x-trust"
    # Without settings (in a process of its own: the tests' settings point elsewhere).
    code = "from analysis import config as c; print(c.RAW_DIR, c.PROCESSED_DIR, c.OUTPUTS_DIR)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=_without_settings(),
        capture_output=True,
        text=True,
        check=True,
    )
    root = config.PROJ_ROOT
    assert out.stdout.split() == [
        str(root / "data" / "raw"),
        str(root / "data" / "processed"),
        str(root / "outputs"),
    ]


def test_the_tests_work_in_temporary_folders_not_the_checkouts():
    # conftest.py (tests/helpers/isolation.py) set these before analysis.config was read.
    session = Path(os.environ["ANALYSIS_TEST_SESSION_DIR"])
    assert config.RAW_DIR == session / "raw"
    assert config.PROCESSED_DIR == session / "processed"
    assert config.OUTPUTS_DIR == session / "outputs"
    assert not session.resolve().is_relative_to(config.PROJ_ROOT)


def test_paths_do_not_depend_on_the_working_directory(tmp_path):
    code = "from analysis import config; print(config.PROJ_ROOT)"
    env = _without_settings()
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == str(config.PROJ_ROOT)
