"""Offline, self-contained HTML export (analysis.render.export)."""

from __future__ import annotations

import json
import re

import nbformat
import plotly.graph_objects as go
import pytest
from fixtures_findings import fixture_findings, fixture_instrument
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from analysis.render import charts, export
from analysis.render.export import ExportError
from analysis.render.textsafe import escape_html

XSS = "</script><script>alert(1)</script>"


@pytest.fixture(scope="module")
def all_charts():
    return charts.all_charts(fixture_findings(), fixture_instrument())


def test_vendored_bundle_is_plotly_basic_4_1_1_with_licence():
    js = export.plotly_bundle()
    assert "plotly.js (basic - minified) v4.1.1" in js[:200]
    assert "cdn" not in js.lower()
    assert "</script" not in js.lower()
    assert (export.config.ASSETS_DIR / "plotly-basic.LICENSE").read_text().startswith("MIT")
    # The plotly.js version plotly.py bundles: the vendored one must be the same.
    import plotly

    assert plotly.__version__.startswith("7.1")


def test_bundle_registers_exactly_bar_pie_scatter():
    js = export.PLOTLY_JS.read_text(encoding="utf-8")
    registered = set(re.findall(r'moduleType:"trace",name:"(\w+)"', js))
    assert registered == set(export.SUPPORTED_TRACES)


def test_every_chart_uses_supported_traces_only(all_charts):
    assert all_charts
    for chart in all_charts:
        types = {t.type or "scatter" for t in chart.to_plotly().data}
        assert types <= export.SUPPORTED_TRACES, (chart.id, types)


def test_figure_json_cannot_close_the_script():
    fig = go.Figure(go.Bar(x=[1], y=[XSS], name=XSS))
    text = export.figure_json(fig)
    assert "</" not in text and "<!--" not in text


def test_unsupported_trace_type_is_refused():
    with pytest.raises(ExportError, match="heatmap"):
        export.figure_json(go.Figure(go.Heatmap(z=[[1, 2]])))


def test_chart_html_is_an_accessible_figure(all_charts):
    chart = all_charts[0]
    html = export.chart_html(chart)
    assert html.startswith('<figure class="chart" data-analysis-chart=')
    assert f'aria-label="{escape_html(chart.alt_text)}"' in html
    assert "<figcaption>" in html and "Plotly.newPlot" in html
    assert escape_html(chart.title) in html
    # The title is shown once, as HTML, not again inside the plot.
    payload = re.search(r"var fig=(\{.*?\});var el=", html).group(1)
    assert json.loads(payload)["layout"]["title"]["text"] == ""


def test_chart_html_escapes_hostile_words(all_charts):
    chart = all_charts[0]
    chart.title = XSS
    chart.alt_text = XSS
    html = export.chart_html(chart)
    assert "<script>alert(1)" not in html
    assert html.count("</script>") == 1  # only the chart's own script ends


def test_long_alt_text_gets_a_short_caption():
    long = "Chart of many bars. " + "LDU x: 50% (1 of 2). " * 200
    caption = export.caption_text(long)
    assert caption.startswith("Chart of many bars.") and len(caption) < 200
    assert export.caption_text("Short.") == "Short."


def test_check_offline_refuses_network_references():
    export.check_offline("<html><script>var x=1;</script></html>")
    for bad in (
        '<script src="https://cdn.example/x.js"></script>',
        '<link rel="stylesheet" href="https://fonts.example/x.css">',
        "<p>https://cdn.jsdelivr.net/npm/x</p>",
    ):
        with pytest.raises(ExportError):
            export.check_offline(bad)


def _notebook(chart_html: str) -> nbformat.NotebookNode:
    hidden = new_markdown_cell("DEVELOPER NOTES")
    hidden.metadata["tags"] = [export.REPORT_HIDE_TAG]
    cell = new_code_cell("SECRET_SOURCE = 1\nprint('stream text')")
    cell.outputs = [
        new_output("stream", name="stdout", text="STREAM TEXT\n"),
        new_output("display_data", data={"text/html": chart_html, "text/plain": "chart"}),
    ]
    return new_notebook(cells=[hidden, new_markdown_cell("# Heading"), cell])


def test_export_html_is_self_contained(tmp_path, all_charts):
    nb = _notebook(export.chart_html(all_charts[0]) + export.chart_html(all_charts[1]))
    src = tmp_path / "report.ipynb"
    nbformat.write(nb, src)
    res = export.export_html(src, tmp_path / "report.html", title="T <b>")
    html = res.path.read_text(encoding="utf-8")
    assert res.n_charts == 2
    assert '<meta name="analysis-chart-count" content="2">' in html
    assert '<script src="http' not in html and "cdn" not in html.lower()
    page = html.replace(export.plotly_bundle(), "")  # the bundle mentions MathJax, unused
    # No RequireJS call or config (a CSS class such as .rating-requires_improvement may say
    # the word) and no MathJax.
    assert not re.search(r"\brequire(js)?\s*[(.\[]", page, re.I) and "mathjax" not in page.lower()
    assert html.count("plotly.js (basic - minified) v4.1.1") == 1  # inlined once
    assert "SECRET_SOURCE" not in html  # no code cells
    assert "STREAM TEXT" not in html  # no streams
    assert "DEVELOPER NOTES" not in html  # report-hide cells removed
    assert "In&nbsp;[" not in html and "Out[" not in html  # no prompts
    assert "<title>T &lt;b&gt;</title>" in html
    assert res.size < export.MAX_SIZE
    assert not list(tmp_path.glob("*.tmp"))


def test_export_html_fails_on_oversize(tmp_path, all_charts, monkeypatch):
    nb = _notebook(export.chart_html(all_charts[0]))
    nbformat.write(nb, tmp_path / "r.ipynb")
    monkeypatch.setattr(export, "MAX_SIZE", 1000)
    with pytest.raises(ExportError, match="MB limit"):
        export.export_html(tmp_path / "r.ipynb", tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_narrow_layout_puts_each_label_above_its_bars(all_charts):
    chart = next(c for c in all_charts if c.id == "comparison-om_grade")
    fig = chart.to_plotly()
    narrow = export.narrow_layout(chart, fig)["layout"]
    categories = list(fig.layout.yaxis.categoryarray)
    labels = [a for a in narrow["annotations"] if a.get("yref") == "y"]
    # One label per category, at that category, left-aligned across the plot's width.
    assert [a["y"] for a in labels] == categories
    assert all(a["xref"] == "paper" and a["x"] == 0 for a in labels)
    assert narrow["yaxis"]["showticklabels"] is False
    # The gaps grow to hold the labels, so the chart grows by them too.
    assert narrow["bargap"] > fig.layout.bargap
    assert narrow["height"] > fig.layout.height
    # Wrapped at the narrow width: no line longer than NARROW_LABEL_WIDTH characters.
    lines = [line for a in labels for line in a["text"].split("<br>")]
    assert max(len(line) for line in lines) <= export.NARROW_LABEL_WIDTH


def test_narrow_layout_is_in_the_chart_script(all_charts):
    html = export.chart_html(all_charts[0])
    assert "window.analysisChart(el,fig,cfg," in html
    assert '"text_size":11' in html


def test_stacked_chart_keeps_its_axis_when_narrow(all_charts):
    chart = next(c for c in all_charts if c.kind == "stacked")
    narrow = export.narrow_layout(chart, chart.to_plotly())["layout"]
    assert "yaxis" not in narrow and "annotations" not in narrow
