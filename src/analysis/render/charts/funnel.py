"""Funnel plots of an :class:`~analysis.engine.funnel.Funnel`: interactive, static and as files.

The funnel itself (points, pooled proportion, control limits) is computed by
:mod:`analysis.engine.funnel`; this module only draws it. :class:`FunnelChart` gives a
funnel the interface of :class:`~analysis.render.charts.model.Chart` that the report
exporter displays. The static files (:func:`save_static`) are drawn on the canvas
renderer (:mod:`analysis.render.charts.canvas`), as the trust reports' charts are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.engine.funnel import ABOVE_95, ABOVE_998, BELOW_95, BELOW_998, WITHIN, Funnel
from analysis.render import present
from analysis.render.charts.canvas import Canvas, text_width
from analysis.render.charts.style import plotly_text

if TYPE_CHECKING:
    import plotly.graph_objects as go
    from matplotlib.figure import Figure

_LINE = {"p0": "#444444", "95": "#1f77b4", "998": "#d62728"}
_MARK = {
    WITHIN: "#7f7f7f",
    ABOVE_95: "#1f77b4",
    BELOW_95: "#ff7f0e",
    ABOVE_998: "#2ca02c",
    BELOW_998: "#d62728",
}


def to_plotly(f: Funnel, *, title: str | None = None) -> go.Figure:
    """An interactive funnel chart (scatter and line traces only: both in plotly's basic bundle).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    c = f.curves
    if not c.empty:
        fig.add_trace(
            go.Scatter(
                x=c["n"],
                y=c["p0"],
                mode="lines",
                name=f"pooled {present.fmt_pct(f.p0 * 100, 1)}",
                line={"color": _LINE["p0"], "width": 1.5},
                hoverinfo="skip",
            )
        )
        for tag, name, dash in (("95", "95% limits", "dash"), ("998", "99.8% limits", "dot")):
            for side in ("lower", "upper"):
                fig.add_trace(
                    go.Scatter(
                        x=c["n"],
                        y=c[f"{side}_{tag}"],
                        mode="lines",
                        name=name,
                        legendgroup=tag,
                        showlegend=side == "upper",
                        line={"color": _LINE[tag], "width": 1, "dash": dash},
                        hoverinfo="skip",
                    )
                )
    p = f.points
    if not p.empty:
        text = [
            f"{plotly_text(t)}<br>{present.fmt_pct(pc, 1)} of {present.fmt_int(n)} {f.n_basis}"
            f"<br>{pos}"
            for t, pc, n, pos in zip(p["trust"], p["percent"], p["n"], p["position"], strict=True)
        ]
        fig.add_trace(
            go.Scatter(
                x=p["n"],
                y=p["percent"],
                mode="markers+text",
                name="organisations",
                text=[
                    plotly_text(t) if pos != WITHIN else ""
                    for t, pos in zip(p["trust"], p["position"], strict=True)
                ],
                textposition="top center",
                hovertext=text,
                hoverinfo="text",
                marker={"size": 9, "color": [_MARK[x] for x in p["position"]]},
            )
        )
    fig.update_layout(
        title=title or f.label or f.measure_id,
        xaxis_title=f"Number of {f.n_basis}",
        yaxis_title="Score (%)",
        template="plotly_white",
        height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return fig


def to_matplotlib(f: Funnel, *, title: str | None = None) -> Figure:
    """The funnel as a matplotlib figure, for users restyling it in a notebook.

    The PNG and SVG files are drawn by :func:`draw` instead (no matplotlib); this
    figure shows the same content. A bare Agg figure: pyplot is not used.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    # A bare Figure (not pyplot) so batch workers never accumulate open figures.
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    c = f.curves
    if not c.empty:
        pooled = f"pooled {present.fmt_pct(f.p0 * 100, 1)}"
        ax.plot(c["n"], c["p0"], color=_LINE["p0"], lw=1.2, label=pooled)
        for tag, name, ls in (("95", "95% limits", "--"), ("998", "99.8% limits", ":")):
            ax.plot(c["n"], c[f"upper_{tag}"], color=_LINE[tag], lw=1, ls=ls, label=name)
            ax.plot(c["n"], c[f"lower_{tag}"], color=_LINE[tag], lw=1, ls=ls)
    p = f.points
    if not p.empty:
        ax.scatter(p["n"], p["percent"], c=[_MARK[x] for x in p["position"]], s=30, zorder=3)
        for t, x, y, pos in zip(p["trust"], p["n"], p["percent"], p["position"], strict=True):
            if pos != WITHIN:
                ax.annotate(t, (x, y), xytext=(3, 4), textcoords="offset points", fontsize=8)
    ax.set_xlabel(f"Number of {f.n_basis}")
    ax.set_ylabel("Score (%)")
    ax.set_title(title or f.label or f.measure_id)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


#: The static chart's page (inches) and its PNG resolution, as the matplotlib figure had.
PAGE = (7.0, 4.5)
PNG_DPI = 150
#: Dash patterns in points (on, off), matplotlib's "--" and ":" at a 1 pt line.
_DASH = {"95": (3.7, 1.6), "998": (1.0, 1.65)}
_GRID = "#E7E7E7"  # matplotlib's grid (#b0b0b0) at alpha 0.3 on white
_SPINE = "#000000"
_INK = "#262626"


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values covering [lo, hi], about ``target`` of them (steps 1, 2, 2.5, 5 x 10^k)."""
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 10) for k in range(first, last + 1)]


def _tick_label(v: float, step: float) -> str:
    decimals = 0 if step >= 1 else max(0, -math.floor(math.log10(step)) + (step * 10 % 1 > 0))
    return f"{v:.{decimals}f}"


def _limits(lo: float, hi: float) -> tuple[float, float]:
    """A data range widened by 5% each side (matplotlib's default margins)."""
    if hi <= lo:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def draw(f: Funnel, *, title: str | None = None) -> Canvas:
    """The funnel laid out on a 7 x 4.5 inch page, the matplotlib chart's look.

    The title above the plot; the pooled line, the 95% (dashed) and 99.8% (dotted) limit
    curves, one dot per organisation coloured by where it lies, the names of those
    outside the 95% limits beside their dots; the axes' ticks and titles; the legend at
    the lower right of the plot.
    """
    width, height = PAGE[0] * 72, PAGE[1] * 72
    c = Canvas(width, height, inches=PAGE)
    cv, p = f.curves, f.points
    xs = [float(v) for v in (list(cv["n"]) if not cv.empty else []) + list(p["n"])]
    ys = [float(v) for v in p["percent"]]
    if not cv.empty:
        for col in ("p0", "lower_95", "upper_95", "lower_998", "upper_998"):
            ys += [float(v) for v in cv[col]]
    x0, x1 = _limits(min(xs, default=0.0), max(xs, default=1.0))
    y0, y1 = _limits(min(ys, default=0.0), max(ys, default=100.0))
    xt = [t for t in nice_ticks(x0, x1, 8) if x0 <= t <= x1]
    yt = [t for t in nice_ticks(y0, y1) if y0 <= t <= y1]
    ystep = yt[1] - yt[0] if len(yt) > 1 else 1.0
    xstep = xt[1] - xt[0] if len(xt) > 1 else 1.0
    ylabels = [_tick_label(t, ystep) for t in yt]

    size, title_size, small = 10.0, 12.0, 8.0
    left = 6 + 1.2 * size + 4 + max((text_width(t, size) for t in ylabels), default=0) + 6
    right = width - 10
    top = 6 + 1.2 * title_size + 6
    bottom = height - (6 + 1.2 * size + 4 + 1.2 * size + 4)

    def px(n: float) -> float:
        return left + (right - left) * (n - x0) / (x1 - x0)

    def py(v: float) -> float:
        return bottom - (bottom - top) * (v - y0) / (y1 - y0)

    c.text(
        (left + right) / 2,
        6 + 0.93 * title_size,
        title or f.label or f.measure_id,
        title_size,
        colour=_INK,
        anchor="middle",
    )
    for t in xt:
        c.line(px(t), top, px(t), bottom, _GRID, 0.8, z=0.5)
        c.line(px(t), bottom, px(t), bottom + 3.5, _SPINE, 0.8)
        c.text(
            px(t),
            bottom + 5 + 0.93 * size,
            _tick_label(t, xstep),
            size,
            colour=_INK,
            anchor="middle",
        )
    for t, lab in zip(yt, ylabels, strict=True):
        c.line(left, py(t), right, py(t), _GRID, 0.8, z=0.5)
        c.line(left - 3.5, py(t), left, py(t), _SPINE, 0.8)
        c.text(left - 5, py(t) + 0.32 * size, lab, size, colour=_INK, anchor="end")
    c.text(
        (left + right) / 2,
        height - 6 - 0.25 * size,
        f"Number of {f.n_basis}",
        size,
        colour=_INK,
        anchor="middle",
    )
    c.text(
        6 + 0.93 * size,
        (top + bottom) / 2,
        "Score (%)",
        size,
        colour=_INK,
        anchor="middle",
        vertical=True,
    )

    legend: list[tuple[str, str, tuple[float, ...] | None, float]] = []
    if not cv.empty:
        ns = [px(float(n)) for n in cv["n"]]
        pooled = f"pooled {present.fmt_pct(f.p0 * 100, 1)}"
        c.polyline(list(zip(ns, (py(float(v)) for v in cv["p0"]), strict=True)), _LINE["p0"], 1.2)
        legend.append((pooled, _LINE["p0"], None, 1.2))
        for tag, name in (("95", "95% limits"), ("998", "99.8% limits")):
            for side in ("upper", "lower"):
                pts = list(zip(ns, (py(float(v)) for v in cv[f"{side}_{tag}"]), strict=True))
                c.polyline(pts, _LINE[tag], 1.0, dash=_DASH[tag])
            legend.append((name, _LINE[tag], _DASH[tag], 1.0))
    r = math.sqrt(30) / 2  # matplotlib's s=30: a marker 30 square points in area
    for t, n, v, pos in zip(p["trust"], p["n"], p["percent"], p["position"], strict=True):
        c.dot(px(float(n)), py(float(v)), r, _MARK[pos], z=3)
        if pos != WITHIN:
            c.text(px(float(n)) + 3, py(float(v)) - 4, str(t), small, colour=_INK, z=4)
    for x_a, y_a, x_b, y_b in (
        (left, top, right, top),
        (left, bottom, right, bottom),
        (left, top, left, bottom),
        (right, top, right, bottom),
    ):
        c.line(x_a, y_a, x_b, y_b, _SPINE, 0.8, z=2.5)
    if legend:
        row = 1.4 * small
        wide = max(text_width(name, small) for name, *_ in legend)
        lx = right - 6 - wide - 2.8 * small
        ly = bottom - 6 - row * len(legend) + row / 2
        for k, (name, colour, dash, lw) in enumerate(legend):
            y = ly + k * row
            c.polyline([(lx, y), (lx + 2 * small, y)], colour, lw, dash=dash, z=4)
            c.text(lx + 2.8 * small, y + 0.32 * small, name, small, colour=_INK, z=4)
    return c


def save_static(f: Funnel, stem: str | Path, *, alt_text: str = "") -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.svg``, byte-identical on rerun; return the paths.

    Drawn on a :class:`~analysis.render.charts.canvas.Canvas` (Pillow and SVG text),
    never matplotlib: the SVG keeps its words as ``<text>``, with the chart's title as
    its ``<title>`` and ``alt_text`` (the :class:`FunnelChart`'s by default) as its
    ``<desc>``.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    chart = FunnelChart(f)
    c = draw(f, title=f.label or f.measure_id)
    png, svg = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")
    png.write_bytes(c.to_png(PNG_DPI))
    svg.write_text(c.to_svg(chart.title, alt_text or chart.alt_text), encoding="utf-8")
    return [png, svg]


@dataclass
class FunnelChart:
    """Adapter with the :class:`analysis.render.charts.Chart` interface the exporter displays.

    ``analysis.render.export.show_chart`` needs ``id``, ``title``, ``alt_text`` and
    ``to_plotly()``; ``to_matplotlib()`` gives a matplotlib figure (the static files are
    :func:`save_static`'s).
    """

    funnel: Funnel
    id: str = ""
    title: str = ""
    alt_text: str = ""

    def __post_init__(self) -> None:
        f = self.funnel
        self.id = self.id or f"funnel-{f.measure_id or 'score'}"
        self.title = self.title or f"{f.label}: scores against the pooled score"
        if not self.alt_text:
            out = f.outside
            named = (
                "; ".join(
                    f"{t} {pos}" for t, pos in zip(out["trust"], out["position"], strict=True)
                )
                if len(out)
                else "none outside the 95% limits"
            )
            self.alt_text = (
                f"Funnel plot of {len(f.points)} organisations' {f.label} scores against the "
                f"number of {f.n_basis}, with 95% and 99.8% limits around the pooled score of "
                f"{present.fmt_pct(f.p0 * 100, 1)}. Outside the limits: {named}."
            )

    def to_plotly(self) -> go.Figure:
        """Interactive figure."""
        return to_plotly(self.funnel, title=self.title)

    def to_matplotlib(self) -> Figure:
        """Static figure."""
        return to_matplotlib(self.funnel, title=self.title)
