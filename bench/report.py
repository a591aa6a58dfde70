"""Benchmark: one cold ``python -m analysis report`` against importing the libraries it uses.

Usage: ``python bench/report.py [--workbook PATH] [--repeat N]``

Side by side in one run, alternating (imports, report, imports, report, ...) so that
load from other work falls on both, each in a fresh process:

imports
    ``python -c "import pandas, numpy, plotly, matplotlib, scipy.stats, nbformat,
    nbconvert"``: the libraries a report run uses (issue 15's import floor; the list is
    kept fixed so the floor stays comparable even where a run no longer imports one).
report
    ``python -m analysis report WORKBOOK --trust SLUG`` into a private output folder:
    ingest, analyse, tables, charts, the notebook in a kernel, the HTML export.

Prints the best wall time of each, their ratio (target: the report within 2.5x the
imports), CPU seconds of each (the report's include its kernel's), the peak resident
memory of the largest process, and the phase times the report recorded in
``provenance.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "report"
PY = sys.executable
LIBRARIES = "pandas, numpy, plotly, matplotlib, scipy.stats, nbformat, nbconvert"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (the process and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workbook", type=Path, default=None, help="default: the demo trust's")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    env = dict(os.environ)
    env["ANALYSIS_PROCESSED_DIR"] = str(RESULTS / "processed")
    env["ANALYSIS_OUTPUTS_DIR"] = str(RESULTS / "outputs")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    raw = Path(env.get("ANALYSIS_RAW_DIR", ROOT / "data" / "raw"))
    workbook = args.workbook or raw / "norfolk-and-suffolk.xlsx"
    if not workbook.exists():
        subprocess.run([PY, "-m", "analysis", "demo-data"], cwd=ROOT, check=True)
    shutil.rmtree(RESULTS, ignore_errors=True)
    slug = workbook.stem
    runs: dict[str, list[tuple[float, float]]] = {"imports": [], "report": []}
    for _ in range(args.repeat):
        runs["imports"].append(timed([PY, "-c", f"import {LIBRARIES}"], env))
        runs["report"].append(
            timed([PY, "-m", "analysis", "report", str(workbook), "--trust", slug], env)
        )
    imp = min(w for w, _ in runs["imports"])
    rep = min(w for w, _ in runs["report"])
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; best of {args.repeat}")
    print(f"  import {LIBRARIES}: {imp:.2f}s wall, {min(c for _, c in runs['imports']):.2f}s CPU")
    print(
        f"  python -m analysis report ({slug}): {rep:.2f}s wall, "
        f"{min(c for _, c in runs['report']):.2f}s CPU"
    )
    print(f"ratio: the report takes {rep / imp:.1f}x its import floor (target <= 2.5x)")
    # ru_maxrss of the children: the largest resident set any of them (or theirs) reached.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory of the largest process (report or its kernel): {peak:.0f} MiB")
    prov = RESULTS / "outputs" / slug / "provenance.json"
    phases = json.loads(prov.read_text(encoding="utf-8")).get("phases_seconds", {})
    print("phases of the last report run (s): " + ", ".join(f"{k} {v}" for k, v in phases.items()))
    print(f"load average now {os.getloadavg()[0]:.1f} (other work skews wall times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
