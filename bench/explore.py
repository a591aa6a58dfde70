"""Benchmark: one explore interaction, the old path (the whole engine) against the new (masks).

Usage: ``python bench/explore.py [--repeats N]``

Runs on the twelve demo workbooks in ``data/raw/`` (written with ``python -m analysis
demo-data`` when missing), ingested into ``bench/results/explore/`` (or the folders named
by ``ANALYSIS_RAW_DIR`` / ``ANALYSIS_PROCESSED_DIR``), side by side in one run, for one
73-case trust (``norfolk-and-suffolk``) and for the twelve trusts pooled (about 850 cases).

An interaction is a filter change (the case type, cycling through its values, then all
of them), timed three ways:

old, full
    ``analysis.engine.run.analyse`` on the filtered cases, comparisons included: what
    the notebook would have to run to show comparisons (0.70 s when the issue was filed);
old, scores only
    the same with ``comparisons=()``, what the old notebook ran (0.11 s then);
new, engine
    :class:`analysis.engine.explore.Explorer` on a mask: the scores, every question, one
    question by every case detail, and every question compared between two groups
    (offender manager grade within the filter) with Fisher's exact test and FDR;
new, view
    the same through :class:`analysis.render.explore.ExploreView`, HTML included: what a
    widget change costs before the browser draws it.

The one-off preparation (the judgement matrix and the groups, once per case table) is
printed separately. Targets (issue 15): at most 100 ms per interaction on the 73-case
trust and 1 s on the pooled trusts. Medians of ``--repeats`` interactions; the machine's
load is printed, since a shared machine slows every side alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# Processed cases go to the benchmark's own folder (read at import by analysis.config), so
# a run never writes into data/processed; the workbooks are read from data/raw.
os.environ.setdefault("ANALYSIS_PROCESSED_DIR", str(ROOT / "bench" / "results" / "explore"))

from analysis import config  # noqa: E402
from analysis.engine import run as engine  # noqa: E402
from analysis.engine.explore import Explorer  # noqa: E402
from analysis.instrument import load_instrument  # noqa: E402
from analysis.pipeline import report  # noqa: E402
from analysis.render.explore import ExploreView  # noqa: E402

TRUST = "norfolk-and-suffolk"
TARGETS = {"one trust": 0.100, "pooled": 1.0}


def ensure_demo() -> None:
    """Write the demo workbooks when ``data/raw`` has none (processing happens on load)."""
    if not list(config.RAW_DIR.glob("*.xlsx")) and not list(config.PROCESSED_DIR.glob("*.parquet")):
        subprocess.run([sys.executable, "-m", "analysis", "demo-data"], check=True)


def interactions(ex: Explorer, repeats: int) -> list[dict[str, tuple[str, ...]]]:
    """Filter states to step through: each case type alone, then all of them, cycling."""
    d = ex.details["case_type"]
    states = [{"case_type": (g,)} for g in d.groups] + [{"case_type": d.options}]
    return [states[i % len(states)] for i in range(repeats)]


def timed(step, states) -> tuple[float, float]:
    """Median wall and CPU seconds of ``step(state)`` over the states."""
    wall, cpu = [], []
    for sel in states:
        t, c = time.perf_counter(), time.process_time()
        step(sel)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def old_step(cases: pd.DataFrame, ex: Explorer, inst, comparisons: bool):
    kw = {} if comparisons else {"comparisons": ()}
    return lambda sel: engine.analyse(cases[ex.mask(sel)], inst, "explore", **kw)


def new_step(ex: Explorer, question: str):
    def step(sel) -> None:
        m = ex.mask(sel)
        ex.scores(m)
        ex.questions_frame(m)
        ex.by_detail(question, m)
        ex.differences(
            m & ex.group_mask("om_grade", ["PO"]), m & ex.group_mask("om_grade", ["PSO"])
        )

    return step


def view_step(view: ExploreView):
    def step(sel) -> None:
        # What a widget change does: the filter's callback recomputes and redraws.
        view.filters["case_type"].value = sel["case_type"]

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=12, help="interactions per side")
    args = parser.parse_args(argv)
    ensure_demo()
    inst = load_instrument()
    tables = {
        "one trust": report.load_cases(TRUST, inst),
        "pooled": report.load_pooled_cases(inst),
    }
    print(
        f"cores: {os.cpu_count()}; load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(f"median of {args.repeats} interactions (a filter change), seconds\n")
    head = f"{'cases':<16}{'prepare':>8}{'old full':>14}{'old scores':>14}{'new engine':>14}"
    head += f"{'new view':>14}{'full/view':>10}{'target':>7}  met (wall / cpu)"
    print(head, flush=True)
    print(f"{'':<16}{'':>8}" + f"{'wall / cpu':>14}" * 4)
    for name, cases in tables.items():
        t = time.perf_counter()
        ex = Explorer(cases, inst)
        prepare = time.perf_counter() - t
        view = ExploreView(ex, inst)
        states = interactions(ex, args.repeats)
        full = timed(old_step(cases, ex, inst, comparisons=True), states)
        scores = timed(old_step(cases, ex, inst, comparisons=False), states)
        new = timed(new_step(ex, ex.questions[0]), states)
        shown = timed(view_step(view), states)
        target = TARGETS[name]
        cells = "".join(f"{w:>7.3f} {c:<6.3f}" for w, c in (full, scores, new, shown))
        print(
            f"{name + f' ({len(cases)})':<16}{prepare:>8.3f}{cells}{full[0] / shown[0]:>9.1f}x"
            f"{target:>7.2f}  {'yes' if shown[0] <= target else 'NO'} / "
            f"{'yes' if shown[1] <= target else 'NO'}",
            flush=True,
        )
    print(
        "\nwall / cpu: median wall-clock and CPU seconds per interaction (CPU time grows less "
        "when other work shares the machine).\nfull/view: old full recompute over the new "
        "view, wall clock; 'met': the new view's wall and CPU time against the target (on a "
        "machine shared with other work, CPU time is closer to what a quiet one gives)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
