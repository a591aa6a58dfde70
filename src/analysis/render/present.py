"""Every presentation decision, made once, for charts, report prose, Excel tables and the aggregate.

A figure is read from the findings table and then shown in several places: a bar label,
a sentence, a report table, a spreadsheet cell. They agree because every choice about
*how* a figure is shown is made here, and only here:

Rounding
    Halves round away from zero (62.5% -> "63%", 2.5 -> 3, -2.5 -> -3), as readers and
    Excel's ROUND do, never to the even neighbour as Python's ``round`` and ``:.0f`` do.
    The number rounded is the shortest decimal that prints the float (what ``str`` shows),
    so 2.675 rounds to 2.68 although the float stored is a hair below it.
Wording of numbers
    "63%", "50 of 80", "63% (50 of 80)", intervals "52 to 72", "p = 0.03" / "p < 0.001";
    a figure that does not exist is "–" in HTML and ``[z]`` in charts and spreadsheets.
Markers
    :data:`MARKERS`, the Analysis Function's shorthand: ``[c]`` suppressed, ``[u]`` low
    reliability (a small base), ``[x]`` not available, ``[z]`` not applicable, with their
    meanings; :func:`markers_for` says which can occur for an audience. The findings table
    keeps its flag ``low``: only how it is shown changed (it was shown as ``[low]``).
Order
    Lists follow the report's fixed order where it has one (:data:`COMPARISON_ORDER`,
    :data:`PROFILE_ORDER`), then the instrument's declared order; rankings (factors by
    prevalence, differences by adjusted p, questions by percent) break ties by declared
    order. Anything the instrument does not declare (free-text groups such as LDUs,
    unknown ids) follows in findings order: that is the one tie-break, everywhere.
Names
    :func:`trust_display_name` for organisations, :func:`variable_label` for the case
    details a comparison is split by.
Most prevalent factors
    :func:`factors` ranks them, :func:`factor_groups` says which are "most prevalent" and
    :func:`most_common` which are the most common.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from analysis import config
from analysis.engine.findings import flag_set, number
from analysis.render.textsafe import lc_first

if TYPE_CHECKING:
    from analysis.instrument import Instrument

T = TypeVar("T")
H = TypeVar("H", bound=Hashable)

#: What HTML shows for a figure that does not exist (no score, no interval).
MISSING = "–"


# -- numbers ---------------------------------------------------------------------------


def is_missing(x: Any) -> bool:
    """True for None, ``pd.NA`` and NaN: a value with nothing to show."""
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def round_half_up(x: float, ndigits: int = 0) -> float:
    """Round as readers do: halves away from zero (0.5 -> 1, 2.5 -> 3, 62.45 -> 62.5 at 1 dp).

    Parameters
    ----------
    x
        The value; its shortest printed decimal (``str(float(x))``) is what is rounded.
    ndigits
        Decimal places kept.

    Returns
    -------
    float
        The rounded value.
    """
    step = Decimal(1).scaleb(-ndigits)
    return float(Decimal(str(float(x))).quantize(step, rounding=ROUND_HALF_UP))


def whole(x: float) -> int:
    """``x`` rounded half up to a whole number (counts, whole percentages)."""
    return int(round_half_up(x))


def fmt_num(x: Any, ndigits: int = 0) -> str:
    """``x`` rounded half up to ``ndigits`` places, as text (``-3``, ``62.5``); "–" if missing."""
    if is_missing(x):
        return MISSING
    # + 0.0 turns a negative zero (-0.3 rounded) into 0, so no "-0" is printed.
    return f"{round_half_up(float(x), ndigits) + 0.0:.{ndigits}f}"


def fmt_pct(x: Any, ndigits: int = 0) -> str:
    """A 0-100 percentage as text: ``62.5`` -> ``"63%"`` (``"62.5%"`` at 1 dp); "–" if missing."""
    return MISSING if is_missing(x) else f"{fmt_num(x, ndigits)}%"


def fmt_int(x: Any) -> str:
    """A count with thousands separators (``2453`` -> ``"2,453"``); "–" if missing."""
    return MISSING if is_missing(x) else f"{whole(float(x)):,}"


def fmt_ci(lo: Any, hi: Any, ndigits: int = 0, unit: str = "") -> str:
    """An interval: ``"52 to 72"`` (``unit="%"``, 1 dp: ``"51.5% to 72.3%"``); "–" if missing."""
    if is_missing(lo) or is_missing(hi):
        return MISSING
    return f"{fmt_num(lo, ndigits)}{unit} to {fmt_num(hi, ndigits)}{unit}"


def fmt_p(p: Any) -> str:
    """A p value: two decimal places, three below 0.01, and ``"<0.001"`` below 0.001."""
    if is_missing(p):
        return MISSING
    p = float(p)
    return "<0.001" if p < 0.001 else fmt_num(p, 3) if p < 0.01 else fmt_num(p, 2)


def p_cell(p: Any) -> float | str:
    """A p value for a spreadsheet cell: a number at 3 decimals, or the text ``"<0.001"``.

    Below 0.001 the rounded number would read 0, which no test gives, so the cell says
    ``"<0.001"`` as the report's text does; a missing value is ``"[x]"``.
    """
    if is_missing(p):
        return X.symbol
    p = float(p)
    return "<0.001" if p < 0.001 else round_half_up(p, 3)


def p_equals(p: Any) -> str:
    """``"p = 0.03"``, or ``"p < 0.001"`` for a tiny value (never ``"p = <0.001"``)."""
    text = fmt_p(p)
    return f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"


def n_of_n(n: Any, d: Any) -> str:
    """``"50 of 80"``: a numerator and its base."""
    return f"{fmt_int(n)} of {fmt_int(d)}"


def pct_n_of_n(percent: Any, n: Any, d: Any) -> str:
    """``"63% (50 of 80)"``; just ``"63%"`` when the counts are missing."""
    if math.isnan(number(n)) or math.isnan(number(d)):
        return fmt_pct(percent)
    return f"{fmt_pct(percent)} ({n_of_n(n, d)})"


def plural(n: int, word: str) -> str:
    """'1 question', '2 questions'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def and_list(words: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c' ('' for no words)."""
    if not words:
        return ""
    return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]


# -- markers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    """A shorthand marker shown in place of, or beside, a figure.

    Attributes
    ----------
    symbol
        What is shown (``[c]``).
    meaning
        Short meaning, for keys and footnotes ("suppressed to protect confidentiality").
    explanation
        The full note, for the notes sheet of the Excel tables.
    """

    symbol: str
    meaning: str
    explanation: str


C = Marker(
    "[c]",
    "suppressed to protect confidentiality",
    "Suppressed: the value is withheld to protect confidentiality because it, or its "
    f"complement, counts fewer than {config.SUPPRESSION_THRESHOLD} cases, or because it "
    "would reveal another suppressed value.",
)
LOW = Marker(
    "[u]",
    f"low reliability: fewer than {config.LOW_BASE_THRESHOLD} relevant cases",
    f"Low reliability: the base is fewer than {config.LOW_BASE_THRESHOLD} relevant cases, so "
    "the percentage can change a lot with one case; treat it with caution. [u] is the "
    "Analysis Function's marker for low reliability; earlier versions of these outputs "
    "showed [low]. The findings table's flag for it is still low.",
)
#: The Analysis Function's name for :data:`LOW`.
U = LOW
X = Marker(
    "[x]",
    "not available",
    "Not available: the figure applies to this row but the findings hold no value for it, "
    "for example an interval or test that could not be computed.",
)
Z = Marker(
    "[z]",
    "not applicable",
    "Not applicable: the figure does not apply to this row, for example a percentage of a "
    "question that applied to no case, or a base on the row counting all cases.",
)
#: Every marker, in the order keys list them (alphabetical, as the guidance lists them).
MARKERS = (C, LOW, X, Z)
#: Every marker's symbol.
MARKER_SYMBOLS = frozenset(m.symbol for m in MARKERS)
#: Findings flags that mean a figure is suppressed (primary ``c`` or ``secondary``).
SUPPRESSED_FLAGS = frozenset({"c", "secondary"})


def _flags(flags: Any) -> set[str] | frozenset[str]:
    """A findings ``flags`` cell (``"low;c"``) or an already split set, as a set."""
    return flags if isinstance(flags, set | frozenset) else flag_set(flags)


def is_suppressed(flags: Any) -> bool:
    """True when a findings row's flags (cell or set) suppress it (``c`` or ``secondary``)."""
    return bool(_flags(flags) & SUPPRESSED_FLAGS)


def is_low(flags: Any) -> bool:
    """True when a row's base is under :data:`analysis.config.LOW_BASE_THRESHOLD` (flag ``low``)."""
    return "low" in _flags(flags)


def is_low_base(denominator: Any, threshold: int = config.LOW_BASE_THRESHOLD) -> bool:
    """The low-base rule itself: a base under :data:`analysis.config.LOW_BASE_THRESHOLD`.

    What the engine flags ``low`` in the findings (its disclosure rule 1), for figures
    computed outside them (the explore notebook); False when the base is missing.
    """
    d = number(denominator)
    return not math.isnan(d) and d < threshold


def markers(flags: Any) -> str:
    """The markers a findings row carries, as shown beside it: ``"[u] [c]"``, or ``""``."""
    shown = [LOW.symbol] if is_low(flags) else []
    return " ".join(shown + ([C.symbol] if is_suppressed(flags) else []))


def marker_key(shown: Iterable[Marker], sep: str = "; ") -> str:
    """``"[c] suppressed to protect confidentiality; [u] low reliability: fewer than 10 ..."``."""
    listed = set(shown)
    return sep.join(f"{m.symbol} {m.meaning}" for m in MARKERS if m in listed)


def markers_for(
    audience: str, flags: Iterable[Any] = (), used: Iterable[str] | None = None
) -> tuple[Marker, ...]:
    """The markers that can occur in an audience's outputs, in :data:`MARKERS` order.

    Only publication suppresses, so ``[c]`` belongs to publication outputs, and to an
    internal output only when its findings do carry a suppression flag.

    Parameters
    ----------
    audience
        ``internal`` or ``publication``.
    flags
        The findings' ``flags`` values.
    used
        When given, the texts an output shows (cells, labels): only markers found among
        them are kept, so a key never explains a marker the reader cannot meet.
    """
    has_c = audience == "publication" or any(is_suppressed(f) for f in flags)
    keep = tuple(m for m in MARKERS if m is not C or has_c)
    if used is None:
        return keep
    found = {w for text in used for w in str(text).split() if w in MARKER_SYMBOLS}
    return tuple(m for m in keep if m.symbol in found)


def missing_marker(denominator: Any) -> Marker:
    """The marker for a figure the findings do not hold: [z] on a base of 0, else [x].

    A percentage (or its interval) of a question that applied to no case does not
    exist: not applicable. Any other gap is a figure that should exist: not available.
    """
    d = number(denominator)
    return Z if not math.isnan(d) and d == 0 else X


# -- names -----------------------------------------------------------------------------

#: Words kept in lower case inside an organisation's name ("Newcastle upon Tyne").
_SMALL_WORDS = frozenset({"and", "of", "the", "in", "on", "upon"})
#: Words for comparison variables when the instrument gives no label.
GROUP_VAR_LABELS = {
    "om_grade": "offender manager grade",
    "gender": "gender",
    "ldu": "local delivery unit",
}


def words(instrument: Instrument | None) -> Any:
    """The instrument's phrases (:class:`analysis.instrument.Presentation`), neutral without one.

    Every title, heading and sentence that names the programme or its units comes from here.
    """
    from analysis.instrument import Presentation

    found = getattr(instrument, "presentation", None)
    return found if found is not None else Presentation()


def unit_number(outcome: str, instrument: Instrument | None = None) -> int:
    """Where a unit (outcome id) comes in the report: its declared ``number``.

    Without the instrument, or for an id it does not declare, the id's first number
    (``O3`` -> 3; 999 when it has none), as before units were numbered by the instrument.
    """
    if instrument is not None and outcome in instrument.outcomes:
        return instrument.outcomes[outcome].number
    m = re.search(r"\d+", outcome or "")
    return int(m.group()) if m else 999


def rating_badge(instrument: Instrument | None, label: Any) -> dict[str, str]:
    """A rating's words and its band's CSS class (``rating-good``); never a colour alone.

    ``label`` is a findings ``category`` (the rating's label); none is "Not rated", shown
    in the neutral band (``rating-none``).
    """
    text = "" if is_missing(label) else str(label)
    ratings = getattr(instrument, "ratings", None)
    rid = ratings.rating_of_label(text) if ratings is not None and text else None
    return {"text": text or "Not rated", "cls": f"rating-{rid}" if rid else "rating-none"}


def rating_basis(method: Any, instrument: Instrument | None, ids: str = "criterion") -> str:
    """What a rating rests on, in the instrument's words, from its findings ``method``.

    The engine names the key question (or measure) a rating rests on by id in the
    method's first clause ("lowest key question: kq_2.1.3"); readers get its wording:
    "lowest key question, 2.1.3: Does assessment focus sufficiently on keeping other
    people safe?". ``ids`` says which id keeps it traceable: ``"criterion"`` (2.1.3, as
    the report's tables number key questions), ``"both"`` (``2.1.3 (kq_2.1.3)``, as
    tables.xlsx, whose rows trace to findings.csv's ``measure_id``) or ``"id"``. A clause
    naming nothing the instrument declares is returned unchanged.
    """
    first = str(method or "").split(";")[0].strip()
    kqs = getattr(instrument, "key_questions", None) or {}
    questions = getattr(instrument, "questions", None) or {}

    def ref(mid: str) -> tuple[str, str] | None:
        item = kqs.get(mid) or questions.get(mid)
        if item is None:
            return None
        crit = getattr(item, "criterion", None) or ""
        if ids == "id" or not crit:
            shown = mid
        else:
            shown = crit if ids == "criterion" else f"{crit} ({mid})"
        return shown, item.text

    for head, word in (("lowest key question: ", "lowest key question"), ("measure ", "measure")):
        if first.startswith(head):
            found = ref(first.removeprefix(head).strip())
            return f"{word}, {found[0]}: {found[1]}" if found else first
    if first.startswith("mean of "):
        found = [ref(m.strip()) for m in first.removeprefix("mean of ").split(",")]
        if found and all(found):
            told = "; ".join(f"{f[0]}: {f[1]}" for f in found if f)
            return f"mean of key questions {told}"
    return first


def trust_display_name(slug: str) -> str:
    """``newcastle-upon-tyne`` -> ``Newcastle upon Tyne`` (plain text: escape on output)."""
    words = [w for w in re.split(r"[-_\s]+", str(slug)) if w]
    return " ".join(
        w if (i and w in _SMALL_WORDS) else w[:1].upper() + w[1:] for i, w in enumerate(words)
    )


def variable_label(group_var: str, instrument: Instrument | None = None) -> str:
    """How a sentence names a comparison variable: ``"offender manager grade"``.

    The instrument's label with its first letter lowered (acronyms keep their capitals:
    "OASys RoSH classification at start"); without one, :data:`GROUP_VAR_LABELS`.
    """
    if instrument is not None and group_var in instrument.case_details:
        return lc_first(instrument.case_details[group_var].label)
    return GROUP_VAR_LABELS.get(group_var, group_var.replace("_", " "))


# -- order -----------------------------------------------------------------------------

#: Comparison variables in the reference report's order; others follow.
COMPARISON_ORDER = ("om_grade", "gender", "ldu")
#: The reference report's Appendix 2 order of the sample profile; others follow.
PROFILE_ORDER = ("case_type", "gender", "rosh_start", "ethnicity", "principal_offence")


def ordered(items: Iterable[H], *orders: Sequence[H]) -> list[H]:
    """The distinct ``items`` in the first of ``orders`` that lists them, then as given.

    ``ordered(["ldu", "rosh_start", "om_grade"], COMPARISON_ORDER)`` is
    ``["om_grade", "ldu", "rosh_start"]``: items listed by an earlier order come first,
    and items no order lists keep their given (findings) order at the end.
    """
    positions = [{x: i for i, x in enumerate(o)} for o in orders]

    def key(item: H) -> tuple[int, int]:
        for level, pos in enumerate(positions):
            if item in pos:
                return level, pos[item]
        return len(positions), 0

    return sorted(dict.fromkeys(items), key=key)


def ranked(
    items: Iterable[T],
    value: Callable[[T], float],
    ident: Callable[[T], Hashable],
    declared: Sequence[Hashable] = (),
    descending: bool = True,
) -> list[T]:
    """``items`` by ``value`` (largest first unless ``descending`` is False).

    Ties keep the ``declared`` order of their ``ident``; items ``declared`` does not list
    follow those it does, in their given order. The order of ties is the same whichever
    way the ranking runs, so the first of two equal items is the same at either end.
    """
    pos = {x: i for i, x in enumerate(declared)}
    sign = -1.0 if descending else 1.0

    def key(item: T) -> tuple[bool, float, int]:
        v = value(item)
        return math.isnan(v), sign * v if not math.isnan(v) else 0.0, pos.get(ident(item), len(pos))

    return sorted(items, key=key)  # stable: the given order settles what is left


def question_order(ids: Iterable[str], instrument: Instrument | None) -> list[str]:
    """Question ids in the instrument's declared order (unknown ids last, as given)."""
    return ordered(ids, list(instrument.questions) if instrument is not None else [])


def comparison_vars(present: Iterable[str], instrument: Instrument | None = None) -> list[str]:
    """Comparison variables in report order, then declared order, then as given."""
    declared = list(instrument.case_details) if instrument is not None else []
    return [v for v in ordered(present, COMPARISON_ORDER, declared) if v]


def profile_columns(present: Iterable[str], instrument: Instrument | None = None) -> list[str]:
    """Sample-profile columns in Appendix 2 order, then declared order, then as given."""
    declared = list(instrument.case_details) if instrument is not None else []
    return [c for c in ordered(present, PROFILE_ORDER, declared) if c]


def group_order(
    groups: Iterable[str], group_var: str, instrument: Instrument | None = None
) -> list[str]:
    """A comparison's groups: the variable's declared codes first, then as given."""
    detail = instrument.case_details.get(group_var) if instrument is not None else None
    return ordered(groups, list(detail.codes) if detail is not None and detail.codes else [])


def by_significance(
    rows: Sequence[Mapping[str, Any]], instrument: Instrument | None = None
) -> list[Mapping[str, Any]]:
    """Difference rows by adjusted p, smallest first; ties in declared question order."""
    declared = list(instrument.questions) if instrument is not None else []
    return ranked(
        rows,
        lambda r: number(r["p_adjusted"]),
        lambda r: r["measure_id"],
        declared,
        descending=False,
    )


def breakdown_questions(findings: pd.DataFrame, instrument: Instrument) -> list[str]:
    """Questions whose answers are broken down: those with more than two scoring answers.

    Those are the review and oversight questions (sufficient / insufficient / none),
    which the reference report draws as pies; in declared order, unknown ids last.
    """
    ids = findings.loc[findings["kind"] == "breakdown", "measure_id"]
    keep = []
    for q in dict.fromkeys(ids):
        aset = instrument.answer_set(q) if q in instrument.questions else None
        if aset is None or len([c for c in aset.codes if c.scores in ("above", "below")]) > 2:
            keep.append(q)
    return question_order(keep, instrument)


# -- factors ---------------------------------------------------------------------------

#: Factor item ids a findings table carries when no instrument names them.
_FACTOR_ID = re.compile(r"^f_(?P<factor>.+)_(?P<item>identified|interventions|progress)$")
#: The groups of the report's table 3.5.
MOST_PREVALENT = "Most prevalent factors"
OTHER_COMMON = "Other common factors"


@dataclass
class Factor:
    """One offending-related factor with its findings rows, keyed by item.

    Attributes
    ----------
    id, label
        The factor (``alcohol``, "alcohol misuse").
    rows
        ``identified`` and, where present, ``interventions`` and ``progress`` rows.
    """

    id: str
    label: str
    rows: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def identified(self) -> Mapping[str, Any]:
        """The prevalence row: cases where the factor was identified, of those inspected."""
        return self.rows["identified"]

    @property
    def hidden(self) -> bool:
        """True when its prevalence is suppressed."""
        return is_suppressed(self.identified["flags"])

    @property
    def prevalence(self) -> float:
        """Cases where it was identified (NaN when missing)."""
        return number(self.identified["numerator"])


def factors(
    findings: pd.DataFrame, instrument: Instrument | None = None, hide_suppressed: bool = True
) -> list[Factor]:
    """The factors of the findings in table 3.5 order: by prevalence, ties in declared order.

    Parameters
    ----------
    findings
        Findings of one organisation; its ``factor`` rows are read.
    instrument
        Supplies labels, item ids and the declared order (without it, factors are
        recognised from ``f_<factor>_<item>`` ids and ties keep findings order).
    hide_suppressed
        A suppressed prevalence sorts last, so the order does not reveal it; internal
        tables, which show the value, pass False.

    Returns
    -------
    list[Factor]
        Factors with an ``identified`` row.
    """
    item_of: dict[str, tuple[str, str]] = {}
    labels: dict[str, str] = {}
    declared: list[str] = []
    if instrument is not None:
        for f in instrument.factors.values():
            labels[f.id] = f.label
            declared.append(f.id)
            for item, qid in f.items.items():
                item_of[qid] = (f.id, item)
    found: dict[str, Factor] = {}
    for r in findings[findings["kind"] == "factor"].to_dict("records"):
        mid = r["measure_id"]
        if mid in item_of:
            fid, item = item_of[mid]
        elif m := _FACTOR_ID.match(mid):
            fid, item = m["factor"], m["item"]
        else:
            continue
        f = found.setdefault(fid, Factor(fid, labels.get(fid, "")))
        f.rows[item] = r
        if item == "identified" and not f.label:
            f.label = re.sub(r":\s*identified$", "", r["label"]) or fid
    out = [f for f in found.values() if "identified" in f.rows]

    def prevalence(f: Factor) -> float:
        if (hide_suppressed and f.hidden) or math.isnan(f.prevalence):
            return -1.0
        return f.prevalence

    return ranked(out, prevalence, lambda f: f.id, declared)


def factor_groups(
    ordered_factors: Sequence[Factor], instrument: Instrument | None, hide_suppressed: bool = True
) -> list[str]:
    """The group of table 3.5 each factor (in table order) belongs to.

    The first ``factor_table.most_prevalent`` factors of the instrument (4 in the
    reference report; every factor when it sets none, as the engine ranks them) are the
    "most prevalent", the rest "other common". With ``hide_suppressed`` a factor whose
    prevalence is suppressed has no known rank, so its group is ``[c]``.
    """
    table = instrument.factor_table if instrument is not None else {}
    n_top = int(table.get("most_prevalent", len(ordered_factors)) or 0)
    return [
        C.symbol if hide_suppressed and f.hidden else MOST_PREVALENT if i < n_top else OTHER_COMMON
        for i, f in enumerate(ordered_factors)
    ]


def most_common(ordered_factors: Sequence[Factor]) -> list[Factor]:
    """The factors sharing the largest prevalence; none when any prevalence is hidden.

    A suppressed prevalence may be the largest, so no ranking is claimed then.
    """
    if not ordered_factors or any(f.hidden for f in ordered_factors):
        return []
    top = ordered_factors[0].prevalence
    if math.isnan(top):
        return []
    return [f for f in ordered_factors if f.prevalence == top]


# -- significance ----------------------------------------------------------------------

#: Benjamini-Hochberg adjusted p values below this are reported as differences: the
#: false discovery rate.
FDR_LEVEL = 0.05


def is_significant(p_adjusted: Any) -> bool:
    """True when an adjusted p value is below :data:`FDR_LEVEL` (False when missing)."""
    p = number(p_adjusted)
    return not math.isnan(p) and p < FDR_LEVEL
