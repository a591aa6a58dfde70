"""A small drawing surface for the static charts, written out as SVG and as PNG.

A :class:`Canvas` records rectangles, lines and text in points (1/72 inch, origin at the
top left) and writes them twice from the same geometry: as SVG markup (text kept as
``<text>``, so a chart's words stay searchable, selectable and readable by screen
readers) and as a PNG drawn with Pillow. Text is measured and drawn with DejaVu Sans,
the font matplotlib ships (and the font the charts always used), so the layout the
measurements give is the one both files show.

Why not matplotlib: drawing the report's 32 charts twice through matplotlib (layout,
Agg raster, SVG with text as paths) took about 14 s, most of it spent laying out and
rasterising text glyph by glyph; these charts are a handful of bars, lines and
labels, which Pillow and a string template draw in a small fraction of that
(``bench/charts.py`` measures both). Both outputs are byte-identical on rerun.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

#: SVG font stack: DejaVu Sans first (what the PNG shows), then wide sans-serif fonts.
FONT_FAMILY = "'DejaVu Sans', Verdana, 'Bitstream Vera Sans', Arial, sans-serif"
#: PNG zlib level: level 3 is much faster than the default 6 for files a little larger.
PNG_COMPRESS = 3
Anchor = Literal["start", "middle", "end"]
_PIL_ANCHOR = {"start": "ls", "middle": "ms", "end": "rs"}


def font_file(bold: bool = False) -> Path:
    """DejaVu Sans (bold) from matplotlib's data folder, found without importing matplotlib."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise RuntimeError("matplotlib (which ships the charts' font, DejaVu Sans) is missing")
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / name


@functools.lru_cache(maxsize=64)
def _font(px: float, bold: bool) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_file(bold)), px)


#: Resolution text is measured at; text width scales with size, so any dpi agrees.
MEASURE_DPI = 150


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in points of one line of ``text`` at ``size`` points."""
    scale = MEASURE_DPI / 72
    return _font(size * scale, bold).getlength(text) / scale


@dataclass(frozen=True)
class Rect:
    """A filled rectangle, optionally edged and hatched."""

    x: float
    y: float
    w: float
    h: float
    fill: str
    edge: str | None = None
    edge_width: float = 0.0
    hatch: str | None = None  # colour of "///" hatching over the fill
    z: float = 1.0  # drawing order: lower first (matplotlib's zorder)


@dataclass(frozen=True)
class Line:
    """A straight line."""

    x0: float
    y0: float
    x1: float
    y1: float
    colour: str
    width: float
    z: float = 2.0


@dataclass(frozen=True)
class Text:
    """One line of text."""

    x: float
    y: float  # baseline (of the first line)
    text: str
    size: float
    colour: str
    anchor: Anchor = "start"
    bold: bool = False
    vertical: bool = False  # rotated a quarter turn anticlockwise (an axis title)
    z: float = 3.0


@dataclass(frozen=True)
class Polyline:
    """Connected straight segments through ``points``, solid or dashed."""

    points: tuple[tuple[float, float], ...]
    colour: str
    width: float
    dash: tuple[float, ...] | None = None  # on, off lengths in points, repeated
    z: float = 2.0


@dataclass(frozen=True)
class Dot:
    """A filled circle of radius ``r`` centred at (``x``, ``y``)."""

    x: float
    y: float
    r: float
    fill: str
    z: float = 3.0


Item = Rect | Line | Polyline | Dot | Text


@dataclass
class Canvas:
    """Shapes in points on a ``width`` x ``height`` page (origin top left)."""

    width: float
    height: float
    items: list[Item] = field(default_factory=list)
    #: The page in inches when it was given so: the PNG is then ``int(inches * dpi)``
    #: pixels, as matplotlib sizes it (points times dpi / 72 can round the other way).
    inches: tuple[float, float] | None = None

    def rect(self, x: float, y: float, w: float, h: float, fill: str, **kw: object) -> None:
        """A filled rectangle (``edge``, ``edge_width``, ``hatch`` colour optional)."""
        self.items.append(Rect(x, y, w, h, fill, **kw))  # type: ignore[arg-type]

    def line(
        self, x0: float, y0: float, x1: float, y1: float, colour: str, width: float, z: float = 2
    ) -> None:
        """A straight line ``width`` points wide."""
        self.items.append(Line(x0, y0, x1, y1, colour, width, z))

    def polyline(
        self,
        points: list[tuple[float, float]],
        colour: str,
        width: float,
        dash: tuple[float, ...] | None = None,
        z: float = 2,
    ) -> None:
        """Segments through ``points``, ``width`` points wide, dashed when ``dash`` is given."""
        if len(points) > 1:
            self.items.append(Polyline(tuple(points), colour, width, dash, z))

    def dot(self, x: float, y: float, r: float, fill: str, z: float = 3) -> None:
        """A filled circle (a scatter plot's marker)."""
        self.items.append(Dot(x, y, r, fill, z))

    def ordered(self) -> list[Item]:
        """The items in drawing order: by ``z``, then in the order they were added."""
        return sorted(self.items, key=lambda i: i.z)

    def text(self, x: float, y: float, text: str, size: float, colour: str, **kw: object) -> None:
        """One line of text whose baseline is at ``y`` (``anchor``, ``bold``, ``vertical``)."""
        if text:
            self.items.append(Text(x, y, text, size, colour, **kw))  # type: ignore[arg-type]

    # -- SVG --------------------------------------------------------------------------------

    def to_svg(self, title: str = "", description: str = "") -> str:
        """The drawing as a standalone SVG document (sizes in points)."""
        w, h = _num(self.width), _num(self.height)
        out = [
            '<?xml version="1.0" encoding="utf-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}pt" height="{h}pt" '
            f'viewBox="0 0 {w} {h}" role="img" font-family="{FONT_FAMILY}">\n'
        ]
        if title:
            out.append(f"<title>{escape(title)}</title>\n")
        if description:
            out.append(f"<desc>{escape(description)}</desc>\n")
        hatches = sorted({(i.fill, i.hatch) for i in self.items if isinstance(i, Rect) and i.hatch})
        if hatches:
            out.append("<defs>\n")
            for n, (fill, ink) in enumerate(hatches):
                out.append(
                    f'<pattern id="hatch{n}" width="6" height="6" patternUnits="userSpaceOnUse">'
                    f'<rect width="6" height="6" fill="{fill}"/>'
                    f'<path d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2" stroke="{ink}" '
                    'stroke-width="1"/></pattern>\n'
                )
            out.append("</defs>\n")
        pattern = {pair: f"url(#hatch{n})" for n, pair in enumerate(hatches)}
        out.append(f'<rect width="{w}" height="{h}" fill="#FFFFFF"/>\n')
        for i in self.ordered():
            out.append(_svg_item(i, pattern))
        out.append("</svg>\n")
        return "".join(out)

    # -- PNG --------------------------------------------------------------------------------

    def to_png(self, dpi: float) -> bytes:
        """The drawing as PNG bytes at ``dpi`` (no metadata, so byte-identical on rerun)."""
        s = dpi / 72
        w, h = self.inches or (self.width / 72, self.height / 72)
        img = Image.new("RGB", (int(w * dpi), int(h * dpi)), "#FFFFFF")
        draw = ImageDraw.Draw(img)
        for i in self.ordered():
            if isinstance(i, Rect):
                _png_rect(img, draw, i, s)
            elif isinstance(i, Line):
                width = _px_width(i.width, s)
                draw.line([(i.x0 * s, i.y0 * s), (i.x1 * s, i.y1 * s)], fill=i.colour, width=width)
            elif isinstance(i, Polyline):
                _png_polyline(img, i, s)
            elif isinstance(i, Dot):
                _png_dot(img, i, s)
            else:
                _png_text(img, draw, i, s)
        buf = io.BytesIO()
        img.save(buf, format="png", compress_level=PNG_COMPRESS)
        return buf.getvalue()


def _num(v: float) -> str:
    """A coordinate in SVG: two decimals at most, no trailing zeros."""
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _px_width(points: float, s: float) -> int:
    """A line width in whole pixels, rounded up a little: Pillow's lines are not smoothed."""
    return max(1, round(points * s + 0.25))


def _dashes(pts: list[tuple[float, float]], pattern: list[float]) -> list[list[tuple]]:
    """The "on" runs of a dashed polyline: ``pattern`` (on, off, ...) walked along it."""
    runs: list[list[tuple]] = []
    k, left, on = 0, pattern[0], True
    run = [pts[0]]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        seg = math.hypot(x1 - x0, y1 - y0)
        t = 0.0
        while seg - t > left:
            t += left
            x, y = x0 + (x1 - x0) * t / seg, y0 + (y1 - y0) * t / seg
            if on:
                run.append((x, y))
                runs.append(run)
            run = [(x, y)]
            k = (k + 1) % len(pattern)
            left, on = pattern[k], not on
        left -= seg - t
        if on:
            run.append((x1, y1))
        else:
            run = [(x1, y1)]
    if on and len(run) > 1:
        runs.append(run)
    return runs


def _png_polyline(img: Image.Image, p: Polyline, s: float) -> None:
    """A (dashed) polyline drawn 3x on its own layer and scaled down: smooth curves."""
    k = 3
    xs, ys = [x * s for x, _ in p.points], [y * s for _, y in p.points]
    pad = math.ceil(p.width * s) + 2
    x0, y0 = math.floor(min(xs)) - pad, math.floor(min(ys)) - pad
    w, h = math.ceil(max(xs)) + pad - x0, math.ceil(max(ys)) + pad - y0
    pts = [((x - x0) * k, (y - y0) * k) for x, y in zip(xs, ys, strict=True)]
    runs = _dashes(pts, [d * s * k for d in p.dash]) if p.dash else [pts]
    layer = Image.new("L", (w * k, h * k), 0)
    d = ImageDraw.Draw(layer)
    for run in runs:
        d.line(run, fill=255, width=max(1, round(p.width * s * k)), joint="curve")
    layer = layer.resize((w, h), Image.Resampling.BOX)
    img.paste(p.colour, (x0, y0, x0 + w, y0 + h), layer)


def _png_dot(img: Image.Image, d: Dot, s: float) -> None:
    """A circle drawn 4x on its own layer and scaled down, so its edge is smooth."""
    k = 4
    r = d.r * s
    size = math.ceil(2 * r) + 2
    x0, y0 = round(d.x * s - size / 2), round(d.y * s - size / 2)
    cx, cy = (d.x * s - x0) * k, (d.y * s - y0) * k
    layer = Image.new("L", (size * k, size * k), 0)
    ImageDraw.Draw(layer).ellipse((cx - r * k, cy - r * k, cx + r * k, cy + r * k), fill=255)
    layer = layer.resize((size, size), Image.Resampling.BOX)
    img.paste(d.fill, (x0, y0, x0 + size, y0 + size), layer)


def _svg_item(i: Item, pattern: dict[tuple[str, str | None], str]) -> str:
    if isinstance(i, Rect):
        fill = pattern.get((i.fill, i.hatch), i.fill) if i.hatch else i.fill
        stroke = (
            f' stroke="{i.edge}" stroke-width="{_num(i.edge_width)}"'
            if i.edge and i.edge_width
            else ""
        )
        return (
            f'<rect x="{_num(i.x)}" y="{_num(i.y)}" width="{_num(i.w)}" height="{_num(i.h)}" '
            f'fill="{fill}"{stroke}/>\n'
        )
    if isinstance(i, Polyline):
        pts = " ".join(f"{_num(x)},{_num(y)}" for x, y in i.points)
        dash = f' stroke-dasharray="{" ".join(_num(d) for d in i.dash)}"' if i.dash else ""
        return (
            f'<polyline points="{pts}" fill="none" stroke="{i.colour}" '
            f'stroke-width="{_num(i.width)}"{dash}/>\n'
        )
    if isinstance(i, Dot):
        return f'<circle cx="{_num(i.x)}" cy="{_num(i.y)}" r="{_num(i.r)}" fill="{i.fill}"/>\n'
    if isinstance(i, Line):
        return (
            f'<line x1="{_num(i.x0)}" y1="{_num(i.y0)}" x2="{_num(i.x1)}" y2="{_num(i.y1)}" '
            f'stroke="{i.colour}" stroke-width="{_num(i.width)}"/>\n'
        )
    x, y = _num(i.x), _num(i.y)
    attrs = f'x="{x}" y="{y}" font-size="{_num(i.size)}" fill="{i.colour}"'
    if i.anchor != "start":
        attrs += f' text-anchor="{i.anchor}"'
    if i.bold:
        attrs += ' font-weight="bold"'
    if i.vertical:
        attrs += f' transform="rotate(-90 {x} {y})"'
    return f"<text {attrs}>{escape(i.text)}</text>\n"


def _png_rect(img: Image.Image, draw: ImageDraw.ImageDraw, r: Rect, s: float) -> None:
    box = (round(r.x * s), round(r.y * s), round((r.x + r.w) * s), round((r.y + r.h) * s))
    if box[2] <= box[0] or box[3] <= box[1]:
        return
    draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=r.fill)
    if r.hatch:
        img.paste(_hatch_tile(box[2] - box[0], box[3] - box[1], r.fill, r.hatch, s), box[:2])
    if r.edge and r.edge_width:
        width = _px_width(r.edge_width, s)
        draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), outline=r.edge, width=width)


def _hatch_tile(w: int, h: int, fill: str, ink: str, s: float) -> Image.Image:
    """Diagonal hatching (6 pt apart, as the SVG pattern), drawn 4x and scaled down to smooth it."""
    k = 4
    tile = Image.new("RGB", (w * k, h * k), fill)
    d = ImageDraw.Draw(tile)
    step = 6 * s * k
    x = -float(h * k)
    while x < w * k:
        d.line([(x, h * k), (x + h * k, 0)], fill=ink, width=max(1, round(s * k)))
        x += step
    return tile.resize((w, h), Image.Resampling.BOX)


def _png_text(img: Image.Image, draw: ImageDraw.ImageDraw, t: Text, s: float) -> None:
    font = _font(t.size * s, t.bold)
    if not t.vertical:
        draw.text(
            (t.x * s, t.y * s), t.text, font=font, fill=t.colour, anchor=_PIL_ANCHOR[t.anchor]
        )
        return
    # Rotated text: drawn level on its own layer, turned, and laid on with its coverage.
    left, top, right, bottom = font.getbbox(t.text, anchor="ls")
    layer = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(layer).text((1 - left, 1 - top), t.text, font=font, fill=255, anchor="ls")
    layer = layer.transpose(Image.Transpose.ROTATE_90)
    # After the turn, the baseline's start (at (1-left, 1-top) in the layer) sits here:
    bx, by = 1 - top, layer.height - (1 - left)
    shift = {"start": 0.0, "middle": (right - left) / 2, "end": float(right - left)}[t.anchor]
    x0 = round(t.x * s - bx)
    y0 = round(t.y * s - by + shift)
    img.paste(t.colour, (x0, y0, x0 + layer.width, y0 + layer.height), layer)
