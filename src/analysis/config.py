"""Project paths and defaults, anchored on this file (never on the working directory).

Every other module and every notebook takes its paths from here, so the suite
behaves the same when run from the repository root, from ``notebooks/`` or
from a batch worker.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# src/analysis/config.py -> parents[2] is the repository root in an editable install.
PROJ_ROOT = Path(os.environ.get("ANALYSIS_ROOT", PACKAGE_DIR.parents[1])).resolve()

DATA_DIR = PROJ_ROOT / "data"
RAW_DIR = Path(os.environ.get("ANALYSIS_RAW_DIR", DATA_DIR / "raw"))
PROCESSED_DIR = Path(os.environ.get("ANALYSIS_PROCESSED_DIR", DATA_DIR / "processed"))
OUTPUTS_DIR = Path(os.environ.get("ANALYSIS_OUTPUTS_DIR", PROJ_ROOT / "outputs"))
NOTEBOOKS_DIR = PROJ_ROOT / "notebooks"
DOCS_DIR = PROJ_ROOT / "docs"

INSTRUMENTS_DIR = PACKAGE_DIR / "instrument" / "programmes"
PROFILES_DIR = PACKAGE_DIR / "synthetic" / "profiles"
PUBLISHED_DIR = PACKAGE_DIR / "synthetic" / "published"
ASSETS_DIR = PACKAGE_DIR / "render" / "assets"
TEMPLATES_DIR = PACKAGE_DIR / "render" / "templates"

#: The instrument used when none is named.
DEFAULT_INSTRUMENT = INSTRUMENTS_DIR / "iaow-2013-14.yaml"
#: The organisation the demo (``make report``) runs for.
DEFAULT_TRUST = "norfolk-and-suffolk"

#: Bases below this are flagged ``[u]`` (low reliability) (UK official-statistics habit).
LOW_BASE_THRESHOLD = 10
#: In publication mode, cells with a numerator or its complement below this are suppressed ``[c]``.
SUPPRESSION_THRESHOLD = 5
#: Confidence level for every interval the suite reports.
CONFIDENCE_LEVEL = 0.95
#: Case-details sheet name in a case workbook.
CASES_SHEET = "cases"


def trust_output_dir(trust: str) -> Path:
    """Folder that holds every output of one organisation's run."""
    return OUTPUTS_DIR / trust


def processed_path(trust: str) -> Path:
    """Parquet file that ingest writes for one organisation."""
    return PROCESSED_DIR / f"{trust}.parquet"
