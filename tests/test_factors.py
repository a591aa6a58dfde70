"""Table 3.5 on a hand-made case set."""

import pandas as pd
import pytest

from analysis.engine.factors import (
    MOST_PREVALENT,
    OTHER_COMMON,
    factor_rows,
    factor_table,
    factor_table_from_findings,
)
from analysis.engine.findings import conform
from analysis.engine.scoring import judgement_matrix
from analysis.instrument import load_instrument

TINY = """
id: tinyf
version: "0"
answer_sets:
  yn:
    codes:
      - {code: "Yes", scores: above}
      - {code: "No", scores: below}
      - {code: "Not applicable", scores: na}
outcomes:
  - {id: O3, number: 3, name: Three}
criteria:
  - {id: "3.1", outcome: O3, stage: s, title: Assess}
  - {id: "3.2", outcome: O3, stage: s, title: Deliver}
  - {id: "3.3", outcome: O3, stage: s, title: Outcome}
case_details:
  - {id: case_id, type: identifier, sensitive: true}
factor_items:
  identified:
    {id: "f_{id}_identified", text: "{label} identified?", criterion: "3.1", scored: false}
  interventions:
    id: "f_{id}_interventions"
    text: "Interventions for {label}?"
    criterion: "3.2"
    applies_when: {"f_{id}_identified": ["Yes"]}
  progress:
    id: "f_{id}_progress"
    text: "Progress on {label}?"
    criterion: "3.3"
    applies_when: {"f_{id}_identified": ["Yes"]}
factor_table: {most_prevalent: 1}
factors:
  - {id: acc, label: accommodation}
  - {id: alc, label: alcohol misuse}
  - {id: drugs, label: drug misuse}
"""
NA = "Not applicable"


@pytest.fixture
def inst(tmp_path):
    p = tmp_path / "f.yaml"
    p.write_text(TINY)
    return load_instrument(p)


@pytest.fixture
def cases():
    # acc identified in c5 only; alc in c1-c3; drugs in c1, c3, c4 (ties alc at 3, declared later).
    return pd.DataFrame(
        {
            "case_id": [f"c{i}" for i in range(1, 6)],
            "f_acc_identified": ["No", "No", "No", "No", "Yes"],
            "f_acc_interventions": [NA, NA, NA, NA, "No"],
            "f_acc_progress": [NA, NA, NA, NA, "No"],
            "f_alc_identified": ["Yes", "Yes", "Yes", "No", "No"],
            "f_alc_interventions": ["Yes", "No", "Yes", NA, NA],
            "f_alc_progress": ["No", "No", "Yes", NA, NA],
            "f_drugs_identified": ["Yes", "No", "Yes", "Yes", NA],
            "f_drugs_interventions": ["Yes", NA, "Yes", "Yes", NA],
            # c4 identified but progress not applicable: excluded from the progress base
            "f_drugs_progress": ["Yes", NA, "No", NA, NA],
        }
    )


def test_factor_table(inst, cases):
    t = factor_table(judgement_matrix(cases, inst), inst)
    # Prevalence order: alc 3, drugs 3 (tie: declared order), acc 1.
    assert list(t["factor"]) == ["alc", "drugs", "acc"]
    assert list(t["section"]) == [MOST_PREVALENT, OTHER_COMMON, OTHER_COMMON]
    assert list(t["rank"]) == [1, 2, 3]
    alc, drugs, acc = (t.iloc[i] for i in range(3))
    # alc: identified 3 of 5 inspected; interventions 2 of 3; progress 1 of 3
    assert (alc.identified, alc.inspected) == (3, 5)
    assert (alc.interventions_n, alc.interventions_N) == (2, 3)
    assert alc.interventions_pct == pytest.approx(200 / 3)
    assert (alc.progress_n, alc.progress_N) == (1, 3)
    # drugs: c5 blank-as-NA is not inspected -> 3 of 4; progress 1 of 2
    assert (drugs.identified, drugs.inspected) == (3, 4)
    assert (drugs.interventions_n, drugs.interventions_N) == (3, 3)
    assert (drugs.progress_n, drugs.progress_N) == (1, 2)
    assert drugs.progress_pct == pytest.approx(50.0)
    assert (acc.identified, acc.interventions_n, acc.interventions_N) == (1, 0, 1)


def test_factor_rows_and_round_trip(inst, cases):
    t = factor_table(judgement_matrix(cases, inst), inst)
    rows = conform(factor_rows(t, inst))
    assert set(rows["kind"]) == {"factor"}
    assert list(rows["measure_id"][:3]) == [
        "f_alc_identified",
        "f_alc_interventions",
        "f_alc_progress",
    ]
    first = rows.iloc[0]
    assert (first.numerator, first.denominator) == (3, 5)
    assert first.percent == pytest.approx(60.0)
    assert first.ci_low < 60 < first.ci_high
    back = factor_table_from_findings(rows, inst)
    assert list(back["factor"]) == ["alc", "drugs", "acc"]
    assert back.loc[1, "progress_pct"] == pytest.approx(50.0)
    assert list(back["section"]) == list(t["section"])
