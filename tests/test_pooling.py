"""Pooling two hand-made organisations: every pooled figure is checked against hand counts.

Trust A and trust B have four cases each (``tests/helpers/pooling.py``). The expected
values below are worked out by hand from those answers, never copied from a run.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from fixtures_findings import fixture_instrument
from helpers.pooling import TRUSTS, two_trust_cases

from analysis.engine import pooling
from analysis.engine import run as engine
from analysis.engine.findings import conform
from analysis.errors import UserError

INST = fixture_instrument()


def _cases() -> pd.DataFrame:
    return pd.concat([two_trust_cases(t, INST) for t in TRUSTS], ignore_index=True)


def _findings() -> pd.DataFrame:
    frames = [engine.analyse(two_trust_cases(t, INST), INST, t) for t in TRUSTS]
    return conform(pd.concat(frames, ignore_index=True))


def _pooled(**kw) -> pd.DataFrame:
    return pooling.build_findings(_findings(), INST, cases=_cases(), **kw)


def _row(df, kind, measure_id, **kw):
    m = (df["kind"] == kind) & (df["measure_id"] == measure_id)
    for k, v in kw.items():
        m &= df[k] == v
    rows = df[m]
    assert len(rows) == 1, (kind, measure_id, kw, len(rows))
    return rows.iloc[0]


def _wilson(n, d, z=1.959964):
    p = n / d
    c = (p + z * z / (2 * d)) / (1 + z * z / d)
    h = z * math.sqrt(p * (1 - p) / d + z * z / (4 * d * d)) / (1 + z * z / d)
    return 100 * (c - h), 100 * (c + h)


def test_pooled_question_sums_counts():
    agg = _pooled()
    pooled = agg[agg["trust"] == "aggregate"]
    r = _row(pooled, "question", "s_report_quality")
    assert (r["numerator"], r["denominator"]) == (4, 7)  # 3 of 4 plus 1 of 3
    assert r["percent"] == pytest.approx(100 * 4 / 7)
    lo, hi = _wilson(4, 7)
    assert r["ci_low"] == pytest.approx(lo, abs=1e-6)
    assert r["ci_high"] == pytest.approx(hi, abs=1e-6)
    assert "low" in r["flags"]  # a base of 7 is under 10


def test_pooled_outcome_score_is_mean_of_pooled_question_proportions():
    agg = _pooled()
    pooled = agg[agg["trust"] == "aggregate"]
    # O1: only s_report_quality is relevant (children checks are not applicable): 4/7.
    assert _row(pooled, "outcome_score", "score_O1")["percent"] == pytest.approx(100 * 4 / 7)
    # O4: police checks 6/8 and risk review 5/7 -> mean 0.732143, not the mean of the
    # two trusts' scores (75.0 and 66.7 -> 70.8): pooling is by counts.
    o4 = _row(pooled, "outcome_score", "score_O4")
    assert o4["percent"] == pytest.approx(100 * (6 / 8 + 5 / 7) / 2)
    assert (o4["numerator"], o4["denominator"]) == (11, 15)
    # The interval comes from the pooled cases and contains the score.
    assert o4["ci_low"] < o4["percent"] < o4["ci_high"]


def test_per_trust_score_rows_kept():
    agg = _pooled()
    a = agg[agg["trust"] == "trust-a"]
    b = agg[agg["trust"] == "trust-b"]
    assert _row(a, "outcome_score", "score_O4")["percent"] == pytest.approx(75.0)
    assert _row(b, "outcome_score", "score_O4")["percent"] == pytest.approx(100 * (1 + 1 / 3) / 2)
    assert _row(a, "sample", "n_cases")["numerator"] == 4
    assert set(agg["kind"][agg["trust"] != "aggregate"]) <= {
        "outcome_score",
        "criterion_score",
        "sample",
        "rating",
    }


def test_each_organisations_ratings_are_kept_and_never_pooled():
    # Hand-made: trust-a's standard 2.1 rated Good on 35 of 50 (a programme with ratings).
    rated = dict(trust="trust-a", kind="rating", measure_id="rating_2.1", label="Assessment",
                 category="Good", numerator=35, denominator=50, percent=70.0)  # fmt: skip
    findings = conform(pd.concat([_findings(), pd.DataFrame([rated])], ignore_index=True))
    agg = pooling.build_findings(findings, INST, cases=_cases())
    [row] = agg[agg["kind"] == "rating"].to_dict("records")
    assert (row["trust"], row["category"], row["numerator"]) == ("trust-a", "Good", 35)


def test_profile_base_counts_trusts_without_the_category():
    agg = _pooled()
    pooled = agg[agg["trust"] == "aggregate"]
    # Trust B has no Female case, so no Female row; its 4 cases still count in the base.
    fem = _row(pooled, "profile", "gender", category="Female")
    assert (fem["numerator"], fem["denominator"]) == (1, 8)
    assert _row(pooled, "sample", "n_cases")["numerator"] == 8
    # LDU names are organisation-specific: never pooled.
    assert not ((pooled["kind"] == "profile") & (pooled["measure_id"] == "ldu")).any()


def test_pooled_breakdown():
    pooled = _pooled().query("trust == 'aggregate'")
    r = _row(pooled, "breakdown", "r_rosh_review", category="No review")
    assert (r["numerator"], r["denominator"]) == (2, 7)
    r = _row(pooled, "breakdown", "r_rosh_review", category="Sufficient review")
    assert r["numerator"] == 5


def test_pooled_factor():
    pooled = _pooled().query("trust == 'aggregate'")
    r = _row(pooled, "factor", "f_alcohol_identified")
    assert (r["numerator"], r["denominator"]) == (3, 8)
    r = _row(pooled, "factor", "f_alcohol_interventions")
    assert (r["numerator"], r["denominator"]) == (2, 3)
    # alcohol is the only factor identified, so it ranks first.
    first = pooled[pooled["kind"] == "factor"].iloc[0]
    assert first["measure_id"] == "f_alcohol_identified"


def test_pooled_po_pso_difference():
    pooled = _pooled().query("trust == 'aggregate'")
    po = _row(pooled, "comparison", "s_report_quality", group_var="om_grade", group="PO")
    pso = _row(pooled, "comparison", "s_report_quality", group_var="om_grade", group="PSO")
    assert (po["numerator"], po["denominator"]) == (3, 3)
    assert (pso["numerator"], pso["denominator"]) == (1, 4)
    d = _row(pooled, "difference", "s_report_quality", group_var="om_grade")
    assert d["group"] == "PO - PSO"
    assert d["percent"] == pytest.approx(75.0)
    # Fisher, table [[3, 0], [1, 3]]: P(a=0) + P(a=3) = 1/35 + 4/35.
    assert d["p_value"] == pytest.approx(5 / 35)
    assert not (pooled["group_var"] == "ldu").any()


def test_publication_audience_suppresses_pooled_small_cells():
    agg = _pooled(audience="publication")
    r = _row(agg.query("trust == 'aggregate'"), "question", "s_report_quality")
    assert "c" in r["flags"].split(";")
    assert pd.isna(r["numerator"])


def test_funnel_from_aggregate():
    inst = INST
    agg = _pooled()
    f = pooling.funnel_for(agg, inst, "O4")
    assert f.p0 == pytest.approx((6 / 8 + 5 / 7) / 2)
    pts = f.points.set_index("trust")
    assert pts.loc["trust-a", "n"] == 4  # cases with a relevant O4 judgement
    fj = pooling.funnel_for(agg, inst, "O4", n_basis="judgements")
    assert fj.points.set_index("trust").loc["trust-a", "n"] == 8  # 4 police + 4 review


def test_pooled_comparisons_skip_free_text_details():
    # The fixture compares ldu (free text: unit names differ between organisations), gender
    # and om_grade; only the coded two can be pooled.
    assert pooling.pooled_comparisons(INST) == ["gender", "om_grade"]


def test_pooled_scores_without_cases_have_no_interval():
    agg = pooling.build_findings(_findings(), INST)
    o4 = _row(agg.query("trust == 'aggregate'"), "outcome_score", "score_O4")
    assert o4["percent"] == pytest.approx(100 * (6 / 8 + 5 / 7) / 2)  # still from the counts
    assert pd.isna(o4["ci_low"]) and pd.isna(o4["ci_high"])
    assert "interval needs processed cases" in o4["method"]


def test_pooled_scores_refuse_findings_that_disagree_with_the_cases():
    findings = _findings()
    stale = (findings["kind"] == "question") & (findings["measure_id"] == "d_police_checks")
    findings.loc[stale & (findings["trust"] == "trust-b"), "numerator"] = 0  # was 4 of 4
    with pytest.raises(AssertionError, match="disagree"):
        pooling.build_findings(findings, INST, cases=_cases())


def test_pooled_and_trusts_in():
    agg = _pooled()
    assert pooling.trusts_in(agg) == ["trust-a", "trust-b"]
    pooled = pooling.pooled_rows(agg)
    assert set(pooled["trust"]) == {"aggregate"}
    assert len(pooled) == (agg["trust"] == "aggregate").sum()


def test_funnel_table_has_one_row_per_trust_and_outcome():
    fs = pooling.funnels(_pooled(), INST)
    table = pooling.funnel_table(fs)
    assert list(table.columns[:2]) == ["outcome", "pooled_percent"]
    o4 = table[table["outcome"] == "O4"].set_index("trust")
    assert sorted(o4.index) == ["trust-a", "trust-b"]
    assert o4["pooled_percent"].iloc[0] == pytest.approx(100 * (6 / 8 + 5 / 7) / 2)
    with pytest.raises(UserError, match="n_basis"):
        pooling.funnels(_pooled(), INST, n_basis="organisations")
