"""The explorer: filtered findings from masks, equal to the whole engine's for the same cases.

The hand-worked table has eight cases, two questions and two case details:

====  =====  ======  ====  ====
case  grade  gender  a1    a2
====  =====  ======  ====  ====
c0    PO     Male    Yes   Yes
c1    PO     Male    Yes   NA
c2    PO     Female  Yes   Yes
c3    PO     Female  No    No
c4    PSO    Male    No    No
c5    PSO    Male    No    Yes
c6    PSO    Female  Yes   NA
c7    PSO    Female  No    No
====  =====  ======  ====  ====
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers.workbooks import valid_rows

from analysis.engine import run as engine
from analysis.engine.explore import BLANK, NOT_TESTED, Explorer
from analysis.engine.profile import MISSING
from analysis.engine.stats import fisher_2x2, fisher_2x2_many
from analysis.errors import UserError
from analysis.instrument import load_instrument

TINY = """
id: tinyx
version: "0"
answer_sets:
  yn:
    codes:
      - {code: "Yes", scores: above}
      - {code: "No", scores: below}
      - {code: "Not applicable", scores: na}
outcomes:
  - {id: O1, number: 1, name: One}
criteria:
  - {id: "1.1", outcome: O1, stage: s, title: C11}
case_details:
  - {id: case_id, type: identifier, sensitive: true}
  - {id: om_grade, type: category, codes: [PO, PSO], compare: true}
  - {id: gender, type: category, codes: [Male, Female], compare: true}
questions:
  - {id: a1, text: A1, criterion: "1.1", outcomes: [O1]}
  - {id: a2, text: A2, criterion: "1.1", outcomes: [O1]}
"""
NA = "Not applicable"


@pytest.fixture
def inst(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text(TINY)
    return load_instrument(p)


@pytest.fixture
def cases():
    return pd.DataFrame(
        {
            "case_id": [f"c{i}" for i in range(8)],
            "om_grade": ["PO"] * 4 + ["PSO"] * 4,
            "gender": ["Male", "Male", "Female", "Female"] * 2,
            "a1": ["Yes", "Yes", "Yes", "No", "No", "No", "Yes", "No"],
            "a2": ["Yes", NA, "Yes", "No", "No", "Yes", NA, "No"],
        }
    )


def _wilson(n: int, N: int, z: float = 1.959964) -> tuple[float, float]:
    # The textbook formula, written out: centre and half-width of the score interval.
    p = n / N
    centre = (p + z * z / (2 * N)) / (1 + z * z / N)
    half = z * math.sqrt(p * (1 - p) / N + z * z / (4 * N * N)) / (1 + z * z / N)
    return 100 * (centre - half), 100 * (centre + half)


def test_questions_of_a_filter(inst, cases):
    ex = Explorer(cases, inst)
    q = ex.questions_frame(ex.mask({"gender": ["Male"]})).set_index("measure_id")
    # Men: c0, c1, c4, c5. a1: Yes Yes No No -> 2 of 4; a2: Yes NA No Yes -> 2 of 3.
    assert (q.loc["a1", "numerator"], q.loc["a1", "denominator"]) == (2, 4)
    assert (q.loc["a2", "numerator"], q.loc["a2", "denominator"]) == (2, 3)
    assert q.loc["a2", "percent"] == pytest.approx(200 / 3)
    # Wilson for 2 of 4: centre 0.5, half-width 0.34996 -> 15.00 to 85.00.
    assert q.loc["a1", "ci_low"] == pytest.approx(15.004, abs=1e-3)
    assert q.loc["a1", "ci_high"] == pytest.approx(84.996, abs=1e-3)
    assert (q.loc["a2", "ci_low"], q.loc["a2", "ci_high"]) == pytest.approx(_wilson(2, 3))


def test_scores_of_a_filter(inst, cases):
    ex = Explorer(cases, inst)
    s = ex.scores(ex.mask({"gender": ["Male"]})).set_index("measure_id")
    # The outcome score is the mean of the question proportions: (2/4 + 2/3) / 2.
    assert s.loc["score_O1", "percent"] == pytest.approx(100 * (0.5 + 2 / 3) / 2)
    assert (s.loc["score_O1", "numerator"], s.loc["score_O1", "denominator"]) == (4, 7)


def test_differences_between_groups_are_fisher_and_bh(inst, cases):
    ex = Explorer(cases, inst)
    po, pso = ex.group_mask("om_grade", ["PO"]), ex.group_mask("om_grade", ["PSO"])
    d = ex.differences(po, pso, ("PO", "PSO")).set_index("measure_id")
    # a1: PO 3 of 4, PSO 1 of 4. With all margins 4 of 8, P(k) = C(4,k)^2 / 70:
    # 1, 16, 36, 16, 1 (/70). Observed k=3 (16/70); as likely or less: k=0,1,3,4 -> 34/70.
    assert d.loc["a1", "percent"] == pytest.approx(50)
    assert d.loc["a1", "p_value"] == pytest.approx(34 / 70)
    # a2: PO 2 of 3, PSO 1 of 3: P(k) = C(3,k)^2 / 20 = 1, 9, 9, 1 (/20); observed 9/20 -> 1.
    assert d.loc["a2", "p_value"] == pytest.approx(1.0)
    # BH over two tests: 34/70 * 2 / 1 = 68/70, capped by the next (1.0); 1.0 stays 1.0.
    assert d.loc["a1", "p_adjusted"] == pytest.approx(68 / 70)
    assert d.loc["a2", "p_adjusted"] == pytest.approx(1.0)
    assert (d["group"] == "PO - PSO").all()
    assert (d.loc["a1", "numerator_a"], d.loc["a1", "denominator_b"]) == (3, 4)


def test_groups_must_not_overlap(inst, cases):
    ex = Explorer(cases, inst)
    everyone = ex.mask()
    with pytest.raises(UserError, match="share cases"):
        ex.differences(everyone, ex.group_mask("gender", ["Male"]))


def test_one_question_by_every_detail(inst, cases):
    ex = Explorer(cases, inst)
    b = ex.by_detail("a1")
    rows = {(r.group_var, r.group): r for r in b.itertuples()}
    assert (rows["om_grade", "PO"].numerator, rows["om_grade", "PO"].denominator) == (3, 4)
    assert (rows["om_grade", "PSO"].numerator, rows["om_grade", "PSO"].denominator) == (1, 4)
    # Men c0 c1 c4 c5: Yes Yes No No; women c2 c3 c6 c7: Yes No Yes No -> 2 of 4 each.
    assert (rows["gender", "Male"].numerator, rows["gender", "Female"].numerator) == (2, 2)
    assert rows["om_grade", "PO"].p_value == pytest.approx(34 / 70)
    # [[2, 2], [2, 2]] is the most likely table there is: p = 1.
    assert rows["gender", "Male"].p_value == pytest.approx(1.0)
    assert (rows["om_grade", "PO"].ci_low, rows["om_grade", "PO"].ci_high) == pytest.approx(
        _wilson(3, 4)
    )
    # Within a filter (PO only) the PSO group is empty: kept, with a zero base.
    b = ex.by_detail("a1", ex.mask({"om_grade": ["PO"]})).set_index(["group_var", "group"])
    assert b.loc[("om_grade", "PSO"), "denominator"] == 0
    assert math.isnan(b.loc[("om_grade", "PSO"), "percent"])


def test_only_compared_details_are_tested(inst, cases):
    ex = Explorer(cases.assign(team=["T1", "T2"] * 4), inst, ["om_grade", "team"])
    b = ex.by_detail("a1")
    assert set(b.loc[b["group_var"] == "team", "method"]) == {NOT_TESTED}
    assert b.loc[b["group_var"] == "team", "p_value"].isna().all()


def test_filters_keep_and_select_blanks(inst, cases):
    cases = cases.assign(gender=["Male", None, "Female", "Female", " Male ", "Male", "", None])
    ex = Explorer(cases, inst)
    d = ex.details["gender"]
    assert d.options == ("Male", "Female", MISSING)
    assert ex.mask({"gender": ["Male"]}).tolist() == [1, 0, 0, 0, 1, 1, 0, 0]
    assert ex.mask({"gender": [MISSING]}).tolist() == [0, 1, 0, 0, 0, 0, 1, 1]
    assert ex.mask({"gender": []}).sum() == 0
    assert ex.mask({}).all()


def test_a_group_called_not_recorded_keeps_blanks_apart(inst, cases):
    cases = cases.assign(team=[MISSING, "A", None, "A", "A", MISSING, "A", "A"])
    ex = Explorer(cases, inst, ["team"])
    assert ex.details["team"].options == ("A", MISSING, BLANK)
    assert ex.mask({"team": [BLANK]}).tolist() == [0, 0, 1, 0, 0, 0, 0, 0]


def test_pooled_cases_make_the_organisation_a_detail(inst, cases):
    pooled = pd.concat([cases.assign(trust="x-one"), cases.assign(trust="y-two")])
    ex = Explorer(pooled, inst)
    assert list(ex.details)[0] == "trust"
    assert "trust" in ex.tested
    q = ex.questions_frame(ex.mask({"trust": ["y-two"], "gender": ["Male"]}))
    assert q["denominator"].tolist() == [4, 3]


def test_unknown_question_and_column_are_clear_errors(inst, cases):
    with pytest.raises(UserError, match="no column 'team'"):
        Explorer(cases, inst, ["team"])
    with pytest.raises(UserError, match="not a judged question"):
        Explorer(cases, inst).by_detail("zz")


# -- the vectorised Fisher test -----------------------------------------------------------


def test_fisher_many_equals_scipy_one_table_at_a_time():
    rng = np.random.default_rng(7)
    for top in (4, 30, 200):
        a, b, c, d = (rng.integers(0, top, 400) for _ in range(4))
        many, one = fisher_2x2_many(a, b, c, d), fisher_2x2(a, b, c, d)
        # The same algorithm on the same scipy probabilities: equal, not merely close.
        assert np.array_equal(many, one, equal_nan=True)


def test_fisher_many_by_hand_and_empty_margins():
    # [[3, 1], [1, 3]]: 34/70 (see above); an empty row or column is not testable.
    p = fisher_2x2_many([3, 0, 2], [1, 0, 0], [1, 4, 3], [3, 2, 0])
    assert p[0] == pytest.approx(34 / 70)
    assert np.isnan(p[1]) and np.isnan(p[2])


# -- equality with the whole engine ----------------------------------------------------------


@pytest.fixture(scope="module")
def varied():
    """Valid cases for the default instrument, each column shuffled so that counts vary."""
    inst = load_instrument()
    df = pd.DataFrame(valid_rows(inst, 90))
    rng = np.random.default_rng(3)
    for col in df.columns:
        if col != "case_id":
            df[col] = df[col].to_numpy()[rng.permutation(len(df))]
    return inst, df


FILTERS = [
    {},
    {"case_type": ["Community order", "Licence"]},
    {"gender": ["Female"], "case_type": ["Licence", "Suspended sentence order"]},
]


@pytest.mark.parametrize("selected", FILTERS, ids=lambda s: "+".join(s) or "all")
def test_equal_to_the_engine_for_a_filter(varied, selected):
    inst, cases = varied
    ex = Explorer(cases, inst)
    mask = ex.mask(selected)
    f = engine.analyse(cases[mask], inst, "x")
    num = ["numerator", "denominator", "percent", "ci_low", "ci_high"]

    def same(ours: pd.DataFrame, theirs: pd.DataFrame, cols) -> None:
        for c in cols:
            a, b = ours[c].to_numpy(float), theirs[c].to_numpy(float)
            assert np.array_equal(a, b, equal_nan=True), c

    same(ex.questions_frame(mask), f[f["kind"] == "question"], num)
    scores = f[f["kind"].isin(["outcome_score", "criterion_score"])]
    same(ex.scores(mask), scores, num)
    for gv, (g1, g2) in [("om_grade", ("PO", "PSO")), ("gender", ("Male", "Female"))]:
        diff = ex.differences(mask & ex.group_mask(gv, [g1]), mask & ex.group_mask(gv, [g2]))
        theirs = f[(f["kind"] == "difference") & (f["group_var"] == gv)]
        if theirs.empty:  # the filter keeps one group: the engine compares nothing
            assert diff["p_value"].isna().all()
            continue
        same(diff, theirs, ["percent", "ci_low", "ci_high", "p_value", "p_adjusted"])
    question = ex.questions[3]
    by = ex.by_detail(question, mask)
    theirs = f[(f["kind"] == "comparison") & (f["measure_id"] == question)]
    merged = by.merge(theirs, on=["group_var", "group"], suffixes=("", "_f"))
    assert len(merged) == len(theirs) > 0
    for c in ["numerator", "denominator", "ci_low", "ci_high"]:
        assert np.array_equal(merged[c], merged[f"{c}_f"].astype(float), equal_nan=True)
    tests = f[(f["kind"] == "difference") & (f["measure_id"] == question)]
    mine = by.drop_duplicates("group_var").set_index("group_var")["p_value"]
    for r in tests.itertuples():
        assert mine[r.group_var] == pytest.approx(r.p_value, rel=1e-12, nan_ok=True)


@pytest.mark.e2e
def test_equal_to_the_engine_on_the_demo_trust():
    from analysis import config
    from analysis.ingest import read_cases

    inst = load_instrument()
    # The demo workbook the session copied in (a byte-identical synthesis of the calibrated
    # profile), read as the explorer's users read it; generating it again here re-ran the
    # calibration, this file's slowest step by far.
    book = config.RAW_DIR / "norfolk-and-suffolk.xlsx"
    if book.is_file():
        cases = read_cases(book, inst, trust="norfolk-and-suffolk")
    else:  # a session without the demo workbooks (pytest outside make test)
        from analysis.synthetic import generate as synth

        cases = synth.generate("norfolk-and-suffolk", instrument=inst)
    ex = Explorer(cases, inst)
    for selected in FILTERS:
        mask = ex.mask(selected)
        f = engine.analyse(cases[mask], inst, "x")
        q = f[f["kind"] == "question"]
        assert np.array_equal(
            ex.questions_frame(mask)["ci_low"].to_numpy(float),
            q["ci_low"].to_numpy(float),
            equal_nan=True,
        )
        diff = ex.differences(
            mask & ex.group_mask("om_grade", ["PO"]), mask & ex.group_mask("om_grade", ["PSO"])
        )
        theirs = f[(f["kind"] == "difference") & (f["group_var"] == "om_grade")]
        for c in ("p_value", "p_adjusted", "ci_low"):
            assert np.array_equal(diff[c], theirs[c].to_numpy(float), equal_nan=True), c
