"""Static charts: a :class:`~analysis.render.charts.model.Chart` as PNG and SVG files.

:func:`save_static` lays a chart out on a :class:`~analysis.render.charts.canvas.Canvas`
(:func:`draw`) and writes it as a 150 dpi PNG and an SVG whose words are ``<text>``,
byte-identical on rerun, in the look the charts had in matplotlib (seaborn's whitegrid
style, DejaVu Sans): the same page sizes, words, bars, hatching and interval lines, over
ten times faster than matplotlib drew them (``bench/charts.py``).

:func:`figure` draws the same chart as a matplotlib figure (a bare Agg canvas, in
seaborn's whitegrid style; pyplot is never touched), for users who want to restyle a
chart in a notebook (``Chart.to_matplotlib()``).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.render import present
from analysis.render.charts.canvas import Canvas, text_width
from analysis.render.charts.style import (
    LABEL_WIDTH,
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
    import matplotlib
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


# -- the chart on a canvas (what the files show) ---------------------------------------------

#: Page margin, and the gaps between the blocks of a chart, in points.
PAD = 6.0
GAP = 6.0
#: seaborn whitegrid: dark grey text, light grey frame and grid lines.
INK = "#262626"
VALUE_INK = "#222222"
NOTE_INK = "#444444"
FRAME = "#CCCCCC"
#: Line height as a multiple of the font size (matplotlib's default line spacing).
LEADING = 1.2
#: Baseline below a line's vertical centre, as a fraction of the font size (DejaVu Sans).
MIDDLE = 0.32
#: Baseline below the top of a line, as a fraction of the font size (DejaVu Sans ascent).
ASCENT = 0.93
#: Font sizes (points): title, subtitle and axes, value labels, legend, footnote.
TITLE_SIZE, TEXT_SIZE, VALUE_SIZE, LEGEND_SIZE, NOTE_SIZE = 13.0, 10.0, 9.0, 9.0, 8.0


def page_height(chart: Drawable) -> float:
    """The page height in inches: room for the bars, the title and the legend."""
    if chart.kind == "stacked":
        slots, legend = max(2.0, 1.5 * len(chart.labels)), True
    else:
        k = len(chart.series)
        slots, legend = len(chart.labels) * max(1.0, 0.75 * k), k > 1
    title_lines = wrap(mpl_text(chart.title), 75)  # as the matplotlib figure counts them
    return 1.9 + 0.3 * slots + 0.25 * len(title_lines) + (0.4 if legend else 0)


def fit(text: str, size: float, room: float, chars: int, bold: bool = False) -> list[str]:
    """``text`` wrapped at ``chars`` characters, or narrower until every line fits ``room``."""
    lines = wrap(text, chars)
    while chars > 10 and max(text_width(line, size, bold) for line in lines) > room:
        chars -= 2
        lines = wrap(text, chars)
    return lines


def _block(c: Canvas, x: float, top: float, lines: list[str], size: float, **kw: Any) -> float:
    """Lines of text from ``top`` down; returns the bottom of the block."""
    for n, line in enumerate(lines):
        c.text(x, top + ASCENT * size + n * LEADING * size, line, size, **kw)
    return top + LEADING * size * len(lines)


def _centred(c: Canvas, x: float, y: float, lines: list[str], size: float, **kw: Any) -> None:
    """Lines of text centred vertically on ``y``."""
    first = y - (len(lines) - 1) * LEADING * size / 2 + MIDDLE * size
    for n, line in enumerate(lines):
        c.text(x, first + n * LEADING * size, line, size, **kw)


def draw(chart: Drawable) -> Canvas:
    """The chart laid out on a page 9 inches wide, :func:`page_height` high.

    Top to bottom: the title, the subtitle (from the plot's left edge), the plot (the
    category labels to its left, 0-100% along the bottom), the x-axis title, the legend
    (several series) and the footnote with the source. The plot is as wide as leaves
    room for the labels at both sides: a label drawn past the end of a bar stays on the
    page.
    """
    inches = (9.0, page_height(chart))
    width, height = inches[0] * 72, inches[1] * 72
    c = Canvas(width, height, inches=inches)
    stacked = chart.kind == "stacked"
    labels, series = chart.labels, chart.series
    k = len(series)
    label_lines = [wrap(lab, 30 if stacked else LABEL_WIDTH) for lab in labels]

    # Horizontal: y-axis title, category labels, plot, room for the value labels.
    left = PAD + (LEADING * TEXT_SIZE + 4 if chart.y_title else 0)
    widest = max((text_width(t, TEXT_SIZE) for ls in label_lines for t in ls), default=0)
    plot_left = left + widest + 8
    right = width - PAD
    room = right - plot_left - text_width("100%", TEXT_SIZE) / 2
    value_size = VALUE_SIZE if k <= 2 else 8.0
    if not stacked:
        for r in chart.data.itertuples(index=False):
            if r.suppressed or math.isnan(r.percent):
                continue
            end = r.percent
            if chart.intervals and not math.isnan(r.ci_high):
                end = max(end, r.ci_high)
            need = right - plot_left - text_width(r.text, value_size) - 4
            room = min(room, need * 100 / (end + 1))
    plot_w = max(room, 100.0)

    # Vertical, from the top: title, subtitle; from the bottom: footnote, legend, axis.
    y = _block(
        c,
        PAD,
        PAD,
        fit(chart.title, TITLE_SIZE, width - 2 * PAD, 75, True),
        TITLE_SIZE,
        colour=INK,
        bold=True,
    )
    sub = fit(chart.subtitle, TEXT_SIZE, right - plot_left, 95) if chart.subtitle else []
    y = _block(c, plot_left, y + GAP, sub, TEXT_SIZE, colour=NOTE_INK) if sub else y
    plot_top = y + GAP
    notes = " ".join(n for n in (chart.footnote, chart.source + ".") if n)
    note_lines = textwrap.wrap(notes, 110)
    bottom = height - PAD - LEADING * NOTE_SIZE * len(note_lines)
    _block(c, PAD, bottom, note_lines, NOTE_SIZE, colour=NOTE_INK)
    entries = series if (stacked or k > 1) else []
    ncols = min(len(entries), 4 if stacked else 3) if entries else 1
    rows = math.ceil(len(entries) / ncols) if entries else 0
    legend_h = rows * LEADING * LEGEND_SIZE + (rows - 1) * 0.5 * LEGEND_SIZE if rows else 0
    legend_top = bottom - GAP - legend_h
    axis_h = 4 + LEADING * TEXT_SIZE + (4 + LEADING * TEXT_SIZE if chart.x_title else 0)
    plot_bottom = legend_top - (GAP if rows else 0) - axis_h
    plot_h = max(plot_bottom - plot_top, 10.0)
    plot_bottom = plot_top + plot_h

    def px(percent: float) -> float:
        return plot_left + plot_w * percent / 100

    slot = plot_h / max(len(labels), 1)

    def py(i: float) -> float:  # centre of category i (0 at the top)
        return plot_top + (i + 0.5) * slot

    # Grid (below the bars), tick labels, axis titles.
    for tick in range(0, 101, 20):
        c.line(px(tick), plot_top, px(tick), plot_bottom, FRAME, 1.0, z=0.5)
        c.text(
            px(tick),
            plot_bottom + 4 + ASCENT * TEXT_SIZE,
            f"{tick}%",
            TEXT_SIZE,
            colour=INK,
            anchor="middle",
        )
    if chart.x_title:
        c.text(
            px(50),
            plot_bottom + 8 + LEADING * TEXT_SIZE + ASCENT * TEXT_SIZE,
            chart.x_title,
            TEXT_SIZE,
            colour=INK,
            anchor="middle",
        )
    if chart.y_title:
        c.text(
            PAD + ASCENT * TEXT_SIZE,
            (plot_top + plot_bottom) / 2,
            chart.y_title,
            TEXT_SIZE,
            colour=INK,
            anchor="middle",
            vertical=True,
        )
    for i, lines in enumerate(label_lines):
        _centred(c, plot_left - 6, py(i), lines, TEXT_SIZE, colour=INK, anchor="end")

    colours = (
        _stacked_canvas(c, chart, px, py, slot)
        if stacked
        else _bars_canvas(c, chart, px, py, slot, value_size)
    )
    # The frame over the bars, as matplotlib draws its spines.
    for x0, y0, x1, y1 in (
        (plot_left, plot_top, px(100), plot_top),
        (plot_left, plot_bottom, px(100), plot_bottom),
        (plot_left, plot_top, plot_left, plot_bottom),
        (px(100), plot_top, px(100), plot_bottom),
    ):
        c.line(x0, y0, x1, y1, FRAME, 1.0, z=2.5)
    _legend_canvas(c, entries, colours, plot_left, legend_top, ncols)
    return c


def _bars_canvas(c: Canvas, chart: Drawable, px: Any, py: Any, slot: float, size: float) -> dict:
    """Bars (one per series in each slot), interval lines and value labels."""
    series = chart.series
    k = len(series)
    colours = SERIES_COLOURS if k > 1 else [OKABE_ITO["blue"]]
    colour_of = {s: colours[j % len(colours)] for j, s in enumerate(series)}
    pos = {lab: i for i, lab in enumerate(chart.labels)}
    height = 0.8 / k
    for j, s in enumerate(series):
        colour = colour_of[s]
        for r in chart.data[chart.data["series"] == s].itertuples(index=False):
            y = py(pos[r.label] - 0.4 + (j + 0.5) * height)
            if r.suppressed or math.isnan(r.percent):
                _centred(c, px(1), y, [r.text], VALUE_SIZE, colour=VALUE_INK)
                continue
            h = slot * height * 0.92
            ink = text_colour_on(colour) if r.low else None
            c.rect(px(0), y - h / 2, px(r.percent) - px(0), h, colour, hatch=ink)
            end = r.percent
            if chart.intervals and not (math.isnan(r.ci_low) or math.isnan(r.ci_high)):
                c.line(px(r.ci_low), y, px(r.ci_high), y, "#333333", 1.2)
                for x in (r.ci_low, r.ci_high):
                    c.line(px(x), y - 3, px(x), y + 3, "#333333", 1.2)
                end = max(end, r.ci_high)
            _centred(c, px(end + 1) + 2, y, [r.text], size, colour=VALUE_INK)
    return colour_of


def _stacked_canvas(c: Canvas, chart: Drawable, px: Any, py: Any, slot: float) -> dict:
    """One 100% bar per label, its segments labelled "47% (25)" when wide enough."""
    colour_of = {s: STACK_COLOURS[i % len(STACK_COLOURS)] for i, s in enumerate(chart.series)}
    for i, lab in enumerate(chart.labels):
        sub = chart.data[chart.data["label"] == lab]
        y = py(i)
        if sub["suppressed"].any():
            _centred(c, px(1), y, [present.C.symbol], TEXT_SIZE, colour=VALUE_INK)
            continue
        left = 0.0
        h = slot * 0.6
        for r in sub.itertuples(index=False):
            if math.isnan(r.percent):
                continue
            colour = colour_of[r.series]
            c.rect(
                px(left),
                y - h / 2,
                px(left + r.percent) - px(left),
                h,
                colour,
                edge="#FFFFFF",
                edge_width=1.0,
            )
            if r.percent >= 6:
                lines = [present.fmt_pct(r.percent), f"({present.fmt_int(r.numerator)})"]
                _centred(
                    c,
                    px(left + r.percent / 2),
                    y,
                    lines,
                    VALUE_SIZE,
                    colour=text_colour_on(colour),
                    anchor="middle",
                )
            left += r.percent
    return colour_of


def _legend_canvas(
    c: Canvas, entries: list[str], colour_of: dict, x0: float, top: float, ncols: int
) -> None:
    """Swatches and names below the axis, filled column by column (as matplotlib does)."""
    if not entries:
        return
    em = LEGEND_SIZE
    # matplotlib's split: the first (len % ncols) columns take one entry more.
    per, extra = divmod(len(entries), ncols)
    columns, start = [], 0
    for n in range(ncols):
        stop = start + per + (1 if n < extra else 0)
        columns.append(entries[start:stop])
        start = stop
    x = x0
    for column in columns:
        for n, name in enumerate(column):
            y = top + n * (LEADING + 0.5) * em + LEADING * em / 2
            c.rect(x, y - 0.35 * em, 2 * em, 0.7 * em, colour_of[name])
            c.text(x + 2.8 * em, y + MIDDLE * em, name, em, colour=INK)
        x += 2.8 * em + max(text_width(name, em) for name in column) + 2 * em


# -- static files ---------------------------------------------------------------------------


def save_static(chart: Drawable, out_dir: str | Path) -> list[Path]:
    """Write ``<id>.png`` (150 dpi) and ``<id>.svg`` to ``out_dir``, byte-identical on rerun.

    Both come from one layout (:func:`draw`). The SVG carries the chart's title as its
    ``<title>`` and its alt text as its ``<desc>``, and no date, so unchanged findings
    give unchanged files (clean diffs, reproducible builds).

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
    c = draw(chart)
    png, svg = out / f"{chart.id}.png", out / f"{chart.id}.svg"
    png.write_bytes(c.to_png(PNG_DPI))
    svg.write_text(c.to_svg(chart.title, chart.alt_text), encoding="utf-8")
    return [png, svg]
