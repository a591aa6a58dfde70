"""Disclosure rules on hand-made findings rows."""

import pandas as pd
import pytest
import yaml

from analysis.engine.disclosure import apply_disclosure
from analysis.engine.findings import conform
from analysis.instrument import load_instrument

_ROW_COLUMNS = ["kind", "measure_id", "group_var", "group", "category", "numerator", "denominator"]


def _rows(rows: list[tuple]) -> pd.DataFrame:
    """Findings rows from (kind, measure, group_var, group, category, n, N) tuples."""
    df = pd.DataFrame(rows, columns=_ROW_COLUMNS)
    df["percent"] = 100 * df["numerator"] / df["denominator"]
    return df


def rows():
    r = [
        # kind, measure, group_var, group, category, num, den
        ("outcome_score", "score_O1", "", "", "", 3, 8),
        ("sample", "n_cases", "", "", "", 8, None),
        ("question", "q_small", "", "", "", 3, 20),  # numerator 3 < 5
        ("question", "q_high", "", "", "", 17, 20),  # complement 3 < 5
        ("question", "q_ok", "", "", "", 10, 20),
        ("question", "q_low", "", "", "", 5, 9),  # base 9 < 10
        ("comparison", "q_ok", "om_grade", "PO", "", 3, 8),  # primary (3 < 5, base 8)
        ("comparison", "q_ok", "om_grade", "PSO", "", 7, 12),  # secondary: q_ok - PO
        ("difference", "q_ok", "om_grade", "PO - PSO", "", None, None),
        ("breakdown", "rev", "", "", "Sufficient review", 8, 20),
        ("breakdown", "rev", "", "", "Insufficient review", 2, 20),  # primary
        ("breakdown", "rev", "", "", "No review", 10, 20),
    ]
    df = _rows(r)
    df["ci_low"], df["ci_high"] = 1.0, 99.0
    df.loc[df["kind"] == "difference", ["percent", "p_value", "p_adjusted"]] = [-20.0, 0.4, 0.5]
    return conform(df)


def flags(df):
    return dict(
        zip(df["measure_id"] + "/" + df["group"] + "/" + df["category"], df["flags"], strict=True)
    )


def test_internal_flags_low_only():
    out = apply_disclosure(rows(), "internal")
    f = flags(out)
    assert f["score_O1//"] == "low"  # pooled base 8 < 10
    assert f["q_low//"] == "low"
    assert f["q_small//"] == ""
    assert f["n_cases//"] == ""  # sample counts have no base
    assert out["numerator"].notna().sum() == rows()["numerator"].notna().sum()


def test_publication_primary_and_secondary():
    out = apply_disclosure(rows(), "publication")
    f = flags(out)
    assert f["q_small//"] == "c"
    assert f["q_high//"] == "c"
    assert f["q_low//"] == "low;c"
    assert f["q_ok//"] == ""
    assert f["score_O1//"] == "low"  # scores are flagged, never suppressed
    assert f["q_ok/PO/"] == "low;c"
    # PSO = q_ok overall minus PO, so it goes too; so does the difference.
    assert f["q_ok/PSO/"] == "c;secondary"
    assert f["q_ok/PO - PSO/"] == "c;secondary"
    # Breakdown: exactly one category suppressed -> next smallest (8 < 10) goes too.
    assert f["rev//Insufficient review"] == "c"
    assert f["rev//Sufficient review"] == "c;secondary"
    assert f["rev//No review"] == ""
    hidden = out[out["flags"].str.contains("c")]
    for c in ("numerator", "percent", "ci_low", "ci_high", "p_value", "p_adjusted"):
        assert hidden[c].isna().all(), c
    assert hidden["denominator"].notna().sum() == len(hidden) - 1  # the difference has none
    assert len(out) == len(rows())


def test_no_secondary_when_overall_suppressed():
    df = rows()
    df = df[df["measure_id"] != "q_ok"]
    extra = conform(
        pd.DataFrame(
            {
                "kind": ["comparison", "comparison"],
                "measure_id": ["q_small", "q_small"],
                "group_var": ["om_grade"] * 2,
                "group": ["PO", "PSO"],
                "numerator": [1, 2],
                "denominator": [10, 10],
            }
        )
    )
    out = apply_disclosure(pd.concat([df, extra], ignore_index=True), "publication")
    f = flags(out)
    # q_small itself is suppressed, so nothing can be recovered by subtraction: both
    # groups are suppressed on their own account, none secondarily.
    assert f["q_small/PO/"] == "c" and f["q_small/PSO/"] == "c"


def test_thresholds_configurable():
    out = apply_disclosure(rows(), "publication", low_threshold=5, suppression_threshold=2)
    f = flags(out)
    assert f["q_small//"] == "" and f["q_low//"] == ""
    assert f["q_ok/PO/"] == ""


def test_bad_audience():
    with pytest.raises(ValueError):
        apply_disclosure(rows(), "press")


def test_breakdown_sides_with_instrument(tmp_path):
    from analysis.instrument import load_instrument

    yaml = """
id: d
version: "0"
answer_sets:
  review:
    codes:
      - {code: "Sufficient review", scores: above}
      - {code: "Insufficient review", scores: below}
      - {code: "No review", scores: below}
      - {code: "Not applicable", scores: na}
outcomes: [{id: O1, number: 1, name: One}]
criteria: [{id: "1.1", outcome: O1, stage: s, title: C}]
case_details: [{id: case_id, type: identifier}]
questions: [{id: rev, text: R, criterion: "1.1", answers: review}]
"""
    (tmp_path / "d.yaml").write_text(yaml)
    inst = load_instrument(tmp_path / "d.yaml")
    df = rows()
    df = df[df["kind"] != "question"]
    q = conform(
        pd.DataFrame(
            {"kind": ["question"], "measure_id": ["rev"], "numerator": [8], "denominator": [20]}
        )
    )
    df = pd.concat([df, q], ignore_index=True)
    f = flags(apply_disclosure(df, "publication", instrument=inst))
    # The question row publishes sufficient = 8 and so insufficient + none = 12: with
    # insufficient (2) suppressed, "No review" (10) must go, not "Sufficient review".
    assert f["rev//Insufficient review"] == "c"
    assert f["rev//No review"] == "c;secondary"
    assert f["rev//Sufficient review"] == ""
    assert f["rev//"] == ""


def test_hidden_counts_do_not_come_back_as_bases(tmp_path):
    # Rule 6. Factor "drink": identified in 3 of 20 cases (3 < 5, suppressed); its
    # interventions row has base 3, which would reveal the hidden count, so it goes too.
    # Profile: 4 PSO-held cases of 20 (suppressed); the PSO comparison base (4) would
    # reveal it, so that comparison row goes, base included.
    spec = {
        "id": "t",
        "version": "1",
        "answer_sets": {
            "yn": {
                "codes": [
                    {"code": "Yes", "scores": "above"},
                    {"code": "No", "scores": "below"},
                    {"code": "Not applicable", "scores": "na"},
                ]
            }
        },
        "outcomes": [{"id": "O1", "number": 1, "name": "One"}],
        "criteria": [{"id": "1.1", "outcome": "O1", "stage": "a", "title": "c"}],
        "case_details": [
            {"id": "case_id", "type": "identifier"},
            {"id": "om_grade", "codes": ["PO", "PSO"]},
        ],
        "factor_items": {
            "identified": {
                "id": "f_{id}_identified",
                "text": "t",
                "criterion": "1.1",
                "scored": False,
            },
            "interventions": {
                "id": "f_{id}_interventions",
                "text": "t",
                "criterion": "1.1",
                "applies_when": {"f_{id}_identified": ["Yes"]},
            },
        },
        "factors": [{"id": "drink", "label": "drink"}],
    }
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(spec))
    inst = load_instrument(path)
    r = [
        ("factor", "f_drink_identified", "", "", "", 3, 20),
        ("factor", "f_drink_interventions", "", "", "", 2, 3),
        ("question", "f_drink_interventions", "", "", "", 2, 3),
        ("profile", "om_grade", "", "", "PO", 16, 20),
        ("profile", "om_grade", "", "", "PSO", 4, 20),
        ("question", "q", "", "", "", 10, 20),
        ("comparison", "q", "om_grade", "PO", "", 8, 16),
        ("comparison", "q", "om_grade", "PSO", "", 2, 4),
    ]
    df = _rows(r)
    out = apply_disclosure(conform(df), "publication", instrument=inst)
    hidden_base = out["denominator"].isna()
    keys = out["kind"] + "/" + out["measure_id"] + "/" + out["group"] + out["category"]
    # PO-held 16 of 20 is hidden as well (its complement, 4, is under 5: with n_cases
    # published, 16 would reveal the 4), so both groups' comparison bases go.
    assert set(keys[hidden_base]) == {
        "factor/f_drink_interventions/",
        "question/f_drink_interventions/",
        "comparison/q/PO",
        "comparison/q/PSO",
    }
    assert out.loc[keys == "question/q/", "denominator"].iloc[0] == 20
