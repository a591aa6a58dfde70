"""Pooling two hand-made organisations: every pooled figure is checked against hand counts.

Trust A and trust B have four cases each (see ``_cases``). The expected values
below are worked out by hand from those answers, never copied from a run.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from fixtures_findings import FIXTURE_INSTRUMENT_YAML

from analysis import config
from analysis.engine import run as engine
from analysis.instrument import load_instrument
from analysis.pipeline import aggregate

NA = "Not applicable"


def _cases(trust: str) -> pd.DataFrame:
    """Four processed cases; unspecified questions are not applicable."""
    if trust == "trust-a":
        cols = {
            "om_grade": ["PO", "PO", "PSO", "PSO"],
            "gender": ["Male", "Male", "Female", "Male"],
            "ldu": ["North", "North", "South", "South"],
            "s_report_quality": ["Yes", "Yes", "Yes", "No"],  # 3 of 4
            "d_police_checks": ["Yes", "Yes", "No", "No"],  # 2 of 4
            "r_rosh_review": ["Sufficient review"] * 4,  # 4 of 4
            "f_alcohol_identified": ["Yes", "Yes", "No", "No"],
            "f_alcohol_interventions": ["Yes", "No", NA, NA],
        }
    else:
        cols = {
            "om_grade": ["PO", "PSO", "PSO", "PO"],
            "gender": ["Male"] * 4,
            "ldu": ["East"] * 4,
            "s_report_quality": ["Yes", "No", "No", NA],  # 1 of 3
            "d_police_checks": ["Yes"] * 4,  # 4 of 4
            "r_rosh_review": ["No review", "No review", "Sufficient review", NA],  # 1 of 3
            "f_alcohol_identified": ["Yes", "No", "No", "No"],
            "f_alcohol_interventions": ["Yes", NA, NA, NA],
        }
    base = {
        "case_id": [f"{trust}-{i}" for i in range(4)],
        "trust": [trust] * 4,
        "case_type": ["Community order"] * 4,
        "ethnicity": ["White"] * 4,
        "rosh_start": ["Medium"] * 4,
        "principal_offence": ["Burglary"] * 4,
        "report_type": ["None"] * 4,
    }
    df = pd.DataFrame({**base, **cols})
    inst = _instrument()
    for q in inst.questions:
        if q not in df.columns:
            df[q] = "No" if q.endswith("_identified") else NA
    df["source_row"] = range(2, 6)
    return df


_INST = None


def _instrument():
    global _INST
    if _INST is None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "fixture.yaml"
            p.write_text(FIXTURE_INSTRUMENT_YAML, encoding="utf-8")
            _INST = load_instrument(p)
    return _INST


@pytest.fixture
def two_trusts(tmp_path, monkeypatch):
    """Findings and processed cases of trust-a and trust-b under tmp_path."""
    inst_path = tmp_path / "fixture.yaml"
    inst_path.write_text(FIXTURE_INSTRUMENT_YAML, encoding="utf-8")
    inst = load_instrument(inst_path)
    outputs, processed = tmp_path / "outputs", tmp_path / "processed"
    processed.mkdir()
    monkeypatch.setattr(config, "OUTPUTS_DIR", outputs)
    monkeypatch.setattr(config, "PROCESSED_DIR", processed)
    findings = {}
    for t in ("trust-a", "trust-b"):
        cases = _cases(t)
        cases.to_parquet(processed / f"{t}.parquet", index=False)
        findings[t] = engine.analyse(cases, inst, t)
        engine.write_findings(findings[t], outputs / t)
    return inst, inst_path, outputs, findings


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


def _pooled(two_trusts, **kw):
    inst, _, outputs, _ = two_trusts
    f = aggregate.load_findings(["trust-a", "trust-b"], inst, outputs)
    cases = aggregate.load_cases(["trust-a", "trust-b"])
    return aggregate.build_findings(f, inst, cases=cases, **kw)


def test_pooled_question_sums_counts(two_trusts):
    agg = _pooled(two_trusts)
    pooled = agg[agg["trust"] == "aggregate"]
    r = _row(pooled, "question", "s_report_quality")
    assert (r["numerator"], r["denominator"]) == (4, 7)  # 3 of 4 plus 1 of 3
    assert r["percent"] == pytest.approx(100 * 4 / 7)
    lo, hi = _wilson(4, 7)
    assert r["ci_low"] == pytest.approx(lo, abs=1e-6)
    assert r["ci_high"] == pytest.approx(hi, abs=1e-6)
    assert "low" in r["flags"]  # a base of 7 is under 10


def test_pooled_outcome_score_is_mean_of_pooled_question_proportions(two_trusts):
    agg = _pooled(two_trusts)
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


def test_per_trust_score_rows_kept(two_trusts):
    agg = _pooled(two_trusts)
    a = agg[agg["trust"] == "trust-a"]
    b = agg[agg["trust"] == "trust-b"]
    assert _row(a, "outcome_score", "score_O4")["percent"] == pytest.approx(75.0)
    assert _row(b, "outcome_score", "score_O4")["percent"] == pytest.approx(100 * (1 + 1 / 3) / 2)
    assert _row(a, "sample", "n_cases")["numerator"] == 4
    assert set(agg["kind"][agg["trust"] != "aggregate"]) <= {
        "outcome_score",
        "criterion_score",
        "sample",
    }


def test_profile_base_counts_trusts_without_the_category(two_trusts):
    agg = _pooled(two_trusts)
    pooled = agg[agg["trust"] == "aggregate"]
    # Trust B has no Female case, so no Female row; its 4 cases still count in the base.
    fem = _row(pooled, "profile", "gender", category="Female")
    assert (fem["numerator"], fem["denominator"]) == (1, 8)
    assert _row(pooled, "sample", "n_cases")["numerator"] == 8
    # LDU names are organisation-specific: never pooled.
    assert not ((pooled["kind"] == "profile") & (pooled["measure_id"] == "ldu")).any()


def test_pooled_breakdown(two_trusts):
    pooled = _pooled(two_trusts).query("trust == 'aggregate'")
    r = _row(pooled, "breakdown", "r_rosh_review", category="No review")
    assert (r["numerator"], r["denominator"]) == (2, 7)
    r = _row(pooled, "breakdown", "r_rosh_review", category="Sufficient review")
    assert r["numerator"] == 5


def test_pooled_factor(two_trusts):
    pooled = _pooled(two_trusts).query("trust == 'aggregate'")
    r = _row(pooled, "factor", "f_alcohol_identified")
    assert (r["numerator"], r["denominator"]) == (3, 8)
    r = _row(pooled, "factor", "f_alcohol_interventions")
    assert (r["numerator"], r["denominator"]) == (2, 3)
    # alcohol is the only factor identified, so it ranks first.
    first = pooled[pooled["kind"] == "factor"].iloc[0]
    assert first["measure_id"] == "f_alcohol_identified"


def test_pooled_po_pso_difference(two_trusts):
    pooled = _pooled(two_trusts).query("trust == 'aggregate'")
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


def test_publication_findings_are_recomputed_unsuppressed(two_trusts):
    inst, _, outputs, _ = two_trusts
    cases = _cases("trust-a")
    engine.write_findings(
        engine.analyse(cases, inst, "trust-a", audience="publication"), outputs / "trust-a"
    )
    internal = _pooled(two_trusts)
    r = _row(internal.query("trust == 'aggregate'"), "question", "s_report_quality")
    assert (r["numerator"], r["denominator"]) == (4, 7)


def test_publication_audience_suppresses_pooled_small_cells(two_trusts):
    agg = _pooled(two_trusts, audience="publication")
    r = _row(agg.query("trust == 'aggregate'"), "question", "s_report_quality")
    assert "c" in r["flags"].split(";")
    assert pd.isna(r["numerator"])


def test_funnel_from_aggregate(two_trusts):
    inst = two_trusts[0]
    agg = _pooled(two_trusts)
    f = aggregate.funnel_for(agg, inst, "O4")
    assert f.p0 == pytest.approx((6 / 8 + 5 / 7) / 2)
    pts = f.points.set_index("trust")
    assert pts.loc["trust-a", "n"] == 4  # cases with a relevant O4 judgement
    fj = aggregate.funnel_for(agg, inst, "O4", n_basis="judgements")
    assert fj.points.set_index("trust").loc["trust-a", "n"] == 8  # 4 police + 4 review


def test_build_writes_outputs(two_trusts):
    _, inst_path, outputs, _ = two_trusts
    out = aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)
    assert out == outputs / "aggregate" / "findings.csv"
    csv = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(csv["trust"]) == {"aggregate", "trust-a", "trust-b"}
    assert (outputs / "aggregate" / "funnel.csv").exists()
    assert (outputs / "aggregate" / "charts" / "funnel_O4.png").exists()
    # Identical on a rerun (no timestamps in findings).
    first = out.read_bytes()
    aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)
    assert out.read_bytes() == first


def test_needs_two_trusts(two_trusts, tmp_path):
    from analysis.errors import UserError

    with pytest.raises(UserError):
        aggregate.build(["trust-a"], outputs_dir=two_trusts[2], report=False)


def test_score_table(two_trusts):
    inst = two_trusts[0]
    t = aggregate.outcome_score_table(_pooled(two_trusts), inst)
    assert list(t["organisation"]) == ["trust-a", "trust-b", "All organisations (pooled)"]
    assert t.loc[0, "O4"].startswith("75%")


def test_pooled_comparisons_skip_free_text_details():
    # The fixture compares ldu (free text: unit names differ between organisations), gender
    # and om_grade; only the coded two can be pooled.
    assert aggregate.pooled_comparisons(_instrument()) == ["gender", "om_grade"]
