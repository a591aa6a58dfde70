"""Comparisons of question results between groups of cases (grade, LDU, gender, ...).

For a case-detail column, every judged question gets, per group, ``n of N``
above the line with a Wilson interval (``comparison`` rows). Then one
``difference`` row per question:

- two groups ``A`` and ``B``: ``percent`` is ``A - B`` in percentage points with
  Newcombe's hybrid score interval, ``p_value`` is Fisher's exact test (Pearson
  chi-square above :data:`analysis.engine.stats.FISHER_MAX_TOTAL` cases, where the exact
  test is slow and the two agree);
- more than two groups: no single difference, so ``percent`` and the interval
  are blank and ``p_value`` is a chi-square test of the groups x (above, below)
  table, or the exact Fisher-Freeman-Halton test when an expected count is
  under 5 (see :func:`analysis.engine.stats.k_by_2_test`).

Every question of the instrument is screened, so ``p_adjusted`` holds the
Benjamini-Hochberg adjusted p across the questions tested for that column.
Group counts for all compared columns come from one pass over the judgement
matrix (one ``bincount`` per question over the joint groups, see
:func:`joint_group_counts`), so a million cases cost about a second, not a
Python loop per case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import config
from analysis.engine.scoring import Judgements, factorize_column
from analysis.engine.stats import (
    bh_adjust,
    k_by_2_test,
    newcombe_difference,
    two_by_two_test,
    wilson,
)
from analysis.instrument import Instrument

#: Separator between group names in the ``group`` of a difference row.
DIFF_SEP = " - "
#: Separator between group names when more than two groups are tested together.
MULTI_SEP = " | "


def group_values(cases: pd.DataFrame, instrument: Instrument, group_var: str) -> list[str]:
    """Groups of a column, declared order for coded columns, else sorted; blanks excluded."""
    codes, labels = factorize_column(cases[group_var])
    present = {labels[k] for k in np.unique(codes[codes >= 0])}
    declared = (
        instrument.case_details[group_var].codes if group_var in instrument.case_details else ()
    )
    ordered = [c for c in declared if c in present]
    return ordered + sorted(present - set(ordered))


#: Most joint cells (product of group counts, blanks included) counted in one pass;
#: beyond it each column is split separately.
MAX_JOINT_CELLS = 4096


def joint_group_counts(
    judgements: Judgements,
    cases: pd.DataFrame,
    group_vars: dict[str, list[str]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Above and relevant counts (groups x questions) for several columns in one pass.

    Each case falls in one joint cell of all the columns (a blank is a level of its
    own); one ``bincount`` per question of cell x answer code gives every count, and
    each column's groups are then sums over the other columns' levels. One pass over
    the judgement matrix serves every comparison, whatever the number of cases.
    """
    levels, sizes = [], []
    for gv, groups in group_vars.items():
        codes, labels = factorize_column(cases[gv])
        lut = np.array(
            [groups.index(x) if x in groups else len(groups) for x in labels] + [len(groups)]
        )
        levels.append(lut[codes])
        sizes.append(len(groups) + 1)
    if not group_vars:
        return {}
    cells = int(np.prod(sizes, dtype=float))
    if cells > MAX_JOINT_CELLS and len(group_vars) > 1:
        out = {}
        for gv, groups in group_vars.items():
            out.update(joint_group_counts(judgements, cases, {gv: groups}))
        return out
    cell = np.ravel_multi_index(levels, sizes) if len(levels) > 1 else levels[0]
    key = 3 * cell.astype(np.int64) + 1  # + code (-1, 0, 1) -> 3 * cell + {0, 1, 2}
    m = judgements.matrix
    counts = np.empty((m.shape[1], cells, 3), dtype=np.int64)
    for j in range(m.shape[1]):
        counts[j] = np.bincount(key + m[:, j], minlength=3 * cells).reshape(cells, 3)
    counts = counts.reshape((m.shape[1], *sizes, 3))
    out = {}
    for axis, (gv, groups) in enumerate(group_vars.items()):
        other = tuple(1 + a for a in range(len(sizes)) if a != axis)
        per = counts.sum(axis=other)  # questions x (groups + blank) x code
        above = per[:, : len(groups), 2].T
        rel = (per[:, : len(groups), 1] + per[:, : len(groups), 2]).T
        out[gv] = (np.ascontiguousarray(above), np.ascontiguousarray(rel))
    return out


def group_counts(
    judgements: Judgements, cases: pd.DataFrame, group_var: str, groups: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Above and relevant counts, shape (groups, questions)."""
    return joint_group_counts(judgements, cases, {group_var: groups})[group_var]


def compare(
    judgements: Judgements,
    cases: pd.DataFrame,
    instrument: Instrument,
    group_var: str,
    level: float = config.CONFIDENCE_LEVEL,
    counts: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Comparison and difference findings rows for one case-detail column.

    Parameters
    ----------
    judgements
        Judgement matrix of ``cases`` (same row order).
    cases
        Processed cases; must contain ``group_var``.
    instrument
        For labels, outcomes and the declared order of groups.
    group_var
        The case-detail column to split by.
    level
        Confidence level.
    counts
        Precomputed ``(above, relevant)`` from :func:`joint_group_counts`, in the
        order of :func:`group_values`.

    Returns
    -------
    pandas.DataFrame
        Findings rows; empty when the column has fewer than two groups.
    """
    groups = group_values(cases, instrument, group_var)
    if len(groups) < 2:
        return pd.DataFrame()
    above, rel = (
        counts if counts is not None else group_counts(judgements, cases, group_var, groups)
    )
    qs = [instrument.questions[q] for q in judgements.questions]
    base = {
        "outcome": [instrument.criteria[q.criterion].outcome for q in qs],
        "criterion": [q.criterion for q in qs],
        "measure_id": judgements.questions,
        "label": [q.label for q in qs],
        "group_var": group_var,
    }
    frames = []
    for k, g in enumerate(groups):
        lo, hi = wilson(above[k], rel[k], level)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(rel[k] > 0, 100 * above[k] / np.maximum(rel[k], 1), np.nan)
        frames.append(
            pd.DataFrame(
                {
                    **base,
                    "kind": "comparison",
                    "group": g,
                    "numerator": above[k].astype(float),
                    "denominator": rel[k].astype(float),
                    "percent": pct,
                    "ci_low": 100 * lo,
                    "ci_high": 100 * hi,
                    "method": "Wilson score interval",
                    "_q": np.arange(len(qs)),
                    "_g": k,
                }
            )
        )
    if len(groups) == 2:
        d, lo, hi = newcombe_difference(above[0], rel[0], above[1], rel[1], level)
        p, test = two_by_two_test(above[0], rel[0] - above[0], above[1], rel[1] - above[1])
        diff = pd.DataFrame(
            {
                **base,
                "kind": "difference",
                "group": DIFF_SEP.join(groups),
                "percent": 100 * d,
                "ci_low": 100 * lo,
                "ci_high": 100 * hi,
                "p_value": p,
                "method": [f"Newcombe hybrid score interval; {t}" for t in test],
            }
        )
    else:
        tests = [
            k_by_2_test(np.column_stack([above[:, j], rel[:, j] - above[:, j]]))
            for j in range(len(qs))
        ]
        diff = pd.DataFrame(
            {
                **base,
                "kind": "difference",
                "group": MULTI_SEP.join(groups),
                "p_value": [t.p_value for t in tests],
                "method": [t.method for t in tests],
            }
        )
    diff["p_adjusted"] = bh_adjust(diff["p_value"].to_numpy(dtype=float))
    diff["method"] = diff["method"] + "; Benjamini-Hochberg across questions"
    diff["_q"], diff["_g"] = np.arange(len(qs)), len(groups)
    out = pd.concat(frames + [diff], ignore_index=True)
    # Each question's group rows followed by its difference row: the order a reader scans.
    return out.sort_values(["_q", "_g"], kind="stable").drop(columns=["_q", "_g"])
