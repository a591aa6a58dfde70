"""The ratings chart: each rated standard's percentage, coloured by its rating and labelled.

The inspectorate shows ratings as coloured bands that always carry their words
("Good", "Requires improvement"); this chart does the same for the standards rated from
the cases: one horizontal bar per standard, the percentage its rating rests on (with its
95% interval), filled with its rating's colour, and the rating's words in the bar's
label ("Planning: Requires improvement"), so no colour is ever the only sign of a
rating (and the chart reads the same printed in grey). Dashed lines mark the bands'
limits, which the subtitle words. Standards rated by inspectors and the overall rating
rest on no percentage of cases: they are in the ratings table beside the chart.

The colours are those of the report's ``.rating-<id>`` classes (``assets/report.css``),
for the HTML table, the plotly figure and the static PNG/SVG alike
(:data:`RATING_STYLES`). Every number comes from the findings' ``rating`` rows, worded
and rounded by :mod:`analysis.render.present`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis.render import present
from analysis.render.charts import canvas as cv
from analysis.render.charts import static
from analysis.render.charts.model import Chart, frame, record
from analysis.render.charts.style import OKABE_ITO
from analysis.render.charts.words import rows_of, subtitle

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from analysis.instrument import Instrument

#: Fill and text colour of each rating, as the report's ``.rating-<id>`` CSS classes.
RATING_STYLES: dict[str, tuple[str, str]] = {
    "outstanding": ("#00703c", "#ffffff"),
    "good": ("#cce2d8", "#0b3b24"),
    "requires_improvement": ("#fff2b3", "#4d3d00"),
    "inadequate": ("#a8231a", "#ffffff"),
}
#: A rating the palette does not know, or none (``.rating-none``).
NOT_RATED_STYLE = ("#f3f2f1", "#0b0c0c")
#: Every bar's edge: the light fills (Good, Requires improvement) stand out on white.
EDGE = "#0b0c0c"
#: The band limits' dashed lines.
LIMIT_COLOUR = "#505a5f"
#: The static bars' fill before recolouring (the single-series colour of :mod:`.static`).
_STATIC_FILL = OKABE_ITO["blue"]


def rating_style(rating_id: str | None) -> tuple[str, str]:
    """(fill, text) colours of a rating id; the neutral style for none or an unknown one."""
    return RATING_STYLES.get(rating_id or "", NOT_RATED_STYLE)


@dataclass
class RatingsChart(Chart):
    """A :class:`Chart` of kind ``bars`` whose bars take their rating's colour.

    ``ratings`` holds the rating id of each data row (``""`` when not rated), ``limits``
    the bands' finite limits (percent), drawn as dashed lines.
    """

    ratings: list[str] = field(default_factory=list)
    limits: list[float] = field(default_factory=list)

    @property
    def fills(self) -> list[str]:
        """Each data row's fill colour."""
        return [rating_style(r)[0] for r in self.ratings]

    def to_plotly(self) -> go.Figure:
        """The bars figure, recoloured by rating, with the band limits as ticks and lines."""
        fig = super().to_plotly()
        bars = next(t for t in fig.data if t.type == "bar")
        bars.marker.color = self.fills
        bars.marker.line = {"color": EDGE, "width": 1}
        chances = [_chance(p) for p in self.data["p_different"]]
        bars.customdata = [(*c, chance) for c, chance in zip(bars.customdata, chances, strict=True)]
        bars.hovertemplate = (
            "%{y}<br>%{customdata[2]}  %{customdata[0]}<br>95% interval: %{customdata[1]}"
            "<br>Chance of a different rating: %{customdata[3]}<extra></extra>"
        )
        ticks = sorted({0.0, 100.0, *self.limits})
        fig.update_xaxes(tickmode="array", tickvals=ticks, ticktext=[f"{t:g}%" for t in ticks])
        for x in self.limits:
            fig.add_shape(
                type="line",
                xref="x",
                yref="paper",
                x0=x,
                x1=x,
                y0=0,
                y1=1,
                line={"color": LIMIT_COLOUR, "width": 1.2, "dash": "dash"},
                layer="below",
            )
        return fig

    def to_matplotlib(self) -> Any:
        """The bars figure as matplotlib draws it, recoloured by rating."""
        fig = super().to_matplotlib()
        ax = fig.axes[0]
        bars = [p for p in ax.patches if p.get_width() > 0]
        for patch, fill in zip(bars, self.fills, strict=False):
            patch.set_facecolor(fill)
            patch.set_edgecolor(EDGE)
        for x in self.limits:
            ax.axvline(x, color=LIMIT_COLOUR, lw=1, ls="--", zorder=0.6)
        return fig

    def draw(self) -> cv.Canvas:
        """The static page: :func:`.static.draw`'s bars, recoloured, with the band limits."""
        c = static.draw(self)
        drawn = [
            fill
            for fill, r in zip(self.fills, self.data.itertuples(index=False), strict=True)
            if not (r.suppressed or math.isnan(r.percent))
        ]
        bars = [i for i, item in enumerate(c.items) if _is_bar(item)]
        if len(bars) != len(drawn):
            raise RuntimeError(f"ratings chart: {len(drawn)} bars expected, {len(bars)} drawn")
        for i, fill in zip(bars, drawn, strict=True):
            c.items[i] = replace(c.items[i], fill=fill, edge=EDGE, edge_width=0.8)
        grid = [i for i in c.items if isinstance(i, cv.Line) and i.z == 0.5 and i.x0 == i.x1]
        if grid:
            x0, x100 = grid[0].x0, grid[-1].x0  # the 0% and 100% grid lines
            top, bottom = grid[0].y0, grid[0].y1
            for x in self.limits:
                px = x0 + (x100 - x0) * x / 100
                c.polyline([(px, top), (px, bottom)], LIMIT_COLOUR, 1.0, dash=(4.0, 2.5), z=0.6)
        return c

    def save_static(self, out_dir: str | Path) -> list[Path]:
        """Write ``<id>.png`` (150 dpi) and ``<id>.svg``, as :func:`.static.save_static` does."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        c = self.draw()
        png, svg = out / f"{self.id}.png", out / f"{self.id}.svg"
        png.write_bytes(c.to_png(static.PNG_DPI))
        svg.write_text(c.to_svg(self.title, self.alt_text), encoding="utf-8")
        return [png, svg]


def _elsewhere(ratings: Any) -> str:
    """What the ratings table holds that the chart does not (none when nothing)."""
    others = []
    if any(s.rests_on == "inspectors" for s in ratings.standards):
        others.append("standards rated by inspectors")
    if ratings.overall is not None:
        others.append("the overall rating")
    return f"; {' and '.join(others)} are in the ratings table" if others else ""


def _is_bar(item: Any) -> bool:
    return isinstance(item, cv.Rect) and item.fill == _STATIC_FILL


def _chance(p: Any) -> str:
    return "not available" if present.is_missing(p) else present.fmt_pct(100 * float(p))


def ratings_chart(findings: pd.DataFrame, instrument: Instrument) -> RatingsChart | None:
    """The ratings chart of one organisation; None when no standard is rated from cases.

    Parameters
    ----------
    findings
        The findings table of one organisation (its ``rating`` rows are read).
    instrument
        Gives the rating scale, its bands and the words for the standards.
    """
    ratings = getattr(instrument, "ratings", None)
    rows = rows_of(findings, "rating")
    if ratings is None or rows.empty:
        return None
    by_id = ratings.by_id
    records, rated, chances = [], [], []
    for _, r in rows.iterrows():
        sid = str(r["measure_id"]).removeprefix("rating_")
        std = by_id.get(sid)
        if std is None or std.rests_on == "inspectors":
            continue  # the overall rating and inspectors' ratings rest on no percentage
        label = str(r["category"] or "")
        rid = ratings.rating_of_label(label) if label else None
        rec = record(r, f"{r['label'] or sid} – {label or 'Not rated'}")
        if not rec["suppressed"] and not math.isnan(rec["percent"]):
            rec["text"] = present.pct_n_of_n(rec["percent"], rec["numerator"], rec["denominator"])
        records.append(rec)
        rated.append(rid or "")
        chances.append(r.get("p_different"))
    if not records:
        return None
    data = frame(records).assign(p_different=pd.array(chances, dtype="Float64"))
    w = present.words(instrument)
    levels = ratings.levels
    counts = pd.Series([levels[x].label if x else "not rated" for x in rated]).value_counts()
    order = [lvl.label for lvl in reversed(ratings.scale)] + ["not rated"]
    told = [f"{present.fmt_int(counts[k])} {k}" for k in order if k in counts]
    n = len(records)
    title = f"{present.plural(n, w.unit).capitalize()} judged from the cases: " + ", ".join(told)
    bands = "; ".join(
        f"{levels[b.rating].label} {b.text()}" for b in ratings.bands.ranges if b.rating in levels
    )
    sub = subtitle(findings, f"bands: {bands}")
    items = []
    for rec, p in zip(records, chances, strict=True):
        shown = f"suppressed {present.C.symbol}" if rec["suppressed"] else rec["text"]
        items.append(f"{rec['label']}, {shown}, chance of a different rating {_chance(p)}")
    alt = (
        f"Horizontal bar chart of the percentage each of {n} {w.units} rated from the cases "
        f"rests on, each bar in its rating's colour and labelled with the rating. "
        f"{'; '.join(items)}. Dashed lines mark the bands' limits."
    )
    limits = sorted({e for b in ratings.bands.ranges for e in b.edges if 0 < e < 100})
    return RatingsChart(
        id="ratings",
        title=title,
        subtitle=sub,
        alt_text=alt,
        kind="bars",
        data=data,
        x_title="Percentage the rating rests on (%)",
        y_title="",
        intervals=True,
        source="Source: case inspection findings table" + _elsewhere(ratings),
        ratings=rated,
        limits=limits,
    )
