"""Check every consistency rule of the instrument on the cases of a workbook.

A consistency rule (``consistency:`` in the instrument; ``docs/instrument-format.md``) says
"when these answers or details, then that question must be one of these codes". After the
skip rules have filled their not-applicable codes and every value has been validated, each
rule is evaluated on the whole table at once with numpy masks over the categorical codes
(the same condition logic as the skip rules, :func:`analysis.instrument.model.conditions_mask`),
so checking the rules costs milliseconds even for 10,000 cases.

A case is judged by a rule only when every column the rule reads (and the columns of its
``then`` question's own skip rule) holds a valid code and has no problem reported already,
so one slip is not reported twice. Every violation is listed, naming the row, the case id,
the columns and their values in plain words:

- an ``error`` rule's violations stop the ingest (exit 2, nothing written);
- a ``warning`` rule's violations are printed (the first :data:`WARNINGS_SHOWN` of each rule,
  then how many more) and counted by rule id in :attr:`Report.rule_warnings`, which
  ``provenance.json`` records without case ids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.ingest.problems import Report
from analysis.ingest.validate import member_mask
from analysis.instrument import ConsistencyRule, Instrument

#: Violations of one warning rule listed one by one; the rest are counted in one line.
WARNINGS_SHOWN = 20


def check_consistency(norm: pd.DataFrame, inst: Instrument, rep: Report) -> None:
    """Report every case that breaks a consistency rule (errors and warnings).

    Parameters
    ----------
    norm
        The normalised cases after skip rules and validation, indexed by Excel row.
    inst
        The instrument whose ``consistency`` rules are checked.
    rep
        Collects the violations; warning counts go to ``rep.rule_warnings``.
    """
    if not inst.consistency or norm.empty:
        return
    n = len(norm)
    rows = norm.index.to_numpy()
    reported: dict[str, set[int]] = {}
    for r, c in rep.cells:
        reported.setdefault(c, set()).add(r)
    usable: dict[str, np.ndarray] = {}

    def fine(col: str) -> np.ndarray:
        """Cases whose ``col`` holds a valid code and has no problem reported."""
        if col not in usable:
            ok = member_mask(norm[col], inst.allowed_values(col))
            if col in reported:
                ok &= ~np.isin(rows, list(reported[col]))
            usable[col] = ok
        return usable[col]

    def member(col: str, values: tuple[str, ...]) -> np.ndarray:
        return member_mask(norm[col], values)

    ident = inst.identifier_column
    for rule in inst.consistency:
        cols = list(rule.columns)
        q = inst.questions.get(rule.then_column)
        if q is not None:
            cols += [c for c in q.rule_columns if c not in cols]
        if any(c not in norm.columns for c in cols):
            continue  # a missing column is reported already
        judged = np.ones(n, dtype=bool)
        for c in cols:
            judged &= fine(c)
        judged &= inst.rule_applies(rule, member, n)
        broken = judged & ~member(rule.then_column, rule.allowed)
        if not broken.any():
            continue
        where = rows[broken]
        if rule.severity == "warning":
            rep.rule_warnings[rule.id] = int(broken.sum())
        for i, row in enumerate(where):
            if rule.severity == "warning" and i == WARNINGS_SHOWN:
                rest = len(where) - WARNINGS_SHOWN
                rep.warn(
                    f"and {rest} more case{'s' if rest != 1 else ''} break rule {rule.id} "
                    f"({len(where)} in all)",
                    column=rule.then_column,
                    rule=rule.id,
                )
                break
            text = _violation(norm, row, rule, ident)
            value = norm.at[row, rule.then_column]
            if rule.severity == "error":
                rep.error(text, row=int(row), column=rule.then_column, value=value, rule=rule.id)
            else:
                rep.warn(text, row=int(row), column=rule.then_column, value=value, rule=rule.id)


def _violation(norm: pd.DataFrame, row, rule: ConsistencyRule, ident: str) -> str:
    """One violation in plain words: the case, what it records, what the rule requires."""
    case = norm.at[row, ident] if ident in norm.columns else None
    facts = ", ".join(f"{c} is {norm.at[row, c]!r}" for c in rule.columns[:-1])
    allowed = " or ".join(repr(v) for v in rule.allowed)
    who = f"case {case}: " if case is not None and not pd.isna(case) else ""
    kind = "inconsistent answers" if rule.severity == "error" else "unusual answers"
    return (
        f"{who}{kind} (rule {rule.id}): {facts}, so {rule.then_column} must be {allowed}, "
        f"but it is {norm.at[row, rule.then_column]!r}. {rule.message}"
    )
