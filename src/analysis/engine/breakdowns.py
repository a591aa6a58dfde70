"""Breakdowns of category questions (review: sufficient / insufficient / no review, ...).

A category question is one whose answer set has more than two relevant
(non-not-applicable) codes, so its "below the line" hides a distinction the
report spells out ("there had been no review in 33% of the cases that required
one"). Each relevant code gets a ``breakdown`` row: the cases with that answer
out of the relevant cases (any answer other than not applicable or blank), with
a Wilson interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import config
from analysis.engine.stats import wilson
from analysis.instrument import NA, Instrument


def category_questions(instrument: Instrument) -> list[str]:
    """Questions whose answer set has more than two relevant codes, in declared order."""
    out = []
    for q in instrument.questions.values():
        aset = instrument.answer_set(q)
        if aset is not None and len([c for c in aset.codes if c.scores != NA]) > 2:
            out.append(q.id)
    return out


def breakdown(
    cases: pd.DataFrame,
    instrument: Instrument,
    questions: list[str] | None = None,
    level: float = config.CONFIDENCE_LEVEL,
) -> pd.DataFrame:
    """Findings rows (kind ``breakdown``) for category questions.

    Parameters
    ----------
    cases
        Processed cases.
    instrument
        Supplies the answer sets.
    questions
        Question ids; default :func:`category_questions`.
    level
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per question and relevant code, codes in declared order.
    """
    questions = category_questions(instrument) if questions is None else questions
    recs = []
    for qid in questions:
        q = instrument.questions[qid]
        aset = instrument.answer_set(q)
        codes = [c.code for c in aset.codes if c.scores != NA]
        # value_counts hashes the column once; per-code counts are then dictionary look-ups.
        counts = cases[qid].value_counts(dropna=True)
        n = np.array([int(counts.get(c, 0)) for c in codes])
        N = int(n.sum())
        lo, hi = wilson(n, np.full(len(n), N), level)
        for k, code in enumerate(codes):
            recs.append(
                {
                    "kind": "breakdown",
                    "outcome": instrument.criteria[q.criterion].outcome,
                    "criterion": q.criterion,
                    "measure_id": qid,
                    "label": q.label,
                    "category": code,
                    "numerator": float(n[k]),
                    "denominator": float(N),
                    "percent": 100 * n[k] / N if N else np.nan,
                    "ci_low": 100 * lo[k],
                    "ci_high": 100 * hi[k],
                    "method": "Wilson score interval",
                }
            )
    return pd.DataFrame(recs)
