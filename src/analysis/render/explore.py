"""The explore notebook's view: widgets, their callbacks, and the HTML they show.

:class:`ExploreView` puts an :class:`analysis.engine.explore.Explorer` behind ipywidgets:

- a filter per case detail (a multiple selection, its full label above it) and a reset;
- the outcome scores of the filtered cases;
- any question, by every case detail, with Wilson intervals and each detail's test;
- "which questions differ most between these groups": two groups of one detail,
  within the filter, every question tested (Fisher's exact test) and screened with the
  Benjamini-Hochberg false discovery rate, ranked by adjusted p.

Every figure is worded by :mod:`analysis.render.present` (rounding, intervals, p values,
the ``[u]`` marker for a base under :data:`analysis.config.LOW_BASE_THRESHOLD`), as in
the report. The callbacks are plain methods that set the output widgets' HTML, so
tests drive them without a browser (``view.filters["gender"].value = ("Female",)``) and
read ``view.summary.value``. Internal use only: the view shows counts and no case row,
and suppresses nothing (the explore notebook is not a publication output).
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import pandas as pd

from analysis.engine.explore import NOT_TESTED, TRUST, Explorer
from analysis.engine.stats import wilson
from analysis.instrument import Instrument
from analysis.render import present

#: Most questions listed as differing, by adjusted p.
TOP = 15
#: Wide enough for the longest case-detail value ("Violence against the person").
FILTER_WIDTH = "16em"


def _e(x: object) -> str:
    return html.escape(str(x))


def group_name(group_var: str, group: str) -> str:
    """A group as shown: organisations by their display name, other values as recorded."""
    return present.trust_display_name(group) if group_var == TRUST else str(group)


def low_marker(denominator: float) -> str:
    """``" [u]"`` beside a figure whose base is small, else ``""`` (present's rule)."""
    return f" {present.LOW.symbol}" if present.is_low_base(denominator) else ""


def present_interval(num: float, den: float, level: float) -> tuple[float, float]:
    """The Wilson interval of ``num`` of ``den`` on the 0-100 scale (NaN for no base)."""
    lo, hi = wilson(num, den, level)
    return 100 * float(lo), 100 * float(hi)


#: What a group with no relevant case shows (no percentage, so nothing to flag).
NO_CASES = "no relevant cases"


def _figure(pct: float, num: float, den: float) -> str:
    if den == 0:
        return NO_CASES
    return f"{present.pct_n_of_n(pct, num, den)}{low_marker(den)}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "") -> str:
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="explore">{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def selection_html(n: int, total: int) -> str:
    """``"24 of 73 cases selected."``, with a warning when the selection is small."""
    text = f"<p><b>{present.fmt_int(n)} of {present.fmt_int(total)} cases selected.</b>"
    if n == 0:
        text += " No cases match these filters."
    elif present.is_low_base(n):
        text += f" {present.LOW.symbol} Small selection: {_e(present.LOW.explanation)}"
    return text + "</p>"


def scores_html(
    scores: pd.DataFrame,
    unit: str = "Outcome",
    judgements: str = "Judgements above the line",
) -> str:
    """The outcome scores of a selection, with intervals and low-base markers.

    ``unit`` is what the instrument calls them (its ``presentation`` ``unit``, capitalised),
    ``judgements`` the heading of the n of N column (its ``above_line`` phrase).
    """
    rows = [
        [
            _e(r.outcome),
            _e(r.label),
            f"{present.fmt_pct(r.percent)}{low_marker(r.denominator)}",
            present.fmt_ci(r.ci_low, r.ci_high),
            present.n_of_n(r.numerator, r.denominator),
        ]
        for r in scores[scores["kind"] == "outcome_score"].itertuples(index=False)
    ]
    head = [unit, "Score", "Percent", "95% interval", judgements]
    return _table(head, rows, f"{unit} scores of the selected cases")


def question_html(explorer: Explorer, question: str, mask: np.ndarray) -> str:
    """One question by every case detail: per group n of N, percent, interval, and the test."""
    q = explorer.instrument.questions[question]
    # Plain lists, not DataFrame rows: a widget redraws this on every change.
    frame = explorer.by_detail(question, mask)
    by = {c: frame[c].to_numpy() for c in frame.columns}
    j = explorer.judgements.index[question]
    num, den = float(mask @ explorer.above[:, j]), float(mask @ explorer.relevant[:, j])
    lo, hi = present_interval(num, den, explorer.level)
    parts = [
        f"<h4>{_e(q.id)} {_e(q.text or q.label)}</h4>",
        f"<p>All selected cases: {_figure(100 * num / den if den else np.nan, num, den)}"
        f", 95% interval {present.fmt_ci(lo, hi)}.</p>",
    ]
    rows = []
    previous = None
    for i, gv in enumerate(by["group_var"]):
        first = gv != previous
        previous = gv
        p = by["p_value"][i]
        test = f"{present.p_equals(p)} ({_e(by['method'][i])})" if not np.isnan(p) else "–"
        if by["method"][i] == NOT_TESTED:
            test = "not tested (not a compared detail)"
        rows.append(
            [
                f"<b>{_e(explorer.details[gv].label)}</b>" if first else "",
                _e(group_name(gv, by["group"][i])),
                _figure(by["percent"][i], by["numerator"][i], by["denominator"][i]),
                present.fmt_ci(by["ci_low"][i], by["ci_high"][i]),
                test if first else "",
            ]
        )
    head = ["Case detail", "Group", "Above the line", "95% interval", "Test (unadjusted)"]
    return "".join(parts) + _table(head, rows)


def differences_html(diff: pd.DataFrame, names: tuple[str, str], top: int = TOP) -> str:
    """The questions that differ most between two groups, by adjusted p, FDR-screened."""
    # Whole columns as arrays; records only for the rows shown (a DataFrame's to_dict
    # would box all of them on every change).
    cols = {c: diff[c].to_numpy() for c in diff.columns}
    ok = np.flatnonzero(~np.isnan(cols["p_value"].astype(float)))
    hits = sum(present.is_significant(p) for p in cols["p_adjusted"][ok])
    a, b = names
    intro = (
        f"<p>{present.plural(len(ok), 'question')} tested ({_e(a)} against {_e(b)}, Fisher's "
        f"exact test); {present.fmt_int(hits)} differ at a false discovery rate of "
        f"{present.fmt_pct(100 * present.FDR_LEVEL)} (Benjamini-Hochberg). The "
        f"{min(top, len(ok))} with the smallest adjusted p:</p>"
    )
    ids, padj = cols["measure_id"], cols["p_adjusted"]
    keys = [{"measure_id": ids[i], "p_adjusted": padj[i], "i": i} for i in ok]
    shown = [int(k["i"]) for k in present.by_significance(keys)[:top]]
    ranked = [{c: v[i] for c, v in cols.items()} for i in shown]
    rows = [
        [
            _e(f"{r['measure_id']} {r['label']}"),
            _figure(r["percent_a"], r["numerator_a"], r["denominator_a"]),
            _figure(r["percent_b"], r["numerator_b"], r["denominator_b"]),
            f"{present.fmt_num(r['percent'])} ({present.fmt_ci(r['ci_low'], r['ci_high'])})",
            _e(present.fmt_p(r["p_value"])),
            _e(present.fmt_p(r["p_adjusted"]))
            + (" *" if present.is_significant(r["p_adjusted"]) else ""),
        ]
        for r in ranked
    ]
    head = ["Question", a, b, "Difference, points (95% interval)", "p", "p adjusted"]
    note = "<p>* a difference at the false discovery rate above.</p>" if hits else ""
    return intro + _table(head, rows) + note


class ExploreView:
    """Widgets over an :class:`Explorer`; every interaction recomputes from masks.

    Parameters
    ----------
    explorer
        The case table, prepared.
    instrument
        For the questions' wording.
    top
        Most questions listed as differing.
    """

    def __init__(self, explorer: Explorer, instrument: Instrument, top: int = TOP) -> None:
        self.explorer = explorer
        self.instrument = instrument
        self.top = top
        self.last_seconds = 0.0
        self.filters = {
            d.id: widgets.SelectMultiple(
                options=[(group_name(d.id, o), o) for o in d.options],
                value=d.options,
                rows=min(len(d.options), 5),
                layout=widgets.Layout(width=FILTER_WIDTH),
            )
            for d in explorer.details.values()
        }
        self.reset = widgets.Button(description="Reset filters", icon="undo")
        wide = widgets.Layout(width="100%")
        initial = {"description_width": "initial"}
        self.question = widgets.Dropdown(
            options=[(f"{q} {instrument.questions[q].label}", q) for q in explorer.questions],
            description="Question",
            layout=wide,
            style=initial,
        )
        splits = [d.id for d in explorer.details.values() if len(d.groups) >= 2]
        self.compare_by = widgets.Dropdown(
            # The report's order of comparisons (grade first), then the instrument's.
            options=[
                (explorer.details[v].label, v) for v in present.comparison_vars(splits, instrument)
            ],
            description="Compare groups of",
            layout=wide,
            style=initial,
        )
        self.group_a = widgets.SelectMultiple(description="Group A", style=initial, rows=4)
        self.group_b = widgets.SelectMultiple(description="Group B", style=initial, rows=4)
        self.summary = widgets.HTML()
        self.question_out = widgets.HTML()
        self.differences_out = widgets.HTML()
        self._set_groups()
        for w in self.filters.values():
            w.observe(self.on_change, names="value")
        self.reset.on_click(self.on_reset)
        self.question.observe(self.on_question, names="value")
        self.compare_by.observe(self.on_compare_by, names="value")
        self.group_a.observe(self.on_groups, names="value")
        self.group_b.observe(self.on_groups, names="value")
        self._busy = False
        self.refresh()

    # -- state -------------------------------------------------------------------------

    def selected(self) -> dict[str, tuple[str, ...]]:
        """The filters' values, by case detail."""
        return {k: tuple(w.value) for k, w in self.filters.items()}

    def mask(self) -> np.ndarray:
        """The cases the filters keep."""
        return self.explorer.mask(self.selected())

    def _set_groups(self) -> None:
        if self.compare_by.value is None:
            return
        d = self.explorer.details[self.compare_by.value]
        options = [(group_name(d.id, g), g) for g in d.groups]
        self.group_a.options, self.group_b.options = options, options
        # Default: the first group against all the others.
        self.group_a.value, self.group_b.value = d.groups[:1], d.groups[1:]

    # -- rendering ---------------------------------------------------------------------

    def render_summary(self, mask: np.ndarray) -> None:
        """Selection count and outcome scores."""
        text = selection_html(int(mask.sum()), self.explorer.n_cases)
        if mask.any():
            w = present.words(self.instrument)
            judgements = f"Judgements {w.say('above_line')}"
            text += scores_html(self.explorer.scores(mask), w.Unit, judgements)
        self.summary.value = text

    def render_question(self, mask: np.ndarray) -> None:
        """The chosen question by every case detail."""
        if not mask.any() or self.question.value is None:
            self.question_out.value = ""
            return
        self.question_out.value = question_html(self.explorer, self.question.value, mask)

    def render_differences(self, mask: np.ndarray) -> None:
        """The questions that differ most between the two chosen groups, within the filter."""
        gv = self.compare_by.value
        if gv is None:
            self.differences_out.value = "<p>No case detail has two groups to compare.</p>"
            return
        a, b = tuple(self.group_a.value), tuple(self.group_b.value)
        if not a or not b:
            self.differences_out.value = "<p>Choose at least one value for each group.</p>"
            return
        if set(a) & set(b):
            self.differences_out.value = "<p>A value is in both groups: a case can be in one.</p>"
            return
        ma = mask & self.explorer.group_mask(gv, a)
        mb = mask & self.explorer.group_mask(gv, b)
        names = tuple(
            present.and_list([group_name(gv, v) for v in g]) for g in (a, b)
        )  # e.g. ("PO", "PSO")
        if not ma.any() or not mb.any():
            self.differences_out.value = "<p>A group has no selected cases.</p>"
            return
        diff = self.explorer.differences(ma, mb, names)
        self.differences_out.value = differences_html(diff, names, self.top)

    def refresh(self) -> float:
        """Recompute and redraw everything; returns the seconds it took."""
        start = time.perf_counter()
        mask = self.mask()
        self.render_summary(mask)
        self.render_question(mask)
        self.render_differences(mask)
        self.last_seconds = time.perf_counter() - start
        return self.last_seconds

    # -- callbacks ---------------------------------------------------------------------

    def on_change(self, _change: object = None) -> None:
        """A filter changed."""
        if not self._busy:
            self.refresh()

    def on_reset(self, _button: object = None) -> None:
        """Every filter back to all its values (one recompute, not one per filter)."""
        self._busy = True
        try:
            for k, w in self.filters.items():
                w.value = self.explorer.details[k].options
        finally:
            self._busy = False
        self.refresh()

    def on_question(self, _change: object = None) -> None:
        """Another question chosen: only its table is redrawn."""
        self.render_question(self.mask())

    def on_compare_by(self, _change: object = None) -> None:
        """Another detail to compare by: its groups, first against the rest."""
        self._busy = True
        try:
            self._set_groups()
        finally:
            self._busy = False
        self.render_differences(self.mask())

    def on_groups(self, _change: object = None) -> None:
        """A group's values changed."""
        if not self._busy:
            self.render_differences(self.mask())

    # -- layout ------------------------------------------------------------------------

    def widget(self) -> widgets.Widget:
        """The whole view: filters (labels above, in full), reset, then the three outputs."""
        boxes = [
            widgets.VBox(
                [widgets.HTML(f"<b>{_e(self.explorer.details[k].label)}</b>"), w],
                layout=widgets.Layout(margin="0 1em 0.5em 0"),
            )
            for k, w in self.filters.items()
        ]
        filters = widgets.HBox(boxes, layout=widgets.Layout(flex_flow="row wrap"))
        low = html.escape(present.LOW.explanation)
        return widgets.VBox(
            [
                widgets.HTML("<h3>Filters</h3>"),
                filters,
                self.reset,
                self.summary,
                widgets.HTML("<h3>One question by every case detail</h3>"),
                self.question,
                self.question_out,
                widgets.HTML("<h3>Which questions differ most between these groups</h3>"),
                self.compare_by,
                widgets.HBox([self.group_a, self.group_b]),
                self.differences_out,
                widgets.HTML(f"<p><small>{present.LOW.symbol} {low}</small></p>"),
            ]
        )


def view(cases: pd.DataFrame, instrument: Instrument, **kwargs) -> ExploreView:
    """An :class:`ExploreView` of a case table (one organisation, or several pooled)."""
    return ExploreView(Explorer(cases, instrument), instrument, **kwargs)
