"""Make untrusted text safe for the places the suite writes it.

Labels, LDU names and answer categories come from case workbooks that anyone
can type into, so they are treated as untrusted wherever they end up:

- HTML reports: :func:`escape_html`.
- CSV and Excel outputs: :func:`neutralise_formula` (OWASP "CSV injection").
- File names (chart files, per-organisation folders): :func:`safe_filename`.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from typing import Any

# One neutralisation for every text output: the CSV writer (analysis.fileio.write_csv)
# and the xlsx writer share it; re-exported here for the render phase.
from analysis.fileio import FORMULA_PREFIXES, neutralise_formula

__all__ = [
    "FORMULA_PREFIXES",
    "escape_html",
    "lc_first",
    "neutralise_formula",
    "safe_filename",
]

# Device names Windows refuses as file names, whatever the extension.
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)
}


def _is_missing(s: Any) -> bool:
    if s is None:
        return True
    try:
        return bool(s != s) or (isinstance(s, float) and math.isnan(s))  # NaN, pd.NA raises
    except TypeError:
        return True  # pd.NA: its truth value is ambiguous, and it means "missing"


def escape_html(s: Any, quote: bool = True) -> str:
    """Escape a value for HTML text or a quoted attribute.

    Parameters
    ----------
    s
        Any value; missing values (None, NaN, ``pd.NA``) become the empty string.
    quote
        Also escape ``" '`` (needed inside attributes; plotly.js text shows them literally).

    Returns
    -------
    str
        ``s`` as text with ``& < >`` (and quotes, when asked) replaced by character references.
    """
    if _is_missing(s):
        return ""
    return html.escape(str(s), quote=quote)


def safe_filename(s: Any, max_length: int = 100) -> str:
    """Turn any text into a portable, lower-case file-name slug.

    Accents are folded to ASCII, every run of other characters becomes ``-``,
    path separators and leading dots cannot survive (so no ``..`` traversal or
    hidden files), and Windows device names get a suffix.

    Parameters
    ----------
    s
        Text such as a chart title, organisation or question id.
    max_length
        Longest slug returned.

    Returns
    -------
    str
        Characters from ``[a-z0-9._-]`` only; ``"untitled"`` when nothing usable is left.
    """
    text = "" if _is_missing(s) else str(s)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9._-]+", "-", text.lower())
    text = re.sub(r"-{2,}", "-", text)
    text = re.sub(r"\.{2,}", ".", text)
    text = text[:max_length].strip("-._")
    if not text:
        return "untitled"
    if text.split(".")[0] in _WINDOWS_RESERVED:
        text = f"{text}-file"
    return text


def lc_first(text: str) -> str:
    """Lower-case the first letter of a sentence fragment, leaving acronyms alone.

    ``"Gender"`` -> ``"gender"``, but ``"OASys RoSH classification"`` and ``"PO"`` keep
    their capitals (a second capital letter marks an acronym).
    """
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text
