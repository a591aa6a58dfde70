"""Benchmark: analyse + write_findings on a million synthetic cases of the default instrument.

Usage: ``python bench/score_million.py [--cases N] [--strings]``

Answers are random codes (roughly 60% above, 30% below, 10% not applicable)
with skip rules applied, so not-applicable patterns look like real data. Coded
columns are categorical by default (what a dictionary-encoded parquet gives);
``--strings`` uses plain string columns instead (slower: every column is hashed).
Prints ``cases, seconds, peak GiB`` where seconds is the wall time of analyse +
write_findings and peak GiB the process's peak resident memory (ru_maxrss), data
included; a comment line on stderr adds the CPU time and the load average, since
wall time on a shared machine says more about the neighbours than the code.
Target: under 10 s and 4 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from analysis.engine.run import analyse, write_findings
from analysis.instrument import ABOVE, BELOW, NA, load_instrument


def synthetic_cases(n: int, seed: int = 20140301) -> pd.DataFrame:
    """Random cases respecting the instrument's skip rules (vectorised, no per-row Python)."""
    inst = load_instrument()
    rng = np.random.default_rng(seed)
    cols: dict[str, pd.Categorical | np.ndarray] = {}
    codes: dict[str, np.ndarray] = {}
    cats: dict[str, list[str]] = {}
    for d in inst.case_details.values():
        if d.codes:
            cats[d.id] = list(d.codes)
            codes[d.id] = rng.integers(0, len(d.codes), n, dtype=np.int8)
        elif d.id == "ldu":
            cats[d.id] = [
                "Norwich & Kings Lynn",
                "Ipswich/Bury St Edmunds",
                "Waveney and Yare",
                "Great Yarmouth",
                "Lowestoft",
            ]
            codes[d.id] = rng.integers(0, len(cats[d.id]), n, dtype=np.int8)
        elif d.type == "count":
            cols[d.id] = rng.integers(1, 4, n)
    for q in inst.questions.values():
        aset = inst.answer_set(q)
        if aset is None:
            cols[q.id] = rng.integers(0, 5, n)
            continue
        values = list(aset.code_values)
        weights = np.array(
            [
                {ABOVE: 6.0, BELOW: 3.0 / max(1, len(aset.codes_scoring(BELOW))), NA: 1.0}.get(
                    c.scores, 1.0
                )
                for c in aset.codes
            ]
        )
        c = rng.choice(len(values), size=n, p=weights / weights.sum()).astype(np.int8)
        if q.applies_when and aset.na_code is not None:
            ok = np.ones(n, dtype=bool)
            for col, allowed in q.applies_when.items():
                idx = [cats[col].index(v) for v in allowed if v in cats.get(col, [])]
                ok &= np.isin(codes[col], idx) if col in codes else True
            c[~ok] = values.index(aset.na_code)
        codes[q.id], cats[q.id] = c, values
    for k, c in codes.items():
        cols[k] = pd.Categorical.from_codes(c, categories=cats[k])
    return pd.DataFrame(cols)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--strings", action="store_true", help="plain string columns")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    cases = synthetic_cases(args.cases)
    if args.strings:
        cases = cases.astype(
            {c: "str" for c in cases.columns if isinstance(cases[c].dtype, pd.CategoricalDtype)}
        )
    t_build = time.perf_counter() - t0
    inst = load_instrument()
    t1, c1 = time.perf_counter(), time.process_time()
    df = analyse(cases, inst, "bench")
    t_analyse = time.perf_counter() - t1
    with tempfile.TemporaryDirectory() as tmp:
        write_findings(df, tmp)
    t_total = time.perf_counter() - t1
    cpu_total = time.process_time() - c1
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"# {len(inst.questions)} questions, {len(df)} findings rows, {cores} cores; "
        f"build {t_build:.1f} s, analyse {t_analyse:.1f} s, analyse + write CPU "
        f"{cpu_total:.1f} s, load average {os.getloadavg()[0]:.1f}, "
        f"{'strings' if args.strings else 'categorical'} columns",
        file=sys.stderr,
    )
    print("cases, seconds, peak GiB")
    print(f"{args.cases}, {t_total:.2f}, {peak_gib:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
