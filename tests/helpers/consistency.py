"""Consistency rules for the generator's tests, in the instrument's rule format.

Until the instrument declares its own ``consistency`` section, these stand-ins follow the
same contract (``ConsistencyRule(id, kind, when, any_of, then_column, allowed, severity,
message, source)`` with ``mask(member, n)``), and :data:`SIX_RULES` writes down the six
kinds of contradiction issue 12 found in the Norfolk & Suffolk demo workbook.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FixtureRule:
    """When ``when`` (and one of ``any_of``) hold, ``then_column`` is one of ``allowed``."""

    id: str
    kind: str
    when: dict[str, tuple[str, ...]]
    any_of: tuple[dict[str, tuple[str, ...]], ...]
    then_column: str
    allowed: tuple[str, ...]
    severity: str = "error"
    message: str = ""
    source: str = ""

    def mask(self, member, n: int) -> np.ndarray:
        """Cases the rule applies to (every ``when`` holds, and one ``any_of`` if given)."""
        out = np.ones(n, dtype=bool)
        for col, vals in self.when.items():
            out &= member(col, vals)
        if self.any_of:
            alt = np.zeros(n, dtype=bool)
            for one in self.any_of:
                m = np.ones(n, dtype=bool)
                for col, vals in one.items():
                    m &= member(col, vals)
                alt |= m
            out &= alt
        return out


def rule(id, kind, when, then, any_of=(), message="", source="issue 12") -> FixtureRule:
    """A rule from the YAML shape: ``then`` maps one column to its allowed codes."""
    ((col, allowed),) = then.items()
    return FixtureRule(
        id,
        kind,
        {c: tuple(v) for c, v in when.items()},
        tuple({c: tuple(v) for c, v in a.items()} for a in any_of),
        col,
        tuple(allowed),
        message=message,
        source=source,
    )


SIX_RULES = (
    rule(
        "compliance-action-needed",
        "compliance",
        {"d_complied_without_action": ["No"]},
        {
            "d_compliance_action": [
                "Action taken, complied",
                "Action taken, breach or recall",
                "No action taken, breach or recall",
            ]
        },
        message="did not comply without action, so some action was needed",
    ),
    rule(
        "no-review-not-reviewed-after-change",
        "reviews",
        {"d_plan_review": ["No review"]},
        {"d_review_after_change": ["No", "Not applicable"]},
        message="no review of the plan, so it was not reviewed after the change",
    ),
    rule(
        "lor-review-needs-assessment",
        "assessment",
        {"l_lor_assessment": ["No assessment", "Not applicable"]},
        {"l_lor_review": ["Not applicable"]},
        message="no assessment of the likelihood of reoffending to review",
    ),
    rule(
        "visor-needs-mappa",
        "mappa",
        {"p_mappa_eligible": ["No", "Not applicable"]},
        {"p_visor_required": ["No", "Not applicable"]},
        message="ViSOR recording is required only in MAPPA cases",
    ),
    rule(
        "cyp-risk-needs-cp-issues",
        "children",
        {"p_cp_issues": ["No"]},
        {"p_cyp_risk_identified": ["No", "Not applicable"]},
        message="a risk to children needs child-protection issues in the case",
    ),
    rule(
        "enforcement-rosh-needs-enforcement",
        "compliance",
        {"d_enforcement_used": ["No"]},
        {"p_enforcement_rosh_taken": ["No", "Not applicable"]},
        message="enforcement for risk of harm needs enforcement or recall to have been used",
    ),
)
