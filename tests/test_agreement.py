"""Every figure the outputs show agrees with findings.csv, rounded the one way (end to end).

Six of the twelve demo trusts are rendered by ``python -m analysis batch`` into a temporary
folder (the report needs the notebooks; nothing is written to ``data/`` or ``outputs/``), in
two halves of three, each with its own aggregate: this module renders and checks the even-numbered
trusts, ``test_agreement_odd.py`` the odd-numbered ones, with these same tests. Under
``make test`` (pytest-xdist, ``--dist loadfile``) the halves run in two workers at once: one
batch of twelve was the suite's longest file by far, and capped its wall time. Then every
"P% (n of N)", "n of N, P%" and "P%, n of N" in each
``report.html``, every row of a report table that pairs "n of N" with "P%", every score
sentence, the aggregate's score table, every label of the chart specs (rebuilt in-process
from ``findings.csv``, as the batch builds them) and every percentage of ``tables.xlsx`` is
checked against the findings row it shows, after :func:`analysis.render.present.round_half_up`.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from analysis import config
from analysis.engine.findings import conform
from analysis.ingest import declared_instrument
from analysis.instrument import load_instrument
from analysis.render import charts, narrative, present

pytestmark = pytest.mark.e2e

N_TRUSTS = 12
#: The demo trusts (sorted by file name) are split into PARTS halves; this module's is PART.
PARTS = 2
PART = 0
#: Every STRIDE-th trust of a half is rendered: six of the twelve (among them the reference,
#: Norfolk & Suffolk, and the smallest, Carrow Moor). The checks are the same for every trust
#: and the profiles are made from one generator; the other six cost about 200 s of CPU in
#: `make test` (issue 13 asks for under 10 minutes).
STRIDE = 2
AGGREGATE = "aggregate"
COUNT = r"(\d[\d,]*)"
#: "63% (50 of 80)", "(50 of 80, 63%)" and "63%, 50 of 80": the three ways a share is shown.
SHARE_FORMS = (
    (re.compile(rf"(\d+)% \({COUNT} of {COUNT}\)"), (0, 1, 2)),
    (re.compile(rf"\({COUNT} of {COUNT}, (\d+)%\)"), (2, 0, 1)),
    (re.compile(rf"(\d+)%, {COUNT} of {COUNT}"), (0, 1, 2)),
)


def _int(text: str) -> int:
    return int(text.replace(",", ""))


# -- rendering, once ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(request, tmp_path_factory) -> Path:
    """``outputs/`` of a batch run over this module's half of the 2013-14 demo workbooks."""
    part = request.module.PART
    tmp = tmp_path_factory.mktemp("agreement")
    raw = tmp / "raw"
    raw.mkdir()
    # The 2013-14 demo trusts: the other programmes' demo organisations (whose workbooks
    # name their instrument) have reports of their own words, checked in test_programmes.
    demo = [p for p in sorted(config.RAW_DIR.glob("*.xlsx")) if declared_instrument(p) is None]
    env = {
        **os.environ,
        "ANALYSIS_RAW_DIR": str(raw),
        "ANALYSIS_OUTPUTS_DIR": str(tmp / "outputs"),
        "ANALYSIS_PROCESSED_DIR": str(tmp / "processed"),
    }
    if len(demo) != N_TRUSTS:  # a fresh checkout: write the (deterministic) demo workbooks
        every = tmp / "demo"
        cmd = [sys.executable, "-m", "analysis", "demo-data", "--out", str(every)]
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=900)
        demo = [p for p in sorted(every.glob("*.xlsx")) if declared_instrument(p) is None]
    assert len(demo) == N_TRUSTS
    for p in demo[part::PARTS][::STRIDE]:
        shutil.copy2(p, raw / p.name)
    run = subprocess.run(
        [sys.executable, "-m", "analysis", "batch", "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return tmp / "outputs"


@pytest.fixture(scope="module")
def inst():
    return load_instrument()


def _organisations(outputs: Path) -> list[str]:
    return sorted(p.parent.name for p in outputs.glob("*/findings.csv"))


def _findings(outputs: Path, org: str) -> pd.DataFrame:
    df = pd.read_csv(outputs / org / "findings.csv", dtype=str, keep_default_na=False)
    for c in ("numerator", "denominator", "percent", "ci_low", "ci_high", "p_value", "p_adjusted"):
        df[c] = pd.to_numeric(df[c].replace("", None))
    return conform(df)


def _shown_rows(findings: pd.DataFrame) -> pd.DataFrame:
    """The rows a single-organisation renderer shows (the aggregate's pooled rows)."""
    pooled = findings[findings["trust"] == AGGREGATE]
    return pooled.reset_index(drop=True) if len(pooled) else findings


class Shares:
    """Which percentages findings rows with a given n of N may be shown as."""

    def __init__(self, findings: pd.DataFrame, ndigits: int = 0) -> None:
        self.allowed: dict[tuple[int, int], set[float]] = defaultdict(set)
        for r in findings.to_dict("records"):
            n, d, p = r["numerator"], r["denominator"], r["percent"]
            if present.is_missing(n) or present.is_missing(d) or present.is_missing(p):
                continue
            key = (present.whole(n), present.whole(d))
            self.allowed[key].add(present.round_half_up(float(p), ndigits))

    def check(self, shown: float, n: int, d: int, where: str) -> str | None:
        """A description of the disagreement, or None when ``shown`` is a rounded finding."""
        allowed = self.allowed.get((n, d))
        if allowed is None:
            return f"{where}: {shown} of {n} of {d}: no findings row has {n} of {d}"
        if shown not in allowed:
            return f"{where}: shows {shown} for {n} of {d}; findings round to {sorted(allowed)}"
        return None


def _text_shares(text: str, shares: Shares, where: str) -> tuple[int, list[str]]:
    seen, bad = 0, []
    for pattern, (ip, in_, id_) in SHARE_FORMS:
        for m in pattern.finditer(text):
            g = m.groups()
            seen += 1
            problem = shares.check(float(g[ip]), _int(g[in_]), _int(g[id_]), f"{where} {m[0]!r}")
            if problem:
                bad.append(problem)
    return seen, bad


# -- report.html ----------------------------------------------------------------------------


def _report_text(page: str) -> tuple[str, list[list[str]]]:
    """The report's visible text and alt texts, and the cells of every table row."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    labels = [f["aria-label"] for f in soup.select("figure[aria-label]")]
    for s in soup(["script", "style"]):
        s.decompose()
    rows = [
        [c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])]
        for tr in soup.find_all("tr")
    ]
    return soup.get_text(" ") + " " + " ".join(html.unescape(x) for x in labels), rows


def _score_sentences(text: str, findings: pd.DataFrame, inst) -> tuple[int, list[str]]:
    scores = findings[findings["kind"] == "outcome_score"].set_index("outcome")["percent"]
    seen, bad = 0, []
    for o in inst.outcomes.values():
        phrase = re.escape(getattr(o, "phrase", None) or narrative.outcome_phrase(o))
        for m in re.finditer(rf"Overall, (\d+)% of work to {phrase} was done well enough", text):
            seen += 1
            want = present.whole(scores[o.id])
            if int(m[1]) != want:
                bad.append(f"score sentence of {o.id}: {m[1]}% but the score rounds to {want}%")
    return seen, bad


def _score_table(rows: list[list[str]], findings: pd.DataFrame, inst) -> tuple[int, list[str]]:
    """The aggregate's table of every organisation's outcome scores, "63% (52 to 72)"."""
    sc = findings[findings["kind"] == "outcome_score"]
    by = {(r["trust"], r["outcome"]): r for r in sc.to_dict("records")}
    # The table names organisations by their display names; the findings by their slugs.
    slug = {present.trust_display_name(t): t for t in sc["trust"].unique()}
    seen, bad = 0, []
    for row in rows:
        org = AGGREGATE if row[0].startswith("All organisations") else slug.get(row[0], row[0])
        if len(row) != 1 + len(inst.outcomes) or (org, next(iter(inst.outcomes))) not in by:
            continue
        for o, cell in zip(inst.outcomes, row[1:], strict=True):
            m = re.fullmatch(r"(\d+)% \((-?\d+) to (-?\d+)\)", cell)
            if not m:
                continue
            seen += 1
            r = by[(org, o)]
            want = (present.whole(r["percent"]), present.fmt_ci(r["ci_low"], r["ci_high"]))
            if (int(m[1]), f"{m[2]} to {m[3]}") != want:
                bad.append(f"score table {org} {o}: {cell!r}, findings give {want}")
    return seen, bad


def test_report_html_agrees_with_the_findings(rendered, inst):
    orgs = _organisations(rendered)
    n_trusts = N_TRUSTS // PARTS // STRIDE  # the trusts this module renders, and its aggregate
    assert len(orgs) == n_trusts + 1 and AGGREGATE in orgs
    problems, counted = [], defaultdict(int)
    for org in orgs:
        findings = _findings(rendered, org)
        shares = Shares(_shown_rows(findings))
        text, rows = _report_text((rendered / org / "report.html").read_text(encoding="utf-8"))
        n, bad = _text_shares(text, shares, org)
        counted["shares in text"] += n
        problems += bad
        for row in rows:
            pair = [c for c in row if re.fullmatch(rf"{COUNT} of {COUNT}", c)]
            pct = [c for c in row if re.fullmatch(r"\d+%", c)]
            if len(pair) == 1 and len(pct) == 1:
                n_, d_ = (_int(x) for x in pair[0].split(" of "))
                counted["table rows"] += 1
                if problem := shares.check(float(pct[0][:-1]), n_, d_, f"{org} row {row}"):
                    problems.append(problem)
        n, bad = _score_sentences(text, _shown_rows(findings), inst)
        counted["score sentences"] += n
        problems += bad
        if org == AGGREGATE:
            n, bad = _score_table(rows, findings, inst)
            counted["aggregate scores"] += n
            problems += bad
    assert not problems, "\n".join(problems[:40])
    # The checks saw the figures they are about (a changed layout must not pass vacuously).
    # (Over the twelve trusts: more than 3000 shares in text and 2000 table rows.)
    assert counted["shares in text"] > 3000 // (PARTS * STRIDE)
    assert counted["table rows"] > 2000 // (PARTS * STRIDE)
    assert counted["score sentences"] == n_trusts * len(inst.outcomes)
    assert counted["aggregate scores"] == (n_trusts + 1) * len(inst.outcomes)


# -- chart specs ---------------------------------------------------------------------------


def _specs(findings: pd.DataFrame, inst, org: str) -> list:
    if org != AGGREGATE:
        return charts.all_charts(findings, inst)
    pooled = _shown_rows(findings)
    group_vars = present.comparison_vars(pooled.loc[pooled["kind"] == "comparison", "group_var"])
    return [charts.factor_chart(pooled, inst)] + [
        charts.comparison_chart(pooled, g, instrument=inst) for g in group_vars
    ]


def test_chart_specs_agree_with_the_findings(rendered, inst):
    problems, n_bars = [], 0
    for org in _organisations(rendered):
        findings = _findings(rendered, org)
        shown = _shown_rows(findings)
        shares = Shares(shown)
        sc = shown[shown["kind"] == "outcome_score"]
        scores = {
            inst.outcomes[o].short: p
            for o, p in zip(sc["outcome"], sc["percent"], strict=True)
            if o in inst.outcomes
        }
        for chart in _specs(findings, inst, org):
            where = f"{org} {chart.id}"
            for r in chart.data.itertuples(index=False):
                m = re.match(rf"(\d+)%(?: \({COUNT}(?: of {COUNT})?\))?", r.text)
                if r.suppressed or not m:
                    continue
                n_bars += 1
                shown_pct = float(m[1])
                if chart.id == "outcome-summary":  # scores: a percent, no n of N
                    want = present.whole(scores[r.label])
                    if shown_pct != want:
                        problems.append(f"{where} {r.label}: {r.text!r}, score rounds to {want}")
                    continue
                n_ = _int(m[2]) if m[2] else present.whole(r.numerator)
                d_ = _int(m[3]) if m[3] else present.whole(r.denominator)
                if problem := shares.check(shown_pct, n_, d_, f"{where} {r.label} {r.text!r}"):
                    problems.append(problem)
            for words in (chart.title, chart.alt_text):
                problems += _text_shares(words, shares, where)[1]
    assert not problems, "\n".join(problems[:40])
    assert n_bars > 3000 // (PARTS * STRIDE)  # (over the twelve trusts: more than 3000)


# -- tables.xlsx ---------------------------------------------------------------------------


def _triplets(header: list[str]) -> list[tuple[int, int, int]]:
    """(n, N, %) column positions: a percentage column after its numerator and base."""
    return [
        (j - 2, j - 1, j)
        for j, h in enumerate(header)
        if h.endswith("(%)")
        and j >= 2
        and header[j - 2].endswith("(number)")
        and header[j - 1].endswith("(number)")
    ]


def test_tables_xlsx_agrees_with_the_findings(rendered):
    problems, n_cells = [], 0
    for org in _organisations(rendered):
        shares = Shares(_shown_rows(_findings(rendered, org)), ndigits=1)
        wb = openpyxl.load_workbook(rendered / org / "tables.xlsx", read_only=False)
        for ws in wb.worksheets:
            for table in ws.tables.values():
                rows = [[c.value for c in r] for r in ws[table.ref]]
                header, body = rows[0], rows[1:]
                for i, j, k in _triplets(header):
                    for row in body:
                        n_, d_, pct = row[i], row[j], row[k]
                        if not all(isinstance(v, int | float) for v in (n_, d_, pct)):
                            continue
                        n_cells += 1
                        where = f"{org} {ws.title} {header[k]!r} {row[:4]}"
                        if problem := shares.check(pct, int(n_), int(d_), where):
                            problems.append(problem)
    assert not problems, "\n".join(problems[:40])
    assert n_cells > 5000 // (PARTS * STRIDE)  # (over the twelve trusts: more than 5000)


def test_internal_tables_describe_no_suppression_marker(rendered):
    # Internal findings never carry c, so neither the cover nor the notes may describe [c].
    for org in _organisations(rendered):
        wb = openpyxl.load_workbook(rendered / org / "tables.xlsx")
        words = " ".join(
            str(c.value)
            for ws in wb.worksheets
            for row in ws.iter_rows()
            for c in row
            if isinstance(c.value, str)
        )
        assert "[c]" not in words, org
        assert "[u]" in words and "[z]" in words


def _report_factors(page: str) -> list[tuple[str, str]]:
    """(factor, group) in the order the report's factor table lists them."""
    from bs4 import BeautifulSoup

    table = BeautifulSoup(page, "html.parser").select_one("table.factor-table")
    out, group = [], ""
    for tr in table.find_all("tr"):
        if "group" in (tr.get("class") or []):
            group = tr.get_text(strip=True)
        elif tr.th is not None and tr.td is not None:
            out.append((tr.th.get_text(strip=True), group))
    return out


def test_factor_order_and_groups_agree_everywhere(rendered, inst):
    # Ties in prevalence are broken one way (declared order) in the report, chart and tables,
    # so they agree on the order and on which factors are "most prevalent".
    for org in _organisations(rendered):
        report = _report_factors((rendered / org / "report.html").read_text(encoding="utf-8"))
        chart = charts.factor_chart(_shown_rows(_findings(rendered, org)), inst)
        wb = openpyxl.load_workbook(rendered / org / "tables.xlsx")
        (table,) = wb["Factors"].tables.values()
        rows = [[c.value for c in r] for r in wb["Factors"][table.ref]][1:]
        assert [label for label, _ in report] == [r[1] for r in rows], org
        assert [lab.rsplit(" (", 1)[0] for lab in chart.labels] == [r[1] for r in rows], org
        assert [group for _, group in report] == [r[0] for r in rows], org
