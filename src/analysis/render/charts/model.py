"""The :class:`Chart`: words plus a tidy aggregate frame, renderable with plotly or matplotlib.

A chart is one of three shapes, each with one renderer per backend
(:mod:`.interactive`, :mod:`.static`):

- ``bars``: one series of horizontal bars with "n of N" labels
  (outcome scores, data summaries, sample profile);
- ``grouped``: several series of horizontal bars with 95% interval error bars
  (comparisons between groups, the factor table);
- ``stacked``: 100% stacked horizontal bars of answer categories (the report's
  review and oversight pies).

Suppressed cells never reach a chart's data: they are drawn as a gap labelled
``[c]``. Bases under the low-base threshold carry a ``[u]`` (low reliability) label and a
hatched bar.
:func:`record` turns one findings row into one row of a chart's data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis.engine.findings import flag_set, number
from analysis.render import present
from analysis.render.charts.interactive import figure as plotly_figure
from analysis.render.charts.static import figure as matplotlib_figure
from analysis.render.textsafe import safe_filename

if TYPE_CHECKING:  # heavy imports only when a renderer runs
    import plotly.graph_objects as go
    from matplotlib.figure import Figure

KINDS = ("bars", "grouped", "stacked")
#: Columns of every chart's data frame (aggregates only; no case-level column exists).
DATA_COLUMNS = [
    "label",  # bar (category axis) label
    "series",  # legend entry; "" for a single series
    "numerator",
    "denominator",
    "percent",
    "ci_low",
    "ci_high",
    "flags",  # as in the findings table
    "suppressed",  # True: drawn as a gap labelled [c]; numbers are blanked
    "low",  # True: base under the low-base threshold
    "text",  # label drawn on the bar
]


def bar_text(percent: float, n: float, d: float, low: bool) -> str:
    """A bar's label: "63% (50 of 80)", "[u]" appended for a small base; "[z]" for none."""
    if math.isnan(percent):
        return present.Z.symbol
    return present.pct_n_of_n(percent, n, d) + (f" {present.LOW.symbol}" if low else "")


def record(
    row: pd.Series, label: str, series: str = "", force_suppressed: bool = False
) -> dict[str, Any]:
    """One chart-data record from a findings row; suppressed rows lose every number."""
    flags = flag_set(row["flags"])
    suppressed = force_suppressed or present.is_suppressed(flags)
    low = present.is_low(flags)
    values = {
        c: number(row[c]) for c in ("numerator", "denominator", "percent", "ci_low", "ci_high")
    }
    if suppressed:
        values = dict.fromkeys(values, math.nan)
    text = (
        present.C.symbol
        if suppressed
        else bar_text(values["percent"], values["numerator"], values["denominator"], low)
    )
    return {
        "label": label,
        "series": series,
        **values,
        "flags": ";".join(sorted(flags)),
        "suppressed": suppressed,
        "low": low,
        "text": text,
    }


def frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """A chart's data frame from its records, with :data:`DATA_COLUMNS` and stable dtypes."""
    df = pd.DataFrame(list(records), columns=DATA_COLUMNS)
    for c in ("numerator", "denominator", "percent", "ci_low", "ci_high"):
        df[c] = df[c].astype("float64")
    for c in ("suppressed", "low"):
        df[c] = df[c].astype(bool)
    return df.reset_index(drop=True)


def markers_in(data: pd.DataFrame) -> list[present.Marker]:
    """The markers a chart's data shows: [c] gaps, [u] bases, [z] bars with no figure."""
    shown = {
        present.C: data["suppressed"].any(),
        present.LOW: data["low"].any(),
        present.Z: (~data["suppressed"] & data["percent"].isna()).any(),
    }
    return [m for m, on in shown.items() if on]


@dataclass
class Chart:
    """One chart: words plus a tidy aggregate frame, renderable with plotly or matplotlib.

    Attributes
    ----------
    id
        File-safe slug, unique within a report (``data-summary-o4``).
    title
        States the finding ("Protecting the public: 66% of work was done well enough").
    subtitle
        The base ("73 cases inspected; bases vary").
    alt_text
        Full-sentence description with the key numbers, for screen readers.
    kind
        ``bars``, ``grouped`` or ``stacked`` (see the module docstring).
    data
        Aggregates only, with :data:`DATA_COLUMNS`.
    x_title, y_title
        Axis titles.
    intervals
        Draw 95% interval error bars.
    """

    id: str
    title: str
    subtitle: str
    alt_text: str
    kind: str
    data: pd.DataFrame
    x_title: str = "Percentage of relevant cases"
    y_title: str = ""
    intervals: bool = False
    source: str = field(default="Source: case inspection findings table")

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown chart kind {self.kind!r}; expected one of {KINDS}")
        self.id = safe_filename(self.id)

    # -- derived words ----------------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        """Category-axis labels in display order (top to bottom)."""
        return list(dict.fromkeys(self.data["label"]))

    @property
    def series(self) -> list[str]:
        """Legend entries in order."""
        return list(dict.fromkeys(self.data["series"]))

    @property
    def footnote(self) -> str:
        """Explains the markers that appear on this chart (empty when none do)."""
        shown = markers_in(self.data)
        parts = [present.marker_key(shown)] if shown else []
        if self.intervals:
            parts.append("lines show 95% confidence intervals (Wilson)")
        return "; ".join(parts) + ("." if parts else "")

    def to_plotly(self) -> go.Figure:
        """Interactive figure; hovering a bar shows n of N and the 95% interval."""
        return plotly_figure(self)

    def to_matplotlib(self) -> Figure:
        """Static figure in seaborn's whitegrid style (Agg canvas; pyplot is not used)."""
        return matplotlib_figure(self)
