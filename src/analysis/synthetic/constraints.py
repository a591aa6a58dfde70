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
As in :meth:`analysis.instrument.Instrument.rule_applies`, a rule judges only the cases
its ``then`` column's own skip rule lets that column apply to.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from analysis.instrument import ABOVE, ConsistencyRule
from analysis.synthetic.statements import codes_for, members


def rules_of(inst: Any, extra: Iterable[Any] | None = None) -> tuple[Any, ...]:
    """The instrument's consistency rules (none if it declares none), plus ``extra``."""
    return tuple(getattr(inst, "consistency", ()) or ()) + tuple(extra or ())


def rule_columns(rule: Any, inst: Any = None) -> list[str]:
    """Every column a rule reads: its conditions, its ``then`` column and that one's skip rule."""
    cols = list(rule.when)
    for alt in rule.any_of or ():
        cols += [c for c in alt if c not in cols]
    then_q = _then_question(rule, inst)
    for c in [rule.then_column, *(then_q.rule_columns if then_q is not None else [])]:
        if c not in cols:
            cols.append(c)
    return cols


_INDEX: dict[tuple[int, int], tuple[Any, Any, dict[str, list[tuple[Any, list[str]]]]]] = {}


def rule_index(rules: Any, inst: Any = None) -> dict[str, list[tuple[Any, list[str]]]]:
    """Column -> the rules reading it, with their columns (built once per rule set)."""
    rules = tuple(rules)
    key = (id(rules), id(inst))
    hit = _INDEX.get(key)
    if hit is not None and hit[0] is rules and hit[1] is inst:
        return hit[2]
    index: dict[str, list[tuple[Any, list[str]]]] = {}
    for rule in rules:
        cols = rule_columns(rule, inst)
        for c in cols:
            index.setdefault(c, []).append((rule, cols))
    if len(_INDEX) > 64:
        _INDEX.clear()
    _INDEX[key] = (rules, inst, index)
    return index


def rule_columns_when(rule: Any) -> list[str]:
    """The columns a rule's conditions read (``when`` and ``any_of``)."""
    cols = list(rule.when)
    for alt in rule.any_of or ():
        cols += [c for c in alt if c not in cols]
    return cols


def with_rule_gates(inst: Any, rules: Iterable[Any]) -> Any:
    """The instrument with every "then not applicable" rule folded into a skip rule.

    A rule "when G is one of V, then T is not applicable" (one condition, no
    alternatives, T's only allowed code its not-applicable one) says T applies only where
    G is something else: a gate. Folded into T's ``applies_when``, it gives the calibration
    T's real pool when planning and keeps enough cases open for T's group splits, as a
    declared gate does. Other rules are left as they are.
    """
    import dataclasses

    questions = dict(inst.questions)
    changed = False
    for rule in rules:
        t = questions.get(rule.then_column)
        if t is None or rule.any_of or len(rule.when) != 1:
            continue
        aset = inst.answer_set(t)
        if aset is None or tuple(rule.allowed) != (aset.na_code,):
            continue
        ((g, vals),) = rule.when.items()
        if g in inst.questions:
            codes = inst.answer_set(inst.questions[g]).code_values
        elif g in inst.case_details and inst.case_details[g].codes:
            codes = inst.case_details[g].codes
        else:
            continue
        keep = tuple(c for c in codes if c not in vals)
        if g in t.applies_when:
            keep = tuple(c for c in t.applies_when[g] if c in keep)
        questions[t.id] = dataclasses.replace(t, applies_when={**t.applies_when, g: keep})
        changed = True
    return dataclasses.replace(inst, questions=questions) if changed else inst


def _then_question(rule: Any, inst: Any) -> Any:
    q = getattr(inst, "questions", {}).get(rule.then_column) if inst is not None else None
    return q if q is not None and q.has_rule else None


def _judged(rule: Any, inst: Any, member: Any, n: int) -> np.ndarray:
    """Cases a rule judges: its conditions hold and its ``then`` column applies."""
    mask = np.asarray(rule.mask(member, n), dtype=bool)
    q = _then_question(rule, inst)
    if q is not None:
        mask &= np.asarray(q.rule_mask(member, n), dtype=bool)
    return mask


def _isin(values: Any, allowed: Sequence[Any]) -> np.ndarray:
    # Codes are strings; counts are compared by their text, as a workbook cell would be.
    vals = np.asarray(values, dtype=object)
    return np.isin(vals.astype(str), np.array([str(a) for a in allowed], dtype=object))


def forbidden(
    rules: Iterable[Any],
    column: str,
    codes: Sequence[str],
    data: Mapping[str, Any],
    n: int,
    inst: Any = None,
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
    for rule, cols in rule_index(rules, inst).get(column, ()):
        if any(c not in data for c in cols if c != column):
            continue
        for k, code in enumerate(codes):

            def member(col: str, values: tuple[str, ...], code=code) -> np.ndarray:
                if col == column:
                    return np.full(n, str(code) in {str(v) for v in values})
                return _isin(data[col], values)

            when = _judged(rule, inst, member, n)
            if rule.then_column == column:
                ok = np.full(n, str(code) in {str(a) for a in rule.allowed})
            else:
                ok = _isin(data[rule.then_column], rule.allowed)
            out[:, k] |= when & ~ok
    return out


def violations(rules: Iterable[Any], cases: Any, inst: Any = None) -> dict[str, int]:
    """Cases breaking each rule (rule id -> count) in a frame or mapping of columns."""
    n = len(next(iter(cases.values()))) if isinstance(cases, dict) else len(cases)

    def member(col: str, values: tuple[str, ...]) -> np.ndarray:
        return _isin(cases[col], values)

    out = {}
    for rule in rules:
        if any(c not in cases for c in rule_columns(rule, inst)):
            continue
        bad = _judged(rule, inst, member, n) & ~_isin(cases[rule.then_column], rule.allowed)
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
    for i in np.flatnonzero(
        [index.get(v) is not None and banned[j, index[v]] for j, v in enumerate(values)]
    ):
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
                j = int(
                    cand[np.argmin(np.abs(prefer[cand] - prefer[i]) + 1e-6 * rng.random(len(cand)))]
                )
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


def named_keys(cases: Any, named: Mapping[str, Iterable[str]], n: int) -> np.ndarray:
    """One key per case telling apart only the ``named`` groups of each column.

    The groups of a column that no published figure names are pooled into one, so a swap
    between them keeps every stated count (a figure on "the rest" pools them too).
    """
    cols = []
    for c, groups in named.items():
        v = np.asarray(cases[c], dtype=object).astype(str)
        keep = np.isin(v, np.array([str(g) for g in groups], dtype=object))
        cols.append(np.where(keep, v, "\x1e"))
    if not cols:
        return np.zeros(n, dtype=object)
    return np.array(["\x1f".join(t) for t in zip(*cols, strict=True)], dtype=object)


def answer_order(
    inst: Any,
    rules: Iterable[Any] = (),
    fixed: Mapping[str, int] | Iterable[str] = (),
    reads: Mapping[str, Iterable[str]] | None = None,
) -> list[str]:
    """Question ids in the order the generator answers them.

    Column order, except that a rule's ``then`` column is answered after the questions its
    conditions read, so the rule is enforced where the solver can see it: the cases it
    forces are known before that column's counts are placed. When the ``then`` column is
    more ``fixed`` than a condition's column (``fixed``: question id -> how many published
    figures pin it, or a set of pinned ids), the freer column goes last instead: the rule
    is enforced there, by its contrapositive, where it costs the fewest published counts.
    Skip rules (a gate before the questions it opens) always hold; a rule edge that would
    close a cycle is left out, and that rule is enforced at its last column in this order.
    ``reads`` (question id -> answer columns its propensity reads) puts a question after
    the columns it reads, where no gate or rule says otherwise.
    """
    qids = list(inst.questions)
    pos = {q: i for i, q in enumerate(qids)}
    after: dict[str, set[str]] = {q: set() for q in qids}  # q -> what must come first
    for q in inst.questions.values():
        after[q.id] |= {c for c in q.rule_columns if c in pos}

    def reaches(src: str, dst: str) -> bool:
        """Whether ``dst`` must already come before ``src`` (a path src -> ... -> dst)."""
        seen, stack = set(), [src]
        while stack:
            x = stack.pop()
            if x == dst:
                return True
            if x not in seen:
                seen.add(x)
                stack.extend(after[x])
        return False

    weight = dict(fixed) if isinstance(fixed, Mapping) else dict.fromkeys(fixed, 1)

    def edge(first: str, last: str) -> None:
        if first not in after[last] and not reaches(first, last):
            after[last].add(first)

    for rule in rules:
        t = rule.then_column
        if t not in pos:
            continue
        for c in rule_columns(rule, inst):
            if c not in pos or c == t:
                continue
            if weight.get(t, 0) > weight.get(c, 0) and c in rule_columns_when(rule):
                edge(t, c)
            else:
                edge(c, t)
    for q, cols in (reads or {}).items():
        for c in cols:
            if q in pos and c in pos and c != q:
                edge(c, q)
    # Kahn's algorithm, taking the earliest column whenever several are ready.
    waiting = {q: set(after[q]) for q in qids}
    users: dict[str, list[str]] = {q: [] for q in qids}
    for q, deps in waiting.items():
        for d in deps:
            users[d].append(q)
    ready = [pos[q] for q in qids if not waiting[q]]
    heapq.heapify(ready)
    out = []
    while ready:
        q = qids[heapq.heappop(ready)]
        out.append(q)
        for u in users[q]:
            waiting[u].discard(q)
            if not waiting[u]:
                heapq.heappush(ready, pos[u])
    return out


class _With(Mapping):
    """``data`` with one more column (a code tried for every case)."""

    def __init__(self, data: Mapping[str, Any], column: str, values: np.ndarray):
        self.data, self.column, self.values = data, column, values

    def __getitem__(self, key: str) -> Any:
        return self.values if key == self.column else self.data[key]

    def __contains__(self, key: object) -> bool:
        return key == self.column or key in self.data

    def __iter__(self):  # pragma: no cover - not needed by the rules
        yield from self.data
        yield self.column

    def __len__(self) -> int:  # pragma: no cover
        return len(self.data) + 1


def banned_codes(
    rules: Iterable[Any],
    column: str,
    codes: Sequence[str],
    data: Mapping[str, Any],
    n: int,
    inst: Any,
    depth: int = 3,
    _top: bool = True,
) -> np.ndarray:
    """:func:`forbidden`, plus codes that would leave a later column no allowed code.

    Forward checking, ``depth`` steps: for each later column that shares a rule with
    ``column`` and is the only unknown column of that rule, a code of ``column`` is banned
    for a case when, with it, every code of the later column (its skip rule included)
    would be banned, by a rule or (recursively) by the columns after it: a change in risk
    of harm forces a significant change, which a figure requiring every such case to have
    been reviewed then rules out where there is no plan. A case for which that bans every
    code keeps the plain ban.
    """
    rules = tuple(rules)
    out = forbidden(rules, column, codes, data, n, inst)
    later = []
    for _rule, cols in rule_index(rules, inst).get(column, ()):
        unknown = [c for c in cols if c != column and c not in data]
        if len(unknown) == 1 and unknown[0] in inst.questions:
            later.append(unknown[0])
    if not later:
        if not _top:
            return out
        look = out | figure_bans(rules, column, codes, data, n, inst)
        look[look.all(axis=1)] = out[look.all(axis=1)]
        return look
    look = out.copy()
    for z in dict.fromkeys(later):
        zq = inst.questions[z]
        zset = inst.answer_set(zq)
        if zset is None:
            continue
        zcodes = zset.code_values
        answer = np.array([c != zset.na_code for c in zcodes])
        for k, code in enumerate(codes):
            d2 = _With(data, column, np.full(n, code, dtype=object))
            if depth > 1:
                zb = banned_codes(rules, z, zcodes, d2, n, inst, depth - 1, _top=False)
            else:
                zb = forbidden(rules, z, zcodes, d2, n, inst)
            if zq.has_rule and all(c in d2 for c in zq.rule_columns):
                skip = np.asarray(zq.rule_mask(lambda c, v, d2=d2: _isin(d2[c], v), n), bool)
                zb = zb | (~skip[:, None] & answer[None, :])
            look[:, k] |= zb.all(axis=1)
    if _top:
        look |= figure_bans(rules, column, codes, data, n, inst)
        stuck = look.all(axis=1)
        look[stuck] = out[stuck]
    return look


def skip_banned(inst: Any, q: Any, cases: Any, mask: np.ndarray, rules: tuple) -> np.ndarray:
    """Codes of ``q`` a case may not take: the rules', and any answer where it is skipped."""
    aset = inst.answer_set(q)
    codes = aset.code_values
    banned = banned_codes(rules, q.id, codes, cases, len(cases), inst)
    answer = np.array([c != aset.na_code for c in codes])
    return banned | (~mask[:, None] & answer[None, :])


def constrain_column(
    inst: Any,
    q: Any,
    col: Any,
    cases: Any,
    mask: np.ndarray,
    rules: tuple,
    keep: list[str],
    quality: np.ndarray,
    rng: np.random.Generator,
    warnings: list[str],
    pinned: bool = False,
    named: Mapping[str, Iterable[str]] | None = None,
) -> Any:
    """Make one calibrated column obey the rules by swapping codes within groups.

    Swaps keep every code's count and every split over ``keep``. Where that leaves a case
    unfixed, swaps may cross the groups no published figure names (``named``: column ->
    the groups the column's figures, and its dependents' figures, name; the others are
    pooled), which keeps every count a figure states. A case no swap can fix is given an
    allowed code instead (a warning, since a count then moves), unless published figures
    pin the column (``pinned``): then the counts win and the case is left as it is.
    """
    aset = inst.answer_set(q)
    banned = skip_banned(inst, q, cases, mask, rules)
    if not banned.any():
        return col
    keys = group_keys(cases, dict.fromkeys(keep), len(cases))
    vals, left = swap_repair(
        col.to_numpy(dtype=object), aset.code_values, banned, keys, rng, quality
    )
    if left and named is not None:
        keys = named_keys(cases, named, len(cases))
        vals, left = swap_repair(vals, aset.code_values, banned, keys, rng, quality)
    if left and pinned:
        warnings.append(f"{q.id}: {left} case(s) left breaking a consistency rule")
    elif left:
        classes = {c.code: c.scores or "" for c in aset.codes}
        vals = resample(vals, aset.code_values, banned, classes, rng)
        warnings.append(f"{q.id}: {left} case(s) re-coded to satisfy a consistency rule")
    return type(col)(vals, index=col.index, name=q.id, dtype=object)


def figure_rules(inst: Any, by_measure: Mapping[str, Iterable[Any]], cases: Any) -> tuple:
    """Rules a published figure implies: "all" or "none" of one group's cases.

    A figure stating that all (or none) of a named group's relevant cases had an answer
    (O2 2.11: "a review had taken place in both the cases managed by Waveney and Yare
    LDU") fixes every such case's answer, not just a count: "in this group, when the
    question applies, it is one of these codes". Added to the rules, forward checking
    (:func:`banned_codes`) then keeps earlier answers from opening the question on a case
    that another rule forbids those codes (no plan, so no review after the change).
    Figures with an ``among`` base are left out (their base is not the question's own).
    """
    out = []
    for qid, stmts in by_measure.items():
        q = inst.questions.get(qid)
        aset = inst.answer_set(q) if q is not None else None
        for s in stmts:
            n, d = s.numerator, s.denominator
            if aset is None or s.among is not None or not s.group_var or d is None or n is None:
                continue
            if d <= 0 or n not in (0, d) or s.group_var not in cases:
                continue
            groups = sorted({str(v) for v in cases[s.group_var]})
            try:
                named = members(s.group, groups)
                hit = codes_for(inst, q, s.category or ABOVE)
            except ValueError:
                continue
            if not named:
                continue
            relevant = [c for c in aset.code_values if c != aset.na_code]
            allowed = hit if n == d else tuple(c for c in relevant if c not in hit)
            rid = f"figure-{s.fid}"
            msg = f"Published figure {s.fid}: {n} of {d}."
            when = {s.group_var: tuple(named)}
            out.append(
                ConsistencyRule(rid, "figure", when, (), qid, tuple(allowed), "error", msg, s.fid)
            )
    return tuple(out)


def _cond(col: str, values: Sequence[Any], known: dict, dom: dict) -> bool | None:
    """One condition in three values: holds, fails, or not yet known (None)."""
    vals = {str(v) for v in values}
    if col in known:
        return known[col] in vals
    d = dom.get(col)
    if d is None:
        return None
    return True if d <= vals else (False if not d & vals else None)


def _all(conds: Iterable[bool | None]) -> bool | None:
    out: bool | None = True
    for c in conds:
        if c is False:
            return False
        if c is None:
            out = None
    return out


def _applies(q: Any, known: dict, dom: dict) -> bool | None:
    if q is None or not q.has_rule:
        return True
    first = _all(_cond(c, v, known, dom) for c, v in q.applies_when.items())
    if not q.applies_any or first is False:
        return first
    alts = [_all(_cond(c, v, known, dom) for c, v in alt.items()) for alt in q.applies_any]
    rest = (
        True if any(a is True for a in alts) else (False if all(a is False for a in alts) else None)
    )
    return _all([first, rest])


def feasible(rules: Sequence[Any], inst: Any, known: dict[str, str]) -> bool:
    """Whether one case's known answers leave every later column a code (unit propagation).

    Each unknown question starts with all its codes; a rule whose conditions hold narrows
    its ``then`` column to the allowed codes, and one whose ``then`` column cannot be
    allowed rules out the value of its single open condition (the contrapositive). A
    question known to apply loses its not-applicable code; one known not to apply keeps
    only that code. A column left with no code means the known answers cannot all stand.
    """
    known = dict(known)
    dom: dict[str, set[str]] = {}
    for qid, q in inst.questions.items():
        aset = inst.answer_set(q)
        if qid not in known and aset is not None:
            dom[qid] = {str(c) for c in aset.code_values}
    changed = True
    while changed:
        changed = False
        for qid in list(dom):
            q, aset = inst.questions[qid], inst.answer_set(inst.questions[qid])
            app, na = _applies(q, known, dom), str(aset.na_code)
            new = {na} & dom[qid] if app is False else (dom[qid] - {na} if app else dom[qid])
            if new != dom[qid]:
                dom[qid], changed = new, True
        for rule in rules:
            then = rule.then_column
            app = _applies(inst.questions.get(then), known, dom)
            if app is not True:
                continue
            when = [_cond(c, v, known, dom) for c, v in rule.when.items()]
            alts = [_all(_cond(c, v, known, dom) for c, v in a.items()) for a in rule.any_of]
            hold = _all([*when, (any(a is True for a in alts) or None) if alts else True])
            allowed = {str(a) for a in rule.allowed}
            if hold and then in dom and not dom[then] <= allowed:
                dom[then] &= allowed
                changed = True
            broken = known[then] not in allowed if then in known else not dom[then] & allowed
            open_ = [c for c, w in zip(rule.when, when, strict=True) if w is None]
            if (
                broken
                and not rule.any_of
                and len(open_) == 1
                and all(when_ok for when_ok in when if when_ok is not None)
            ):
                c = open_[0]
                if c in dom:
                    dom[c] -= {str(v) for v in rule.when[c]}
                    changed = True
            if broken and hold:
                return False
        for qid in [k for k, d in dom.items() if len(d) <= 1]:
            if not dom[qid]:
                return False
            known[qid] = next(iter(dom.pop(qid)))
            changed = True
    return True


def figure_bans(
    rules: Sequence[Any],
    column: str,
    codes: Sequence[str],
    data: Mapping[str, Any],
    n: int,
    inst: Any,
) -> np.ndarray:
    """Codes that propagation (:func:`feasible`) rules out, in the groups a figure rule names.

    Only the cases of a published figure's group (a ``figure`` rule, :func:`figure_rules`)
    are checked, where one figure fixes every case's answer and a long chain of rules
    can reach it (a recall forces a change in risk, so a significant change, which the
    figure then requires reviewed, which needs a plan).
    """
    out = np.zeros((n, len(codes)), dtype=bool)
    figs = [r for r in rules if r.kind == "figure" and all(c in data for c in r.when)]
    if not figs:
        return out
    rows = np.zeros(n, dtype=bool)
    for r in figs:
        rows |= np.asarray(r.mask(lambda c, v: _isin(data[c], v), n), bool)
    if not rows.any():
        return out
    cols = {c for r in rules for c in rule_columns(r, inst) if c in data and c != column}
    cols |= {c for q in inst.questions.values() for c in q.rule_columns if c in data}
    arrays = {c: np.asarray(data[c], dtype=object) for c in cols}
    for i in np.flatnonzero(rows):
        base = {c: str(a[i]) for c, a in arrays.items() if a[i] is not None}
        for k, code in enumerate(codes):
            out[i, k] = not feasible(rules, inst, {**base, column: str(code)})
    return out
