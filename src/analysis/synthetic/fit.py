"""Choose one solution per question so that every outcome score rounds as published.

An outcome score is the mean, over its relevant questions, of the per-question percent
above the line (or the mean of criterion means, by the instrument's method).
:func:`fit_outcomes` picks among each question's candidates (from
:mod:`analysis.synthetic.solve`) by coordinate descent; :func:`free_rates` gives the rate
the unconstrained questions of each outcome need to land on its target.
"""

from __future__ import annotations

import numpy as np

from analysis.instrument import Instrument
from analysis.synthetic.solve import Solution
from analysis.synthetic.statements import pct

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


def free_rates(
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
