"""Read and check the instrument's consistency rules (``consistency:``).

A rule says "when these answers or case details, then that question must be one of these
codes" (see ``docs/instrument-format.md``). The loader refuses, naming the rule:

- an unknown key, kind or severity, a missing message or source;
- a column (question or case detail) or code that the instrument does not declare, with
  the nearest declared name ("did you mean");
- a ``then`` column that is not a coded column, or that its own conditions name;
- a pair of rules that no case could satisfy: both can fire on one case (for every column
  both name, their code lists share a code, in some pair of ``any_of`` alternatives) while
  their ``then`` lists for the same column share no code. A condition requiring a question to
  hold a code other than its not-applicable one also brings in that question's skip rule (a
  plain ``applies_when``, followed up the chain). This is a cheap pairwise check on the
  declared codes: chains of three or more rules and ``any_of`` skip rules are not followed.
"""

from __future__ import annotations

import difflib
from itertools import combinations
from typing import Any

from analysis.instrument.model import (
    RULE_KINDS,
    RULE_SEVERITIES,
    ConsistencyRule,
    Instrument,
    InstrumentError,
)

#: Keys a consistency rule may carry.
RULE_KEYS = {"id", "kind", "when", "any_of", "then", "severity", "message", "source"}


def _near(name: str, choices: Any) -> str:
    """``; did you mean 'x'?`` for the nearest of ``choices``, or nothing."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def _codes(v: Any, where: str) -> tuple[str, ...]:
    items = v if isinstance(v, (list, tuple)) else [v]
    out = []
    for x in items:
        # YAML 1.1 reads unquoted Yes/No as booleans: refuse rather than silently mismatch.
        if isinstance(x, bool):
            raise InstrumentError(f'{where}: value {x!r} is a YAML boolean; quote it, e.g. "Yes"')
        if x is None:
            raise InstrumentError(f"{where}: a code may not be empty")
        out.append(str(x))
    if not out:
        raise InstrumentError(f"{where}: needs at least one code")
    return tuple(out)


def _conditions(spec: Any, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(spec, dict) or not spec:
        raise InstrumentError(f"{where}: must be a mapping of column -> codes")
    return {str(k): _codes(v, f"{where} {k}") for k, v in spec.items()}


def parse_rules(spec: Any) -> tuple[ConsistencyRule, ...]:
    """The ``consistency`` section as rules (shape only; :func:`check_rules` resolves names)."""
    if spec is None:
        return ()
    if not isinstance(spec, list):
        raise InstrumentError("consistency: must be a list of rules")
    rules = []
    seen: set[str] = set()
    for i, r in enumerate(spec, start=1):
        if not isinstance(r, dict) or not r.get("id"):
            raise InstrumentError(f"consistency rule {i}: must be a mapping with an id")
        rid = str(r["id"])
        at = f"consistency rule {rid}"
        unknown = sorted(set(r) - RULE_KEYS)
        if unknown:
            raise InstrumentError(
                f"{at}: unknown key(s) {unknown}{_near(unknown[0], RULE_KEYS)} "
                f"(allowed: {sorted(RULE_KEYS)})"
            )
        if rid in seen:
            raise InstrumentError(f"{at}: duplicate rule id")
        seen.add(rid)
        kind = str(r.get("kind", ""))
        if kind not in RULE_KINDS:
            raise InstrumentError(
                f"{at}: kind {kind!r} is not one of {', '.join(RULE_KINDS)}"
                f"{_near(kind, RULE_KINDS)}"
            )
        severity = str(r.get("severity", ""))
        if severity not in RULE_SEVERITIES:
            raise InstrumentError(f"{at}: severity {severity!r} is not error or warning")
        for key in ("message", "source"):
            if not isinstance(r.get(key), str) or not r[key].strip():
                raise InstrumentError(f"{at}: every rule needs a plain-English {key}")
        if "when" not in r and "any_of" not in r:
            raise InstrumentError(f"{at}: needs when (or any_of): the cases it applies to")
        when = _conditions(r["when"], f"{at}: when") if "when" in r else {}
        any_of: tuple[dict[str, tuple[str, ...]], ...] = ()
        if "any_of" in r:
            alts = r["any_of"]
            if not isinstance(alts, list) or len(alts) < 2:
                raise InstrumentError(
                    f"{at}: any_of must be a list of two or more mappings of column -> codes"
                )
            any_of = tuple(_conditions(a, f"{at}: any_of") for a in alts)
        then = r.get("then")
        if not isinstance(then, dict) or len(then) != 1:
            raise InstrumentError(f"{at}: then must name exactly one column -> the codes it allows")
        ((col, codes),) = then.items()
        rules.append(
            ConsistencyRule(
                id=rid,
                kind=kind,
                when=when,
                any_of=any_of,
                then_column=str(col),
                allowed=_codes(codes, f"{at}: then {col}"),
                severity=severity,
                message=" ".join(r["message"].split()),
                source=" ".join(r["source"].split()),
            )
        )
    return tuple(rules)


def check_rules(inst: Instrument) -> None:
    """Every name a rule uses must resolve, and no pair of rules may contradict."""
    known = [*inst.case_details, *inst.questions]
    for rule in inst.consistency:
        at = f"consistency rule {rule.id}"
        named = [(c, v, "when") for c, v in rule.when.items()]
        named += [(c, v, "any_of") for alt in rule.any_of for c, v in alt.items()]
        named.append((rule.then_column, rule.allowed, "then"))
        for col, values, part in named:
            if col not in inst.questions and col not in inst.case_details:
                raise InstrumentError(
                    f"{at}: {part} names unknown question or case detail {col!r}{_near(col, known)}"
                )
            allowed = inst.allowed_values(col)
            if not allowed:
                raise InstrumentError(
                    f"{at}: {part} names {col!r}, which has no codes (only coded columns "
                    "can appear in a rule)"
                )
            for v in values:
                if v not in allowed:
                    raise InstrumentError(
                        f"{at}: {part} {col}: unknown code {v!r}{_near(v, allowed)} "
                        f"(codes: {', '.join(allowed)})"
                    )
        if rule.then_column in rule.columns[:-1]:
            raise InstrumentError(
                f"{at}: then column {rule.then_column!r} is also one of its own conditions"
            )
    _check_pairs(inst)


def _merge(into: dict[str, set[str]], conds: dict[str, tuple[str, ...]]) -> None:
    for c, v in conds.items():
        into[c] = into[c] & set(v) if c in into else set(v)


def _implied(inst: Instrument, conds: dict[str, set[str]]) -> dict[str, set[str]]:
    """``conds`` with the skip rules they imply.

    A question required to hold a code other than its not-applicable one applies, so its
    (plain) skip rule holds too.
    """
    out = {c: set(v) for c, v in conds.items()}
    pending = list(out)
    while pending:
        col = pending.pop()
        q = inst.questions.get(col)
        if q is None or not q.applies_when or q.applies_any:
            continue
        aset = inst.answer_set(q)
        na = aset.na_code if aset else None
        if na is None or na in out[col]:
            continue
        for c, v in q.applies_when.items():
            before = out.get(c)
            out[c] = before & set(v) if before is not None else set(v)
            if out[c] != before:
                pending.append(c)
    return out


def _can_fire_together(inst: Instrument, r1: ConsistencyRule, r2: ConsistencyRule) -> bool:
    """Whether one case could meet the conditions of both rules.

    As far as the declared codes (and the plain skip rules they imply) tell.
    """
    for x in r1.any_of or ({},):
        for y in r2.any_of or ({},):
            both: dict[str, set[str]] = {}
            for conds in (r1.when, x, r2.when, y):
                _merge(both, conds)
            if all(_implied(inst, both).values()):
                return True
    return False


def _check_pairs(inst: Instrument) -> None:
    by_column: dict[str, list[ConsistencyRule]] = {}
    for rule in inst.consistency:
        by_column.setdefault(rule.then_column, []).append(rule)
    for col, rules in by_column.items():
        for r1, r2 in combinations(rules, 2):
            if set(r1.allowed) & set(r2.allowed):
                continue
            if _can_fire_together(inst, r1, r2):
                raise InstrumentError(
                    f"consistency rules {r1.id} and {r2.id} can both apply to one case "
                    f"({r1.when_text()}; {r2.when_text()}) but allow no common code of {col} "
                    f"({', '.join(r1.allowed)} vs {', '.join(r2.allowed)}): no case could "
                    "satisfy both"
                )


def rule_info(inst: Instrument) -> list[dict[str, str]]:
    """One record per consistency rule, for the template's rules sheet and the dictionary."""
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "severity": r.severity,
            "when": r.when_text(),
            "then": r.then_text(),
            "message": r.message,
            "source": r.source,
        }
        for r in inst.consistency
    ]
