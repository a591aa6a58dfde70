"""Benchmark: the parallel batch against the loop of commands a user would write.

Usage: ``python bench/batch.py [--trusts N] [--skip-baseline] [--skip-profile] [--skip-warm]``

Runs on the twelve demo workbooks in ``data/raw/`` (written with
``python -m analysis demo-data`` when missing), side by side in one run, each
side in its own output folders under ``bench/results/`` so neither reuses the
other's files:

baseline
    for each trust, one after the other, as separate commands: ``python -m
    analysis ingest``, ``python -m analysis analyse``, the tables and static
    charts (one ``python -c`` call to ``analysis.render.tables`` / ``analysis.render.charts``,
    the work ``report`` also does), ``papermill notebooks/10_report.ipynb
    out.ipynb -p trust SLUG``, ``jupyter nbconvert --to html --no-input
    out.ipynb``.
ours
    ``python -m analysis batch --force --no-aggregate`` (ingest, analyse,
    tables, charts, notebook and offline export per trust, in parallel worker
    processes). The aggregate is left out because the baseline has none.

It prints both wall times and their ratio (target: ours at least 8x faster on
2 cores), CPU seconds of each side, per-trust times, whether findings.csv and
tables.xlsx are identical on both sides, the peak memory of the largest process
of ours (a batch worker or its kernel; target at most 1 GiB), the aggregate of
ours' trusts (``python -m analysis aggregate``; target at most 10 s), a phase
profile of one trust's run (ingest, analyse, tables, charts, kernel start,
notebook imports, notebook execution, export), and the time per trust in a warm
batch worker (imports made and kernel started, as ``batch`` does; target at most
3 s per trust), with the CPU of the worker and its kept kernel.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "batch"
PY = sys.executable
BIN = Path(PY).parent


def env_for(side: str) -> dict[str, str]:
    """Environment that sends one side's processed data and outputs to its own folders."""
    env = dict(os.environ)
    env["ANALYSIS_PROCESSED_DIR"] = str(RESULTS / side / "processed")
    env["ANALYSIS_OUTPUTS_DIR"] = str(RESULTS / side / "outputs")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def child_cpu() -> float:
    """CPU seconds used so far by finished child processes and their descendants.

    Kernels are children of papermill or of batch workers, which wait for them, so
    their CPU counts too. Unlike wall time, this does not grow when other work
    shares the machine, so it shows how much work each side does.
    """
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    return time.perf_counter() - t


TABLES_AND_CHARTS = """
import sys
from analysis.render import charts, tables
from analysis import config
from analysis.instrument import load_instrument
from analysis.pipeline.report import read_findings
from analysis.synthetic.demo import is_synthetic
trust, workbook = sys.argv[1], sys.argv[2]
out = config.trust_output_dir(trust)
inst = load_instrument()
f = read_findings(out)
# As report does: demo workbooks' tables say they hold synthetic data.
tables.write_tables(f, inst, out / "tables.xlsx", "internal", synthetic=is_synthetic(workbook))
for c in charts.all_charts(f, inst):
    charts.save_static(c, out / "charts")
"""


def baseline(workbooks: list[Path]) -> tuple[float, float, dict[str, dict[str, float]]]:
    env = env_for("baseline")
    per: dict[str, dict[str, float]] = {}
    c0 = child_cpu()
    t0 = time.perf_counter()
    for wb in workbooks:
        slug = wb.stem
        out = RESULTS / "baseline" / "outputs" / slug
        out.mkdir(parents=True, exist_ok=True)
        steps = {}
        steps["ingest"] = run([PY, "-m", "analysis", "ingest", str(wb), "--trust", slug], env)
        steps["analyse"] = run([PY, "-m", "analysis", "analyse", "--trust", slug], env)
        steps["tables+charts"] = run([PY, "-c", TABLES_AND_CHARTS, slug, str(wb)], env)
        nb = out / "out.ipynb"
        steps["papermill"] = run(
            [
                str(BIN / "papermill"),
                "notebooks/10_report.ipynb",
                str(nb),
                "-p",
                "trust",
                slug,
                "--cwd",
                "notebooks",
            ],
            env,
        )
        steps["nbconvert"] = run(
            [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(nb)], env
        )
        steps["total"] = sum(steps.values())
        per[slug] = steps
        print(f"  baseline {slug:<28} {steps['total']:6.1f}s", flush=True)
    return time.perf_counter() - t0, child_cpu() - c0, per


def ours(workbooks: list[Path]) -> tuple[float, float, dict[str, float], str]:
    env = env_for("ours")
    cmd = [PY, "-m", "analysis", "batch", "--force", "--no-aggregate", "--no-progress"]
    cmd += [str(w) for w in workbooks]
    c0 = child_cpu()
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    cpu = child_cpu() - c0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr[-4000:])
        raise SystemExit("batch failed")
    # ru_maxrss of the children: the largest resident set any process of the batch reached
    # (the batch itself, a worker, a kernel); ours runs first, so nothing else counts yet.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak memory of ours' largest process (a worker or its kernel): {peak:.0f} MiB "
        "(target <= 1024 MiB)"
    )
    summary = json.loads(
        (RESULTS / "ours" / "outputs" / "aggregate" / "batch-summary.json").read_text()
    )
    return wall, cpu, {r["trust"]: r["seconds"] for r in summary}, proc.stdout


def aggregate_ours(slugs: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of ``python -m analysis aggregate`` over ours' trusts."""
    c0 = child_cpu()
    wall = run([PY, "-m", "analysis", "aggregate", *slugs], env_for("ours"))
    return wall, child_cpu() - c0


def _proc_cpu(pid: int) -> float:
    """CPU seconds a running process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def warm_worker(workbooks: list[Path]) -> list[tuple[str, float, float]]:
    """Per trust in a warm batch worker: (trust, wall s, CPU s of the worker and its kernel).

    This process becomes a worker as ``batch`` makes one (imports, a kept kernel), then
    runs each organisation's report in turn, as a worker does.
    """
    os.environ.update(env_for("profile"))  # before analysis.config is first imported
    from analysis.pipeline import batch, kernels, report

    t = time.perf_counter()
    batch.warm_worker()
    print(f"  warm-up (imports, kernel started): {time.perf_counter() - t:.1f}s", flush=True)
    out = []
    for wb in workbooks:
        pid = kernels._warm["km"].provisioner.process.pid
        c0 = time.process_time() + _proc_cpu(pid)
        t = time.perf_counter()
        report.run_report(wb.stem, wb, out_dir=RESULTS / "profile" / "warm" / wb.stem)
        wall = time.perf_counter() - t
        same = kernels._warm["km"].provisioner.process.pid == pid
        cpu = time.process_time() + (_proc_cpu(pid) if same else float("nan")) - c0
        out.append((wb.stem, wall, cpu))
        note = "" if same else " (kernel was replaced!)"
        print(f"  {wb.stem:<28} {wall:6.1f}s wall {cpu:6.1f}s CPU{note}", flush=True)
    return out


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"


def xlsx_cells_equal(a: Path, b: Path) -> bool:
    """Same sheets and cell values (ignoring zip metadata such as timestamps)."""
    import openpyxl

    wa, wb_ = openpyxl.load_workbook(a, read_only=True), openpyxl.load_workbook(b, read_only=True)
    if wa.sheetnames != wb_.sheetnames:
        return False
    for name in wa.sheetnames:
        ra = list(wa[name].iter_rows(values_only=True))
        rb = list(wb_[name].iter_rows(values_only=True))
        if ra != rb:
            return False
    return True


def compare_outputs(slugs: list[str]) -> list[str]:
    lines = []
    for slug in slugs:
        a = RESULTS / "baseline" / "outputs" / slug
        b = RESULTS / "ours" / "outputs" / slug
        f_same = sha(a / "findings.csv") == sha(b / "findings.csv")
        t_same = sha(a / "tables.xlsx") == sha(b / "tables.xlsx")
        note = ""
        if not t_same and (a / "tables.xlsx").exists() and (b / "tables.xlsx").exists():
            note = (
                " (cell values identical)"
                if xlsx_cells_equal(a / "tables.xlsx", b / "tables.xlsx")
                else ""
            )
        lines.append(
            f"  {slug:<28} findings.csv {'identical' if f_same else 'DIFFERENT'}, "
            f"tables.xlsx {'identical' if t_same else 'DIFFERENT' + note}"
        )
    return lines


# -- profile of one trust ------------------------------------------------------------------------


def profile_one(workbook: Path) -> list[tuple[str, float]]:
    """Time each phase of one trust's pipeline in this process (cold: first run here)."""
    os.environ.update(env_for("profile"))
    t = time.perf_counter()
    import pandas as pd

    from analysis import config, ingest
    from analysis.engine import run as engine
    from analysis.instrument import load_instrument
    from analysis.pipeline import staged_charts
    from analysis.render import charts, tables

    phases = [("python imports (pandas, analysis)", time.perf_counter() - t)]
    slug = workbook.stem
    out = config.trust_output_dir(slug)
    out.mkdir(parents=True, exist_ok=True)

    def step(name, fn):
        t = time.perf_counter()
        res = fn()
        phases.append((name, time.perf_counter() - t))
        print(f"    {name}: {phases[-1][1]:.2f}s", file=sys.stderr, flush=True)
        return res

    inst = load_instrument()
    res = step(
        "ingest (read + validate)", lambda: ingest.ingest_file(workbook, slug, instrument=inst)
    )
    cases = pd.read_parquet(res.path)
    f = step("analyse (findings)", lambda: engine.analyse(cases, inst, slug))
    step("write findings", lambda: engine.write_findings(f, out))
    step("tables.xlsx", lambda: tables.write_tables(f, inst, out / "tables.xlsx", "internal"))
    # As the pipeline does: built once, staged for the notebook (which reads them).
    cs = step("charts: build (once, staged for the notebook)", lambda: charts.all_charts(f, inst))
    step("charts: stage for the notebook", lambda: staged_charts.write(out, cs))
    step(
        f"charts: static PNG+SVG ({len(cs)})",
        lambda: [charts.save_static(c, out / "charts") for c in cs],
    )

    import nbformat
    import papermill.parameterize as pmp
    from nbclient import NotebookClient
    from papermill.iorw import load_notebook_node

    # papermill's loader fills the metadata (tags) that parameterize_notebook expects.
    nb = load_notebook_node(str(ROOT / "notebooks" / "10_report.ipynb"))
    nb = pmp.parameterize_notebook(nb, {"trust": slug, "out_dir": str(out)})
    client = NotebookClient(
        nb, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}
    )
    t = time.perf_counter()
    client.km = client.create_kernel_manager()
    client.start_new_kernel()
    client.start_new_kernel_client()
    phases.append(("kernel start", time.perf_counter() - t))
    try:
        code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        first = True
        t_rest = 0.0
        for i, c in code:
            t = time.perf_counter()
            client.execute_cell(c, i)
            dt = time.perf_counter() - t
            if first and "import" in c.source:
                phases.append(("notebook: imports cell", dt))
                first = False
            else:
                t_rest += dt
        phases.append(("notebook: other cells", t_rest))
    finally:
        client._cleanup_kernel()
        staged_charts.remove(out)
    nb_path = out / "report.ipynb"
    nbformat.write(nb, str(nb_path))

    from analysis.render.export import export_html

    step("export HTML (nbconvert, in process)", lambda: export_html(nb_path, out / "report.html"))
    t = time.perf_counter()
    subprocess.run([PY, "-c", "import papermill"], check=True)
    phases.append(("(baseline extra) `import papermill` in a new process", time.perf_counter() - t))
    t = time.perf_counter()
    subprocess.run(
        [str(BIN / "jupyter"), "nbconvert", "--version"], check=True, capture_output=True
    )
    phases.append(("(baseline extra) start `jupyter nbconvert`", time.perf_counter() - t))
    t = time.perf_counter()
    subprocess.run([PY, "-c", "import analysis.engine.run, pandas"], check=True)
    phases.append(
        ("(baseline extra) `import pandas, analysis` per command", time.perf_counter() - t)
    )
    return phases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trusts", type=int, default=12, help="how many demo trusts to run")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--skip-profile", action="store_true")
    ap.add_argument("--skip-warm", action="store_true", help="skip the warm-worker timing")
    ap.add_argument("--warm-trusts", type=int, default=3, help="trusts for the warm worker")
    ap.add_argument("--raw", type=Path, default=None, help="workbook folder (default data/raw)")
    args = ap.parse_args(argv)

    raw = args.raw or ROOT / "data" / "raw"
    books = sorted(raw.glob("*.xlsx"))
    if len(books) < args.trusts and args.raw is None:
        print("writing demo workbooks: python -m analysis demo-data", flush=True)
        subprocess.run([PY, "-m", "analysis", "demo-data"], cwd=ROOT, check=True)
        books = sorted(raw.glob("*.xlsx"))
    for side in ("baseline", "ours", "profile", "raw"):
        shutil.rmtree(RESULTS / side, ignore_errors=True)
    # Private copies: a workbook rewritten while the benchmark runs (demo-data --force)
    # would otherwise give the two sides different inputs.
    (RESULTS / "raw").mkdir(parents=True)
    books = [Path(shutil.copy2(b, RESULTS / "raw" / b.name)) for b in books[: args.trusts]]
    slugs = [b.stem for b in books]
    print(f"{len(books)} trusts, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    print(
        "both sides: ingest, analyse, tables.xlsx, static charts, execute 10_report.ipynb, "
        "export HTML\n  baseline: 5 commands per trust, one after the other (nbconvert's "
        "default HTML)\n  ours: python -m analysis batch --force --no-aggregate "
        "(offline HTML with plotly.js inlined)\n"
    )

    wall_ours, cpu_ours, per_ours, out = ours(books)
    print(out)
    agg_wall, agg_cpu = aggregate_ours(slugs)
    print(
        f"aggregate of {len(slugs)} trusts: {agg_wall:.1f}s wall, {agg_cpu:.1f}s CPU "
        f"(target <= 10 s); load average {os.getloadavg()[0]:.1f}"
    )
    if not args.skip_baseline:
        wall_base, cpu_base, per_base = baseline(books)
    print("\nper-trust time (s)")
    print(f"  {'trust':<28}{'baseline':>10}{'ours':>8}")
    for s in slugs:
        b = per_base[s]["total"] if not args.skip_baseline else float("nan")
        print(f"  {s:<28}{b:>10.1f}{per_ours.get(s, float('nan')):>8.1f}")
    if not args.skip_baseline:
        steps = list(next(iter(per_base.values())))
        mean = {k: sum(p[k] for p in per_base.values()) / len(per_base) for k in steps}
        print("  baseline mean per step: " + ", ".join(f"{k} {v:.1f}s" for k, v in mean.items()))
        print(f"\nwall time: baseline {wall_base:.1f}s, ours {wall_ours:.1f}s")
        ratio = wall_base / wall_ours
        print(f"ratio: ours is {ratio:.2f}x faster (target >= 8x on 2 cores)")
        cores = min(os.cpu_count() or 1, len(books))
        print(
            f"CPU time (all processes): baseline {cpu_base:.1f}s, ours {cpu_ours:.1f}s "
            f"({cpu_base / cpu_ours:.2f}x less work); on an otherwise idle {cores}-core machine "
            f"ours would take about {cpu_ours / cores:.0f}s, a ratio of about "
            f"{cpu_base / (cpu_ours / cores):.1f}x"
        )
        print(f"load average now {os.getloadavg()[0]:.1f} (other work skews wall times)")
        print("\noutputs identical?")
        print("\n".join(compare_outputs(slugs)))
    else:
        print(f"\nwall time: ours {wall_ours:.1f}s")
    if not args.skip_profile:
        print(f"\nprofile of one trust ({slugs[0]}), phases in one process:")
        phases = profile_one(books[0])
        total = sum(t for n, t in phases if not n.startswith("(baseline"))
        for name, t in phases:
            share = "" if name.startswith("(baseline") else f"{100 * t / total:5.1f}%"
            print(f"  {name:<56}{t:7.2f}s {share}")
    if not args.skip_warm:
        print(
            f"\nper trust in a warm batch worker (target <= 3 s), load average "
            f"{os.getloadavg()[0]:.1f}:"
        )
        rows = warm_worker(books[1 : 1 + args.warm_trusts])
        later = rows[1:] or rows
        print(
            f"  after the first: mean {sum(w for _, w, _ in later) / len(later):.1f}s wall, "
            f"{sum(c for _, _, c in later) / len(later):.1f}s CPU per trust"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
