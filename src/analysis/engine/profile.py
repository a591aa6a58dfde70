"""The case-sample profile (the report's Appendix 2) and sample counts.

Every non-sensitive case detail of type ``category``, ``text`` or ``count`` (except
the organisation itself) is profiled: the count and percentage of cases in each
value, out of all cases in the sample (a count's values in numeric order, e.g. the
number of offender managers a case had: 1, 2, 3, ...). Blank values are shown as the category
:data:`MISSING` so the percentages of a column always add up to 100.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import config
from analysis.engine.scoring import Judgements, factorize_column
from analysis.engine.stats import wilson
from analysis.instrument import Instrument

#: Category shown for blank case details.
MISSING = "Not recorded"
#: Case-detail columns never profiled although not sensitive (the organisation is the row's trust).
NOT_PROFILED = ("trust",)


def profile_columns(instrument: Instrument) -> list[str]:
    """Case details profiled, in declared order."""
    sensitive = set(instrument.sensitive_columns)
    return [
        d.id
        for d in instrument.case_details.values()
        if d.type in ("category", "text", "count")
        and d.id not in sensitive
        and d.id not in NOT_PROFILED
    ]


def profile(
    cases: pd.DataFrame,
    instrument: Instrument,
    columns: list[str] | None = None,
    level: float = config.CONFIDENCE_LEVEL,
) -> pd.DataFrame:
    """Findings rows (kind ``profile``): one per column and value.

    Values are in declared order for coded columns, sorted for free ones, with
    :data:`MISSING` last when present. Columns absent from ``cases`` are skipped.
    """
    columns = profile_columns(instrument) if columns is None else columns
    N = len(cases)
    recs = []
    for col in columns:
        if col not in cases.columns:
            continue
        codes, labels = factorize_column(cases[col])
        counts = np.bincount(codes[codes >= 0], minlength=len(labels))
        present = {x: int(c) for x, c in zip(labels, counts, strict=True) if c > 0}
        detail = instrument.case_details.get(col)
        declared = detail.codes if detail is not None else ()
        cats = [c for c in declared if c in present]
        if detail is not None and detail.type == "count":
            cats += sorted(present, key=float)  # 2 before 10
        else:
            cats += sorted(c for c in present if c not in set(cats))
        values = [(c, present[c]) for c in cats]
        missing = int((codes < 0).sum())
        if missing:
            values.append((MISSING, missing))
        n = np.array([v for _, v in values])
        lo, hi = wilson(n, np.full(len(n), N), level)
        label = instrument.case_details[col].label if col in instrument.case_details else col
        for k, (cat, cnt) in enumerate(values):
            recs.append(
                {
                    "kind": "profile",
                    "measure_id": col,
                    "label": label,
                    "category": cat,
                    "numerator": float(cnt),
                    "denominator": float(N),
                    "percent": 100 * cnt / N if N else np.nan,
                    "ci_low": 100 * lo[k],
                    "ci_high": 100 * hi[k],
                    "method": "Wilson score interval",
                }
            )
    return pd.DataFrame(recs)


def sample_rows(judgements: Judgements, instrument: Instrument) -> pd.DataFrame:
    """Findings rows (kind ``sample``): ``n_cases`` and cases with a judgement per outcome.

    ``n_cases_O1`` etc. give the base the report's data-summary notes quote
    ("data refers to the 23 cases for which a written report had been prepared").
    """
    recs = [
        {
            "kind": "sample",
            "measure_id": "n_cases",
            "label": "Cases inspected",
            "numerator": float(judgements.n_cases),
        }
    ]
    for o in instrument.outcomes.values():
        qs = [q.id for q in instrument.questions_for_outcome(o.id) if q.id in judgements.index]
        n = int(judgements.any_relevant(qs).sum())
        recs.append(
            {
                "kind": "sample",
                "outcome": o.id,
                "measure_id": f"n_cases_{o.id}",
                "label": f"Cases with a relevant judgement: {o.name}",
                "numerator": float(n),
            }
        )
    return pd.DataFrame(recs)


def sample_split_rows(
    cases: pd.DataFrame, instrument: Instrument, level: float = config.CONFIDENCE_LEVEL
) -> pd.DataFrame:
    """Case count and profile of each sample (court, victims, ...), when there are samples.

    Rows of kind ``sample`` (``n_cases_sample_<id>``) and ``profile``, with ``group_var``
    the samples' column and ``group`` the sample's code; the whole-organisation rows
    (``group_var`` empty) are unchanged. Question figures need no split: a sample's
    questions apply only to its cases (the loader adds that to their skip rules), so
    their counts and comparisons are the sample's own.
    """
    s = instrument.samples
    if s is None or s.column not in cases.columns:
        return pd.DataFrame()
    values = cases[s.column].astype("string")
    columns = [c for c in profile_columns(instrument) if c != s.column]
    parts = []
    for g in s.groups:
        sub = cases[values.eq(g.code).fillna(False).to_numpy(dtype=bool)]
        n = {
            "kind": "sample",
            "measure_id": f"n_cases_sample_{g.id}",
            "label": f"Cases inspected: {g.label or g.id}",
            "numerator": float(len(sub)),
        }
        parts.append(pd.DataFrame([n]))
        if len(sub):
            parts.append(profile(sub, instrument, columns, level))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True)
    code = {f"n_cases_sample_{g.id}": g.code for g in s.groups}
    # Each profile block follows its sample's count row: carry the code down.
    out["group"] = out["measure_id"].map(code).ffill()
    out["group_var"] = s.column
    return out
