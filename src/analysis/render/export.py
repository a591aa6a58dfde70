"""Export an executed report notebook to ONE self-contained, offline HTML file.

Inspection teams open the report on laptops without internet access, so the
HTML must not fetch anything: a plain ``nbconvert --to html`` run loads
require.js and MathJax from a CDN and shows no plotly chart, and plotly's
``notebook_connected`` renderer loads plotly.js from a CDN. Instead:

- the official partial bundle ``plotly.js-basic-dist-min`` (bar, scatter and pie
  traces only; MIT licence, vendored in ``analysis/assets/``) is inlined ONCE in
  the ``<head>`` by the template ``analysis/templates/analysis_report.html.j2``,
  which replaces nbconvert's head and so drops every CDN script;
- each chart is a ``<figure>`` holding a ``<div>`` and a small inline script
  calling ``Plotly.newPlot`` with the figure JSON (:func:`chart_html`), with
  ``</`` escaped so a user string in the JSON cannot close the script;
- code cells, prompts and streams are left out, and
  ``<meta name="analysis-chart-count">`` records how many charts the page
  should show, so a browser test can check they all rendered.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from markupsafe import Markup

from analysis import config
from analysis.errors import UserError
from analysis.fileio import atomic_path
from analysis.render.html import render

#: The vendored plotly.js bundle (must match the plotly.js plotly.py bundles: 4.1.1 for plotly 7.1).
PLOTLY_JS = config.ASSETS_DIR / "plotly-basic.min.js"
PLOTLY_JS_VERSION = "4.1.1"
#: Trace types the basic bundle registers; a chart with any other type would render blank.
SUPPORTED_TRACES = frozenset({"bar", "scatter", "pie"})
#: The report's stylesheet.
REPORT_CSS = config.ASSETS_DIR / "report.css"
#: The report's chart drawing (narrow layout, value labels fitted), inlined after plotly.js.
CHARTS_JS = config.ASSETS_DIR / "charts.js"
#: Characters per line of a category label in a chart's narrow (phone) layout.
NARROW_LABEL_WIDTH = 44
#: nbconvert template (a single file, so ``templates/*`` package data covers it).
TEMPLATES_DIR = config.TEMPLATES_DIR
TEMPLATE_FILE = "analysis_report.html.j2"
#: Size the report should stay under, and the size it must never exceed (bytes).
TARGET_SIZE = 2 * 1024 * 1024
MAX_SIZE = 6 * 1024 * 1024

#: Longest alt text shown in full as a visible caption (characters).
CAPTION_LIMIT = 700
#: Marker attribute on every chart figure; counted to fill the chart-count meta tag.
CHART_MARKER = "data-analysis-chart"
#: The only URL in the bundle: the default topojson location, used only by geo traces,
#: which the basic bundle does not contain. Blanked so the report names no CDN at all.
_TOPOJSON_DEFAULT = 'dflt:"https://cdn.plot.ly/un/"'

#: Cells with this tag are left out of the exported HTML (notes for whoever edits the notebook).
REPORT_HIDE_TAG = "report-hide"

_ids = itertools.count(1)


class ExportError(UserError):
    """The report could not be exported as a safe, self-contained HTML file."""


@dataclass(frozen=True)
class ExportResult:
    """Where the HTML went, how many charts it holds and its size in bytes."""

    path: Path
    n_charts: int
    size: int


# -- plotly.js --------------------------------------------------------------------------


def plotly_bundle() -> str:
    """The vendored plotly.js basic bundle, checked and made safe to inline in ``<script>``.

    Raises
    ------
    ExportError
        If the file is missing, is not version :data:`PLOTLY_JS_VERSION`, or holds
        text that would end the inline script early.
    """
    try:
        js = PLOTLY_JS.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"vendored plotly.js missing at {PLOTLY_JS}: {exc.strerror}") from None
    if f"v{PLOTLY_JS_VERSION}" not in js[:300]:
        raise ExportError(f"{PLOTLY_JS} is not plotly.js basic v{PLOTLY_JS_VERSION}")
    lowered = js.lower()
    if "</script" in lowered or "<!--" in js:
        raise ExportError(f"{PLOTLY_JS} contains text that would end an inline <script>")
    return js.replace(_TOPOJSON_DEFAULT, 'dflt:""', 1)


# -- charts -------------------------------------------------------------------------------


def figure_json(fig: Any) -> str:
    r"""Figure JSON that is safe inside an inline ``<script>``.

    ``</`` becomes ``<\/`` and ``<!--`` becomes ``<\!--`` (identical once parsed as
    JavaScript), so no LDU or trust name inside the figure can close the script
    element or open an HTML comment.

    Raises
    ------
    ExportError
        If the figure uses a trace type the vendored basic bundle cannot draw.
    """
    import plotly.io as pio

    types = {getattr(t, "type", None) or "scatter" for t in fig.data}
    unsupported = types - SUPPORTED_TRACES
    if unsupported:
        raise ExportError(
            f"chart uses trace types {sorted(unsupported)}, which the offline plotly.js basic "
            f"bundle cannot draw (it has {sorted(SUPPORTED_TRACES)})"
        )
    text = pio.to_json(fig, validate=False, pretty=False, engine="json")
    text = text.replace("</", "<\\/").replace("<!--", "<\\!--")
    # U+2028/2029 are legal in JSON but ended string literals in older JavaScript engines.
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _script_json(value: Any) -> str:
    """JSON safe inside an inline ``<script>`` (as :func:`figure_json` makes the figure)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("</", "<\\/").replace("<!--", "<\\!--")
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _trim_template(fig: Any) -> None:
    """Keep only the template defaults of the trace types the figure uses.

    A plotly template carries defaults for every trace type (about 7 kB per figure);
    the report holds some thirty figures, so this keeps it near the 2 MB target.
    The figure looks the same: the dropped defaults belong to traces it does not have.
    """
    import plotly.graph_objects as go

    tpl = fig.layout.template
    if tpl is None or not tpl.to_plotly_json():
        return
    used = {getattr(t, "type", None) or "scatter" for t in fig.data}
    data = tpl.data.to_plotly_json() or {}
    if set(data) <= used:
        return  # already trimmed (analysis.render.charts.interactive builds them so)
    data = {k: v for k, v in data.items() if k in used}
    fig.layout.template = go.layout.Template(layout=tpl.layout, data=data)


def caption_text(alt_text: str, limit: int = CAPTION_LIMIT) -> str:
    """The visible caption: the alt text, or its first sentence when the alt text is long.

    Alt texts of charts with many bars list every value (tens of kilobytes for a
    comparison by LDU); the full text stays in the figure's ``aria-label`` for screen
    readers, while sighted readers get a short caption and the exact values in
    ``tables.xlsx``.
    """
    if len(alt_text) <= limit:
        return alt_text
    first = alt_text.split(". ")[0].rstrip(".")
    if len(first) > limit:
        first = first[:limit].rsplit(" ", 1)[0] + "…"
    return f"{first}. Every value shown is listed in tables.xlsx."


def reset_chart_ids() -> None:
    """Number charts' DOM ids from 1 again, as in a new process (a kernel kept across reports)."""
    global _ids
    _ids = itertools.count(1)


def _dom_id(chart_id: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", str(chart_id)).strip("-") or "chart"
    return f"chart-{slug}-{next(_ids)}"


def narrow_layout(chart: Any, fig: Any) -> dict[str, Any]:
    """How a chart re-lays out when its plot is narrow (a phone); read by ``assets/charts.js``.

    Bar charts put each category's label above its bars, across the full width, instead
    of beside them (where a phone leaves the bars a sliver): the tick labels are hidden,
    each label becomes an annotation in a gap widened to hold it, and the figure grows by
    those gaps. Text is a little smaller, the percentage axis ticks every 25.
    """
    from analysis.render.charts.style import plotly_text

    layout: dict[str, Any] = {"font": {"size": 11}, "legend": {"font": {"size": 11}}}
    categories = list(fig.layout.yaxis.categoryarray or [])
    labels = list(getattr(chart, "labels", None) or [])
    if getattr(chart, "kind", "") != "stacked" and categories and len(labels) == len(categories):
        margin = fig.layout.margin
        plot = (fig.layout.height or 0) - (margin.t or 0) - (margin.b or 0)
        gap = fig.layout.bargap if fig.layout.bargap is not None else 0.2
        group = plot / len(categories) * (1 - gap)  # the bars of one category (px)
        texts = [plotly_text(lab, NARROW_LABEL_WIDTH) for lab in labels]
        room = 15 * max(t.count("<br>") + 1 for t in texts) + 8  # the label above them
        band = group + room
        notes = [a.to_plotly_json() for a in fig.layout.annotations]
        layout.update(
            height=round(fig.layout.height + len(categories) * room),
            bargap=room / band,
            # Room on the left for half the "0%" tick and the axis title's overhang.
            margin={"l": 28},
            yaxis={"showticklabels": False, "title": {"text": ""}, "automargin": False},
            xaxis={"dtick": 25, "title": {"font": {"size": 11}}},
            annotations=notes
            + [
                {
                    "text": text,
                    "x": 0,
                    "xref": "paper",
                    "xanchor": "left",
                    "y": cat,
                    "yref": "y",
                    "yanchor": "bottom",
                    "yshift": group / 2 + 1,
                    "showarrow": False,
                    "align": "left",
                    "font": {"size": 11.5, "color": "#222222"},
                }
                for cat, text in zip(categories, texts, strict=True)
            ],
        )
    elif fig.layout.showlegend is not False and len(fig.data) > 1:
        # Other charts (the funnels) keep their axes; a legend at the side would take a
        # third of a phone's width, so it goes above the plot, in rows.
        layout.update(
            legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
            margin={"r": 10, "l": 50},
        )
    return {"layout": layout, "text_size": 11}


def chart_html(chart: Any, height: int | None = None) -> str:
    """One chart as a ``<figure>``: visible title, plot div, inline newPlot call, caption.

    Parameters
    ----------
    chart
        An :class:`analysis.render.charts.Chart` (``id``, ``title``, ``alt_text``, ``to_plotly()``).
    height
        Plot height in pixels; the figure's own height when omitted.

    Returns
    -------
    str
        HTML; the figure's ``aria-label`` and caption carry the alt text, so the chart's
        message is available to screen readers and to readers without JavaScript.
    """
    fig = chart.to_plotly()
    # Title, subtitle, footnote and source are shown as HTML around the plot (selectable,
    # printable, readable without JavaScript), so the plot's own copies are dropped with
    # the margins that held them; inside the plot the source note also collided with the
    # axis title.
    notes = [n for n in (getattr(chart, "footnote", ""), getattr(chart, "source", "")) if n]
    note_text = "<br>".join(notes)
    fig.layout.annotations = [
        a for a in fig.layout.annotations if not (a.yref == "paper" and a.text == note_text)
    ]
    margin = fig.layout.margin
    top = 45 if fig.layout.showlegend else 15
    bottom = 55
    saved = max(0, (margin.t or 0) - top) + max(0, (margin.b or 0) - bottom)
    fig.update_layout(title={"text": "", "subtitle": {"text": ""}}, margin={"t": top, "b": bottom})
    if height:
        fig.update_layout(height=height)
    elif fig.layout.height:
        fig.update_layout(height=max(180, fig.layout.height - saved))
    _trim_template(fig)
    dom_id = _dom_id(chart.id)
    payload = figure_json(fig)
    config_js = json.dumps(
        {
            "displaylogo": False,
            "responsive": True,
            # Only "download as PNG": zooming is fixed on these charts anyway.
            "modeBarButtons": [["toImage"]],
        }
    )
    # The figure JSON and the plot config go into a <script>, where HTML escaping would
    # corrupt them: figure_json makes them script-safe instead, so they are passed as markup.
    return render(
        "chart.html.j2",
        marker=Markup(CHART_MARKER),
        chart_id=chart.id,
        alt=chart.alt_text or chart.title,
        title=chart.title,
        subtitle=getattr(chart, "subtitle", ""),
        dom_id=dom_id,
        payload=Markup(payload),
        config_js=Markup(config_js),
        narrow_js=Markup(_script_json(narrow_layout(chart, fig))),
        caption=caption_text(chart.alt_text or chart.title),
        notes=notes,
    )


class ChartOutput:
    """Notebook display object for one chart (rich HTML; a plain-text fallback for nbval)."""

    def __init__(self, chart: Any, height: int | None = None):
        self.chart = chart
        self.height = height

    def _repr_html_(self) -> str:
        return chart_html(self.chart, self.height)

    def __repr__(self) -> str:
        return f"Chart {self.chart.id}: {self.chart.title}"


def show_chart(chart: Any, height: int | None = None) -> None:
    """Display a chart in the report notebook (does nothing for ``None``)."""
    if chart is None:
        return
    from IPython.display import display

    display(ChartOutput(chart, height))


def show_charts(charts: list[Any] | None) -> None:
    """Display several charts in order (nothing for an empty list or None)."""
    for chart in charts or []:
        show_chart(chart)


def show_html(html: str) -> None:
    """Display an HTML fragment built by :mod:`analysis.render.narrative`."""
    from IPython.display import HTML, display

    display(HTML(html))


# -- notebook -> HTML ------------------------------------------------------------------------


def count_charts(nb: Any) -> int:
    """Number of chart figures in a notebook's HTML outputs."""
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html", "")
            if isinstance(html, list):
                html = "".join(html)
            n += html.count(f"{CHART_MARKER}=")
    return n


def exporter() -> Any:
    """An nbconvert HTMLExporter configured for the offline report."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exp = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(TEMPLATES_DIR)],
        template_file=TEMPLATE_FILE,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        embed_images=True,
        # Belt and braces: the template replaces the head, but no URL should survive anyway.
        mathjax_url="",
        require_js_url="",
        mermaid_js_url="",
        widget_renderer_url="",
        jupyter_widgets_base_url="",
    )
    # Cells tagged report-hide (the notebook's notes for developers) stay out of the report.
    exp.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags={REPORT_HIDE_TAG}, enabled=True), enabled=True
    )
    return exp


def check_offline(html: str) -> None:
    """Raise :class:`ExportError` if the HTML would fetch anything from the network."""
    problems = []
    if re.search(r"<script[^>]*\bsrc\s*=", html, flags=re.I):
        problems.append("a <script src=...>")
    if re.search(r"<link[^>]*\bhref\s*=\s*[\"']?https?:", html, flags=re.I):
        problems.append("a <link> to a web address")
    if re.search(r"https?://[^\s\"'<>]*(?:cdn|unpkg|jsdelivr)", html, flags=re.I):
        problems.append("a CDN address")
    if problems:
        raise ExportError("the report HTML is not self-contained: it has " + ", ".join(problems))


def _package_version() -> str:
    """Installed version of the ``analysis`` package, for the page footer.

    Read from the package metadata here, as the provenance record reads it, because the
    render phase never imports the pipeline that writes that record.
    """
    try:
        return metadata.version("analysis")
    except metadata.PackageNotFoundError:
        return "unknown"


def export_html(
    notebook: str | Path, html_path: str | Path, *, title: str = "Inspection report"
) -> ExportResult:
    """Convert an executed report notebook to one offline HTML file.

    Parameters
    ----------
    notebook
        The executed notebook (papermill output).
    html_path
        Where to write the HTML (written to a temporary name, then renamed).
    title
        The HTML ``<title>`` (escaped by the template).

    Returns
    -------
    ExportResult

    Raises
    ------
    ExportError
        If the HTML would load anything from the network, if the number of rendered
        chart figures does not match the notebook's, or if it exceeds :data:`MAX_SIZE`.
    """
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    n_charts = count_charts(nb)
    resources = {
        "analysis_css": REPORT_CSS.read_text(encoding="utf-8"),
        "analysis_plotly_js": plotly_bundle(),
        "analysis_charts_js": CHARTS_JS.read_text(encoding="utf-8"),
        "analysis_chart_count": n_charts,
        "analysis_title": title,
        "analysis_version": _package_version(),
    }
    body, _ = exporter().from_notebook_node(nb, resources=resources)
    # nbconvert re-serialises the page with BeautifulSoup, which sorts attributes; restore
    # the documented form of the chart-count tag so a plain text search finds it.
    body = re.sub(
        r'<meta content="(\d+)" name="analysis-chart-count"\s*/?>',
        r'<meta name="analysis-chart-count" content="\1">',
        body,
        count=1,
    )
    check_offline(body)
    found = len(re.findall(rf"<figure [^>]*{CHART_MARKER}=", body))
    if found != n_charts:
        raise ExportError(f"{n_charts} charts in the notebook but {found} in the HTML")
    data = body.encode("utf-8")
    if len(data) > MAX_SIZE:
        raise ExportError(
            f"the report is {len(data) / 1e6:.1f} MB, over the {MAX_SIZE / 1e6:.0f} MB limit"
        )
    html_path = Path(html_path)
    with atomic_path(html_path) as tmp:
        tmp.write_bytes(data)
    return ExportResult(path=html_path, n_charts=n_charts, size=len(data))
