"""Solve published figures into exact integer counts, then assign answers to cases.

A published report states its figures in several ways: an exact count ("22 out of 54"),
a rounded percentage ("41%"), a verbal quantifier ("just under two-thirds"), a split by
group ("81% of cases held by POs and 47% by PSOs") or a direction ("more likely where a
PO held the case"). Calibration treats each as a constraint on small integers and
*searches* for counts that satisfy all of them, instead of hand-tuning rates:

1. :func:`statements_from_published` reads ``published/<file>.yaml`` into
   :class:`Statement` objects; :func:`statements_from_targets` does the same for a
   profile's exact ``targets``.
2. :func:`solve_question` enumerates the counts of one question (relevant cases,
   answers per code, per-group splits) that satisfy its statements, ordered by how
   well they fit the profile. When no integer solution exists, :func:`resolve` drops
   the least specific statement (an exact count beats a percent, a percent beats a
   verbal quantifier) and records an :class:`Inconsistency` with the arithmetic.
3. :func:`fit_outcomes` chooses one solution per question so that every outcome score
   (mean over its relevant questions of the per-question % above the line) rounds to
   the published score.
4. :func:`assign_question` picks which cases are relevant / above the line / in each
   below-the-line category to hit the exact counts and group splits, among the cases
   the skip rules allow, preferring cases of higher latent quality for good answers.

:func:`calibrated_answers` runs the whole thing for a profile, in instrument column
order so that gate questions are settled before the questions they open: a gate's
planned count is the pool of its dependents (whose preferred base is "every case the
gate allows"), gates are pinned to their best solution, free questions of an outcome
start at the rate the outcome needs, and a gate keeps enough cases in each group for
its dependents' group splits. A direction on one below-the-line category by group
(e.g. fewer "No review" answers in one LDU) is honoured when placing codes on cases,
not by the solver. Case-detail mixes come from the profile (exact counts), not from
the published ``profile`` figures.

Percentages are rounded half up (``round_half_up``); banker's rounding is accepted
only for a statement whose ``note`` mentions it. Verbal bands come from
:func:`analysis.engine.wording.band` (its ladder, synonyms and vague words).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from analysis.instrument import ABOVE, BELOW, Instrument, Question

#: Rank of evidence: the more specific statement wins a conflict.
SPEC_COUNT, SPEC_PERCENT, SPEC_VERBAL, SPEC_DIRECTION = 4, 3, 2, 1


def known_phrase(phrase: str) -> bool:
    """Whether :func:`band` knows a phrase."""
    try:
        band(phrase)
    except KeyError:
        return False
    return True


def _phrase_key(phrase: str) -> str:
    return " ".join(str(phrase).lower().split())


@lru_cache(maxsize=512)
def band(phrase: str) -> tuple[float, float]:
    """Percent band ``(low, high)`` of a verbal quantifier.

    Looked up in :mod:`analysis.engine.wording` (also with a leading "the"/"a", as the report
    writes both "great majority" and "the great majority").

    Raises
    ------
    KeyError
        For a phrase neither knows.
    """
    from analysis.engine import wording

    key = _phrase_key(phrase)
    for cand in (key, f"the {key}", f"a {key}"):
        try:
            lo, hi = wording.band(cand)
            return 100.0 * lo, 100.0 * hi
        except KeyError:
            continue
    raise KeyError(f"unknown verbal quantifier {phrase!r}")


def verbal_ok(phrase: str, n: int, d: int) -> bool:
    """Whether ``n`` of ``d`` may be described by ``phrase``.

    Bands are low-inclusive, high-exclusive (the :mod:`analysis.engine.wording` ladder) except
    that a band ending at 100% includes it unless it starts "almost"/"nearly"; a point
    band ("all", "none") needs equality; "more than X"/"over X"/"the majority" exclude X
    itself; "all but one/two" mean exactly one/two short of the base.
    """
    if d <= 0 or n < 0 or n > d:
        return False
    key = _phrase_key(phrase)
    if key.startswith("all but "):
        short = {"one": 1, "two": 2}.get(key[len("all but ") :])
        if short is not None:
            # Either the count misses the base by `short`, or (a breakdown of the
            # exceptions, e.g. category "No") the count is the exceptions themselves.
            return d - n == short or (n == short and d > 2 * short)
    lo, hi = band(key)
    p = 100.0 * n / d
    eps = 1e-9
    if abs(hi - lo) < eps:
        return abs(p - lo) < eps
    if key.startswith(("more than ", "over ", "slightly more than ")) or key in (
        "the majority",
        "a majority",
        "majority",
        "generally",
    ):
        return lo + eps < p and (p < hi - eps or (hi >= 100 - eps and p <= 100))
    if hi >= 100 - eps and not key.startswith(("almost", "nearly")):
        return lo - eps <= p <= 100
    return lo - eps <= p < hi - eps


# -- rounding --------------------------------------------------------------------------


def round_half_up(x: float) -> int:
    """Round to the nearest integer, halves away from zero (how reports print %)."""
    # A tiny epsilon so 100*n/N computed in binary (e.g. 64.4999999) rounds as printed.
    return int(math.floor(x + 0.5 + 1e-9))


def pct(n: int, d: int) -> float:
    """100 * n / d, or NaN for an empty base."""
    return 100.0 * n / d if d else float("nan")


# -- statements --------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One published figure, as a constraint on counts.

    Attributes
    ----------
    fid
        Figure id (from the published file) or ``target:<measure>``.
    kind
        ``question``, ``factor``, ``breakdown``, ``comparison``, ``direction``,
        ``profile``, ``outcome_score`` (others are ignored by the solver).
    measure
        Question id, profile column or score id.
    """

    fid: str
    kind: str
    measure: str
    numerator: int | None = None
    denominator: int | None = None
    percent: float | None = None
    verbal: str | None = None
    category: Any = None
    among: Any = None
    group_var: str | None = None
    group: Any = None
    higher: Any = None
    lower: Any = None
    note: str = ""
    wording: str = ""
    section: str = ""

    @property
    def specificity(self) -> int:
        """How much to trust this statement in a conflict (higher wins)."""
        if self.kind == "direction":
            return SPEC_DIRECTION
        if self.numerator is not None or self.denominator is not None:
            return SPEC_COUNT
        if self.percent is not None:
            return SPEC_PERCENT
        return SPEC_VERBAL

    @property
    def banker_ok(self) -> bool:
        """Whether the source notes that this percentage used banker's rounding."""
        return "banker" in (self.note or "").lower()

    def accepts(self, n: int, d: int) -> bool:
        """Whether ``n`` of ``d`` is compatible with every number this statement gives."""
        if self.numerator is not None and n != self.numerator:
            return False
        if self.denominator is not None and d != self.denominator:
            return False
        if self.percent is not None:
            if d == 0:
                return False
            p = pct(n, d)
            if round_half_up(p) != round_half_up(self.percent):
                if not (self.banker_ok and round(p) == round_half_up(self.percent)):
                    return False
        if self.verbal and not verbal_ok(self.verbal, n, d):
            return False
        return True

    def describe(self) -> str:
        """Short human-readable form used in inconsistency reasons."""
        parts = []
        if self.numerator is not None and self.denominator is not None:
            parts.append(f"{self.numerator} of {self.denominator}")
        elif self.numerator is not None:
            parts.append(f"n={self.numerator}")
        elif self.denominator is not None:
            parts.append(f"N={self.denominator}")
        if self.percent is not None:
            parts.append(f"{self.percent:g}%")
        if self.verbal:
            lo, hi = band(self.verbal)
            parts.append(f"'{self.verbal}' [{lo:g}-{hi:g}%]")
        if self.kind == "direction":
            parts.append(f"{_label(self.higher)} > {_label(self.lower)} on {self.group_var}")
        where = ""
        if self.group_var and self.kind != "direction":
            where = f" [{self.group_var}={_label(self.group)}]"
        if self.category:
            where += f" [{_label(self.category)}]"
        return f"{self.fid}: {', '.join(parts)}{where}"


def _label(v: Any) -> str:
    if v is None:
        return "rest"
    if isinstance(v, (list, tuple)):
        return "|".join(str(x) for x in v)
    return str(v)


def _int_or_none(v: Any) -> int | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
        return None
    return int(v)


def _float_or_none(v: Any) -> float | None:
    if v is None or v == "":
        return None
    f = float(v)
    return None if math.isnan(f) else f


def statements_from_published(pub: dict[str, Any]) -> list[Statement]:
    """Turn a published-figures mapping (``published/*.yaml``) into statements.

    Parameters
    ----------
    pub
        The loaded YAML: ``figures`` is a list of mappings with ``id``, ``kind``,
        ``measure`` and any of ``numerator``, ``denominator``, ``percent``, ``verbal``,
        ``category``, ``among``, ``group_var``, ``group``, ``higher``, ``lower``, ``note``.

    Returns
    -------
    list of Statement
    """
    out = []
    for i, f in enumerate(pub.get("figures") or []):
        out.append(
            Statement(
                fid=str(f.get("id", f"fig{i + 1}")),
                kind=str(f.get("kind", "question")),
                measure=str(f.get("measure", "")),
                numerator=_int_or_none(f.get("numerator")),
                denominator=_int_or_none(f.get("denominator")),
                percent=_float_or_none(f.get("percent")),
                verbal=f.get("verbal") or None,
                category=f.get("category"),
                among=f.get("among"),
                group_var=f.get("group_var") or None,
                group=f.get("group"),
                higher=f.get("higher"),
                lower=f.get("lower"),
                note=str(f.get("note") or ""),
                wording=str(f.get("wording") or ""),
                section=str(f.get("section") or ""),
            )
        )
    return out


def statements_from_targets(targets: dict[str, Any] | None) -> list[Statement]:
    """Exact counts from a profile's ``targets`` mapping.

    ``targets: {qid: {numerator: 9, denominator: 18}}`` or ``{qid: [9, 18]}``; a target
    may also carry ``group_var``/``group`` or ``category``.
    """
    out = []
    for measure, spec in (targets or {}).items():
        specs = spec if isinstance(spec, list) and spec and isinstance(spec[0], dict) else [spec]
        for j, s in enumerate(specs):
            if isinstance(s, (list, tuple)):
                s = {"numerator": s[0], "denominator": s[1]}
            out.append(
                Statement(
                    fid=f"target:{measure}" + (f":{j + 1}" if j else ""),
                    kind=s.get("kind", "comparison" if s.get("group_var") else "question"),
                    measure=str(measure),
                    numerator=_int_or_none(s.get("numerator")),
                    denominator=_int_or_none(s.get("denominator")),
                    percent=_float_or_none(s.get("percent")),
                    verbal=s.get("verbal"),
                    category=s.get("category"),
                    among=s.get("among"),
                    group_var=s.get("group_var"),
                    group=s.get("group"),
                    higher=s.get("higher"),
                    lower=s.get("lower"),
                )
            )
    return out


# -- inconsistency -----------------------------------------------------------------------


@dataclass
class Inconsistency:
    """Statements that cannot all hold, with the arithmetic that proves it."""

    figure_ids: list[str]
    dropped: list[str]
    measure: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """Machine-readable form (for YAML/CSV output)."""
        return {
            "figure_ids": list(self.figure_ids),
            "dropped": list(self.dropped),
            "measure": self.measure,
            "reason": self.reason,
        }


def resolve(
    statements: list[Statement],
    feasible: Callable[[list[Statement]], list[Any]],
    measure: str,
    explain: Callable[[Statement, list[Statement]], str | None] | None = None,
) -> tuple[list[Any], list[Statement], list[Inconsistency]]:
    """Solve with all statements; on failure drop the least specific ones that conflict.

    Parameters
    ----------
    statements
        Statements about one measure.
    feasible
        Returns the (possibly empty) list of solutions satisfying a subset of statements.
    measure
        For the inconsistency record.

    Returns
    -------
    solutions, kept statements, inconsistency records
    """
    sols = feasible(statements)
    if sols or not statements:
        return sols, list(statements), []
    # Try removing as few, and as unspecific, statements as possible.
    order = sorted(statements, key=lambda s: (s.specificity, s.fid))
    for k in range(1, len(statements) + 1):
        best = None
        for drop in combinations(order, k):
            kept = [s for s in statements if s not in drop]
            cand = feasible(kept)
            if cand:
                cost = sum(10**s.specificity for s in drop)
                if best is None or cost < best[0]:
                    best = (cost, drop, kept, cand)
        if best is not None:
            _, drop, kept, cand = best
            incs = []
            for d in drop:
                core = _minimal_conflict(d, kept, feasible)
                incs.append(
                    Inconsistency(
                        figure_ids=[s.fid for s in core] + [d.fid],
                        dropped=[d.fid],
                        measure=measure,
                        reason=_explain(d, core, measure, explain),
                    )
                )
            return cand, kept, incs
    return [], [], []


def _minimal_conflict(
    dropped: Statement, kept: list[Statement], feasible: Callable[[list[Statement]], list[Any]]
) -> list[Statement]:
    """A smallest subset of ``kept`` that is infeasible together with ``dropped``."""
    core = list(kept)
    for s in list(core):
        trial = [c for c in core if c is not s]
        if not feasible([*trial, dropped]):
            core = trial
    return core


def _explain(
    dropped: Statement,
    core: list[Statement],
    measure: str,
    explain: Callable[[Statement, list[Statement]], str | None] | None = None,
) -> str:
    kept_txt = "; ".join(s.describe() for s in core) or "the sample's bounds"
    msg = f"{measure}: no integer counts satisfy both [{kept_txt}] and [{dropped.describe()}]"
    exact = [s for s in core if s.numerator is not None and s.denominator is not None]
    detail = explain(dropped, core) if explain else None
    if len(exact) == 1 and not dropped.group_var and not exact[0].group_var and not detail:
        n, d = exact[0].numerator, exact[0].denominator
        msg += f"; {n}/{d} = {pct(n, d):.1f}%"
        if dropped.percent is not None:
            msg += f", which rounds to {round_half_up(pct(n, d))}, not {dropped.percent:g}"
        elif dropped.verbal:
            lo, hi = band(dropped.verbal)
            msg += f", outside '{dropped.verbal}' ({lo:g}-{hi:g}%)"
    elif detail:
        msg += f"; {detail}"
    else:
        msg += " (exhaustive search over every base and split)"
    return msg + f"; kept the more specific statement, dropped {dropped.fid}"


# -- code sets -----------------------------------------------------------------------------


def codes_for(inst: Instrument, q: Question, spec: Any) -> tuple[str, ...]:
    """Resolve a category / among spec to answer codes of ``q``.

    ``None``/``"relevant"``/``"all"`` -> every non-NA code; ``"above"``/``"below"`` -> the
    codes scoring so; a code, a list of codes or a ``|``-joined string -> those codes.
    """
    aset = inst.answer_set(q)
    codes = [c for c in aset.code_values if c != aset.na_code]
    if spec is None or (isinstance(spec, str) and spec.lower() in ("", "relevant", "all")):
        return tuple(codes)
    items = spec if isinstance(spec, (list, tuple)) else str(spec).split("|")
    out: list[str] = []
    for it in items:
        it = str(it).strip()
        if it.lower() in (ABOVE, BELOW):
            out += list(aset.codes_scoring(it.lower()))
        elif it.lower() in ("reviewed", "undertaken", "done"):
            # "of the reviews undertaken": every relevant answer except the explicit 'none'.
            out += [c for c in codes if not c.lower().startswith("no ")]
        else:
            match = [c for c in codes if c.lower() == it.lower()]
            if not match:
                raise ValueError(f"{q.id}: unknown category {it!r} (codes: {codes})")
            out += match
    return tuple(dict.fromkeys(out))


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
    above_codes = set(aset.codes_scoring(ABOVE)) or {codes[0]}
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

    def explain(dropped: Statement, core: list[Statement]) -> str | None:
        """The arithmetic: every value the dropped figure could take given the kept ones."""
        core_ov = [s for s in core if s in overall]
        sols = _solve_overall(inst, q, spec, core_ov, codes, above_codes)
        if not dropped.group_var and dropped in overall:
            vals = set()
            for sol in sols:
                num, den = _statement_ratio(inst, q, dropped, sol)
                if den:
                    vals.add(pct(num, den))
            if not vals:
                return f"no base up to the {spec.pool} cases the skip rules allow fits the rest"
            return (
                f"over every base up to {spec.pool}, the kept figures allow only "
                f"{min(vals):.1f}%-{max(vals):.1f}% for {dropped.fid}"
            )
        if dropped.kind == "comparison":
            groups = list(spec.group_pools.get(dropped.group_var, {}))
            mine = _members(dropped.group, groups)
            others = [g for g in groups if g not in mine]
            stated = [s for s in core if s.group_var == dropped.group_var and s.kind != "direction"]
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
                target = sum(band(dropped.verbal)) / 2
            order = sorted(got, key=lambda t: abs(pct(*t) - (target or 0)) if t[1] else 1e9)
            got = [f"{a}/{n} = {pct(a, n):.1f}%" for a, n in order if n]
            if not got:
                return "no split of the overall counts meets the other group's figure"
            shown = ", ".join(got[:6]) + (" ..." if len(got) > 6 else "")
            return (
                f"every split meeting the kept figures and the group sizes leaves "
                f"{_label(dropped.group)} at {shown} (nearest first), none of which is "
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
    for n_rel in range(max(lo_n, 0), hi_n + 1):
        for a in range(n_rel + 1):
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


def _members(value: Any, groups: list[str]) -> list[str]:
    if value is None or (isinstance(value, str) and value.lower() in ("rest", "others", "")):
        return []
    vals = value if isinstance(value, (list, tuple)) else str(value).split("|")
    out = []
    for v in vals:
        m = [g for g in groups if g.lower() == str(v).strip().lower()]
        if not m:
            raise ValueError(f"unknown group {v!r} (known: {groups})")
        out += m
    return out


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
            for g in _members(s.group, groups):
                stated.setdefault(g, []).append(s)
        else:
            # Explicitly named sides of a direction are searched over like stated groups.
            for g in _members(s.higher, groups) + _members(s.lower, groups):
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
    total_pool = max(sum(pools.values()), 1)

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

    del total_pool
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
        hi = _members(s.higher, groups)
        lo = _members(s.lower, groups)
        if not hi:
            hi = [g for g in groups if g not in lo]
        if not lo:
            lo = [g for g in groups if g not in hi]
        rh, rl = _rate_of(split, hi), _rate_of(split, lo)
        if rh is None or rl is None or not rh > rl:
            return False
    return True


# -- outcome fitting ----------------------------------------------------------------------

#: Weight of a candidate's realism cost against the outcome-score penalty: large enough that
#: questions move only as far as the scores need, small next to missing a published score.
COST_WEIGHT = 5.0


def outcome_score(
    inst: Instrument, outcome: str, chosen: dict[str, tuple[int, int]]
) -> float | None:
    """Outcome score from (above, relevant) per question, by the instrument's method."""
    qs = [q.id for q in inst.questions_for_outcome(outcome) if q.id in chosen]
    vals = {qid: pct(*chosen[qid]) for qid in qs if chosen[qid][1] > 0}
    if not vals:
        return None
    if inst.outcome_method == "criterion_mean":
        by_crit: dict[str, list[float]] = {}
        for qid, v in vals.items():
            by_crit.setdefault(inst.questions[qid].criterion, []).append(v)
        return float(np.mean([np.mean(v) for v in by_crit.values()]))
    return float(np.mean(list(vals.values())))


def fit_outcomes(
    inst: Instrument,
    candidates: dict[str, list[Solution]],
    targets: dict[str, float],
    tolerance: float = 0.3,
    max_rounds: int = 60,
) -> tuple[dict[str, int], dict[str, float]]:
    """Choose one candidate per question so each outcome score rounds to its target.

    Coordinate descent: for each question in turn take the candidate that most reduces
    the squared excess of each outcome's distance from its target beyond ``tolerance``
    (kept below 0.5 so the score rounds the same way under either rounding rule), plus a
    small penalty for straying from the candidate ranked best by the profile. Scores are
    updated incrementally (sum and count of question percentages per outcome).

    Parameters
    ----------
    candidates
        Question id -> solutions, best first (a single candidate pins the question).
    targets
        Outcome id -> published score.

    Returns
    -------
    choice, scores
        Question id -> index of the chosen candidate; outcome id -> resulting score.
    """
    if inst.outcome_method != "question_mean":
        return _fit_outcomes_slow(inst, candidates, targets, tolerance, max_rounds)
    choice = dict.fromkeys(candidates, 0)
    outs = {q: [o for o in inst.questions[q].outcomes if o in targets] for q in candidates}
    total = dict.fromkeys(targets, 0.0)
    count = dict.fromkeys(targets, 0)

    def contrib(sol: Solution) -> tuple[float, int]:
        return (pct(sol.above, sol.relevant), 1) if sol.relevant else (0.0, 0)

    for q, c in candidates.items():
        v, k = contrib(c[0])
        for o in outs[q]:
            total[o] += v
            count[o] += k

    def penalty(o: str, tot: float, cnt: int) -> float:
        if not cnt:
            return 0.0
        d = tot / cnt - targets[o]
        excess = max(0.0, abs(d) - tolerance)
        return 1000 * excess**2 + 0.001 * d * d

    movable = [q for q, c in candidates.items() if len(c) > 1 and outs[q]]
    for _ in range(max_rounds):
        improved = False
        for q in movable:
            cur = candidates[q][choice[q]]
            v0, k0 = contrib(cur)
            base = {o: (total[o] - v0, count[o] - k0) for o in outs[q]}
            best_i, best_v = choice[q], None
            for i, c in enumerate(candidates[q]):
                v, k = contrib(c)
                val = sum(penalty(o, t + v, n + k) for o, (t, n) in base.items())
                val += COST_WEIGHT * c.cost
                if best_v is None or val < best_v - 1e-12:
                    best_i, best_v = i, val
            if best_i != choice[q]:
                v, k = contrib(candidates[q][best_i])
                for o, (t, n) in base.items():
                    total[o], count[o] = t + v, n + k
                choice[q] = best_i
                improved = True
        if not improved:
            break
    scores = {o: (total[o] / count[o] if count[o] else None) for o in targets}
    return choice, scores


def _fit_outcomes_slow(inst, candidates, targets, tolerance, max_rounds):
    """Coordinate descent recomputing scores in full (any outcome method)."""
    choice = dict.fromkeys(candidates, 0)

    def pairs() -> dict[str, tuple[int, int]]:
        return {q: (candidates[q][i].above, candidates[q][i].relevant) for q, i in choice.items()}

    def objective() -> float:
        p = pairs()
        val = 0.0
        for o, t in targets.items():
            s = outcome_score(inst, o, p)
            if s is not None:
                val += 1000 * max(0.0, abs(s - t) - tolerance) ** 2 + 0.001 * (s - t) ** 2
        return val + COST_WEIGHT * sum(candidates[q][i].cost for q, i in choice.items())

    current = objective()
    for _ in range(max_rounds):
        improved = False
        for q in [q for q, c in candidates.items() if len(c) > 1]:
            best_i, best_v, old = choice[q], current, choice[q]
            for i in range(len(candidates[q])):
                choice[q] = i
                v = objective()
                if v < best_v - 1e-12:
                    best_i, best_v = i, v
            choice[q] = best_i
            if best_i != old:
                current, improved = best_v, True
        if not improved:
            break
    p = pairs()
    return choice, {o: outcome_score(inst, o, p) for o in targets}


# -- assignment -------------------------------------------------------------------------


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
    above_codes = [c for c in aset.code_values if c in aset.codes_scoring(ABOVE)] or [
        aset.code_values[0]
    ]
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
            hi = _members(s.higher, gs) or [g for g in gs if g not in _members(s.lower, gs)]
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
    for i in below[pos:]:  # any remainder (should not happen) takes the first below code
        out[i] = below_codes[0]
    return pd.Series(out, index=cases.index, name=qid, dtype=object)


def applies_mask(cases: Any, q: Question) -> np.ndarray:
    """Boolean array: the question's skip rules allow it for this case.

    ``cases`` is a DataFrame or any mapping of column -> array of values.
    """
    first = next(iter(cases.values())) if isinstance(cases, dict) else cases.index

    def member(col: str, allowed: tuple[str, ...]) -> np.ndarray:
        vals = np.asarray(cases[col], dtype=object)
        return np.isin(vals, np.array(allowed, dtype=object))

    return q.rule_mask(member, len(first))


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


# -- the whole calibration -------------------------------------------------------------


@dataclass
class Calibration:
    """What calibration decided: counts per question, conflicts found, expected scores."""

    solutions: dict[str, Solution] = field(default_factory=dict)
    inconsistencies: list[Inconsistency] = field(default_factory=list)
    scores: dict[str, float | None] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)

    def inconsistent_figures(self) -> dict[str, str]:
        """Dropped figure id -> reason (the figures calibration proved cannot hold)."""
        return {fid: inc.reason for inc in self.inconsistencies for fid in inc.dropped}


QUESTION_KINDS = ("question", "factor", "breakdown", "comparison", "direction")


def load_statements(prof: dict[str, Any]) -> list[Statement]:
    """Statements of a profile: its ``calibrate_to`` file plus its exact ``targets``."""
    import yaml

    from analysis import config

    out: list[Statement] = []
    ref = prof.get("calibrate_to")
    if ref:
        from pathlib import Path

        path = Path(ref)
        if not path.is_absolute():
            cands = [config.PUBLISHED_DIR.parent / ref, config.PUBLISHED_DIR / Path(ref).name]
            path = next((c for c in cands if c.exists()), cands[0])
        pub = yaml.safe_load(path.read_text(encoding="utf-8"))
        out += statements_from_published(pub)
    out += statements_from_targets(prof.get("targets"))
    return out


def _gate_codes(inst: Instrument, q: Question) -> dict[str, tuple[str, ...]]:
    return {c: v for c, v in q.applies_when.items() if c in inst.questions}


def _count_codes(sol: Solution, codes: Iterable[str]) -> int:
    return sum(sol.counts.get(c, 0) for c in codes)


def calibrated_answers(
    prof: dict[str, Any],
    inst: Instrument,
    details: pd.DataFrame,
    quality: np.ndarray,
    rng: np.random.Generator,
    statements: list[Statement] | None = None,
) -> tuple[pd.DataFrame, Calibration]:
    """Answer every question so the profile's published figures hold exactly.

    Parameters
    ----------
    prof
        A loaded profile (see :mod:`analysis.synthetic.generate`).
    inst
        The instrument.
    details
        Case-detail columns (exact mixes already drawn).
    quality
        Latent quality per case.
    rng
        Random generator (the only source of randomness, for determinism).
    statements
        Overrides the profile's statements (tests).

    Returns
    -------
    cases, calibration
    """
    from analysis.synthetic.generate import question_rates

    cal = Calibration()
    sts = load_statements(prof) if statements is None else statements
    for k, s in enumerate(sts):
        if s.verbal and not known_phrase(s.verbal):
            cal.warnings.append(f"{s.fid}: unknown quantifier {s.verbal!r}, not used")
            sts[k] = replace(s, verbal=None)
    cal.statements = sts
    n = len(details)
    by_measure: dict[str, list[Statement]] = {}
    for s in sts:
        if s.kind in QUESTION_KINDS and s.measure in inst.questions:
            if s.group_var and s.group_var not in details.columns:
                cal.warnings.append(f"{s.fid}: group variable {s.group_var!r} is not a column")
                continue
            by_measure.setdefault(s.measure, []).append(s)
        elif s.kind == "outcome_score":
            oid = s.measure.removeprefix("score_")
            if oid in inst.outcomes and s.percent is not None:
                cal.targets[oid] = float(s.percent)
        elif s.kind in QUESTION_KINDS:
            cal.warnings.append(f"{s.fid}: measure {s.measure!r} is not a question")
    has_dependents = {c for q in inst.questions.values() for c in _gate_codes(inst, q)}

    # Planning pass: solve every question in column order with estimated pools.
    planned: dict[str, Solution] = {}
    cands: dict[str, list[Solution]] = {}
    specs: dict[str, QuestionSpec] = {}
    for q in inst.questions.values():
        aset = inst.answer_set(q)
        if aset is None or not aset.codes_scoring(ABOVE) or not aset.na_code:
            continue  # counts and descriptive answers are drawn, not solved
        spec = _spec(prof, inst, q, details, planned, question_rates(prof, inst, q))
        specs[q.id] = spec
        stmts = by_measure.get(q.id, [])
        if stmts:
            sols, incs = solve_question(inst, spec, stmts)
            cal.inconsistencies += incs
            if not sols:
                cal.warnings.append(f"{q.id}: no solution even after dropping statements")
                sols = _free_candidates(inst, q, spec)
        else:
            sols = _free_candidates(inst, q, spec)
        if q.id in has_dependents or not q.scored or not cal.targets:
            sols = sols[:1]
        cands[q.id] = sols
        planned[q.id] = sols[0]

    free = [
        q for q in cands if not by_measure.get(q) and len(cands[q]) > 1 and inst.questions[q].scored
    ]
    if cal.targets and free:
        rates = _free_rates(inst, cands, free, cal.targets)
        for q in free:
            spec = specs[q]
            want = np.mean([rates[o] for o in inst.questions[q].outcomes if o in rates] or [0.7])
            # A little spread so free questions are not all identical.
            want = float(np.clip(want + rng.normal(0, 0.04), 0.03, 0.98))
            specs[q] = replace(spec, prefer_rate=want)
            cands[q] = _free_candidates(inst, inst.questions[q], specs[q])
    choice, scores = fit_outcomes(inst, cands, cal.targets) if cal.targets else ({}, {})
    for qid, i in choice.items():
        planned[qid] = cands[qid][i]
    cal.scores = scores

    # Gates must leave enough cases in each group for their dependents' splits.
    need: dict[str, dict[str, dict[str, int]]] = {}
    for q in inst.questions.values():
        sol = planned.get(q.id)
        if sol is None:
            continue
        for gate in _gate_codes(inst, q):
            for var, split in sol.groups.items():
                cur = need.setdefault(gate, {}).setdefault(var, {})
                for g, (n_g, _) in split.items():
                    cur[g] = max(cur.get(g, 0), n_g)

    # Assignment pass, in column order, on the real pools.
    cases = details.copy()
    directions = {
        m: [s for s in ss if s.kind == "direction" and s.category is not None]
        for m, ss in by_measure.items()
    }
    for q in inst.questions.values():
        aset = inst.answer_set(q)
        if q.id not in planned:
            cases = _add_column(cases, q.id, _draw_unsolved(cases, inst, q, rng))
            continue
        mask = applies_mask(cases, q)
        sol = planned[q.id]
        sol = _fit_to_pool(inst, q, sol, specs[q.id], cases, mask, by_measure.get(q.id, []), cal)
        if q.id in need:
            sol = _split_for_needs(inst, q, sol, cases, mask, need[q.id], by_measure.get(q.id, []))
        planned[q.id] = sol
        # Unscored items (was X identified? was the case MAPPA-eligible?) describe the
        # case, not the quality of work, so they are not tied to the latent quality.
        qual = quality if q.scored else np.zeros_like(quality)
        col = assign_question(cases, inst, q.id, sol, qual, rng, mask, directions.get(q.id))
        if q.id in need:
            col = _meet_gate_needs(col, cases, mask, inst.questions, q, need[q.id], sol, inst, rng)
        cases = _add_column(cases, q.id, col)
    cal.solutions = planned
    if cal.targets:
        cases = _repair_scores(inst, cases, cal, planned, specs, free, has_dependents, quality, rng)
    del aset, n
    return cases, cal


def _realised(inst: Instrument, cases: pd.DataFrame, qid: str) -> tuple[int, int]:
    """(above, relevant) of one question in the assigned cases."""
    aset = inst.answer_set(inst.questions[qid])
    vals = cases[qid].to_numpy(dtype=object)
    above = int(np.isin(vals, list(aset.codes_scoring(ABOVE))).sum())
    return above, int((vals != aset.na_code).sum())


def _repair_scores(
    inst: Instrument,
    cases: pd.DataFrame,
    cal: Calibration,
    planned: dict[str, Solution],
    specs: dict[str, QuestionSpec],
    free: list[str],
    gates: set[str],
    quality: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Re-fit free questions if re-solving a question on its real pool moved a score.

    Free questions (no published figure, not a gate) are re-answered on their existing
    pools, so nothing downstream of them changes.
    """
    real = {q: _realised(inst, cases, q) for q in planned}
    scores = {o: outcome_score(inst, o, real) for o in cal.targets}
    cal.scores = scores
    # Within 0.45 of the target: the score rounds to it under either rounding rule.
    if all(scores[o] is None or abs(scores[o] - t) < 0.45 for o, t in cal.targets.items()):
        return cases
    cands: dict[str, list[Solution]] = {}
    for q, (a, n_rel) in real.items():
        sol = Solution(dict(planned[q].counts), a, n_rel)
        if q in free and q not in gates and n_rel:
            spec = replace(specs[q], prefer_relevant=n_rel, prefer_rate=a / n_rel, pool=n_rel)
            cands[q] = _free_candidates(inst, inst.questions[q], spec)
        else:
            cands[q] = [sol]
    choice, scores = fit_outcomes(inst, cands, cal.targets)
    for q, i in choice.items():
        new = cands[q][i]
        if len(cands[q]) > 1 and (new.above, new.relevant) != real[q]:
            mask = (cases[q] != inst.answer_set(inst.questions[q]).na_code).to_numpy()
            cases[q] = assign_question(cases, inst, q, new, quality, rng, mask)
            planned[q] = new
            cal.warnings.append(f"{q}: re-fitted to {new.above}/{new.relevant} for the scores")
    cal.scores = scores
    return cases


def _add_column(cases: pd.DataFrame, name: str, values: Any) -> pd.DataFrame:
    """Append a column; defragment now and then (hundreds of columns are added one by one)."""
    cases[name] = values
    if cases.shape[1] % 40 == 0:
        cases = cases.copy()
    return cases


def _spec(
    prof: dict[str, Any],
    inst: Instrument,
    q: Question,
    details: pd.DataFrame,
    planned: dict[str, Solution],
    rates: dict[str, float],
) -> QuestionSpec:
    """Pool sizes (exact for case-detail rules, estimated for question gates) and preferences."""
    n = len(details)

    def member(col: str, allowed: tuple[str, ...]) -> np.ndarray:
        if col in inst.questions:
            return np.ones(n, dtype=bool)  # a question gate: its share is estimated below
        return details[col].astype(str).isin(allowed).to_numpy()

    # Exact over case details (an any_of rule too); question gates are not known yet.
    mask = q.rule_mask(member, n)
    frac = 1.0
    for col, allowed in _gate_codes(inst, q).items():
        gsol = planned.get(col)
        if gsol is None:
            continue
        k = _count_codes(gsol, allowed)
        frac *= k / n if n else 0
    base = int(mask.sum())
    n_gates = len(_gate_codes(inst, q))
    if n_gates == 1:
        # One gate: its planned count is the pool (intersected with the detail rule).
        gate = next(iter(_gate_codes(inst, q)))
        k = _count_codes(planned[gate], _gate_codes(inst, q)[gate]) if gate in planned else base
        pool = min(base, k)
    else:
        pool = int(round(base * frac)) if n_gates else base
    group_pools: dict[str, dict[str, int]] = {}
    for var in ("om_grade", "gender", "ldu", "rosh_start", "case_type", *details.columns):
        if var not in details.columns or var in group_pools:
            continue
        if inst.case_details.get(var) is None or inst.case_details[var].type == "identifier":
            continue
        vals = details[var].astype(str)[mask]
        counts = vals.value_counts()
        shares = {str(g): int(c) for g, c in counts.items()}
        if base and pool < base:
            scaled = largest_remainder(pool, list(shares.values()))
            # Estimated pools get one case of slack each way: assignment repairs the gate.
            shares = {
                g: min(shares[g], s + max(1, s // 5)) for g, s in zip(shares, scaled, strict=True)
            }
        group_pools[var] = shares
    effects = {
        var: {str(g): 20.0 * float(v) for g, v in eff.items()}
        for var, eff in (prof.get("effects") or {}).items()
    }
    na = rates["na"]
    rate = rates["above"] if q.scored else rates["prevalence"]
    return QuestionSpec(
        qid=q.id,
        pool=pool,
        prefer_relevant=int(round(pool * (1 - na))),
        prefer_rate=float(rate),
        group_pools=group_pools,
        group_effects=effects,
        below_weights=dict(rates.get("below") or {}),
    )


def _free_rates(
    inst: Instrument, cands: dict[str, list[Solution]], free: list[str], targets: dict[str, float]
) -> dict[str, float]:
    """Rate each outcome's free questions need so the outcome's mean lands on its target."""
    out = {}
    for o, t in targets.items():
        qs = [q.id for q in inst.questions_for_outcome(o) if q.id in cands]
        fixed = [cands[q][0].percent for q in qs if q not in free and cands[q][0].relevant]
        n_free = sum(1 for q in qs if q in free)
        if not n_free:
            continue
        need = (t * (len(fixed) + n_free) - sum(fixed)) / n_free
        out[o] = float(np.clip(need / 100, 0.03, 0.98))
    return out


def _free_candidates(inst: Instrument, q: Question, spec: QuestionSpec) -> list[Solution]:
    """Candidates of an unconstrained question: its preferred base, any number above."""
    aset = inst.answer_set(q)
    codes = [c for c in aset.code_values if c != aset.na_code]
    above = [c for c in codes if c in aset.codes_scoring(ABOVE)]
    below = [c for c in codes if c not in above]
    n_rel = max(spec.prefer_relevant, 1 if spec.pool else 0)
    out = []
    for a in range(n_rel + 1):
        counts = dict.fromkeys(codes, 0)
        counts[above[0]] = a
        for c, k in zip(below, _default_split(n_rel - a, below, spec.below_weights), strict=True):
            counts[c] = k
        cost = abs(a - spec.prefer_rate * n_rel) / max(n_rel, 1) * 2
        out.append(Solution(counts=counts, above=a, relevant=n_rel, cost=cost))
    out.sort(key=lambda s: s.cost)
    return out


def _fit_to_pool(
    inst: Instrument,
    q: Question,
    sol: Solution,
    spec: QuestionSpec,
    cases: pd.DataFrame,
    mask: np.ndarray,
    stmts: list[Statement],
    cal: Calibration,
) -> Solution:
    """Re-solve a question when the real pool cannot hold its planned counts."""
    pool = int(mask.sum())
    real_groups = {var: _group_counts(cases, mask, var) for var in sol.groups}
    ok = sol.relevant <= pool and all(
        all(n_g <= real_groups[var].get(g, 0) for g, (n_g, _) in split.items())
        for var, split in sol.groups.items()
    )
    if ok:
        return sol
    # Try new splits for the same totals first, then a new solution near the plan.
    grouped = [s for s in stmts if s.group_var]
    if sol.relevant <= pool:
        splits = {}
        for var in sol.groups:
            sp = solve_split(
                sol.above,
                sol.relevant,
                real_groups[var],
                [s for s in grouped if s.group_var == var],
                spec.group_effects.get(var, {}),
            )
            if sp is None:
                break
            splits[var] = sp
        else:
            return Solution(sol.counts, sol.above, sol.relevant, sol.cost, splits)
    new_spec = QuestionSpec(
        qid=spec.qid,
        pool=pool,
        prefer_relevant=min(sol.relevant, pool),
        prefer_rate=sol.above / sol.relevant if sol.relevant else spec.prefer_rate,
        group_pools={var: _group_counts(cases, mask, var) for var in spec.group_pools},
        group_effects=spec.group_effects,
        below_weights=spec.below_weights,
    )
    sols, incs = solve_question(inst, new_spec, stmts) if stmts else ([], [])
    if not sols:
        sols = _free_candidates(inst, q, new_spec)
    cal.warnings.append(
        f"{q.id}: planned {sol.above}/{sol.relevant} did not fit the pool of {pool}; "
        f"re-solved to {sols[0].above}/{sols[0].relevant}"
    )
    known = [x.dropped for x in cal.inconsistencies]
    cal.inconsistencies += [i for i in incs if i.dropped not in known]
    return sols[0]


@dataclass(frozen=True)
class _AtLeast(Statement):
    """Internal: a group must keep at least ``minimum`` cases above the line.

    A gate's 'Yes' cases open its dependents, so a dependent's group base is a floor for
    the gate's 'Yes' count in that group.
    """

    minimum: int = 0

    def accepts(self, n: int, d: int) -> bool:  # noqa: D102
        return n >= self.minimum


def _split_for_needs(
    inst: Instrument,
    q: Question,
    sol: Solution,
    cases: pd.DataFrame,
    mask: np.ndarray,
    needs: dict[str, dict[str, int]],
    stmts: list[Statement],
) -> Solution:
    """Choose the gate's own group splits so its dependents' group bases fit inside them."""
    aset = inst.answer_set(q)
    opens = [set(d.applies_when[q.id]) for d in inst.questions.values() if q.id in d.applies_when]
    above = set(aset.codes_scoring(ABOVE))
    if not opens or any(o != above for o in opens):
        return sol  # the gate opens on other codes: left to _meet_gate_needs
    groups = dict(sol.groups)
    for var, req in needs.items():
        own = [
            s
            for s in stmts
            if s.group_var == var and not (s.kind == "direction" and s.category is not None)
        ]
        floor = [
            _AtLeast(
                fid=f"need:{g}", kind="comparison", measure=q.id, group_var=var, group=g, minimum=k
            )
            for g, k in req.items()
        ]
        split = solve_split(sol.above, sol.relevant, _group_counts(cases, mask, var), own + floor)
        if split is not None:
            groups[var] = split
    return Solution(sol.counts, sol.above, sol.relevant, sol.cost, groups)


def _group_counts(cases: pd.DataFrame, mask: np.ndarray, var: str) -> dict[str, int]:
    """Cases per group of ``var`` among the masked cases."""
    return {str(g): int(c) for g, c in cases.loc[mask, var].astype(str).value_counts().items()}


def _draw_unsolved(
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


def _meet_gate_needs(
    col: pd.Series,
    cases: pd.DataFrame,
    mask: np.ndarray,
    questions: dict[str, Question],
    gate: Question,
    needs: dict[str, dict[str, int]],
    sol: Solution,
    inst: Instrument,
    rng: np.random.Generator,
) -> pd.Series:
    """Swap whole answers between cases so each group keeps enough cases open downstream.

    A dependent question split by group (e.g. 7 relevant women) needs at least that many
    cases of the group whose gate answer lets the question apply. Swapping the gate's
    answers between two cases keeps the gate's own totals exact; partners are chosen with
    the same values on the gate's own split variables so its splits stay exact too.
    """
    # Which gate codes open the dependents (intersection over dependents that need groups).
    opens: set[str] | None = None
    for q in questions.values():
        if gate.id in q.applies_when:
            allowed = set(q.applies_when[gate.id])
            opens = allowed if opens is None else opens & allowed
    if not opens:
        return col
    vals = col.to_numpy(dtype=object).copy()
    keep_vars = list(sol.groups)
    for var, req in needs.items():
        g_of = cases[var].astype(str).to_numpy()
        for _ in range(len(vals)):
            is_open = np.isin(vals, list(opens))
            have = {g: int((is_open & (g_of == g)).sum()) for g in req}
            short = [g for g in req if have[g] < req[g]]
            if not short:
                break
            g = short[0]
            takers = [i for i in np.flatnonzero(mask & ~is_open & (g_of == g))]
            givers = [
                j
                for j in np.flatnonzero(mask & is_open & (g_of != g))
                if have.get(g_of[j], 0) > req.get(g_of[j], 0)
            ]
            pair = None
            for i in takers:
                for j in givers:
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
