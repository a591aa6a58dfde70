"""The static chart files (PNG and SVG from one canvas layout): content, size, fit, determinism."""

import dataclasses
import io
import xml.etree.ElementTree as ET

import pytest
from fixtures_findings import fixture_findings, fixture_instrument
from PIL import Image

from analysis.render import charts, present
from analysis.render.charts import Chart, static
from analysis.render.charts.canvas import Canvas, Text, text_width
from analysis.render.charts.model import frame
from analysis.render.charts.style import LABEL_WIDTH, wrap

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def findings():
    return fixture_findings()


@pytest.fixture(scope="module")
def every_chart(findings):
    return charts.all_charts(findings, fixture_instrument())


@pytest.fixture(scope="module")
def written(every_chart, tmp_path_factory):
    out = tmp_path_factory.mktemp("charts")
    return {c.id: (c, *charts.save_static(c, out)) for c in every_chart}


def svg_texts(path):
    root = ET.parse(path).getroot()
    return root, [t.text for t in root.iter(f"{SVG}text")]


def test_every_svg_carries_the_charts_words_and_values(written):
    for chart, _, svg in written.values():
        root, texts = svg_texts(svg)
        assert root.find(f"{SVG}title").text == chart.title
        assert root.find(f"{SVG}desc").text == chart.alt_text
        shown = " ".join(texts)
        # Title and subtitle are wrapped: every word is there, in order.
        assert " ".join(chart.title.split()) in shown
        assert " ".join(chart.subtitle.split()) in shown
        width = 30 if chart.kind == "stacked" else LABEL_WIDTH
        for label in chart.labels:
            for line in wrap(label, width):
                assert line in texts, (chart.id, line)
        if chart.kind != "stacked":
            for text in chart.data["text"]:
                assert text in texts, (chart.id, text)
        if chart.kind == "stacked" or len(chart.series) > 1:
            assert set(chart.series) <= set(texts), chart.id
        for tick in ("0%", "20%", "40%", "60%", "80%", "100%"):
            assert tick in texts
        assert chart.x_title in texts
        if chart.y_title:
            assert chart.y_title in texts
        notes = " ".join(n for n in (chart.footnote, chart.source + ".") if n)
        assert notes in shown


def test_stacked_segments_show_percent_and_count(written):
    stacked = [(c, svg) for c, _, svg in written.values() if c.kind == "stacked"]
    assert stacked
    for chart, svg in stacked:
        _, texts = svg_texts(svg)
        for r in chart.data.itertuples():
            if r.percent >= 6:  # narrower segments carry no label (as before)
                assert present.fmt_pct(r.percent) in texts
                assert f"({int(r.numerator)})" in texts


def test_png_is_the_size_the_matplotlib_figure_was(written):
    # The old renderer is the oracle: same inches at 150 dpi, so documents keep their layout.
    for chart, png, _ in written.values():
        fig = chart.to_matplotlib()
        w, h = fig.get_size_inches() * static.PNG_DPI
        assert Image.open(png).size == (int(w), int(h)), chart.id


def test_every_text_stays_on_the_page(every_chart):
    for chart in every_chart:
        c = static.draw(chart)
        for t in c.items:
            if not isinstance(t, Text) or t.vertical:
                continue
            w = text_width(t.text, t.size, t.bold)
            x0 = {"start": t.x, "middle": t.x - w / 2, "end": t.x - w}[t.anchor]
            assert 0 <= x0 and x0 + w <= c.width, (chart.id, t.text)
            assert t.size <= t.y <= c.height, (chart.id, t.text)


def test_a_long_subtitle_is_wrapped_to_the_room_there_is(every_chart):
    words = " ".join(["WMWMWMWM"] * 11)  # 98 wide letters: 95 to a line overflows 9 inches
    chart = dataclasses.replace(every_chart[0], subtitle=words)
    c = static.draw(chart)
    lines = [t for t in c.items if isinstance(t, Text) and t.text.startswith("WMWM")]
    assert len(lines) >= 2
    assert " ".join(t.text for t in lines) == words
    assert all(t.x + text_width(t.text, t.size) <= c.width for t in lines)


def test_suppressed_bar_is_a_gap_marked_c_and_low_bar_is_hatched(findings, tmp_path):
    c = charts.data_summary(findings, fixture_instrument(), "O4")  # one suppressed bar
    canvas = static.draw(c)
    bars = [i for i in canvas.items if type(i).__name__ == "Rect" and i.fill == "#0072B2"]
    assert len(bars) == 2  # the suppressed bar is not drawn
    assert "[c]" in [t.text for t in canvas.items if isinstance(t, Text)]
    cmp = charts.comparison_chart(findings, "om_grade")
    _, svg = charts.save_static(cmp, tmp_path)
    root, texts = svg_texts(svg)
    assert any(t.endswith("[u]") for t in texts)
    assert root.find(f"{SVG}defs/{SVG}pattern") is not None
    assert any(r.get("fill", "").startswith("url(#hatch") for r in root.iter(f"{SVG}rect"))


def test_files_are_byte_identical_on_rerun(every_chart, tmp_path):
    for c in every_chart:
        first = charts.save_static(c, tmp_path / "a")
        second = charts.save_static(c, tmp_path / "b")
        for p, q in zip(first, second, strict=True):
            assert p.read_bytes() == q.read_bytes(), p.name


def test_canvas_draws_the_same_shapes_in_both_files():
    # A 20 x 10 pt blue box at (10, 5) pt; at 144 dpi (2 px per pt) it covers x 20-59, y 10-29.
    c = Canvas(100, 50)
    c.rect(10, 5, 20, 10, "#0072B2")
    c.text(50, 40, "a < b & c", 10, "#000000")
    img = Image.open(io.BytesIO(c.to_png(144))).convert("RGB")
    assert img.size == (200, 100)
    assert img.getpixel((20, 10)) == img.getpixel((59, 29)) == (0, 0x72, 0xB2)
    assert img.getpixel((19, 10)) == img.getpixel((60, 29)) == (255, 255, 255)
    root = ET.fromstring(c.to_svg())
    rects = [r.attrib for r in root.iter(f"{SVG}rect")]
    assert {"x": "10", "y": "5", "width": "20", "height": "10", "fill": "#0072B2"} in rects
    assert [t.text for t in root.iter(f"{SVG}text")] == ["a < b & c"]  # escaped in the file


def test_dollar_signs_are_drawn_literally(findings, tmp_path):
    f = findings.copy()
    f.loc[f["measure_id"] == "case_type", "category"] = ["Cost $5 and $10", "a_b^c", "{x}"]
    _, svg = charts.save_static(charts.profile_chart(f, "case_type"), tmp_path)
    _, texts = svg_texts(svg)
    assert "Cost $5 and $10" in texts and "a_b^c" in texts and "{x}" in texts


@pytest.mark.parametrize(("kind", "n_series"), [("grouped", 4), ("grouped", 5), ("stacked", 5)])
def test_legends_that_do_not_fill_their_last_row(kind, n_series, tmp_path):
    # 4 groups in 3 columns, 5 in 3 (grouped) or 4 (stacked): matplotlib's split is
    # 2+1+1, 2+2+1 and 2+1+1+1; every name is shown once.
    names = [f"group {i}" for i in range(n_series)]
    pct = 100 / n_series if kind == "stacked" else 50.0
    rows = [
        {"label": "Q", "series": s, "numerator": 5, "denominator": 10, "percent": pct,
         "ci_low": 30.0, "ci_high": 70.0, "flags": "", "suppressed": False, "low": False,
         "text": "50% (5 of 10)"}
        for s in names
    ]  # fmt: skip
    chart = Chart("legend-test", "Title", "Subtitle", "Alt.", kind, frame(rows))
    _, svg = charts.save_static(chart, tmp_path)
    _, texts = svg_texts(svg)
    assert sorted(t for t in texts if t.startswith("group ")) == names


def test_dashed_polyline_runs_follow_the_pattern():
    from analysis.render.charts.canvas import _dashes

    # 3 on, 2 off along a line 10 long: on 0-3, off 3-5, on 5-8, off 8-10
    assert _dashes([(0, 0), (10, 0)], [3, 2]) == [[(0, 0), (3.0, 0.0)], [(5.0, 0.0), (8.0, 0.0)]]
    # the same length round a corner at (6, 0): the second dash turns it
    runs = _dashes([(0, 0), (6, 0), (6, 4)], [3, 2])
    assert runs == [[(0, 0), (3.0, 0.0)], [(5.0, 0.0), (6, 0), (6.0, 2.0)]]


def test_polyline_and_dot_in_svg():
    c = Canvas(100, 50)
    c.polyline([(0, 0), (10, 5)], "#112233", 1.0, dash=(3.7, 1.6))
    c.dot(20, 10, 2.5, "#445566")
    svg = c.to_svg()
    assert '<polyline points="0,0 10,5" fill="none" stroke="#112233" stroke-width="1" ' in svg
    assert 'stroke-dasharray="3.7 1.6"' in svg
    assert '<circle cx="20" cy="10" r="2.5" fill="#445566"/>' in svg
    png = Image.open(io.BytesIO(c.to_png(72)))
    assert png.getpixel((20, 10)) == (0x44, 0x55, 0x66)
