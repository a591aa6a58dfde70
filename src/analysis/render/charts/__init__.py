"""Charts of the findings table, for reports (interactive) and documents (static).

One module per job:

- :mod:`.model`: the :class:`Chart` (words plus a tidy aggregate frame) and its columns;
- :mod:`.style`: palettes, contrast and text helpers shared by both backends;
- :mod:`.words`: the subtitles, alt texts and share phrases every chart carries;
- :mod:`.build`: one builder per chart of the report, :func:`all_charts` and :func:`iter_charts`;
- :mod:`.interactive`: plotly figures (the HTML report, JupyterLab);
- :mod:`.static`: :func:`save_static` (PNG and SVG files, laid out on a :mod:`.canvas`) and
  matplotlib figures;
- :mod:`.funnel`: funnel plots of the cross-organisation aggregate;
- :mod:`.ratings`: the ratings chart (bars in their rating's colour, always labelled).

The names below are the public face callers use (``charts.outcome_summary(...)``,
``charts.save_static(...)``, ``charts.FunnelChart(...)``).
"""

from analysis.render.charts.build import (
    all_charts,
    breakdown_chart,
    comparison_chart,
    data_summary,
    factor_chart,
    iter_charts,
    outcome_summary,
    profile_chart,
)
from analysis.render.charts.funnel import FunnelChart
from analysis.render.charts.model import DATA_COLUMNS, KINDS, Chart
from analysis.render.charts.ratings import RATING_STYLES, RatingsChart, ratings_chart
from analysis.render.charts.static import save_static
from analysis.render.charts.style import OKABE_ITO

__all__ = [
    "DATA_COLUMNS",
    "KINDS",
    "OKABE_ITO",
    "RATING_STYLES",
    "Chart",
    "FunnelChart",
    "RatingsChart",
    "all_charts",
    "breakdown_chart",
    "comparison_chart",
    "data_summary",
    "factor_chart",
    "iter_charts",
    "outcome_summary",
    "profile_chart",
    "ratings_chart",
    "save_static",
]
