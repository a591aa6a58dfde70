"""Interactive charts: a :class:`~analysis.render.charts.model.Chart` as a plotly figure.

Only bar and scatter traces are used, both in the basic plotly.js bundle the offline
report inlines (:mod:`analysis.render.export`). Every string is escaped for plotly.js,
which reads text as (a subset of) HTML, and every number shown on hover is formatted
by :mod:`analysis.render.present`, not by plotly.js, so it rounds as the report does.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

from analysis.render import present
from analysis.render.charts.style import (
    LABEL_WIDTH,
    OKABE_ITO,
    SERIES_COLOURS,
    STACK_COLOURS,
    TITLE_WIDTH,
    Drawable,
    plotly_text,
    text_colour_on,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go


#: End of the percentage axis: a little past 100 so a label at 100% lies inside the range.
X_MAX = 101
#: Furthest a value label may start (see _bars).
LABEL_X_MAX = 100.5


#: The plotly template the figures use, and the only trace types they draw.
TEMPLATE = "plotly_white"
TRACE_TYPES = ("bar", "scatter")


@functools.cache
def _template() -> go.layout.Template:
    """``plotly_white`` with the defaults of :data:`TRACE_TYPES` only, built once per process.

    A figure made with no template copies plotly's default one, then ``plotly_white``, then
    the export trims both to the traces used (:func:`analysis.render.export.figure_json`'s
    caller): three deep copies of some 7 kB of defaults per figure, a third of the report
    notebook's chart time. The defaults kept are those the trimmed figure kept before.
    """
    import plotly.graph_objects as go
    import plotly.io as pio

    full = pio.templates[TEMPLATE]
    data = {k: v for k, v in (full.data.to_plotly_json() or {}).items() if k in TRACE_TYPES}
    return go.layout.Template(layout=full.layout, data=data)


def _new_figure() -> go.Figure:
    import plotly.graph_objects as go

    return go.Figure(layout={"template": _template()})


def figure(chart: Drawable) -> go.Figure:
    """The chart as an interactive figure; hovering a bar shows n of N and the 95% interval."""
    if chart.kind == "stacked":
        return _stacked(chart)
    return _bars(chart)


def _hover_numbers(r: Any) -> tuple[str, str, str]:
    """Hover texts of one bar: its base ("22 of 54 [u]"), its interval and its percent."""
    if r.suppressed:
        return f"suppressed {present.C.symbol}", "", ""
    base = (
        present.n_of_n(r.numerator, r.denominator)
        if not (math.isnan(r.numerator) or math.isnan(r.denominator))
        else ""
    )
    if r.low:
        base += f" {present.LOW.symbol}"
    interval = (
        present.fmt_ci(r.ci_low, r.ci_high, 1, "%")
        if not (math.isnan(r.ci_low) or math.isnan(r.ci_high))
        else "not available"
    )
    return base, interval, present.fmt_pct(r.percent, 1)


def _none(x: float) -> float | None:
    return None if (x is None or math.isnan(x)) else float(x)


def _label_room(chart: Drawable) -> int:
    """Right margin (px) for the value labels drawn past the bars ("100% (54 of 54) [u]").

    An estimate from the longest label at 12 px Arial; the report's drawing
    (``assets/charts.js``) measures the labels once drawn and widens it if they need more.
    """
    if chart.kind == "stacked":
        return 30
    longest = max((len(str(t)) for t in chart.data["text"]), default=0)
    return max(60, 7 * longest + 16)


def _layout(chart: Drawable, fig: go.Figure, n_bars: int, legend: bool) -> None:
    """Shared layout; margins are sized in pixels so title, legend and notes never overlap."""
    y_labels = {lab: plotly_text(lab, LABEL_WIDTH) for lab in chart.labels}
    title = plotly_text(chart.title, TITLE_WIDTH)
    title_lines = title.count("<br>") + 1
    notes = [n for n in (chart.footnote, chart.source) if n]
    top = 20 + 24 * title_lines + 26 + (34 if legend else 6)
    bottom = 64 + 16 * len(notes) + 10
    plot = max(140, 26 * n_bars + 12 * len(chart.labels))
    fig.update_layout(
        title={
            "text": title,
            "x": 0.01,
            "xanchor": "left",
            "y": 1,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 12},
            "font": {"size": 17},
            "subtitle": {
                "text": plotly_text(chart.subtitle),
                "font": {"size": 13, "color": "#444444"},
            },
        },
        font={"family": "Arial, sans-serif", "size": 13, "color": "#222222"},
        height=top + plot + bottom,
        margin={"l": 10, "r": _label_room(chart), "t": top, "b": bottom},
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "traceorder": "normal"},
        xaxis={
            "range": [0, X_MAX],
            "ticksuffix": "%",
            "dtick": 20,
            "title": {"text": plotly_text(chart.x_title)},
            "fixedrange": True,
        },
        yaxis={
            "categoryorder": "array",
            "categoryarray": [y_labels[lab] for lab in chart.labels],
            "autorange": "reversed",
            "title": {"text": plotly_text(chart.y_title)},
            "automargin": True,
            "fixedrange": True,
        },
        meta={"alt_text": chart.alt_text, "chart_id": chart.id},
    )
    if notes:
        fig.add_annotation(
            text="<br>".join(plotly_text(n) for n in notes),
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


def _bars(chart: Drawable) -> go.Figure:
    import plotly.graph_objects as go

    fig = _new_figure()
    data = chart.data
    series = chart.series
    y_of = {lab: plotly_text(lab, LABEL_WIDTH) for lab in chart.labels}
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
                name=plotly_text(s or chart.x_title),
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
                    "%{y}<br>%{customdata[2]}  %{customdata[0]}<br>95% interval: %{customdata[1]}"
                    "<extra>%{fullData.name}</extra>"
                ),
            )
        )
        # Labels (and [c] gaps) as a text trace in the same offset group, placed past
        # the bar or its interval so an error bar never crosses them.
        # plotly.js drops text points outside the axis range, even with cliponaxis off, so
        # a label never starts past X_MAX: at 100% it starts at the bar's end and runs into
        # the right margin (sized for it: _label_room, then measured by assets/charts.js).
        ends = []
        for r in rows:
            if r.suppressed or math.isnan(r.percent):
                ends.append(1.0)
            elif chart.intervals and not math.isnan(r.ci_high):
                ends.append(min(max(r.percent, r.ci_high) + 1, LABEL_X_MAX))
            else:
                ends.append(min(r.percent + 1, LABEL_X_MAX))
        fig.add_trace(
            go.Scatter(
                x=ends,
                y=ys,
                mode="text",
                text=[plotly_text(r.text) for r in rows],
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
    _layout(chart, fig, len(data), legend=len(series) > 1)
    return fig


def _stacked(chart: Drawable) -> go.Figure:
    import plotly.graph_objects as go

    fig = _new_figure()
    data = chart.data
    y_of = {lab: plotly_text(lab, LABEL_WIDTH) for lab in chart.labels}
    for i, s in enumerate(chart.series):
        sub = data[data["series"] == s]
        colour = STACK_COLOURS[i % len(STACK_COLOURS)]
        custom = []
        for r in sub.itertuples(index=False):
            base, _, pct = _hover_numbers(r)
            custom.append([base, pct])
        fig.add_trace(
            go.Bar(
                name=plotly_text(s),
                orientation="h",
                y=[y_of[lab] for lab in sub["label"]],
                x=[_none(p) for p in sub["percent"]],
                text=[
                    present.fmt_pct(p) if not (sup or math.isnan(p)) and p >= 5 else ""
                    for p, sup in zip(sub["percent"], sub["suppressed"], strict=True)
                ],
                textposition="inside",
                insidetextanchor="middle",
                textfont={"color": text_colour_on(colour)},
                marker={"color": colour, "line": {"color": "#FFFFFF", "width": 1}},
                customdata=custom,
                hovertemplate=(
                    "%{fullData.name}: %{customdata[1]}  (%{customdata[0]})<extra></extra>"
                ),
            )
        )
    for lab in chart.labels:
        if data.loc[data["label"] == lab, "suppressed"].any():
            fig.add_annotation(
                x=1,
                y=y_of[lab],
                text=present.C.symbol,
                showarrow=False,
                xanchor="left",
                font={"color": "#222222"},
            )
    fig.update_layout(barmode="stack", bargap=0.4)
    _layout(chart, fig, max(3, 2 * len(chart.labels)), legend=True)
    return fig
