"""Benchmark: ``python -m analysis aggregate`` of the twelve demo trusts (target at most 10 s).

Usage: ``python bench/aggregate.py [--trusts N] [--base SRC] [--repeat K] [--profile] [--reuse]``

Writes the demo workbooks (``python -m analysis demo-data``) into a private raw folder
under ``bench/results/aggregate/``, ingests and analyses each trust there (its findings,
context and processed cases: what the aggregate reads), then times ``python -m analysis
aggregate`` (findings, funnel table and charts, tables.xlsx, the notebook and its
offline HTML) in a new process, with wall and CPU seconds and the load average.

``--base SRC`` also times the aggregate with another checkout's ``src`` folder on the
same inputs, side by side (for instance the integration branch's, extracted with
``git archive``), each into its own outputs folder, and says whether the two
``findings.csv`` are byte-identical. ``--profile`` runs ours once more under cProfile
in this process and prints the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import os
import pstats
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "aggregate"
PY = sys.executable

PREPARE = """
import sys
from pathlib import Path
from analysis.instrument import load_instrument
from analysis.pipeline.report import build_findings
inst = load_instrument()
for p in sorted(Path(sys.argv[1]).glob("*.xlsx"))[: int(sys.argv[2])]:
    build_findings(p.stem, p, instrument=inst)
    print(p.stem, flush=True)
"""


def env_for(side: str, src: Path) -> dict[str, str]:
    """The shared raw and processed data; outputs of each side in its own folder."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    env["ANALYSIS_RAW_DIR"] = str(RESULTS / "raw")
    env["ANALYSIS_PROCESSED_DIR"] = str(RESULTS / "processed")
    env["ANALYSIS_OUTPUTS_DIR"] = str(RESULTS / side)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def child_cpu() -> float:
    """CPU seconds of finished children and their descendants (the notebook kernel too)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def prepare(n: int) -> list[str]:
    """Demo workbooks, and each trust's findings and processed cases (ours' code)."""
    shutil.rmtree(RESULTS, ignore_errors=True)
    env = env_for("inputs", ROOT / "src")
    subprocess.run([PY, "-m", "analysis", "demo-data"], env=env, cwd=ROOT, check=True)
    out = subprocess.run(
        [PY, "-c", PREPARE, str(RESULTS / "raw"), str(n)],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.split()


def time_aggregate(side: str, src: Path, slugs: list[str]) -> tuple[float, float, float]:
    """Wall and CPU seconds of one aggregate, and the 1-minute load average after it."""
    out = RESULTS / side
    shutil.rmtree(out, ignore_errors=True)
    # The aggregate reads each trust's outputs folder: a copy per side.
    shutil.copytree(RESULTS / "inputs", out)
    c0 = child_cpu()
    t = time.perf_counter()
    proc = subprocess.run(
        [PY, "-m", "analysis", "aggregate", *slugs],
        env=env_for(side, src),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
        raise SystemExit(f"aggregate failed ({side})")
    return wall, child_cpu() - c0, os.getloadavg()[0]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"


def profile(slugs: list[str], top: int) -> None:
    """cProfile of one aggregate in this process (ours' code), top functions by cumulative."""
    os.environ.update(env_for("profile", ROOT / "src"))
    sys.path.insert(0, str(ROOT / "src"))
    shutil.rmtree(RESULTS / "profile", ignore_errors=True)
    shutil.copytree(RESULTS / "inputs", RESULTS / "profile")
    from analysis.pipeline import aggregate

    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.runcall(aggregate.build, slugs)
    print(
        f"\nprofile (in process, the notebook's kernel not profiled): "
        f"{time.perf_counter() - t:.1f}s wall, load {os.getloadavg()[0]:.1f}"
    )
    pstats.Stats(prof).sort_stats("cumulative").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trusts", type=int, default=12, help="how many demo trusts to pool")
    ap.add_argument("--base", type=Path, default=None, help="another checkout's src folder")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per side")
    ap.add_argument("--profile", action="store_true", help="also profile ours in process")
    ap.add_argument("--reuse", action="store_true", help="reuse the inputs a previous run prepared")
    ap.add_argument("--top", type=int, default=30, help="functions the profile prints")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    if args.reuse and (RESULTS / "inputs").is_dir():
        slugs = sorted(p.parent.name for p in (RESULTS / "inputs").glob("*/findings.parquet"))
        slugs = slugs[: args.trusts]
    else:
        slugs = prepare(args.trusts)
    print(
        f"{len(slugs)} trusts prepared in {time.perf_counter() - t:.0f}s; "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    sides = [("ours", ROOT / "src")]
    if args.base is not None:
        sides.insert(0, ("base", args.base.resolve()))
    results: dict[str, list[tuple[float, float, float]]] = {s: [] for s, _ in sides}
    for _ in range(args.repeat):
        for side, src in sides:  # alternated, so that load changes hit both sides alike
            r = time_aggregate(side, src, slugs)
            results[side].append(r)
            print(f"  {side:<5} {r[0]:6.1f}s wall {r[1]:6.1f}s CPU  load {r[2]:.1f}", flush=True)
    print(f"\naggregate of {len(slugs)} trusts (target <= 10 s), best of {args.repeat}:")
    best = {s: min(r) for s, r in results.items()}
    for side, (wall, cpu, load) in best.items():
        print(f"  {side:<5} {wall:6.1f}s wall {cpu:6.1f}s CPU  load {load:.1f}")
    if "base" in best:
        b, o = best["base"], best["ours"]
        print(f"  ratio: {b[0] / o[0]:.2f}x less wall, {b[1] / o[1]:.2f}x less CPU")
        same = sha(RESULTS / "base" / "aggregate" / "findings.csv") == sha(
            RESULTS / "ours" / "aggregate" / "findings.csv"
        )
        print(f"  findings.csv {'identical' if same else 'DIFFERENT'} (base, ours)")
    if args.profile:
        profile(slugs, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
