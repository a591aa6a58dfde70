"""Checks across the cells of a workbook, so that no data is mixed or hidden silently.

- **One organisation**: the ``trust`` column may only name the organisation being
  ingested (``--trust``); rows naming another are refused, with their row numbers,
  rather than pooled into its figures. ``Norfolk and Suffolk`` and ``Norfolk & Suffolk``
  name ``norfolk-and-suffolk``. Read without an organisation (in code, to stack several),
  several are warned about: each row keeps its own.
- **One spelling per value**: text details (``ldu``, ...) are compared by a key blind to
  case, accents, punctuation, ``&``/``and`` and Cyrillic or Greek letters that look like
  Latin ones (``Mооrside`` with Cyrillic ``о``); two spellings with one key, or two keys
  of five letters or more one edit apart (``Moorsde``, ``Moorside``), are warned about,
  naming both and their rows, because they would be counted as separate groups.
- **Hidden rows and columns** are warned about: they are read and counted like the others.
- **The workbook's language**, from ``--language`` or the workbook's ``settings`` sheet,
  which settles answers whose spelling means different things in different languages.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import pandas as pd

from analysis.errors import UserError
from analysis.ingest.problems import Report
from analysis.ingest.xmlscan import column_letter
from analysis.instrument import Instrument

#: An organisation slug: lower-case words joined by single hyphens.
TRUST_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _fold(text: str) -> str:
    """``"Ynys Môn & Gwynedd"`` -> ``"ynys mon and gwynedd"``: accents off, ``&`` spelt out."""
    bare = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in bare if not unicodedata.combining(ch))
    return bare.casefold().replace("&", " and ").replace("+", " and ")


def slug(text: str) -> str:
    """The organisation slug a name spells: ``"Norfolk & Suffolk"`` -> ``norfolk-and-suffolk``."""
    return _NOT_ALNUM.sub("-", _fold(text)).strip("-")


#: Cyrillic and Greek letters drawn like Latin ones (after Unicode's confusables.txt, the
#: letters of the two scripts that are the same glyph as a Latin letter in common fonts).
_LOOKALIKES = str.maketrans(
    "аеорсухіјѕԁһӏԛԝАВЕКМНОРСТХУІЈЅαονικυΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",  # pragma: allowlist secret
    "aeopcyxijsdhlqwABEKMHOPCTXYIJSaovikuABEZHIKMNOPTYX",  # pragma: allowlist secret
)


def lookalikes(text: str) -> list[str]:
    """The letters of ``text`` that only look Latin: ``["о (CYRILLIC SMALL LETTER O)"]``."""
    seen = dict.fromkeys(ch for ch in text if ch.translate(_LOOKALIKES) != ch)
    return [f"{ch} ({unicodedata.name(ch, f'U+{ord(ch):04X}')})" for ch in seen]


def spelling_key(text: str) -> str:
    """What two spellings of one value share: case, accents, punctuation, spaces ignored.

    Cyrillic and Greek letters that look like Latin ones are read as those Latin letters.
    """
    return _NOT_ALNUM.sub("", _fold(unicodedata.normalize("NFKC", text).translate(_LOOKALIKES)))


def one_edit_apart(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one letter added, dropped, changed or two swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :] or (
            a[i + 2 :] == b[i + 2 :] and a[i : i + 2] == b[i : i + 2][::-1]
        )
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[i + 1 :] == shorter[i:]


def _rows(rows: Sequence[int]) -> str:
    shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
    return f"row{'s' if len(rows) != 1 else ''} {shown}"


def check_trust_column(norm: pd.DataFrame, trust: str | None, rep: Report) -> None:
    """Refuse rows whose ``trust`` names another organisation; write the slug where it matches.

    With ``trust`` (the ``--trust`` slug) every value must spell that slug; without it,
    several organisations are only warned about, since each row keeps its own.
    """
    if "trust" not in norm.columns:
        return
    col = norm["trust"]
    filled = col.notna().to_numpy()
    if not filled.any():
        return
    slugs = col[filled].map(slug)
    groups: dict[str, list[int]] = {}
    for row, s in slugs.items():
        groups.setdefault(s, []).append(int(row))
    if trust is not None:
        for s, rows in groups.items():
            if s == trust:
                continue
            typed = col.at[rows[0]]
            rep.error(
                f"names organisation {typed!r} in {len(rows)} row{'s' if len(rows) != 1 else ''} "
                f"({_rows(rows)}), not {trust} (--trust): one workbook holds one "
                "organisation's cases, so these would be pooled into its figures; move them "
                "to their own workbook or correct the value",
                row=rows[0],
                column="trust",
                value=typed,
            )
        norm.loc[filled & (slugs.reindex(norm.index) == trust).to_numpy(), "trust"] = trust
    elif len(groups) > 1:
        # Without --trust nothing is pooled: each row keeps its organisation, so say so.
        listed = "; ".join(f"{col.at[rows[0]]!r} on {_rows(rows)}" for rows in groups.values())
        rep.warn(
            f"names {len(groups)} organisations ({listed}); each case keeps its own (no "
            "organisation was given, so none is pooled into another's figures)",
            column="trust",
        )


def _shown(col: pd.Series, value: str) -> str:
    """``'Moorside' (rows 2, 3)``, with the count when the rows are too many to list."""
    rows = [int(r) for r in col.index[(col == value).to_numpy()]]
    if len(rows) <= 10:
        return f"{value!r} ({_rows(rows)})"
    return f"{value!r} ({len(rows)} rows: {', '.join(map(str, rows[:10]))}, ...)"


def _warn_near_duplicate_ids(norm: pd.DataFrame, inst: Instrument, rep: Report) -> None:
    """Warn about case ids that differ only in case, spaces or punctuation.

    ``CM-0001`` and ``cm 0001`` are more often one case typed twice than two cases. Exact
    duplicates are refused by validation; these are counted as two cases, so say so.
    """
    ident = inst.identifier_column
    if ident not in norm.columns:
        return
    col = norm[ident].dropna().astype(str)
    keys: dict[str, list[str]] = {}
    for value in col.unique():
        keys.setdefault(spelling_key(value), []).append(value)
    for spellings in keys.values():
        if len(spellings) > 1:
            parts = [_shown(col, value) for value in sorted(spellings)]
            rep.warn(
                f"column {ident}: case ids {' and '.join(parts)} differ only in case, spaces "
                "or punctuation; they are counted as separate cases: if they are one case "
                "entered twice, remove one",
                column=ident,
            )


def warn_near_duplicates(norm: pd.DataFrame, inst: Instrument, rep: Report) -> None:
    """Warn about two spellings of one text detail, naming both and their rows.

    ``&`` vs ``and``, case, punctuation, lookalike letters; or one letter added, dropped,
    changed or two swapped.
    """
    _warn_near_duplicate_ids(norm, inst, rep)
    for cid, d in inst.case_details.items():
        if d.type != "text" or cid == "trust" or cid not in norm.columns:
            continue
        col = norm[cid].dropna()
        counts = col.value_counts(sort=False)
        keys: dict[str, list[str]] = {}
        for value in counts.index:
            keys.setdefault(spelling_key(value), []).append(value)

        for spellings in keys.values():
            if len(spellings) < 2:
                continue
            parts = [_shown(col, value) for value in sorted(spellings)]
            odd = [f"{v!r} holds {', '.join(lookalikes(v))}" for v in sorted(spellings)]
            odd = [o for o in odd if not o.endswith(" holds ")]
            rep.warn(
                f"{' and '.join(parts)} look like one {d.label.lower()} spelt "
                f"{len(spellings)} ways"
                + (f" ({'; '.join(odd)}, not Latin letters)" if odd else "")
                + "; they are counted as separate groups: make them the same",
                column=cid,
            )
        # Typing slips: keys of five letters or more one edit apart. Numbered units
        # ("North 1", "North 2") differ by design, so keys whose digits differ are skipped.
        long = sorted(k for k in keys if len(k) >= 5)
        if len(long) > 300:
            continue  # free-ish text, not a short list of units: pairs would be too many
        for i, a in enumerate(long):
            for b in long[i + 1 :]:
                if re.sub(r"\D", "", a) != re.sub(r"\D", "", b) or not one_edit_apart(a, b):
                    continue
                va, vb = sorted(keys[a])[0], sorted(keys[b])[0]
                rep.warn(
                    f"{_shown(col, va)} and {_shown(col, vb)} differ by one "
                    f"letter; if they are one {d.label.lower()}, they are counted as separate "
                    "groups: make them the same",
                    column=cid,
                )


def warn_hidden(
    hidden_rows: Sequence[int],
    hidden_cols: Sequence[tuple[int, int]],
    n_rows: int,
    mapping: dict[int, str],
    rep: Report,
) -> None:
    """Warn about hidden (or filtered-out) rows and hidden columns: they are still read."""
    rows = [r + 1 for r in hidden_rows if 0 < r < n_rows]
    if rows:
        one = len(rows) == 1
        rep.warn(
            f"{len(rows)} row{' is' if one else 's are'} hidden in Excel (hidden or filtered "
            f"out: {_rows(rows)}); {'it is' if one else 'they are'} read and counted as "
            f"case{'' if one else 's'} like the others: unhide {'it' if one else 'them'} to "
            "check",
            row=rows[0],
        )
    cols = sorted({c for lo, hi in hidden_cols for c in range(lo, hi + 1) if c in mapping})
    if cols:
        named = ", ".join(f"{column_letter(c)} ({mapping[c]})" for c in cols[:10])
        rep.warn(
            f"column{'s' if len(cols) != 1 else ''} {named}{', ...' if len(cols) > 10 else ''} "
            f"{'are' if len(cols) != 1 else 'is'} hidden in Excel; "
            f"{'their' if len(cols) != 1 else 'its'} values are read and counted: unhide "
            f"{'them' if len(cols) != 1 else 'it'} to check them"
        )


def language_id(inst: Instrument, typed: str, where: str) -> str:
    """The instrument's id for a language as typed (``cy``, ``Welsh``, ``Cymraeg``).

    Raises
    ------
    UserError
        If the instrument declares no such language.
    """
    # Matched in full, as slugs are: "cy\n" is not "cy" (a stray newline is a mistake).
    want = typed.casefold()
    for lid, name in inst.languages.items():
        words = {w.casefold() for w in re.findall(r"\w+", name)}
        if want == lid or want == name.casefold() or want in words:
            return lid
    known = ", ".join(f"{k} ({v})" for k, v in inst.languages.items()) or "none"
    raise UserError(
        f"{where} {typed!r} is not a language of instrument {inst.id} (languages: {known})"
    )


def workbook_language(
    inst: Instrument, option: str | None, declared: str | None, rep: Report
) -> str | None:
    """The workbook's language: ``--language`` and the ``settings`` sheet, which must agree."""
    lang = language_id(inst, option, "--language") if option is not None else None
    if declared is None:
        return lang
    try:
        sheet_lang = language_id(inst, declared, "the settings sheet's language")
    except UserError as exc:
        rep.error(str(exc))
        return lang
    if lang is not None and sheet_lang != lang:
        rep.error(
            f"the settings sheet says the workbook's language is {declared!r} but "
            f"--language says {option!r}; make them agree"
        )
    return lang or sheet_lang
