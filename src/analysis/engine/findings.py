"""The one findings table: every computed figure as a tidy row.

Every number shown in a report, chart or Excel table is read from this table,
so each can be traced back to its numerator and denominator. The table is
written to ``outputs/<trust>/findings.csv`` (and ``.parquet``) by
``python -m analysis analyse``.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

#: Column order of the findings table; meanings are documented in the README.
FINDINGS_COLUMNS: list[str] = [
    "trust",  # organisation slug ("aggregate" for pooled rows)
    "kind",  # one of KINDS below
    "outcome",  # O1..O5, or empty
    "criterion",  # 1.1..5.5, or empty
    "measure_id",  # question id, factor item id, score id (score_O1) or profile column
    "label",  # human-readable label
    "group_var",  # case-detail column a comparison is split by (om_grade, ldu, gender), else empty
    "group",  # the group's value ("PO"); for a difference "PO - PSO"; else empty
    "category",  # answer category for breakdowns / profile rows, else empty
    "numerator",  # count above the line (or in the category)
    "denominator",  # relevant cases (answers other than not applicable)
    "percent",  # 100 * numerator / denominator, unrounded (scores: the score)
    "ci_low",  # lower bound of the 95% interval, percent
    "ci_high",  # upper bound of the 95% interval, percent
    "p_value",  # exact test (differences only)
    "p_adjusted",  # Benjamini-Hochberg adjusted p across the screened questions
    # ";"-joined: low (base under threshold), c (suppressed),
    # secondary (suppressed to protect another cell)
    "flags",
    "method",  # how the interval / test was computed
]

KINDS = (
    "outcome_score",
    "criterion_score",
    "question",
    "factor",
    "breakdown",
    "comparison",
    "difference",
    "profile",
    "sample",
)


def empty_findings() -> pd.DataFrame:
    """An empty findings table with the right columns and dtypes."""
    return conform(pd.DataFrame(columns=FINDINGS_COLUMNS))


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly the findings columns, in order, with stable dtypes."""
    missing = [c for c in FINDINGS_COLUMNS if c not in df.columns]
    df = df.assign(**{c: pd.NA for c in missing})[FINDINGS_COLUMNS].copy()
    text = ["trust", "kind", "outcome", "criterion", "measure_id", "label"]
    text += ["group_var", "group", "category", "flags", "method"]
    for c in text:
        df[c] = df[c].astype("string").fillna("")
    for c in ["numerator", "denominator"]:
        df[c] = pd.to_numeric(df[c]).astype("Float64")
    for c in ["percent", "ci_low", "ci_high", "p_value", "p_adjusted"]:
        df[c] = pd.to_numeric(df[c]).astype("Float64")
    return df.reset_index(drop=True)


def flag_set(value: Any) -> set[str]:
    """The flags of one findings cell (``"low;c"`` -> ``{"low", "c"}``); empty when missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return set()
    return {f.strip() for f in str(value).split(";") if f.strip()}


def number(value: Any) -> float:
    """A findings number as a float, NaN when missing (``pd.NA`` does not compare)."""
    if value is None or value is pd.NA:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
