"""Calibration: answer a profile's cases so that its published figures hold exactly.

Calibration treats each published figure as a constraint on small integers
(:mod:`analysis.synthetic.statements`) and *searches* for counts that satisfy all of
them, instead of hand-tuning rates:

1. :func:`load_statements` reads the profile's ``calibrate_to`` file and its exact
   ``targets``.
2. :func:`analysis.synthetic.solve.solve_question` enumerates the counts of each question
   that satisfy its statements, ordered by how close they come to the share the question
   aims at; statements that cannot all hold are dropped, least specific first, and recorded
   as inconsistencies. A question with a verbal figure aims at a count drawn (seeded,
   uniformly) among those its band allows at its base (the published "most" holds anywhere
   from 75% to 90%, so the data should not all say 77%); one without aims at the profile's
   rate.
3. :func:`analysis.synthetic.fit.fit_outcomes` chooses one solution per question so that
   every outcome score rounds to the published score.
4. :func:`analysis.synthetic.assign.assign_question` picks which cases are relevant /
   above the line / in each below-the-line category to hit the exact counts and group
   splits, among the cases the skip rules allow.

:func:`calibrated_answers` runs the whole thing for a profile, in instrument column
order so that gate questions are settled before the questions they open: a gate's
planned count is the pool of its dependents (whose preferred base is "every case the
gate allows"), gates are pinned to their best solution, free questions of an outcome
start at the rate the outcome needs, and a gate keeps enough cases in each group for
its dependents' group splits (exactly as many where a dependent answers every case the
gate opens). A direction on one below-the-line category by group
(e.g. fewer "No review" answers in one LDU) is honoured when placing codes on cases,
not by the solver. A contrast between two questions ("less good at taking action" than
at identifying the change) becomes a bound on one or both questions' shares, so that it
holds whatever counts the solver picks. Case-detail mixes come from the profile (exact
counts), not from the published ``profile`` figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.instrument import ABOVE, Instrument, Question
from analysis.synthetic.assign import (
    applies_mask,
    assign_question,
    draw_unsolved,
    meet_gate_needs,
)
from analysis.synthetic.bounds import (
    Floor,
    RateBound,
    contrast_bounds,
    group_counts,
    rule_floors,
    split_for_needs,
    split_with_floors,
)
from analysis.synthetic.constraints import (
    answer_order,
    constrain_column,
    figure_rules,
    resample,
    skip_banned,
)
from analysis.synthetic.fit import fit_outcomes, free_rates, outcome_score
from analysis.synthetic.profile import published_path, question_rates
from analysis.synthetic.solve import (
    QuestionSpec,
    Solution,
    draw_count,
    free_candidates,
    largest_remainder,
    solve_question,
)
from analysis.synthetic.statements import (
    Inconsistency,
    Statement,
    known_phrase,
    rate_band,
    read_published,
    statements_from_targets,
)


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
    path = published_path(prof)
    out = read_published(path) if path else []
    return out + statements_from_targets(prof.get("targets"))


def _gate_codes(inst: Instrument, q: Question) -> dict[str, tuple[str, ...]]:
    return {c: v for c, v in q.applies_when.items() if c in inst.questions}


def _named_groups(
    inst: Instrument, q: Question, keep: Iterable[str], by_measure: dict[str, list[Statement]]
) -> dict[str, set[str]]:
    """Per column of ``keep``: the groups named by figures on ``q`` or on a question it gates."""
    measures = {q.id} | {d.id for d in inst.questions.values() if q.id in _gate_codes(inst, d)}
    named: dict[str, set[str]] = {v: set() for v in keep}
    for m in measures:
        for s in by_measure.get(m, []):
            if s.group_var in named:
                for g in (s.group, s.higher, s.lower):
                    gs = g if isinstance(g, list | tuple | set) else [g] if g else []
                    named[s.group_var] |= {str(x) for x in gs}
    return named


def _count_codes(sol: Solution, codes: Iterable[str]) -> int:
    return sum(sol.counts.get(c, 0) for c in codes)


def calibrated_answers(
    prof: dict[str, Any],
    inst: Instrument,
    details: pd.DataFrame,
    quality: np.ndarray,
    rng: np.random.Generator,
    statements: list[Statement] | None = None,
    rules: tuple = (),
    propensity: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, Calibration]:
    """Answer every question so the profile's published figures hold exactly.

    Parameters
    ----------
    prof
        A loaded profile (see :mod:`analysis.synthetic.profile`).
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
    rules
        Consistency rules every case must satisfy (:mod:`analysis.synthetic.constraints`):
        codes are swapped between cases of the same groups, so counts and splits stay exact.
    propensity
        Question id -> per-case logit shift from the case details: which cases an unscored
        fact question (MAPPA eligible? resident in approved premises?) says "Yes" for.

    Returns
    -------
    cases, calibration
    """
    cal = Calibration()
    sts = load_statements(prof) if statements is None else statements
    for k, s in enumerate(sts):
        if s.verbal and s.kind != "contrast" and not known_phrase(s.verbal):
            cal.warnings.append(f"{s.fid}: unknown quantifier {s.verbal!r}, not used")
            sts[k] = replace(s, verbal=None)
    cal.statements = sts
    by_measure: dict[str, list[Statement]] = {}
    contrasts = []
    for s in sts:
        if s.kind == "contrast":
            if s.higher in inst.questions and s.lower in inst.questions:
                contrasts.append(s)
            else:
                cal.warnings.append(f"{s.fid}: a contrast needs two question ids")
        elif s.kind in QUESTION_KINDS and s.measure in inst.questions:
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
    for c in contrasts:
        for bound in contrast_bounds(prof, inst, c, by_measure):
            by_measure.setdefault(bound.measure, []).append(bound)
    rules = rules and rules + figure_rules(inst, by_measure, details)  # all/none of a group
    has_dependents = {c for q in inst.questions.values() for c in _gate_codes(inst, q)}
    # Gates first, and a rule's `then` column after the columns its conditions read.
    fixed = {m: len(ss) for m, ss in by_measure.items() if ss}
    # A propensity that reads answers (generate.propensities) comes after what it reads.
    reads = {q: p.reads for q, p in (propensity or {}).items() if hasattr(p, "reads")}
    ordered = [inst.questions[qid] for qid in answer_order(inst, rules, fixed, reads)]

    # Planning pass: solve every question in column order with estimated pools.
    planned: dict[str, Solution] = {}
    cands: dict[str, list[Solution]] = {}
    specs: dict[str, QuestionSpec] = {}
    for q in ordered:
        aset = inst.answer_set(q)
        if aset is None or not aset.codes_scoring(ABOVE) or not aset.na_code:
            continue  # counts and descriptive answers are drawn, not solved
        rates = question_rates(prof, inst, q)
        spec = _spec(prof, inst, q, details, planned, rates)
        stmts = by_measure.get(q.id, [])
        spec = _aim(spec, stmts, rng)
        specs[q.id] = spec
        if stmts:
            sols, incs = solve_question(inst, spec, stmts)
            if incs and len(_gate_codes(inst, q)) > 1:
                # Several gates: the pool was estimated as if they were independent. The
                # assignment can nest them (a gate keeps cases open for its dependents), so
                # try the largest pool the gates allow before calling a figure inconsistent.
                nest = _aim(_spec(prof, inst, q, details, planned, rates, nested=True), stmts, rng)
                sols2, incs2 = solve_question(inst, nest, stmts)
                if len(incs2) < len(incs):
                    spec, sols, incs = nest, sols2, incs2
                    specs[q.id] = spec
            cal.inconsistencies += incs
            if not sols:
                cal.warnings.append(f"{q.id}: no solution even after dropping statements")
                sols = free_candidates(inst, q, spec)
        else:
            sols = free_candidates(inst, q, spec)
        if q.id in has_dependents or not q.scored or not cal.targets:
            sols = sols[:1]
        cands[q.id] = sols
        planned[q.id] = sols[0]

    free = [
        q for q in cands if not by_measure.get(q) and len(cands[q]) > 1 and inst.questions[q].scored
    ]
    if cal.targets and free:
        rates = free_rates(inst, cands, free, cal.targets)
        for q in free:
            spec = specs[q]
            want = np.mean([rates[o] for o in inst.questions[q].outcomes if o in rates] or [0.7])
            # A little spread so free questions are not all identical.
            want = float(np.clip(want + rng.normal(0, 0.04), 0.03, 0.98))
            specs[q] = replace(spec, prefer_rate=want)
            cands[q] = free_candidates(inst, inst.questions[q], specs[q])
    choice, scores = fit_outcomes(inst, cands, cal.targets) if cal.targets else ({}, {})
    for qid, i in choice.items():
        planned[qid] = cands[qid][i]
    cal.scores = scores

    # Gates must leave enough cases in each group for their dependents' splits.
    need: dict[str, dict[str, dict[str, int]]] = {}
    exact: dict[str, dict[str, dict[str, int]]] = {}
    for q in inst.questions.values():
        sol = planned.get(q.id)
        if sol is None:
            continue
        gates = _gate_codes(inst, q)
        for gate in gates:
            # A dependent answered in every case its only gate opens (27 of the 42 child-
            # protection cases) needs the gate's group counts exactly, not at least.
            full = (
                len(q.applies_when) == 1
                and not q.applies_any
                and not q.applies_dates
                and gate in planned
                and sol.relevant == _count_codes(planned[gate], gates[gate])
            )
            for var, split in sol.groups.items():
                cur = need.setdefault(gate, {}).setdefault(var, {})
                ex = exact.setdefault(gate, {}).setdefault(var, {})
                for g, (n_g, _) in split.items():
                    cur[g] = max(cur.get(g, 0), n_g)
                    if full:
                        ex[g] = min(ex.get(g, n_g), n_g)

    # Assignment pass, in column order, on the real pools.
    cases = details.copy()
    directions = {
        m: [s for s in ss if s.kind == "direction" and s.category is not None]
        for m, ss in by_measure.items()
    }
    for q in ordered:
        if q.id not in planned:
            col = draw_unsolved(cases, inst, q, rng)
            aset = inst.answer_set(q)
            if rules and aset is not None:
                banned = skip_banned(inst, q, cases, applies_mask(cases, q), rules)
                classes = {c.code: c.scores or "" for c in aset.codes}
                col = pd.Series(
                    resample(col.to_numpy(dtype=object), aset.code_values, banned, classes, rng),
                    index=col.index,
                    name=q.id,
                    dtype=object,
                )
            cases = _add_column(cases, q.id, col)
            continue
        skip = applies_mask(cases, q)
        mask = skip
        if rules:
            # Cases a rule forces to "not applicable" leave the pool: the counts are solved
            # over the cases the rules leave free.
            aset = inst.answer_set(q)
            answer = np.array([c != aset.na_code for c in aset.code_values])
            banned = skip_banned(inst, q, cases, skip, rules)
            mask = skip & ~banned[:, answer].all(axis=1)
            above = np.array([c in aset.codes_scoring(ABOVE) for c in aset.code_values])
            specs[q.id] = replace(
                specs[q.id],
                min_relevant=int((mask & banned[:, ~answer].all(axis=1)).sum()),
                max_above=int((mask & ~banned[:, above].all(axis=1)).sum()),
                min_above=int((mask & banned[:, ~above].all(axis=1)).sum()),
                min_below=int((mask & banned[:, ~(answer & ~above)].all(axis=1)).sum()),
            )
            floors = rule_floors(q.id, cases, mask, banned, answer, above, planned[q.id].groups)
        else:
            floors = []
        sol = planned[q.id]
        stmts = by_measure.get(q.id, [])
        if rules and stmts:
            # Published figures come first: where the rules' bounds would drop a figure the
            # skip rule alone keeps, the counts keep the figure and the rule may be left unmet
            # in a few cases (recorded in the warnings).
            trial = Calibration()
            _fit_to_pool(inst, q, sol, specs[q.id], cases, mask, stmts, trial)
            loose = Calibration()
            plain = replace(specs[q.id], min_relevant=0, max_above=None, min_above=0, min_below=0)
            _fit_to_pool(inst, q, sol, plain, cases, skip, stmts, loose)
            if len(_dropped(trial)) > len(_dropped(loose)):
                specs[q.id], mask = plain, skip
                cal.warnings.append(f"{q.id}: published figures kept over a consistency rule")
        sol = _fit_to_pool(inst, q, sol, specs[q.id], cases, mask, stmts, cal, floors)
        if q.id in need:
            sol = split_for_needs(
                inst, q, sol, cases, mask, need[q.id], stmts, specs[q.id].max_above, exact.get(q.id)
            )
        planned[q.id] = sol
        # Unscored items (was X identified? was the case MAPPA-eligible?) describe the
        # case, not the quality of work, so they are not tied to the latent quality.
        qual = quality if q.scored else (propensity or {}).get(q.id, np.zeros_like(quality))
        qual = qual(cases) if callable(qual) else qual  # a shift that reads earlier answers
        col = assign_question(cases, inst, q.id, sol, qual, rng, mask, directions.get(q.id))
        if q.id in need:
            ban = None
            if rules and inst.answer_set(q) is not None:
                codes = list(inst.answer_set(q).code_values)
                ban = (codes, skip_banned(inst, q, cases, skip, rules))
            col = meet_gate_needs(
                col, cases, mask, inst.questions, q, need[q.id], sol, ban, np.asarray(qual)
            )
        if rules:
            keep = [*sol.groups, *need.get(q.id, {})]
            pinned = bool(by_measure.get(q.id))
            named = _named_groups(inst, q, keep, by_measure)
            col = constrain_column(
                inst, q, col, cases, skip, rules, keep, qual, rng, cal.warnings, pinned, named
            )
        cases = _add_column(cases, q.id, col)
    cal.solutions = planned
    if cal.targets:
        cases = _repair_scores(
            inst, cases, cal, planned, specs, free, has_dependents, quality, rng, rules
        )
    return cases, cal


def _dropped(cal: Calibration) -> set[str]:
    return {fid for inc in cal.inconsistencies for fid in inc.dropped}


def _aim(spec: QuestionSpec, stmts: list[Statement], rng: np.random.Generator) -> QuestionSpec:
    """The share a question's counts aim at, within what its figures allow.

    A verbal figure holds anywhere in its band, so the aim is a count drawn uniformly (seeded)
    among those its figures allow (``solve.draw_count``), not the profile's one rate, so that
    not every "most" lands alike. A contrast-only bound keeps the rate, moved inside it.
    """
    band = rate_band(stmts)
    if band is None or band[1] <= band[0]:
        return spec
    if rate_band([s for s in stmts if not isinstance(s, RateBound)]):
        return replace(spec, prefer_rate=draw_count(spec, stmts, band, rng))
    lo, hi = band
    margin = min(0.02, (hi - lo) / 4)
    return replace(spec, prefer_rate=float(np.clip(spec.prefer_rate, lo + margin, hi - margin)))


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
    rules: tuple = (),
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
            cands[q] = free_candidates(inst, inst.questions[q], spec)
        else:
            cands[q] = [sol]
    choice, scores = fit_outcomes(inst, cands, cal.targets)
    for q, i in choice.items():
        new = cands[q][i]
        if len(cands[q]) > 1 and (new.above, new.relevant) != real[q]:
            mask = (cases[q] != inst.answer_set(inst.questions[q]).na_code).to_numpy()
            col = assign_question(cases, inst, q, new, quality, rng, mask)
            if rules:
                qq = inst.questions[q]
                pool = applies_mask(cases, qq)
                col = constrain_column(
                    inst, qq, col, cases, pool, rules, [], quality, rng, cal.warnings
                )
            cases[q] = col
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
    nested: bool = False,
) -> QuestionSpec:
    """Pool sizes (exact for case-detail rules, estimated for question gates) and preferences.

    Several gates are taken as independent (the pool is the product of their shares), or
    with ``nested`` as nested (the smallest gate's count).
    """
    n = len(details)

    def member(col: str, allowed: tuple[str, ...]) -> np.ndarray:
        if col in inst.questions:
            return np.ones(n, dtype=bool)  # a question gate: its share is estimated below
        return details[col].astype(str).isin(allowed).to_numpy()

    # Exact over case details (an any_of rule too); question gates are not known yet.
    mask = q.rule_mask(member, n)
    if q.applies_dates:
        mask &= q.date_mask(lambda c: details[c].to_numpy("datetime64[D]"), n)
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
        if nested and n_gates:
            counts = [
                _count_codes(planned[g], v) for g, v in _gate_codes(inst, q).items() if g in planned
            ]
            pool = min([base, *counts])
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


def _fit_to_pool(
    inst: Instrument,
    q: Question,
    sol: Solution,
    spec: QuestionSpec,
    cases: pd.DataFrame,
    mask: np.ndarray,
    stmts: list[Statement],
    cal: Calibration,
    floors: list[Floor] = (),
) -> Solution:
    """Re-solve a question when the real pool cannot hold its planned counts.

    ``floors`` (:func:`rule_floors`) are the cases per group that the rules force above or
    below the line; a split that cannot hold them is re-split, where the figures allow.
    """
    pool = int(mask.sum())
    real_groups = {var: group_counts(cases, mask, var) for var in sol.groups}
    ok = spec.min_relevant <= sol.relevant <= pool
    ok = ok and (spec.max_above is None or sol.above <= spec.max_above)
    ok = ok and sol.above >= spec.min_above and sol.relevant - sol.above >= spec.min_below
    ok = ok and all(
        all(n_g <= real_groups[var].get(g, 0) for g, (n_g, _) in split.items())
        for var, split in sol.groups.items()
    )
    ok = ok and all(
        f.accepts(*sol.groups[f.group_var].get(f.group, (0, 0))[::-1])
        for f in floors
        if f.group_var in sol.groups
    )
    if ok:
        return sol

    def ok_bounds(s: Solution) -> bool:
        top = spec.max_above
        fits = spec.min_relevant <= s.relevant <= pool and s.above >= spec.min_above
        fits = fits and s.relevant - s.above >= spec.min_below
        return fits and (top is None or s.above <= top)

    # Try new splits for the same totals first, then a new solution near the plan.
    grouped = [s for s in stmts if s.group_var]
    if ok_bounds(sol):
        splits = {}
        for var in sol.groups:
            own = [s for s in grouped if s.group_var == var]
            args = (sol.above, sol.relevant, real_groups[var])
            eff = spec.group_effects.get(var, {})
            sp = split_with_floors(args, own, [f for f in floors if f.group_var == var], eff)
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
        group_pools={var: group_counts(cases, mask, var) for var in spec.group_pools},
        group_effects=spec.group_effects,
        below_weights=spec.below_weights,
        min_relevant=spec.min_relevant,
        max_above=spec.max_above,
        min_above=spec.min_above,
        min_below=spec.min_below,
    )
    sols, incs = solve_question(inst, new_spec, [*stmts, *floors]) if stmts else ([], [])
    incs = [i for i in incs if not all(f.startswith("rule:") for f in i.dropped)]
    if not sols:
        sols = free_candidates(inst, q, new_spec)
    cal.warnings.append(
        f"{q.id}: planned {sol.above}/{sol.relevant} did not fit the pool of {pool}; "
        f"re-solved to {sols[0].above}/{sols[0].relevant}"
    )
    known = [x.dropped for x in cal.inconsistencies]
    cal.inconsistencies += [i for i in incs if i.dropped not in known]
    new = sols[0]
    splits = dict(new.groups)
    for var in new.groups if floors else ():
        own = [s for s in grouped if s.group_var == var]
        args = (new.above, new.relevant, new_spec.group_pools[var])
        eff = spec.group_effects.get(var, {})
        mine = [f for f in floors if f.group_var == var]
        splits[var] = split_with_floors(args, own, mine, eff) or new.groups[var]
    return Solution(new.counts, new.above, new.relevant, new.cost, splits)
