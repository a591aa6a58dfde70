"""Pooling several organisations' findings into one: the aggregate's computations.

Counts are pooled from the findings' numerators and denominators, never from
percentages: a pooled question proportion is sum(above) / sum(relevant).
Intervals, differences and tests are recomputed on the pooled counts with the
same methods the engine uses (:mod:`analysis.engine.stats`). Only two things need the
processed cases:

- the *interval* of a pooled score: a score is a mean of question proportions
  with judgements clustered in cases, and its case-clustered interval cannot be
  rebuilt from counts. Without the cases the pooled score is still given
  (from the counts), with no interval;
- an organisation whose findings were written for publication has suppressed
  counts; its unsuppressed counts are recomputed from its cases (by the caller,
  :func:`analysis.pipeline.aggregate.load_findings`).

Pooled comparisons (by the instrument's ``compare: true`` details with fixed codes: PO vs
PSO, gender, RoSH level at start) add up groups across organisations. An
organisation with more PSO cases and lower scores can make PSOs look worse in
the pool than in any one organisation (Simpson's paradox); the report says so.

The funnel plots' points (each organisation's outcome score against the pooled
one) are computed here too; drawing them is :mod:`analysis.engine.funnel`'s.
This module computes only: it reads and writes no files and renders nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.engine import scoring
from analysis.engine.compare import DIFF_SEP, MULTI_SEP
from analysis.engine.disclosure import apply_disclosure
from analysis.engine.factors import (
    FOLLOW_UP_ITEMS,
    IDENTIFIED,
    MOST_PREVALENT,
    OTHER_COMMON,
    factor_rows,
)
from analysis.engine.findings import KINDS, conform
from analysis.engine.funnel import Funnel, build_funnel
from analysis.engine.stats import (
    bh_adjust,
    fisher_2x2_many,
    k_by_2_test,
    newcombe_difference,
    wilson,
)
from analysis.errors import UserError
from analysis.instrument import Instrument

#: The ``trust`` of pooled rows, and the name of the aggregate's output folder.
AGGREGATE = "aggregate"
#: Kinds copied per organisation into the aggregate findings (beside the pooled rows).
#: Ratings too: an aggregate is never rated, each organisation's own ratings are shown.
PER_TRUST_KINDS = ("outcome_score", "criterion_score", "sample", "rating")
#: What the funnel plot's horizontal axis counts by default (see :func:`funnel_for`).
DEFAULT_N_BASIS = "cases"
N_BASES = ("cases", "judgements")


def pooled_comparisons(instrument: Instrument) -> list[str]:
    """Compared case details that can be pooled: those with fixed codes.

    Free-text details such as LDU names belong to one organisation and are never pooled.
    """
    return [c for c in instrument.comparison_columns if instrument.case_details[c].codes]


# -- pooling ---------------------------------------------------------------------------


def _wilson_pct(n, N) -> tuple[np.ndarray, np.ndarray]:
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

    Each comparison column's counts are laid out as one questions x groups array (a
    group a question lacks counts 0), so the two-group intervals and exact tests are a
    few array calls (:func:`~analysis.engine.stats.fisher_2x2_many` gives scipy's p
    values) rather than pandas work per question.
    """
    if cmp.empty:
        return pd.DataFrame()
    out = []
    for gv, rows in cmp.groupby("group_var", sort=False):
        rows = rows.reset_index(drop=True)
        q_code, qids = pd.factorize(rows["measure_id"], sort=False)
        g_code, groups = pd.factorize(rows["group"], sort=False)
        groups = list(groups)
        shape = (len(qids), len(groups))
        a, r = np.zeros(shape), np.zeros(shape)
        a[q_code, g_code] = rows["numerator"].astype("float64").fillna(0).to_numpy(float)
        r[q_code, g_code] = rows["denominator"].astype("float64").fillna(0).to_numpy(float)
        # A question's wording is that of its row for the first group (none when it lacks one).
        first = rows[g_code == 0].set_index(q_code[g_code == 0])
        diff = pd.DataFrame(
            {
                "kind": "difference",
                "outcome": first["outcome"].reindex(range(len(qids))).to_numpy(object),
                "criterion": first["criterion"].reindex(range(len(qids))).to_numpy(object),
                "measure_id": np.asarray(qids, dtype=object),
                "label": first["label"].reindex(range(len(qids))).to_numpy(object),
                "group_var": gv,
            }
        )
        if len(groups) == 2:
            d, lo, hi = newcombe_difference(a[:, 0], r[:, 0], a[:, 1], r[:, 1])
            diff["group"] = DIFF_SEP.join(groups)
            diff["percent"], diff["ci_low"], diff["ci_high"] = 100 * d, 100 * lo, 100 * hi
            diff["p_value"] = fisher_2x2_many(
                a[:, 0], r[:, 0] - a[:, 0], a[:, 1], r[:, 1] - a[:, 1]
            )
            diff["method"] = "Newcombe hybrid score interval; Fisher's exact test"
        else:
            tests = [k_by_2_test(np.column_stack([a[i], r[i] - a[i]])) for i in range(len(qids))]
            diff["group"] = MULTI_SEP.join(groups)
            diff["p_value"] = [t.p_value for t in tests]
            diff["method"] = [t.method for t in tests]
        diff["p_adjusted"] = bh_adjust(diff["p_value"].to_numpy(dtype=float))
        diff["method"] = diff["method"] + "; Benjamini-Hochberg across questions; pooled counts"
        # Each question's group rows, then its difference row (the engine's order).
        both = pd.concat([rows, diff], ignore_index=True)
        question = np.concatenate([q_code, np.arange(len(qids))])
        after = np.concatenate([np.zeros(len(rows), int), np.ones(len(qids), int)])
        out.append(both.iloc[np.lexsort((after, question))].reset_index(drop=True))
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
        Unsuppressed findings of every organisation
        (:func:`analysis.pipeline.aggregate.load_findings`).
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
    """Each organisation's score, sample and rating rows, ordered by kind then organisation."""
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
    """The aggregate findings table: pooled rows, then per-organisation score (and rating) rows."""
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


def funnel_for(
    agg: pd.DataFrame, instrument: Instrument, outcome: str, n_basis: str = DEFAULT_N_BASIS
) -> Funnel:
    """The funnel of one outcome score: organisations against the pooled score.

    The limits treat the score as a binomial proportion of ``n``. Neither base
    is exact: judgements within a case are correlated, so ``n`` = judgements
    overstates the information (limits too narrow, too many organisations
    flagged); a score averages several judgements per case, so ``n`` = cases
    understates it (limits a little wide). The cautious choice, cases, is the
    default; the organisations' own case-clustered intervals are shown beside.
    """
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


def funnels(
    agg: pd.DataFrame, instrument: Instrument, n_basis: str = DEFAULT_N_BASIS
) -> dict[str, Funnel]:
    """Funnels for every outcome with scores, keyed by outcome id."""
    out = {}
    for o in instrument.outcomes:
        f = funnel_for(agg, instrument, o, n_basis)
        if not f.points.empty:
            out[o] = f
    return out


def funnel_table(fs: dict[str, Funnel]) -> pd.DataFrame:
    """All funnels' points in one tidy table (``funnel.csv``)."""
    frames = []
    for o, f in fs.items():
        pts = f.points.copy()
        pts.insert(0, "outcome", o)
        pts.insert(1, "pooled_percent", f.p0 * 100)
        pts["n_basis"] = f.n_basis
        frames.append(pts)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# -- reading the aggregate table ---------------------------------------------------------


def pooled_rows(agg: pd.DataFrame) -> pd.DataFrame:
    """Only the pooled rows (``trust == "aggregate"``): what single-trust renderers expect."""
    return agg[agg["trust"] == AGGREGATE].reset_index(drop=True)


def trusts_in(agg: pd.DataFrame) -> list[str]:
    """Organisations the aggregate covers, sorted."""
    return sorted(set(agg["trust"]) - {AGGREGATE, ""})
