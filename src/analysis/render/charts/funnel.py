"""Funnel plots of an :class:`~analysis.engine.funnel.Funnel`: interactive, static and as files.

The funnel itself (points, pooled proportion, control limits) is computed by
:mod:`analysis.engine.funnel`; this module only draws it. :class:`FunnelChart` gives a
funnel the interface of :class:`~analysis.render.charts.model.Chart` that the report
exporter displays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.engine.funnel import ABOVE_95, ABOVE_998, BELOW_95, BELOW_998, WITHIN, Funnel
from analysis.render import present
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
    """A static funnel chart for PNG/SVG export (Agg canvas; pyplot is not used).

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


def save_static(f: Funnel, stem: str | Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg``, byte-identical on rerun; return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig = to_matplotlib(f)
    png, svg = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")
    import matplotlib  # here, not at import: the trust reports never draw a funnel

    # Fixed hash salt and no dates, so that unchanged funnels give unchanged files.

    with matplotlib.rc_context({"svg.hashsalt": "analysis-funnel", "svg.fonttype": "path"}):
        fig.savefig(png, dpi=150, metadata={"Software": None})
        fig.savefig(svg, metadata={"Date": None, "Creator": None})
    return [png, svg]


@dataclass
class FunnelChart:
    """Adapter with the :class:`analysis.render.charts.Chart` interface the exporter displays.

    ``analysis.render.export.show_chart`` needs ``id``, ``title``, ``alt_text`` and
    ``to_plotly()``; ``to_matplotlib()`` serves static export.
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
