"""Two hand-made organisations of four cases each, for the pooling and aggregate tests.

Every expected pooled figure in those tests is worked out by hand from the answers below.
"""

from __future__ import annotations

import pandas as pd

from analysis.instrument import Instrument

TRUSTS = ("trust-a", "trust-b")
NA = "Not applicable"


def two_trust_cases(trust: str, inst: Instrument) -> pd.DataFrame:
    """Four processed cases of ``trust`` (one of :data:`TRUSTS`), against the fixture instrument.

    Questions not listed are not applicable (factor "identified" questions: No).
    """
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
    for q in inst.questions:
        if q not in df.columns:
            df[q] = "No" if q.endswith("_identified") else NA
    df["source_row"] = range(2, 6)
    return df
