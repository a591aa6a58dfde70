"""Verbal quantifiers: the words HMI Probation reports use for ``n of N``, and what they mean.

The scale is data: a versioned YAML file the instrument names (``wording:`` in
``iaow-2013-14.yaml`` names ``wording/iaow-2013-14.yaml``; another programme names its
own), read by :func:`load_scale`, which refuses a malformed one. ``docs/wording.md``
describes the format and tabulates every band with its source. Two jobs, two tables:

- **Writing.** :func:`quantifier` picks one phrase from the scale's ``ladder``, a partition
  of 0-100% into half-open cells (lower bound inclusive, upper exclusive), so that every
  proportion gets exactly one word. The presentation layer (``analysis.render``) is the one
  caller that words figures.
- **Reading.** :func:`band` gives the interval of proportions a phrase can stand for, from
  the scale's ``bands`` (closed intervals, each citing its source). Bands overlap -- 85% is
  both "most" and "the great majority" -- and each contains the ladder cell of its phrase,
  so whatever :func:`quantifier` writes, :func:`band` reads back.

Where the bands come from: the one published quantifier scale whose text could be read,
Education Scotland's "Terms we use in the inspection process" (*almost all* over 90%,
*most* 75% to 90%, *majority* 50% to 74%, *less than half* 15% to 49%, *few* up to 15%),
widened only where a word-number pair of the reference report (``report_pairs``) forces it
and no further: "almost all" reaches down to 8/9 (88.9%), which the report calls "almost
all". Estyn's, Ofsted's and HMI Probation's own tables could not be read, and no band rests
on them (the file's ``sources`` say where they were looked for). Landmark fractions
("two-thirds", "just under two-thirds") follow the nearest-landmark rule, and the vague
words ("many", "generally") the report's own uses; comparatives ("more than one-third",
"about half", "more than 40%") are worked out from the scale's ``comparatives`` steps.

Reading bands are closed; :func:`analysis.synthetic.statements.verbal_ok` says where a
phrase excludes an end ("more than X" excludes X, "almost all" excludes all, no phrase but
"none" stands for 0).

The decisive pair for the landmark bands: "there was a change in risk of harm in 20 cases.
The Trust responded effectively in two-thirds of these", while the summary says the response
was insufficient "in more than one-third of relevant cases"; 14/20 would leave 6/20 (0.30),
not more than one-third, so n = 13 and 13/20 (0.650) is "two-thirds", next to 27/42 (0.643),
"just under two-thirds". The report is not perfectly consistent: it calls 8 of 9 victim
contacts both "almost all" (a key strength) and "the great majority" (the summary); both
bands hold 8/9, and the first pair is marked a conflict with the ladder.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from analysis import config
from analysis.fileio import read_small_file
from analysis.instrument import InstrumentError

#: Largest scale file read (a scale is a few hundred lines).
MAX_SCALE_BYTES = 1 << 20
BASES = ("published", "derived", "landmark", "vague")
STATUSES = ("exact", "alias", "conflict", "vague")
_TOP_KEYS = {
    "id",
    "version",
    "title",
    "sources",
    "bands",
    "aliases",
    "comparatives",
    "all_but_min_base",
    "ladder",
    "report_pairs",
    "report_percents",
}
_BAND_KEYS = {"phrase", "band", "basis", "scale", "says", "published", "widened_by", "source"}
_PAIR_KEYS = {"id", "phrase", "n", "N", "where", "quote", "status", "expected"}
_VALUE = re.compile(r"(\d+)\s*/\s*(\d+)(?:\s*([+-])\s*(\d+(?:\.\d+)?))?")
_EPS = 1e-12


class ScaleError(InstrumentError):
    """A wording scale file is malformed or contradicts its own evidence."""


@dataclass(frozen=True)
class Band:
    """What one phrase can stand for: ``low``-``high`` (proportions, both included)."""

    phrase: str
    low: float
    high: float
    basis: str
    source: str
    scale: str | None = None
    says: str | None = None
    published: tuple[float, float] | None = None
    widened_by: tuple[str, ...] = ()


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
    id: str = ""

    @property
    def p(self) -> float:
        """The proportion n / N."""
        return self.n / self.N


@dataclass(frozen=True)
class Scale:
    """A loaded, checked wording scale (see the module docstring and ``docs/wording.md``)."""

    id: str
    version: str
    path: Path
    sha256: str
    sources: dict[str, dict[str, Any]]
    bands: dict[str, Band]
    aliases: dict[str, str]
    #: (phrase, lower bound inclusive, upper bound exclusive), increasing, covering 0-1.
    ladder: tuple[tuple[str, float, float], ...]
    #: (name, value, is a landmark fraction word), increasing.
    steps: tuple[tuple[str, float, bool], ...]
    about: float
    percent_reach: float
    all_but_min_base: int
    report_pairs: tuple[ReportPair, ...] = ()
    report_percents: tuple[tuple[int, int, str, str], ...] = ()
    landmarks: dict[str, float] = field(default_factory=dict)

    def band(self, phrase: str) -> tuple[float, float]:
        """See :func:`band`."""
        p = " ".join(str(phrase).strip().lower().split())
        if p in ("none", "no"):
            return (0.0, 0.0)
        if p in ("all", "every"):
            return (1.0, 1.0)
        if p in ("all but one", "all but two"):
            short = 1 if p.endswith("one") else 2
            return (1 - short / self.all_but_min_base, 1.0)
        p = self.aliases.get(p, p)
        if p in self.bands:
            b = self.bands[p]
            return (b.low, b.high)
        percent = re.fullmatch(r"(more than|over|less than|fewer than) (\d{1,2})%", p)
        if percent:
            x = int(percent.group(2)) / 100
            up = percent.group(1) in ("more than", "over")
            return (x, x + self.percent_reach) if up else (x - self.percent_reach, x)
        for prefix in ("about ", "around ", "more than ", "over ", "less than ", "fewer than "):
            word = self.aliases.get(p[len(prefix) :], p[len(prefix) :])
            if p.startswith(prefix) and word in self.landmarks:
                L = self.landmarks[word]
                if prefix in ("about ", "around "):
                    return (L - self.about, L + self.about)
                i = next(i for i, (_, v, _) in enumerate(self.steps) if math.isclose(v, L))
                if prefix in ("more than ", "over "):
                    return (L, self.steps[i + 1][1])
                return (self.steps[i - 1][1], L)
        raise KeyError(f"unknown quantifier phrase {phrase!r}")

    def quantifier(self, n: int, N: int) -> str:
        """See :func:`quantifier`."""
        _check(n, N)
        if n == 0:
            return "none"
        if n == N:
            return "all"
        if N >= self.all_but_min_base and N - n in (1, 2):
            return "all but one" if N - n == 1 else "all but two"
        p = n / N
        for phrase, lo, hi in self.ladder:
            if lo <= p < hi:
                return phrase
        raise AssertionError("unreachable: the ladder covers 0-100%")  # pragma: no cover


# -- loading -------------------------------------------------------------------------------


def _value(x: Any, where: str) -> float:
    """A band edge as a proportion: a percentage, or ``a/b`` optionally ``+/- k`` points."""
    if isinstance(x, bool):
        raise ScaleError(f"{where}: {x!r} is not a percentage or a fraction")
    if isinstance(x, int | float):
        v = float(x) / 100
    else:
        m = _VALUE.fullmatch(str(x).strip())
        if not m or int(m.group(2)) == 0:
            raise ScaleError(
                f"{where}: {x!r} is not a percentage (15) or a fraction (2/3, 2/3 - 2)"
            )
        v = int(m.group(1)) / int(m.group(2))
        if m.group(3):
            pts = float(m.group(4)) / 100
            v = v + pts if m.group(3) == "+" else v - pts
    if not -_EPS <= v <= 1 + _EPS:
        raise ScaleError(f"{where}: {x!r} is outside 0-100%")
    return v


def _pair_values(x: Any, where: str) -> tuple[float, float]:
    if not isinstance(x, list) or len(x) != 2:
        raise ScaleError(f"{where}: expected [low, high], got {x!r}")
    lo, hi = _value(x[0], where), _value(x[1], where)
    if lo > hi:
        raise ScaleError(f"{where}: low {x[0]!r} is above high {x[1]!r}")
    return lo, hi


def _phrase(x: Any, where: str) -> str:
    if not isinstance(x, str) or not x.strip():
        raise ScaleError(f"{where}: a phrase must be non-empty text, got {x!r}")
    return " ".join(x.lower().split())


def _known(d: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ScaleError(f"{where}: unknown key(s) {unknown} (allowed: {sorted(allowed)})")


def load_scale(path: str | Path | None = None) -> Scale:
    """Load and check a wording scale file.

    Parameters
    ----------
    path
        A YAML scale file; the default programme's (``config.DEFAULT_WORDING``) when omitted.

    Raises
    ------
    ScaleError
        Naming the file and the entry: a file that is not YAML; an unknown key; a band
        edge that is not a percentage or fraction, or low above high; a duplicate phrase;
        a published band without a verified source, or widened without the report pairs
        that force it (or further than they do); a ladder that does not start at 0%, end at
        100%, run in increasing order or join cell to cell (a gap or an overlap), or that
        names a phrase with no band or outside its band; an alias of an unknown phrase; a
        report pair outside its phrase's band.
    """
    path = Path(path) if path else config.DEFAULT_WORDING
    blob = read_small_file(path, MAX_SCALE_BYTES, "wording scale", "a scale is small", ScaleError)
    try:
        raw = yaml.load(blob, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ScaleError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ScaleError(f"{path}: expected a mapping at the top level")
    try:
        return _build(raw, path, hashlib.sha256(blob).hexdigest())
    except ScaleError as exc:
        raise ScaleError(f"{path}: {exc}") from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ScaleError(f"{path}: missing or malformed entry {exc}") from None


def _build(raw: dict[str, Any], path: Path, sha: str) -> Scale:
    _known(raw, _TOP_KEYS, "top level")
    sources = raw.get("sources") or {}
    if not isinstance(sources, dict):
        raise ScaleError("sources: expected a mapping of id -> {title, url, quote, verified}")
    bands = _bands(raw.get("bands"), sources)
    aliases = {}
    for a, target in (raw.get("aliases") or {}).items():
        a, target = _phrase(a, f"alias {a!r}"), _phrase(target, f"alias {a!r}")
        if target not in bands:
            raise ScaleError(f"alias {a!r}: {target!r} is an unknown phrase (no band)")
        if a in bands:
            raise ScaleError(f"alias {a!r}: the phrase has a band of its own")
        aliases[a] = target
    comp = raw.get("comparatives") or {}
    _known(comp, {"steps", "about_points", "percent_points"}, "comparatives")
    steps = []
    for i, s in enumerate(comp.get("steps") or []):
        at = _value(s["at"], f"comparatives step {i + 1}")
        if steps and at <= steps[-1][1]:
            raise ScaleError(f"comparatives step {s['name']!r}: steps must increase")
        steps.append((str(s["name"]), at, bool(s.get("landmark", False))))
    landmarks = {_phrase(n, "step"): v for n, v, is_l in steps if is_l}
    unknown = sorted(set(landmarks) - set(bands))
    if unknown:
        raise ScaleError(f"comparatives: landmark step(s) {unknown} have no band")
    scale = Scale(
        id=str(raw["id"]),
        version=str(raw["version"]),
        path=path,
        sha256=sha,
        sources=sources,
        bands=bands,
        aliases=aliases,
        ladder=_ladder(raw.get("ladder"), bands),
        steps=tuple(steps),
        about=float(comp.get("about_points", 5)) / 100,
        percent_reach=float(comp.get("percent_points", 10)) / 100,
        all_but_min_base=int(raw.get("all_but_min_base", 20)),
        report_percents=tuple(
            (int(r["n"]), int(r["N"]), str(r["printed"]), str(r["where"]))
            for r in raw.get("report_percents") or []
        ),
        landmarks=landmarks,
    )
    pairs = _pairs(raw.get("report_pairs"), scale)
    _check_widenings(scale, {p.id: p for p in pairs})
    return replace(scale, report_pairs=pairs)


def _bands(entries: Any, sources: dict[str, Any]) -> dict[str, Band]:
    if not isinstance(entries, list) or not entries:
        raise ScaleError("bands: expected a non-empty list")
    out: dict[str, Band] = {}
    for i, e in enumerate(entries):
        where = f"band {i + 1}"
        if not isinstance(e, dict):
            raise ScaleError(f"{where}: expected a mapping")
        _known(e, _BAND_KEYS, where)
        phrase = _phrase(e.get("phrase"), where)
        where = f"band {phrase!r}"
        if phrase in out:
            raise ScaleError(f"{where}: declared twice")
        lo, hi = _pair_values(e.get("band"), where)
        basis = e.get("basis")
        if basis not in BASES:
            raise ScaleError(f"{where}: basis {basis!r} is not one of {list(BASES)}")
        if not str(e.get("source") or "").strip():
            raise ScaleError(f"{where}: names no source")
        scale = e.get("scale")
        if basis in ("published", "derived"):
            src = sources.get(scale)
            if not isinstance(src, dict):
                raise ScaleError(f"{where}: scale {scale!r} is not one of the sources")
            if not src.get("verified"):
                raise ScaleError(f"{where}: scale {scale!r} is not verified; no band rests on it")
        published = None
        if basis == "published":
            if not str(e.get("says") or "").strip():
                raise ScaleError(f"{where}: a published band quotes what its scale says")
            published = _pair_values(e.get("published", e.get("band")), f"{where} published")
            if not (lo <= published[0] + _EPS and published[1] <= hi + _EPS):
                raise ScaleError(f"{where}: the band must contain its published range")
        widened = tuple(str(x) for x in e.get("widened_by") or ())
        out[phrase] = Band(
            phrase=phrase,
            low=lo,
            high=hi,
            basis=basis,
            source=" ".join(str(e["source"]).split()),
            scale=scale,
            says=e.get("says"),
            published=published,
            widened_by=widened,
        )
    return out


def _ladder(entries: Any, bands: dict[str, Band]) -> tuple[tuple[str, float, float], ...]:
    if not isinstance(entries, list) or not entries:
        raise ScaleError("ladder: expected a non-empty list of {phrase, from, to}")
    cells = []
    for i, e in enumerate(entries):
        phrase = _phrase(e.get("phrase"), f"ladder cell {i + 1}")
        where = f"ladder cell {phrase!r}"
        lo, hi = _value(e.get("from"), where), _value(e.get("to"), where)
        if lo >= hi:
            raise ScaleError(f"{where}: 'from' must be below 'to'")
        if phrase not in bands:
            raise ScaleError(f"{where}: unknown phrase (it has no band)")
        b = bands[phrase]
        if not (b.low <= lo + _EPS and hi <= b.high + _EPS):
            raise ScaleError(f"{where}: the cell lies outside the phrase's band")
        if cells and lo < cells[-1][1]:
            raise ScaleError(f"{where}: cells must be in increasing order")
        cells.append((phrase, lo, hi))
    for i in range(1, len(cells)):
        (prev, _, p_hi), (phrase, lo, hi) = cells[i - 1], cells[i]
        if not math.isclose(lo, p_hi, abs_tol=_EPS):
            gap = "a gap" if lo > p_hi else "an overlap"
            raise ScaleError(
                f"ladder cell {phrase!r}: {gap} after {prev!r} (every proportion needs one word)"
            )
        cells[i] = (phrase, p_hi, hi)  # exactly the previous cell's end
    if cells[0][1] > _EPS or not math.isclose(cells[-1][2], 1.0, abs_tol=_EPS):
        raise ScaleError("ladder: the cells must run from 0% to 100%")
    names = [c[0] for c in cells]
    if len(names) != len(set(names)):
        raise ScaleError("ladder: a phrase has two cells")
    return tuple(cells)


def _pairs(entries: Any, scale: Scale) -> tuple[ReportPair, ...]:
    out = []
    for i, e in enumerate(entries or []):
        _known(e, _PAIR_KEYS, f"report pair {i + 1}")
        where = f"report pair {e.get('id') or i + 1}"
        pair = ReportPair(
            phrase=_phrase(e.get("phrase"), where),
            n=int(e["n"]),
            N=int(e["N"]),
            where=str(e.get("where") or ""),
            quote=" ".join(str(e.get("quote") or "").split()),
            status=str(e.get("status", "exact")),
            expected=e.get("expected"),
            id=str(e.get("id") or ""),
        )
        if not 0 <= pair.n <= pair.N or pair.N <= 0:
            raise ScaleError(f"{where}: need 0 <= n <= N and N > 0")
        if pair.status not in STATUSES:
            raise ScaleError(f"{where}: status {pair.status!r} is not one of {list(STATUSES)}")
        if pair.status != "exact" and not pair.expected:
            raise ScaleError(f"{where}: a {pair.status!r} pair names the phrase written instead")
        try:
            lo, hi = scale.band(pair.phrase)
        except KeyError:
            raise ScaleError(f"{where}: unknown phrase {pair.phrase!r}") from None
        if not lo - _EPS <= pair.p <= hi + _EPS:
            raise ScaleError(
                f"{where}: {pair.n}/{pair.N} = {100 * pair.p:.1f}% lies outside "
                f"{pair.phrase!r} ({100 * lo:.1f}%-{100 * hi:.1f}%): widen the band, citing it"
            )
        out.append(pair)
    ids = [p.id for p in out if p.id]
    if len(ids) != len(set(ids)):
        raise ScaleError("report_pairs: an id is used twice")
    return tuple(out)


def _check_widenings(scale: Scale, pairs: dict[str, ReportPair]) -> None:
    """A published band reaches beyond its scale only as far as the pairs it cites."""
    for b in scale.bands.values():
        if b.basis != "published":
            continue
        where = f"band {b.phrase!r}"
        pub_lo, pub_hi = b.published
        cited = []
        for pid in b.widened_by:
            if pid not in pairs:
                raise ScaleError(f"{where}: widened_by names an unknown report pair {pid!r}")
            p = pairs[pid]
            if scale.aliases.get(p.phrase, p.phrase) != b.phrase:
                raise ScaleError(f"{where}: report pair {pid!r} is about {p.phrase!r}")
            if pub_lo - _EPS <= p.p <= pub_hi + _EPS:
                raise ScaleError(f"{where}: report pair {pid!r} needs no widening")
            cited.append(p.p)
        for end, pub, side in ((b.low, pub_lo, "low"), (b.high, pub_hi, "high")):
            if math.isclose(end, pub, abs_tol=_EPS):
                continue
            beyond = [x for x in cited if (x < pub if side == "low" else x > pub)]
            forced = min(beyond) if side == "low" and beyond else max(beyond, default=None)
            if forced is None or not math.isclose(end, forced, abs_tol=1e-9):
                raise ScaleError(
                    f"{where}: its {side} end is widened beyond the published "
                    f"{100 * pub:g}% without a report pair at {100 * end:.1f}% in widened_by"
                )


# -- the default scale and the functions of it ------------------------------------------------

#: The scale of the default programme (``config.DEFAULT_WORDING``, named by its instrument).
SCALE = load_scale()
_SCALES: dict[Path, Scale] = {SCALE.path.resolve(): SCALE}


def scale_for(inst: Any) -> Scale:
    """The scale an instrument names (``wording:``), or the default one; cached by path."""
    path = getattr(inst, "wording_path", None)
    if path is None:
        return SCALE
    key = Path(path).resolve()
    if key not in _SCALES:
        _SCALES[key] = load_scale(key)
    return _SCALES[key]


def _check(n: int, N: int) -> None:
    if N <= 0 or n < 0 or n > N:
        raise ValueError(f"need 0 <= n <= N and N > 0, got n={n}, N={N}")


def quantifier(n: int, N: int, scale: Scale | None = None) -> str:
    """The report's phrase for ``n`` out of ``N``.

    Parameters
    ----------
    n, N
        Count and base, ``0 <= n <= N``, ``N > 0``.
    scale
        The wording scale (:data:`SCALE`, the default programme's, when omitted).

    Returns
    -------
    str
        A phrase of the scale's ladder, or "none", "all", "all but one", "all but two".

    Examples
    --------
    >>> quantifier(27, 42)
    'just under two-thirds'
    >>> quantifier(13, 14)
    'almost all'
    >>> quantifier(19, 20)
    'all but one'
    """
    return (scale or SCALE).quantifier(n, N)


def band(phrase: str, scale: Scale | None = None) -> tuple[float, float]:
    """The interval of proportions a phrase stands for, ``(low, high)``, both ends included.

    The scale's bands (and aliases) return their band; "none" and "all"/"every" a point;
    "all but one/two" from the scale's ``all_but_min_base``; comparatives ("more than X",
    "less than X", "more than 40%") and "about X" their bands from the scale's
    ``comparatives``. Which ends a phrase excludes is for the reader to apply
    (:func:`analysis.synthetic.statements.verbal_ok`).

    Raises
    ------
    KeyError
        For a phrase the scale does not know.

    Examples
    --------
    >>> band("most")
    (0.75, 0.9)
    """
    return (scale or SCALE).band(phrase)


def percent_text(n: int, N: int) -> str:
    """Whole-number percentage as the report prints it (halves round up): ``22, 54 -> '41%'``."""
    _check(n, N)
    return f"{math.floor(100 * n / N + 0.5)}%"


# The default scale's tables under their long-standing names.
#: Writing cells: (phrase, lower bound inclusive, upper bound exclusive).
LADDER = SCALE.ladder
#: Reading bands: phrase -> (low, high, source).
BANDS: dict[str, tuple[float, float, str]] = {
    p: (b.low, b.high, b.source) for p, b in SCALE.bands.items()
}
#: The vague words' bands (words :func:`quantifier` never writes), (low, high).
VAGUE: dict[str, tuple[float, float]] = {
    p: (b.low, b.high) for p, b in SCALE.bands.items() if b.basis == "vague"
}
#: Synonyms mapped to a phrase with the same band.
ALIASES = SCALE.aliases
#: Smallest base at which "all but one" / "all but two" replace the ladder.
ALL_BUT_MIN_BASE = SCALE.all_but_min_base
#: Every pair of words and numbers found in the reference report.
REPORT_PAIRS = SCALE.report_pairs
#: Percentages the report prints beside their counts: (n, N, printed, where).
REPORT_PERCENTS = SCALE.report_percents
