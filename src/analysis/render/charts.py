"""Charts of the findings table, for reports (interactive) and documents (static).

Every chart is built from the findings table only (see ``docs/design.md``):
builders pick rows, never recompute a figure from cases, and hand back a
:class:`Chart` that holds a small tidy *aggregate* frame (labels, numerators,
denominators, percents, intervals, flags) plus words: a title that states the
finding, a subtitle with the base and an alt text for screen readers.

A chart is one of three shapes, each with one renderer per backend:

- ``bars``: one series of horizontal bars with "n of N" labels
  (outcome scores, data summaries, sample profile);
- ``grouped``: several series of horizontal bars with 95% interval error bars
  (comparisons between groups, the factor table);
- ``stacked``: 100% stacked horizontal bars of answer categories (the report's
  review and oversight pies).

Suppressed cells (flag ``c`` or ``secondary``) never reach a chart's data: they
are drawn as a gap labelled ``[c]``. Bases under the low-base threshold carry a
``[low]`` label and a hatched bar. Colours come from the Okabe-Ito palette,
which stays distinguishable with the common colour-vision deficiencies.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd

from analysis import config
from analysis.engine.findings import flag_set, number
from analysis.render.textsafe import escape_html, lc_first, safe_filename

if TYPE_CHECKING:  # heavy imports only when a renderer runs
    import plotly.graph_objects as go
    from matplotlib.figure import Figure

    from analysis.instrument import Instrument

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Series colours in order of use; yellow is last because it is faint on white.
SERIES_COLOURS = [
    OKABE_ITO[k]
    for k in ("blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue", "black")
] + [OKABE_ITO["yellow"]]
#: Segment colours of stacked bars: neighbours differ in hue and lightness.
STACK_COLOURS = [
    OKABE_ITO[k]
    for k in ("blue", "sky_blue", "orange", "vermillion", "reddish_purple", "bluish_green")
] + [OKABE_ITO["yellow"], "#999999"]

KINDS = ("bars", "grouped", "stacked")
#: Columns of every chart's data frame (aggregates only; no case-level column exists).
DATA_COLUMNS = [
    "label",  # bar (category axis) label
    "series",  # legend entry; "" for a single series
    "numerator",
    "denominator",
    "percent",
    "ci_low",
    "ci_high",
    "flags",  # as in the findings table
    "suppressed",  # True: drawn as a gap labelled [c]; numbers are blanked
    "low",  # True: base under the low-base threshold
    "text",  # label drawn on the bar
]
#: Appendix 2 order of the sample profile charts.
PROFILE_ORDER = ("case_type", "gender", "rosh_start", "ethnicity", "principal_offence")
#: Comparison variables in report order; others follow in findings order.
GROUP_VAR_ORDER = ("om_grade", "gender", "ldu")
GROUP_VAR_LABELS = {
    "om_grade": "offender manager grade",
    "gender": "gender",
    "ldu": "local delivery unit",
}
SUPPRESSED_FLAGS = {"c", "secondary"}
#: Significance level applied to Benjamini-Hochberg adjusted p-values.
ALPHA = 0.05
#: Most questions a default comparison chart draws.
MAX_COMPARISON_QUESTIONS = 12
#: Static output settings that make reruns byte-identical.
STATIC_RC = {"svg.hashsalt": "analysis-charts", "svg.fonttype": "path"}
PNG_DPI = 150
PNG_ZLIB = {"compress_level": 3}
_LABEL_WIDTH = 38  # characters per line of a category label
_TITLE_WIDTH = 80


# -- the Chart -------------------------------------------------------------------------


@dataclass
class Chart:
    """One chart: words plus a tidy aggregate frame, renderable with plotly or matplotlib.

    Attributes
    ----------
    id
        File-safe slug, unique within a report (``data-summary-o4``).
    title
        States the finding ("Protecting the public: 66% of work was done well enough").
    subtitle
        The base ("73 cases inspected; bases vary").
    alt_text
        Full-sentence description with the key numbers, for screen readers.
    kind
        ``bars``, ``grouped`` or ``stacked`` (see the module docstring).
    data
        Aggregates only, with :data:`DATA_COLUMNS`.
    x_title, y_title
        Axis titles.
    intervals
        Draw 95% interval error bars.
    """

    id: str
    title: str
    subtitle: str
    alt_text: str
    kind: str
    data: pd.DataFrame
    x_title: str = "Percentage of relevant cases"
    y_title: str = ""
    intervals: bool = False
    source: str = field(default="Source: case inspection findings table")

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown chart kind {self.kind!r}; expected one of {KINDS}")
        self.id = safe_filename(self.id)

    # -- derived words ----------------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        """Category-axis labels in display order (top to bottom)."""
        return list(dict.fromkeys(self.data["label"]))

    @property
    def series(self) -> list[str]:
        """Legend entries in order."""
        return list(dict.fromkeys(self.data["series"]))

    @property
    def footnote(self) -> str:
        """Explains the markers that appear on this chart (empty when none do)."""
        parts = []
        if self.data["low"].any():
            parts.append(f"[low] fewer than {config.LOW_BASE_THRESHOLD} relevant cases")
        if self.data["suppressed"].any():
            parts.append("[c] suppressed to protect confidentiality")
        if self.intervals:
            parts.append("lines show 95% confidence intervals (Wilson)")
        return "; ".join(parts) + ("." if parts else "")

    def to_plotly(self) -> go.Figure:
        """Interactive figure; hovering a bar shows n of N and the 95% interval."""
        if self.kind == "stacked":
            return _plotly_stacked(self)
        return _plotly_bars(self)

    def to_matplotlib(self) -> Figure:
        """Static figure in seaborn's whitegrid style (Agg canvas; pyplot is not used)."""
        if self.kind == "stacked":
            return _mpl_stacked(self)
        return _mpl_bars(self)


# -- reading the findings table ----------------------------------------------------------


def _int_text(value: float) -> str:
    return f"{int(round(value)):,}"


def _pct_text(value: float) -> str:
    return f"{value:.0f}%"


def _uc_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _single_trust(findings: pd.DataFrame) -> pd.DataFrame:
    trusts = sorted(set(findings["trust"].dropna()) - {""})
    if len(trusts) > 1:
        raise ValueError(
            f"findings hold several organisations {trusts}; filter to one trust before charting"
        )
    return findings


def _rows(findings: pd.DataFrame, kind: str, **match: str) -> pd.DataFrame:
    df = _single_trust(findings)
    mask = df["kind"] == kind
    for col, value in match.items():
        mask &= df[col] == value
    return df[mask]


def n_cases(findings: pd.DataFrame, measure_id: str = "n_cases") -> int | None:
    """A sample count (default: cases inspected) from a ``sample`` row; None when absent."""
    rows = _rows(findings, "sample", measure_id=measure_id)
    if rows.empty:
        return None
    value = number(rows["numerator"].iloc[0])
    return None if math.isnan(value) else int(round(value))


def _subtitle(findings: pd.DataFrame, extra: str = "bases vary") -> str:
    n = n_cases(findings)
    head = f"{n:,} cases inspected" if n is not None else ""
    return "; ".join(p for p in (head, extra) if p) or "Bases vary"


def _outcome_subtitle(findings: pd.DataFrame, outcome: str) -> str:
    """'37 of the 73 cases inspected had a relevant judgement; bases vary' (report's NB)."""
    n, n_o = n_cases(findings), n_cases(findings, f"n_cases_{outcome}")
    if n is not None and n_o is not None and n_o != n:
        return f"{n_o:,} of the {n:,} cases inspected had a relevant judgement; bases vary"
    return _subtitle(findings)


def _bar_text(percent: float, n: float, d: float, low: bool) -> str:
    if math.isnan(percent):
        return "[z]"
    text = _pct_text(percent)
    if not math.isnan(n) and not math.isnan(d):
        text += f" ({_int_text(n)} of {_int_text(d)})"
    return text + (" [low]" if low else "")


def _record(
    row: pd.Series, label: str, series: str = "", force_suppressed: bool = False
) -> dict[str, Any]:
    """One chart-data record from a findings row; suppressed rows lose every number."""
    flags = flag_set(row["flags"])
    suppressed = force_suppressed or bool(flags & SUPPRESSED_FLAGS)
    low = "low" in flags
    values = {
        c: number(row[c]) for c in ("numerator", "denominator", "percent", "ci_low", "ci_high")
    }
    if suppressed:
        values = dict.fromkeys(values, math.nan)
    text = (
        "[c]"
        if suppressed
        else _bar_text(values["percent"], values["numerator"], values["denominator"], low)
    )
    return {
        "label": label,
        "series": series,
        **values,
        "flags": ";".join(sorted(flags)),
        "suppressed": suppressed,
        "low": low,
        "text": text,
    }


def _frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(list(records), columns=DATA_COLUMNS)
    for c in ("numerator", "denominator", "percent", "ci_low", "ci_high"):
        df[c] = df[c].astype("float64")
    for c in ("suppressed", "low"):
        df[c] = df[c].astype(bool)
    return df.reset_index(drop=True)


def _quantifier(n: float, d: float) -> str:
    """The report's words for n of N ('two-thirds') from engine.wording; '' if unavailable."""
    if math.isnan(n) or math.isnan(d) or d <= 0:
        return ""
    try:  # wording is another module's; plain numbers are the fallback
        from analysis.engine.wording import quantifier

        words = quantifier(int(round(n)), int(round(d)))
    except Exception:  # noqa: BLE001 - any failure falls back to plain numbers
        return ""
    return words.strip() if isinstance(words, str) else ""


def _share_phrase(n: float, d: float, percent: float, of_what: str) -> str:
    """'less than half of the relevant cases (22 of 54)', numbers only without engine.wording."""
    if math.isnan(n) or math.isnan(d):
        return f"{_pct_text(percent)} of {of_what}"
    counts = f"({_int_text(n)} of {_int_text(d)})"
    words = _quantifier(n, d)
    return f"{words or _pct_text(percent)} of {of_what} {counts}"


def _alt_items(data: pd.DataFrame, with_series: bool = False) -> str:
    items = []
    for r in data.itertuples(index=False):
        name = f"{r.label}, {r.series}" if with_series and r.series else r.label
        value = "suppressed [c]" if r.suppressed else r.text
        items.append(f"{name}: {value}")
    return "; ".join(items)


def _alt_markers(data: pd.DataFrame) -> str:
    notes = []
    if data["suppressed"].any():
        notes.append("Values marked [c] are suppressed and not shown.")
    if data["low"].any():
        notes.append(f"[low] marks bases under {config.LOW_BASE_THRESHOLD} cases.")
    return (" " + " ".join(notes)) if notes else ""


# -- builders --------------------------------------------------------------------------


def outcome_summary(findings: pd.DataFrame, instrument: Instrument | None = None) -> Chart:
    """Bar chart of the outcome scores (% of work done well enough), in outcome order.

    Parameters
    ----------
    findings
        The findings table of one organisation.
    instrument
        Optional; supplies the outcomes' short names for labels.

    Returns
    -------
    Chart
        Kind ``bars``.
    """
    rows = _rows(findings, "outcome_score")
    if rows.empty:
        raise ValueError("findings hold no outcome_score rows")
    rows = rows.assign(_o=rows["outcome"].str.extract(r"(\d+)", expand=False).astype("Float64"))
    rows = rows.sort_values("_o", kind="stable")
    records = []
    for _, r in rows.iterrows():
        label = r["label"] or r["outcome"]
        if instrument is not None and r["outcome"] in instrument.outcomes:
            label = instrument.outcomes[r["outcome"]].short
        records.append(_record(r, label))
    data = _frame(records)
    # A score averages its questions' proportions, so its pooled numerator and denominator
    # (judgements) do not give the score: showing them as "n of N" would mislead.
    data[["numerator", "denominator"]] = np.nan
    data["text"] = [
        t if s else _bar_text(p, math.nan, math.nan, low)
        for t, s, p, low in zip(
            data["text"], data["suppressed"], data["percent"], data["low"], strict=True
        )
    ]
    shown = data[~data["suppressed"] & data["percent"].notna()]
    if shown.empty:
        title = "Outcome scores"
    else:
        best = shown.loc[shown["percent"].idxmax()]
        worst = shown.loc[shown["percent"].idxmin()]
        title = (
            f"{_uc_first(best['label'])} scored highest ({_pct_text(best['percent'])}) and "
            f"{lc_first(worst['label'])} lowest ({_pct_text(worst['percent'])})"
        )
    alt = (
        f"Horizontal bar chart of the percentage of work done well enough for each of "
        f"{len(data)} outcomes. {_alt_items(data)}.{_alt_markers(data)}"
    )
    return Chart(
        id="outcome-summary",
        title=title,
        subtitle=_subtitle(findings),
        alt_text=alt,
        kind="bars",
        data=data,
        x_title="Work done well enough (%)",
        y_title="Outcome",
    )


def data_summary(findings: pd.DataFrame, instrument: Instrument, outcome: str) -> Chart:
    """An outcome's "Data Summary": % above the line for its chart-tagged key questions.

    Questions tagged ``chart: <outcome>`` in the instrument are shown in instrument
    order; when none is tagged, all the outcome's scored questions except factor items
    are shown. Each bar is labelled "n of N".

    Parameters
    ----------
    findings
        The findings table of one organisation.
    instrument
        Gives the question order and short labels.
    outcome
        Outcome id, e.g. ``"O4"``.

    Returns
    -------
    Chart
        Kind ``bars``.
    """
    if outcome not in instrument.outcomes:
        raise ValueError(f"unknown outcome {outcome!r}")
    name = instrument.outcomes[outcome].short
    qids = [q.id for q in instrument.questions.values() if q.chart == outcome]
    if not qids:
        qids = [q.id for q in instrument.questions_for_outcome(outcome) if q.factor is None]
    rows = _rows(findings, "question")
    by_id = {r["measure_id"]: r for _, r in rows.iterrows()}
    records = [_record(by_id[q], instrument.questions[q].label) for q in qids if q in by_id]
    if not records:
        raise ValueError(f"findings hold no question rows for outcome {outcome}")
    data = _frame(records)

    score = _rows(findings, "outcome_score", measure_id=f"score_{outcome}")
    shown = data[~data["suppressed"]]
    lowest = shown.loc[shown["percent"].idxmin()] if not shown.empty else None
    score_pct = number(score["percent"].iloc[0]) if not score.empty else math.nan
    score_c = not score.empty and bool(flag_set(score["flags"].iloc[0]) & SUPPRESSED_FLAGS)
    if not math.isnan(score_pct) and not score_c:
        # A question_mean score is not its pooled n/N, so the words come from the score.
        words = _quantifier(round(score_pct * 10), 1000) if 0.5 < score_pct < 99.5 else ""
        share = f"{words} ({_pct_text(score_pct)})" if words else _pct_text(score_pct)
        title = f"{name}: {share} of work was done well enough"
        if lowest is not None and len(shown) > 1:
            title += f"; lowest was {lc_first(lowest['label'])} ({_pct_text(lowest['percent'])})"
    elif not shown.empty:
        title = (
            f"{name}: key questions ranged from {_pct_text(shown['percent'].min())} "
            f"to {_pct_text(shown['percent'].max())} done well enough"
        )
    else:
        title = f"{name}: key questions"
    alt = (
        f"Horizontal bar chart of the percentage of relevant cases done well enough for "
        f"{len(data)} key question{'s' if len(data) != 1 else ''} on {lc_first(name)}. "
        f"{_alt_items(data)}.{_alt_markers(data)}"
    )
    return Chart(
        id=f"data-summary-{outcome}",
        title=title,
        subtitle=_outcome_subtitle(findings, outcome),
        alt_text=alt,
        kind="bars",
        data=data,
        x_title="Relevant cases done well enough (%)",
        y_title="Key question",
    )


_FACTOR_ID = re.compile(r"^f_(?P<factor>.+)_(?P<item>identified|interventions|progress)$")
_FACTOR_SERIES = {
    "interventions": "Sufficient interventions or services delivered",
    "progress": "Sufficient progress made",
}


def _factor_rows(
    findings: pd.DataFrame, instrument: Instrument | None, hide_suppressed: bool = True
) -> list[dict[str, Any]]:
    """Factors with their three items' findings rows, ordered by prevalence (ties: table order).

    With ``hide_suppressed`` a suppressed prevalence sorts last, so the order does not
    reveal it; internal tables, which show the value, pass False.
    """
    rows = _rows(findings, "factor")
    item_of: dict[str, tuple[str, str]] = {}
    labels: dict[str, str] = {}
    if instrument is not None:
        for f in instrument.factors.values():
            labels[f.id] = f.label
            for item, qid in f.items.items():
                item_of[qid] = (f.id, item)
    factors: dict[str, dict[str, Any]] = {}
    for _, r in rows.iterrows():
        mid = r["measure_id"]
        if mid in item_of:
            fid, item = item_of[mid]
        elif m := _FACTOR_ID.match(mid):
            fid, item = m["factor"], m["item"]
        else:
            continue
        f = factors.setdefault(fid, {"id": fid, "label": labels.get(fid, "")})
        f[item] = r
        if item == "identified" and not f["label"]:
            f["label"] = re.sub(r":\s*identified$", "", r["label"]) or fid
    out = [f for f in factors.values() if "identified" in f]
    # Unknown (suppressed) prevalence sorts last rather than revealing its rank.
    out.sort(key=lambda f: -_prevalence(f["identified"], hide_suppressed))
    return out


def _prevalence(row: pd.Series, hide_suppressed: bool = True) -> float:
    if hide_suppressed and flag_set(row["flags"]) & SUPPRESSED_FLAGS:
        return -1.0
    value = number(row["numerator"])
    return -1.0 if math.isnan(value) else value


def factor_chart(findings: pd.DataFrame, instrument: Instrument | None = None) -> Chart:
    """The report's table 3.5 as a chart: per factor, % interventions and % progress.

    Factors are ordered by prevalence (cases where the factor was identified), and
    the prevalence count is part of each label, as in the report's table.

    Parameters
    ----------
    findings
        The findings table of one organisation.
    instrument
        Optional; supplies factor labels and item ids (otherwise parsed from
        ``f_<factor>_<item>`` measure ids).

    Returns
    -------
    Chart
        Kind ``grouped`` with series interventions and progress, with error bars.
    """
    factors = _factor_rows(findings, instrument)
    if not factors:
        raise ValueError("findings hold no factor rows")
    records = []
    for f in factors:
        prevalence = _prevalence(f["identified"])
        count = "[c]" if prevalence < 0 else f"{_int_text(prevalence)} cases"
        label = f"{f['label']} ({count})"
        # The items' base is the prevalence: a hidden prevalence hides them too.
        hide = bool(flag_set(f["identified"]["flags"]) & SUPPRESSED_FLAGS)
        for item, series in _FACTOR_SERIES.items():
            if item in f:
                records.append(_record(f[item], label, series, force_suppressed=hide))
    data = _frame(records)
    top = factors[0]
    top_n = _prevalence(top["identified"])
    total = number(top["identified"]["denominator"])
    progress = data[(data["series"] == _FACTOR_SERIES["progress"]) & ~data["suppressed"]]
    any_hidden = any(_prevalence(f["identified"]) < 0 for f in factors)
    title = _uc_first(top["label"])
    if any_hidden:
        # A suppressed prevalence may be the largest: claim no ranking.
        title = "Offending-related factors"
    elif top_n >= 0:
        base = f"{_int_text(top_n)} of {_int_text(total)}" if not math.isnan(total) else ""
        title += f" was the most common factor ({base} cases)" if base else " was most common"
    if not progress.empty:
        title += (
            f"{':' if any_hidden else ';'} sufficient progress ranged from "
            f"{_pct_text(progress['percent'].min())} to {_pct_text(progress['percent'].max())}"
        )
    alt = (
        f"Grouped horizontal bar chart of {len(factors)} offending-related factors in order of "
        f"prevalence, showing for each the percentage of cases where the factor was identified "
        f"that had sufficient interventions and sufficient progress. "
        f"{_alt_items(data, with_series=True)}.{_alt_markers(data)}"
    )
    return Chart(
        id="factors",
        title=title,
        subtitle=_subtitle(findings, "percentages are of cases where the factor was identified"),
        alt_text=alt,
        kind="grouped",
        data=data,
        x_title="Cases where the factor was identified (%)",
        y_title="Offending-related factor (cases identified)",
        intervals=True,
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _default_comparison_ids(
    rows: pd.DataFrame, diffs: pd.DataFrame, instrument: Instrument | None
) -> tuple[list[str], str]:
    """Questions a comparison chart shows when none are named, and words saying which.

    An engine run compares every scored question (hundreds), which no chart can show:
    the questions whose difference is significant after adjustment come first (smallest
    adjusted p first); when none is, the chart-tagged key questions; at most
    :data:`MAX_COMPARISON_QUESTIONS`.
    """
    compared = list(dict.fromkeys(rows["measure_id"]))
    p_adj = pd.to_numeric(diffs["p_adjusted"], errors="coerce").astype("float64")
    sig = diffs.assign(_p=p_adj.to_numpy())
    sig = sig[sig["_p"] < ALPHA].sort_values("_p", kind="stable")
    sig_ids = [q for q in dict.fromkeys(sig["measure_id"]) if q in compared]
    cap = MAX_COMPARISON_QUESTIONS
    if sig_ids:
        shown = sig_ids[:cap]
        what = (
            f"the {_plural(len(shown), 'question')} with a significant difference"
            if len(sig_ids) <= cap
            else f"the {cap} most significant of {len(sig_ids)} significant differences"
        )
        return shown, what
    if instrument is not None:
        key = [q.id for q in instrument.questions.values() if q.chart and q.id in compared]
        if key:
            return key[:cap], f"{_plural(len(key[:cap]), 'key question')}"
    shown = compared[:cap]
    if len(compared) <= cap:
        return shown, _plural(len(shown), "question")
    return shown, f"the first {cap} of {len(compared)} questions compared"


def comparison_chart(
    findings: pd.DataFrame,
    group_var: str,
    measure_ids: Sequence[str] | None = None,
    instrument: Instrument | None = None,
) -> Chart:
    """Grouped bars per question, one bar per group, with Wilson 95% interval error bars.

    Small bases are marked ``[low]`` (hatched bar and label); suppressed groups are
    gaps labelled ``[c]``. The title summarises every question compared (not only those
    drawn), read from the ``difference`` rows: for two groups, on how many questions the
    first did better, and how many differences were statistically significant after the
    Benjamini-Hochberg adjustment.

    Parameters
    ----------
    findings
        The findings table of one organisation.
    group_var
        Case-detail column the comparison is split by (``om_grade``, ``gender``, ``ldu``).
    measure_ids
        Questions to draw, in this order. Default: those with a significant difference
        (most significant first), else the chart-tagged key questions, at most
        :data:`MAX_COMPARISON_QUESTIONS`; the subtitle says which.
    instrument
        Optional; supplies short question labels, key questions and the group label.

    Returns
    -------
    Chart
        Kind ``grouped``.
    """
    rows = _rows(findings, "comparison", group_var=group_var)
    if rows.empty:
        raise ValueError(f"findings hold no comparison rows for {group_var!r}")
    all_diffs = _rows(findings, "difference", group_var=group_var)
    if measure_ids is None:
        ids, shown_what = _default_comparison_ids(rows, all_diffs, instrument)
    else:
        ids = list(measure_ids)
        shown_what = _plural(len(ids), "question")
    rows = rows[rows["measure_id"].isin(ids)]
    if rows.empty:
        raise ValueError(f"none of {ids} is compared by {group_var!r}")
    groups = list(dict.fromkeys(rows["group"]))
    var_label = GROUP_VAR_LABELS.get(group_var, group_var.replace("_", " "))
    if instrument is not None and group_var in instrument.case_details:
        var_label = lc_first(instrument.case_details[group_var].label)

    def label_of(mid: str, row: pd.Series) -> str:
        if instrument is not None and mid in instrument.questions:
            return instrument.questions[mid].label
        return row["label"] or mid

    records = []
    for mid in ids:
        sub = rows[rows["measure_id"] == mid]
        for g in groups:
            hit = sub[sub["group"] == g]
            if not hit.empty:
                records.append(_record(hit.iloc[0], label_of(mid, hit.iloc[0]), g))
    data = _frame(records)

    # The title covers every question compared, from the difference rows.
    if measure_ids is not None:
        all_diffs = all_diffs[all_diffs["measure_id"].isin(ids)]
    keep = [not (flag_set(f) & SUPPRESSED_FLAGS) for f in all_diffs["flags"]]
    diffs = all_diffs.loc[np.asarray(keep, dtype=bool)]
    n_hidden = len(all_diffs) - len(diffs)
    p_adj = pd.to_numeric(diffs["p_adjusted"], errors="coerce").astype("float64")
    n_sig = int((p_adj < ALPHA).sum())
    sig_text = (
        f"{_plural(n_sig, 'difference')} {'was' if n_sig == 1 else 'were'} statistically "
        "significant after adjustment"
        if n_sig
        else "no difference was statistically significant after adjustment"
    )
    all_groups = list(dict.fromkeys(_rows(findings, "comparison", group_var=group_var)["group"]))
    if diffs.empty:
        title = f"Results by {var_label}"
        if n_hidden:
            title += ": some figures are suppressed to protect confidentiality"
    elif len(all_groups) == 2:
        a, b = all_groups
        pct = pd.to_numeric(diffs["percent"], errors="coerce").astype("float64")
        higher, n = int((pct > 0).sum()), int(pct.notna().sum())
        title = f"{a} cases did better than {b} cases on {higher} of {_plural(n, 'question')}"
        title += f"; {sig_text}" if n_sig else f", but {sig_text}"
    else:
        title = (
            f"No difference between the groups by {var_label} was statistically significant "
            f"after adjustment ({_plural(len(diffs), 'question')} compared)"
        )
        if n_sig:
            title = (
                f"{n_sig} of {_plural(len(diffs), 'question')} differed significantly "
                f"between the groups by {var_label} after adjustment"
            )
    if n_hidden and not diffs.empty:
        title += f" ({n_hidden} more suppressed)"
    n_q = len(ids)
    alt = (
        f"Grouped horizontal bar chart comparing the percentage of relevant cases done well "
        f"enough by {var_label} ({', '.join(groups)}) for {shown_what}, with 95% confidence "
        f"intervals. {_alt_items(data, with_series=True)}.{_alt_markers(data)}"
    )
    return Chart(
        id=f"comparison-{group_var}",
        title=title,
        subtitle=_subtitle(findings, f"by {var_label}; showing {shown_what}; bases vary"),
        alt_text=alt,
        kind="grouped",
        data=data,
        x_title="Relevant cases done well enough (%)",
        y_title="Question" if n_q != 1 else "",
        intervals=True,
    )


def breakdown_chart(
    findings: pd.DataFrame, measure_id: str, instrument: Instrument | None = None
) -> Chart:
    """100% stacked horizontal bar of one question's answer categories.

    The published report draws these as pie charts. A stacked bar is used instead
    because readers compare lengths along a common scale far more accurately than
    angles or areas (Cleveland & McGill, 1984), and the "n of N" base fits beside it.
    If any category is suppressed, the whole bar is replaced by a ``[c]`` gap: drawing
    the other segments would let the hidden one be read off as the remainder.

    Parameters
    ----------
    findings
        The findings table of one organisation.
    measure_id
        The question id.
    instrument
        Optional; supplies the short question label.

    Returns
    -------
    Chart
        Kind ``stacked``, one bar whose segments are the categories in findings order.
    """
    rows = _rows(findings, "breakdown", measure_id=measure_id)
    if rows.empty:
        raise ValueError(f"findings hold no breakdown rows for {measure_id!r}")
    label = rows["label"].iloc[0] or measure_id
    if instrument is not None and measure_id in instrument.questions:
        label = instrument.questions[measure_id].label
    data = _stacked_frame(rows, label)
    # A suppressed bar hides its base too: the base and the shown cells could recover it.
    base = math.nan if data["suppressed"].any() else number(rows["denominator"].iloc[0])
    if data["suppressed"].any():
        title = f"{label}: figures suppressed to protect confidentiality"
    else:
        parts = [
            f"{lc_first(r.series)} in "
            + _share_phrase(r.numerator, r.denominator, r.percent, "the relevant cases")
            if i == 0
            else f"{lc_first(r.series)} in {_pct_text(r.percent)}"
            for i, r in enumerate(data.itertuples(index=False))
        ]
        title = _uc_first(", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1])
    base_text = f"{_int_text(base)} relevant cases" if not math.isnan(base) else "relevant cases"
    alt = (
        f"Stacked bar chart of answers to '{label}' across {base_text}, as percentages "
        f"adding to 100%. {_alt_items(data.assign(label=data['series']))}.{_alt_markers(data)}"
    )
    return Chart(
        id=f"breakdown-{measure_id}",
        title=title,
        subtitle=_subtitle(findings, f"{base_text} answered" if not math.isnan(base) else ""),
        alt_text=alt,
        kind="stacked",
        data=data,
        x_title="Relevant cases (%)",
        y_title="",
    )


def _stacked_frame(rows: pd.DataFrame, label: str) -> pd.DataFrame:
    records = []
    for _, r in rows.iterrows():
        rec = _record(r, label, r["category"])
        if not rec["suppressed"]:
            rec["text"] = _bar_text(rec["percent"], rec["numerator"], math.nan, False)
            rec["text"] += (
                f" ({_int_text(rec['numerator'])})" if not math.isnan(rec["numerator"]) else ""
            )
        records.append(rec)
    data = _frame(records)
    if data["suppressed"].any():
        # One hidden segment would be recoverable from the others: blank the whole bar.
        for c in ("numerator", "denominator", "percent", "ci_low", "ci_high"):
            data[c] = np.nan
        data["suppressed"] = True
        data["text"] = "[c]"
    return data


def profile_chart(findings: pd.DataFrame, column: str) -> Chart:
    """Appendix 2 sample profile: share of the inspected cases in each category of a column.

    Parameters
    ----------
    findings
        The findings table of one organisation.
    column
        Case-detail column, e.g. ``case_type``, ``gender``, ``rosh_start``, ``ethnicity``,
        ``principal_offence``.

    Returns
    -------
    Chart
        Kind ``bars`` in findings (code-list) order.
    """
    rows = _rows(findings, "profile", measure_id=column)
    if rows.empty:
        raise ValueError(f"findings hold no profile rows for {column!r}")
    col_label = rows["label"].iloc[0] or column.replace("_", " ")
    data = _frame(_record(r, r["category"]) for _, r in rows.iterrows())
    shown = data[~data["suppressed"] & data["percent"].notna()]
    if shown.empty:
        title = f"{col_label} of the cases inspected"
    else:
        top = shown.loc[shown["percent"].idxmax()]
        share = _share_phrase(
            top["numerator"], top["denominator"], top["percent"], "the cases inspected"
        )
        title = f"{col_label}: {top['label']} was the largest group, {share}"
    alt = (
        f"Horizontal bar chart of the cases inspected by {lc_first(col_label)}. "
        f"{_alt_items(data)}.{_alt_markers(data)}"
    )
    return Chart(
        id=f"profile-{column}",
        title=title,
        subtitle=_subtitle(findings, ""),
        alt_text=alt,
        kind="bars",
        data=data,
        x_title="Cases inspected (%)",
        y_title=col_label,
    )


def _breakdown_questions(findings: pd.DataFrame, instrument: Instrument) -> list[str]:
    """Breakdowns worth a chart: questions with over two scoring answers (review, oversight)."""
    ids = list(dict.fromkeys(_rows(findings, "breakdown")["measure_id"]))
    order = {q: i for i, q in enumerate(instrument.questions)}
    keep = []
    for q in ids:
        aset = instrument.answer_set(q) if q in instrument.questions else None
        if aset is None or len([c for c in aset.codes if c.scores in ("above", "below")]) > 2:
            keep.append(q)
    return sorted(keep, key=lambda q: order.get(q, len(order)))


def all_charts(findings: pd.DataFrame, instrument: Instrument) -> list[Chart]:
    """Every chart the findings support, in report order.

    Order: outcome summary; for each outcome its data summary then its review /
    oversight breakdowns (the factor chart follows outcome 3's, as table 3.5 does);
    comparisons by offender manager grade, gender and LDU (then any others); the
    Appendix 2 sample profile.

    Parameters
    ----------
    findings
        The findings table of one organisation.
    instrument
        The instrument the findings were computed with.

    Returns
    -------
    list[Chart]
        Charts whose rows are absent from the findings are left out.
    """
    charts: list[Chart] = []
    kinds = set(_single_trust(findings)["kind"])
    if "outcome_score" in kinds:
        charts.append(outcome_summary(findings, instrument))
    breakdowns = _breakdown_questions(findings, instrument) if "breakdown" in kinds else []
    placed: set[str] = set()
    for o in instrument.outcomes:
        try:
            charts.append(data_summary(findings, instrument, o))
        except ValueError:
            pass  # no question rows for this outcome
        for q in breakdowns:
            if (
                q not in placed
                and q in instrument.questions
                and instrument.questions[q].outcomes[:1] == (o,)
            ):
                charts.append(breakdown_chart(findings, q, instrument))
                placed.add(q)
        if o == "O3" and "factor" in kinds:
            charts.append(factor_chart(findings, instrument))
    if "factor" in kinds and not any(c.id == "factors" for c in charts):
        charts.append(factor_chart(findings, instrument))
    charts.extend(breakdown_chart(findings, q, instrument) for q in breakdowns if q not in placed)
    if "comparison" in kinds:
        present = list(dict.fromkeys(_rows(findings, "comparison")["group_var"]))
        ordered = [g for g in GROUP_VAR_ORDER if g in present] + [
            g for g in present if g not in GROUP_VAR_ORDER
        ]
        charts.extend(comparison_chart(findings, g, instrument=instrument) for g in ordered)
    if "profile" in kinds:
        present = list(dict.fromkeys(_rows(findings, "profile")["measure_id"]))
        ordered = [c for c in PROFILE_ORDER if c in present] + [
            c for c in present if c not in PROFILE_ORDER
        ]
        charts.extend(profile_chart(findings, c) for c in ordered)
    return charts


# -- shared rendering helpers --------------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def text_colour_on(hex_colour: str) -> str:
    """Black or white, whichever contrasts more with ``hex_colour`` (WCAG formula)."""
    lum = _luminance(hex_colour)
    return "#FFFFFF" if 1.05 / (lum + 0.05) > (lum + 0.05) / 0.05 else "#000000"


def _wrap(text: str, width: int = _LABEL_WIDTH) -> list[str]:
    return textwrap.wrap(str(text), width=width, break_long_words=True) or [""]


def _ph(text: str, width: int | None = None) -> str:
    """Text for plotly: escaped, because plotly.js reads its strings as (a subset of) HTML.

    Only ``& < >`` are escaped: plotly.js decodes those entities but shows ``&quot;``
    literally, and quotes cannot open markup in text content anyway.
    """
    if width is None:
        return escape_html(text, quote=False)
    return "<br>".join(escape_html(line, quote=False) for line in _wrap(text, width))


def _m(text: str) -> str:
    """Text for matplotlib: a literal ``$`` must not switch on mathtext."""
    return str(text).replace("$", r"\$")


def _hover_numbers(r: Any) -> tuple[str, str]:
    if r.suppressed:
        return "suppressed [c]", ""
    base = (
        f"{_int_text(r.numerator)} of {_int_text(r.denominator)}"
        if not (math.isnan(r.numerator) or math.isnan(r.denominator))
        else ""
    )
    if r.low:
        base += " [low]"
    interval = (
        f"{r.ci_low:.1f}% to {r.ci_high:.1f}%"
        if not (math.isnan(r.ci_low) or math.isnan(r.ci_high))
        else "not available"
    )
    return base, interval


def _none(x: float) -> float | None:
    return None if (x is None or math.isnan(x)) else float(x)


# -- plotly renderers --------------------------------------------------------------------


def _plotly_layout(chart: Chart, fig: go.Figure, n_bars: int, legend: bool) -> None:
    """Shared layout; margins are sized in pixels so title, legend and notes never overlap."""
    y_labels = {lab: _ph(lab, _LABEL_WIDTH) for lab in chart.labels}
    title = _ph(chart.title, _TITLE_WIDTH)
    title_lines = title.count("<br>") + 1
    notes = [n for n in (chart.footnote, chart.source) if n]
    top = 20 + 24 * title_lines + 26 + (34 if legend else 6)
    bottom = 64 + 16 * len(notes) + 10
    plot = max(140, 26 * n_bars + 12 * len(chart.labels))
    fig.update_layout(
        template="plotly_white",
        title={
            "text": title,
            "x": 0.01,
            "xanchor": "left",
            "y": 1,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 12},
            "font": {"size": 17},
            "subtitle": {"text": _ph(chart.subtitle), "font": {"size": 13, "color": "#444444"}},
        },
        font={"family": "Arial, sans-serif", "size": 13, "color": "#222222"},
        height=top + plot + bottom,
        margin={"l": 10, "r": 130 if chart.kind != "stacked" else 30, "t": top, "b": bottom},
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "traceorder": "normal"},
        xaxis={
            "range": [0, 100],
            "ticksuffix": "%",
            "dtick": 20,
            "title": {"text": _ph(chart.x_title)},
            "fixedrange": True,
        },
        yaxis={
            "categoryorder": "array",
            "categoryarray": [y_labels[lab] for lab in chart.labels],
            "autorange": "reversed",
            "title": {"text": _ph(chart.y_title)},
            "automargin": True,
            "fixedrange": True,
        },
        meta={"alt_text": chart.alt_text, "chart_id": chart.id},
    )
    if notes:
        fig.add_annotation(
            text="<br>".join(_ph(n) for n in notes),
            xref="paper",
            yref="paper",
            x=0,
            y=0,
            yanchor="top",
            xanchor="left",
            yshift=-62,
            showarrow=False,
            align="left",
            font={"size": 11, "color": "#444444"},
        )


def _plotly_bars(chart: Chart) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    data = chart.data
    series = chart.series
    y_of = {lab: _ph(lab, _LABEL_WIDTH) for lab in chart.labels}
    colours = SERIES_COLOURS if len(series) > 1 else [OKABE_ITO["blue"]]
    for i, s in enumerate(series):
        sub = data[data["series"] == s]
        rows = list(sub.itertuples(index=False))
        colour = colours[i % len(colours)]
        ys = [y_of[r.label] for r in rows]
        error = None
        if chart.intervals:
            error = {
                "type": "data",
                "symmetric": False,
                "array": [_none(r.ci_high - r.percent) for r in rows],
                "arrayminus": [_none(r.percent - r.ci_low) for r in rows],
                "color": "#333333",
                "thickness": 1.5,
                "width": 4,
            }
        fig.add_trace(
            go.Bar(
                name=_ph(s or chart.x_title),
                orientation="h",
                y=ys,
                x=[_none(r.percent) for r in rows],
                offsetgroup=str(i),
                marker={
                    "color": colour,
                    "pattern": {
                        "shape": ["/" if r.low else "" for r in rows],
                        "fgcolor": text_colour_on(colour),
                        "fgopacity": 0.6,
                    },
                },
                error_x=error,
                customdata=[_hover_numbers(r) for r in rows],
                hovertemplate=(
                    "%{y}<br>%{x:.1f}%  %{customdata[0]}<br>95% interval: %{customdata[1]}"
                    "<extra>%{fullData.name}</extra>"
                ),
            )
        )
        # Labels (and [c] gaps) as a text trace in the same offset group, placed past
        # the bar or its interval so an error bar never crosses them.
        ends = []
        for r in rows:
            if r.suppressed or math.isnan(r.percent):
                ends.append(1.0)
            elif chart.intervals and not math.isnan(r.ci_high):
                ends.append(max(r.percent, r.ci_high) + 1)
            else:
                ends.append(r.percent + 1)
        fig.add_trace(
            go.Scatter(
                x=ends,
                y=ys,
                mode="text",
                text=[_ph(r.text) for r in rows],
                textposition="middle right",
                textfont={"color": "#222222", "size": 12},
                orientation="h",
                offsetgroup=str(i),
                cliponaxis=False,
                showlegend=False,
                hoverinfo="skip",
            )
        )
    fig.update_layout(barmode="group", scattermode="group", bargap=0.25, bargroupgap=0.05)
    _plotly_layout(chart, fig, len(data), legend=len(series) > 1)
    return fig


def _plotly_stacked(chart: Chart) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    data = chart.data
    y_of = {lab: _ph(lab, _LABEL_WIDTH) for lab in chart.labels}
    for i, s in enumerate(chart.series):
        sub = data[data["series"] == s]
        colour = STACK_COLOURS[i % len(STACK_COLOURS)]
        custom = []
        for r in sub.itertuples(index=False):
            base, _ = _hover_numbers(r)
            custom.append([base])
        fig.add_trace(
            go.Bar(
                name=_ph(s),
                orientation="h",
                y=[y_of[lab] for lab in sub["label"]],
                x=[_none(p) for p in sub["percent"]],
                text=[
                    _pct_text(p) if not (sup or math.isnan(p)) and p >= 5 else ""
                    for p, sup in zip(sub["percent"], sub["suppressed"], strict=True)
                ],
                textposition="inside",
                insidetextanchor="middle",
                textfont={"color": text_colour_on(colour)},
                marker={"color": colour, "line": {"color": "#FFFFFF", "width": 1}},
                customdata=custom,
                hovertemplate="%{fullData.name}: %{x:.1f}%  (%{customdata[0]})<extra></extra>",
            )
        )
    for lab in chart.labels:
        if data.loc[data["label"] == lab, "suppressed"].any():
            fig.add_annotation(
                x=1,
                y=y_of[lab],
                text="[c]",
                showarrow=False,
                xanchor="left",
                font={"color": "#222222"},
            )
    fig.update_layout(barmode="stack", bargap=0.4)
    _plotly_layout(chart, fig, max(3, 2 * len(chart.labels)), legend=True)
    return fig


# -- matplotlib renderers ------------------------------------------------------------------


def _mpl_figure(chart: Chart, n_slots: float, legend: bool) -> tuple[Figure, Any]:
    import seaborn as sns
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    title_lines = _wrap(_m(chart.title), 75)
    height = 1.9 + 0.3 * n_slots + 0.25 * len(title_lines) + (0.4 if legend else 0)
    with sns.axes_style("whitegrid"), matplotlib.rc_context({"font.size": 10}):
        fig = Figure(figsize=(9, height), layout="constrained")
        FigureCanvasAgg(fig)  # Agg without touching pyplot's global backend
        ax = fig.add_subplot()
    fig.suptitle("\n".join(title_lines), x=0.01, ha="left", fontsize=13, fontweight="bold")
    ax.set_title(
        "\n".join(_wrap(_m(chart.subtitle), 95)),
        loc="left",
        fontsize=10,
        color="#444444",
        gid=_SUBTITLE_GID,
    )
    ax.set_xlim(0, 100)
    from matplotlib.ticker import MultipleLocator, PercentFormatter

    ax.xaxis.set_major_locator(MultipleLocator(20))
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
    ax.set_xlabel(_m(chart.x_title))
    ax.set_ylabel(_m(chart.y_title))
    ax.grid(axis="y", visible=False)
    ax.set_axisbelow(True)
    notes = " ".join(n for n in (chart.footnote, chart.source + ".") if n)
    fig.supxlabel(
        "\n".join(textwrap.wrap(notes, 110)), x=0.01, ha="left", fontsize=8, color="#444444"
    )
    return fig, ax


def _mpl_legend(fig: Figure, ax: Any, handles: list, ncols: int) -> None:
    """Legend below the x-axis title.

    An axes legend (not a figure legend) so constrained layout stacks it between the
    axis title and the footnote; figure legends placed "outside" collide with them.
    """
    from matplotlib.transforms import offset_copy

    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0, 0),
        bbox_transform=offset_copy(ax.transAxes, fig=fig, x=-0.0, y=-0.6, units="inches"),
        ncols=ncols,
        frameon=False,
        fontsize=9,
        borderaxespad=0,
    )


def _mpl_bars(chart: Chart) -> Figure:
    data = chart.data
    labels, series = chart.labels, chart.series
    k = len(series)
    slots = len(labels) * max(1.0, 0.75 * k)
    fig, ax = _mpl_figure(chart, slots, legend=k > 1)
    colours = SERIES_COLOURS if k > 1 else [OKABE_ITO["blue"]]
    height = 0.8 / k
    pos = {lab: i for i, lab in enumerate(labels)}
    handles = []
    for j, s in enumerate(series):
        colour = colours[j % len(colours)]
        sub = data[data["series"] == s]
        for r in sub.itertuples(index=False):
            y = pos[r.label] - 0.4 + (j + 0.5) * height
            if r.suppressed or math.isnan(r.percent):
                ax.text(1, y, r.text, va="center", ha="left", fontsize=9, color="#222222")
                continue
            ax.barh(
                y,
                r.percent,
                height=height * 0.92,
                color=colour,
                hatch="///" if r.low else None,
                edgecolor=text_colour_on(colour) if r.low else colour,
                linewidth=0,
            )
            end = r.percent
            if chart.intervals and not (math.isnan(r.ci_low) or math.isnan(r.ci_high)):
                ax.errorbar(
                    r.percent,
                    y,
                    xerr=[[r.percent - r.ci_low], [r.ci_high - r.percent]],
                    fmt="none",
                    ecolor="#333333",
                    elinewidth=1.2,
                    capsize=3,
                )
                end = max(end, r.ci_high)
            ax.text(
                end + 1,
                y,
                r.text,
                va="center",
                ha="left",
                fontsize=9 if k <= 2 else 8,
                color="#222222",
                clip_on=False,
            )
        from matplotlib.patches import Patch

        handles.append(Patch(facecolor=colour, label=_m(s)))
    ax.set_yticks(range(len(labels)), ["\n".join(_wrap(_m(lab))) for lab in labels])
    ax.set_ylim(len(labels) - 0.5, -0.5)  # first label at the top
    if k > 1:
        _mpl_legend(fig, ax, handles, ncols=min(k, 3))
    return fig


def _mpl_stacked(chart: Chart) -> Figure:
    from matplotlib.patches import Patch

    data = chart.data
    labels, series = chart.labels, chart.series
    fig, ax = _mpl_figure(chart, max(2.0, 1.5 * len(labels)), legend=True)
    pos = {lab: i for i, lab in enumerate(labels)}
    colour_of = {s: STACK_COLOURS[i % len(STACK_COLOURS)] for i, s in enumerate(series)}
    for lab in labels:
        sub = data[data["label"] == lab]
        y = pos[lab]
        if sub["suppressed"].any():
            ax.text(1, y, "[c]", va="center", ha="left", fontsize=10, color="#222222")
            continue
        left = 0.0
        for r in sub.itertuples(index=False):
            if math.isnan(r.percent):
                continue
            colour = colour_of[r.series]
            ax.barh(
                y, r.percent, left=left, height=0.6, color=colour, edgecolor="white", linewidth=1
            )
            if r.percent >= 6:
                ax.text(
                    left + r.percent / 2,
                    y,
                    f"{_pct_text(r.percent)}\n({_int_text(r.numerator)})",
                    ha="center",
                    va="center",
                    fontsize=9,
                    color=text_colour_on(colour),
                )
            left += r.percent
    ax.set_yticks(range(len(labels)), ["\n".join(_wrap(_m(lab), 30)) for lab in labels])
    ax.set_ylim(len(labels) - 0.5, -0.5)
    handles = [Patch(facecolor=colour_of[s], label=_m(s)) for s in series]
    _mpl_legend(fig, ax, handles, ncols=min(len(series), 4))
    return fig


# -- static files ---------------------------------------------------------------------------

_SUBTITLE_GID = "chart-subtitle"


def _refit_subtitle(fig: Figure) -> bool:
    """Re-wrap the subtitle if the last draw showed it running off the figure's right edge.

    The subtitle starts at the plot's left edge, which the layout only settles when the
    figure is drawn (it depends on the question labels), so its wrap width is checked
    after the first draw; long subtitles (many groups, long group names) are re-wrapped
    to the room there is. Returns whether the figure changed and must be drawn again.
    """
    found = fig.findobj(lambda a: getattr(a, "get_gid", lambda: None)() == _SUBTITLE_GID)
    if not found or not found[0].get_text():
        return False
    sub = found[0]
    box = sub.get_window_extent(fig.canvas.get_renderer())
    right = fig.bbox.width - 0.01 * fig.bbox.width
    if box.x1 <= right:
        return False
    lines = sub.get_text().split("\n")
    per_char = box.width / max(len(line) for line in lines)
    width = max(20, int((right - box.x0) / per_char) - 2)
    sub.set_text("\n".join(_wrap(" ".join(lines), width)))
    return True


def save_static(chart: Chart, out_dir: str | Path) -> list[Path]:
    """Write ``<id>.png`` (150 dpi) and ``<id>.svg`` to ``out_dir``, byte-identical on rerun.

    Determinism: the SVG hash salt is fixed and the SVG ``Date`` metadata dropped,
    so unchanged findings give unchanged files (clean diffs, reproducible builds).

    Parameters
    ----------
    chart
        The chart to draw.
    out_dir
        Folder, created when missing.

    Returns
    -------
    list[Path]
        The PNG and SVG paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig = chart.to_matplotlib()
    png, svg = out / f"{chart.id}.png", out / f"{chart.id}.svg"
    with matplotlib.rc_context(STATIC_RC):
        # zlib level 3: a fifth faster than the default 6 for files 0.4% larger.
        fig.savefig(png, dpi=PNG_DPI, metadata={"Software": None}, pil_kwargs=PNG_ZLIB)
        if _refit_subtitle(fig):
            fig.savefig(png, dpi=PNG_DPI, metadata={"Software": None}, pil_kwargs=PNG_ZLIB)
        # The PNG draw placed everything (sizes are in points, so the layout holds at any
        # dpi): the SVG draw need not run the constrained-layout solver again.
        fig.set_layout_engine("none")
        fig.savefig(svg, metadata={"Date": None, "Creator": None})
    return [png, svg]
