"""Verbal quantifiers: turning ``n of N`` into the words HMI Probation reports use.

``quantifier(n, N)`` picks one phrase from a ladder of non-overlapping bands of
the proportion ``p = n / N``; ``band(phrase)`` gives the interval a phrase
stands for (ladder phrases and their synonyms). The bands are derived from the
pairs of words and numbers in the reference report (HMI Probation, *Inspection
of Adult Offending Work in Norfolk and Suffolk*, 2014), recorded below as
:data:`REPORT_PAIRS`; the tests check every pair.

Bands (lower bound inclusive, upper exclusive; ``L`` a landmark fraction)
---------------------------------------------------------------------------
=========================  ===============  ==========================================
phrase                     p in             derived from
=========================  ===============  ==========================================
none                       0                --
few                        (0, 0.10)        below "a minority"
a minority                 [0.10, 0.20)     --
nearly one-quarter         [0.20, 0.23)     L - 0.05 .. L - 0.02
one-quarter                [0.23, 0.27)     L +/- 0.02
just over one-quarter      [0.27, 0.29)     up to the midpoint of 1/4 and 1/3
just under one-third       [0.29, 0.3133)   midpoint .. L - 0.02
one-third                  [0.3133, 0.3533) L +/- 0.02
just over one-third        [0.3533, 0.40)   L + 0.02 .. 0.40
less than half             [0.40, 0.45)     --
nearly half                [0.45, 0.48)     L - 0.05 .. L - 0.02
half                       [0.48, 0.52)     16/32 and 32/62 are "half"
just over half             [0.52, 0.56)     L + 0.02 .. 0.56
a clear majority           [0.56, 0.60)     --
just under two-thirds      [0.60, 0.6467)   27/42 = 0.643 is "just under two-thirds"
two-thirds                 [0.6467, 0.6867) 13/20 = 0.65 is "two-thirds" (hence +/- 0.02)
just over two-thirds       [0.6867, 0.71)   --
nearly three-quarters      [0.71, 0.73)     up to L - 0.02
three-quarters             [0.73, 0.77)     L +/- 0.02
most                       [0.77, 0.80)     above three-quarters, short of 80%
the large majority         [0.80, 0.85)     --
the great majority         [0.85, 0.90)     8/9 = 0.889 is "the great majority"
almost all                 [0.90, 1)        13/14 = 0.929 is "almost all"
all                        1                20/20, 19/19, 21/21 are "every ..."
=========================  ===============  ==========================================

From a base of :data:`ALL_BUT_MIN_BASE` (20) upwards, one or two short of all is
"all but one" / "all but two" (19/20, 18/20, 19/21 in the report); below it the
ladder applies (13/14 is "almost all", not "all but one").

The two decisive pairs sit close together: 27/42 (0.643) is "just under
two-thirds" and 13/20 (0.650) is "two-thirds". The latter's numerator is not
printed: "there was a change in risk of harm in 20 cases. The Trust responded
effectively in two-thirds of these", while the summary says the response was
insufficient "in more than one-third of relevant cases"; 14/20 would leave 6/20
(0.30), not more than one-third, so n = 13. Hence a landmark's own word covers
it +/- 2 percentage points, and "just under"/"just over" the next few points.

Synonyms (:data:`ALIASES`) have their own, looser bands: "nearly X" and "almost
X" are "just under X"; "about X" is X +/- 0.05; "more than X" / "over X" is
(X, X + 0.10); "less than X" is (X - 0.10, X); "every" is "all"; "the
majority" is (0.5, 1); "more than 40%" is (0.40, 0.50). Vague words the report also uses
("many", "generally", "a number of", ...) have the loose bands of :data:`VAGUE`. The
report itself is not perfectly consistent: it calls
8 of 9 victim contacts both "almost all" (a key strength) and "the great
majority" (the summary); :data:`REPORT_PAIRS` records both, marking one as a
conflict.
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

#: The ladder: (phrase, lower bound inclusive, upper bound exclusive), increasing.
LADDER: tuple[tuple[str, float, float], ...] = (
    ("few", 0.0, 0.10),
    ("a minority", 0.10, 0.20),
    ("nearly one-quarter", 0.20, ONE_QUARTER - NEAR),
    ("one-quarter", ONE_QUARTER - NEAR, ONE_QUARTER + NEAR),
    ("just over one-quarter", ONE_QUARTER + NEAR, 0.29),
    ("just under one-third", 0.29, ONE_THIRD - NEAR),
    ("one-third", ONE_THIRD - NEAR, ONE_THIRD + NEAR),
    ("just over one-third", ONE_THIRD + NEAR, 0.40),
    ("less than half", 0.40, 0.45),
    ("nearly half", 0.45, HALF - NEAR),
    ("half", HALF - NEAR, HALF + NEAR),
    ("just over half", HALF + NEAR, 0.56),
    ("a clear majority", 0.56, 0.60),
    ("just under two-thirds", 0.60, TWO_THIRDS - NEAR),
    ("two-thirds", TWO_THIRDS - NEAR, TWO_THIRDS + NEAR),
    ("just over two-thirds", TWO_THIRDS + NEAR, 0.71),
    ("nearly three-quarters", 0.71, THREE_QUARTERS - NEAR),
    ("three-quarters", THREE_QUARTERS - NEAR, THREE_QUARTERS + NEAR),
    ("most", THREE_QUARTERS + NEAR, 0.80),
    ("the large majority", 0.80, 0.85),
    ("the great majority", 0.85, 0.90),
    ("almost all", 0.90, 1.0),
)

_LANDMARKS = {
    "one-quarter": ONE_QUARTER,
    "one-third": ONE_THIRD,
    "half": HALF,
    "one-half": HALF,
    "two-thirds": TWO_THIRDS,
    "three-quarters": THREE_QUARTERS,
}

#: Synonyms mapped to a ladder phrase with the same band.
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
    "the vast majority": "the great majority",
    "nearly all": "almost all",
    "almost every": "almost all",
    "nearly every": "almost all",
}


#: Vague words the reference report also uses, with the band each can stand for, chosen
#: conservatively from how the report uses them. :func:`quantifier` never produces them;
#: they let the report's own sentences be checked (:mod:`analysis.synthetic.calibrate`).
VAGUE: dict[str, tuple[float, float]] = {
    "every case": (1.0, 1.0),
    "almost always": (0.90, 1.0),  # as "almost all"
    "generally": (0.5, 1.0),  # as "the majority"
    "many": (0.25, 1.0),  # never used for fewer than a quarter
    "a number of": (0.0, 0.5),  # some, a minority
    "not always": (0.0, 0.5),  # of the exceptions: some, but a minority
    "around one in ten": (0.05, 0.15),  # "about" = landmark +/- 0.05
    "slightly more than half": (0.50, 0.56),  # up to the top of "just over half"
    "small percentage": (0.0, 0.30),  # 7 of 28 (25%) in the report
    "sizeable number": (0.10, 0.50),  # noticeable, but a minority
    "some": (0.0, 0.50),
    "a small number": (0.0, 0.20),
}


@dataclass(frozen=True)
class ReportPair:
    """A phrase the reference report attaches to a count.

    ``status``: ``exact`` (quantifier must return the phrase), ``alias`` (a synonym
    or comparative; the phrase's band must contain the proportion and quantifier
    returns ``expected``), ``conflict`` (the report uses another word for the same
    figure; recorded, quantifier returns ``expected``).
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
        " (n = 13 inferred, see module docstring)",
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


def band(phrase: str) -> tuple[float, float]:
    """The interval of proportions a phrase stands for, ``(low, high)``.

    Ladder phrases return their ladder band (low inclusive, high exclusive);
    "none" and "all"/"every" a point; comparatives and "about" their looser bands
    (see the module docstring).

    Raises
    ------
    KeyError
        For a phrase the module does not know.
    """
    p = phrase.strip().lower()
    if p in ("none", "no"):
        return (0.0, 0.0)
    if p in ("all", "every"):
        return (1.0, 1.0)
    if p == "all but one":
        return (1 - 1 / ALL_BUT_MIN_BASE, 1.0)
    if p == "all but two":
        return (1 - 2 / ALL_BUT_MIN_BASE, 1.0)
    if p in ("the majority", "a majority", "the majority of"):
        return (0.5, 1.0)
    p = ALIASES.get(p, p)
    for name, lo, hi in LADDER:
        if name == p:
            return (lo, hi)
    if p in VAGUE:
        return VAGUE[p]
    percent = re.fullmatch(r"(more than|over|less than|fewer than) (\d{1,2})%", p)
    if percent:
        # "more than 40%": (0.40, 0.50), as "more than X" for a landmark.
        x = int(percent.group(2)) / 100
        return (x, x + 0.10) if percent.group(1) in ("more than", "over") else (x - 0.10, x)
    for prefix, (below, above) in {
        "about ": (0.05, 0.05),
        "around ": (0.05, 0.05),
        "more than ": (0.0, 0.10),
        "over ": (0.0, 0.10),
        "less than ": (0.10, 0.0),
        "fewer than ": (0.10, 0.0),
    }.items():
        if p.startswith(prefix) and p[len(prefix) :] in _LANDMARKS:
            L = _LANDMARKS[p[len(prefix) :]]
            return (L - below, L + above)
    raise KeyError(f"unknown quantifier phrase {phrase!r}")


def percent_text(n: int, N: int) -> str:
    """Whole-number percentage as the report prints it (halves round up): ``22, 54 -> '41%'``."""
    _check(n, N)
    return f"{math.floor(100 * n / N + 0.5)}%"
