"""Static charts: a :class:`~analysis.render.charts.model.Chart` as a matplotlib figure and files.

Figures use a bare Agg canvas (pyplot is never touched, so batch workers accumulate no
open figures) in seaborn's whitegrid style. :func:`save_static` writes PNG and SVG files
that are byte-identical on rerun.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

from analysis.render import present
from analysis.render.charts.style import (
    OKABE_ITO,
    SERIES_COLOURS,
    STACK_COLOURS,
    Drawable,
    mpl_text,
    text_colour_on,
    wrap,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Static output settings that make reruns byte-identical.
STATIC_RC = {"svg.hashsalt": "analysis-charts", "svg.fonttype": "path"}
PNG_DPI = 150
PNG_ZLIB = {"compress_level": 3}
#: Marks the subtitle so :func:`refit_subtitle` can find it after a draw.
SUBTITLE_GID = "chart-subtitle"


def figure(chart: Drawable) -> Figure:
    """The chart as a static figure."""
    if chart.kind == "stacked":
        return _stacked(chart)
    return _bars(chart)


def _figure(chart: Drawable, n_slots: float, legend: bool) -> tuple[Figure, Any]:
    import seaborn as sns
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    title_lines = wrap(mpl_text(chart.title), 75)
    height = 1.9 + 0.3 * n_slots + 0.25 * len(title_lines) + (0.4 if legend else 0)
    with sns.axes_style("whitegrid"), matplotlib.rc_context({"font.size": 10}):
        fig = Figure(figsize=(9, height), layout="constrained")
        FigureCanvasAgg(fig)  # Agg without touching pyplot's global backend
        ax = fig.add_subplot()
    fig.suptitle("\n".join(title_lines), x=0.01, ha="left", fontsize=13, fontweight="bold")
    ax.set_title(
        "\n".join(wrap(mpl_text(chart.subtitle), 95)),
        loc="left",
        fontsize=10,
        color="#444444",
        gid=SUBTITLE_GID,
    )
    ax.set_xlim(0, 100)
    from matplotlib.ticker import MultipleLocator, PercentFormatter

    ax.xaxis.set_major_locator(MultipleLocator(20))
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
    ax.set_xlabel(mpl_text(chart.x_title))
    ax.set_ylabel(mpl_text(chart.y_title))
    ax.grid(axis="y", visible=False)
    ax.set_axisbelow(True)
    notes = " ".join(n for n in (chart.footnote, chart.source + ".") if n)
    fig.supxlabel(
        "\n".join(textwrap.wrap(notes, 110)), x=0.01, ha="left", fontsize=8, color="#444444"
    )
    return fig, ax


def _legend(fig: Figure, ax: Any, handles: list, ncols: int) -> None:
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


def _bars(chart: Drawable) -> Figure:
    from matplotlib.patches import Patch

    data = chart.data
    labels, series = chart.labels, chart.series
    k = len(series)
    slots = len(labels) * max(1.0, 0.75 * k)
    fig, ax = _figure(chart, slots, legend=k > 1)
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
        handles.append(Patch(facecolor=colour, label=mpl_text(s)))
    ax.set_yticks(range(len(labels)), ["\n".join(wrap(mpl_text(lab))) for lab in labels])
    ax.set_ylim(len(labels) - 0.5, -0.5)  # first label at the top
    if k > 1:
        _legend(fig, ax, handles, ncols=min(k, 3))
    return fig


def _stacked(chart: Drawable) -> Figure:
    from matplotlib.patches import Patch

    data = chart.data
    labels, series = chart.labels, chart.series
    fig, ax = _figure(chart, max(2.0, 1.5 * len(labels)), legend=True)
    pos = {lab: i for i, lab in enumerate(labels)}
    colour_of = {s: STACK_COLOURS[i % len(STACK_COLOURS)] for i, s in enumerate(series)}
    for lab in labels:
        sub = data[data["label"] == lab]
        y = pos[lab]
        if sub["suppressed"].any():
            ax.text(1, y, present.C.symbol, va="center", ha="left", fontsize=10, color="#222222")
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
                    f"{present.fmt_pct(r.percent)}\n({present.fmt_int(r.numerator)})",
                    ha="center",
                    va="center",
                    fontsize=9,
                    color=text_colour_on(colour),
                )
            left += r.percent
    ax.set_yticks(range(len(labels)), ["\n".join(wrap(mpl_text(lab), 30)) for lab in labels])
    ax.set_ylim(len(labels) - 0.5, -0.5)
    handles = [Patch(facecolor=colour_of[s], label=mpl_text(s)) for s in series]
    _legend(fig, ax, handles, ncols=min(len(series), 4))
    return fig


# -- static files ---------------------------------------------------------------------------


def refit_subtitle(fig: Figure) -> bool:
    """Re-wrap the subtitle if the last draw showed it running off the figure's right edge.

    The subtitle starts at the plot's left edge, which the layout only settles when the
    figure is drawn (it depends on the question labels), so its wrap width is checked
    after the first draw; long subtitles (many groups, long group names) are re-wrapped
    to the room there is. Returns whether the figure changed and must be drawn again.
    """
    found = fig.findobj(lambda a: getattr(a, "get_gid", lambda: None)() == SUBTITLE_GID)
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
    sub.set_text("\n".join(wrap(" ".join(lines), width)))
    return True


def save_static(chart: Drawable, out_dir: str | Path) -> list[Path]:
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
    fig = figure(chart)
    png, svg = out / f"{chart.id}.png", out / f"{chart.id}.svg"
    with matplotlib.rc_context(STATIC_RC):
        # zlib level 3: a fifth faster than the default 6 for files 0.4% larger.
        fig.savefig(png, dpi=PNG_DPI, metadata={"Software": None}, pil_kwargs=PNG_ZLIB)
        if refit_subtitle(fig):
            fig.savefig(png, dpi=PNG_DPI, metadata={"Software": None}, pil_kwargs=PNG_ZLIB)
        # The PNG draw placed everything (sizes are in points, so the layout holds at any
        # dpi): the SVG draw need not run the constrained-layout solver again.
        fig.set_layout_engine("none")
        fig.savefig(svg, metadata={"Date": None, "Creator": None})
    return [png, svg]
