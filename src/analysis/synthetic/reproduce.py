"""Check that the Norfolk & Suffolk demo data reproduces the reference report's figures.

``python -m analysis reproduce [--out DIR] [--profile NAME] [--quiet]``

1. Generates the profile's workbook afresh into a temporary folder (calibrated to the
   published figures by :mod:`analysis.synthetic.calibrate`).
2. Ingests it with :func:`analysis.ingest.read_cases` and runs
   :func:`analysis.engine.analyse`, exactly as for a real workbook.
3. For every figure of the published file, reads the reproduced value from the findings
   table and compares: counts and bases exactly, percentages after rounding half up,
   verbal quantifiers within their band (:func:`analysis.synthetic.statements.verbal_ok`),
   directions by comparing the two groups' rates, contrasts ("less good at") by comparing
   the two questions' rates.

One kind of split is not tabulated by the engine: a direction on one answer category by
group (e.g. fewer "No review" answers in one LDU); it is computed from the ingested cases
and marked ``[from cases]``, as is any split by a column the instrument does not compare
or profile.

Each figure gets a status: ``exact`` (every stated number matches), ``within band``
(a verbal quantifier, a direction or a contrast holds), ``inconsistent in source (reason)`` (the
calibration proved it cannot hold together with a more specific statement; the reason
holds the arithmetic) or ``FAIL``. The table is written to
``outputs/<trust>/reproduction.csv`` with the machine-readable inconsistency records in
``inconsistencies.json``; the exit status is 1 if any figure fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import config
from analysis.engine import analyse
from analysis.fileio import atomic_path, write_csv
from analysis.ingest import read_cases
from analysis.instrument import ABOVE, Instrument
from analysis.synthetic.generate import synthesise
from analysis.synthetic.profile import load_profile, profile_instrument, published_path
from analysis.synthetic.statements import (
    Statement,
    codes_for,
    pct,
    proven_inconsistent,
    read_published,
    round_half_up,
    verbal_ok,
)

EXACT, BAND, INCONSISTENT, FAIL = "exact", "within band", "inconsistent in source", "FAIL"
COLUMNS = ["figure_id", "section", "wording", "published", "reproduced", "status"]


# -- reading the findings table ------------------------------------------------------------


class _Lookup:
    """Numerators and denominators from the findings table, with case-level fallbacks."""

    def __init__(self, findings: pd.DataFrame, cases: pd.DataFrame, inst: Instrument):
        self.f = findings
        self.cases = cases
        self.inst = inst

    def row(self, kinds: tuple[str, ...], measure: str, group_var="", group="", category=""):
        f = self.f
        m = (
            f["kind"].isin(kinds)
            & (f["measure_id"] == measure)
            & (f["group_var"] == group_var)
            & (f["group"] == group)
            & (f["category"] == category)
        )
        hit = f[m]
        if hit.empty:
            return None
        r = hit.iloc[0]
        num = None if pd.isna(r["numerator"]) else int(r["numerator"])
        den = None if pd.isna(r["denominator"]) else int(r["denominator"])
        return num, den, (None if pd.isna(r["percent"]) else float(r["percent"]))

    def ratio(self, measure: str) -> tuple[int, int] | None:
        """Above-the-line count and relevant base of a question (no grouping)."""
        got = self.row(("question", "factor"), measure)
        return None if got is None else (got[0], got[1])

    def category(self, s: Statement) -> tuple[tuple[int, int] | None, bool]:
        """(count in category, base) of a breakdown statement; bool = came from cases."""
        q = self.inst.questions[s.measure]
        cat = codes_for(self.inst, q, s.category)
        among = codes_for(self.inst, q, s.among)
        rows = self.f[(self.f["kind"] == "breakdown") & (self.f["measure_id"] == s.measure)]
        if not rows.empty:
            by = {str(r.category): int(r.numerator) for r in rows.itertuples()}
            total = int(rows["denominator"].iloc[0])
            num = sum(by.get(c, 0) for c in cat)
            den = total if s.among is None else sum(by.get(c, 0) for c in among)
            return (num, den), False
        # Yes/No questions have no breakdown rows: derive from the question row.
        aset = self.inst.answer_set(q)
        above = set(aset.codes_scoring(ABOVE))
        got = self.ratio(s.measure)
        if got is None or s.among is not None:
            return self._from_cases(s.measure, cat, among), True
        a, n = got
        if set(cat) <= above:
            return (a, n), False
        if not set(cat) & above:
            return (n - a, n), False
        return self._from_cases(s.measure, cat, among), True

    def _from_cases(self, measure, cat, among, mask=None) -> tuple[int, int]:
        vals = self.cases[measure].astype("string")
        if mask is not None:
            vals = vals[mask]
        return int(vals.isin(cat).sum()), int(vals.isin(among).sum())

    def group_ratio(self, s: Statement, members: list[str]) -> tuple[tuple[int, int] | None, bool]:
        """Counts for a set of groups (members) of ``s.group_var``; bool = came from cases."""
        q = self.inst.questions[s.measure]
        if s.category is None:
            rows = [self.row(("comparison",), s.measure, s.group_var, g) for g in members]
            if members and all(r is not None for r in rows):
                return (sum(r[0] for r in rows), sum(r[1] for r in rows)), False
        # Categories by group, or an untabulated grouping: count the cases.
        aset = self.inst.answer_set(q)
        cat = (
            codes_for(self.inst, q, s.category)
            if s.category is not None
            else aset.codes_scoring(ABOVE)
        )
        among = codes_for(self.inst, q, s.among)
        mask = self.cases[s.group_var].astype("string").isin(members).to_numpy()
        return self._from_cases(s.measure, cat, among, mask), True


# -- one figure --------------------------------------------------------------------------


def _published_text(s: Statement) -> str:
    parts = []
    if s.kind == "direction":
        side = f" [{_lab(s.category)}]" if s.category is not None else ""
        return f"{_lab(s.higher)} > {_lab(s.lower)} on {s.group_var}{side}"
    if s.kind == "contrast":
        return f"{s.higher} > {s.lower} ('{s.verbal}')"
    if s.numerator is not None and s.denominator is not None:
        parts.append(f"{s.numerator} of {s.denominator}")
    elif s.numerator is not None:
        parts.append(f"{s.numerator}")
    elif s.denominator is not None:
        parts.append(f"base {s.denominator}")
    if s.percent is not None:
        parts.append(f"{s.percent:g}%")
    if s.verbal:
        parts.append(f"'{s.verbal}'")
    where = f" [{s.group_var}={_lab(s.group)}]" if s.kind == "comparison" else ""
    if s.category is not None and s.kind in ("breakdown", "profile"):
        where += f" [{_lab(s.category)}]"
    return ", ".join(parts) + where


def _lab(v: Any) -> str:
    if v is None or (isinstance(v, str) and v.lower() in ("rest", "others")):
        return "rest"
    if isinstance(v, (list, tuple)):
        return " + ".join(str(x) for x in v)
    return str(v)


def _ratio_text(num: int, den: int) -> str:
    return f"{num} of {den} ({pct(num, den):.1f}%)" if den else f"{num} of {den}"


def _check_numbers(s: Statement, num: int, den: int) -> bool:
    ok = True
    if s.numerator is not None:
        ok &= num == s.numerator
    if s.denominator is not None:
        ok &= den == s.denominator
    if s.percent is not None:
        if not den:
            return False
        p = pct(num, den)
        good = round_half_up(p) == round_half_up(s.percent)
        if not good and s.banker_ok:
            good = round(p) == round_half_up(s.percent)
        ok &= good
    if s.verbal:
        ok &= verbal_ok(s.verbal, num, den)
    return bool(ok)


def _has_numbers(s: Statement) -> bool:
    return s.numerator is not None or s.denominator is not None or s.percent is not None


def evaluate(s: Statement, look: _Lookup) -> tuple[str, bool | None]:
    """Reproduced value (text) of one figure and whether it matches (None: cannot tell)."""
    inst = look.inst
    if s.kind == "outcome_score":
        got = look.row(("outcome_score",), s.measure)
        if got is None or got[2] is None:
            return "no score in findings", False
        return f"{got[2]:.2f} -> {round_half_up(got[2])}%", round_half_up(got[2]) == round_half_up(
            s.percent
        )
    if s.kind == "profile":
        return _profile(s, look)
    if s.measure not in inst.questions:
        return f"unknown measure {s.measure!r}", False
    if s.kind == "contrast":
        hi, lo = look.ratio(s.higher), look.ratio(s.lower)
        if hi is None or lo is None:
            return "no row in findings", False
        text = f"{s.higher} {_ratio_text(*hi)} vs {s.lower} {_ratio_text(*lo)}"
        return text, bool(hi[1] and lo[1] and hi[0] / hi[1] > lo[0] / lo[1])
    if s.kind in ("question", "factor"):
        got = look.ratio(s.measure)
        if got is None:
            return "no row in findings", False
        return _ratio_text(*got), _check_numbers(s, *got)
    if s.kind == "breakdown":
        got, from_cases = look.category(s)
        text = _ratio_text(*got) + (" [from cases]" if from_cases else "")
        return text, _check_numbers(s, *got)
    if s.kind == "comparison":
        groups = _groups(look, s.group_var)
        members = _members(s.group, groups)
        got, from_cases = look.group_ratio(s, members)
        text = _ratio_text(*got) + (" [from cases]" if from_cases else "")
        return text, _check_numbers(s, *got)
    if s.kind == "direction":
        groups = _groups(look, s.group_var)
        hi, lo = _members(s.higher, groups), _members(s.lower, groups)
        hi = hi or [g for g in groups if g not in lo]
        lo = lo or [g for g in groups if g not in hi]
        (hn, hd), c1 = look.group_ratio(s, hi)
        (ln, ld), c2 = look.group_ratio(s, lo)
        text = (
            f"{_lab(s.higher)} {_ratio_text(hn, hd)} vs {_lab(s.lower)} {_ratio_text(ln, ld)}"
            + (" [from cases]" if (c1 or c2) else "")
        )
        ok = bool(hd and ld and hn / hd > ln / ld)
        return text, ok
    return f"kind {s.kind!r} not checked", None


def _groups(look: _Lookup, var: str) -> list[str]:
    vals = look.cases[var].astype("string").dropna().unique().tolist()
    return sorted(str(v) for v in vals)


def _members(value: Any, groups: list[str]) -> list[str]:
    if value is None or (isinstance(value, str) and value.lower() in ("rest", "others", "")):
        return []
    vals = value if isinstance(value, (list, tuple)) else [value]
    return [g for g in groups if g.lower() in {str(v).lower() for v in vals}]


def _profile(s: Statement, look: _Lookup) -> tuple[str, bool]:
    col = s.measure
    cats = s.category if isinstance(s.category, (list, tuple)) else [s.category]
    cats = [str(c) for c in cats]
    if len(cats) == 1 and cats[0].endswith("+"):
        # "3+" on a count column: the engine's profile rows for 3, 4, ... summed, out of the
        # cases with the count recorded.
        k = int(cats[0][:-1])
        f = look.f
        rows = f[(f["kind"] == "profile") & (f["measure_id"] == col)]
        values = pd.to_numeric(rows["category"], errors="coerce")
        counts = rows["numerator"].where(values.notna())
        if counts.notna().any():
            num, den = int(counts[values >= k].sum()), int(counts.sum())
            return _ratio_text(num, den), _check_numbers(s, num, den)
        vals = pd.to_numeric(look.cases[col], errors="coerce")
        num, den = int((vals >= k).sum()), int(vals.notna().sum())
        return _ratio_text(num, den) + " [from cases]", _check_numbers(s, num, den)
    rows = [look.row(("profile",), col, category=c) for c in cats]
    if any(r is None for r in rows):
        vals = look.cases[col].astype("string")
        num, den = int(vals.isin(cats).sum()), int(vals.notna().sum())
        return _ratio_text(num, den) + " [from cases]", _check_numbers(s, num, den)
    num = sum(r[0] for r in rows)
    den = rows[0][1]
    return _ratio_text(num, den), _check_numbers(s, num, den)


# -- the whole check ----------------------------------------------------------------------


def check_figures(
    statements: list[Statement],
    findings: pd.DataFrame,
    cases: pd.DataFrame,
    inst: Instrument,
    inconsistent: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The reproduction table: one row per published figure with its status.

    Parameters
    ----------
    statements
        Published figures (:func:`analysis.synthetic.statements.read_published`).
    findings
        The findings table of the reproduced data.
    cases
        The ingested cases (for the few splits the findings table does not hold).
    inst
        The instrument.
    inconsistent
        Figure id -> reason, for figures proven unable to hold (from calibration).
    """
    inconsistent = inconsistent or {}
    look = _Lookup(findings, cases, inst)
    rows = []
    for s in statements:
        try:
            text, ok = evaluate(s, look)
        except (KeyError, ValueError) as exc:  # a malformed figure is a failure, not a crash
            text, ok = f"cannot evaluate: {exc}", False
        if s.fid in inconsistent:
            status = f"{INCONSISTENT} ({inconsistent[s.fid]})"
        elif ok:
            status = EXACT if (_has_numbers(s) or s.kind == "outcome_score") else BAND
        else:
            status = FAIL
        rows.append(
            {
                "figure_id": s.fid,
                "section": s.section,
                "wording": s.wording,
                "published": _published_text(s) if s.kind != "outcome_score" else f"{s.percent:g}%",
                "reproduced": text,
                "status": status,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def summary(table: pd.DataFrame) -> dict[str, int]:
    """Counts per status (inconsistent statuses pooled)."""
    keys = table["status"].map(lambda s: INCONSISTENT if s.startswith(INCONSISTENT) else s)
    c = Counter(keys)
    return {k: int(c.get(k, 0)) for k in (EXACT, BAND, INCONSISTENT, FAIL)}


def reproduce(
    profile: str = config.DEFAULT_TRUST, out_dir: str | Path | None = None
) -> tuple[pd.DataFrame, dict[str, int], Path]:
    """Generate, ingest and analyse the profile's data, then check every published figure.

    Returns
    -------
    table, summary counts, path of the CSV written
    """
    prof = load_profile(profile)
    inst = profile_instrument(prof)
    pub_path = published_path(prof)
    if pub_path is None:
        raise ValueError(f"profile {prof['slug']} has no calibrate_to: nothing to reproduce")
    with tempfile.TemporaryDirectory(prefix="reproduce-") as tmp:
        book = Path(tmp) / f"{prof['slug']}.xlsx"
        _, cal = synthesise(prof, book, return_calibration=True)
        with open(book, "rb") as fh:
            book_sha = hashlib.file_digest(fh, "sha256").hexdigest()
        cases = read_cases(book, instrument=inst, trust=prof["slug"])
    findings = analyse(cases, inst, prof["slug"])
    statements = read_published(pub_path)
    # Only a proven inconsistency excuses a figure: one the calibration dropped for any
    # other reason is the generator's failure and shows as FAIL.
    proven = proven_inconsistent(pub_path)
    dropped = {f: r for f, r in cal.inconsistent_figures().items() if f in proven}
    table = check_figures(statements, findings, cases, inst, dropped)
    out = Path(out_dir) if out_dir else config.trust_output_dir(prof["slug"])
    out.mkdir(parents=True, exist_ok=True)
    path = out / "reproduction.csv"
    with atomic_path(path) as tmp:
        write_csv(table, tmp)
    records = [i.as_dict() for i in cal.inconsistencies]
    _atomic_write_text(out / "inconsistencies.json", json.dumps(records, indent=2) + "\n")
    # Which workbook this check is about: the report shows the reproduction only for a
    # run on the very same bytes (the demo workbook is a byte-identical synthesis).
    meta = {"profile": prof["slug"], "workbook_sha256": book_sha, "summary": summary(table)}
    _atomic_write_text(out / "reproduction.json", json.dumps(meta, indent=2) + "\n")
    return table, summary(table), path


def _atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


# -- command line ---------------------------------------------------------------------------


def add_cli(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m analysis reproduce``."""
    parser.add_argument(
        "--out", type=Path, help="folder for reproduction.csv (default: outputs/<trust>/)"
    )
    parser.add_argument(
        "--profile", default=config.DEFAULT_TRUST, help="calibrated profile to check"
    )
    parser.add_argument("--quiet", action="store_true", help="print only figures not exact")
    parser.add_argument(
        "--summary", action="store_true", help="print only failures and the summary line"
    )


def cli(args: argparse.Namespace) -> int:
    """Run ``reproduce``; exit status 1 if any figure fails."""
    table, counts, path = reproduce(args.profile, args.out)
    width = max(len(x) for x in table["figure_id"]) if len(table) else 10
    for r in table.itertuples(index=False):
        if (args.quiet and r.status == EXACT) or (args.summary and r.status != FAIL):
            continue
        print(
            f"{r.figure_id:<{width}}  {r.status[:60]:<22}  published {r.published}; "
            f"reproduced {r.reproduced}"
        )
    print(
        f"{len(table)} figures: {counts[EXACT]} exact, {counts[BAND]} within band, "
        f"{counts[INCONSISTENT]} inconsistent in source, {counts[FAIL]} FAIL; wrote {path}"
    )
    return 1 if counts[FAIL] else 0


__all__ = ["check_figures", "evaluate", "reproduce", "summary"]
