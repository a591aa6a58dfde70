"""Turn the answer variants people type into the instrument's canonical codes.

Research officers fill case workbooks by hand, so the same answer arrives as
``Yes``, ``y``, ``TRUE``, ``1`` or ``yes `` with a non-breaking space. This
module maps such variants to the canonical code of a column's allowed list,
and turns counts typed as ``"3"``, ``3.0`` or ``"3 "`` into numbers. It never
invents an answer: a value it cannot map is passed on (tidied) so that
validation can report it with the original text.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Spaces Excel users paste in from Word and web pages; str.split() misses some of them.
_SPACES = re.compile(r"[\s\u00a0\u2007\u202f\u200b\ufeff]+")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_MIDNIGHT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]00:00:00")

#: Loose keys (lower case, letters and digits only) of the variants for each kind of answer.
YES_VARIANTS = frozenset({"yes", "y", "true", "1", "t"})
NO_VARIANTS = frozenset({"no", "n", "false", "0", "f"})
NA_VARIANTS = frozenset({"na", "notapplicable", "notappl", "notapp", "nap"})


def clean_text(value: object) -> str | None:
    """Tidy one cell into text, or None when it is blank.

    Parameters
    ----------
    value
        A raw cell: str, int, float, bool, date or datetime, None or NaN.

    Returns
    -------
    str or None
        Whitespace (including non-breaking spaces) trimmed and collapsed;
        whole floats written without ``.0`` (Excel stores 1001 as 1001.0);
        dates as ISO text. None for an empty cell.
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
    text = _SPACES.sub(" ", str(value)).strip()
    if _MIDNIGHT.fullmatch(text):
        # The workbook reader gives date cells as text; a date is shown without its time.
        text = text[:10]
    return text or None


def loose_key(text: str) -> str:
    """Case-, space- and punctuation-blind key: ``"Not-applicable"`` -> ``"notapplicable"``."""
    return _NOT_ALNUM.sub("", text.casefold())


@dataclass(frozen=True)
class CodeMatcher:
    """Maps typed variants of one column's answers to its canonical codes.

    Parameters
    ----------
    allowed
        The canonical codes in declared order.
    na_code
        The code meaning 'not applicable', which N/A, n.a. and the like map to.
    """

    allowed: tuple[str, ...]
    na_code: str | None = None

    def lookup(self) -> dict[str, str]:
        """Loose key -> canonical code, including Yes/No/N/A variants when the list has them."""
        table: dict[str, str] = {}
        # Synonyms first, so an exact code with the same loose key (e.g. a code "1") wins below.
        codes_by_key = {loose_key(c): c for c in self.allowed}
        if "yes" in codes_by_key:
            table.update(dict.fromkeys(YES_VARIANTS, codes_by_key["yes"]))
        if "no" in codes_by_key:
            table.update(dict.fromkeys(NO_VARIANTS, codes_by_key["no"]))
        if self.na_code is not None:
            table.update(dict.fromkeys(NA_VARIANTS, self.na_code))
        # Codes whose loose keys collide (e.g. "A-B" and "AB") cannot be told apart loosely;
        # such codes then match only exactly (case-insensitively), handled in normalise().
        seen: dict[str, int] = {}
        for c in self.allowed:
            seen[loose_key(c)] = seen.get(loose_key(c), 0) + 1
        for c in self.allowed:
            if seen[loose_key(c)] == 1:
                table[loose_key(c)] = c
        return table

    def normalise(self, value: object) -> str | None:
        """The canonical code for a typed value, the tidied text if none fits, None if blank."""
        text = clean_text(value)
        if text is None:
            return None
        for c in self.allowed:
            if c.casefold() == text.casefold():
                return c
        return self._table.get(loose_key(text), text)

    @property
    def _table(self) -> dict[str, str]:
        # Cached by hand because the dataclass is frozen.
        cache = self.__dict__.get("_cache")
        if cache is None:
            cache = self.lookup()
            object.__setattr__(self, "_cache", cache)
        return cache


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


def normalise_codes(series: pd.Series, allowed: Iterable[str], na_code: str | None) -> pd.Series:
    """Canonical codes for a coded column, as a categorical (NaN for blanks).

    The categories are the allowed codes in declared order, followed by any values that
    match no allowed code, kept as tidied text so that validation can name them.
    """
    allowed = tuple(allowed)
    matcher = CodeMatcher(allowed, na_code)
    codes, mapped = _factorize(series, matcher.normalise)
    known = set(allowed)
    extra = sorted({m for m in mapped if m is not None and m not in known})
    position = {c: i for i, c in enumerate((*allowed, *extra))}
    table = np.array([position[m] if m is not None else -1 for m in mapped] + [-1], dtype=np.int32)
    cat = pd.Categorical.from_codes(
        table[codes], categories=pd.Index([*allowed, *extra], dtype=object)
    )
    return pd.Series(cat, index=series.index)


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
        For text that is not a number, booleans and dates.
    """
    if isinstance(value, bool) or isinstance(value, (dt.date, dt.time, dt.timedelta)):
        raise NotANumber(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        f = float(value)
        return None if math.isnan(f) else f
    text = clean_text(value)
    if text is None:
        return None
    try:
        f = float(text)
    except ValueError:
        raise NotANumber(value) from None
    if math.isnan(f) or math.isinf(f):
        raise NotANumber(value)
    return f


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
