"""The cross-organisation aggregate: pooled findings, per-organisation scores and funnel plots.

``python -m analysis aggregate`` reads ``outputs/<trust>/findings.parquet`` of
every organisation (or those named) and writes ``outputs/aggregate/``:

- ``findings.csv`` / ``findings.parquet``: the findings columns, pooled rows
  with ``trust = "aggregate"`` followed by each organisation's score and sample
  rows (``trust`` = its slug), so every figure in the aggregate report can be
  traced to counts;
- ``funnel.csv``: each organisation's outcome scores with the control limits at
  its base and where it lies;
- ``tables.xlsx`` (pooled rows, via :mod:`analysis.render.tables`), ``charts/``
  (static funnel plots) and ``report.html`` (``notebooks/20_aggregate.ipynb``).

Pooling
-------
Counts are pooled from the findings' numerators and denominators, never from
percentages: a pooled question proportion is sum(above) / sum(relevant).
Intervals, differences and tests are recomputed on the pooled counts with the
same methods the engine uses (:mod:`analysis.engine.stats`). Only two things need the
processed cases (``data/processed/<trust>.parquet``):

- the *interval* of a pooled score: a score is a mean of question proportions
  with judgements clustered in cases, and its case-clustered interval cannot be
  rebuilt from counts. Without the cases the pooled score is still given
  (from the counts), with no interval;
- an organisation whose findings were written for publication has suppressed
  counts; its unsuppressed counts are recomputed from its cases.

Pooled comparisons (by the instrument's ``compare: true`` details with fixed codes: PO vs
PSO, gender, RoSH level at start) add up groups across organisations. An
organisation with more PSO cases and lower scores can make PSOs look worse in
the pool than in any one organisation (Simpson's paradox); the report says so.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import config
from analysis.engine.findings import FINDINGS_COLUMNS, KINDS, conform, flag_set
from analysis.errors import UserError
from analysis.instrument import Instrument, load_instrument
from analysis.render.present import fmt_ci, fmt_int, fmt_pct

AGGREGATE = "aggregate"
#: The aggregate report notebook.
AGGREGATE_NOTEBOOK = "20_aggregate.ipynb"

#: Kinds copied per organisation into the aggregate findings (beside the pooled rows).
PER_TRUST_KINDS = ("outcome_score", "criterion_score", "sample")
#: What the funnel plot's horizontal axis counts by default (see :func:`funnel_for`).
DEFAULT_N_BASIS = "cases"
N_BASES = ("cases", "judgements")


def pooled_comparisons(instrument: Instrument) -> list[str]:
    """Compared case details that can be pooled: those with fixed codes.

    Free-text details such as LDU names belong to one organisation and are never pooled.
    """
    return [c for c in instrument.comparison_columns if instrument.case_details[c].codes]


def aggregate_dir() -> Path:
    """Folder of the aggregate outputs."""
    return config.OUTPUTS_DIR / AGGREGATE


# -- reading ---------------------------------------------------------------------------


def available_trusts(outputs_dir: Path | None = None) -> list[str]:
    """Organisations with a findings table under ``outputs/`` (the aggregate excluded)."""
    outputs_dir = Path(outputs_dir or config.OUTPUTS_DIR)
    return sorted(
        p.parent.name
        for p in outputs_dir.glob("*/findings.parquet")
        if p.parent.name != AGGREGATE and not p.parent.name.startswith(".")
    )


def _has_suppressed(df: pd.DataFrame) -> bool:
    return any("c" in flag_set(v) for v in df["flags"])


def load_findings(
    trusts: Sequence[str],
    instrument: Instrument,
    outputs_dir: Path | None = None,
    processed_dir: Path | None = None,
) -> pd.DataFrame:
    """Every organisation's findings, unsuppressed, one table.

    Raises
    ------
    UserError
        When an organisation has no findings, or has suppressed findings and no
        processed cases to recompute them from.
    """
    from analysis.engine.run import analyse

    outputs_dir = Path(outputs_dir or config.OUTPUTS_DIR)
    processed_dir = Path(processed_dir or config.PROCESSED_DIR)
    frames = []
    for t in trusts:
        path = outputs_dir / t / "findings.parquet"
        if not path.exists():
            raise UserError(f"no findings for {t!r} at {path}: run its report first")
        df = conform(pd.read_parquet(path))
        df["trust"] = t
        if _has_suppressed(df):
            # Publication findings blank small counts; pooling needs them (pooled
            # cells are then suppressed again at the aggregate level where needed).
            cases_path = processed_dir / f"{t}.parquet"
            if not cases_path.exists():
                raise UserError(
                    f"{t}: findings are suppressed (publication) and no processed cases "
                    f"at {cases_path} to recompute them from"
                )
            df = analyse(pd.read_parquet(cases_path), instrument, t, audience="internal")
        frames.append(df)
    if not frames:
        raise UserError("no organisations to aggregate")
    return conform(pd.concat(frames, ignore_index=True))


def load_cases(trusts: Sequence[str], processed_dir: Path | None = None) -> pd.DataFrame | None:
    """The organisations' processed cases stacked, or None when any is missing."""
    processed_dir = Path(processed_dir or config.PROCESSED_DIR)
    paths = [processed_dir / f"{t}.parquet" for t in trusts]
    if not all(p.exists() for p in paths):
        return None
    frames = []
    for t, p in zip(trusts, paths, strict=True):
        df = pd.read_parquet(p)
        df["trust"] = t
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


# -- pooling ---------------------------------------------------------------------------


def _wilson_pct(n, N) -> tuple[np.ndarray, np.ndarray]:
    from analysis.engine.stats import wilson

    lo, hi = wilson(np.asarray(n, float), np.asarray(N, float))
    return 100 * lo, 100 * hi


def _pct(n, N) -> np.ndarray:
    n, N = np.asarray(n, float), np.asarray(N, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(N > 0, 100 * n / np.where(N > 0, N, 1), np.nan)


def _first_meta(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    meta = ["outcome", "criterion", "label", "method"]
    return df.groupby(keys, sort=False, dropna=False)[meta].first()


def _n_trusts(df: pd.DataFrame) -> int:
    return int(df["trust"].nunique())


def pool_proportions(df: pd.DataFrame, kind: str, n_trusts: int) -> pd.DataFrame:
    """Pool ``question`` / ``factor`` / ``comparison`` rows: sum numerators and denominators."""
    rows = df[df["kind"] == kind]
    if rows.empty:
        return pd.DataFrame()
    keys = ["measure_id", "group_var", "group"]
    g = rows.groupby(keys, sort=False, dropna=False)
    out = g[["numerator", "denominator"]].sum().join(_first_meta(rows, keys)).reset_index()
    out["kind"] = kind
    out["percent"] = _pct(out["numerator"], out["denominator"])
    out["ci_low"], out["ci_high"] = _wilson_pct(out["numerator"], out["denominator"])
    out["method"] = f"Wilson score interval; counts pooled across {n_trusts} organisations"
    return out


def pool_categories(df: pd.DataFrame, kind: str, n_trusts: int, columns=None) -> pd.DataFrame:
    """Pool ``breakdown`` / ``profile`` rows.

    The base of a column is the sum of each organisation's base for it, not of
    the category rows present: an organisation with no Female cases has no
    Female row, but its cases still count in the pooled base.
    """
    rows = df[df["kind"] == kind]
    if columns is not None:
        rows = rows[rows["measure_id"].isin(list(columns))]
    if rows.empty:
        return pd.DataFrame()
    base = rows.groupby(["measure_id", "trust"], sort=False)["denominator"].first()
    base = base.groupby(level=0, sort=False).sum()
    keys = ["measure_id", "category"]
    num = rows.groupby(keys, sort=False)["numerator"].sum()
    out = num.to_frame().join(_first_meta(rows, keys)).reset_index()
    out["denominator"] = out["measure_id"].map(base).astype(float)
    out["kind"] = kind
    out["percent"] = _pct(out["numerator"], out["denominator"])
    out["ci_low"], out["ci_high"] = _wilson_pct(out["numerator"], out["denominator"])
    out["method"] = f"Wilson score interval; counts pooled across {n_trusts} organisations"
    return out


def pool_factors(df: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Pooled table 3.5 rows, re-ranked by pooled prevalence (the engine's own rules)."""
    from analysis.engine.factors import (
        FOLLOW_UP_ITEMS,
        IDENTIFIED,
        MOST_PREVALENT,
        OTHER_COMMON,
        factor_rows,
    )

    rows = df[df["kind"] == "factor"]
    if rows.empty:
        return pd.DataFrame()
    sums = rows.groupby("measure_id", sort=False)[["numerator", "denominator"]].sum()
    recs = []
    for order, f in enumerate(instrument.factors.values()):
        qid = f.items.get(IDENTIFIED)
        if qid not in sums.index:
            continue
        rec = {
            "factor": f.id,
            "order": order,
            "identified": sums.loc[qid, "numerator"],
            "inspected": sums.loc[qid, "denominator"],
        }
        for item in FOLLOW_UP_ITEMS:
            iq = f.items.get(item)
            n, N = sums.loc[iq] if iq in sums.index else (np.nan, np.nan)
            rec[f"{item}_n"], rec[f"{item}_N"] = n, N
        recs.append(rec)
    t = pd.DataFrame(recs).sort_values(["identified", "order"], ascending=[False, True])
    n_top = int(instrument.factor_table.get("most_prevalent", len(t)))
    t["rank"] = np.arange(1, len(t) + 1)
    t["section"] = np.where(t["rank"] <= n_top, MOST_PREVALENT, OTHER_COMMON)
    out = factor_rows(t.reset_index(drop=True), instrument)
    out["method"] = out["method"] + f"; counts pooled across {_n_trusts(df)} organisations"
    return out


def pool_differences(cmp: pd.DataFrame) -> pd.DataFrame:
    """Difference rows from pooled comparison rows, as `engine.compare.compare` does.

    Two groups: difference in points, Newcombe interval, Fisher's exact p.
    More groups: chi-square (or exact) test of the groups x (above, below) table.
    Benjamini-Hochberg across the questions of each comparison column.
    """
    from analysis.engine.compare import DIFF_SEP, MULTI_SEP
    from analysis.engine.stats import bh_adjust, fisher_2x2, k_by_2_test, newcombe_difference

    if cmp.empty:
        return pd.DataFrame()
    out = []
    for gv, rows in cmp.groupby("group_var", sort=False):
        groups = list(dict.fromkeys(rows["group"]))
        recs = []
        for qid, q in rows.groupby("measure_id", sort=False):
            q = q.set_index("group").reindex(groups)
            a = q["numerator"].fillna(0).to_numpy(float)
            r = q["denominator"].fillna(0).to_numpy(float)
            meta = q.iloc[0]
            rec = {
                "kind": "difference",
                "outcome": meta["outcome"],
                "criterion": meta["criterion"],
                "measure_id": qid,
                "label": meta["label"],
                "group_var": gv,
            }
            if len(groups) == 2:
                d, lo, hi = newcombe_difference(a[0], r[0], a[1], r[1])
                p = fisher_2x2(a[0], r[0] - a[0], a[1], r[1] - a[1])[0]
                rec |= {
                    "group": DIFF_SEP.join(groups),
                    "percent": 100 * float(d),
                    "ci_low": 100 * float(lo),
                    "ci_high": 100 * float(hi),
                    "p_value": p,
                    "method": "Newcombe hybrid score interval; Fisher's exact test",
                }
            else:
                test = k_by_2_test(np.column_stack([a, r - a]))
                rec |= {
                    "group": MULTI_SEP.join(groups),
                    "p_value": test.p_value,
                    "method": test.method,
                }
            recs.append(rec)
        diff = pd.DataFrame(recs)
        diff["p_adjusted"] = bh_adjust(diff["p_value"].to_numpy(dtype=float))
        diff["method"] = diff["method"] + "; Benjamini-Hochberg across questions; pooled counts"
        # Each question's group rows, then its difference row (the engine's order).
        parts = []
        for qid, q in rows.groupby("measure_id", sort=False):
            parts += [q, diff[diff["measure_id"] == qid]]
        out.append(pd.concat(parts, ignore_index=True))
    return pd.concat(out, ignore_index=True)


def pooled_scores(
    questions: pd.DataFrame,
    instrument: Instrument,
    cases: pd.DataFrame | None = None,
    outcome_method: str | None = None,
) -> pd.DataFrame:
    """Pooled outcome and criterion scores.

    The point estimate comes from the pooled question counts with the engine's
    weights (:func:`analysis.engine.scoring.score_specs`): a mean of pooled question
    proportions. The case-clustered interval needs the cases; when ``cases`` is
    given it is computed on them (and the point estimates are checked to agree).
    """
    from analysis.engine import scoring

    specs = scoring.score_specs(instrument, outcome_method)
    q = questions.set_index("measure_id")
    index = {qid: k for k, qid in enumerate(q.index)}
    above = q["numerator"].to_numpy(float)
    rel = q["denominator"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(rel > 0, above / np.where(rel > 0, rel, 1), 0.0)
    recs = []
    for s in specs:
        known = tuple(tuple(x for x in g if x in index) for g in s.groups)
        spec = scoring.ScoreSpec(
            s.measure_id, s.kind, s.outcome, s.criterion, s.label, known, s.method
        )
        w = scoring._weights(spec, index, rel)
        used = w > 0
        recs.append(
            {
                "kind": s.kind,
                "outcome": s.outcome,
                "criterion": s.criterion,
                "measure_id": s.measure_id,
                "label": s.label,
                "numerator": above[used].sum(),
                "denominator": rel[used].sum(),
                "percent": 100 * float((w * p).sum()) if used.any() else np.nan,
                "method": f"{s.method}; pooled question counts; interval needs processed cases",
            }
        )
    out = pd.DataFrame(recs)
    if cases is not None:
        j = scoring.judgement_matrix(cases, instrument)
        exact = scoring.score_rows(scoring.compute_scores(j, specs)).set_index("measure_id")
        got = out.set_index("measure_id")["percent"]
        diff = (got - exact["percent"].reindex(got.index)).abs().max()
        if pd.notna(diff) and diff > 1e-6:
            raise AssertionError(
                f"pooled scores from findings and from cases disagree by {diff:.3g} points: "
                "the findings are stale or from another instrument"
            )
        out["ci_low"] = out["measure_id"].map(exact["ci_low"]).to_numpy()
        out["ci_high"] = out["measure_id"].map(exact["ci_high"]).to_numpy()
        out["method"] = out["measure_id"].map(exact["method"]).to_numpy() + "; pooled cases"
    return out


def pool(
    findings: pd.DataFrame,
    instrument: Instrument,
    *,
    cases: pd.DataFrame | None = None,
    audience: str = "internal",
    comparisons: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Pooled findings rows (``trust = "aggregate"``) from several organisations' findings.

    Parameters
    ----------
    findings
        Unsuppressed findings of every organisation (:func:`load_findings`).
    instrument
        The instrument they were all analysed against.
    cases
        Their processed cases stacked (for score intervals), or None.
    audience
        Disclosure rules applied to the pooled rows (:mod:`analysis.engine.disclosure`).
    comparisons
        Case-detail columns whose comparisons are pooled; by default
        :func:`pooled_comparisons` of the instrument.

    Returns
    -------
    pandas.DataFrame
        Conformed findings rows in the engine's order (sample, profile, scores,
        questions, breakdowns, factors, comparisons).
    """
    from analysis.engine.disclosure import apply_disclosure

    if comparisons is None:
        comparisons = pooled_comparisons(instrument)
    k = _n_trusts(findings)
    coded = [c for c, d in instrument.case_details.items() if d.codes]
    sample = findings[findings["kind"] == "sample"]
    sample = (
        sample.groupby("measure_id", sort=False)
        .agg({"numerator": "sum", "outcome": "first", "label": "first"})
        .reset_index()
        .assign(kind="sample")
    )
    questions = pool_proportions(findings, "question", k)
    cmp = findings[
        (findings["kind"] == "comparison") & findings["group_var"].isin(list(comparisons))
    ]
    cmp = pool_proportions(cmp, "comparison", k)
    parts = [
        sample,
        pool_categories(findings, "profile", k, columns=coded),
        pooled_scores(questions, instrument, cases),
        questions,
        pool_categories(findings, "breakdown", k),
        pool_factors(findings, instrument),
        pool_differences(cmp),
    ]
    out = conform(pd.concat([p for p in parts if len(p)], ignore_index=True))
    out["trust"] = AGGREGATE
    out["flags"] = ""
    return apply_disclosure(out, audience)


def per_trust_rows(findings: pd.DataFrame, kinds: Sequence[str] = PER_TRUST_KINDS) -> pd.DataFrame:
    """Each organisation's score and sample rows, ordered by kind then organisation."""
    rows = findings[findings["kind"].isin(list(kinds))].copy()
    rows["_k"] = rows["kind"].map({k: i for i, k in enumerate(KINDS)})
    rows["_pos"] = rows.groupby("trust").cumcount()
    rows = rows.sort_values(["_k", "trust", "_pos"], kind="stable")
    return conform(rows.drop(columns=["_k", "_pos"]))


def build_findings(
    findings: pd.DataFrame,
    instrument: Instrument,
    *,
    cases: pd.DataFrame | None = None,
    audience: str = "internal",
) -> pd.DataFrame:
    """The aggregate findings table: pooled rows, then per-organisation score rows."""
    pooled = pool(findings, instrument, cases=cases, audience=audience)
    return conform(pd.concat([pooled, per_trust_rows(findings)], ignore_index=True))


# -- funnels ---------------------------------------------------------------------------


def score_points(agg: pd.DataFrame, outcome: str, n_basis: str = DEFAULT_N_BASIS) -> pd.DataFrame:
    """Per-organisation points for one outcome's funnel, with the chosen base ``n``.

    ``n_basis="cases"``: cases with at least one relevant judgement for the
    outcome (sample row ``n_cases_O1``). ``"judgements"``: relevant judgements
    (the score row's denominator). See :func:`funnel_for` for why cases is the default.
    """
    if n_basis not in N_BASES:
        raise UserError(f"n_basis must be one of {N_BASES}, not {n_basis!r}")
    trusts = agg[agg["trust"] != AGGREGATE]
    sc = trusts[(trusts["kind"] == "outcome_score") & (trusts["outcome"] == outcome)]
    pts = sc[["trust", "numerator", "denominator", "percent", "ci_low", "ci_high"]].copy()
    for c in ("numerator", "denominator", "percent", "ci_low", "ci_high"):
        pts[c] = pts[c].astype("float64")  # NaN, not pd.NA: numpy maths follows
    if n_basis == "cases":
        n = trusts[(trusts["kind"] == "sample") & (trusts["measure_id"] == f"n_cases_{outcome}")]
        pts["n"] = pts["trust"].map(n.set_index("trust")["numerator"]).astype(float)
    else:
        pts["n"] = pts["denominator"].astype(float)
    return pts.reset_index(drop=True)


def funnel_for(agg: pd.DataFrame, instrument: Instrument, outcome: str, n_basis=DEFAULT_N_BASIS):
    """The funnel of one outcome score: organisations against the pooled score.

    The limits treat the score as a binomial proportion of ``n``. Neither base
    is exact: judgements within a case are correlated, so ``n`` = judgements
    overstates the information (limits too narrow, too many organisations
    flagged); a score averages several judgements per case, so ``n`` = cases
    understates it (limits a little wide). The cautious choice, cases, is the
    default; the organisations' own case-clustered intervals are shown beside.
    """
    from analysis.engine.funnel import build_funnel

    pooled = agg[
        (agg["trust"] == AGGREGATE) & (agg["kind"] == "outcome_score") & (agg["outcome"] == outcome)
    ]
    p0 = pooled["percent"].astype("float64").iloc[0] / 100 if len(pooled) else None
    if p0 is not None and np.isnan(p0):
        p0 = None  # no pooled score: the funnel has no centre, build_funnel finds no points
    o = instrument.outcomes[outcome]
    return build_funnel(
        score_points(agg, outcome, n_basis),
        measure_id=f"score_{outcome}",
        label=f"{o.id} {o.name}",
        p0=p0,
        n_col="n",
        n_basis="cases with a relevant judgement" if n_basis == "cases" else "relevant judgements",
    )


def funnels(agg: pd.DataFrame, instrument: Instrument, n_basis: str = DEFAULT_N_BASIS) -> dict:
    """Funnels for every outcome with scores, keyed by outcome id."""
    out = {}
    for o in instrument.outcomes:
        f = funnel_for(agg, instrument, o, n_basis)
        if not f.points.empty:
            out[o] = f
    return out


def funnel_table(fs: dict) -> pd.DataFrame:
    """All funnels' points in one tidy table (``funnel.csv``)."""
    frames = []
    for o, f in fs.items():
        pts = f.points.copy()
        pts.insert(0, "outcome", o)
        pts.insert(1, "pooled_percent", f.p0 * 100)
        pts["n_basis"] = f.n_basis
        frames.append(pts)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# -- writing and the report -------------------------------------------------------------------


def write_outputs(
    agg: pd.DataFrame,
    instrument: Instrument,
    out_dir: Path,
    *,
    audience: str = "internal",
    n_basis: str = DEFAULT_N_BASIS,
) -> dict[str, Path]:
    """Write findings, funnel table, static funnel charts and tables.xlsx into ``out_dir``."""
    from analysis.engine.run import write_findings
    from analysis.render.charts import funnel as funnel_mod

    out_dir = Path(out_dir)
    paths: dict[str, Path] = dict(write_findings(agg, out_dir))
    fs = funnels(agg, instrument, n_basis)
    ft = funnel_table(fs)
    paths["funnel"] = out_dir / "funnel.csv"
    ft.to_csv(paths["funnel"], index=False, lineterminator="\n")
    charts = out_dir / "charts"
    for o, f in fs.items():
        for p in funnel_mod.save_static(f, charts / f"funnel_{o}"):
            paths[f"chart_{o}_{p.suffix[1:]}"] = p
    tables = _write_tables(agg, instrument, out_dir / "tables.xlsx", audience)
    if tables is not None:
        paths["tables"] = tables
    return paths


def _write_tables(agg: pd.DataFrame, instrument: Instrument, path: Path, audience: str):
    """The pooled rows through :mod:`analysis.render.tables` (same sheets as a trust's tables)."""
    try:
        from analysis.render.tables import write_tables
    except ImportError:
        return None
    pooled = agg[agg["trust"] == AGGREGATE].reset_index(drop=True)
    write_tables(pooled, instrument, path, audience)
    return path


def run_notebook(out_dir: Path, parameters: dict) -> Path:
    """Execute notebooks/20_aggregate.ipynb and export ``report.html`` as trust reports are.

    The same exporter (:func:`analysis.render.export.export_html`) inlines the vendored
    plotly.js once, so the aggregate report is offline and obeys the same size
    limit. A failing notebook's executed copy is kept as ``report.failed.ipynb``.
    """
    from analysis.pipeline import (
        kernels,
    )  # papermill and jupyter_client: not for the notebook's import
    from analysis.render.export import export_html

    out_dir = Path(out_dir)
    nb_out = out_dir / "report.ipynb"
    failed = out_dir / "report.failed.ipynb"
    try:
        kernels.execute_notebook(
            str(config.NOTEBOOKS_DIR / AGGREGATE_NOTEBOOK),
            str(nb_out),
            parameters=parameters,
            cwd=config.NOTEBOOKS_DIR,
            progress=False,
        )
    except Exception:
        if nb_out.exists():
            os.replace(nb_out, failed)
        raise
    failed.unlink(missing_ok=True)
    res = export_html(
        nb_out,
        out_dir / "report.html",
        title="Inspection of adult offending work: all organisations",
    )
    return res.path


def build(
    trusts: Sequence[str] | None = None,
    *,
    audience: str = "internal",
    instrument: str | Path | None = None,
    n_basis: str = DEFAULT_N_BASIS,
    outputs_dir: Path | None = None,
    report: bool = True,
) -> Path:
    """Build the aggregate outputs; return the report (or findings) path.

    Parameters
    ----------
    trusts
        Organisation slugs; default every organisation with findings.
    audience
        ``internal`` or ``publication`` (pooled small cells suppressed).
    instrument
        Instrument YAML; the default instrument when None.
    n_basis
        Funnel base: ``cases`` or ``judgements``.
    outputs_dir
        Folder holding ``<trust>/`` outputs; ``config.OUTPUTS_DIR`` when None.
    report
        Also execute the notebook and export ``report.html``.
    """
    outputs_dir = Path(outputs_dir or config.OUTPUTS_DIR)
    trusts = list(trusts) if trusts else available_trusts(outputs_dir)
    if len(trusts) < 2:
        raise UserError(
            f"the aggregate needs at least two organisations with findings; found {len(trusts)}"
        )
    inst = load_instrument(instrument)
    findings = load_findings(trusts, inst, outputs_dir)
    cases = load_cases(trusts)
    agg = build_findings(findings, inst, cases=cases, audience=audience)
    out_dir = outputs_dir / AGGREGATE
    paths = write_outputs(agg, inst, out_dir, audience=audience, n_basis=n_basis)
    if not report:
        return paths["csv"]
    params = {
        "findings_path": str(paths["parquet"]),
        "audience": audience,
        "n_basis": n_basis,
        "instrument_path": str(inst.path),
    }
    return run_notebook(out_dir, params)


def load_aggregate(path: str | Path | None = None) -> pd.DataFrame:
    """The aggregate findings table written by :func:`build` (for the notebook)."""
    path = Path(path) if path else aggregate_dir() / "findings.parquet"
    if not path.exists():
        raise UserError(f"no aggregate findings at {path}: run `python -m analysis aggregate`")
    return conform(pd.read_parquet(path))


def outcome_score_table(agg: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Wide table: one row per organisation (pooled last), each outcome score with interval."""
    sc = agg[agg["kind"] == "outcome_score"]
    rows = []
    order = sorted(t for t in sc["trust"].unique() if t != AGGREGATE) + [AGGREGATE]
    for t in order:
        rec = {"organisation": "All organisations (pooled)" if t == AGGREGATE else t}
        for o in instrument.outcomes:
            r = sc[(sc["trust"] == t) & (sc["outcome"] == o)]
            if r.empty or pd.isna(r["percent"].iloc[0]):
                rec[o] = ""
                continue
            pc, lo, hi = (r[c].iloc[0] for c in ("percent", "ci_low", "ci_high"))
            ci = f" ({fmt_ci(lo, hi)})" if pd.notna(lo) and pd.notna(hi) else ""
            rec[o] = f"{fmt_pct(pc)}{ci}"
        rows.append(rec)
    return pd.DataFrame(rows)


# -- report helpers (the notebook stays thin) ------------------------------------------------


def load_or_build(findings_path: str | Path | None = None) -> pd.DataFrame:
    """The aggregate findings; built from the organisations' findings when missing.

    Lets ``notebooks/20_aggregate.ipynb`` run top to bottom on a checkout where
    only trust outputs (or only workbooks) exist: missing trust findings are
    built from ``data/raw`` workbooks (ingest and analyse only, no reports).
    """
    path = Path(findings_path) if findings_path else aggregate_dir() / "findings.parquet"
    if path.exists():
        return load_aggregate(path)
    if len(available_trusts()) < 2:
        from analysis.pipeline.report import build_findings as build_trust_findings

        for p in sorted(config.RAW_DIR.glob("*.xlsx")):
            if not (config.trust_output_dir(p.stem) / "findings.parquet").exists():
                build_trust_findings(p.stem, p)
    build(report=False)
    return load_aggregate(path if findings_path else None)


def pooled_rows(agg: pd.DataFrame) -> pd.DataFrame:
    """Only the pooled rows (``trust == "aggregate"``): what single-trust renderers expect."""
    return agg[agg["trust"] == AGGREGATE].reset_index(drop=True)


def trusts_in(agg: pd.DataFrame) -> list[str]:
    """Organisations the aggregate covers, sorted."""
    return sorted(set(agg["trust"]) - {AGGREGATE, ""})


def intro_html(agg: pd.DataFrame, instrument: Instrument, audience: str) -> str:
    """Opening paragraph: how many organisations and cases, and what pooling means."""
    from analysis.render.narrative import esc

    pooled = pooled_rows(agg)
    n = pooled[(pooled["kind"] == "sample") & (pooled["measure_id"] == "n_cases")]
    n_cases = fmt_int(n["numerator"].iloc[0]) if len(n) else "–"
    trusts = trusts_in(agg)
    mode = (
        "Small cells are suppressed [c] for publication."
        if audience == "publication"
        else "Internal version: small bases are marked [low], nothing is suppressed."
    )
    return (
        f"<p>This report brings together the case inspections of {len(trusts)} organisations "
        f"({n_cases} cases in all), inspected against {esc(instrument.title)} "
        f"(version {esc(instrument.version)}). Pooled figures add up the judgements of every "
        "organisation, so larger samples weigh more. "
        f"{esc(mode)}</p>"
        "<p>Organisations: " + ", ".join(esc(t) for t in trusts) + ".</p>"
    )


def score_table_html(agg: pd.DataFrame, instrument: Instrument) -> str:
    """Outcome scores per organisation with 95% intervals, pooled row last."""
    from analysis.render.narrative import esc

    t = outcome_score_table(agg, instrument)
    head = "".join(
        f"<th scope='col'>{esc(o.id)} {esc(o.short)}</th>" for o in instrument.outcomes.values()
    )
    body = []
    for r in t.to_dict("records"):
        cls = " class='total'" if r["organisation"].startswith("All ") else ""
        cells = "".join(f"<td class='num'>{esc(r[o]) or '–'}</td>" for o in instrument.outcomes)
        body.append(f"<tr{cls}><th scope='row'>{esc(r['organisation'])}</th>{cells}</tr>")
    return (
        '<table class="report-table score-table">'
        "<caption>Outcome scores (95% confidence interval), by organisation</caption>"
        f"<thead><tr><th scope='col'>Organisation</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def funnel_note_html(f) -> str:
    """The careful paragraph under one funnel chart."""
    from analysis.engine.funnel import describe
    from analysis.render.narrative import esc

    return f"<p>{esc(describe(f))}</p>"


# -- command line ------------------------------------------------------------------------------


def add_cli(parser: argparse.ArgumentParser) -> None:
    """Declare the ``aggregate`` command's arguments."""
    parser.add_argument(
        "trusts", nargs="*", metavar="TRUST", help="organisation slugs (default: all with findings)"
    )
    parser.add_argument("--audience", choices=("internal", "publication"), default="internal")
    parser.add_argument("--instrument", default=None, help="instrument YAML (default: built-in)")
    parser.add_argument(
        "--n-basis",
        choices=N_BASES,
        default=DEFAULT_N_BASIS,
        help="funnel plot base: cases (default, cautious) or relevant judgements",
    )
    parser.add_argument("--no-report", action="store_true", help="write findings and tables only")


def cli(args: argparse.Namespace) -> int:
    """Build the aggregate and say where it is."""
    t0 = time.perf_counter()
    out = build(
        args.trusts or None,
        audience=args.audience,
        instrument=args.instrument,
        n_basis=args.n_basis,
        report=not args.no_report,
    )
    print(f"wrote {out} ({time.perf_counter() - t0:.1f}s)")
    return 0


__all__ = ["AGGREGATE", "FINDINGS_COLUMNS", "build", "build_findings", "pool", "funnels"]
