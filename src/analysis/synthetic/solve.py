"""Integer counts for one question that meet its published statements.

:func:`solve_question` enumerates the counts of one question (relevant cases, answers
per code, per-group splits) that satisfy its statements, ordered by how well they fit
the profile (:class:`QuestionSpec`); when no integer solution exists,
:func:`analysis.synthetic.statements.resolve` drops the least specific statement.
:func:`solve_split` divides a question's overall counts over the groups of one variable
(PO/PSO, LDUs) to meet comparisons and directions. :func:`free_candidates` lists the
candidates of a question no figure constrains, and :func:`largest_remainder` apportions
a total to shares.

Why enumeration and not an integer program (``scipy.optimize.milp``): the realism cost
compares rates (``above / relevant``) and directions compare two groups' rates, both
ratios of unknowns, so neither is linear; outcome fitting needs a ranked list of
candidates per question, not one optimum; and an inconsistency's explanation lists the
values the kept figures allow. Bases are small (at most a few hundred cases), so the
exhaustive search stays affordable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.instrument import ABOVE, Instrument, Question
from analysis.synthetic.statements import (
    Inconsistency,
    Statement,
    codes_for,
    label,
    members,
    pct,
    percent_band,
    resolve,
)

# -- per-question solutions ---------------------------------------------------------------


@dataclass
class Solution:
    """Counts for one question: answers per code over relevant cases, plus group splits."""

    counts: dict[str, int]  # non-NA code -> number of cases
    above: int
    relevant: int
    cost: float = 0.0
    groups: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)

    @property
    def percent(self) -> float:
        """Percent above the line."""
        return pct(self.above, self.relevant)


@dataclass
class QuestionSpec:
    """What the solver knows about one question before choosing counts."""

    qid: str
    pool: int  # cases the skip rules allow
    prefer_relevant: int
    prefer_rate: float  # preferred share above the line, 0-1
    group_pools: dict[str, dict[str, int]] = field(default_factory=dict)  # var -> group -> pool
    group_effects: dict[str, dict[str, float]] = field(default_factory=dict)  # var -> g -> pts
    below_weights: dict[str, float] = field(default_factory=dict)  # below code -> share
    #: Bounds consistency rules set: cases that must be relevant (a rule forbids "not
    #: applicable") and the most that may be above the line (the rest may not be).
    min_relevant: int = 0
    max_above: int | None = None
    min_above: int = 0
    #: Cases a rule allows only a below-the-line answer (the fewest that must be below).
    min_below: int = 0


def _compositions(total: int, k: int) -> Iterable[tuple[int, ...]]:
    if k == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in _compositions(total - first, k - 1):
            yield (first, *rest)


def solve_question(
    inst: Instrument,
    spec: QuestionSpec,
    statements: list[Statement],
    max_solutions: int = 60,
) -> tuple[list[Solution], list[Inconsistency]]:
    """All count vectors of one question meeting its statements, best first.

    Parameters
    ----------
    inst
        The instrument (for answer codes).
    spec
        Pool sizes and preferences.
    statements
        Statements of kinds ``question``, ``factor``, ``breakdown``, ``comparison``,
        ``direction`` about this question.
    max_solutions
        Keep this many of the best overall (A, N) solutions.

    Returns
    -------
    solutions, inconsistencies
    """
    q = inst.questions[spec.qid]
    aset = inst.answer_set(q)
    codes = [c for c in aset.code_values if c != aset.na_code]
    above_codes = set(aset.codes_scoring(ABOVE))
    overall = [s for s in statements if s.kind in ("question", "factor", "breakdown")]
    overall = [s for s in overall if not s.group_var]
    # A direction on a below-the-line category is honoured when codes are placed on cases.
    grouped = [
        s
        for s in statements
        if s not in overall and not (s.kind == "direction" and s.category is not None)
    ]
    statements = overall + grouped

    def feasible(sts: list[Statement]) -> list[Solution]:
        ov = [s for s in sts if s in overall]
        gr = [s for s in sts if s in grouped]
        sols = _solve_overall(inst, q, spec, ov, codes, above_codes)
        if not gr:
            return sols[:max_solutions]
        out = []
        for sol in sols:
            splits = {}
            ok = True
            for var in dict.fromkeys(s.group_var for s in gr):
                split = solve_split(
                    sol.above,
                    sol.relevant,
                    spec.group_pools.get(var, {}),
                    [s for s in gr if s.group_var == var],
                    spec.group_effects.get(var, {}),
                )
                if split is None:
                    ok = False
                    break
                splits[var] = split
            if ok:
                sol.groups = splits
                out.append(sol)
                if len(out) >= max_solutions:
                    break
        return out

    def explain(dropped: Statement, kept: list[Statement]) -> str | None:
        """The arithmetic: every value the dropped figure could take given the kept ones."""
        kept_ov = [s for s in kept if s in overall]
        sols = _solve_overall(inst, q, spec, kept_ov, codes, above_codes)
        if not dropped.group_var and dropped in overall:
            vals = set()
            for sol in sols:
                num, den = _statement_ratio(inst, q, dropped, sol)
                if den:
                    vals.add(pct(num, den))
            if not vals:
                return f"no base up to the {spec.pool} cases the skip rules allow fits the rest"
            used = ", ".join(s.fid for s in kept_ov) or "none"
            return (
                f"over every base up to {spec.pool}, the kept figures ({used}) allow only "
                f"{min(vals):.1f}%-{max(vals):.1f}% for {dropped.fid}"
            )
        if dropped.kind == "comparison":
            groups = list(spec.group_pools.get(dropped.group_var, {}))
            mine = members(dropped.group, groups)
            others = [g for g in groups if g not in mine]
            stated = [s for s in kept if s.group_var == dropped.group_var and s.kind != "direction"]
            pools = spec.group_pools.get(dropped.group_var, {})
            got: set[tuple[int, int]] = set()
            for sol in sols:
                if len(others) == 1 and stated:
                    # The other group's figure fixes its share; this group takes the rest.
                    for n_o in range(sol.relevant + 1):
                        for a_o in range(min(n_o, sol.above) + 1):
                            if all(s.accepts(a_o, n_o) for s in stated):
                                n_m, a_m = sol.relevant - n_o, sol.above - a_o
                                if 0 <= a_m <= n_m:
                                    got.add((a_m, n_m))
                else:
                    # Only the pools bound the split.
                    cap = sum(pools.get(g, 0) for g in mine)
                    rest_cap = sum(pools.get(g, 0) for g in others)
                    for n_m in range(max(0, sol.relevant - rest_cap), min(cap, sol.relevant) + 1):
                        lo_a = max(0, sol.above - (sol.relevant - n_m))
                        for a_m in range(lo_a, min(n_m, sol.above) + 1):
                            got.add((a_m, n_m))
            target = dropped.percent
            if target is None and dropped.verbal:
                target = sum(percent_band(dropped.verbal)) / 2
            order = sorted(got, key=lambda t: abs(pct(*t) - (target or 0)) if t[1] else 1e9)
            got = [f"{a}/{n} = {pct(a, n):.1f}%" for a, n in order if n]
            if not got:
                return "no split of the overall counts meets the other group's figure"
            shown = ", ".join(got[:6]) + (" ..." if len(got) > 6 else "")
            return (
                f"every split meeting the kept figures and the group sizes leaves "
                f"{label(dropped.group)} at {shown} (nearest first), none of which is "
                f"{dropped.describe().split(': ', 1)[1]}"
            )
        return None

    return _resolve_cached(statements, feasible, spec.qid, explain)


def _statement_ratio(inst: Instrument, q: Question, s: Statement, sol: Solution) -> tuple[int, int]:
    """(numerator, denominator) a statement reads from a solution's counts."""
    if s.kind == "breakdown":
        cat, among = codes_for(inst, q, s.category), codes_for(inst, q, s.among)
        return sum(sol.counts.get(c, 0) for c in cat), sum(sol.counts.get(c, 0) for c in among)
    return sol.above, sol.relevant


def _resolve_cached(statements, feasible, measure, explain=None):
    cache: dict[tuple[str, ...], list[Any]] = {}

    def cached(sts: list[Statement]) -> list[Any]:
        key = tuple(sorted(s.fid for s in sts))
        if key not in cache:
            cache[key] = feasible(sts)
        return cache[key]

    sols, _, incs = resolve(statements, cached, measure, explain)
    return sols, incs


def _solve_overall(
    inst: Instrument,
    q: Question,
    spec: QuestionSpec,
    statements: list[Statement],
    codes: list[str],
    above_codes: set[str],
) -> list[Solution]:
    """Enumerate (relevant, per-code counts) that satisfy the ungrouped statements."""
    lo_n, hi_n = 0, spec.pool
    for s in statements:
        if s.kind != "breakdown" and s.denominator is not None:
            lo_n = hi_n = s.denominator if s.denominator <= spec.pool else -1
    if hi_n < 0:
        return []
    first_above = next(c for c in codes if c in above_codes)
    below_codes = [c for c in codes if c not in above_codes]
    layout = [first_above, *below_codes]  # counts vector: above, then each below code
    ratio_sts = [s for s in statements if s.kind in ("question", "factor")]
    # Each breakdown becomes two 0/1 vectors over the layout (category, base).
    cats = []
    for s in statements:
        if s.kind != "breakdown":
            continue
        cat, among = set(codes_for(inst, q, s.category)), set(codes_for(inst, q, s.among))
        cv = [1 if (c in cat or (c == first_above and cat & above_codes)) else 0 for c in layout]
        av = [
            1 if (c in among or (c == first_above and among & above_codes)) else 0 for c in layout
        ]
        cats.append((s, cv, av))
    # Breakdowns that only split above vs below (or all) need no composition of below codes.
    simple = all(len(set(cv[1:])) <= 1 and len(set(av[1:])) <= 1 for _, cv, av in cats)
    sols: list[Solution] = []
    top = spec.max_above
    for n_rel in range(max(lo_n, 0, spec.min_relevant), hi_n + 1):
        upper = min(n_rel if top is None else min(n_rel, top), n_rel - spec.min_below)
        for a in range(spec.min_above, upper + 1):
            if not all(s.accepts(a, n_rel) for s in ratio_sts):
                continue
            if simple or len(below_codes) <= 1:
                splits = [_default_split(n_rel - a, below_codes, spec.below_weights)]
            else:
                splits = _compositions(n_rel - a, len(below_codes))
            for split in splits:
                vec = (a, *split)
                ok = True
                for s, cv, av in cats:
                    num = sum(x for x, m in zip(vec, cv, strict=True) if m)
                    den = sum(x for x, m in zip(vec, av, strict=True) if m)
                    if not s.accepts(num, den):
                        ok = False
                        break
                if not ok:
                    continue
                counts = dict.fromkeys(codes, 0)
                counts.update(zip(layout, vec, strict=True))
                cost = _cost(spec, a, n_rel, counts, below_codes)
                sols.append(Solution(counts=counts, above=a, relevant=n_rel, cost=cost))
    sols.sort(key=lambda s: s.cost)
    return sols


def _default_split(total: int, below_codes: list[str], weights: dict[str, float]) -> tuple:
    w = np.array([weights.get(c, 1.0) for c in below_codes], dtype=float)
    if w.sum() <= 0:
        w = np.ones(len(below_codes))
    return tuple(largest_remainder(total, w / w.sum()))


def _cost(spec: QuestionSpec, a: int, n_rel: int, counts: dict, below_codes: list[str]) -> float:
    cost = abs(n_rel - spec.prefer_relevant) / max(spec.pool, 1) * 4
    if n_rel:
        cost += abs(a / n_rel - spec.prefer_rate) * 2
    else:
        cost += 5  # a scored question with no relevant case drops out of scores
    below = n_rel - a
    if below and len(below_codes) > 1:
        w = np.array([spec.below_weights.get(c, 1.0) for c in below_codes], dtype=float)
        w = w / w.sum() if w.sum() else np.ones(len(w)) / len(w)
        got = np.array([counts[c] for c in below_codes]) / below
        cost += float(np.abs(got - w).sum()) * 0.5
    return cost


def largest_remainder(total: int, shares: Iterable[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``shares`` (Hamilton's method)."""
    shares = np.asarray(list(shares), dtype=float)
    if shares.sum() <= 0:
        shares = np.ones(len(shares))
    raw = total * shares / shares.sum()
    out = np.floor(raw).astype(int)
    rem = total - out.sum()
    order = np.argsort(-(raw - out), kind="stable")
    for i in order[:rem]:
        out[i] += 1
    return [int(x) for x in out]


# -- group splits -----------------------------------------------------------------------


def solve_split(
    above: int,
    relevant: int,
    pools: dict[str, int],
    statements: list[Statement],
    effects: dict[str, float] | None = None,
) -> dict[str, tuple[int, int]] | None:
    """Split (above, relevant) over the groups of one variable to meet group statements.

    Parameters
    ----------
    above, relevant
        Overall counts to split.
    pools
        Group -> cases the question could apply to in that group (upper bound on its N).
    statements
        ``comparison`` statements (``group`` with numbers) and ``direction`` statements
        (``higher``/``lower``: group value(s); ``None``/"rest" means every other group).
    effects
        Group -> preferred difference in points from the overall rate (realism).

    Returns
    -------
    dict or None
        Group -> (relevant, above); None when no split satisfies every statement.
    """
    groups = list(pools)
    if not groups:
        return None
    effects = effects or {}
    stated: dict[str, list[Statement]] = {}
    for s in statements:
        if s.kind != "direction":
            for g in members(s.group, groups):
                stated.setdefault(g, []).append(s)
        else:
            # Explicitly named sides of a direction are searched over like stated groups.
            for g in members(s.higher, groups) + members(s.lower, groups):
                stated.setdefault(g, [])
    # Candidates for each stated group; the unstated groups share the remainder.
    named = list(stated)
    rest = [g for g in groups if g not in named]
    rest_pool = sum(pools[g] for g in rest)
    rate = above / relevant if relevant else 0.0

    def options(g: str) -> list[tuple[int, int]]:
        opts = []
        for n_g in range(0, min(pools[g], relevant) + 1):
            for a_g in range(0, min(n_g, above) + 1):
                if all(s.accepts(a_g, n_g) for s in stated[g]):
                    want_n = relevant * pools[g] / max(sum(pools.values()), 1)
                    want_r = min(max(rate + effects.get(g, 0) / 100, 0), 1)
                    c = abs(n_g - want_n) / max(relevant, 1) + abs(a_g - want_r * n_g) / max(n_g, 1)
                    opts.append((c, n_g, a_g))
        opts.sort()
        return [(n, a) for _, n, a in opts[:400]]

    option_lists = [options(g) for g in named]
    option_sets = [set(o) for o in option_lists]

    def finish(chosen: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]] | None:
        n_r = relevant - sum(v[0] for v in chosen.values())
        a_r = above - sum(v[1] for v in chosen.values())
        if n_r < 0 or a_r < 0 or a_r > n_r or n_r > rest_pool or (not rest and n_r):
            return None
        full = dict(chosen)
        full.update(_spread(n_r, a_r, {g: pools[g] for g in rest}, effects, rate))
        return full if _directions_ok(full, statements, groups) else None

    def search(i: int, chosen: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]] | None:
        if i == len(named):
            return finish(chosen)
        if i == len(named) - 1 and not rest:
            # The last stated group takes exactly what is left: look it up, do not loop.
            need = (
                relevant - sum(v[0] for v in chosen.values()),
                above - sum(v[1] for v in chosen.values()),
            )
            if need not in option_sets[i]:
                return None
            return finish({**chosen, named[i]: need})
        for opt in option_lists[i]:
            got = search(i + 1, {**chosen, named[i]: opt})
            if got is not None:
                return got
        return None

    return search(0, {})


def _spread(
    n: int, a: int, pools: dict[str, int], effects: dict[str, float], rate: float
) -> dict[str, tuple[int, int]]:
    """Share (n relevant, a above) over unstated groups in proportion to their pools."""
    if not pools:
        return {}
    gs = list(pools)
    ns = largest_remainder(n, [pools[g] for g in gs])
    # Respect pool bounds by moving overflow to groups with room.
    for i, g in enumerate(gs):
        while ns[i] > pools[g]:
            j = next(j for j, h in enumerate(gs) if ns[j] < pools[h])
            ns[i] -= 1
            ns[j] += 1
    weights = [
        max(ns[i] * min(max(rate + effects.get(g, 0) / 100, 0.02), 0.98), 1e-6)
        for i, g in enumerate(gs)
    ]
    as_ = largest_remainder(a, weights)
    for i in range(len(gs)):
        while as_[i] > ns[i]:
            j = next(j for j in range(len(gs)) if as_[j] < ns[j])
            as_[i] -= 1
            as_[j] += 1
    return {g: (ns[i], as_[i]) for i, g in enumerate(gs)}


def _rate_of(split: dict[str, tuple[int, int]], members: list[str]) -> float | None:
    n = sum(split[g][0] for g in members)
    a = sum(split[g][1] for g in members)
    return a / n if n else None


def _directions_ok(split: dict[str, tuple[int, int]], statements: list[Statement], groups) -> bool:
    for s in statements:
        if s.kind != "direction":
            continue
        hi = members(s.higher, groups)
        lo = members(s.lower, groups)
        if not hi:
            hi = [g for g in groups if g not in lo]
        if not lo:
            lo = [g for g in groups if g not in hi]
        rh, rl = _rate_of(split, hi), _rate_of(split, lo)
        if rh is None or rl is None or not rh > rl:
            return False
    return True


def free_candidates(inst: Instrument, q: Question, spec: QuestionSpec) -> list[Solution]:
    """Candidates of an unconstrained question: its preferred base, any number above."""
    aset = inst.answer_set(q)
    codes = [c for c in aset.code_values if c != aset.na_code]
    above = [c for c in codes if c in aset.codes_scoring(ABOVE)]
    below = [c for c in codes if c not in above]
    n_rel = min(max(spec.prefer_relevant, 1 if spec.pool else 0, spec.min_relevant), spec.pool)
    out = []
    top = n_rel if spec.max_above is None else min(n_rel, spec.max_above)
    top = max(min(top, n_rel - spec.min_below), 0)
    for a in range(min(spec.min_above, top), top + 1):
        counts = dict.fromkeys(codes, 0)
        counts[above[0]] = a
        for c, k in zip(below, _default_split(n_rel - a, below, spec.below_weights), strict=True):
            counts[c] = k
        cost = abs(a - spec.prefer_rate * n_rel) / max(n_rel, 1) * 2
        out.append(Solution(counts=counts, above=a, relevant=n_rel, cost=cost))
    out.sort(key=lambda s: s.cost)
    return out


def draw_count(
    spec: QuestionSpec, stmts: list[Statement], band: tuple[float, float], rng: np.random.Generator
) -> float:
    """A share drawn uniformly among the integer counts a question's figures allow.

    The base is the one its figures state, else the preferred one; every count above the
    line that each share-bounding figure accepts there is equally likely ("most" of 20
    cases is 15, 16, 17 or 18, a quarter each), so the demo's "most" figures spread over
    the whole band instead of crowding one point. None or all of the base is drawn only
    when no other count fits ("many" reaches 100%, but a writer would say "all"). With no
    count at all (the figures conflict at that base, which the solver settles) a point of
    the band is drawn instead.
    """
    bounding = [s for s in stmts if s.rate_interval() is not None]
    fixed = {s.denominator for s in bounding if s.denominator}
    base = fixed.pop() if len(fixed) == 1 else min(max(spec.prefer_relevant, 1), max(spec.pool, 1))
    counts = [a for a in range(base + 1) if all(s.accepts(a, base) for s in bounding)]
    # None or every case only when nothing else fits: a writer would have said "all".
    counts = [a for a in counts if 0 < a < base] or counts
    if not counts:
        return float(rng.uniform(*band))
    return counts[int(rng.integers(len(counts)))] / base
