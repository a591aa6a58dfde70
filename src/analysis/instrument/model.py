"""The inspection instrument (questions, criteria, outcomes, factors, scoring rules) as data.

An instrument is one versioned YAML file (see ``docs/instrument-format.md``).
Another inspection programme is a new file, not new code. This module loads
the file, expands the factor item templates into ordinary questions, checks
the file is coherent (every reference resolves, no duplicate ids) and offers
look-ups the rest of the suite uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from analysis import config

#: How an answer code counts in a score.
ABOVE, BELOW, NA = "above", "below", "na"
_SCORES = {ABOVE, BELOW, NA, None}


class InstrumentError(ValueError):
    """The instrument file itself is malformed or incoherent."""


@dataclass(frozen=True)
class AnswerCode:
    """One allowed answer and how it scores."""

    code: str
    scores: str | None = None  # above / below / na, or None for a descriptive category
    label: str | None = None


@dataclass(frozen=True)
class AnswerSet:
    """A named set of allowed answers (``yn``, ``review``, ...)."""

    id: str
    label: str
    codes: tuple[AnswerCode, ...]

    @property
    def code_values(self) -> tuple[str, ...]:
        """Canonical answer codes in declared order."""
        return tuple(c.code for c in self.codes)

    def codes_scoring(self, scores: str) -> tuple[str, ...]:
        """Codes that count as ``scores`` (above / below / na)."""
        return tuple(c.code for c in self.codes if c.scores == scores)

    @property
    def na_code(self) -> str | None:
        """The code that means 'not applicable', if the set has one."""
        na = self.codes_scoring(NA)
        return na[0] if na else None


@dataclass(frozen=True)
class Outcome:
    """A headline outcome (the report's chapters)."""

    id: str
    number: int
    name: str
    short: str


@dataclass(frozen=True)
class Stage:
    """A process stage (columns of the criteria grid)."""

    id: str
    number: int
    name: str


@dataclass(frozen=True)
class Criterion:
    """A cell of the criteria grid, e.g. 4.1 Assessment and planning to minimise risk of harm."""

    id: str
    outcome: str
    stage: str
    title: str
    case_assessed: bool = True  # leadership criteria (x.4) come from interviews, not case data


@dataclass(frozen=True)
class CaseDetail:
    """A case-detail column (trust, LDU, grade, gender, ...)."""

    id: str
    label: str
    type: str  # identifier | category | text | count | free_text
    required: bool = True
    codes: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    sensitive: bool = False  # never leaves the machine in an output
    description: str = ""
    compare: bool = False  # the engine compares groups of cases by this detail


@dataclass(frozen=True)
class Question:
    """A case-level question."""

    id: str
    text: str
    criterion: str
    answers: str  # id of an AnswerSet, or "count"
    outcomes: tuple[str, ...]  # outcome scores it counts towards (empty if not scored)
    scored: bool = True
    applies_when: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Alternatives of an ``any_of`` skip rule: the question applies when every condition of
    #: ``applies_when`` holds and, if there are alternatives, all conditions of at least one.
    applies_any: tuple[dict[str, tuple[str, ...]], ...] = ()
    short: str = ""
    factor: str | None = None
    factor_item: str | None = None
    chart: str | None = None  # which outcome "data summary" chart shows it, if any
    min: int | None = None
    max: int | None = None
    description: str = ""

    @property
    def label(self) -> str:
        """Short label for charts and tables."""
        return self.short or self.text

    @property
    def has_rule(self) -> bool:
        """Whether a skip rule says when the question applies."""
        return bool(self.applies_when or self.applies_any)

    @property
    def rule_columns(self) -> list[str]:
        """Every column the skip rule reads, in the order the rule names them."""
        cols = list(self.applies_when)
        for alt in self.applies_any:
            cols += [c for c in alt if c not in cols]
        return cols

    def rule_mask(self, member: Callable[[str, tuple[str, ...]], Any], n: int) -> Any:
        """Boolean numpy mask of the cases the skip rule lets the question apply to.

        ``member(column, values)`` returns the mask of cases whose ``column`` holds one of
        ``values``; ingest, the generator and the calibration each pass their own, so the
        rule's logic lives here once.
        """
        mask = np.ones(n, dtype=bool)
        for col, values in self.applies_when.items():
            mask &= member(col, values)
        if self.applies_any:
            alternatives = np.zeros(n, dtype=bool)
            for alt in self.applies_any:
                one = np.ones(n, dtype=bool)
                for col, values in alt.items():
                    one &= member(col, values)
                alternatives |= one
            mask &= alternatives
        return mask

    def rule_text(self, column: Callable[[str], str] = str) -> str:
        """The skip rule in words: ``report_type is Typed and (a is X, or b is Y or Z)``.

        ``column`` formats a column id (e.g. in backticks for markdown).
        """

        def conds(rule: dict[str, tuple[str, ...]]) -> list[str]:
            return [f"{column(c)} is {' or '.join(v)}" for c, v in rule.items()]

        parts = conds(self.applies_when)
        if self.applies_any:
            alts = [" and ".join(conds(a)) for a in self.applies_any]
            either = ", or ".join(alts)
            parts.append(f"({either})" if parts else either)
        return " and ".join(parts)


@dataclass(frozen=True)
class Factor:
    """An offending-related factor (the report's table 3.5)."""

    id: str
    label: str
    items: dict[str, str]  # item name -> question id


@dataclass
class Instrument:
    """A loaded, expanded and checked instrument."""

    id: str
    version: str
    title: str
    source: str
    path: Path
    sha256: str
    outcome_method: str
    answer_sets: dict[str, AnswerSet]
    outcomes: dict[str, Outcome]
    stages: dict[str, Stage]
    criteria: dict[str, Criterion]
    case_details: dict[str, CaseDetail]
    questions: dict[str, Question]
    factors: dict[str, Factor]
    factor_table: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    # -- look-ups -----------------------------------------------------------------
    @cached_property
    def columns(self) -> list[str]:
        """Every column of a case workbook, case details first, in declared order."""
        return list(self.case_details) + list(self.questions)

    @cached_property
    def required_columns(self) -> list[str]:
        """Columns a workbook must have."""
        return [c.id for c in self.case_details.values() if c.required] + list(self.questions)

    @cached_property
    def identifier_column(self) -> str:
        """The case-identifier column."""
        ids = [c.id for c in self.case_details.values() if c.type == "identifier"]
        if len(ids) != 1:
            raise InstrumentError("an instrument needs exactly one case detail of type identifier")
        return ids[0]

    @cached_property
    def sensitive_columns(self) -> list[str]:
        """Columns that must never reach an exported output (identifiers, free text)."""
        return [
            c.id
            for c in self.case_details.values()
            if c.sensitive or c.type in ("identifier", "free_text")
        ]

    @cached_property
    def comparison_columns(self) -> list[str]:
        """Case details the engine compares groups of cases by (``compare: true``)."""
        return [c.id for c in self.case_details.values() if c.compare]

    def answer_set(self, question: Question | str) -> AnswerSet | None:
        """The answer set of a question (None for count questions)."""
        q = self.questions[question] if isinstance(question, str) else question
        return self.answer_sets.get(q.answers)

    def questions_for_outcome(self, outcome: str) -> list[Question]:
        """Scored questions that count towards an outcome score."""
        return [q for q in self.questions.values() if q.scored and outcome in q.outcomes]

    def questions_for_criterion(self, criterion: str) -> list[Question]:
        """Scored questions that belong to a criterion."""
        return [q for q in self.questions.values() if q.scored and q.criterion == criterion]

    def allowed_values(self, column: str) -> tuple[str, ...]:
        """Allowed canonical values of a coded column (empty for free columns)."""
        if column in self.questions:
            aset = self.answer_set(column)
            return aset.code_values if aset else ()
        return self.case_details[column].codes

    def coded_columns(self) -> list[str]:
        """Columns whose values come from a fixed code list."""
        return [c for c in self.columns if self.allowed_values(c)]

    def summary(self) -> dict[str, int]:
        """Number of scored questions per outcome (for notes and the dictionary)."""
        return {o: len(self.questions_for_outcome(o)) for o in self.outcomes}


# -- loading -----------------------------------------------------------------------


def _tuple(v: Any, where: str = "") -> tuple:
    if v is None:
        return ()
    items = v if isinstance(v, (list, tuple)) else [v]
    for x in items:
        # YAML 1.1 reads unquoted Yes/No/On/Off as booleans: a silent skip-rule mismatch.
        if isinstance(x, bool):
            raise InstrumentError(f'{where}: value {x!r} is a YAML boolean; quote it, e.g. "Yes"')
    return tuple(str(x) for x in items)


#: Keys each kind of entry may carry; anything else is a typo the loader refuses.
_QUESTION_KEYS = {
    "id",
    "text",
    "short",
    "criterion",
    "answers",
    "outcomes",
    "scored",
    "applies_when",
    "chart",
    "min",
    "max",
    "description",
}
_DETAIL_KEYS = {
    "id",
    "label",
    "type",
    "required",
    "codes",
    "min",
    "max",
    "sensitive",
    "description",
    "compare",
}


def _known_keys(spec: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise InstrumentError(f"{where}: unknown key(s) {unknown} (allowed: {sorted(allowed)})")


#: Key of ``applies_when`` holding alternatives (a column may not have this id).
ANY_OF = "any_of"


def _applies(
    spec: Any, where: str
) -> tuple[dict[str, tuple[str, ...]], tuple[dict[str, tuple[str, ...]], ...]]:
    """``applies_when``: its conditions (all must hold) and its ``any_of`` alternatives."""
    if spec is None:
        return {}, ()
    if not isinstance(spec, dict):
        raise InstrumentError(f"{where}: applies_when must be a mapping of column -> values")
    spec = dict(spec)
    any_of = spec.pop(ANY_OF, None)
    plain = {str(k): _tuple(v, f"{where}: applies_when {k}") for k, v in spec.items()}
    if any_of is None:
        return plain, ()
    if (
        not isinstance(any_of, list)
        or len(any_of) < 2
        or not all(isinstance(a, dict) and a for a in any_of)
    ):
        raise InstrumentError(
            f"{where}: applies_when {ANY_OF} must be a list of two or more mappings of "
            "column -> values (the question applies when any one of them holds)"
        )
    alts = tuple(
        {str(k): _tuple(v, f"{where}: applies_when {ANY_OF} {k}") for k, v in a.items()}
        for a in any_of
    )
    return plain, alts


def _format_rule(rule: dict[str, Any], fid: str) -> dict[str, Any]:
    """A factor template's skip rule with ``{id}`` filled into its column names."""
    out: dict[str, Any] = {}
    for k, v in rule.items():
        if k == ANY_OF and isinstance(v, list):
            out[k] = [
                {c.format(id=fid): vals for c, vals in a.items()} if isinstance(a, dict) else a
                for a in v
            ]
        else:
            out[k.format(id=fid)] = v
    return out


def load_instrument(path: str | Path | None = None) -> Instrument:
    """Load, expand and check an instrument file.

    Parameters
    ----------
    path
        A YAML instrument file; the package's default instrument when omitted.

    Returns
    -------
    Instrument
        With factor items expanded into questions.

    Raises
    ------
    InstrumentError
        If the file is missing, is not YAML, or is incoherent.
    """
    path = Path(path) if path else config.DEFAULT_INSTRUMENT
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise InstrumentError(f"cannot read instrument {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(blob)
    except yaml.YAMLError as exc:
        raise InstrumentError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InstrumentError(f"{path}: expected a mapping at the top level")
    try:
        return _build(raw, path, hashlib.sha256(blob).hexdigest())
    except (KeyError, TypeError) as exc:
        raise InstrumentError(f"{path}: missing or malformed entry {exc}") from None


def _build(raw: dict[str, Any], path: Path, sha: str) -> Instrument:
    answer_sets = {}
    for sid, spec in raw["answer_sets"].items():
        codes = tuple(
            AnswerCode(code=str(c["code"]), scores=c.get("scores"), label=c.get("label"))
            for c in spec["codes"]
        )
        for c in codes:
            if c.scores not in _SCORES:
                raise InstrumentError(f"answer set {sid}: code {c.code!r} scores {c.scores!r}")
        answer_sets[sid] = AnswerSet(id=sid, label=spec.get("label", sid), codes=codes)

    outcomes = {
        o["id"]: Outcome(
            id=o["id"], number=int(o["number"]), name=o["name"], short=o.get("short", o["name"])
        )
        for o in raw["outcomes"]
    }
    stages = {
        s["id"]: Stage(id=s["id"], number=int(s["number"]), name=s["name"])
        for s in raw.get("stages", [])
    }
    criteria = {}
    for c in raw["criteria"]:
        cid = str(c["id"])
        criteria[cid] = Criterion(
            id=cid,
            outcome=c["outcome"],
            stage=c["stage"],
            title=c["title"],
            case_assessed=bool(c.get("case_assessed", True)),
        )

    case_details = {}
    for d in raw["case_details"]:
        _known_keys(d, _DETAIL_KEYS, f"case detail {d.get('id')}")
        if d.get("id") == ANY_OF:
            raise InstrumentError(
                f"a case detail may not be called {ANY_OF!r} (a skip-rule keyword)"
            )
        case_details[d["id"]] = CaseDetail(
            id=d["id"],
            label=d.get("label", d["id"]),
            type=d.get("type", "category"),
            required=bool(d.get("required", True)),
            codes=_tuple(d.get("codes"), f"case detail {d['id']}: codes"),
            min=d.get("min"),
            max=d.get("max"),
            sensitive=bool(d.get("sensitive", False)),
            description=d.get("description", ""),
            compare=bool(d.get("compare", False)),
        )
        cd = case_details[d["id"]]
        if cd.compare and (cd.type not in ("category", "text") or cd.sensitive):
            raise InstrumentError(
                f"case detail {cd.id}: compare: true needs a non-sensitive category or text "
                f"detail (this one is {'sensitive' if cd.sensitive else cd.type})"
            )

    questions: dict[str, Question] = {}

    def add(q: Question) -> None:
        if q.id == ANY_OF:
            raise InstrumentError(f"a question may not be called {ANY_OF!r} (a skip-rule keyword)")
        if q.id in questions or q.id in case_details:
            raise InstrumentError(f"duplicate column id {q.id!r}")
        questions[q.id] = q

    def make_question(spec: dict[str, Any], **extra: Any) -> Question:
        qid = str(spec["id"])
        _known_keys(spec, _QUESTION_KEYS, f"question {qid}")
        crit = str(spec["criterion"])
        if crit not in criteria:
            raise InstrumentError(f"question {qid}: unknown criterion {crit!r}")
        scored = bool(spec.get("scored", True))
        outs = _tuple(spec.get("outcomes"), f"question {qid}: outcomes") or (
            (criteria[crit].outcome,) if scored else ()
        )
        rule = _applies(spec.get("applies_when"), qid)
        return Question(
            id=qid,
            text=spec["text"],
            criterion=crit,
            answers=spec.get("answers", "yn"),
            outcomes=outs,
            scored=scored,
            applies_when=rule[0],
            applies_any=rule[1],
            short=spec.get("short", ""),
            chart=spec.get("chart"),
            min=spec.get("min"),
            max=spec.get("max"),
            description=spec.get("description", ""),
            **extra,
        )

    for spec in raw.get("questions", []):
        add(make_question(spec))

    factors = {}
    templates = raw.get("factor_items", {})
    for f in raw.get("factors", []):
        items = {}
        for item, tmpl in templates.items():
            spec = {
                k: (v.format(label=f["label"], id=f["id"]) if isinstance(v, str) else v)
                for k, v in tmpl.items()
            }
            if isinstance(tmpl.get("applies_when"), dict):
                spec["applies_when"] = _format_rule(tmpl["applies_when"], f["id"])
            spec["id"] = tmpl["id"].format(id=f["id"])
            add(make_question(spec, factor=f["id"], factor_item=item))
            items[item] = spec["id"]
        factors[f["id"]] = Factor(id=f["id"], label=f["label"], items=items)

    questions = _dependency_order(questions)
    inst = Instrument(
        id=str(raw["id"]),
        version=str(raw["version"]),
        title=raw.get("title", raw["id"]),
        source=raw.get("source", ""),
        path=path,
        sha256=sha,
        outcome_method=raw.get("scoring", {}).get("outcome_method", "question_mean"),
        answer_sets=answer_sets,
        outcomes=outcomes,
        stages=stages,
        criteria=criteria,
        case_details=case_details,
        questions=questions,
        factors=factors,
        factor_table=raw.get("factor_table", {}),
        raw=raw,
    )
    _check(inst)
    return inst


def _check(inst: Instrument) -> None:
    """Every reference in the file must resolve; raise on the first incoherence."""
    if inst.outcome_method not in ("question_mean", "criterion_mean"):
        raise InstrumentError(f"unknown scoring.outcome_method {inst.outcome_method!r}")
    for c in inst.criteria.values():
        if c.outcome not in inst.outcomes:
            raise InstrumentError(f"criterion {c.id}: unknown outcome {c.outcome!r}")
        if inst.stages and c.stage not in inst.stages:
            raise InstrumentError(f"criterion {c.id}: unknown stage {c.stage!r}")
    for q in inst.questions.values():
        if q.answers != "count" and q.answers not in inst.answer_sets:
            raise InstrumentError(f"question {q.id}: unknown answer set {q.answers!r}")
        for o in q.outcomes:
            if o not in inst.outcomes:
                raise InstrumentError(f"question {q.id}: unknown outcome {o!r}")
        if q.scored:
            aset = inst.answer_sets.get(q.answers)
            if aset is None or not aset.codes_scoring(ABOVE):
                raise InstrumentError(f"question {q.id}: scored but its answers have no 'above'")
        for rule in (q.applies_when, *q.applies_any):
            for col, values in rule.items():
                if col not in inst.questions and col not in inst.case_details:
                    raise InstrumentError(f"question {q.id}: applies_when names unknown {col!r}")
                allowed = inst.allowed_values(col)
                bad = [v for v in values if allowed and v not in allowed]
                if bad:
                    raise InstrumentError(f"question {q.id}: applies_when {col} has unknown {bad}")
        aset = inst.answer_sets.get(q.answers)
        if q.has_rule and aset is not None and aset.na_code is None:
            raise InstrumentError(f"question {q.id}: has a skip rule but no 'na' answer")
        if q.chart is not None and q.chart not in inst.outcomes:
            raise InstrumentError(f"question {q.id}: chart {q.chart!r} is not an outcome id")
    _ = inst.identifier_column


def _dependency_order(questions: dict[str, Question]) -> dict[str, Question]:
    """Order questions so every skip rule names a column that comes before it.

    Declared order is kept wherever the skip rules allow (a stable topological
    sort), so a question may depend on a factor item declared further down the
    file. The workbook's columns, validation and the generator all follow this
    order, which guarantees a gate is known before the questions it governs.

    Raises
    ------
    InstrumentError
        If skip rules form a cycle.
    """
    deps = {
        qid: [c for c in q.rule_columns if c in questions and c != qid]
        for qid, q in questions.items()
    }
    for qid, q in questions.items():
        if qid in q.rule_columns:
            raise InstrumentError(f"question {qid}: applies_when names the question itself")
    ordered: dict[str, Question] = {}
    pending = list(questions)
    while pending:
        ready = [qid for qid in pending if all(d in ordered for d in deps[qid])]
        if not ready:
            raise InstrumentError(f"skip rules form a cycle among: {', '.join(pending)}")
        nxt = ready[0]  # earliest declared question whose gates are all placed
        ordered[nxt] = questions[nxt]
        pending.remove(nxt)
    return ordered
