"""The inspection instrument (questions, criteria, outcomes, factors, scoring rules) as data.

An instrument is one versioned YAML file (see ``docs/instrument-format.md``); another
inspection programme is a new file, not new code. This module holds what a loaded
instrument is made of: dataclasses, with the look-ups the rest of the suite uses;
:mod:`analysis.instrument.loader` reads and checks the file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

#: How an answer code counts in a score.
ABOVE, BELOW, NA = "above", "below", "na"

# Every kind of space a cell may hold, including the non-breaking and zero-width ones
# pasted in from Word and web pages.
_SPACES = re.compile(r"[\s\u00a0\u2007\u202f\u200b\ufeff]+")


def answer_key(text: str) -> str:
    """The spelling an answer is matched by: NFC, case-folded, without spaces.

    ``"Nac  ydy"``, ``"nac ydy"`` and ``"NAC\u00a0YDY"`` are one answer; ``"Na"`` and
    ``"N/A"`` are not. Ingest and the loader's alias checks both use this.
    """
    # NFC after case-folding, which can decompose (an NFD "é" and an NFC one are one key).
    return unicodedata.normalize("NFC", _SPACES.sub("", text).casefold())


#: A condition: column -> the codes it must hold (all conditions of a mapping must hold).
Conditions = dict[str, tuple[str, ...]]


def conditions_mask(
    when: Conditions,
    any_of: tuple[Conditions, ...],
    member: Callable[[str, tuple[str, ...]], Any],
    n: int,
) -> Any:
    """Boolean numpy mask of the cases meeting ``when`` and (if any) one of ``any_of``.

    The one implementation of the condition logic shared by skip rules
    (:meth:`Question.rule_mask`) and consistency rules (:meth:`ConsistencyRule.mask`):
    every condition of ``when`` must hold (AND) and, when ``any_of`` has alternatives,
    every condition of at least one of them (OR of ANDs). ``member(column, values)``
    returns the mask of cases whose ``column`` holds one of ``values``.
    """
    mask = np.ones(n, dtype=bool)
    for col, values in when.items():
        mask &= member(col, values)
    if any_of:
        alternatives = np.zeros(n, dtype=bool)
        for alt in any_of:
            one = np.ones(n, dtype=bool)
            for col, values in alt.items():
                one &= member(col, values)
            alternatives |= one
        mask &= alternatives
    return mask


def conditions_text(
    when: Conditions, any_of: tuple[Conditions, ...], column: Callable[[str], str] = str
) -> str:
    """Conditions in words: ``report_type is Typed and (a is X, or b is Y or Z)``."""

    def conds(rule: Conditions) -> list[str]:
        return [f"{column(c)} is {' or '.join(v)}" for c, v in rule.items()]

    parts = conds(when)
    if any_of:
        alts = [" and ".join(conds(a)) for a in any_of]
        either = ", or ".join(alts)
        parts.append(f"({either})" if parts else either)
    return " and ".join(parts)


class InstrumentError(ValueError):
    """The instrument file itself is malformed or incoherent."""


@dataclass(frozen=True)
class AnswerCode:
    """One allowed answer and how it scores."""

    code: str
    scores: str | None = None  # above / below / na, or None for a descriptive category
    label: str | None = None


@dataclass(frozen=True)
class AnswerAlias:
    """Another way of writing an answer code: ``Na`` is Welsh for ``No``.

    ``language`` is an id of the instrument's ``languages`` (``cy``), or None for a
    spelling that means the same in every language (``TRUE``, ``1``). ``source`` says
    where the meaning comes from, so that no alias is a guess.
    """

    text: str
    code: str
    language: str | None
    source: str


@dataclass(frozen=True)
class AnswerSet:
    """A named set of allowed answers (``yn``, ``review``, ...)."""

    id: str
    label: str
    codes: tuple[AnswerCode, ...]
    #: Aliases declared for this set alone (the instrument's global ones apply as well).
    aliases: tuple[AnswerAlias, ...] = ()

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
    #: How a score sentence names the unit's work ("protect the public ..."); empty: derived
    #: from ``name`` by the report.
    phrase: str = ""
    #: The passage the unit is declared from (empty: the instrument's ``source``).
    source: str = ""


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
    #: The passage the criterion (or key question) is declared from.
    source: str = ""


@dataclass(frozen=True)
class CaseDetail:
    """A case-detail column (trust, LDU, grade, gender, ...)."""

    id: str
    label: str
    type: str  # identifier | category | text | count | free_text | date
    required: bool = True
    codes: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    sensitive: bool = False  # never leaves the machine in an output
    description: str = ""
    compare: bool = False  # the engine compares groups of cases by this detail
    source: str = ""  # the passage the detail is declared from


#: Comparisons a date skip rule may make between two date columns (``applies_when: dates``).
DATE_OPERATORS = ("before", "on_or_before", "after", "on_or_after", "within_days")


@dataclass(frozen=True)
class DateCondition:
    """A skip-rule condition between two date columns: ``column`` ``op`` ``other``.

    ``before`` / ``on_or_before`` / ``after`` / ``on_or_after`` compare the two dates;
    ``within_days`` holds when they are at most ``days`` days apart (either way). A case
    where either date is blank meets no condition.
    """

    column: str
    op: str
    other: str
    days: int = 0

    def mask(self, a: Any, b: Any) -> Any:
        """Boolean mask from two ``datetime64`` arrays (NaT: condition not met)."""
        a, b = np.asarray(a, dtype="datetime64[D]"), np.asarray(b, dtype="datetime64[D]")
        known = ~np.isnat(a) & ~np.isnat(b)
        with np.errstate(invalid="ignore"):
            diff = (a - b).astype("int64")  # days; meaningless where NaT, masked by known
        hit = {
            "before": diff < 0,
            "on_or_before": diff <= 0,
            "after": diff > 0,
            "on_or_after": diff >= 0,
            "within_days": np.abs(diff) <= self.days,
        }[self.op]
        return known & hit

    def text(self, column: Callable[[str], str] = str) -> str:
        """The condition in words: ``first_contact is within 5 days of sentence_date``."""
        if self.op == "within_days":
            return f"{column(self.column)} is within {self.days} days of {column(self.other)}"
        return f"{column(self.column)} is {self.op.replace('_', ' ')} {column(self.other)}"


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
    #: The passage the question (or prompt) is declared from.
    source: str = ""
    #: Date conditions of the skip rule (``applies_when: dates``), all of which must hold.
    applies_dates: tuple[DateCondition, ...] = ()

    @property
    def label(self) -> str:
        """Short label for charts and tables."""
        return self.short or self.text

    @property
    def has_rule(self) -> bool:
        """Whether a skip rule says when the question applies."""
        return bool(self.applies_when or self.applies_any or self.applies_dates)

    @property
    def rule_columns(self) -> list[str]:
        """Every column the skip rule reads, in the order the rule names them."""
        cols = list(self.applies_when)
        for alt in self.applies_any:
            cols += [c for c in alt if c not in cols]
        for d in self.applies_dates:
            cols += [c for c in (d.column, d.other) if c not in cols]
        return cols

    def date_mask(self, dates: Callable[[str], Any], n: int) -> Any:
        """Boolean mask of the cases meeting every date condition (all true without any).

        ``dates(column)`` returns the column as ``datetime64`` values. Callers combine it
        with :meth:`rule_mask` (``rule_mask(...) & date_mask(...)``).
        """
        mask = np.ones(n, dtype=bool)
        for d in self.applies_dates:
            mask &= d.mask(dates(d.column), dates(d.other))
        return mask

    def full_rule_text(self, column: Callable[[str], str] = str) -> str:
        """:meth:`rule_text` with the date conditions, if any."""
        parts = [self.rule_text(column)] if (self.applies_when or self.applies_any) else []
        parts += [d.text(column) for d in self.applies_dates]
        return " and ".join(parts)

    def rule_mask(self, member: Callable[[str, tuple[str, ...]], Any], n: int) -> Any:
        """Boolean numpy mask of the cases the skip rule lets the question apply to.

        ``member(column, values)`` returns the mask of cases whose ``column`` holds one of
        ``values``; ingest, the generator and the calibration each pass their own, so the
        rule's logic lives in :func:`conditions_mask` once.
        """
        return conditions_mask(self.applies_when, self.applies_any, member, n)

    def rule_text(self, column: Callable[[str], str] = str) -> str:
        """The skip rule in words: ``report_type is Typed and (a is X, or b is Y or Z)``.

        ``column`` formats a column id (e.g. in backticks for markdown).
        """
        return conditions_text(self.applies_when, self.applies_any, column)


#: Kinds of consistency rule (the areas of the inspection's logic they cover).
RULE_KINDS = (
    "compliance",
    "enforcement",
    "review",
    "assessment-plan",
    "victims-children",
    "mappa-visor",
    "factors",
    "licence",
    "approved-premises",
    "rosh-rmp",
)
#: How a broken consistency rule counts: ``error`` stops the ingest, ``warning`` is recorded.
RULE_SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class ConsistencyRule:
    """An implication between answers: when its conditions hold, ``then_column`` is in ``allowed``.

    The conditions are ``when`` (all) and, if given, one of ``any_of``.

    A rule is judged only on the cases its ``then_column``'s own skip rule lets that
    column apply to: where the column is skipped (filled with its not-applicable code by
    the skip rule) the rule does not fire. Where the column applies, any code outside
    ``allowed``, its not-applicable code included, breaks the rule.
    """

    id: str
    kind: str
    when: dict[str, tuple[str, ...]]
    any_of: tuple[dict[str, tuple[str, ...]], ...]
    then_column: str
    allowed: tuple[str, ...]
    severity: str
    message: str
    source: str

    @property
    def columns(self) -> list[str]:
        """Every column the rule reads: its conditions' columns, then ``then_column``."""
        cols = list(self.when)
        for alt in self.any_of:
            cols += [c for c in alt if c not in cols]
        return [*cols, self.then_column]

    def mask(self, member: Callable[[str, tuple[str, ...]], Any], n: int) -> Any:
        """Boolean numpy mask of the cases the rule's conditions hold for.

        Same logic (and ``member``) as :meth:`Question.rule_mask`. It does not include
        the ``then_column``'s own skip rule; :meth:`Instrument.rule_applies` does.
        """
        return conditions_mask(self.when, self.any_of, member, n)

    def when_text(self, column: Callable[[str], str] = str) -> str:
        """The conditions in words."""
        return conditions_text(self.when, self.any_of, column)

    def then_text(self, column: Callable[[str], str] = str) -> str:
        """What must follow, in words: ``d_x must be "A"`` or ``d_x must be one of "A", "B"``.

        Codes are quoted: some hold commas (``Action taken, complied``).
        """
        codes = ", ".join(f'"{v}"' for v in self.allowed)
        one = "" if len(self.allowed) == 1 else "one of "
        return f"{column(self.then_column)} must be {one}{codes}"


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
    #: Languages answers may be written in: id -> name (``{"en": "English", "cy": "Welsh"}``).
    languages: dict[str, str] = field(default_factory=dict)
    #: Aliases that apply to every coded column holding their code (``answer_aliases``).
    answer_aliases: tuple[AnswerAlias, ...] = ()
    #: The wording scale its reports use (``wording:``, beside the instrument file), if named.
    wording_path: Path | None = None
    #: The words reports take from the instrument (``presentation``), an
    #: :class:`analysis.instrument.presentation.Presentation`; set by the loader.
    presentation: Any = None
    #: Consistency rules between answers (``consistency``), checked by ingest.
    consistency: tuple[ConsistencyRule, ...] = ()
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    #: Key questions (``key_questions``): id -> :class:`analysis.instrument.standards.KeyQuestion`.
    key_questions: dict[str, Any] = field(default_factory=dict)
    #: Ratings (``ratings``): :class:`analysis.instrument.standards.Ratings`, or None.
    ratings: Any = None
    #: Samples (``samples``): :class:`analysis.instrument.standards.Samples`, or None.
    samples: Any = None

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

    def aliases(self, column: str) -> tuple[AnswerAlias, ...]:
        """Aliases that apply to a coded column: its answer set's, then the global ones.

        A global alias applies only where its code is one of the column's allowed values, so
        ``Na`` (No) never reaches the ``review`` answers, which have no ``No``.
        """
        allowed = set(self.allowed_values(column))
        own: tuple[AnswerAlias, ...] = ()
        if column in self.questions:
            aset = self.answer_set(column)
            own = aset.aliases if aset else ()
        return own + tuple(a for a in self.answer_aliases if a.code in allowed)

    def coded_columns(self) -> list[str]:
        """Columns whose values come from a fixed code list."""
        return [c for c in self.columns if self.allowed_values(c)]

    @cached_property
    def date_columns(self) -> list[str]:
        """Case details of ``type: date``."""
        return [c.id for c in self.case_details.values() if c.type == "date"]

    def sample_of(self, question: str) -> str | None:
        """The id of the sample a question belongs to (None: every case, or no samples)."""
        if self.samples is None:
            return None
        q = self.questions[question]
        for s in self.samples.groups:
            if question in s.questions or q.criterion in s.criteria:
                return s.id
        return None

    def rule_applies(
        self, rule: ConsistencyRule, member: Callable[[str, tuple[str, ...]], Any], n: int
    ) -> Any:
        """Mask of the cases a consistency rule judges.

        Its conditions hold and its ``then_column``'s own skip rule (if it is a question
        with one) lets that column apply.
        """
        mask = rule.mask(member, n)
        q = self.questions.get(rule.then_column)
        if q is not None and q.has_rule:
            mask &= q.rule_mask(member, n)
        return mask

    def summary(self) -> dict[str, int]:
        """Number of scored questions per outcome (for notes and the dictionary)."""
        return {o: len(self.questions_for_outcome(o)) for o in self.outcomes}
