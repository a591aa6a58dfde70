"""The words every chart carries: subtitles with the base, alt texts, share phrases.

Read from the findings table of one organisation; every number in them is worded by
:mod:`analysis.render.present`.
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.engine.findings import number
from analysis.engine.wording import quantifier
from analysis.render import present
from analysis.render.charts.model import markers_in
from analysis.render.present import C, fmt_int, fmt_pct


def uc_first(text: str) -> str:
    """Upper-case the first letter of a sentence ("alcohol misuse was ..." -> "Alcohol ...")."""
    return text[:1].upper() + text[1:]


def single_trust(findings: pd.DataFrame) -> pd.DataFrame:
    """``findings`` itself; refused when it holds several organisations."""
    # unique() first: iterating an arrow-backed column value by value cost a second a report
    trusts = sorted(set(findings["trust"].dropna().unique()) - {""})
    if len(trusts) > 1:
        raise ValueError(
            f"findings hold several organisations {trusts}; filter to one trust before charting"
        )
    return findings


def rows_of(findings: pd.DataFrame, kind: str, **match: str) -> pd.DataFrame:
    """Findings rows of one kind (of one organisation), filtered on column equality."""
    df = single_trust(findings)
    mask = df["kind"] == kind
    for col, value in match.items():
        mask &= df[col] == value
    return df[mask]


def n_cases(findings: pd.DataFrame, measure_id: str = "n_cases") -> int | None:
    """A sample count (default: cases inspected) from a ``sample`` row; None when absent."""
    rows = rows_of(findings, "sample", measure_id=measure_id)
    if rows.empty:
        return None
    value = number(rows["numerator"].iloc[0])
    return None if math.isnan(value) else present.whole(value)


def subtitle(findings: pd.DataFrame, extra: str = "bases vary") -> str:
    """'73 cases inspected; bases vary'."""
    n = n_cases(findings)
    head = f"{fmt_int(n)} cases inspected" if n is not None else ""
    return "; ".join(p for p in (head, extra) if p) or "Bases vary"


def outcome_subtitle(findings: pd.DataFrame, outcome: str) -> str:
    """'37 of the 73 cases inspected had a relevant judgement; bases vary' (report's NB)."""
    n, n_o = n_cases(findings), n_cases(findings, f"n_cases_{outcome}")
    if n is not None and n_o is not None and n_o != n:
        return (
            f"{fmt_int(n_o)} of the {fmt_int(n)} cases inspected had a relevant judgement; "
            "bases vary"
        )
    return subtitle(findings)


def share_words(n: float, d: float) -> str:
    """The report's words for n of N ('two-thirds'); '' without a base."""
    if math.isnan(n) or math.isnan(d) or d <= 0:
        return ""
    return quantifier(present.whole(n), present.whole(d)).strip()


def share_phrase(n: float, d: float, percent: float, of_what: str) -> str:
    """'less than half of the relevant cases (22 of 54)'; the percent without counts."""
    if math.isnan(n) or math.isnan(d):
        return f"{fmt_pct(percent)} of {of_what}"
    words = share_words(n, d)
    return f"{words or fmt_pct(percent)} of {of_what} ({present.n_of_n(n, d)})"


def alt_items(data: pd.DataFrame, with_series: bool = False) -> str:
    """Every bar of a chart's data as 'label: text', for its alt text."""
    items = []
    for r in data.itertuples(index=False):
        name = f"{r.label}, {r.series}" if with_series and r.series else r.label
        value = f"suppressed {C.symbol}" if r.suppressed else r.text
        items.append(f"{name}: {value}")
    return "; ".join(items)


def alt_markers(data: pd.DataFrame) -> str:
    """The key to the markers drawn, as the alt text's last sentence ("" when none is)."""
    shown = markers_in(data)
    return f" Markers: {present.marker_key(shown)}." if shown else ""
