"""Benchmark: one trust's static charts (PNG + SVG), matplotlib against the canvas renderer.

Usage: ``python bench/charts.py [--workbook PATH] [--repeat N]``

Both sides draw every chart of one trust's report (``charts.all_charts``: 32 on the
demo trust) to PNG (150 dpi) and SVG, side by side in one run, each in a fresh Python
process so that each pays its own imports, as a report does:

old
    the matplotlib path ``save_static`` used before: a constrained-layout figure in
    seaborn's whitegrid style, drawn to PNG (again when the subtitle had to be
    re-wrapped), then to SVG with text as paths.
new
    ``analysis.render.charts.save_static``: one canvas layout written as a Pillow PNG
    and an SVG whose words are ``<text>``.

The sides alternate (old, new, old, new, ...) ``--repeat`` times, so load from other
work on the machine falls on both. Printed: per side, the imports, the first (cold)
pass over the charts and a second (warm) pass, in wall and CPU seconds, and the ratios;
then whether every chart kept its content: the same PNG size in pixels, and the same
words in its SVG (the old SVG keeps each text as a comment beside its glyph paths).
Target (issue 15): the 32 charts in at most 2 s.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "charts"
PY = sys.executable

SIDE = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
side, findings_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
from analysis.instrument import load_instrument
from analysis.pipeline.report import read_findings
from analysis.render import charts
if side == "old":
    import matplotlib
    from analysis.render.charts import static

    def save(chart, out_dir):
        from pathlib import Path
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        fig = static.figure(chart)
        png, svg = out_dir / f"{chart.id}.png", out_dir / f"{chart.id}.svg"
        kw = dict(dpi=150, metadata={"Software": None}, pil_kwargs={"compress_level": 3})
        with matplotlib.rc_context(static.STATIC_RC):
            fig.savefig(png, **kw)
            if static.refit_subtitle(fig):
                fig.savefig(png, **kw)
            fig.set_layout_engine("none")
            fig.savefig(svg, metadata={"Date": None, "Creator": None})
else:
    save = charts.save_static
inst = load_instrument()
f = read_findings(findings_dir)
cs = charts.all_charts(f, inst)
res = {"imports": (time.perf_counter() - t0, time.process_time() - c0), "n": len(cs)}
for name, folder in (("cold", out), ("warm", out + "-warm")):
    t, c = time.perf_counter(), time.process_time()
    for chart in cs:
        save(chart, folder)
    res[name] = (time.perf_counter() - t, time.process_time() - c)
print(json.dumps(res))
"""


def run_side(side: str, findings_dir: Path, out: Path) -> dict:
    proc = subprocess.run(
        [PY, "-c", SIDE, side, str(findings_dir), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{side} side failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def words_old(svg: Path) -> Counter:
    """The words of a matplotlib SVG (its texts are comments beside the glyph paths)."""
    texts = re.findall(r"<!-- (.*?) -->", svg.read_text(encoding="utf-8"), flags=re.S)
    texts = [html.unescape(t).replace(r"\$", "$") for t in texts]
    return Counter(w for t in texts for w in t.split())


def words_new(svg: Path) -> Counter:
    import xml.etree.ElementTree as ET

    root = ET.parse(svg).getroot()
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    return Counter(w for t in texts for w in t.split())


def compare(old: Path, new: Path) -> list[str]:
    from PIL import Image

    problems = []
    pngs = sorted(old.glob("*.png"))
    for png in pngs:
        twin = new / png.name
        if not twin.exists():
            problems.append(f"{png.stem}: missing")
            continue
        a, b = Image.open(png).size, Image.open(twin).size
        if a != b:
            problems.append(f"{png.stem}: PNG {a} -> {b}")
        wo, wn = words_old(png.with_suffix(".svg")), words_new(twin.with_suffix(".svg"))
        if wo != wn:
            problems.append(f"{png.stem}: words lost {dict(wo - wn)}, added {dict(wn - wo)}")
    return [f"{len(pngs)} charts compared"] + problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workbook", type=Path, default=None, help="default: the demo trust's")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each side (alternating)")
    args = ap.parse_args(argv)

    os.environ["ANALYSIS_PROCESSED_DIR"] = str(RESULTS / "processed")
    os.environ["ANALYSIS_OUTPUTS_DIR"] = str(RESULTS / "outputs")
    from analysis import config
    from analysis.pipeline.report import build_findings

    workbook = args.workbook or config.RAW_DIR / f"{config.DEFAULT_TRUST}.xlsx"
    if not workbook.exists():
        subprocess.run([PY, "-m", "analysis", "demo-data"], cwd=ROOT, check=True)
    findings_dir = RESULTS / "findings"
    build_findings(workbook.stem, workbook, out_dir=findings_dir)

    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for n in range(args.repeat):
        for side in ("old", "new"):
            runs[side].append(run_side(side, findings_dir, RESULTS / f"{side}{n}"))
    n_charts = runs["new"][0]["n"]
    print(
        f"{n_charts} charts of {workbook.stem}, PNG + SVG; {os.cpu_count()} cores; "
        f"load average {os.getloadavg()[0]:.1f}; best of {args.repeat} per side\n"
    )
    print(
        f"  {'':<26}{'old wall':>10}{'new wall':>10}{'ratio':>8}"
        f"{'old CPU':>10}{'new CPU':>10}{'ratio':>8}"
    )
    for phase in ("imports", "cold", "warm"):
        o = [min(r[phase][i] for r in runs["old"]) for i in (0, 1)]
        w = [min(r[phase][i] for r in runs["new"]) for i in (0, 1)]
        label = {"imports": "imports + findings", "cold": "charts, first pass"}.get(
            phase, "charts, second pass"
        )
        print(
            f"  {label:<26}{o[0]:>9.2f}s{w[0]:>9.2f}s{o[0] / w[0]:>7.1f}x"
            f"{o[1]:>9.2f}s{w[1]:>9.2f}s{o[1] / w[1]:>7.1f}x"
        )
    print(f"\ntarget: the charts in <= 2 s (issue 15); load average now {os.getloadavg()[0]:.1f}")
    print("\ncontent (old -> new): PNG size in pixels and the words of each SVG")
    for line in compare(RESULTS / "old0", RESULTS / "new0"):
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
