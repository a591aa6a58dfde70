"""Disclosure control: low-base flags and, for publication, cell suppression.

Rules (applied by :func:`apply_disclosure`, in this order)
----------------------------------------------------------
1. :data:`RULE_LOW`: any row with a base under the low threshold is flagged ``low``.
2. :data:`RULE_PRIMARY` (publication only): a count row is suppressed ``c`` when its
   numerator or its complement (denominator - numerator) is under the suppression
   threshold, or its base is under the low threshold.
3. :data:`RULE_SECONDARY_GROUPS` (publication only): the groups of a comparison
   partition the overall question; if exactly one group of a question is
   suppressed while the overall question figure is published, the next smallest
   group is suppressed too (``secondary``), since overall minus the others would
   reveal it. In a two-group comparison that means both groups.
4. :data:`RULE_SECONDARY_CATEGORIES` (publication only): the categories of a
   breakdown or profile column add up to their base; if exactly one is suppressed,
   the next smallest is suppressed too (``secondary``). For a breakdown whose
   question row is published, the above-the-line and the below-the-line categories
   each add up to a published figure (numerator, denominator - numerator), so the
   rule applies within each side separately (the instrument says which is which).
5. :data:`RULE_DIFFERENCE` (publication only): a difference row is suppressed
   (``secondary``) when either of its groups is, since the difference and the
   other group would reveal it.
6. :data:`RULE_BASES` (publication only): a suppressed count must not come back as
   another row's base. When a factor's "identified" count is hidden, every row of
   that factor's other items (their base is the identified count) is hidden too,
   base included; when a profile category is hidden (say the number of PSO-held
   cases), every comparison row of that group is hidden, base included.

Suppressed rows keep their row, base (denominator) and labels; numerator,
percent, interval and p values are blanked. Scores (means over many questions)
and sample counts are never suppressed, only flagged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import config
from analysis.instrument import Instrument

AUDIENCES = ("internal", "publication")
LOW, SUPPRESSED, SECONDARY = "low", "c", "secondary"

#: Rule 1: flag bases under ``low_threshold`` (default config.LOW_BASE_THRESHOLD).
RULE_LOW = "denominator < low_threshold -> flag 'low'"
#: Rule 2: primary suppression of count rows.
RULE_PRIMARY = (
    "numerator < suppression_threshold or denominator - numerator < suppression_threshold "
    "or denominator < low_threshold -> suppress 'c'"
)
#: Rule 3: secondary suppression within a comparison's groups.
RULE_SECONDARY_GROUPS = (
    "exactly one group of a question suppressed and the question published -> "
    "also suppress the next smallest group 'secondary'"
)
#: Rule 4: secondary suppression within a breakdown or profile column.
RULE_SECONDARY_CATEGORIES = (
    "exactly one category of a column (of a breakdown: of one side of the line) "
    "suppressed -> also suppress the next smallest 'secondary'"
)
#: Rule 5: differences of suppressed groups.
RULE_DIFFERENCE = "a group of the difference suppressed -> suppress the difference 'secondary'"

#: Rule 6: bases that would reveal a suppressed count.
RULE_BASES = (
    "factor 'identified' hidden -> hide the factor's other items, base too; profile "
    "category hidden -> hide that group's comparison rows, base too 'secondary'"
)

#: Kinds whose rows are counts and so can disclose small numbers.
COUNT_KINDS = ("question", "factor", "breakdown", "comparison", "profile", "key_question", "rating")
#: Columns blanked in a suppressed row.
BLANKED = ("numerator", "percent", "ci_low", "ci_high", "p_value", "p_adjusted")


def _add_flag(flags: pd.Series, mask: pd.Series | np.ndarray, flag: str) -> pd.Series:
    mask = np.asarray(mask, dtype=bool)
    cur = flags.to_numpy(dtype=object)
    cur[mask] = [f"{c};{flag}" if c else flag for c in cur[mask]]
    return pd.Series(cur, index=flags.index, dtype="string")


def _secondary_within(
    df: pd.DataFrame, keys: list[str], suppressed: np.ndarray, eligible: np.ndarray, size: str
) -> np.ndarray:
    """Rows to suppress so no partition has exactly one suppressed member."""
    extra = np.zeros(len(df), dtype=bool)
    sub = df[eligible].assign(_s=suppressed[eligible], _pos=np.flatnonzero(eligible))
    for _, g in sub.groupby(keys, sort=False, dropna=False):
        if g["_s"].sum() == 1 and len(g) > 1:
            rest = g[~g["_s"]].sort_values([size, "_pos"], kind="stable")
            extra[int(rest["_pos"].iloc[0])] = True
    return extra


def _sides(df: pd.DataFrame, instrument: Instrument | None) -> np.ndarray:
    """Which side of the line each breakdown category is on ('' when unknown)."""
    side = np.full(len(df), "", dtype=object)
    if instrument is None:
        return side
    for i in np.flatnonzero(df["kind"].astype(str).to_numpy() == "breakdown"):
        qid, cat = str(df["measure_id"].iat[i]), str(df["category"].iat[i])
        aset = instrument.answer_set(qid) if qid in instrument.questions else None
        if aset is not None:
            side[i] = next((c.scores or "" for c in aset.codes if c.code == cat), "")
    return side


def apply_disclosure(
    findings: pd.DataFrame,
    audience: str = "internal",
    low_threshold: int = config.LOW_BASE_THRESHOLD,
    suppression_threshold: int = config.SUPPRESSION_THRESHOLD,
    instrument: Instrument | None = None,
) -> pd.DataFrame:
    """Flag low bases and, for ``publication``, suppress disclosive cells.

    Parameters
    ----------
    findings
        A conformed findings table (flags may be empty).
    audience
        ``internal`` (flags only) or ``publication`` (flags and suppression).
    low_threshold
        Bases under this are flagged ``low`` (and suppressed for publication).
    suppression_threshold
        Numerators, or complements, under this are suppressed for publication.
    instrument
        Tells which breakdown categories are above / below the line (rule 4); without
        it each breakdown column is one partition, which misses the subtotals the
        question row publishes.

    Returns
    -------
    pandas.DataFrame
        A copy with ``flags`` set and suppressed cells blanked.
    """
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}, not {audience!r}")
    df = findings.copy()
    flags = df["flags"].astype("string").fillna("")
    den = df["denominator"].astype(float).to_numpy()
    num = df["numerator"].astype(float).to_numpy()
    kind = df["kind"].astype(str).to_numpy()
    has_base = ~np.isnan(den) & (kind != "sample")
    low = has_base & (den < low_threshold)
    flags = _add_flag(flags, low, LOW)
    if audience == "publication":
        counts = np.isin(kind, COUNT_KINDS) & has_base
        primary = counts & (
            (num < suppression_threshold) | (den - num < suppression_threshold) | low
        )
        secondary = np.zeros(len(df), dtype=bool)
        # Rule 3: comparisons. The overall question row is the total the groups add to.
        is_cmp = kind == "comparison"
        q_published = set(
            df.loc[(kind == "question") & ~primary, "measure_id"].astype(str).tolist()
        )
        cmp_pub = is_cmp & df["measure_id"].astype(str).isin(q_published).to_numpy()
        secondary |= _secondary_within(
            df, ["group_var", "measure_id"], primary, cmp_pub, "denominator"
        )
        # Rule 4: breakdown and profile categories.
        cat_rows = np.isin(kind, ("breakdown", "profile"))
        parts = df.assign(_side=_sides(df, instrument))
        secondary |= _secondary_within(
            parts, ["kind", "measure_id", "_side"], primary, cat_rows, "numerator"
        )
        secondary &= ~primary
        hidden = primary | secondary
        # Rule 5: differences whose groups are hidden.
        hidden_groups = set(
            zip(
                df.loc[is_cmp & hidden, "group_var"].astype(str),
                df.loc[is_cmp & hidden, "measure_id"].astype(str),
                strict=True,
            )
        )
        is_diff = kind == "difference"
        diff_hit = is_diff & np.array(
            [
                (gv, m) in hidden_groups
                for gv, m in zip(
                    df["group_var"].astype(str), df["measure_id"].astype(str), strict=True
                )
            ],
            dtype=bool,
        )
        secondary |= diff_hit
        # Rule 6: rows whose base is a hidden count.
        base_hit = _hidden_bases(df, primary | secondary, instrument)
        secondary |= base_hit & ~primary
        flags = _add_flag(flags, primary, SUPPRESSED)
        flags = _add_flag(flags, secondary, SUPPRESSED)
        flags = _add_flag(flags, secondary, SECONDARY)
        hidden = primary | secondary
        for c in BLANKED:
            df.loc[hidden, c] = pd.NA
        df.loc[base_hit, "denominator"] = pd.NA
    df["flags"] = flags
    return df


def _hidden_bases(
    df: pd.DataFrame, hidden: np.ndarray, instrument: Instrument | None
) -> np.ndarray:
    """Rows whose denominator equals a hidden count (rule 6)."""
    kind = df["kind"].astype(str).to_numpy()
    measure = df["measure_id"].astype(str).to_numpy()
    hit = np.zeros(len(df), dtype=bool)
    if instrument is not None:
        for factor in instrument.factors.values():
            ident = factor.items.get("identified")
            if ident is None or not (hidden & (measure == ident)).any():
                continue
            others = [qid for item, qid in factor.items.items() if item != "identified"]
            hit |= np.isin(measure, others)
    prof = hidden & (kind == "profile")
    hidden_groups = set(
        zip(measure[prof], df["category"].astype(str).to_numpy()[prof], strict=True)
    )
    if hidden_groups:
        pairs = zip(df["group_var"].astype(str), df["group"].astype(str), strict=True)
        in_group = np.array([p in hidden_groups for p in pairs], dtype=bool)
        hit |= np.isin(kind, ("comparison", "difference")) & in_group
    return hit
