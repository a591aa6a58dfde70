"""Verbal quantifiers: the words HMI Probation reports use for ``n of N``, and what they mean.

Two jobs, two tables:

- **Writing.** :func:`quantifier` picks one phrase from :data:`LADDER`, a partition of (0, 1)
  into half-open cells (lower bound inclusive, upper exclusive), so that every proportion gets
  exactly one word.
- **Reading.** :func:`band` gives the interval of proportions a phrase can stand for, from
  :data:`BANDS` (closed intervals, each with its source). Reading bands overlap -- 85% is both
  "most" and "the great majority" -- and each contains the ladder cell of its phrase, so
  whatever :func:`quantifier` writes, :func:`band` reads back.

Where the reading bands come from
---------------------------------
The base is the one published quantifier scale we could check: Education Scotland's "Terms we
use in the inspection process" (education.gov.scot): *almost all* over 90%, *most* 75% to
90%, *majority* 50% to 74%, *less than half* 15% to 49%, *few* up to 15%. Each band
is then widened until every pair of words and numbers in the reference report (HMI
Probation, *Inspection of Adult Offending Work in Norfolk and Suffolk*, 2014; recorded in
:data:`REPORT_PAIRS`, checked by the tests) fits: "almost all" reaches down to 8/9 (88.9%),
which the report calls "almost all". The inspectorate's landmark fractions are not in any
published scale; their bands follow from the report's own pairs and one rule:

- a landmark's own word ("two-thirds") covers it +/- :data:`NEAR` (2 points): 13/20 (65%)
  is "two-thirds" and 27/42 (64.3%) "just under two-thirds";
- "just under X" / "nearly X" reach from X's own band down to the midpoint with the next
  landmark down, "just over X" up to the midpoint with the next one up (a writer names the
  nearest landmark), over the steps of :data:`STEPS` (the five fractions, with the
  published edges of "few", 15%, and "almost all", 90%, at the ends);
- "more than X" / "over X" reach from X (excluded) to the next step, "less than X" /
  "fewer than X" from the step below; "about X" / "around X" is X +/- 5 points;
  "more than 40%" is (40%, 50%).

Every band's source is in :data:`BANDS` and in ``docs/instrument-coverage.md``.

Reading bands are closed; :func:`analysis.synthetic.statements.verbal_ok` says where a
phrase excludes an end ("more than X" excludes X, "almost all" excludes all, no phrase but
"none" stands for 0).

The writing ladder keeps the report's own graded words ("most", "the large majority", "the
great majority") in narrow cells, because a partition must give each proportion one word;
the cells sit inside the wider reading bands. From a base of :data:`ALL_BUT_MIN_BASE` (20)
upwards, one or two short of all is "all but one" / "all but two" (19/20, 18/20, 19/21 in
the report); below it the ladder applies (13/14 is "almost all", not "all but one").

The decisive pair for the landmark bands: "there was a change in risk of harm in 20 cases.
The Trust responded effectively in two-thirds of these", while the summary says the response
was insufficient "in more than one-third of relevant cases"; 14/20 would leave 6/20 (0.30),
not more than one-third, so n = 13 and 13/20 (0.650) is "two-thirds", next to 27/42 (0.643),
"just under two-thirds". The report is not perfectly consistent: it calls 8 of 9 victim
contacts both "almost all" (a key strength) and "the great majority" (the summary); both
bands hold 8/9, and :data:`REPORT_PAIRS` marks the first as a conflict with the ladder.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

ONE_QUARTER, ONE_THIRD, HALF, TWO_THIRDS, THREE_QUARTERS = 1 / 4, 1 / 3, 1 / 2, 2 / 3, 3 / 4
#: Half-width of a landmark's own word ("two-thirds" covers 2/3 +/- 0.02).
NEAR = 0.02
#: Smallest base at which "all but one" / "all but two" replace the ladder.
ALL_BUT_MIN_BASE = 20
#: Published edges: "few" is up to 15%, "almost all" over 90% (Education Scotland).
FEW_UP_TO, ALMOST_ALL_OVER = 0.15, 0.90
#: The steps "nearly X", "just over X", "more than X" and "less than X" reach between.
STEPS: tuple[tuple[str, float], ...] = (
    ("'few' (15%)", FEW_UP_TO),
    ("one-quarter", ONE_QUARTER),
    ("one-third", ONE_THIRD),
    ("half", HALF),
    ("two-thirds", TWO_THIRDS),
    ("three-quarters", THREE_QUARTERS),
    ("'almost all' (90%)", ALMOST_ALL_OVER),
)


def _mid(a: float, b: float) -> float:
    return (a + b) / 2


#: The ladder: (phrase, lower bound inclusive, upper bound exclusive), increasing.
LADDER: tuple[tuple[str, float, float], ...] = (
    ("few", 0.0, FEW_UP_TO),
    ("a minority", FEW_UP_TO, 0.20),
    ("nearly one-quarter", 0.20, ONE_QUARTER - NEAR),
    ("one-quarter", ONE_QUARTER - NEAR, ONE_QUARTER + NEAR),
    ("just over one-quarter", ONE_QUARTER + NEAR, _mid(ONE_QUARTER, ONE_THIRD)),
    ("just under one-third", _mid(ONE_QUARTER, ONE_THIRD), ONE_THIRD - NEAR),
    ("one-third", ONE_THIRD - NEAR, ONE_THIRD + NEAR),
    ("just over one-third", ONE_THIRD + NEAR, 0.40),
    ("less than half", 0.40, 0.45),
    ("nearly half", 0.45, HALF - NEAR),
    ("half", HALF - NEAR, HALF + NEAR),
    ("just over half", HALF + NEAR, 0.56),
    ("a clear majority", 0.56, 0.60),
    ("just under two-thirds", 0.60, TWO_THIRDS - NEAR),
    ("two-thirds", TWO_THIRDS - NEAR, TWO_THIRDS + NEAR),
    ("just over two-thirds", TWO_THIRDS + NEAR, _mid(TWO_THIRDS, THREE_QUARTERS)),
    ("nearly three-quarters", _mid(TWO_THIRDS, THREE_QUARTERS), THREE_QUARTERS - NEAR),
    ("three-quarters", THREE_QUARTERS - NEAR, THREE_QUARTERS + NEAR),
    ("most", THREE_QUARTERS + NEAR, 0.80),
    ("the large majority", 0.80, 0.85),
    ("the great majority", 0.85, ALMOST_ALL_OVER),
    ("almost all", ALMOST_ALL_OVER, 1.0),
)

_LANDMARKS = {
    "one-quarter": ONE_QUARTER,
    "one-third": ONE_THIRD,
    "half": HALF,
    "one-half": HALF,
    "two-thirds": TWO_THIRDS,
    "three-quarters": THREE_QUARTERS,
}
#: The ladder's word for "a little under" each landmark.
_UNDER = {
    "one-quarter": "nearly one-quarter",
    "one-third": "just under one-third",
    "half": "nearly half",
    "two-thirds": "just under two-thirds",
    "three-quarters": "nearly three-quarters",
}

#: Synonyms mapped to a phrase with the same band.
ALIASES: dict[str, str] = {
    "nearly one-third": "just under one-third",
    "just under one-quarter": "nearly one-quarter",
    "almost one-quarter": "nearly one-quarter",
    "just under half": "nearly half",
    "almost half": "nearly half",
    "nearly two-thirds": "just under two-thirds",
    "almost two-thirds": "just under two-thirds",
    "just under three-quarters": "nearly three-quarters",
    "almost three-quarters": "nearly three-quarters",
    "one-half": "half",
    "just over one-half": "just over half",
    "less than one-half": "less than half",
    "the vast majority": "the great majority",
    "nearly all": "almost all",
    "almost every": "almost all",
    "nearly every": "almost all",
    "a majority": "the majority",
    "majority": "the majority",
    "the majority of": "the majority",
}

_ES = "Education Scotland"
#: Reading bands, closed: phrase -> (low, high, source). The published scale's words come
#: first; the landmark words ("two-thirds", "just under two-thirds", ...) and the vague words
#: are added below.
BANDS: dict[str, tuple[float, float, str]] = {
    "few": (0.0, FEW_UP_TO, f"{_ES}: 'few' means up to 15%"),
    "a minority": (FEW_UP_TO, HALF, f"under half, above 'few': {_ES}'s 'less than half'"),
    "less than half": (FEW_UP_TO, HALF, f"{_ES}: 'less than half' means 15% to 49%"),
    "the majority": (HALF, THREE_QUARTERS, f"{_ES}: 'majority' means 50% to 74%"),
    "a clear majority": (
        0.56,
        THREE_QUARTERS,
        f"{_ES}'s 'majority' (50% to 74%) above a bare majority ('just over half', to 56%)",
    ),
    "most": (THREE_QUARTERS, ALMOST_ALL_OVER, f"{_ES}: 'most' means 75% to 90%"),
    "the large majority": (
        THREE_QUARTERS,
        ALMOST_ALL_OVER,
        f"read as {_ES}'s 'most' (75% to 90%): no published scale grades majorities",
    ),
    "the great majority": (
        THREE_QUARTERS,
        ALMOST_ALL_OVER,
        f"read as {_ES}'s 'most' (75% to 90%); 8/9 (88.9%) in the report (O5 summary)",
    ),
    "almost all": (
        8 / 9,
        1.0,
        f"{_ES}: 'almost all' means over 90%; widened to 8/9 (88.9%), which the report calls"
        " 'almost all' (O5 key strength 1)",
    ),
}

#: Vague words the report also uses, which :func:`quantifier` never writes: phrase -> (low,
#: high, source). They let the report's own sentences be checked
#: (:mod:`analysis.synthetic.statements`).
_VAGUE_BANDS: dict[str, tuple[float, float, str]] = {
    "every case": (1.0, 1.0, "all"),
    "almost always": (8 / 9, 1.0, "as 'almost all'"),
    "generally": (HALF, 1.0, "as a general rule: more than half (no published scale)"),
    "largely": (HALF, 1.0, "as 'generally'"),
    "routinely": (THREE_QUARTERS, 1.0, f"as a matter of routine: at least {_ES}'s 'most'"),
    "often": (ONE_QUARTER, 1.0, "as 'many'"),
    "many": (
        ONE_QUARTER,
        1.0,
        "never under a quarter in the report: 20/73 (27%) and 28/73 (38%) in O3 1.4, 9/18"
        " in O1 key area 1",
    ),
    "a number of": (
        0.0,
        1.0,
        "more than none, no upper bound: the O3 summary says it of reviews insufficient or"
        " missing in more than half the cases (O3 2.7)",
    ),
    "not always": (0.0, 1.0, "of the exceptions: at least one, not every case"),
    "some": (0.0, HALF, "more than none, the lesser part"),
    "a small number": (0.0, FEW_UP_TO, "as 'few'"),
    "small percentage": (0.0, 0.30, "7/28 (25%) in the report (O4 key area 4), up to 30%"),
    "sizeable number": (0.10, HALF, "noticeable (10% or more) but a minority"),
    "around one in ten": (0.05, 0.15, "one in ten +/- 5 points, as 'about X'"),
    "slightly more than half": (HALF, _mid(HALF, TWO_THIRDS), "as 'just over half'"),
}


def _landmark_bands() -> dict[str, tuple[float, float, str]]:
    """Reading bands of the landmark words, by the rule in the module docstring."""
    pairs = {
        "two-thirds": "; 13/20 is 'two-thirds', 27/42 'just under two-thirds'",
        "half": "; 16/32 and 32/62 (51.6%) are 'half'",
    }
    out = {}
    steps = [v for _, v in STEPS]
    quoted = [n if n.startswith("'") else f"'{n}'" for n, _ in STEPS]
    for i, (name, L) in enumerate(STEPS[1:-1], start=1):
        below, above = quoted[i - 1], quoted[i + 1]
        out[name] = (L - NEAR, L + NEAR, f"'{name}' +/- 2 points" + pairs.get(name, ""))
        out[_UNDER[name]] = (
            _mid(steps[i - 1], L),
            L - NEAR,
            f"from the midpoint with {below} up to '{name}'",
        )
        out[f"just over {name}"] = (
            L + NEAR,
            _mid(L, steps[i + 1]),
            f"from '{name}' up to the midpoint with {above}",
        )
    return out


BANDS.update(_landmark_bands())
BANDS.update(_VAGUE_BANDS)
#: The vague words' bands, (low, high).
VAGUE: dict[str, tuple[float, float]] = {p: (lo, hi) for p, (lo, hi, _) in _VAGUE_BANDS.items()}


@dataclass(frozen=True)
class ReportPair:
    """A phrase the reference report attaches to a count.

    Every pair's proportion lies in the phrase's reading band (:func:`band`). ``status``
    says what :func:`quantifier` writes for it: ``exact`` (the phrase itself), ``alias`` (a
    synonym or comparative; it writes ``expected``), ``conflict`` (the report uses another
    word for the same figure too; it writes ``expected``), ``vague`` (a word it never
    writes; it writes ``expected``).
    """

    phrase: str
    n: int
    N: int
    where: str
    quote: str
    status: str = "exact"
    expected: str | None = None

    @property
    def p(self) -> float:
        """The proportion n / N."""
        return self.n / self.N


#: Every pair of words and numbers found in the reference report (section, quote).
REPORT_PAIRS: tuple[ReportPair, ...] = (
    ReportPair(
        "just under two-thirds",
        27,
        42,
        "O4 3.2",
        "safety of children ... promoted in just under two-thirds of cases (27 of the 42 ...)",
    ),
    ReportPair(
        "two-thirds",
        13,
        20,
        "O4 2.3 with summary",
        "change in risk of harm in 20 cases. The Trust responded effectively in two-thirds"
        " (n = 13 inferred, see the module docstring)",
    ),
    ReportPair(
        "more than one-third",
        7,
        20,
        "summary O4 with O4 2.3",
        "insufficient response to changes in risk of harm ... in more than one-third",
        status="alias",
        expected="one-third",
    ),
    ReportPair(
        "almost all",
        13,
        14,
        "summary O4 with O4 1.12",
        "of the 14 cases that met the criteria for MAPPA, 13 had been correctly identified;"
        " 'Almost all cases that met the criteria ... were correctly identified'",
    ),
    ReportPair(
        "the great majority",
        8,
        9,
        "summary O5 with O5 4.2",
        "quality of the work ... sufficient in eight [of nine]; 'In the great majority"
        " of relevant statutory victim contact cases, the quality ... was satisfactory'",
    ),
    ReportPair(
        "almost all",
        8,
        9,
        "O5 key strength with O5 4.2",
        "'In almost all relevant statutory victim contact cases, the quality of the"
        " contact with victims was satisfactory'",
        status="conflict",
        expected="the great majority",
    ),
    ReportPair(
        "half",
        16,
        32,
        "O4 1.11",
        "objectives to protect children ... included in half of the relevant 32 cases",
    ),
    ReportPair(
        "half",
        32,
        62,
        "O3 1.5 with O3 1.3",
        "alcohol was a contributory factor in half of the sample (32 of the 62 cases)",
    ),
    ReportPair(
        "all but one",
        19,
        20,
        "O4 2.6",
        "20 cases ... enforcement or recall ... In all but one case this had been taken promptly",
    ),
    ReportPair(
        "all but two", 18, 20, "O4 2.6", "in all but two, the offender was given clear reasons"
    ),
    ReportPair(
        "all but two",
        19,
        21,
        "O5 victims' questionnaire",
        "Twenty-one victims ... All but two ... said that they were kept informed",
    ),
    ReportPair(
        "every",
        20,
        20,
        "O4 2.6",
        "this action had been taken in every case",
        status="alias",
        expected="all",
    ),
    ReportPair(
        "every",
        19,
        19,
        "O4 1.6",
        "restrictive requirement ... in 19 cases ... appropriate in every one",
        status="alias",
        expected="all",
    ),
    ReportPair(
        "every",
        21,
        21,
        "O5 victims' questionnaire",
        "Every respondent reported being partially or completely satisfied",
        status="alias",
        expected="all",
    ),
    ReportPair(
        "many",
        9,
        18,
        "O1 key area 1 with O1 1.1",
        "'In many cases, report writers had not sought information from children's social"
        " care services'; checks made in only nine of 18 (9 without)",
        status="vague",
        expected="half",
    ),
    ReportPair(
        "many",
        28,
        73,
        "O3 1.4",
        "many individuals in our sample had problems with their accommodation (28 people)",
        status="vague",
        expected="just over one-third",
    ),
    ReportPair(
        "many",
        20,
        73,
        "O3 1.4",
        "[many individuals had problems with] their emotional well-being, and education,"
        " training and employment (ETE) (20 cases each)",
        status="vague",
        expected="just over one-quarter",
    ),
    ReportPair(
        "small percentage",
        7,
        28,
        "O4 key area 4 with O4 2.10",
        "effective management involvement ... in only a small percentage of cases; effective"
        " management oversight in 7 out of 28 relevant cases",
        status="vague",
        expected="one-quarter",
    ),
)

#: Percentages the report prints beside their counts: rounding is half up to whole numbers.
REPORT_PERCENTS: tuple[tuple[int, int, str, str], ...] = (
    (22, 54, "41%", "O4 2.8 sufficient review of risk of harm"),
    (22, 32, "69%", "O4 3.3 multi-agency work"),
    (26, 40, "65%", "O4 3.3 checks with the police"),
    (30, 45, "67%", "O4 3.3 checks with Children's Services"),
    (28, 59, "47%", "O3 table 3.5 thinking and behaviour: interventions"),
    (17, 28, "61%", "O3 table 3.5 accommodation: interventions"),
    (5, 15, "33%", "O3 table 3.5 financial management: interventions"),
)


def _check(n: int, N: int) -> None:
    if N <= 0 or n < 0 or n > N:
        raise ValueError(f"need 0 <= n <= N and N > 0, got n={n}, N={N}")


def quantifier(n: int, N: int) -> str:
    """The report's phrase for ``n`` out of ``N``.

    Parameters
    ----------
    n, N
        Count and base, ``0 <= n <= N``, ``N > 0``.

    Returns
    -------
    str
        A phrase from :data:`LADDER`, or "none", "all", "all but one", "all but two".

    Examples
    --------
    >>> quantifier(27, 42)
    'just under two-thirds'
    >>> quantifier(13, 14)
    'almost all'
    >>> quantifier(19, 20)
    'all but one'
    """
    _check(n, N)
    if n == 0:
        return "none"
    if n == N:
        return "all"
    if N >= ALL_BUT_MIN_BASE and N - n in (1, 2):
        return "all but one" if N - n == 1 else "all but two"
    p = n / N
    for phrase, lo, hi in LADDER:
        if lo <= p < hi:
            return phrase
    raise AssertionError("unreachable: the ladder covers (0, 1)")  # pragma: no cover


def _step_index(value: float) -> int:
    return next(i for i, (_, v) in enumerate(STEPS) if math.isclose(v, value))


def band(phrase: str) -> tuple[float, float]:
    """The interval of proportions a phrase stands for, ``(low, high)``, both ends included.

    Phrases of :data:`BANDS` (and their :data:`ALIASES`) return their band; "none" and
    "all"/"every" a point; "all but one/two" from a base of 20; comparatives ("more than
    X", "less than X", "more than 40%") and "about X" their bands by the rules of the module
    docstring. Which ends a phrase excludes is for the reader to apply
    (:func:`analysis.synthetic.statements.verbal_ok`).

    Raises
    ------
    KeyError
        For a phrase the module does not know.
    """
    p = " ".join(phrase.strip().lower().split())
    if p in ("none", "no"):
        return (0.0, 0.0)
    if p in ("all", "every"):
        return (1.0, 1.0)
    if p == "all but one":
        return (1 - 1 / ALL_BUT_MIN_BASE, 1.0)
    if p == "all but two":
        return (1 - 2 / ALL_BUT_MIN_BASE, 1.0)
    p = ALIASES.get(p, p)
    if p in BANDS:
        lo, hi, _ = BANDS[p]
        return (lo, hi)
    percent = re.fullmatch(r"(more than|over|less than|fewer than) (\d{1,2})%", p)
    if percent:
        # "more than 40%": (0.40, 0.50), ten points beyond the number.
        x = int(percent.group(2)) / 100
        return (x, x + 0.10) if percent.group(1) in ("more than", "over") else (x - 0.10, x)
    for prefix in ("about ", "around ", "more than ", "over ", "less than ", "fewer than "):
        if p.startswith(prefix) and p[len(prefix) :] in _LANDMARKS:
            L = _LANDMARKS[p[len(prefix) :]]
            if prefix in ("about ", "around "):
                return (L - 0.05, L + 0.05)
            i = _step_index(L)
            if prefix in ("more than ", "over "):
                return (L, STEPS[i + 1][1])
            return (STEPS[i - 1][1], L)
    raise KeyError(f"unknown quantifier phrase {phrase!r}")


def percent_text(n: int, N: int) -> str:
    """Whole-number percentage as the report prints it (halves round up): ``22, 54 -> '41%'``."""
    _check(n, N)
    return f"{math.floor(100 * n / N + 0.5)}%"
