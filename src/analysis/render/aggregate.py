"""The aggregate report's own HTML: its opening, the score table and the funnel notes.

Everything else the aggregate report shows (factor table, comparisons, methods)
is the single-organisation renderers' work on the pooled rows
(:func:`analysis.engine.pooling.pooled_rows`); ``notebooks/20_aggregate.ipynb``
stays thin by calling these.
"""

from __future__ import annotations

import pandas as pd

from analysis.engine.funnel import Funnel, describe
from analysis.engine.pooling import AGGREGATE, pooled_rows, trusts_in
from analysis.instrument import Instrument
from analysis.render.html import render
from analysis.render.present import fmt_ci, fmt_int, fmt_pct

#: How the pooled row is named in the score table.
POOLED_LABEL = "All organisations (pooled)"


def outcome_score_table(agg: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Wide table: one row per organisation (pooled last), each outcome score with interval."""
    sc = agg[agg["kind"] == "outcome_score"]
    rows = []
    order = sorted(t for t in sc["trust"].unique() if t != AGGREGATE) + [AGGREGATE]
    for t in order:
        rec = {"organisation": POOLED_LABEL if t == AGGREGATE else t}
        for o in instrument.outcomes:
            r = sc[(sc["trust"] == t) & (sc["outcome"] == o)]
            if r.empty or pd.isna(r["percent"].iloc[0]):
                rec[o] = ""
                continue
            pc, lo, hi = (r[c].iloc[0] for c in ("percent", "ci_low", "ci_high"))
            ci = f" ({fmt_ci(lo, hi)})" if pd.notna(lo) and pd.notna(hi) else ""
            rec[o] = f"{fmt_pct(pc)}{ci}"
        rows.append(rec)
    return pd.DataFrame(rows)


def intro_html(agg: pd.DataFrame, instrument: Instrument, audience: str) -> str:
    """Opening paragraph: how many organisations and cases, and what pooling means.

    ``audience`` is the aggregate findings' own (their context), never a parameter.
    """
    pooled = pooled_rows(agg)
    n = pooled[(pooled["kind"] == "sample") & (pooled["measure_id"] == "n_cases")]
    mode = (
        "Small cells are suppressed [c] for publication."
        if audience == "publication"
        else "Internal version: small bases are marked [u] (low reliability), nothing is "
        "suppressed."
    )
    return render(
        "aggregate_intro.html.j2",
        trusts=trusts_in(agg),
        n_cases=fmt_int(n["numerator"].iloc[0]) if len(n) else "–",
        title=instrument.title,
        version=instrument.version,
        mode=mode,
    )


def score_table_html(agg: pd.DataFrame, instrument: Instrument) -> str:
    """Outcome scores per organisation with 95% intervals, pooled row last."""
    t = outcome_score_table(agg, instrument)
    rows = [
        {
            "organisation": r["organisation"],
            "total": r["organisation"] == POOLED_LABEL,
            "cells": [r[o] for o in instrument.outcomes],
        }
        for r in t.to_dict("records")
    ]
    headings = [f"{o.id} {o.short}" for o in instrument.outcomes.values()]
    return render("score_table.html.j2", rows=rows, outcome_headings=headings)


def funnel_note_html(f: Funnel) -> str:
    """The careful paragraph under one funnel chart."""
    return render("funnel_note.html.j2", text=describe(f))
