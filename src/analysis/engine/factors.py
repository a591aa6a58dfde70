"""Offending-related factors: the report's table 3.5.

For each factor: how many cases it was identified in (out of the cases where
identification was judged), and, of those identified cases, the share where
sufficient interventions were delivered and where sufficient progress was made.
Factors are listed by prevalence (ties keep the instrument's declared order);
the first ``factor_table.most_prevalent`` are the report's "most prevalent
factors", the rest its "other common factors".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import config
from analysis.engine.scoring import ABOVE_CODE, Judgements
from analysis.engine.stats import wilson
from analysis.instrument import Instrument

#: Section names of table 3.5.
MOST_PREVALENT, OTHER_COMMON = "most prevalent", "other common"
#: Item names the instrument's factor_items templates use.
IDENTIFIED, FOLLOW_UP_ITEMS = "identified", ("interventions", "progress")


def factor_table(judgements: Judgements, instrument: Instrument) -> pd.DataFrame:
    """Tidy table 3.5.

    Parameters
    ----------
    judgements
        Judgement matrix including the factor item questions.
    instrument
        Supplies the factors, their items and ``factor_table.most_prevalent``.

    Returns
    -------
    pandas.DataFrame
        One row per factor, in table order: ``factor, label, rank, section,
        identified`` (n), ``inspected`` (cases where identification was judged),
        and for each follow-up item ``<item>_n``, ``<item>_N`` (identified cases
        with a relevant answer) and ``<item>_pct``.
    """
    m = judgements.matrix
    rows = []
    for order, f in enumerate(instrument.factors.values()):
        qid = f.items.get(IDENTIFIED)
        if qid is None or qid not in judgements.index:
            continue
        ident = m[:, judgements.index[qid]]
        is_ident = ident == ABOVE_CODE
        row = {
            "factor": f.id,
            "label": f.label,
            "order": order,
            "identified": int(is_ident.sum()),
            "inspected": int((ident >= 0).sum()),
        }
        for item in FOLLOW_UP_ITEMS:
            iq = f.items.get(item)
            if iq is None or iq not in judgements.index:
                row[f"{item}_n"], row[f"{item}_N"] = np.nan, np.nan
            else:
                col = m[:, judgements.index[iq]]
                # Denominator: identified cases with a judged answer. With the skip rule
                # enforced by ingest this equals the identified count, as in table 3.5.
                row[f"{item}_n"] = int((is_ident & (col == ABOVE_CODE)).sum())
                row[f"{item}_N"] = int((is_ident & (col >= 0)).sum())
            with np.errstate(invalid="ignore", divide="ignore"):
                n, N = row[f"{item}_n"], row[f"{item}_N"]
                row[f"{item}_pct"] = 100 * n / N if N and N > 0 else np.nan
        rows.append(row)
    cols = ["factor", "label", "order", "identified", "inspected"]
    cols += [f"{i}_{s}" for i in FOLLOW_UP_ITEMS for s in ("n", "N", "pct")]
    table = pd.DataFrame(rows, columns=cols)
    table = table.sort_values(["identified", "order"], ascending=[False, True], kind="stable")
    n_top = int(instrument.factor_table.get("most_prevalent", len(table)))
    table.insert(2, "rank", np.arange(1, len(table) + 1))
    table.insert(3, "section", np.where(table["rank"] <= n_top, MOST_PREVALENT, OTHER_COMMON))
    return table.drop(columns="order").reset_index(drop=True)


def factor_rows(
    table: pd.DataFrame, instrument: Instrument, level: float = config.CONFIDENCE_LEVEL
) -> pd.DataFrame:
    """Findings rows (kind ``factor``) in table order: identified, then each follow-up item.

    ``measure_id`` is the item's question id; identified rows have the inspected
    cases as denominator, follow-up rows the identified cases.
    """
    recs = []
    for r in table.itertuples(index=False):
        f = instrument.factors[r.factor]
        items = [(IDENTIFIED, r.identified, r.inspected)]
        items += [(i, getattr(r, f"{i}_n"), getattr(r, f"{i}_N")) for i in FOLLOW_UP_ITEMS]
        for item, n, N in items:
            qid = f.items.get(item)
            if qid is None or pd.isna(N):
                continue
            q = instrument.questions[qid]
            lo, hi = wilson(n, N, level)
            recs.append(
                {
                    "kind": "factor",
                    "outcome": instrument.criteria[q.criterion].outcome,
                    "criterion": q.criterion,
                    "measure_id": qid,
                    "label": q.label,
                    "numerator": float(n),
                    "denominator": float(N),
                    "percent": 100 * n / N if N > 0 else np.nan,
                    "ci_low": 100 * float(lo),
                    "ci_high": 100 * float(hi),
                    "method": f"Wilson score interval; {r.section} factor, rank {r.rank}",
                }
            )
    return pd.DataFrame(recs)


def factor_table_from_findings(findings: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Rebuild the tidy table 3.5 from findings rows (for tables and charts).

    Returns the same columns as :func:`factor_table`, in the findings' row order.
    """
    fr = findings[findings["kind"] == "factor"]
    by_q = {
        q: (n, N)
        for q, n, N in zip(fr["measure_id"], fr["numerator"], fr["denominator"], strict=True)
    }
    rows = []
    for f in instrument.factors.values():
        qid = f.items.get(IDENTIFIED)
        if qid not in by_q:
            continue
        n, N = by_q[qid]
        row = {"factor": f.id, "label": f.label, "identified": n, "inspected": N}
        for item in FOLLOW_UP_ITEMS:
            n_i, N_i = by_q.get(f.items.get(item, ""), (np.nan, np.nan))
            row[f"{item}_n"], row[f"{item}_N"] = n_i, N_i
            row[f"{item}_pct"] = 100 * n_i / N_i if pd.notna(N_i) and N_i > 0 else np.nan
        row["position"] = list(fr["measure_id"]).index(qid)
        rows.append(row)
    t = pd.DataFrame(rows).sort_values("position").drop(columns="position")
    n_top = int(instrument.factor_table.get("most_prevalent", len(t)))
    t.insert(2, "rank", np.arange(1, len(t) + 1))
    t.insert(3, "section", np.where(t["rank"] <= n_top, MOST_PREVALENT, OTHER_COMMON))
    return t.reset_index(drop=True)
