"""Key questions, ratings and samples: the sections of today's inspection programmes.

Since 2018 HMI Probation rates each standard Outstanding, Good, Requires improvement or
Inadequate from the percentage of cases judged sufficient on its key questions; the
ratings become points that sum to an overall rating, and some work (court, victims,
unpaid work, resettlement) is inspected in samples of its own. These sections declare
all of that as data (``docs/instrument-format.md``):

- ``key_questions``: a key question is the inspector's own judgement (``combine:
  judged``) or a composite of its prompts (``all``, ``any``, ``at_least``);
- ``ratings``: the scale (lowest first, with points), the bands a percentage falls in
  (limits inclusive or exclusive, whether the percentage is rounded first), the standards
  and what each rating rests on, and the overall bands over the summed points;
- ``samples``: which questions belong to which sample, by a case-detail column.

Each section is a pydantic model that forbids unknown keys, so a band placed anywhere
unknown is refused, never ignored. :mod:`analysis.instrument.loader` checks the
references between sections; :func:`parse` turns a pydantic failure into an
:class:`~analysis.instrument.model.InstrumentError` naming the key.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from analysis.instrument.model import InstrumentError


def _frac(x: float | Fraction) -> Fraction:
    """A limit as an exact fraction of its decimal spelling (``33.3`` is 333/10)."""
    return x if isinstance(x, Fraction) else Fraction(str(x))


#: A non-blank citation: every declared rule says where it comes from.
Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Spec(BaseModel):
    # Unknown keys are refused (a typo or a section in the wrong place must not be ignored);
    # ids read as strings even when YAML reads them as numbers ("2.1").
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


# -- key questions ------------------------------------------------------------------------

#: How a key question's judgement in a case comes from its prompts.
COMBINE_RULES = ("judged", "all", "any", "at_least")


class KeyQuestion(_Spec):
    """A key question: the inspector's judgement, or a composite of its prompts.

    ``combine``:

    - ``judged``: the key question is the column ``question`` (the inspector answers it,
      informed by the prompts, which are shown under it);
    - ``all``: sufficient when every relevant prompt is above the line (insufficient when
      any is below; not relevant when no prompt is);
    - ``any``: sufficient when at least one relevant prompt is above the line;
    - ``at_least``: sufficient when at least ``at_least`` relevant prompts are above it.
    """

    id: Id
    text: str
    short: str = ""
    criterion: str | None = None
    question: str | None = None
    prompts: tuple[str, ...] = ()
    combine: Literal["judged", "all", "any", "at_least"] = "judged"
    at_least: int | None = Field(default=None, ge=1)
    source: Source

    @property
    def label(self) -> str:
        """Short label for charts and tables."""
        return self.short or self.text

    @property
    def columns(self) -> tuple[str, ...]:
        """The question columns the key question reads (its judgement, or its prompts)."""
        return (self.question,) if self.combine == "judged" else self.prompts


# -- bands -------------------------------------------------------------------------------


class Band(_Spec):
    """One range of values and the rating it gives.

    The lower limit is ``at_least`` (inclusive) or ``above`` (exclusive), the upper one
    ``below`` (exclusive) or ``at_most`` (inclusive); a missing limit is open.
    """

    rating: Id
    at_least: float | None = None
    above: float | None = None
    below: float | None = None
    at_most: float | None = None

    def contains(self, value: float | Fraction) -> bool:
        """Whether ``value`` lies in the band (exact for fractions)."""
        if self.at_least is not None and not value >= _frac(self.at_least):
            return False
        if self.above is not None and not value > _frac(self.above):
            return False
        if self.below is not None and not value < _frac(self.below):
            return False
        return not (self.at_most is not None and not value <= _frac(self.at_most))

    @property
    def edges(self) -> list[float]:
        """The band's finite limits."""
        return [v for v in (self.at_least, self.above, self.below, self.at_most) if v is not None]

    def text(self, unit: str = "%") -> str:
        """The band in words: ``65% or more and under 80%``."""
        parts = []
        if self.at_least is not None:
            parts.append(f"{self.at_least:g}{unit} or more")
        if self.above is not None:
            parts.append(f"over {self.above:g}{unit}")
        if self.below is not None:
            parts.append(f"under {self.below:g}{unit}")
        if self.at_most is not None:
            parts.append(f"{self.at_most:g}{unit} or less")
        return " and ".join(parts) or "any value"


class Bands(_Spec):
    """Bands over a percentage of cases sufficient (``ratings.bands``)."""

    ranges: tuple[Band, ...] = Field(min_length=1)
    #: Round the percentage (half up, to ``decimals`` places) before placing it in a band.
    round_before_banding: bool = False
    decimals: int = Field(default=0, ge=0, le=4)
    source: Source

    def value(self, numerator: int, denominator: int) -> Fraction | None:
        """The percentage the bands place, exactly: rounded half up when declared."""
        if denominator <= 0:
            return None
        pct = Fraction(100 * numerator, denominator)
        return self.rounded(pct)

    def rounded(self, pct: Fraction) -> Fraction:
        """``pct`` rounded half up to ``decimals`` places when declared, else unchanged."""
        if not self.round_before_banding:
            return pct
        scale = 10**self.decimals
        return Fraction(math.floor(pct * scale + Fraction(1, 2)), scale)

    def rating(self, value: float | Fraction | None) -> str | None:
        """The rating id of a value (None for a missing value)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        for b in self.ranges:
            if b.contains(value):
                return b.rating
        return None


class RatingLevel(_Spec):
    """One step of the rating scale and the points it is worth."""

    id: Id
    label: str
    points: int | None = None


class Standard(_Spec):
    """A rated standard and what its rating rests on.

    ``rests_on``:

    - ``lowest_key_question``: the lowest of its key questions' percentages;
    - ``mean``: the mean of its key questions' percentages;
    - ``measure``: one question's or key question's percentage (``measure``);
    - ``inspectors``: rated by inspectors from evidence beyond the cases (domain one,
      organisational standards), entered as a small separate input.
    """

    id: Id
    title: str
    rests_on: Literal["lowest_key_question", "mean", "measure", "inspectors"]
    key_questions: tuple[str, ...] = ()
    measure: str | None = None
    #: The sample the standard's cases come from (``samples``), when there are samples.
    sample: str | None = None
    criterion: str | None = None
    source: Source


class Overall(_Spec):
    """The overall rating: bands over the sum of the standards' points."""

    ranges: tuple[Band, ...] = Field(min_length=1)
    #: Standards whose points are summed; default every rated standard.
    standards: tuple[str, ...] = ()
    source: Source


class Ratings(_Spec):
    """The ``ratings`` section."""

    scale: tuple[RatingLevel, ...] = Field(min_length=2)
    bands: Bands
    standards: tuple[Standard, ...] = Field(min_length=1)
    overall: Overall | None = None
    source: Source

    @property
    def levels(self) -> dict[str, RatingLevel]:
        """Rating id -> level, lowest first."""
        return {r.id: r for r in self.scale}

    def rank(self, rating: str) -> int:
        """Position of a rating on the scale (0 the lowest)."""
        return [r.id for r in self.scale].index(rating)

    @property
    def by_id(self) -> dict[str, Standard]:
        """Standard id -> standard, in declared order."""
        return {s.id: s for s in self.standards}

    @property
    def overall_standards(self) -> tuple[str, ...]:
        """The standards whose points make the overall rating."""
        if self.overall is None:
            return ()
        return self.overall.standards or tuple(s.id for s in self.standards)

    def overall_rating(self, points: float) -> str | None:
        """The overall rating of a points total (None without ``overall`` or outside it)."""
        if self.overall is None:
            return None
        return next((b.rating for b in self.overall.ranges if b.contains(points)), None)

    def rating_of_label(self, text: str) -> str | None:
        """The rating id whose id or label is ``text`` (case and spacing ignored)."""
        key = " ".join(str(text).split()).casefold()
        for lvl in self.scale:
            if key in (lvl.id.casefold(), " ".join(lvl.label.split()).casefold()):
                return lvl.id
        return None

    def points(self, rating: str) -> int:
        """Points of a rating."""
        p = self.levels[rating].points
        if p is None:
            raise InstrumentError(f"ratings.scale: {rating!r} has no points")
        return p


# -- samples -----------------------------------------------------------------------------


class Sample(_Spec):
    """One sample: the cases whose ``samples.column`` holds ``code``, and its questions."""

    id: Id
    code: str
    label: str = ""
    criteria: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    source: str = ""


class Samples(_Spec):
    """The ``samples`` section: a case-detail column says which sample a case is in."""

    column: Id
    groups: tuple[Sample, ...] = Field(min_length=1)
    source: Source

    @property
    def by_id(self) -> dict[str, Sample]:
        """Sample id -> sample."""
        return {s.id: s for s in self.groups}


# -- parsing -----------------------------------------------------------------------------


def parse(model: type[_Spec], spec: Any, where: str, path: Any = None) -> Any:
    """Validate one section with its pydantic model, refusing with the keys at fault.

    Raises
    ------
    InstrumentError
        Naming the file, the section and every failing key (``ratings.bands.ranges.1.below``).
    """
    try:
        return model.model_validate(spec)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in (where, *err["loc"]))
            msg = (
                "unknown key (not part of the format)"
                if err["type"] == "extra_forbidden"
                else err["msg"]
            )
            problems.append(f"{loc}: {msg}")
        at = f"{path}: " if path is not None else ""
        raise InstrumentError(at + "; ".join(problems)) from None


def check_bands(
    ranges: tuple[Band, ...],
    ranks: dict[str, int],
    where: str,
    low: float,
    high: float,
    step: Fraction | None,
) -> None:
    """Bands must cover ``low``..``high`` once, in rising order of rating.

    With ``step`` (rounded percentages, whole points) only its multiples need covering, so
    ``at_most: 64`` then ``at_least: 65`` is complete for whole percentages; otherwise every
    value is checked at the limits and between them.

    Raises
    ------
    InstrumentError
        For an unknown rating, a limit given twice, a gap, an overlap, or a higher value
        with a lower rating.
    """
    for i, b in enumerate(ranges, start=1):
        if b.rating not in ranks:
            raise InstrumentError(f"{where} {i}: rating {b.rating!r} is not on the scale")
        if b.at_least is not None and b.above is not None:
            raise InstrumentError(f"{where} {i}: give at_least or above, not both")
        if b.below is not None and b.at_most is not None:
            raise InstrumentError(f"{where} {i}: give below or at_most, not both")
    if step is not None:
        n = int((Fraction(high) - Fraction(low)) / step)
        points = [Fraction(low) + k * step for k in range(n + 1)]
    else:
        edges = sorted(
            {_frac(e) for b in ranges for e in b.edges} | {Fraction(low), Fraction(high)}
        )
        edges = [e for e in edges if Fraction(low) <= e <= Fraction(high)]
        points = edges + [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
        points.sort()
    last = -1
    for v in points:
        hits = [b for b in ranges if b.contains(v)]
        shown = f"{float(v):g}"
        if not hits:
            raise InstrumentError(f"{where}: no band holds {shown} (a gap between the limits)")
        if len(hits) > 1:
            raise InstrumentError(
                f"{where}: {shown} falls in more than one band "
                f"({', '.join(b.rating for b in hits)}); make one limit exclusive"
            )
        r = ranks[hits[0].rating]
        if r < last:
            raise InstrumentError(f"{where}: a higher value gets a lower rating at {shown}")
        last = r


# -- the loader's part -------------------------------------------------------------------


def parse_sections(raw: dict[str, Any], path: Any) -> dict[str, Any]:
    """``key_questions``, ``ratings`` and ``samples`` of a file, validated one by one."""
    kqs = raw.get("key_questions") or []
    if not isinstance(kqs, list):
        raise InstrumentError(f"{path}: key_questions must be a list")
    key_questions: dict[str, KeyQuestion] = {}
    for i, spec in enumerate(kqs, start=1):
        kq = parse(KeyQuestion, spec, f"key_questions.{i}", path)
        if kq.id in key_questions:
            raise InstrumentError(f"{path}: key_questions: duplicate id {kq.id!r}")
        key_questions[kq.id] = kq
    ratings = raw.get("ratings")
    samples = raw.get("samples")
    return {
        "key_questions": key_questions,
        "ratings": None if ratings is None else parse(Ratings, ratings, "ratings", path),
        "samples": None if samples is None else parse(Samples, samples, "samples", path),
    }


def apply_samples(
    questions: dict[str, Any], samples: Samples | None, case_details: dict[str, Any]
) -> dict[str, Any]:
    """Questions with their sample's condition added to their skip rule.

    A question of the court sample applies only to cases whose ``samples.column`` holds
    the court sample's code, so ingest fills it with its not-applicable code elsewhere (and
    refuses an answer there), and every figure of it counts that sample's cases alone.

    Raises
    ------
    InstrumentError
        When a sample names an unknown question or criterion, or a question is in two samples.
    """
    if samples is None:
        return questions
    from dataclasses import replace

    detail = case_details.get(samples.column)
    if detail is None or detail.type != "category":
        raise InstrumentError(f"samples.column: {samples.column!r} is not a category case detail")
    for g in samples.groups:
        if g.code not in detail.codes:
            raise InstrumentError(
                f"samples {g.id}: code {g.code!r} is not a code of {samples.column}"
            )
    if len({g.id for g in samples.groups}) != len(samples.groups):
        raise InstrumentError("samples: duplicate sample id")

    criteria = {q.criterion for q in questions.values()}
    owner: dict[str, str] = {}
    for s in samples.groups:
        for qid in s.questions:
            if qid not in questions:
                raise InstrumentError(f"samples {s.id}: unknown question {qid!r}")
        for c in s.criteria:
            if c not in criteria:
                raise InstrumentError(f"samples {s.id}: no question belongs to criterion {c!r}")
        for qid, q in questions.items():
            if qid in s.questions or q.criterion in s.criteria:
                if qid in owner and owner[qid] != s.id:
                    raise InstrumentError(
                        f"samples: question {qid} belongs to both {owner[qid]} and {s.id}"
                    )
                owner[qid] = s.id
    code = {s.id: s.code for s in samples.groups}
    out = {}
    for qid, q in questions.items():
        if qid in owner:
            when = dict(q.applies_when)
            values = when.get(samples.column, (code[owner[qid]],))
            when[samples.column] = tuple(v for v in values if v == code[owner[qid]])
            q = replace(q, applies_when=when)
        out[qid] = q
    return out


def _judged(inst: Any, qid: str) -> bool:
    q = inst.questions.get(qid)
    aset = inst.answer_sets.get(q.answers) if q is not None else None
    return aset is not None and bool(aset.codes_scoring("above"))


def check_sections(inst: Any) -> None:
    """Every reference of the key questions, ratings and samples must resolve.

    Raises
    ------
    InstrumentError
        On the first incoherence, naming the file and the entry.
    """
    at = f"{inst.path}: "
    for kq in inst.key_questions.values():
        where = f"{at}key question {kq.id}"
        if kq.id in inst.questions or kq.id in inst.case_details:
            raise InstrumentError(f"{where}: id is already a column id")
        if kq.criterion is not None and kq.criterion not in inst.criteria:
            raise InstrumentError(f"{where}: unknown criterion {kq.criterion!r}")
        if kq.combine == "judged":
            if kq.question is None:
                raise InstrumentError(f"{where}: combine: judged needs question: <column>")
        elif kq.question is not None or not kq.prompts:
            raise InstrumentError(
                f"{where}: combine: {kq.combine} is computed from its prompts: give prompts "
                "and no question"
            )
        if (kq.combine == "at_least") != (kq.at_least is not None):
            raise InstrumentError(f"{where}: at_least goes with combine: at_least, and only there")
        if kq.at_least is not None and kq.at_least > len(kq.prompts):
            raise InstrumentError(f"{where}: at_least {kq.at_least} exceeds its prompts")
        for qid in (*kq.columns, *kq.prompts):
            if not _judged(inst, qid):
                raise InstrumentError(
                    f"{where}: {qid!r} is not a question judged above or below the line"
                )
    if inst.ratings is not None:
        _check_ratings(inst, inst.ratings, at)


def _check_ratings(inst: Any, r: Ratings, at: str) -> None:
    ranks = {lvl.id: i for i, lvl in enumerate(r.scale)}
    if len(ranks) != len(r.scale):
        raise InstrumentError(f"{at}ratings.scale: duplicate rating id")
    step = Fraction(1, 10**r.bands.decimals) if r.bands.round_before_banding else None
    check_bands(r.bands.ranges, ranks, f"{at}ratings.bands.ranges", 0, 100, step)
    seen: set[str] = set()
    for s in r.standards:
        where = f"{at}ratings standard {s.id}"
        if s.id in seen:
            raise InstrumentError(f"{where}: duplicate standard id")
        seen.add(s.id)
        if s.rests_on in ("lowest_key_question", "mean"):
            if not s.key_questions or s.measure is not None:
                raise InstrumentError(f"{where}: rests_on {s.rests_on} needs key_questions only")
        elif s.rests_on == "measure":
            if s.measure is None or s.key_questions:
                raise InstrumentError(f"{where}: rests_on measure needs measure: <id> only")
            if s.measure not in inst.key_questions and not _judged(inst, s.measure):
                raise InstrumentError(
                    f"{where}: measure {s.measure!r} is not a key question or judged question"
                )
        elif s.key_questions or s.measure is not None or s.sample is not None:
            raise InstrumentError(
                f"{where}: rests_on inspectors is rated from a separate input: no key_questions, "
                "measure or sample"
            )
        for k in s.key_questions:
            if k not in inst.key_questions:
                raise InstrumentError(f"{where}: unknown key question {k!r}")
        if s.sample is not None and (inst.samples is None or s.sample not in inst.samples.by_id):
            raise InstrumentError(f"{where}: unknown sample {s.sample!r}")
        if s.criterion is not None and s.criterion not in inst.criteria:
            raise InstrumentError(f"{where}: unknown criterion {s.criterion!r}")
    if r.overall is None:
        return
    for sid in r.overall.standards:
        if sid not in seen:
            raise InstrumentError(f"{at}ratings.overall: unknown standard {sid!r}")
    if any(lvl.points is None for lvl in r.scale):
        raise InstrumentError(f"{at}ratings.scale: every rating needs points for the overall")
    pts = [lvl.points for lvl in r.scale]
    n = len(r.overall_standards)
    check_bands(
        r.overall.ranges,
        ranks,
        f"{at}ratings.overall.ranges",
        n * min(pts),
        n * max(pts),
        Fraction(1),
    )
