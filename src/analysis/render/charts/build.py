"""Charts of the findings table: one builder per chart of the report.

Every chart is built from the findings table only (see ``docs/design.md``):
builders pick rows, never recompute a figure from cases, and hand back a
:class:`~analysis.render.charts.model.Chart` that holds a small tidy *aggregate* frame
(labels, numerators, denominators, percents, intervals, flags) plus words: a title that
states the finding, a subtitle with the base and an alt text for screen readers. How each
figure is worded, rounded, marked and ordered is decided by :mod:`analysis.render.present`.

Suppressed cells never reach a chart's data: they are drawn as a gap labelled ``[c]``.
Bases under the low-base threshold carry a ``[u]`` (low reliability) label and a hatched bar.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.engine.findings import number
from analysis.render import present
from analysis.render.charts.model import Chart, bar_text, frame, record
from analysis.render.charts.words import (
    alt_items,
    alt_markers,
    outcome_subtitle,
    rows_of,
    share_phrase,
    share_words,
    single_trust,
    subtitle,
    uc_first,
)
from analysis.render.present import C, fmt_int, fmt_pct
from analysis.render.textsafe import lc_first

if TYPE_CHECKING:
    from analysis.instrument import Instrument

#: Most questions a default comparison chart draws.
MAX_COMPARISON_QUESTIONS = 12
#: The factor chart's two series: the follow-up items of table 3.5.
FACTOR_SERIES = {
    "interventions": "Sufficient interventions or services delivered",
    "progress": "Sufficient progress made",
}


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
    rows = rows_of(findings, "outcome_score")
    if rows.empty:
        raise ValueError("findings hold no outcome_score rows")
    rows = rows.assign(_o=[present.unit_number(o, instrument) for o in rows["outcome"]])
    rows = rows.sort_values("_o", kind="stable")
    records = []
    for _, r in rows.iterrows():
        label = r["label"] or r["outcome"]
        if instrument is not None and r["outcome"] in instrument.outcomes:
            label = instrument.outcomes[r["outcome"]].short
        records.append(record(r, label))
    data = frame(records)
    # A score averages its questions' proportions, so its pooled numerator and denominator
    # (judgements) do not give the score: showing them as "n of N" would mislead.
    data[["numerator", "denominator"]] = np.nan
    data["text"] = [
        t if s else bar_text(p, math.nan, math.nan, low)
        for t, s, p, low in zip(
            data["text"], data["suppressed"], data["percent"], data["low"], strict=True
        )
    ]
    w = present.words(instrument)
    shown = data[~data["suppressed"] & data["percent"].notna()]
    if shown.empty:
        title = f"{w.Unit} scores"
    else:
        best = shown.loc[shown["percent"].idxmax()]
        worst = shown.loc[shown["percent"].idxmin()]
        title = (
            f"{uc_first(best['label'])} scored highest ({fmt_pct(best['percent'])}) and "
            f"{lc_first(worst['label'])} lowest ({fmt_pct(worst['percent'])})"
        )
    alt = (
        f"Horizontal bar chart of the percentage of work {w.say('done_well')} for each of "
        f"{len(data)} {w.units}. {alt_items(data)}.{alt_markers(data)}"
    )
    return Chart(
        id="outcome-summary",
        title=title,
        subtitle=subtitle(findings),
        alt_text=alt,
        kind="bars",
        data=data,
        x_title=f"Work {w.say('done_well')} (%)",
        y_title=w.Unit,
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
    kq = present.words(instrument).word("chart_question_word")
    done = present.words(instrument).say("done_well")
    qids = [q.id for q in instrument.questions.values() if q.chart == outcome]
    if not qids:
        qids = [q.id for q in instrument.questions_for_outcome(outcome) if q.factor is None]
    rows = rows_of(findings, "question")
    by_id = {r["measure_id"]: r for _, r in rows.iterrows()}
    records = [record(by_id[q], instrument.questions[q].label) for q in qids if q in by_id]
    if not records:
        raise ValueError(f"findings hold no question rows for outcome {outcome}")
    data = frame(records)

    score = rows_of(findings, "outcome_score", measure_id=f"score_{outcome}")
    shown = data[~data["suppressed"]]
    lowest = shown.loc[shown["percent"].idxmin()] if not shown.empty else None
    score_pct = number(score["percent"].iloc[0]) if not score.empty else math.nan
    score_c = not score.empty and present.is_suppressed(score["flags"].iloc[0])
    if not math.isnan(score_pct) and not score_c:
        # A question_mean score is not its pooled n/N, so the words come from the score.
        words = share_words(present.whole(score_pct * 10), 1000) if 0.5 < score_pct < 99.5 else ""
        share = f"{words} ({fmt_pct(score_pct)})" if words else fmt_pct(score_pct)
        title = f"{name}: {share} of work was {done}"
        if lowest is not None and len(shown) > 1:
            title += f"; lowest was {lc_first(lowest['label'])} ({fmt_pct(lowest['percent'])})"
    elif not shown.empty:
        title = (
            f"{name}: {kq}s ranged from {fmt_pct(shown['percent'].min())} "
            f"to {fmt_pct(shown['percent'].max())} {done}"
        )
    else:
        title = f"{name}: {kq}s"
    alt = (
        f"Horizontal bar chart of the percentage of relevant cases {done} for "
        f"{len(data)} {kq}{'s' if len(data) != 1 else ''} on {lc_first(name)}. "
        f"{alt_items(data)}.{alt_markers(data)}"
    )
    return Chart(
        id=f"data-summary-{outcome}",
        title=title,
        subtitle=outcome_subtitle(findings, outcome),
        alt_text=alt,
        kind="bars",
        data=data,
        x_title=f"Relevant cases {done} (%)",
        y_title=uc_first(kq),
    )


def factor_chart(findings: pd.DataFrame, instrument: Instrument | None = None) -> Chart:
    """The report's table 3.5 as a chart: per factor, % interventions and % progress.

    Factors are in table 3.5 order (:func:`analysis.render.present.factors`: by
    prevalence, ties in declared order), and the prevalence count is part of each label,
    as in the report's table. The title names the most common factor, or every factor
    that shares the largest prevalence.

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
    factors = present.factors(single_trust(findings), instrument)
    if not factors:
        raise ValueError("findings hold no factor rows")
    records = []
    for f in factors:
        count = C.symbol if f.hidden else f"{fmt_int(f.prevalence)} cases"
        label = f"{f.label} ({count})"
        for item, series in FACTOR_SERIES.items():
            if item in f.rows:
                # The items' base is the prevalence: a hidden prevalence hides them too.
                records.append(record(f.rows[item], label, series, force_suppressed=f.hidden))
    data = frame(records)
    progress = data[(data["series"] == FACTOR_SERIES["progress"]) & ~data["suppressed"]]
    leaders = present.most_common(factors)
    if not leaders:
        # A suppressed prevalence may be the largest: claim no ranking.
        title, sep = "Offending-related factors", ":"
    else:
        title, sep = uc_first(present.and_list([f.label for f in leaders])), ";"
        total = number(leaders[0].identified["denominator"])
        each = " each" if len(leaders) > 1 else ""
        verb = "were the most common factors" if leaders[1:] else "was the most common factor"
        if math.isnan(total):
            title += f" {verb}"
        else:
            title += f" {verb} ({present.n_of_n(leaders[0].prevalence, total)} cases{each})"
    if not progress.empty:
        title += (
            f"{sep} sufficient progress ranged from "
            f"{fmt_pct(progress['percent'].min())} to {fmt_pct(progress['percent'].max())}"
        )
    alt = (
        f"Grouped horizontal bar chart of {len(factors)} offending-related factors in order of "
        f"prevalence, showing for each the percentage of cases where the factor was identified "
        f"that had sufficient interventions and sufficient progress. "
        f"{alt_items(data, with_series=True)}.{alt_markers(data)}"
    )
    return Chart(
        id="factors",
        title=title,
        subtitle=subtitle(findings, "percentages are of cases where the factor was identified"),
        alt_text=alt,
        kind="grouped",
        data=data,
        x_title="Cases where the factor was identified (%)",
        y_title="Offending-related factor (cases identified)",
        intervals=True,
    )


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
    sig = [r for r in diffs.to_dict("records") if present.is_significant(r["p_adjusted"])]
    sig_ids = [
        q
        for q in dict.fromkeys(r["measure_id"] for r in present.by_significance(sig, instrument))
        if q in compared
    ]
    cap = MAX_COMPARISON_QUESTIONS
    if sig_ids:
        shown = sig_ids[:cap]
        what = (
            f"the {present.plural(len(shown), 'question')} with a significant difference"
            if len(sig_ids) <= cap
            else f"the {cap} most significant of {len(sig_ids)} significant differences"
        )
        return shown, what
    if instrument is not None:
        key = [q.id for q in instrument.questions.values() if q.chart and q.id in compared]
        if key:
            return key[:cap], f"{present.plural(len(key[:cap]), 'key question')}"
    shown = compared[:cap]
    if len(compared) <= cap:
        return shown, present.plural(len(shown), "question")
    return shown, f"the first {cap} of {len(compared)} questions compared"


def comparison_chart(
    findings: pd.DataFrame,
    group_var: str,
    measure_ids: Sequence[str] | None = None,
    instrument: Instrument | None = None,
) -> Chart:
    """Grouped bars per question, one bar per group, with Wilson 95% interval error bars.

    Small bases are marked ``[u]`` (low reliability) (hatched bar and label); suppressed groups are
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
    rows = rows_of(findings, "comparison", group_var=group_var)
    if rows.empty:
        raise ValueError(f"findings hold no comparison rows for {group_var!r}")
    all_diffs = rows_of(findings, "difference", group_var=group_var)
    if measure_ids is None:
        ids, shown_what = _default_comparison_ids(rows, all_diffs, instrument)
    else:
        ids = list(measure_ids)
        shown_what = present.plural(len(ids), "question")
    rows = rows[rows["measure_id"].isin(ids)]
    if rows.empty:
        raise ValueError(f"none of {ids} is compared by {group_var!r}")
    groups = present.group_order(rows["group"], group_var, instrument)
    var_label = present.variable_label(group_var, instrument)

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
                records.append(record(hit.iloc[0], label_of(mid, hit.iloc[0]), g))
    data = frame(records)

    # The title covers every question compared, from the difference rows.
    if measure_ids is not None:
        all_diffs = all_diffs[all_diffs["measure_id"].isin(ids)]
    keep = [not present.is_suppressed(f) for f in all_diffs["flags"]]
    diffs = all_diffs.loc[np.asarray(keep, dtype=bool)]
    n_hidden = len(all_diffs) - len(diffs)
    n_sig = sum(present.is_significant(p) for p in diffs["p_adjusted"])
    sig_text = (
        f"{present.plural(n_sig, 'difference')} {'was' if n_sig == 1 else 'were'} statistically "
        "significant after adjustment"
        if n_sig
        else "no difference was statistically significant after adjustment"
    )
    # Findings order, which the difference rows ("A - B") follow.
    all_groups = list(dict.fromkeys(rows_of(findings, "comparison", group_var=group_var)["group"]))
    if diffs.empty:
        title = f"Results by {var_label}"
        if n_hidden:
            title += ": some figures are suppressed to protect confidentiality"
    elif len(all_groups) == 2:
        a, b = all_groups
        pct = pd.to_numeric(diffs["percent"], errors="coerce").astype("float64")
        higher, n = int((pct > 0).sum()), int(pct.notna().sum())
        title = (
            f"{a} cases did better than {b} cases on {higher} of {present.plural(n, 'question')}"
        )
        title += f"; {sig_text}" if n_sig else f", but {sig_text}"
    else:
        title = (
            f"No difference between the groups by {var_label} was statistically significant "
            f"after adjustment ({present.plural(len(diffs), 'question')} compared)"
        )
        if n_sig:
            title = (
                f"{n_sig} of {present.plural(len(diffs), 'question')} differed significantly "
                f"between the groups by {var_label} after adjustment"
            )
    if n_hidden and not diffs.empty:
        title += f" ({n_hidden} more suppressed)"
    n_q = len(ids)
    done = present.words(instrument).say("done_well")
    alt = (
        f"Grouped horizontal bar chart comparing the percentage of relevant cases {done} "
        f"by {var_label} ({', '.join(groups)}) for {shown_what}, with 95% confidence "
        f"intervals. {alt_items(data, with_series=True)}.{alt_markers(data)}"
    )
    return Chart(
        id=f"comparison-{group_var}",
        title=title,
        subtitle=subtitle(findings, f"by {var_label}; showing {shown_what}; bases vary"),
        alt_text=alt,
        kind="grouped",
        data=data,
        x_title=f"Relevant cases {done} (%)",
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
    rows = rows_of(findings, "breakdown", measure_id=measure_id)
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
            + share_phrase(r.numerator, r.denominator, r.percent, "the relevant cases")
            if i == 0
            else f"{lc_first(r.series)} in {fmt_pct(r.percent)}"
            for i, r in enumerate(data.itertuples(index=False))
        ]
        title = uc_first(present.and_list(parts))
    base_text = f"{fmt_int(base)} relevant cases" if not math.isnan(base) else "relevant cases"
    alt = (
        f"Stacked bar chart of answers to '{label}' across {base_text}, as percentages "
        f"adding to 100%. {alt_items(data.assign(label=data['series']))}.{alt_markers(data)}"
    )
    return Chart(
        id=f"breakdown-{measure_id}",
        title=title,
        subtitle=subtitle(findings, f"{base_text} answered" if not math.isnan(base) else ""),
        alt_text=alt,
        kind="stacked",
        data=data,
        x_title="Relevant cases (%)",
        y_title="",
    )


def _stacked_frame(rows: pd.DataFrame, label: str) -> pd.DataFrame:
    records = []
    for _, r in rows.iterrows():
        rec = record(r, label, r["category"])
        if not rec["suppressed"]:
            rec["text"] = bar_text(rec["percent"], rec["numerator"], math.nan, False)
            rec["text"] += (
                f" ({fmt_int(rec['numerator'])})" if not math.isnan(rec["numerator"]) else ""
            )
        records.append(rec)
    data = frame(records)
    if data["suppressed"].any():
        # One hidden segment would be recoverable from the others: blank the whole bar.
        for c in ("numerator", "denominator", "percent", "ci_low", "ci_high"):
            data[c] = np.nan
        data["suppressed"] = True
        data["text"] = C.symbol
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
    rows = rows_of(findings, "profile", measure_id=column)
    if rows.empty:
        raise ValueError(f"findings hold no profile rows for {column!r}")
    col_label = rows["label"].iloc[0] or column.replace("_", " ")
    data = frame(record(r, r["category"]) for _, r in rows.iterrows())
    shown = data[~data["suppressed"] & data["percent"].notna()]
    if shown.empty:
        title = f"{col_label} of the cases inspected"
    else:
        top = shown.loc[shown["percent"].idxmax()]
        share = share_phrase(
            top["numerator"], top["denominator"], top["percent"], "the cases inspected"
        )
        title = f"{col_label}: {top['label']} was the largest group, {share}"
    alt = (
        f"Horizontal bar chart of the cases inspected by {lc_first(col_label)}. "
        f"{alt_items(data)}.{alt_markers(data)}"
    )
    return Chart(
        id=f"profile-{column}",
        title=title,
        subtitle=subtitle(findings, ""),
        alt_text=alt,
        kind="bars",
        data=data,
        x_title="Cases inspected (%)",
        y_title=col_label,
    )


def all_charts(findings: pd.DataFrame, instrument: Instrument) -> list[Chart]:
    """Every chart the findings support, in report order.

    Order: outcome summary; for each outcome its data summary then its review /
    oversight breakdowns (the factor chart follows the instrument's ``factors_unit``'s:
    outcome 3's, as table 3.5 does);
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
    return list(iter_charts(findings, instrument))


def iter_charts(findings: pd.DataFrame, instrument: Instrument) -> Iterator[Chart]:
    """The charts of :func:`all_charts`, built one at a time as they are asked for.

    A report run stopped by Ctrl-C or SIGTERM stops asking: no chart after the current
    one is built (building them all first took seconds on a loaded machine).
    """
    kinds = set(single_trust(findings)["kind"])
    if "outcome_score" in kinds:
        yield outcome_summary(findings, instrument)
    breakdowns = present.breakdown_questions(findings, instrument) if "breakdown" in kinds else []
    placed: set[str] = set()
    factors = False
    for o in instrument.outcomes:
        try:
            chart = data_summary(findings, instrument, o)
        except ValueError:
            chart = None  # no question rows for this outcome
        if chart is not None:
            yield chart
        for q in breakdowns:
            if (
                q not in placed
                and q in instrument.questions
                and instrument.questions[q].outcomes[:1] == (o,)
            ):
                yield breakdown_chart(findings, q, instrument)
                placed.add(q)
        if o == present.words(instrument).factors_unit and "factor" in kinds and not factors:
            factors = True
            yield factor_chart(findings, instrument)
    if "factor" in kinds and not factors:
        yield factor_chart(findings, instrument)
    for q in breakdowns:
        if q not in placed:
            yield breakdown_chart(findings, q, instrument)
    if "comparison" in kinds:
        present_vars = rows_of(findings, "comparison")["group_var"]
        group_vars = present.comparison_vars(present_vars, instrument)
        for g in group_vars:
            yield comparison_chart(findings, g, instrument=instrument)
    if "profile" in kinds:
        columns = present.profile_columns(rows_of(findings, "profile")["measure_id"], instrument)
        for c in columns:
            yield profile_chart(findings, c)
