"""The ratings chart (analysis.render.charts.ratings): bars in their rating's colour, labelled.

Hand-made rating rows of a probation unit (the 2023 standards' bands: Inadequate under
50%, Requires improvement 50-64%, Good 65-79%, Outstanding 80% and over).
"""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from analysis import config
from analysis.engine.findings import conform
from analysis.instrument import load_instrument
from analysis.render import charts
from analysis.render.charts import canvas as cv
from analysis.render.charts.ratings import (
    EDGE,
    NOT_RATED_STYLE,
    RATING_STYLES,
    rating_style,
    ratings_chart,
)


@pytest.fixture(scope="module")
def probation():
    return load_instrument(config.INSTRUMENTS_DIR / "hmip-probation-2023.yaml")


def _findings(flags: str = "") -> pd.DataFrame:
    rows = [
        # 35 of 50 = 70%: Good; 1 resample in 5 rated otherwise.
        dict(kind="rating", measure_id="rating_2.1", label="Assessment", category="Good",
             numerator=35, denominator=50, percent=70.0, ci_low=56.25, ci_high=80.93,
             p_different=0.2, flags=flags),
        # 20 of 50 = 40%: Inadequate; 0.4% of resamples rated otherwise (rounds to 0%).
        dict(kind="rating", measure_id="rating_2.2", label="Planning", category="Inadequate",
             numerator=20, denominator=50, percent=40.0, ci_low=27.63, ci_high=53.82,
             p_different=0.004),
        # No relevant case: not rated, no bar.
        dict(kind="rating", measure_id="rating_2.3", label="Implementation and delivery",
             category="", method="not rated"),
        dict(kind="sample", measure_id="n_cases", label="Cases inspected", numerator=50),
    ]  # fmt: skip
    return conform(pd.DataFrame(rows).assign(trust="wrenfield"))


def test_every_bar_carries_its_rating_in_words(probation):
    chart = ratings_chart(_findings(), probation)
    assert list(chart.data["label"]) == [
        "Assessment – Good",
        "Planning – Inadequate",
        "Implementation and delivery – Not rated",
    ]
    assert chart.ratings == ["good", "inadequate", ""]
    assert list(chart.data["text"][:2]) == ["70% (35 of 50)", "40% (20 of 50)"]
    assert math.isnan(chart.data["percent"][2])
    # Highest rating first, then what was not rated.
    assert chart.title == "3 standards judged from the cases: 1 Good, 1 Inadequate, 1 not rated"
    assert chart.subtitle.startswith("50 cases inspected; bands: Inadequate under 50%; ")
    assert "Good 65% or more and under 80%; Outstanding 80% or more" in chart.subtitle
    assert "Assessment – Good, 70% (35 of 50), chance of a different rating 20%" in chart.alt_text
    assert chart.limits == [50.0, 65.0, 80.0]
    # Probation rates no standard by inspectors and has no overall rating: nothing elsewhere.
    assert chart.source == "Source: case inspection findings table"


def test_interactive_bars_take_the_ratings_colours_and_the_band_limits(probation):
    fig = ratings_chart(_findings(), probation).to_plotly()
    [bars] = [t for t in fig.data if t.type == "bar"]
    assert list(bars.marker.color) == ["#cce2d8", "#a8231a", "#f3f2f1"]
    assert bars.marker.line.color == EDGE
    assert [c[3] for c in bars.customdata] == ["20%", "0%", "not available"]
    assert list(fig.layout.xaxis.tickvals) == [0, 50, 65, 80, 100]
    assert list(fig.layout.xaxis.ticktext) == ["0%", "50%", "65%", "80%", "100%"]
    assert sorted(s.x0 for s in fig.layout.shapes) == [50, 65, 80]
    # The rating's words are on the category axis, beside (or, on a phone, above) each bar.
    assert "Assessment – Good" in fig.layout.yaxis.categoryarray


def test_static_bars_take_the_same_colours(probation, tmp_path):
    chart = ratings_chart(_findings(), probation)
    c = chart.draw()
    fills = [i.fill for i in c.items if isinstance(i, cv.Rect) and i.edge == EDGE]
    assert fills == ["#cce2d8", "#a8231a"]  # the unrated standard has no bar
    dashed = [i for i in c.items if isinstance(i, cv.Polyline) and i.dash]
    assert len(dashed) == 3
    xs = sorted(p.points[0][0] for p in dashed)
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1])  # 50 to 65 and 65 to 80
    png, svg = chart.save_static(tmp_path)
    assert png.read_bytes()[:4] == b"\x89PNG"
    text = svg.read_text(encoding="utf-8")
    assert "Assessment – Good" in text and "Planning – Inadequate" in text
    assert chart.save_static(tmp_path / "again")[1].read_bytes() == svg.read_bytes()


def test_a_suppressed_rating_keeps_its_words_but_loses_its_numbers(probation):
    chart = ratings_chart(_findings(flags="c"), probation)
    first = chart.data.iloc[0]
    assert first["label"] == "Assessment – Good" and first["text"] == "[c]"
    assert math.isnan(first["percent"]) and math.isnan(first["numerator"])
    assert "Assessment – Good, suppressed [c]" in chart.alt_text
    assert len([i for i in chart.draw().items if isinstance(i, cv.Rect) and i.edge == EDGE]) == 1


def test_no_chart_without_ratings_rated_from_cases(probation):
    youth = load_instrument(config.INSTRUMENTS_DIR / "hmip-youth-2021.yaml")
    only_inspectors = conform(
        pd.DataFrame(
            [dict(kind="rating", measure_id="rating_1.1", label="Staff", category="Good")]
        ).assign(trust="x")
    )
    assert ratings_chart(only_inspectors, youth) is None
    court = dict(kind="rating", measure_id="rating_2.1", label="Court disposals: assessment",
                 category="Good", numerator=35, denominator=50, percent=70.0)  # fmt: skip
    chart = ratings_chart(conform(pd.DataFrame([court]).assign(trust="x")), youth)
    assert chart.source == (
        "Source: case inspection findings table; standards rated by inspectors and the "
        "overall rating are in the ratings table"
    )
    no_rows = _findings()
    assert ratings_chart(no_rows[no_rows["kind"] != "rating"], probation) is None


def test_the_colours_are_the_report_tables(probation):
    """The chart's palette is the one the HTML ratings table's CSS classes use."""
    css = (config.ASSETS_DIR / "report.css").read_text(encoding="utf-8")
    found = dict(
        (m[0], (m[1].lower(), m[2].lower()))
        for m in re.findall(r"\.rating-(\w+) \{ background: (#\w+); color: (#\w+); \}", css)
    )
    assert found == {**RATING_STYLES, "none": NOT_RATED_STYLE}
    assert rating_style("unheard_of") == NOT_RATED_STYLE == rating_style(None)
    assert charts.RATING_STYLES is RATING_STYLES


def test_matplotlib_bars_take_the_same_colours(probation):
    from matplotlib.colors import to_hex

    ax = ratings_chart(_findings(), probation).to_matplotlib().axes[0]
    # 70% Good, 40% Inadequate; the unrated standard has no bar.
    assert [(to_hex(p.get_facecolor()), p.get_width()) for p in ax.patches] == [
        ("#cce2d8", 70.0),
        ("#a8231a", 40.0),
    ]
    assert sorted(line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--") == [
        50,
        65,
        80,
    ]
