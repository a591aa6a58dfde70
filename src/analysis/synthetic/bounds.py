"""Bounds calibration puts on the solver besides the published figures themselves.

Each is an internal :class:`~analysis.synthetic.statements.Statement` the solver treats like a
figure: one side of a contrast between two questions (:class:`RateBound`), the cases a gate
must keep open in a group for its dependents (:class:`AtLeast`), and the cases per group that
the consistency rules force above or below the line (:class:`Floor`). A published figure
always wins over a rule's floor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.instrument import ABOVE, Instrument, Question
from analysis.synthetic.profile import question_rates
from analysis.synthetic.solve import Solution, solve_split
from analysis.synthetic.statements import SPEC_DIRECTION, Statement, rate_band


@dataclass(frozen=True)
class RateBound(Statement):
    """Internal: one side of a contrast, as a bound on a question's share above the line.

    The share must be above ``over`` or below ``under`` (0-1); the figure id is the
    contrast's, so a bound the solver has to drop marks the published contrast.
    """

    over: float | None = None
    under: float | None = None

    @property
    def specificity(self) -> int:  # noqa: D102
        return SPEC_DIRECTION

    def accepts(self, n: int, d: int) -> bool:  # noqa: D102
        if d <= 0:
            return False
        r = n / d
        return (self.over is None or r > self.over + 1e-12) and (
            self.under is None or r < self.under - 1e-12
        )

    def rate_interval(self) -> tuple[float, float]:  # noqa: D102
        return (0.0 if self.over is None else self.over, 1.0 if self.under is None else self.under)

    def describe(self) -> str:  # noqa: D102
        side = f"above {self.over:.1%}" if self.over is not None else f"below {self.under:.1%}"
        return f"{self.fid}: {self.measure} {side} ({self.higher} > {self.lower})"


def contrast_bounds(
    prof: dict[str, Any], inst: Instrument, c: Statement, by_measure: dict[str, list[Statement]]
) -> list[Statement]:
    """Bounds that make ``higher`` beat ``lower`` whichever counts the solver picks.

    Each question's own figures bound its share (:func:`rate_band`). The threshold is the
    edge of the bounded side when only one is bounded, the middle of the overlap when both
    are (nothing is needed when the bands already order them), the middle of the profile's
    rates when neither is.
    """
    hb = rate_band(by_measure.get(c.higher, []))
    lb = rate_band(by_measure.get(c.lower, []))
    if hb and lb and hb[0] > lb[1]:
        return []
    if hb and lb:
        t = (max(hb[0], lb[0]) + min(hb[1], lb[1])) / 2
    elif hb or lb:
        t = hb[0] if hb else lb[1]
    else:
        rates = [
            question_rates(prof, inst, inst.questions[q])["above"] for q in (c.higher, c.lower)
        ]
        t = float(np.mean(rates))
    common = {"fid": c.fid, "kind": "question", "higher": c.higher, "lower": c.lower}
    out: list[Statement] = []
    if not hb or lb:
        out.append(RateBound(measure=c.higher, over=t, **common))
    if not lb or hb:
        out.append(RateBound(measure=c.lower, under=t, **common))
    return out


@dataclass(frozen=True)
class AtLeast(Statement):
    """Internal: a group must keep at least ``minimum`` cases above the line.

    A gate's 'Yes' cases open its dependents, so a dependent's group base is a floor for
    the gate's 'Yes' count in that group.
    """

    minimum: int = 0
    #: Also at most this many: a dependent that uses every case the gate opens in a group
    #: needs exactly its own group base there.
    maximum: int | None = None

    def accepts(self, n: int, d: int) -> bool:  # noqa: D102
        return n >= self.minimum and (self.maximum is None or n <= self.maximum)


@dataclass(frozen=True)
class Floor(Statement):
    """Internal: a group holds at least ``above`` cases above and ``below`` below the line."""

    above: int = 0
    below: int = 0
    most_above: int | None = None

    @property
    def specificity(self) -> int:  # noqa: D102
        return -1  # a published figure wins over a rule (the rule is then left unmet, warned)

    def accepts(self, n: int, d: int) -> bool:  # noqa: D102
        top = self.most_above
        return n >= self.above and d - n >= self.below and (top is None or n <= top)


def split_with_floors(
    args: tuple, own: list[Statement], floors: list[Floor], effects: dict[str, float]
) -> dict[str, tuple[int, int]] | None:
    """A split meeting the figures and every floor, else all floors but one, else none."""
    tries = [floors, *([f for f in floors if f is not g] for g in floors), []]
    for keep in tries if floors else [[]]:
        sp = solve_split(*args, own + keep, effects)
        if sp is not None:
            return sp
    return None


def rule_floors(
    qid: str,
    cases: pd.DataFrame,
    mask: np.ndarray,
    banned: np.ndarray,
    answer: np.ndarray,
    above: np.ndarray,
    variables: Iterable[str],
) -> list[Floor]:
    """Per group of each split variable: the cases the rules force above / below the line.

    (O2 2.11: a significant change in a case whose plan had no review cannot have been
    reviewed promptly, so each LDU's "No" count must hold that LDU's such cases.)
    """
    forced_above = mask & banned[:, ~above].all(axis=1)
    forced_below = mask & banned[:, ~(answer & ~above)].all(axis=1)
    not_above = mask & banned[:, above].all(axis=1)
    out = []
    for var in variables:
        g_of = cases[var].astype(str).to_numpy()
        for g in np.unique(g_of[mask]):
            in_g = g_of == g
            a, b = int((forced_above & in_g).sum()), int((forced_below & in_g).sum())
            c = int((not_above & in_g).sum())
            if a or b or c:
                common = {"fid": f"rule:{var}={g}", "kind": "comparison", "measure": qid}
                top = int((mask & in_g).sum()) - c
                out.append(
                    Floor(group_var=var, group=str(g), above=a, below=b, most_above=top, **common)
                )
    return out


def split_for_needs(
    inst: Instrument,
    q: Question,
    sol: Solution,
    cases: pd.DataFrame,
    mask: np.ndarray,
    needs: dict[str, dict[str, int]],
    stmts: list[Statement],
    max_above: int | None = None,
    exact: dict[str, dict[str, int]] | None = None,
) -> Solution:
    """Choose the gate's own group splits so its dependents' group bases fit inside them.

    ``exact`` (var -> group -> count): groups where a dependent answers every case the gate
    opens, so the gate's count there must equal the dependent's base (tried first; the
    plain floors are the fallback).
    """
    aset = inst.answer_set(q)
    opens = [set(d.applies_when[q.id]) for d in inst.questions.values() if q.id in d.applies_when]
    above = set(aset.codes_scoring(ABOVE))
    if sol.relevant == int(mask.sum()):
        # No case of the pool is Not applicable: a dependent opening on "anything but No"
        # (a rule's "then Not applicable" read as a gate) opens on the "Yes" cases too.
        opens = [o & set(sol.counts) for o in opens]
    if not opens or any(o != above for o in opens):
        return sol  # the gate opens on other codes: left to meet_gate_needs
    yes, no = sorted(above), [c for c in sol.counts if c not in above]
    # A gate no figure counts (one yes code, one no code) may open more cases, up to its
    # rules' bound, when its floors and its own directions cannot share the planned total
    # (O4 3.5: PO > PSO for identified risks, inside which the PSO referral base lies).
    grow = len(yes) == 1 and len(no) == 1 and all(s.kind == "direction" for s in stmts)
    top = sol.relevant if max_above is None else min(sol.relevant, max_above)

    def wants(var: str, fixed: bool = False) -> list[Statement]:
        own = [
            s
            for s in stmts
            if s.group_var == var and not (s.kind == "direction" and s.category is not None)
        ]
        top_of = (exact or {}).get(var, {}) if fixed else {}
        return own + [
            AtLeast(
                fid=f"need:{g}",
                kind="comparison",
                measure=q.id,
                group_var=var,
                group=g,
                minimum=k,
                maximum=top_of.get(g),
            )
            for g, k in needs.get(var, {}).items()
        ]

    groups = dict(sol.groups)
    for var in needs:
        pools = group_counts(cases, mask, var)
        a = sol.above
        split = None
        if (exact or {}).get(var):
            split = solve_split(a, sol.relevant, pools, wants(var, fixed=True))
        if split is None:
            split = solve_split(a, sol.relevant, pools, wants(var))
        while split is None and grow and a < top:
            a += 1
            split = solve_split(a, sol.relevant, pools, wants(var))
        if split is None:
            continue
        if a != sol.above:  # the other splits were of the old total
            sol = Solution({yes[0]: a, no[0]: sol.relevant - a}, a, sol.relevant, sol.cost)
            resplit = {
                v: solve_split(a, sol.relevant, group_counts(cases, mask, v), wants(v))
                for v in groups
            }
            groups = {v: sp for v, sp in resplit.items() if sp is not None}
        groups[var] = split
    return Solution(sol.counts, sol.above, sol.relevant, sol.cost, groups)


def group_counts(cases: pd.DataFrame, mask: np.ndarray, var: str) -> dict[str, int]:
    """Cases per group of ``var`` among the masked cases."""
    return {str(g): int(c) for g, c in cases.loc[mask, var].astype(str).value_counts().items()}
