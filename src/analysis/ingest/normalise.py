"""Read the answers people type as the instrument's canonical codes, without guessing.

Research officers fill case workbooks by hand, so one answer arrives as ``Yes``, ``yes ``
with a non-breaking space, ``TRUE``, ``1`` or, in Welsh, ``Ie``. A typed value is read as
a code only when the instrument says so:

1. **The code itself**, in any case and spacing (:func:`~analysis.instrument.answer_key`:
   ``"NOT  applicable"`` is ``Not applicable``);
2. **a declared alias** (``answer_aliases`` and each answer set's ``aliases`` in the
   instrument YAML, each citing its source), spelt the same way;
3. failing both, the same with the separators ``- _ . / ,`` ignored
   (``not-applicable``, ``Sufficient-review``), but only where they join words: between
   letters, or a full stop after one (``Yes.``, ``Y.E.S.``, ``n.a.``). A separator
   before a word (``-No``), after a number (``1.``, ``1/``) or left dangling (``Y/``)
   changes what was typed (``-1`` is a number, not the tally ``1``), so it is refused.

Anything else is refused: ``Yes?`` and ``(no)`` carry a doubt or a note and are not
answers (validation says "did you mean 'Yes'?"). A spelling that means different answers
in the instrument's languages (Welsh ``Na`` is No, English ``NA`` is Not applicable) is
refused as ambiguous unless the workbook's language is declared; then it is read in that
language and a warning says so. Counts must be plain decimal numbers (``3``, ``3.0``):
Python's ``float`` would accept ``1_0``, ``1e1`` and ``٣``, which no officer means.

Everything is worked out once per distinct value of a column, never once per cell.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from analysis.instrument import AnswerAlias, answer_key

# Spaces Excel users paste in from Word and web pages; str.split() misses some of them.
_SPACES = re.compile(r"[\s\u00a0\u2007\u202f\u200b\ufeff]+")
#: Separators a loose match ignores: they join words, they do not change an answer.
_SEPARATORS = re.compile(r"[-_./,]+")
#: Where separators may be ignored: words of letters joined by them, perhaps a final stop.
_JOINED_WORDS = re.compile(r"[^\W\d_]+(?:[-_./,]+[^\W\d_]+)*\.?")
_NOT_ALNUM = re.compile(r"[\W_]+")
_MIDNIGHT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]00:00:00")
#: A count as people write one: ASCII digits, an optional sign and decimal part.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def clean_text(value: object) -> str | None:
    """Tidy one cell into text, or None when it is blank.

    Parameters
    ----------
    value
        A raw cell: str, int, float, bool, date or datetime, None or NaN.

    Returns
    -------
    str or None
        NFC Unicode (an accent typed as a separate mark is the same letter as a composed
        one); whitespace (including non-breaking spaces) trimmed and collapsed; whole
        floats written without ``.0`` (Excel stores 1001 as 1001.0); dates as ISO text.
        None for an empty cell.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", str(value))).strip()
    if _MIDNIGHT.fullmatch(text):
        # The workbook reader gives date cells as text; a date is shown without its time.
        text = text[:10]
    return text or None


def loose_key(text: str) -> str:
    """:func:`~analysis.instrument.answer_key` without separators: ``"n.a."`` -> ``"na"``."""
    return _SEPARATORS.sub("", answer_key(text))


def show(value: object) -> str:
    """A typed value quoted exactly as typed, for a message: ``'Yes? '``, ``3``, ``blank``.

    Text is shown with :func:`repr`, so spaces at either end and odd characters show;
    a plain number is shown bare; very long text is cut short.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "blank"
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return clean_text(value) or "blank"
    text = value if isinstance(value, str) else (clean_text(value) or "")
    if _MIDNIGHT.fullmatch(text):
        text = text[:10]  # a date cell, as Excel shows it (the reader adds a midnight time)
    if not text.strip():
        return "blank" if not text else repr(text)
    if _PLAIN_NUMBER.fullmatch(text):
        return text
    if len(text) > 60:
        return repr(text[:57] + "...")
    return repr(text)


@dataclass(frozen=True)
class Meaning:
    """One thing a spelling can mean: a code, by the code itself or by an alias."""

    code: str
    alias: AnswerAlias | None = None

    @property
    def language(self) -> str | None:
        """The alias's language; None for the code itself and for language-free aliases."""
        return self.alias.language if self.alias else None


@dataclass(frozen=True)
class Reading:
    """How one distinct typed value was read.

    ``code`` is the canonical code, or None when the value was refused; ``meanings``
    lists the alternatives of an ambiguous value (empty when nothing matched);
    ``by_language`` is the language that settled an ambiguity, if one did; ``foreign`` is
    the language a value is an answer in when that is not the workbook's declared one
    (``Ie`` in a workbook declared English), so that it can be warned about.
    """

    code: str | None
    meanings: tuple[Meaning, ...] = ()
    by_language: str | None = None
    foreign: str | None = None


class CodeMatcher:
    """Reads typed values of one coded column as its canonical codes.

    Parameters
    ----------
    allowed
        The canonical codes in declared order.
    aliases
        The column's aliases (:meth:`analysis.instrument.Instrument.aliases`).
    language
        The workbook's declared language, which settles spellings that mean different
        answers in different languages; None when undeclared.
    languages
        Language id -> name, for messages.
    """

    def __init__(
        self,
        allowed: Sequence[str],
        aliases: Sequence[AnswerAlias] = (),
        language: str | None = None,
        languages: dict[str, str] | None = None,
    ) -> None:
        self.allowed = tuple(allowed)
        # An alias reaches only a column that holds its code.
        self.aliases = tuple(a for a in aliases if a.code in self.allowed)
        self.language = language
        self.languages = dict(languages or {})
        self._exact: dict[str, list[Meaning]] = {}
        self._loose: dict[str, list[Meaning]] = {}
        meanings = [Meaning(c) for c in self.allowed] + [Meaning(a.code, a) for a in self.aliases]
        for m in meanings:
            text = m.alias.text if m.alias else m.code
            for table, key in ((self._exact, answer_key(text)), (self._loose, loose_key(text))):
                if m not in table.setdefault(key, []):
                    table[key].append(m)

    def read(self, text: str) -> Reading:
        """How a tidied, non-blank value reads (see the module notes for the order)."""
        key = answer_key(text)
        found = self._exact.get(key)
        if not found and _JOINED_WORDS.fullmatch(key):
            found = self._loose.get(loose_key(text))
        if not found:
            return Reading(None)
        codes = {m.code for m in found}
        if self.language is not None and all(
            m.language not in (None, self.language) for m in found
        ):
            # An answer only in another language than the declared one: read, but said.
            if len(codes) == 1:
                return Reading(found[0].code, tuple(found), foreign=found[0].language)
            return Reading(None, tuple(found))
        if len(codes) == 1:
            return Reading(found[0].code)
        own = [m for m in found if m.alias is None]
        if len(own) == 1:  # a code spelt out beats an alias of another code
            return Reading(own[0].code)
        if self.language is not None:
            fits = {m.code for m in found if m.language in (None, self.language)}
            if len(fits) == 1:
                return Reading(fits.pop(), tuple(found), by_language=self.language)
        return Reading(None, tuple(found))

    def normalise(self, value: object) -> str | None:
        """The canonical code for a typed value, the tidied text if none fits, None if blank."""
        text = clean_text(value)
        if text is None:
            return None
        code = self.read(text).code
        return code if code is not None else text

    def why_not(self, value: object, what: str = "answer") -> str:
        """Why a refused value is not an answer: ambiguous (and how to settle it), or a hint.

        ``what`` names the kind of value (``answer``, ``value``) in the message.
        """
        text = clean_text(value) or ""
        reading = self.read(text)
        if reading.meanings:
            return f"is ambiguous: {self.alternatives(reading)}; {LANGUAGE_HINT}"
        hint = self.suggest(text)
        return f"is not an allowed {what} (allowed: {', '.join(self.allowed)})" + (
            f"; did you mean {hint!r}?" if hint else ""
        )

    def alternatives(self, reading: Reading, besides: str | None = None) -> str:
        """``in Welsh 'Na' means 'No', in English 'NA' means 'Not applicable'``.

        ``besides`` leaves out the meanings of that code (the one the value was read as).
        """
        parts = []
        for m in reading.meanings:
            if m.code == besides:
                continue
            if m.alias is None:
                parts.append(f"{m.code!r} is an answer")
                continue
            lang = self.languages.get(m.language, m.language) if m.language else None
            where = f"in {lang} ({m.language})" if lang else "in any language"
            parts.append(f"{where} {m.alias.text!r} means {m.code!r}")
        return ", ".join(parts)

    def suggest(self, text: str) -> str | None:
        """The code a refused value most likely stands for, if one clearly does."""
        # NFKC for the hint only: a fullwidth "Ｙｅｓ" is refused, but it stands for "Yes".
        text = unicodedata.normalize("NFKC", text)
        bare = _NOT_ALNUM.sub("", answer_key(text))
        spellings = [(c, c) for c in self.allowed] + [(a.text, a.code) for a in self.aliases]
        same = {code for s, code in spellings if bare and _NOT_ALNUM.sub("", answer_key(s)) == bare}
        if len(same) == 1:  # "(no)", "Yes?": the letters of one answer, and something more
            return same.pop()
        best, score = None, 0.0
        t = answer_key(text)
        for s, code in spellings:
            k = answer_key(s)
            r = max(
                difflib.SequenceMatcher(None, t, k).ratio(),
                # the first word of a long code: "Sufficent" for "Sufficient review"
                difflib.SequenceMatcher(None, t, s.split()[0].casefold()).ratio() * 0.97
                if s.split()
                else 0.0,
            )
            if r > score:
                best, score = code, r
        return best if score >= 0.75 else None


#: How to settle an ambiguous spelling; quoted by every such message.
LANGUAGE_HINT = (
    "declare the workbook's language with --language (e.g. --language cy), or in a row "
    "'language' on a sheet named 'settings'"
)


@lru_cache(maxsize=1024)
def code_matcher(
    allowed: tuple[str, ...],
    aliases: tuple[AnswerAlias, ...],
    language: str | None,
    languages: tuple[tuple[str, str], ...],
) -> CodeMatcher:
    """A :class:`CodeMatcher`, built once per column spec: a batch reads many workbooks."""
    return CodeMatcher(allowed, aliases, language, dict(languages))


def _factorize(series: pd.Series, fn) -> tuple[np.ndarray, list]:
    """Integer codes of ``series`` (-1 for blanks) and ``fn`` applied once per distinct value.

    A 10,000-row column holds only a handful of distinct answers, so mapping them once is
    what keeps normalisation cheap; for the Arrow-backed text columns the workbook reader
    gives, pandas factorizes in C++ without a Python object per cell.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    uniques = list(uniques)
    if any(isinstance(u, (bool, np.bool_)) for u in uniques):
        # factorize treats True as 1 and False as 0, which mean different things here.
        # Map cell by cell (rare: only object columns holding real booleans), then number
        # the distinct results.
        first: dict = {}
        codes = np.empty(len(series), dtype=np.intp)
        for i, v in enumerate(series.to_numpy(dtype=object)):
            codes[i] = first.setdefault((type(v), v), len(first))
        return codes, [fn(v) for _, v in first]
    return codes, [fn(u) for u in uniques]


def _map_unique(series: pd.Series, fn) -> pd.Series:
    """Apply ``fn`` once per distinct value, as an object series (None for blanks)."""
    codes, mapped = _factorize(series, fn)
    # The extra last slot is what a blank maps to: code -1 indexes it.
    table = np.empty(len(mapped) + 1, dtype=object)
    table[:-1] = mapped
    table[-1] = fn(None)
    return pd.Series(table[codes], index=series.index, dtype=object)


def normalise_codes(
    series: pd.Series, matcher: CodeMatcher
) -> tuple[pd.Series, dict[str, Reading]]:
    """Canonical codes for a coded column, as a categorical (NaN for blanks).

    The categories are the allowed codes in declared order, followed by any values that
    match no allowed code, kept as tidied text so that validation can name them.

    Returns
    -------
    (codes, settled)
        The categorical column, and the values (tidied text) that only the declared
        language made readable, or that are answers only in another language, with how
        they were read.
    """
    allowed = matcher.allowed
    settled: dict[str, Reading] = {}

    def one(value: object) -> str | None:
        text = clean_text(value)
        if text is None:
            return None
        reading = matcher.read(text)
        if reading.by_language is not None or reading.foreign is not None:
            settled[text] = reading
        return reading.code if reading.code is not None else text

    codes, mapped = _factorize(series, one)
    known = set(allowed)
    extra = sorted({m for m in mapped if m is not None and m not in known})
    position = {c: i for i, c in enumerate((*allowed, *extra))}
    table = np.array([position[m] if m is not None else -1 for m in mapped] + [-1], dtype=np.int32)
    cat = pd.Categorical.from_codes(
        table[codes], categories=pd.Index([*allowed, *extra], dtype=object)
    )
    return pd.Series(cat, index=series.index), settled


def normalise_text(series: pd.Series) -> pd.Series:
    """Tidied text for free columns (identifiers, names): None for blanks."""
    return _map_unique(series, clean_text)


class NotANumber(ValueError):
    """A count cell that holds something other than a number."""


def parse_count(value: object) -> float | None:
    """A count cell as a float (whole-number and range checks come later).

    Raises
    ------
    NotANumber
        For text that is not a plain decimal number (``1_0``, ``1e1``, ``three``),
        booleans and dates.
    """
    if isinstance(value, bool) or isinstance(value, (dt.date, dt.time, dt.timedelta)):
        raise NotANumber(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        f = float(value)
        if math.isinf(f):
            raise NotANumber(value)
        return None if math.isnan(f) else f
    text = clean_text(value)
    if text is None:
        return None
    if not _PLAIN_NUMBER.fullmatch(text):
        raise NotANumber(value)
    return float(text)


def normalise_counts(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Counts as float64 plus a mask of cells that were not numbers at all.

    Returns
    -------
    (values, bad)
        ``values`` is NaN for blanks and for bad cells; ``bad`` marks the latter.
    """

    def one(v: object) -> object:
        try:
            return parse_count(v)
        except NotANumber:
            return _BAD

    codes, mapped = _factorize(series, one)
    numbers = np.array([np.nan if v is None or v is _BAD else v for v in mapped] + [np.nan])
    flags = np.array([v is _BAD for v in mapped] + [False])
    index = series.index
    return pd.Series(numbers[codes], index=index), pd.Series(flags[codes], index=index)


_BAD = object()
