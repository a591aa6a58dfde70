"""Group comparisons: Wilson per group, Newcombe difference, Fisher / chi-square / exact, BH."""

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis.engine.compare import compare, group_values
from analysis.engine.scoring import judgement_matrix
from analysis.instrument import load_instrument

TINY = """
id: tinyc
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
  - {id: ldu, type: text}
  - {id: om_grade, type: category, codes: [PSO, PO]}
questions:
  - {id: a1, text: A1, criterion: "1.1"}
  - {id: a2, text: A2, criterion: "1.1"}
"""
NA = "Not applicable"


@pytest.fixture
def inst(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(TINY)
    return load_instrument(p)


@pytest.fixture
def two_groups():
    return pd.DataFrame(
        {
            "case_id": [f"c{i}" for i in range(9)],
            "ldu": "L",
            "om_grade": ["PO"] * 4 + ["PSO"] * 4 + [None],
            "a1": ["Yes", "Yes", "Yes", "No", "Yes", "No", "No", "No", "Yes"],
            "a2": ["Yes"] * 4 + ["No"] * 4 + ["Yes"],
        }
    )


def test_group_order(inst, two_groups):
    # Declared order (PSO before PO in this instrument) wins over alphabetical.
    assert group_values(two_groups, inst, "om_grade") == ["PSO", "PO"]
    assert group_values(two_groups.assign(ldu=["b", "a"] * 4 + [""]), inst, "ldu") == ["a", "b"]


def test_two_groups(inst, two_groups):
    # Swap the declared order so the difference reads PO - PSO.
    inst.case_details["om_grade"] = replace(inst.case_details["om_grade"], codes=("PO", "PSO"))
    out = compare(judgement_matrix(two_groups, inst), two_groups, inst, "om_grade")
    assert list(out["kind"]) == ["comparison", "comparison", "difference"] * 2
    a1 = out[out["measure_id"] == "a1"].set_index("group")
    # PO 3/4, PSO 1/4 (the case without a grade is in neither group)
    assert (a1.loc["PO", "numerator"], a1.loc["PO", "denominator"]) == (3, 4)
    assert (a1.loc["PSO", "numerator"], a1.loc["PSO", "denominator"]) == (1, 4)
    # Wilson 3/4 = 30.064-95.441; 1/4 mirrors it: 4.559-69.936
    assert a1.loc["PSO", "ci_low"] == pytest.approx(4.559, abs=2e-3)
    assert a1.loc["PSO", "ci_high"] == pytest.approx(69.936, abs=2e-3)
    d = a1.loc["PO - PSO"]
    # d = .5; low = .5 - sqrt((.75-.30064)^2 + (.69936-.25)^2) = .5 - sqrt(.403848) = -.13549
    #        high = .5 + sqrt((.95441-.75)^2 + (.25-.04559)^2) = .5 + sqrt(.083576) = .78910
    assert d["percent"] == pytest.approx(50.0)
    assert d["ci_low"] == pytest.approx(-13.549, abs=2e-3)
    assert d["ci_high"] == pytest.approx(78.910, abs=2e-3)
    # Fisher [[3,1],[1,3]] = 34/70; a2 [[4,0],[0,4]] = 2/70.
    assert d["p_value"] == pytest.approx(34 / 70)
    a2 = out[(out["measure_id"] == "a2") & (out["kind"] == "difference")].iloc[0]
    assert a2["p_value"] == pytest.approx(2 / 70)
    # a2: 4/4 - 0/4 = 1; Wilson 4/4 low = 4/(4 + z^2) = .510109, 0/4 high = .489891
    #   low = 1 - sqrt(.489891^2 + .489891^2) = .307185, high = 1
    assert a2["ci_low"] == pytest.approx(30.7185, abs=2e-3)
    assert a2["ci_high"] == pytest.approx(100.0)
    # BH over 2 tests: 2/70 * 2 = .057143; 34/70 * 2/2 = .485714
    assert a2["p_adjusted"] == pytest.approx(4 / 70)
    assert d["p_adjusted"] == pytest.approx(34 / 70)


def test_three_groups_chi_square_and_exact(inst):
    # a1: X 10/20, Y 20/20, Z 5/20 -> chi-square 24 on 2 df, p = exp(-12)
    # a2 only relevant in six cases: X 2/2, Y 0/2, Z 1/2 -> exact p = 0.6 (see test_stats)
    ldu = ["X"] * 20 + ["Y"] * 20 + ["Z"] * 20
    a1 = ["Yes"] * 10 + ["No"] * 10 + ["Yes"] * 20 + ["Yes"] * 5 + ["No"] * 15
    a2 = [NA] * 60
    a2[0:2] = ["Yes", "Yes"]
    a2[20:22] = ["No", "No"]
    a2[40:42] = ["Yes", "No"]
    cases = pd.DataFrame({"case_id": range(60), "ldu": ldu, "om_grade": "PO", "a1": a1, "a2": a2})
    out = compare(judgement_matrix(cases, inst), cases, inst, "ldu")
    diff = out[out["kind"] == "difference"].set_index("measure_id")
    assert list(diff["group"]) == ["X | Y | Z"] * 2
    assert diff.loc["a1", "p_value"] == pytest.approx(math.exp(-12), rel=1e-6)
    assert diff.loc["a1", "method"].startswith("chi-square;")
    assert diff.loc["a2", "p_value"] == pytest.approx(0.6)
    assert diff.loc["a2", "method"].startswith("Fisher-Freeman-Halton exact")
    assert np.isnan(diff.loc["a1", "percent"])
    # BH: exp(-12) * 2 and 0.6 * 2/2
    assert diff.loc["a1", "p_adjusted"] == pytest.approx(2 * math.exp(-12), rel=1e-6)
    assert diff.loc["a2", "p_adjusted"] == pytest.approx(0.6)
    z = out[(out["kind"] == "comparison") & (out["group"] == "Z")].set_index("measure_id")
    assert (z.loc["a1", "numerator"], z.loc["a1", "denominator"]) == (5, 20)


def test_single_group_gives_nothing(inst, two_groups):
    out = compare(judgement_matrix(two_groups, inst), two_groups, inst, "ldu")
    assert out.empty


@pytest.mark.parametrize("max_cells", [4096, 1])
def test_joint_counts_by_hand(inst, monkeypatch, max_cells):
    import analysis.engine.compare as cmp

    monkeypatch.setattr(cmp, "MAX_JOINT_CELLS", max_cells)  # 1 forces one pass per column
    cases = pd.DataFrame(
        {
            "case_id": range(6),
            "ldu": ["M", "F", "M", None, "F", "F"],
            "om_grade": ["PO", "PO", "PSO", "PSO", None, "PO"],
            "a1": ["Yes", "No", "Yes", "Yes", "Yes", NA],
            "a2": NA,
        }
    )
    j = judgement_matrix(cases, inst)
    got = cmp.joint_group_counts(j, cases, {"om_grade": ["PO", "PSO"], "ldu": ["F", "M"]})
    # om_grade PO: rows 0, 1, 5 -> Yes, No, NA = 1 of 2; PSO: rows 2, 3 -> 2 of 2
    np.testing.assert_array_equal(got["om_grade"][0][:, 0], [1, 2])
    np.testing.assert_array_equal(got["om_grade"][1][:, 0], [2, 2])
    # ldu F: rows 1, 4, 5 -> No, Yes, NA = 1 of 2; M: rows 0, 2 -> 2 of 2 (row 3 blank)
    np.testing.assert_array_equal(got["ldu"][0][:, 0], [1, 2])
    np.testing.assert_array_equal(got["ldu"][1][:, 0], [2, 2])
    assert (got["ldu"][1][:, 1] == 0).all()  # a2 never relevant
