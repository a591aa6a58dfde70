"""Rating rows (issue 16, point 2): key questions, standards, points, overall, and the
probability that a rating would differ. On the tiny standards instrument; every expected
value is worked by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.engine import analyse
from analysis.engine.ratings import BOOTSTRAP_REPLICATES, key_question_codes, rating_rows
from analysis.engine.scoring import judgement_matrix
from analysis.instrument import load_instrument

TINY = Path(__file__).parent / "data" / "instruments" / "tiny-standards.yaml"
QUESTIONS = ["a_engage", "a_desist", "a_safety", "p_p1", "p_p2", "p_early", "p_late", "c_report"]
NA = "Not applicable"


@pytest.fixture(scope="module")
def inst():
    return load_instrument(TINY)


def changed(tmp_path, change):
    spec = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    spec = copy.deepcopy(spec)
    change(spec)
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return load_instrument(path)


def cases(supervision: list[dict], court: list[str] | None = None) -> pd.DataFrame:
    """Processed cases: supervision answers (missing questions Yes), then court cases."""
    rows = []
    for i, answers in enumerate(supervision):
        row = {"case_id": f"S{i}", "sample": "Supervision", "c_report": NA}
        row.update({q: "Yes" for q in QUESTIONS if q != "c_report"})
        row.update(p_early=NA, p_late=NA)
        row.update(answers)
        rows.append(row)
    for i, answer in enumerate(court or []):
        row = {"case_id": f"C{i}", "sample": "Court", **{q: NA for q in QUESTIONS}}
        row["c_report"] = answer
        rows.append(row)
    return pd.DataFrame(rows)


def yes_no(n_yes: int, n: int, q: str) -> list[dict]:
    return [{q: "Yes" if i < n_yes else "No"} for i in range(n)]


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p): the closed form of a one-proportion case bootstrap."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def rows_of(df: pd.DataFrame) -> dict[str, dict]:
    return {r["measure_id"]: r for r in df.to_dict("records")}


# -- key questions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("combine", "extra", "expected"),
    [
        # prompts (p_p1, p_p2) per case: (Yes, Yes) (Yes, No) (No, No) (Yes, NA) (NA, NA)
        ("all", {}, [1, 0, 0, 1, -1]),  # every relevant prompt above; NA prompts left out
        ("any", {}, [1, 1, 0, 1, -1]),  # at least one above
        ("at_least", {"at_least": 2}, [1, 0, 0, 0, -1]),  # two above
    ],
)
def test_key_questions_combine_their_prompts(tmp_path, combine, extra, expected):
    def change(s):
        s["key_questions"][3].update(combine=combine, **extra)

    inst = changed(tmp_path, change)
    pairs = [("Yes", "Yes"), ("Yes", "No"), ("No", "No"), ("Yes", NA), (NA, NA)]
    df = cases([{"p_p1": a, "p_p2": b} for a, b in pairs])
    ids, codes = key_question_codes(judgement_matrix(df, inst), inst)
    assert codes[:, ids.index("kq_plan")].tolist() == expected
    # a judged key question copies its question: all five a_engage are Yes
    assert codes[:, ids.index("kq_engage")].tolist() == [1] * 5


# -- standards ------------------------------------------------------------------------------


def test_lowest_key_question_band_edges_points_and_overall(inst):
    # 20 supervision cases: engagement 16/20 = 80%, desistance 13/20 = 65%, safety 20/20.
    sup = [
        {**e, **d}
        for e, d in zip(yes_no(16, 20, "a_engage"), yes_no(13, 20, "a_desist"), strict=True)
    ]
    # plan: p_p2 18/20 = 90% (p_p1 all Yes): all of the two = 18/20; court 7 of 10 = 70%
    for i in (18, 19):
        sup[i]["p_p2"] = "No"
    df = cases(sup, ["Yes"] * 7 + ["No"] * 3)
    r = rows_of(rating_rows(judgement_matrix(df, inst), df, inst, {"1.1": "good"}))
    # 2.1 rests on the lowest, desistance: 65% is at_least 65 -> Good (the edge is inclusive)
    assert r["rating_2.1"]["category"] == "Good"
    assert (r["rating_2.1"]["numerator"], r["rating_2.1"]["denominator"]) == (13, 20)
    assert r["rating_2.1"]["percent"] == pytest.approx(65.0)
    assert "lowest key question: kq_desist" in r["rating_2.1"]["method"]
    # 2.2 rests on kq_plan, 90% -> Outstanding; 3.1 on the mean of kq_court alone, 70% -> Good
    assert r["rating_2.2"]["category"] == "Outstanding"
    assert r["rating_3.1"]["category"] == "Good" and r["rating_3.1"]["percent"] == pytest.approx(70)
    # 1.1 from the inspectors' input; no probability
    assert r["rating_1.1"]["category"] == "Good" and np.isnan(r["rating_1.1"]["p_different"])
    # points 2 + 2 + 3 + 2 = 9, in 7..10 -> Good overall
    assert r["rating_overall"]["numerator"] == 9 and r["rating_overall"]["category"] == "Good"


def test_wilson_interval_of_the_proportion_a_rating_rests_on(inst):
    # 13 of 20: Wilson 95%, z = 1.959964, z^2 = 3.841459: centre (13 + z^2/2) / (20 + z^2)
    # = 14.920730 / 23.841459 = 0.625830; half width z sqrt(20 * .65 * .35 + z^2/4) / 23.841459
    # = 1.959964 * sqrt(5.510365) / 23.841459 = 0.192977; so 43.29% to 81.88%
    df = cases(yes_no(13, 20, "a_desist"))
    r = rows_of(rating_rows(judgement_matrix(df, inst), df, inst))
    assert r["rating_2.1"]["ci_low"] == pytest.approx(43.285, abs=0.001)
    assert r["rating_2.1"]["ci_high"] == pytest.approx(81.881, abs=0.001)


def test_rounding_before_banding(tmp_path, inst):
    # 129 of 200 = 64.5%: rounded half up to 65 -> Good; unrounded 64.5 < 65 -> RI
    df = cases(yes_no(129, 200, "a_desist"))
    got = rows_of(rating_rows(judgement_matrix(df, inst), df, inst, replicates=0))
    assert got["rating_2.1"]["category"] == "Good"
    assert got["rating_2.1"]["percent"] == pytest.approx(64.5)  # the unrounded percentage
    raw = changed(tmp_path, lambda s: s["ratings"]["bands"].update(round_before_banding=False))
    got = rows_of(rating_rows(judgement_matrix(df, raw), df, raw, replicates=0))
    assert got["rating_2.1"]["category"] == "Requires improvement"
    # 99 of 200 = 49.5% -> 50 -> Requires improvement (at_least 50); 98 of 200 = 49% -> Inadequate
    for n_yes, rating in ((99, "Requires improvement"), (98, "Inadequate")):
        df = cases(yes_no(n_yes, 200, "a_desist"))
        got = rows_of(rating_rows(judgement_matrix(df, inst), df, inst, replicates=0))
        assert got["rating_2.1"]["category"] == rating


def test_without_the_inspectors_rating_the_overall_is_not_rated(inst):
    df = cases(yes_no(13, 20, "a_desist"), ["Yes"] * 7 + ["No"] * 3)
    r = rows_of(rating_rows(judgement_matrix(df, inst), df, inst))
    assert r["rating_1.1"]["category"] == ""
    assert (
        r["rating_overall"]["category"] == "" and "standard(s) 1.1" in r["rating_overall"]["method"]
    )


# -- the probability of a different rating ---------------------------------------------------

TOL = 4 * math.sqrt(0.25 / BOOTSTRAP_REPLICATES)  # four Monte Carlo standard errors at worst


def test_probability_is_the_binomial_tail_for_one_proportion(inst):
    # 2.2 rests on kq_plan alone. 18 of 20 (90%, Outstanding): a resample's count X is
    # Binomial(20, 0.9); it is rated differently when X/20 rounds under 80%, X <= 15:
    # P = 1 - [P(16) + ... + P(20)] = 1 - (0.0898 + 0.1901 + 0.2852 + 0.2702 + 0.1216) = 0.0432
    sup = yes_no(18, 20, "p_p2")
    df = cases(sup)
    r = rows_of(rating_rows(judgement_matrix(df, inst), df, inst))
    assert binom_cdf(15, 20, 0.9) == pytest.approx(0.0432, abs=5e-4)
    assert r["rating_2.2"]["p_different"] == pytest.approx(0.0432, abs=TOL)


def test_probability_is_about_one_half_at_a_band_edge_and_zero_far_from_one(inst):
    # 13 of 20 = 65%, exactly on the Good edge: differs when X <= 12 (under 65) or X >= 16
    # (80%, Outstanding), X ~ Binomial(20, 0.65): 0.3990 + 0.1182 = 0.517
    df = cases(yes_no(13, 20, "p_p2"))
    r = rows_of(rating_rows(judgement_matrix(df, inst), df, inst))
    expected = binom_cdf(12, 20, 0.65) + 1 - binom_cdf(15, 20, 0.65)
    assert expected == pytest.approx(0.517, abs=1e-3)
    assert r["rating_2.2"]["p_different"] == pytest.approx(expected, abs=TOL)
    # 130 of 200 = 65%: X <= 129 rounds under 65 when X <= 128 (128/200 = 64%, 129 -> 64.5
    # -> 65 stays Good): about one half less half the mass at 129-130; by the normal
    # approximation (sd = sqrt(200 * .65 * .35) = 6.75) P(X <= 128.5) = Phi(-0.22) = 0.41
    df = cases(yes_no(130, 200, "p_p2"))
    r = rows_of(rating_rows(judgement_matrix(df, inst), df, inst))
    assert 0.35 < r["rating_2.2"]["p_different"] < 0.5
    # 20 of 20: every resample is 100%, Outstanding: probability exactly 0; and 72 of 100
    # (72%, mid-Good): differs when X <= 64 or X >= 80 (sd 4.49): about 0.05 + 0.04
    df = cases(yes_no(20, 20, "p_p2"))
    r = rows_of(rating_rows(judgement_matrix(df, inst), df, inst))
    assert r["rating_2.2"]["p_different"] == 0
    df = cases(yes_no(72, 100, "p_p2"))
    r = rows_of(rating_rows(judgement_matrix(df, inst), df, inst))
    expected = binom_cdf(64, 100, 0.72) + 1 - binom_cdf(79, 100, 0.72)
    assert r["rating_2.2"]["p_different"] == pytest.approx(expected, abs=TOL)


def test_lowest_key_question_probability_accounts_for_both_questions(inst):
    # engagement Yes exactly where desistance is: 13 both Yes, 7 both No. Then the lowest
    # is desistance in every resample and the tail is the one-proportion one, 0.517.
    sup = [{"a_engage": a, "a_desist": a} for a in ["Yes"] * 13 + ["No"] * 7]
    df = cases(sup)
    r = rows_of(rating_rows(judgement_matrix(df, inst), df, inst))
    expected = binom_cdf(12, 20, 0.65) + 1 - binom_cdf(15, 20, 0.65)
    assert r["rating_2.1"]["p_different"] == pytest.approx(expected, abs=TOL)


def test_the_bootstrap_is_seeded_and_deterministic(inst):
    df = cases(yes_no(13, 20, "a_desist"), ["Yes"] * 7 + ["No"] * 3)
    j = judgement_matrix(df, inst)
    a = rating_rows(j, df, inst, {"1.1": "good"})
    b = rating_rows(j, df, inst, {"1.1": "good"})
    pd.testing.assert_frame_equal(a, b)
    c = rating_rows(j, df, inst, {"1.1": "good"}, seed=1)
    assert not a["p_different"].equals(c["p_different"])
    assert np.allclose(
        a["p_different"].astype(float), c["p_different"].astype(float), atol=2 * TOL, equal_nan=True
    )


# -- samples and the findings table -----------------------------------------------------------


def test_samples_split_the_case_count_and_profile(inst):
    df = cases(yes_no(13, 20, "a_desist"), ["Yes"] * 7 + ["No"] * 3)
    out = analyse(df, inst, "t", standard_ratings={"1.1": "good"})
    n = out[out["kind"] == "sample"].set_index("measure_id")["numerator"]
    assert (n["n_cases"], n["n_cases_sample_supervision"], n["n_cases_sample_court"]) == (
        30,
        20,
        10,
    )
    prof = out[(out["kind"] == "profile") & (out["group"] == "Court")]
    assert prof.empty or set(prof["group_var"]) == {"sample"}
    # the court question counts the court cases alone: 7 of 10
    q = out[(out["kind"] == "question") & (out["measure_id"] == "c_report")].iloc[0]
    assert (q["numerator"], q["denominator"]) == (7, 10)
    kinds = out["kind"].tolist()
    assert kinds.count("rating") == 5 and kinds.count("key_question") == 5
    assert list(out.columns)[-1] == "p_different"
    # the overall rating: 2 (1.1) + 2 (2.1 at 65%) + 3 (2.2 at 100%) + 2 (3.1 at 70%) = 9, Good
    overall = out[out["measure_id"] == "rating_overall"].iloc[0]
    assert overall["numerator"] == 9 and overall["category"] == "Good"


def test_an_instrument_without_ratings_gets_no_rating_rows(tiny_instrument):
    # the conftest instrument (shaped like 2013-14) declares no ratings, key questions or samples
    df = pd.DataFrame({c: [None, None] for c in tiny_instrument.columns})
    j = judgement_matrix(df, tiny_instrument)
    assert rating_rows(j, df, tiny_instrument).empty
