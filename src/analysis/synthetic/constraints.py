"""Consistency rules as constraints on the generator's answers.

An instrument's consistency rules (``Instrument.consistency``: "when these answers or
details, then that column must be one of these codes") must hold in every generated
workbook. The generator answers columns in workbook order, so a rule can be enforced
when the *last* of its columns is answered: at that point every other column it reads is
known, and :func:`forbidden` says, per case, which codes of that column would break it.
That covers a rule whose ``then`` column comes last ("no review, so not reviewed after the
change") and one whose ``when`` column comes last (the contrapositive), with ``any_of``
alternatives, without naming any column in code.

:func:`resample` replaces a forbidden code by an allowed one (drawn answers, no exact
count to keep); :func:`swap_repair` swaps codes between cases instead, so every code's
count and every group split stays exact (calibrated answers). :func:`violations` counts
the cases breaking each rule (tests, measurements).

A rule object needs ``id``, ``when``, ``any_of``, ``then_column``, ``allowed`` and
``mask(member, n)`` (the same contract as :meth:`analysis.instrument.Question.rule_mask`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np


def rules_of(inst: Any, extra: Iterable[Any] | None = None) -> tuple[Any, ...]:
    """The instrument's consistency rules (none before the instrument declares any), plus ``extra``."""
    return tuple(getattr(inst, "consistency", ()) or ()) + tuple(extra or ())


def rule_columns(rule: Any) -> list[str]:
    """Every column a rule reads or constrains: its conditions, then its ``then`` column."""
    cols = list(rule.when)
    for alt in rule.any_of or ():
        cols += [c for c in alt if c not in cols]
    if rule.then_column not in cols:
        cols.append(rule.then_column)
    return cols


def _isin(values: Any, allowed: Sequence[Any]) -> np.ndarray:
    # Codes are strings; counts are compared by their text, as a workbook cell would be.
    vals = np.asarray(values, dtype=object)
    return np.isin(vals.astype(str), np.array([str(a) for a in allowed], dtype=object))


def forbidden(
    rules: Iterable[Any], column: str, codes: Sequence[str], data: Mapping[str, Any], n: int
) -> np.ndarray:
    """Which codes of ``column`` would break a rule, case by case.

    Only rules whose other columns are all in ``data`` are applied (in a forward pass:
    the rules ``column`` completes).

    Returns
    -------
    numpy.ndarray
        Boolean ``(n, len(codes))``: True where giving the case that code breaks a rule.
    """
    out = np.zeros((n, len(codes)), dtype=bool)
    for rule in rules:
        cols = rule_columns(rule)
        if column not in cols or any(c not in data for c in cols if c != column):
            continue
        for k, code in enumerate(codes):

            def member(col: str, values: tuple[str, ...], code=code) -> np.ndarray:
                if col == column:
                    return np.full(n, str(code) in {str(v) for v in values})
                return _isin(data[col], values)

            when = np.asarray(rule.mask(member, n), dtype=bool)
            if rule.then_column == column:
                ok = np.full(n, str(code) in {str(a) for a in rule.allowed})
            else:
                ok = _isin(data[rule.then_column], rule.allowed)
            out[:, k] |= when & ~ok
    return out


def violations(rules: Iterable[Any], cases: Any) -> dict[str, int]:
    """Cases breaking each rule (rule id -> count) in a frame or mapping of columns."""
    n = len(next(iter(cases.values()))) if isinstance(cases, dict) else len(cases)

    def member(col: str, values: tuple[str, ...]) -> np.ndarray:
        return _isin(cases[col], values)

    out = {}
    for rule in rules:
        if any(c not in cases for c in rule_columns(rule)):
            continue
        bad = np.asarray(rule.mask(member, n), dtype=bool) & ~_isin(
            cases[rule.then_column], rule.allowed
        )
        out[rule.id] = int(bad.sum())
    return out


def _class_of(codes: Sequence[str], classes: Mapping[str, str]) -> np.ndarray:
    return np.array([classes.get(c, "") for c in codes], dtype=object)


def resample(
    values: np.ndarray,
    codes: Sequence[str],
    banned: np.ndarray,
    classes: Mapping[str, str],
    rng: np.random.Generator,
) -> np.ndarray:
    """Replace each forbidden code by an allowed one, of the same class if there is one.

    ``classes`` maps a code to how it scores (above / below / na), so a case that may not
    say "No review" gets another below-the-line code before an above one. A case with no
    allowed code keeps its answer (an unsatisfiable rule is the loader's to refuse).
    """
    values = np.asarray(values, dtype=object).copy()
    index = {c: k for k, c in enumerate(codes)}
    cls = _class_of(codes, classes)
    for i in np.flatnonzero([index.get(v) is not None and banned[j, index[v]] for j, v in enumerate(values)]):
        ok = ~banned[i]
        same = ok & (cls == classes.get(values[i], ""))
        pick = np.flatnonzero(same if same.any() else ok)
        if len(pick):
            values[i] = codes[int(pick[rng.integers(len(pick))])]
    return values


def swap_repair(
    values: np.ndarray,
    codes: Sequence[str],
    banned: np.ndarray,
    keys: np.ndarray,
    rng: np.random.Generator,
    prefer: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Swap codes between cases until no case holds a forbidden code.

    A swap keeps every code's count, and partners share ``keys`` (the case's values on the
    question's group variables), so every group split stays exact too. Among partners the
    swap prefers one whose code is of the same standing (``prefer``: a score per case; the
    partner closest in it), so that quality ordering moves as little as possible.

    Returns
    -------
    values, unresolved
        The repaired codes and the number of cases no single swap could fix.
    """
    values = np.asarray(values, dtype=object).copy()
    index = {c: k for k, c in enumerate(codes)}
    n = len(values)

    def idx_of(vals: np.ndarray) -> np.ndarray:
        return np.array([index.get(v, -1) for v in vals], dtype=int)

    unresolved = 0
    for _ in range(3):  # a swap can only move a code to a case that allows it: few passes
        cur = idx_of(values)
        bad = [i for i in range(n) if cur[i] >= 0 and banned[i, cur[i]]]
        if not bad:
            return values, 0
        unresolved = 0
        for i in rng.permutation(bad):
            cur = idx_of(values)
            ci = cur[i]
            if ci < 0 or not banned[i, ci]:
                continue
            j_ok = (
                (cur >= 0)
                & (cur != ci)
                & (keys == keys[i])
                & ~banned[np.arange(n), ci]
                & ~banned[i, np.where(cur >= 0, cur, 0)]
            )
            cand = np.flatnonzero(j_ok)
            if not len(cand):
                unresolved += 1
                continue
            if prefer is not None:
                j = int(cand[np.argmin(np.abs(prefer[cand] - prefer[i]) + 1e-6 * rng.random(len(cand)))])
            else:
                j = int(cand[rng.integers(len(cand))])
            values[i], values[j] = values[j], values[i]
    cur = idx_of(values)
    unresolved = sum(1 for i in range(n) if cur[i] >= 0 and banned[i, cur[i]])
    return values, unresolved


def group_keys(cases: Any, columns: Iterable[str], n: int) -> np.ndarray:
    """One key per case: its values on ``columns`` joined (all equal when there are none)."""
    cols = [np.asarray(cases[c], dtype=object).astype(str) for c in columns]
    if not cols:
        return np.zeros(n, dtype=object)
    return np.array(["\x1f".join(t) for t in zip(*cols, strict=True)], dtype=object)
