"""Paths come from the package, never from the working directory."""

import os
import subprocess
import sys

from analysis import config


def test_paths_anchor_on_the_repository():
    assert (config.PROJ_ROOT / "pyproject.toml").is_file()
    assert config.RAW_DIR == config.PROJ_ROOT / "data" / "raw"
    assert config.DEFAULT_INSTRUMENT.is_file()
    assert config.processed_path("x-trust") == config.PROCESSED_DIR / "x-trust.parquet"
    assert config.trust_output_dir("x-trust") == config.OUTPUTS_DIR / "x-trust"


def test_paths_do_not_depend_on_the_working_directory(tmp_path):
    code = "from analysis import config; print(config.PROJ_ROOT)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYSIS_")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == str(config.PROJ_ROOT)
