"""Published figures as constraints on counts: statements, quantifiers and conflicts.

A published report states its figures in several ways: an exact count ("22 out of 54"),
a rounded percentage ("41%"), a verbal quantifier ("just under two-thirds"), a split by
group ("81% of cases held by POs and 47% by PSOs") or a direction ("more likely where a
PO held the case"). Each becomes a :class:`Statement` that accepts or rejects a count
``n`` of a base ``d``:

- :func:`read_published` / :func:`statements_from_published` read
  ``published/<file>.yaml``; :func:`statements_from_targets` reads a profile's exact
  ``targets``.
- :func:`resolve` solves with every statement and, when no integer solution exists,
  drops the least specific ones (an exact count beats a percent, a percent beats a verbal
  quantifier), recording an :class:`Inconsistency` with the arithmetic.

Percentages are rounded half up (:func:`round_half_up`); banker's rounding is accepted
only for a statement whose ``note`` mentions it. Verbal bands come from
:func:`analysis.engine.band` (its reading bands, synonyms and vague words).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import Any

import yaml

from analysis.engine import band
from analysis.instrument import ABOVE, BELOW, Instrument, Question

#: Rank of evidence: the more specific statement wins a conflict.
SPEC_COUNT, SPEC_PERCENT, SPEC_VERBAL, SPEC_DIRECTION = 4, 3, 2, 1


def known_phrase(phrase: str) -> bool:
    """Whether :func:`percent_band` knows a phrase."""
    try:
        percent_band(phrase)
    except KeyError:
        return False
    return True


def _phrase_key(phrase: str) -> str:
    return " ".join(str(phrase).lower().split())


@lru_cache(maxsize=512)
def percent_band(phrase: str) -> tuple[float, float]:
    """Percent band ``(low, high)`` of a verbal quantifier.

    Looked up with :func:`analysis.engine.band` (also with a leading "the"/"a", as the
    report writes both "great majority" and "the great majority").

    Raises
    ------
    KeyError
        For a phrase it does not know.
    """
    key = _phrase_key(phrase)
    for cand in (key, f"the {key}", f"a {key}"):
        try:
            lo, hi = band(cand)
            return 100.0 * lo, 100.0 * hi
        except KeyError:
            continue
    raise KeyError(f"unknown verbal quantifier {phrase!r}")


def verbal_ok(phrase: str, n: int, d: int) -> bool:
    """Whether ``n`` of ``d`` may be described by ``phrase``.

    The proportion must lie in the phrase's reading band (:func:`analysis.engine.band`,
    both ends included), except where the phrase itself excludes an end: a point band
    ("all", "none") needs equality; no other phrase stands for none of the cases, and only
    a phrase whose band reaches 100% and that is not "almost"/"nearly" or "not always"
    stands for all of them; "more than X"/"over X" and "less than X"/"fewer than X" exclude
    X, "the majority" both half and three-quarters; "all but one/two" mean exactly one/two
    short of the base.
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
    lo, hi = percent_band(key)
    p = 100.0 * n / d
    eps = 1e-9
    if abs(hi - lo) < eps:
        return abs(p - lo) < eps
    if p < eps:
        return False  # none of the cases is "none", whatever the band's low end
    if p > 100 - eps and (hi < 100 - eps or key.startswith(_SHORT_OF_ALL)):
        return False
    majority = key in ("the majority", "a majority", "majority")
    strict_low = majority or key.startswith(("more than ", "over ", "slightly more than "))
    strict_low = strict_low or key in ("generally", "largely")
    # "Majority: 50% to 74%" leaves 75% to "most" (Education Scotland).
    strict_high = majority or key.startswith(("less than ", "fewer than "))
    above = p > lo + eps if strict_low else p >= lo - eps
    below = p < hi - eps if strict_high else p <= hi + eps
    return above and below


#: Phrases that never stand for every case, whatever their band's top.
_SHORT_OF_ALL = ("almost", "nearly", "not always")


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
        ``contrast`` (``higher`` and ``lower`` are two question ids, ``verbal`` the
        comparative as printed), ``profile``, ``outcome_score``.
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
        if self.kind in ("direction", "contrast"):
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

    def rate_interval(self) -> tuple[float, float] | None:
        """The share above the line (0-1) this statement allows its question, or None.

        Only ungrouped ``question``/``factor`` statements bound it: an exact count to its
        ratio, a percentage to the shares that round to it, a verbal quantifier to its band.
        """
        if self.kind not in ("question", "factor") or self.group_var:
            return None
        if self.numerator is not None and self.denominator:
            return (self.numerator / self.denominator,) * 2
        lo, hi = 0.0, 1.0
        if self.percent is not None:
            lo, hi = (self.percent - 0.5) / 100, (self.percent + 0.5) / 100
        if self.verbal and known_phrase(self.verbal):
            b_lo, b_hi = percent_band(self.verbal)
            lo, hi = max(lo, b_lo / 100), min(hi, b_hi / 100)
        return None if (lo, hi) == (0.0, 1.0) else (lo, hi)

    def describe(self) -> str:
        """Short human-readable form used in inconsistency reasons."""
        if self.kind == "contrast":
            return f"{self.fid}: {self.higher} > {self.lower} ('{self.verbal}')"
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
            lo, hi = percent_band(self.verbal)
            parts.append(f"'{self.verbal}' [{lo:g}-{hi:g}%]")
        if self.kind == "direction":
            parts.append(f"{label(self.higher)} > {label(self.lower)} on {self.group_var}")
        where = ""
        if self.group_var and self.kind != "direction":
            where = f" [{self.group_var}={label(self.group)}]"
        if self.category:
            where += f" [{label(self.category)}]"
        return f"{self.fid}: {', '.join(parts)}{where}"


def rate_band(statements: list[Statement]) -> tuple[float, float] | None:
    """The shares above the line (0-1) every statement allows, or None when none bounds it.

    The intersection of :meth:`Statement.rate_interval`; None also when it is empty (the
    statements conflict, which :func:`resolve` settles).
    """
    bounds = [b for b in (s.rate_interval() for s in statements) if b is not None]
    if not bounds:
        return None
    lo, hi = max(b[0] for b in bounds), min(b[1] for b in bounds)
    return (lo, hi) if lo <= hi else None


def label(v: Any) -> str:
    """A group or category value as text: ``None`` is "rest", a list is ``|``-joined."""
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


def read_published(path: str | Path) -> list[Statement]:
    """The statements of a published-figures file (``published/*.yaml``)."""
    return statements_from_published(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def proven_inconsistent(path: str | Path | None) -> dict[str, str]:
    """Figure id -> proof, for the figures a published-figures file declares proven inconsistent.

    ``proven_inconsistent:`` in the file; each proof is a brute-force test.
    """
    if path is None:
        return {}
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in (data.get("proven_inconsistent") or {}).items()}


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
    explain
        Optional: the arithmetic behind a conflict, given the dropped statement and every
        kept one (None: the generic reason).

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
                        reason=_explain(d, core, kept, measure, explain),
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
    kept: list[Statement],
    measure: str,
    explain: Callable[[Statement, list[Statement]], str | None] | None = None,
) -> str:
    """The reason: the smallest conflicting set, then the arithmetic over every kept figure.

    The values the dropped figure could take are worked out from all the kept figures, not
    only the smallest conflicting set, which would allow more than the counts do.
    """
    kept_txt = "; ".join(s.describe() for s in core) or "the sample's bounds"
    msg = f"{measure}: no integer counts satisfy both [{kept_txt}] and [{dropped.describe()}]"
    exact = [s for s in core if s.numerator is not None and s.denominator is not None]
    detail = explain(dropped, kept) if explain else None
    if len(exact) == 1 and not dropped.group_var and not exact[0].group_var and not detail:
        n, d = exact[0].numerator, exact[0].denominator
        msg += f"; {n}/{d} = {pct(n, d):.1f}%"
        if dropped.percent is not None:
            msg += f", which rounds to {round_half_up(pct(n, d))}, not {dropped.percent:g}"
        elif dropped.verbal:
            lo, hi = percent_band(dropped.verbal)
            msg += f", outside '{dropped.verbal}' ({lo:g}-{hi:g}%)"
    elif detail:
        msg += f"; {detail}"
    else:
        msg += " (exhaustive search over every base and split)"
    return msg + f"; kept the more specific statement, dropped {dropped.fid}"


# -- code and group sets ------------------------------------------------------------------


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


def members(value: Any, groups: list[str]) -> list[str]:
    """Resolve a group spec (a value, a list or a ``|``-joined string) to ``groups``.

    ``None``, ``"rest"`` and ``"others"`` name no group (the caller takes every other one).

    Raises
    ------
    ValueError
        For a value that is not one of ``groups``.
    """
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
