"""The words a report takes from its instrument: the ``presentation`` section.

A report, its tables and charts name the programme, its units ("outcome", "standard")
and their headings, and word the score of a unit, in the programme's own terms. Each of
those phrases is declared in the instrument file with the passage it comes from::

    presentation:
      programme:
        text: Inspection of adult offending work
        source: HMI Probation (2014), the report's title page.
      score_sentence:
        text: "Overall, {percent} of work to {phrase} was done well enough."
        source: ...

A phrase may use only the placeholders :data:`PHRASES` lists for it (``{programme}``,
``{unit}`` and ``{units}`` everywhere); the loader refuses an unknown phrase, a phrase
without a source and an unknown placeholder. A phrase an instrument leaves out takes the
neutral wording of :data:`PHRASES`, so an instrument without the section still reports.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from analysis.instrument.model import InstrumentError

#: Placeholders every phrase may use.
_COMMON = frozenset({"programme", "unit", "units"})

#: Each phrase: its neutral wording (used when an instrument does not declare it) and the
#: placeholders it may use besides :data:`_COMMON`.
PHRASES: dict[str, tuple[str, frozenset[str]]] = {
    "programme": ("Case inspection", frozenset()),
    "unit": ("outcome", frozenset()),
    "units": ("outcomes", frozenset()),
    "criterion_word": ("criterion", frozenset()),
    "question_word": ("question", frozenset()),
    "chart_question_word": ("key question", frozenset()),
    "report_title": ("{programme}: {organisation}", frozenset({"organisation"})),
    "aggregate_title": ("{programme}: all organisations", frozenset()),
    "unit_heading": ("{unit} {number}: {name}", frozenset({"number", "name"})),
    "unit_name": ("{number}. {name}", frozenset({"number", "name"})),
    "question_table_caption": (
        "{unit} {number}: questions judged in the cases inspected",
        frozenset({"number", "name"}),
    ),
    "unit_score": ("{unit} {number} score", frozenset({"number", "name"})),
    "summary_heading": ("Summary of scores", frozenset()),
    # How a judgement that the work was sufficient is worded: neutral wording is the
    # 2013-14 programme's ("above the line", "done well enough").
    "done_well": ("done well enough", frozenset()),
    "above_line": ("above the line", frozenset()),
    "judged_above_line": ("judged above the line", frozenset()),
    "judgements_column": ("Judgements above the line (n of N)", frozenset()),
    "summary_caption": (
        "The proportion of work judged to have been done well enough, by {unit}",
        frozenset(),
    ),
    "summary_note": (
        "A score is the share of relevant judgements, across the cases inspected, that were "
        "above the line (done well enough). See the appendix on the scoring approach.",
        frozenset(),
    ),
    "score_sentence": (
        "Overall, {percent} of the relevant judgements on {phrase} were above the line.",
        frozenset({"percent", "phrase", "name", "number"}),
    ),
    "no_score_sentence": (
        "There were too few relevant judgements to score {phrase}.",
        frozenset({"phrase", "name", "number"}),
    ),
    "scoring_appendix": (
        "Each scoring question records whether a piece of work was done well enough "
        "('above the line') in a case. Cases where a question did not apply are left out of "
        "its base. This report scores each {unit} as {method}. The two averages differ when "
        "criteria have very different numbers of judgements; the table shows both so readers "
        "can see how much the choice matters.",
        frozenset({"method"}),
    ),
    "criteria_caption": ("Criteria for the inspection", frozenset()),
    # The report's appendix that lists them ("Appendix 3: Criteria").
    "criteria_heading": ("Criteria", frozenset()),
    "factors_heading": ("Offending-related factors", frozenset()),
    "tables_intro": (
        "Tables of the findings of a case inspection, one table per sheet.",
        frozenset(),
    ),
    "aggregate_scores_note": (
        "Each score is the average, over the {unit}'s questions, of the share of relevant "
        "judgements above the line; the interval allows for judgements within a case being "
        "related. The pooled row adds up every organisation's judgements before averaging.",
        frozenset(),
    ),
    "aggregate_comparisons_note": (
        "Groups are added up across organisations. Where organisations differ both in their "
        "mix of groups and in their scores, a pooled difference can reflect the organisations "
        "rather than the groups, so read these alongside each organisation's own report.",
        frozenset(),
    ),
}

#: Settings of the section that are not phrases: ``factors_unit`` (the unit whose chapter
#: shows the offending-related factors, when there are any) and ``comparison_names``
#: (how the comparisons' opening names a variable, by case-detail id; the detail's label
#: otherwise).
SETTINGS = ("factors_unit", "comparison_names")


@dataclass(frozen=True)
class Phrase:
    """One declared phrase and the passage it comes from."""

    text: str
    source: str


@dataclass(frozen=True)
class Presentation:
    """The phrases of one instrument (declared or neutral) and its settings."""

    phrases: dict[str, Phrase] = field(default_factory=dict)
    factors_unit: str | None = None
    comparison_names: dict[str, str] = field(default_factory=dict)
    #: Where each setting comes from.
    sources: dict[str, str] = field(default_factory=dict)

    def text(self, key: str) -> str:
        """The phrase as declared (placeholders unfilled), or its neutral wording."""
        if key not in PHRASES:
            raise KeyError(f"no phrase {key!r}")
        p = self.phrases.get(key)
        return p.text if p is not None else PHRASES[key][0]

    def say(self, key: str, **fields: Any) -> str:
        """The phrase with its placeholders filled (``{programme}``, ``{unit}`` always).

        ``{unit}`` at the start of a phrase is capitalised (``Outcome 1: ...``).
        """
        values = {"programme": self.text("programme"), "units": self.text("units"), **fields}
        text = self.text(key)
        unit = self.text("unit")
        if text.startswith("{unit}"):
            text = unit[:1].upper() + unit[1:] + text[len("{unit}") :]
        return text.format(unit=unit, **values)

    @property
    def unit(self) -> str:
        """What the programme's scored units are called, lower case: ``outcome``."""
        return self.text("unit")

    @property
    def units(self) -> str:
        """The plural: ``outcomes``."""
        return self.text("units")

    def word(self, key: str, capital: bool = False, plural: bool = False) -> str:
        """One of the words phrases (``criterion_word``, ...): ``Criterion``, ``prompts``."""
        text = self.text(key) + ("s" if plural else "")
        return text[:1].upper() + text[1:] if capital else text

    @property
    def Unit(self) -> str:  # noqa: N802 - the capitalised word, as a heading starts it
        """``Outcome``."""
        return self.unit[:1].upper() + self.unit[1:]


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _source(spec: dict[str, Any], where: str) -> str:
    source = spec.get("source")
    if not isinstance(source, str) or not source.strip():
        raise InstrumentError(f"{where}: every item must cite its source (source: ...)")
    return " ".join(source.split())


def load_presentation(spec: Any, outcomes: dict[str, Any], details: dict[str, Any]) -> Presentation:
    """The ``presentation`` section, checked: known phrases, sources and placeholders.

    ``outcomes`` and ``details`` are the instrument's units and case details, which the
    settings may name.
    """
    if spec is None:
        return Presentation()
    if not isinstance(spec, dict):
        raise InstrumentError("presentation must be a mapping of phrase -> {text, source}")
    phrases: dict[str, Phrase] = {}
    sources: dict[str, str] = {}
    factors_unit = None
    names: dict[str, str] = {}
    for key, item in spec.items():
        where = f"presentation {key}"
        if key not in PHRASES and key not in SETTINGS:
            known = sorted([*PHRASES, *SETTINGS])
            raise InstrumentError(f"{where}: unknown item (known: {', '.join(known)})")
        if not isinstance(item, dict) or set(item) - {"text", "source"} or "text" not in item:
            raise InstrumentError(f"{where}: must be a mapping with text and source")
        source = _source(item, where)
        text = item["text"]
        if key == "factors_unit":
            if str(text) not in outcomes:
                raise InstrumentError(f"{where}: {text!r} is not a unit (outcome) id")
            factors_unit = str(text)
        elif key == "comparison_names":
            if not isinstance(text, dict):
                raise InstrumentError(f"{where}: text must map case-detail ids to names")
            bad = sorted(str(k) for k in text if k not in details)
            if bad:
                raise InstrumentError(f"{where}: {bad} are not case details")
            names = {str(k): " ".join(str(v).split()) for k, v in text.items()}
        else:
            if not isinstance(text, str) or not text.strip():
                raise InstrumentError(f"{where}: text must be a non-empty string")
            text = " ".join(text.split())
            unknown = _placeholders(text) - _COMMON - PHRASES[key][1]
            if unknown:
                allowed = sorted(_COMMON | PHRASES[key][1])
                raise InstrumentError(
                    f"{where}: unknown placeholder(s) {sorted(unknown)} (allowed: {allowed})"
                )
            phrases[key] = Phrase(text=text, source=source)
            continue
        sources[key] = source
    return Presentation(
        phrases=phrases, factors_unit=factors_unit, comparison_names=names, sources=sources
    )
