"""Answers on cases: which cases are relevant, above the line and in each category.

:func:`assign_question` turns one question's exact counts and group splits (a
:class:`analysis.synthetic.solve.Solution`) into a column of answer codes, among the cases
the skip rules allow (:func:`applies_mask`), preferring cases of higher latent quality for
good answers; swaps repair the group splits. :func:`meet_gate_needs` swaps a gate's answers
so each group keeps enough cases open for its dependents, and :func:`draw_unsolved`
draws the answers no figure constrains (counts, descriptive categories).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.instrument import ABOVE, Instrument, Question
from analysis.synthetic.solve import Solution, largest_remainder
from analysis.synthetic.statements import Statement, codes_for, members


def assign_question(
    cases: pd.DataFrame,
    inst: Instrument,
    qid: str,
    solution: Solution,
    quality: np.ndarray,
    rng: np.random.Generator,
    pool_mask: np.ndarray | None = None,
    category_directions: list[Statement] | None = None,
) -> pd.Series:
    """Answer one question for every case, hitting exact counts and group splits.

    Parameters
    ----------
    cases
        Case frame with every earlier column already answered.
    solution
        Counts per code and per-group (relevant, above) splits.
    quality
        Latent quality per case (higher = better practice); good answers go to higher
        quality cases, with noise so that cases are not perfectly ordered.
    pool_mask
        Cases the skip rules allow; computed from ``applies_when`` when omitted.
    category_directions
        ``direction`` statements on a below-the-line category, honoured when placing
        below-the-line codes.

    Returns
    -------
    pandas.Series
        The column of canonical codes (NA code outside the relevant cases).
    """
    q = inst.questions[qid]
    aset = inst.answer_set(q)
    n_cases = len(cases)
    if pool_mask is None:
        pool_mask = applies_mask(cases, q)
    pool = np.flatnonzero(pool_mask)
    rel_target = solution.relevant
    above_target = solution.above
    if rel_target > len(pool):
        raise ValueError(f"{qid}: {rel_target} relevant cases wanted, skip rules allow {len(pool)}")
    # Noise so that good and poor answers are not perfectly stacked on the same cases.
    noisy = quality + rng.normal(0, 1.0, n_cases)
    groups = {var: cases[var].astype(str).to_numpy() for var in solution.groups}

    # Relevant set: random within the pool, then repaired to meet the group splits.
    order = rng.permutation(pool)
    relevant = set(order[:rel_target].tolist())
    relevant = _repair(
        relevant,
        set(pool.tolist()),
        {var: {g: v[0] for g, v in split.items()} for var, split in solution.groups.items()},
        groups,
        rng,
        prefer=None,
    )
    rel = np.array(sorted(relevant), dtype=int)
    # Above set: the highest-quality relevant cases, then repaired to the group splits.
    by_quality = rel[np.argsort(-noisy[rel], kind="stable")]
    above = set(by_quality[:above_target].tolist())
    above = _repair(
        above,
        set(rel.tolist()),
        {var: {g: v[1] for g, v in split.items()} for var, split in solution.groups.items()},
        groups,
        rng,
        prefer=noisy,
    )
    out = np.full(n_cases, aset.na_code, dtype=object)
    above_codes = [c for c in aset.code_values if c in aset.codes_scoring(ABOVE)]
    codes = [c for c in aset.code_values if c != aset.na_code]
    below_codes = [c for c in codes if c not in above_codes]
    # Several above codes (e.g. fully / partially achieved): the better cases get the first.
    ranked = sorted(above, key=lambda i: -noisy[i])
    shares = largest_remainder(len(ranked), [0.6**k for k in range(len(above_codes))])
    pos = 0
    for code, k in zip(above_codes, shares, strict=True):
        for i in ranked[pos : pos + k]:
            out[i] = code
        pos += k
    below = np.array(sorted(set(rel.tolist()) - above), dtype=int)
    # Worse below-the-line codes (later in the set, e.g. "No review") go to lower quality.
    key = noisy[below].copy() if len(below) else np.array([])
    for s in category_directions or []:
        if s.group_var in cases.columns and len(below):
            vals = cases[s.group_var].astype(str).to_numpy()[below]
            gs = list(dict.fromkeys(cases[s.group_var].astype(str)))
            hi = members(s.higher, gs) or [g for g in gs if g not in members(s.lower, gs)]
            target_codes = codes_for(inst, q, s.category)
            # Cases of the group that should show more of the category come first in line
            # for it; the category is placed on the lowest-key cases.
            if set(target_codes) & set(below_codes[1:]):
                key = key + np.where(np.isin(vals, hi), -5.0, 5.0)
            else:
                key = key + np.where(np.isin(vals, hi), 5.0, -5.0)
    below = below[np.argsort(-key, kind="stable")]
    pos = 0
    for c in below_codes:
        k = solution.counts.get(c, 0)
        for i in below[pos : pos + k]:
            out[i] = c
        pos += k
    return pd.Series(out, index=cases.index, name=qid, dtype=object)


def applies_mask(cases: Any, q: Question) -> np.ndarray:
    """Boolean array: the question's skip rules allow it for this case.

    ``cases`` is a DataFrame or any mapping of column -> array of values.
    """
    first = next(iter(cases.values())) if isinstance(cases, dict) else cases.index

    def member(col: str, allowed: tuple[str, ...]) -> np.ndarray:
        vals = np.asarray(cases[col], dtype=object)
        return np.isin(vals, np.array(allowed, dtype=object))

    mask = q.rule_mask(member, len(first))
    if q.applies_dates:
        mask &= q.date_mask(lambda col: np.asarray(cases[col], dtype="datetime64[D]"), len(first))
    return mask


def _repair(
    chosen: set[int],
    universe: set[int],
    targets: dict[str, dict[str, int]],
    groups: dict[str, np.ndarray],
    rng: np.random.Generator,
    prefer: np.ndarray | None,
    max_iter: int = 5000,
) -> set[int]:
    """Swap members in and out of ``chosen`` (size fixed) until group counts match targets.

    Local search over several grouping variables at once: each step makes the swap that
    most reduces the total absolute deviation from the target counts (ties broken by
    ``prefer``, so good cases stay in), with occasional sideways moves to leave plateaus.
    """
    if not targets:
        return chosen
    chosen = set(chosen)
    counts = {
        var: {g: sum(1 for i in chosen if groups[var][i] == g) for g in tg}
        for var, tg in targets.items()
    }

    def delta(i: int, o: int) -> int:
        d = 0
        for var, tg in targets.items():
            gi, go = groups[var][i], groups[var][o]
            if gi == go:
                continue
            if gi in tg:
                d += abs(counts[var][gi] - 1 - tg[gi]) - abs(counts[var][gi] - tg[gi])
            if go in tg:
                d += abs(counts[var][go] + 1 - tg[go]) - abs(counts[var][go] - tg[go])
        return d

    dev = sum(abs(counts[v][g] - k) for v, tg in targets.items() for g, k in tg.items())
    for _ in range(max_iter):
        if dev == 0:
            break
        ins = sorted(chosen)
        outs = sorted(universe - chosen)
        if not ins or not outs:
            break
        best = None
        for i in ins:
            for o in outs:
                d = delta(i, o)
                tie = 0.0 if prefer is None else 1e-3 * (prefer[i] - prefer[o])
                score = d + tie + 1e-6 * rng.random()
                if best is None or score < best[0]:
                    best = (score, d, i, o)
        if best is None or best[1] > 0:
            break
        _, d, i, o = best
        if d == 0:
            # Sideways: take a random zero-change swap to escape the plateau.
            zeros = [(i2, o2) for i2 in ins for o2 in outs if delta(i2, o2) == 0]
            i, o = zeros[int(rng.integers(len(zeros)))]
        for var in targets:
            gi, go = groups[var][i], groups[var][o]
            if gi in counts[var]:
                counts[var][gi] -= 1
            if go in counts[var]:
                counts[var][go] += 1
        chosen = (chosen - {i}) | {o}
        dev += d
    return chosen


def draw_unsolved(
    cases: pd.DataFrame, inst: Instrument, q: Question, rng: np.random.Generator
) -> pd.Series:
    """Counts and descriptive categories: drawn at random within the skip rules."""
    n = len(cases)
    if q.answers == "count":
        lo, hi = q.min or 0, min(q.max or 5, (q.min or 0) + 5)
        return pd.Series(rng.integers(lo, hi + 1, n), index=cases.index, name=q.id)
    aset = inst.answer_set(q)
    mask = applies_mask(cases, q)
    codes = [c for c in aset.code_values if c != aset.na_code]
    out = np.full(n, aset.na_code, dtype=object)
    idx = np.flatnonzero(mask)
    out[idx] = np.array(codes, dtype=object)[rng.integers(0, len(codes), len(idx))]
    return pd.Series(out, index=cases.index, name=q.id, dtype=object)


def meet_gate_needs(
    col: pd.Series,
    cases: pd.DataFrame,
    mask: np.ndarray,
    questions: dict[str, Question],
    gate: Question,
    needs: dict[str, dict[str, int]],
    sol: Solution,
    banned: tuple[list[str], np.ndarray] | None = None,
    prefer: np.ndarray | None = None,
) -> pd.Series:
    """Swap whole answers between cases so each group keeps enough cases open downstream.

    A dependent question split by group (e.g. 7 relevant women) needs at least that many
    cases of the group whose gate answer lets the question apply. Swapping the gate's
    answers between two cases keeps the gate's own totals exact; partners are chosen with
    the same values on the gate's own split variables so its splits stay exact too.
    ``banned`` (the gate's codes, and per case which of them a consistency rule forbids)
    keeps a swap from giving a case a code a rule forbids it; ``prefer`` (a score per case,
    the quality or propensity the answers were placed by) opens the highest-scoring cases
    first and closes the lowest.
    """
    index = {c: k for k, c in enumerate(banned[0])} if banned is not None else {}

    def may_take(i: int, code: Any) -> bool:
        return banned is None or code not in index or not banned[1][i, index[code]]

    # Which gate codes open the dependents (intersection over dependents that need groups).
    opens: set[str] | None = None
    for q in questions.values():
        if gate.id in q.applies_when:
            allowed = set(q.applies_when[gate.id])
            opens = allowed if opens is None else opens & allowed
    if not opens:
        return col
    # A dependent's other gates (already answered) must let it apply too: a case this gate
    # opens but another closes does not count towards the need.
    also = np.ones(len(col), dtype=bool)
    for q in questions.values():
        if gate.id in q.applies_when:
            for c, v in q.applies_when.items():
                if c != gate.id and c in cases:
                    also &= np.isin(cases[c].to_numpy(dtype=object), np.array(v, dtype=object))
    vals = col.to_numpy(dtype=object).copy()
    keep_vars = list(sol.groups)
    for var, req in needs.items():
        g_of = cases[var].astype(str).to_numpy()
        for _ in range(len(vals)):
            is_open = np.isin(vals, list(opens))
            have = {g: int((is_open & also & (g_of == g)).sum()) for g in req}
            short = [g for g in req if have[g] < req[g]]
            if not short:
                break
            g = short[0]
            takers = [i for i in np.flatnonzero(mask & ~is_open & also & (g_of == g))]
            givers = [
                j
                for j in np.flatnonzero(mask & is_open & ((g_of != g) | ~also))
                if not also[j] or have.get(g_of[j], 0) > req.get(g_of[j], 0)
            ]
            if prefer is not None:
                takers = sorted(takers, key=lambda k: -prefer[k])
                givers = sorted(givers, key=lambda k: prefer[k])
            pair = None
            for i in takers:
                for j in givers:
                    if not (may_take(i, vals[j]) and may_take(j, vals[i])):
                        continue
                    if all(cases[v].iat[i] == cases[v].iat[j] for v in keep_vars if v != var):
                        pair = (i, j)
                        break
                if pair:
                    break
            if pair is None:
                break
            i, j = pair
            vals[i], vals[j] = vals[j], vals[i]
    return pd.Series(vals, index=col.index, name=col.name, dtype=object)
