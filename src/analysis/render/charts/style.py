"""The look shared by both chart backends: palettes, contrast, wrapping and text escaping.

Colours come from the Okabe-Ito palette, which stays distinguishable with the common
colour-vision deficiencies. This module sits below the plotly and matplotlib renderers
(:mod:`.interactive`, :mod:`.static`), which in turn sit below the
:class:`~analysis.render.charts.model.Chart` that calls them: they read a chart through
:class:`Drawable`, so they never import the model.
"""

from __future__ import annotations

import textwrap
from typing import Protocol

import pandas as pd

from analysis.render.textsafe import escape_html

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Series colours in order of use; yellow is last because it is faint on white.
SERIES_COLOURS = [
    OKABE_ITO[k]
    for k in ("blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue", "black")
] + [OKABE_ITO["yellow"]]
#: Segment colours of stacked bars: neighbours differ in hue and lightness.
STACK_COLOURS = [
    OKABE_ITO[k]
    for k in ("blue", "sky_blue", "orange", "vermillion", "reddish_purple", "bluish_green")
] + [OKABE_ITO["yellow"], "#999999"]


class Drawable(Protocol):
    """What a renderer reads from a chart (:class:`~analysis.render.charts.model.Chart`)."""

    id: str
    title: str
    subtitle: str
    alt_text: str
    kind: str
    data: pd.DataFrame
    x_title: str
    y_title: str
    intervals: bool
    source: str

    @property
    def labels(self) -> list[str]:
        """Category-axis labels, top to bottom."""

    @property
    def series(self) -> list[str]:
        """Legend entries in order."""

    @property
    def footnote(self) -> str:
        """The key to the markers drawn."""


#: Characters per line of a category label, and of a title.
LABEL_WIDTH = 38
TITLE_WIDTH = 80


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def text_colour_on(hex_colour: str) -> str:
    """Black or white, whichever contrasts more with ``hex_colour`` (WCAG formula)."""
    lum = _luminance(hex_colour)
    return "#FFFFFF" if 1.05 / (lum + 0.05) > (lum + 0.05) / 0.05 else "#000000"


def wrap(text: str, width: int = LABEL_WIDTH) -> list[str]:
    """``text`` as lines of at most ``width`` characters (one empty line for empty text)."""
    return textwrap.wrap(str(text), width=width, break_long_words=True) or [""]


def plotly_text(text: str, width: int | None = None) -> str:
    """Text for plotly: escaped, because plotly.js reads its strings as (a subset of) HTML.

    Only ``& < >`` are escaped: plotly.js decodes those entities but shows ``&quot;``
    literally, and quotes cannot open markup in text content anyway. With ``width`` the
    text is wrapped into ``<br>``-separated lines.
    """
    if width is None:
        return escape_html(text, quote=False)
    return "<br>".join(escape_html(line, quote=False) for line in wrap(text, width))


def mpl_text(text: str) -> str:
    """Text for matplotlib: a literal ``$`` must not switch on mathtext."""
    return str(text).replace("$", r"\$")
