"""Funnel-plot control limits, checked against hand-computed values."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.engine import funnel
from analysis.render.charts import funnel as funnel_charts


def test_z_values():
    assert funnel.Z_95 == pytest.approx(1.96, abs=1e-3)
    assert funnel.Z_998 == pytest.approx(3.090, abs=1e-3)


def test_limits_hand_computed_95():
    # 0.7 +/- 1.96 * sqrt(0.7 * 0.3 / 50) = 0.7 +/- 0.12702 -> 0.5730 .. 0.8270
    lo, hi = funnel.control_limits(0.7, 50, 1.96)
    assert float(lo) == pytest.approx(0.5730, abs=5e-5)
    assert float(hi) == pytest.approx(0.8270, abs=5e-5)


def test_limits_hand_computed_998():
    # 0.7 +/- 3.090 * 0.0648074 = 0.7 +/- 0.20025 -> 0.4997 .. 0.9003
    lo, hi = funnel.control_limits(0.7, 50, 3.090)
    assert float(lo) == pytest.approx(0.4997, abs=5e-5)
    assert float(hi) == pytest.approx(0.9003, abs=5e-5)


def test_limits_narrow_with_n_and_clip():
    lo, hi = funnel.control_limits(0.9, np.array([4, 40, 400]), funnel.Z_998)
    widths = hi - lo
    assert widths[0] > widths[1] > widths[2]
    assert hi[0] == 1.0  # 0.9 + 3.09 * 0.15 > 1: clipped, a proportion cannot exceed 1
    with pytest.raises(ValueError):
        funnel.control_limits(0.5, 0, 1.96)
    with pytest.raises(ValueError):
        funnel.control_limits(1.5, 10, 1.96)


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.70, funnel.WITHIN),
        (0.82, funnel.WITHIN),  # inside 0.8270
        (0.85, funnel.ABOVE_95),  # between 0.8270 and 0.9003
        (0.95, funnel.ABOVE_998),
        (0.55, funnel.BELOW_95),  # between 0.4997 and 0.5730
        (0.45, funnel.BELOW_998),
    ],
)
def test_classify(p, expected):
    assert funnel.classify(p, 50, 0.7) == expected


def _points():
    # pooled: (35 + 20 + 90) / (50 + 40 + 100) = 145 / 190
    return pd.DataFrame(
        {
            "trust": ["a", "b", "c"],
            "numerator": [35, 20, 90],
            "denominator": [50, 40, 100],
            "percent": [70.0, 50.0, 90.0],
        }
    )


def test_build_funnel_pooled_and_positions():
    f = funnel.build_funnel(_points(), measure_id="score_O1", label="O1")
    assert f.p0 == pytest.approx(145 / 190)
    p0 = 145 / 190
    pts = f.points.set_index("trust")
    # b: 0.5 vs p0 0.763 with n=40: z = (0.5 - p0) / sqrt(p0 (1-p0) / 40)
    z_b = (0.5 - p0) / math.sqrt(p0 * (1 - p0) / 40)
    assert pts.loc["b", "z"] == pytest.approx(z_b)
    assert z_b < -funnel.Z_998
    assert pts.loc["b", "position"] == funnel.BELOW_998
    lo, hi = funnel.control_limits(p0, 40, funnel.Z_95)
    assert pts.loc["b", "lower_95"] == pytest.approx(float(lo) * 100)
    assert pts.loc["b", "upper_95"] == pytest.approx(float(hi) * 100)
    assert f.phi == pytest.approx(float(np.mean(f.points["z"] ** 2)))
    assert set(f.outside["trust"]) >= {"b"}
    # curves span the points
    assert f.curves["n"].min() <= 40 and f.curves["n"].max() >= 100


def test_overdispersion_widens_limits():
    plain = funnel.build_funnel(_points())
    wide = funnel.build_funnel(_points(), overdispersion=True)
    assert plain.phi > 1
    assert wide.phi_used == pytest.approx(plain.phi)
    assert (wide.curves["upper_95"] >= plain.curves["upper_95"]).all()


def test_describe_names_outliers_with_care():
    text = funnel.describe(funnel.build_funnel(_points(), label="Assisting sentencing"))
    assert "b" in text and "99.8%" in text
    assert "not proof" in text


def test_describe_all_within():
    pts = pd.DataFrame({"trust": ["a", "b"], "denominator": [50, 50], "percent": [70.0, 72.0]})
    text = funnel.describe(funnel.build_funnel(pts, label="X"))
    assert "within the 95% limits" in text


def test_empty_and_charts(tmp_path):
    empty = funnel.build_funnel(pd.DataFrame({"trust": [], "denominator": [], "percent": []}))
    assert empty.points.empty
    f = funnel.build_funnel(_points(), label="O1")
    fig = funnel_charts.to_plotly(f)
    assert {t.type for t in fig.data} == {"scatter"}  # only what the basic bundle has
    paths = funnel_charts.save_static(f, tmp_path / "funnel_O1")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_static_funnel_words_and_files(tmp_path):
    f = funnel.build_funnel(_points(), label="O1 Assisting", n_basis="cases")
    png, svg = funnel_charts.save_static(f, tmp_path / "funnel_O1")
    text = svg.read_text(encoding="utf-8")
    # pooled 145 / 190 = 76.3%; b (50% of 40) and c (90% of 100) lie outside the limits
    for words in ("O1 Assisting", "Number of cases", "Score (%)", "pooled 76.3%"):
        assert f">{words}<" in text
    assert ">95% limits<" in text and ">99.8% limits<" in text
    assert ">b<" in text and ">c<" in text and ">a<" not in text
    assert text.count("<circle") == 3
    assert "<desc>Funnel plot of 3 organisations' O1 Assisting scores" in text
    from PIL import Image

    assert Image.open(png).size == (1050, 675)  # 7 x 4.5 inches at 150 dpi
    again = funnel_charts.save_static(f, tmp_path / "again")
    assert again[0].read_bytes() == png.read_bytes()
    assert again[1].read_text(encoding="utf-8") == text


def test_static_funnel_does_not_import_matplotlib(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, pandas as pd\n"
        "from analysis.engine import funnel\n"
        "from analysis.render.charts import funnel as fc\n"
        "pts = pd.DataFrame({'trust': ['a', 'b'], 'denominator': [10, 20], "
        "'percent': [50.0, 70.0]})\n"
        f"fc.save_static(funnel.build_funnel(pts), {str(tmp_path / 'f')!r})\n"
        "assert 'matplotlib' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_nice_ticks():
    assert funnel_charts.nice_ticks(28.7, 95.0, 8) == [30, 40, 50, 60, 70, 80, 90]
    assert funnel_charts.nice_ticks(0.0, 1.0, 5) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert funnel_charts.nice_ticks(38.4, 96.0) == [40, 50, 60, 70, 80, 90]
