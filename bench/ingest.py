"""Benchmark: reading and validating a 10,000-case workbook, the fast reader against openpyxl.

Usage: ``python bench/ingest.py [--cases 10000] [--repeat 1]``

Writes ``bench/results/ingest-<n>-<instrument hash>.xlsx`` (the demo profile's generator,
scaled to ``--cases``, on the full default instrument) once, then in one run, side by side:

- fast path: ``analysis.ingest.read_cases`` as shipped (the guard inflating every part and
  counting its cells, then fastexcel: calamine straight to Arrow strings; python-calamine
  only for sheet metadata);
- openpyxl: the same ``read_cases`` (same normalisation and validation) with only
  the reader swapped for ``pandas.read_excel(engine="openpyxl")``;

and the reading step alone for both. The target (>= 10x) is on the whole of
``read_cases``, read + normalise + validate, in wall time; CPU time is printed beside
it. Both paths must return the same frame, which is checked.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.ingest import guards, read_cases, readers
from analysis.ingest.problems import Report
from analysis.instrument import load_instrument

RESULTS = config.PROJ_ROOT / "bench" / "results"


def make_workbook(n: int, path: Path) -> Path:
    """A valid n-case workbook on the default instrument (cached between runs)."""
    if path.exists():
        return path
    from analysis.synthetic import generate as synth

    inst = load_instrument()
    t = time.perf_counter()
    cases = synth.generate(config.DEFAULT_TRUST, instrument=inst, n_cases=n)
    cases["case_id"] = [f"C{i:06d}" for i in range(len(cases))]  # unique at any size
    synth.write_workbook(cases, path, inst)
    print(
        f"wrote {path} ({n} cases x {len(inst.columns)} columns) in {time.perf_counter() - t:.1f}s"
    )
    return path


def _openpyxl_reader():
    """A drop-in for readers._read_excel that reads with pandas + openpyxl (no guard)."""

    def read(path: Path, kind: str, sheet: str | None, rep, limits=None):
        df = pd.read_excel(
            path,
            sheet_name=sheet or config.CASES_SHEET,
            header=None,
            dtype=object,
            engine="openpyxl",
            keep_default_na=False,  # "NA" typed by a user is text, as calamine keeps it
        )
        df = df.where(df.notna(), "")  # an empty cell reads as blank on both sides
        df.columns = range(df.shape[1])
        return readers.Grid(df, [], "xlsx")

    return read


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall time and best CPU time of ``repeat`` runs, and the last result.

    The best run is the least disturbed by other work on the machine (as timeit
    reports); CPU time is shown too because on a shared machine it is the steadier
    measure of what the code itself costs.
    """
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the fast side (best kept)")
    ap.add_argument("--repeat-slow", type=int, default=1, help="runs of the openpyxl side")
    args = ap.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    inst = load_instrument()
    # Keyed by the instrument's hash: a workbook made for an older instrument may not be valid.
    path = make_workbook(args.cases, RESULTS / f"ingest-{args.cases}-{inst.sha256[:10]}.xlsx")
    size = path.stat().st_size / 1e6
    print(f"workbook: {path.name}, {size:.1f} MB, {args.cases} cases x {len(inst.columns)} columns")

    shipped = readers._read_excel
    slow = _openpyxl_reader()

    def read_fast():
        return shipped(path, "zip", None, Report(path.name))

    def read_openpyxl():
        return slow(path, "zip", None, Report(path.name))

    def full(reader):
        readers._read_excel = reader
        try:
            # The workbook is the default profile's: its trust column names that organisation.
            return read_cases(path, instrument=inst, trust=config.DEFAULT_TRUST)
        finally:
            readers._read_excel = shipped

    g_fast, gc_fast, _ = timed(lambda: guards.check_zip(path, Report(path.name)), args.repeat)
    r_fast, rc_fast, _ = timed(read_fast, args.repeat)
    r_slow, rc_slow, _ = timed(read_openpyxl, args.repeat_slow)
    f_fast, fc_fast, df_fast = timed(lambda: full(shipped), args.repeat)
    f_slow, fc_slow, df_slow = timed(lambda: full(slow), args.repeat_slow)

    same = df_fast.equals(df_slow)
    if not same:
        try:
            pd.testing.assert_frame_equal(df_fast, df_slow, check_dtype=False)
            same = True
        except AssertionError as exc:
            print(f"note: outputs differ: {str(exc).splitlines()[0]}")
    print()
    head = f"{'step':<30}{'fast':>10}{'openpyxl':>10}{'ratio':>8}"
    print(head + f"{'cpu fast':>14}{'cpu openpyxl':>14}{'cpu ratio':>10}")
    for name, a, b, ca, cb in (
        ("read only (cells to a grid)", r_fast, r_slow, rc_fast, rc_slow),
        ("read + normalise + validate", f_fast, f_slow, fc_fast, fc_slow),
    ):
        print(
            f"{name:<30}{a:>9.2f}s{b:>9.2f}s{b / a:>7.1f}x{ca:>13.2f}s{cb:>13.2f}s{cb / ca:>9.1f}x"
        )
    validate = max(fc_fast - rc_fast, 0.0)
    print(
        f"\nvalidation (read_cases minus reading, CPU): ~{validate:.2f}s, "
        f"{100 * validate / fc_fast:.0f}% of the fast path; it costs the same on both sides"
    )
    print(
        f"of which the guard (inflate every part, count its cells): {g_fast:.2f}s wall, "
        f"{gc_fast:.2f}s cpu ({100 * gc_fast / max(rc_fast, 1e-9):.0f}% of the fast read)"
    )
    print(f"same cases from both readers: {'yes' if same else 'NO'}")
    wall_x, cpu_x = f_slow / f_fast, fc_slow / fc_fast
    verdict = "met" if wall_x >= 10 else "NOT met"
    print(f"target >= 10x for read + validate: {verdict} (wall {wall_x:.1f}x, cpu {cpu_x:.1f}x)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
