"""Charts drawn directly: a canvas of lines, bars, markers and text, written as SVG text and as a PNG.

The report's charts are a few axes, bars, points, intervals and words: they need no plotting library.
A chart is laid out once in points (1/72 inch, from the top left) on a :class:`Canvas`, its words measured
with the typeface its PNG is drawn with (DejaVu Sans, the copy matplotlib ships, so every machine measures
the same widths, as :mod:`advance_trial.output.render.flow` does), and written twice:

- as SVG whose text stays text (searchable, read aloud, checked for ids), with no ids, no dates and no
  software stamp;
- as an RGB PNG drawn by Pillow at :data:`DPI` dots per inch, its shapes drawn at twice the resolution and
  halved (smooth edges), its words drawn by FreeType at the resolution itself; zlib level 1, nothing in its
  header but the resolution.

The same chart gives the same bytes on every run of the same versions. The helpers here are what the
charts share: round ticks on a linear or a log axis (:func:`nice_ticks`, :func:`log_ticks`), an axis with
its ticks, tick labels and label (:func:`x_axis`, :func:`y_axis`), a legend (:func:`legend`) and wrapped
text (:func:`wrap`).
"""

from __future__ import annotations

import functools
import html
import io
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

#: Points per inch, the dots per inch the PNG is drawn at, and the width charts are drawn at (inches: the
#: report's text width).
PT, DPI, WIDTH = 72.0, 150, 6.3
#: DejaVu Sans rises 0.928 of its size above the baseline and falls 0.236 below it.
RISE, FALL = 0.928, 0.236
#: A line of text's height, as a multiple of its size.
LEADING = 1.2
#: The shapes' supersampling factor in the PNG.
SS = 2
FAMILY = "DejaVu Sans, Bitstream Vera Sans, sans-serif"
#: Colours: matplotlib's first ten (the figures' cycle), and the report's blue.
CYCLE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
         "#17becf")  # fmt: skip
BLUE = "#1f4e79"
#: Dashes (on, off, in points): matplotlib's ``--`` and ``:`` at a line width of 0.8 to 0.9 points.
DASHED, DOTTED = (3.0, 1.3), (0.9, 1.5)
TICK, TICK_PAD, LABEL_PAD = 3.5, 3.5, 4.0  # points


def font_file(bold: bool = False) -> str:
    """The path of DejaVu Sans (bold or regular) in matplotlib's data (found without importing it)."""
    from importlib.util import find_spec

    spec = find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - matplotlib is a dependency
        raise RuntimeError("matplotlib is not installed")
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return str(Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf" / name)


@functools.lru_cache(maxsize=16)
def font(size: float, bold: bool = False) -> Any:
    """The typeface at ``size`` points, for drawing at :data:`DPI` (loaded once per process)."""
    from PIL import ImageFont

    return ImageFont.truetype(font_file(bold), size * DPI / PT, layout_engine=ImageFont.Layout.BASIC)


def text_width(text: str, size: float, bold: bool = False) -> float:
    """``text``'s advance width in points."""
    return float(font(size, bold).getlength(text)) * PT / DPI


def wrap(text: str, width: int) -> list[str]:
    """``text`` wrapped at ``width`` characters (itself if it has no words)."""
    return textwrap.wrap(text, width) or [text]


def fit(text: str, size: float, most: float, bold: bool = False) -> str:
    """``text`` broken between words into lines (joined by newlines) of at most ``most`` points each (a
    word wider than that stays whole on its line)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and text_width(f"{lines[-1]} {word}", size, bold) <= most:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return "\n".join(lines)


def centred(x: float, text: str, size: float, width: float, margin: float = 4.0) -> float:
    """The centre nearest ``x`` at which ``text`` lies within a canvas ``width`` points wide."""
    half = text_width(text, size) / 2
    return min(max(x, margin + half), width - margin - half) if 2 * half < width - 2 * margin else width / 2


def fmt(v: float) -> str:
    """A coordinate in the SVG: at most two decimals."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


# ---------------------------------------------------------------------------------------------------- ticks


def nice_ticks(lo: float, hi: float, most: int = 8, integer: bool = False) -> list[float]:
    """Round ticks from ``lo`` to ``hi`` (1, 2, 2.5 or 5 times a power of ten apart), at most ``most``;
    whole numbers only if ``integer`` (counts of men)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    base = 10.0 ** math.floor(math.log10((hi - lo) / most))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0, 20.0):
        step = m * base
        if integer and (step < 1 or step != int(step)):
            continue
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        if last - first + 1 <= most:
            return [round(k * step, 12) + 0.0 for k in range(first, last + 1)]
    return [lo, hi]  # pragma: no cover - a step of 20 times the base always fits


def tick_labels(ticks: list[float]) -> list[str]:
    """Tick labels with the fewest decimals that tell them apart, negative numbers with a minus sign."""
    decimals = 0
    while decimals < 6 and len({f"{t:.{decimals}f}" for t in ticks}) < len(ticks):
        decimals += 1
    if len(ticks) > 1:
        step = min(b - a for a, b in zip(ticks, ticks[1:], strict=False))
        while decimals < 6 and abs(round(step, decimals) - step) > 1e-9 * max(1.0, abs(step)):
            decimals += 1
    out = [f"{t:.{decimals}f}" for t in ticks]
    return [(s.lstrip("-") if float(s) == 0 else s).replace("-", "\u2212") for s in out]


#: A log axis's candidate ticks: 1, and doubling or halving at 2, 4 and 10 a decade (ratios read as such).
_LOG = (1.0, 2.0, 4.0)


def log_ticks(lo: float, hi: float, most: int = 8) -> list[float]:
    """Round ticks on a log axis from ``lo`` to ``hi`` (both positive): 0.25, 0.5, 1, 2, 4, 10, 20 ...
    (halves and doubles, and the powers of ten); only the powers of ten where those are too many."""
    if not (lo > 0 and hi > lo and math.isfinite(hi)):
        return []
    e0, e1 = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
    ups = sorted({round(m * 10.0**e, 12) for e in range(max(e0, 0), e1 + 1) for m in _LOG} | {1.0})
    downs = sorted({round(1 / t, 12) for t in ups} | {round(10.0**e, 12) for e in range(e0, 1)})
    within = [t for t in sorted(set(ups) | set(downs)) if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
    if len(within) > most:
        within = [t for t in within if math.log10(t) == round(math.log10(t))]
    if len(within) > most:
        every = math.ceil(len(within) / most)
        within = [t for t in within if round(math.log10(t)) % every == 0]
    return within


def log_labels(ticks: list[float]) -> list[str]:
    return [f"{t:g}" for t in ticks]


@dataclass(frozen=True)
class Scale:
    """Data from ``lo`` to ``hi`` drawn from ``start`` to ``end`` points (a log scale if ``log``)."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = False

    def __call__(self, v: float) -> float:
        if self.log:
            a, b, v = math.log(self.lo), math.log(self.hi), math.log(v)
        else:
            a, b = self.lo, self.hi
        return self.start + (v - a) / ((b - a) or 1.0) * (self.end - self.start)

    def clipped(self, v: float) -> float:
        """Where ``v`` is drawn, held within the scale (an interval's infinite or, on a log scale, zero
        limit is drawn to the axis's end)."""
        if v != v:
            return self(self.lo)
        return self(min(max(v, self.lo), self.hi))


def limits(values: list[float], log: bool = False, margin: float = 0.05) -> tuple[float, float]:
    """The data's range widened by ``margin`` of it at each end (in logs on a log axis)."""
    vals = [math.log(v) if log else v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not vals:
        return (0.5, 2.0) if log else (0.0, 1.0)
    lo, hi = min(vals), max(vals)
    pad = margin * (hi - lo) if hi > lo else (abs(lo) * 0.05 or 0.5)
    lo, hi = lo - pad, hi + pad
    return (math.exp(lo), math.exp(hi)) if log else (lo, hi)


# ---------------------------------------------------------------------------------------------------- colours

#: ColorBrewer's yellow-orange-red in nine steps (matplotlib's "YlOrRd"): a heat map's scale, light to dark.
YLORRD = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026")


def colour_at(share: float, stops: tuple[str, ...] = YLORRD) -> str:
    """The colour ``share`` (0 to 1) of the way along evenly spaced ``stops``, mixed linearly between the two
    it falls between."""
    at = min(max(share, 0.0), 1.0) * (len(stops) - 1)
    k = min(int(at), len(stops) - 2)
    a, b, f = _rgb(stops[k]), _rgb(stops[k + 1]), at - k
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b, strict=True))


def colour_scale(values: list[float], stops: tuple[str, ...] = YLORRD) -> list[str | None]:
    """Each value's colour, the least of the values at the first stop and the greatest at the last (as
    matplotlib scales an image); ``None`` for a missing value (drawn as the ground)."""
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    return [colour_at((v - lo) / (hi - lo) if hi > lo else 0.0, stops) if math.isfinite(v) else None for v in values]


def luminance(colour: str) -> float:
    """A colour's relative luminance (WCAG 2: 0 for black, 1 for white)."""
    lin = [c / 255 / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in _rgb(colour)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """The contrast ratio of two colours (WCAG 2: 1 to 21; text needs 4.5)."""
    la, lb = sorted((luminance(a), luminance(b)))
    return (lb + 0.05) / (la + 0.05)


def ink_on(ground: str) -> str:
    """Black or white, whichever reads better on ``ground`` (at least 4.58 to 1 on any colour)."""
    return "#ffffff" if contrast("#ffffff", ground) > contrast("#000000", ground) else "#000000"


# ---------------------------------------------------------------------------------------------------- canvas

Anchor = Literal["start", "middle", "end"]


@dataclass(frozen=True)
class Text:
    """One line of text with its baseline's anchor at ``(x, y)``; ``role`` says what it is (never drawn)."""

    x: float
    y: float
    words: str
    size: float
    anchor: Anchor = "start"
    bold: bool = False
    colour: str = "#000000"
    angle: float = 0.0  # turned anticlockwise about its anchor, degrees (90: read upwards)
    role: str = ""


@dataclass(frozen=True)
class Shape:
    """A polyline (``kind`` "line"), a filled polygon (``"poly"``), a rectangle (``"rect"``: two corners), or a
    marker (``"o"``, ``"s"``: its centre, ``size`` its width)."""

    kind: str
    points: tuple[tuple[float, float], ...]
    stroke: str | None = None
    width: float = 0.0
    fill: str | None = None
    dash: tuple[float, float] | None = None
    size: float = 0.0


@dataclass
class Canvas:
    """A chart ``width`` by ``height`` points, titled ``title`` (the SVG's title), and what is drawn on it,
    in drawing order; ``scales`` holds each axis drawn (for its tests)."""

    width: float
    height: float
    title: str
    items: list[Text | Shape] = field(default_factory=list)
    scales: list[tuple[str, Scale]] = field(default_factory=list)

    def line(self, points: list[tuple[float, float]], colour: str = "#000000", width: float = 0.8,
             dash: tuple[float, float] | None = None) -> None:  # fmt: skip
        self.items.append(Shape("line", tuple(points), colour, width, None, dash))

    def rect(self, x0: float, y0: float, x1: float, y1: float, fill: str, edge: str | None = None,
             width: float = 0.0) -> None:  # fmt: skip
        self.items.append(Shape("rect", ((min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))), edge, width, fill))

    def polygon(self, points: list[tuple[float, float]], fill: str) -> None:
        """A filled polygon (a band between two lines: one line there and the other back), no edge."""
        self.items.append(Shape("poly", tuple(points), None, 0.0, fill))

    def marker(self, x: float, y: float, kind: str, size: float, colour: str, face: str | None = None) -> None:
        self.items.append(Shape(kind, ((x, y),), colour, 1.0, face or colour, None, size))

    def text(self, x: float, y: float, lines: str | list[str], size: float, anchor: Anchor = "start",
             valign: Literal["baseline", "middle", "top", "bottom"] = "baseline", bold: bool = False,
             colour: str = "#000000", role: str = "") -> float:  # fmt: skip
        """Lines of text at ``(x, y)``, aligned on ``y`` by their first baseline, their middle, top or
        bottom; returns their height."""
        rows = [lines] if isinstance(lines, str) else lines
        step = LEADING * size
        height = (len(rows) - 1) * step + (RISE + FALL) * size
        first = {"baseline": y, "top": y + RISE * size, "middle": y - height / 2 + RISE * size,
                 "bottom": y - height + RISE * size}[valign]  # fmt: skip
        for i, row in enumerate(rows):
            self.items.append(Text(x, first + i * step, row, size, anchor, bold, colour, False, role))
        return height

    def upright(self, x: float, y: float, words: str, size: float, colour: str = "#000000", role: str = "",
                anchor: Anchor = "middle") -> None:  # fmt: skip
        """``words`` read upwards, their baseline at ``x``, centred on ``y`` (or starting at ``y``, with
        ``anchor`` "start"; ending there, with "end")."""
        self.items.append(Text(x, y, words, size, anchor, False, colour, 90.0, role))

    def turned(self, x: float, y: float, words: str, size: float, angle: float, role: str = "") -> None:
        """``words`` turned ``angle`` degrees anticlockwise, the top right corner of what they cover at
        ``(x, y)`` (an x axis's slanted tick label, as matplotlib aligns one to the right and the top)."""
        a = math.radians(angle)
        end_x = x - FALL * size * math.sin(a)  # the baseline's end, below and left of the corner
        end_y = y + RISE * size * math.cos(a)
        self.items.append(Text(end_x, end_y, words, size, "end", False, "#000000", angle, role))

    def texts(self, role: str | None = None) -> list[Text]:
        """The lines of text drawn (with ``role``, if given)."""
        return [t for t in self.items if isinstance(t, Text) and (role is None or t.role == role)]

    def images(self) -> dict[str, bytes]:
        """The chart's SVG and PNG bytes."""
        return {"svg": svg(self), "png": png(self)}


def svg_head(width: str, height: str, title: str) -> list[str]:
    """The first lines of a figure's SVG (a chart's or the CONSORT diagram's): its size in points, its title
    and a white ground."""
    return ['<?xml version="1.0" encoding="utf-8" standalone="no"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}pt" height="{height}pt" '
            f'viewBox="0 0 {width} {height}" version="1.1">',
            f"<title>{html.escape(title)}</title>",
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>']  # fmt: skip


def svg(c: Canvas) -> bytes:
    """The chart as SVG: text as text, no ids, no dates."""
    e = html.escape
    out = [*svg_head(fmt(c.width), fmt(c.height), c.title), f'<g font-family="{FAMILY}" style="white-space:pre">']
    for it in c.items:
        if isinstance(it, Text):
            attrs = f' font-size="{fmt(it.size)}"'
            attrs += ' font-weight="bold"' if it.bold else ""
            attrs += f' fill="{it.colour}"' if it.colour != "#000000" else ""
            attrs += f' text-anchor="{it.anchor}"' if it.anchor != "start" else ""
            where = (f'transform="translate({fmt(it.x)} {fmt(it.y)}) rotate({fmt(-it.angle)})"' if it.angle
                     else f'x="{fmt(it.x)}" y="{fmt(it.y)}"')  # fmt: skip
            out.append(f"<text {where}{attrs}>{e(it.words)}</text>")
            continue
        paint = f' fill="{it.fill}"' if it.fill else ' fill="none"'
        if it.stroke:
            paint += f' stroke="{it.stroke}" stroke-width="{fmt(it.width)}"'
            paint += f' stroke-dasharray="{fmt(it.dash[0])} {fmt(it.dash[1])}"' if it.dash else ""
        if it.kind in ("line", "poly"):
            d = " L ".join(f"{fmt(x)} {fmt(y)}" for x, y in it.points)
            out.append(f'<path d="M {d}{" Z" if it.kind == "poly" else ""}"{paint}/>')
        elif it.kind == "rect":
            (x0, y0), (x1, y1) = it.points
            out.append(f'<rect x="{fmt(x0)}" y="{fmt(y0)}" width="{fmt(x1 - x0)}" height="{fmt(y1 - y0)}"{paint}/>')
        elif it.kind == "o":
            (x, y), r = it.points[0], it.size / 2
            out.append(f'<circle cx="{fmt(x)}" cy="{fmt(y)}" r="{fmt(r)}"{paint}/>')
        else:
            (x, y), r = it.points[0], it.size / 2
            out.append(f'<rect x="{fmt(x - r)}" y="{fmt(y - r)}" width="{fmt(2 * r)}" height="{fmt(2 * r)}"{paint}/>')
    out += ["</g>", "</svg>", ""]
    return "\n".join(out).encode("utf-8")


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _dashes(points: tuple[tuple[float, float], ...], dash: tuple[float, float]) -> list[list[tuple[float, float]]]:
    """A dashed polyline's dashes (in the polyline's units)."""
    on, off = dash
    out: list[list[tuple[float, float]]] = []
    for (xa, ya), (xb, yb) in zip(points, points[1:], strict=False):
        length = math.hypot(xb - xa, yb - ya)
        ux, uy = (xb - xa) / (length or 1), (yb - ya) / (length or 1)
        t = 0.0
        while t < length:
            end = min(t + on, length)
            out.append([(xa + ux * t, ya + uy * t), (xa + ux * end, ya + uy * end)])
            t = end + off
    return out


def png(c: Canvas) -> bytes:
    """The chart as an RGB PNG at :data:`DPI` dots per inch (its resolution the only thing in its header)."""
    from PIL import Image, ImageDraw

    s = DPI / PT
    size = (math.ceil(c.width * s - 1e-6), math.ceil(c.height * s - 1e-6))  # (6.3 inches are 945 dots)
    big = Image.new("RGB", (size[0] * SS, size[1] * SS), (255, 255, 255))
    draw = ImageDraw.Draw(big)
    k = s * SS

    def px(p: tuple[float, float]) -> tuple[float, float]:
        return p[0] * k, p[1] * k

    for it in c.items:
        if not isinstance(it, Shape):
            continue
        stroke = _rgb(it.stroke) if it.stroke else None
        lw = max(1, round(it.width * k))
        if it.kind == "line" and stroke is not None:
            pieces = _dashes(it.points, it.dash) if it.dash else [list(it.points)]
            for piece in pieces:
                draw.line([px(p) for p in piece], fill=stroke, width=lw, joint="curve" if len(piece) > 2 else None)
        elif it.kind == "poly" and it.fill:
            draw.polygon([px(p) for p in it.points], fill=_rgb(it.fill))
        elif it.kind == "rect":
            (x0, y0), (x1, y1) = px(it.points[0]), px(it.points[1])
            dots = (round(x0), round(y0), round(x1) - 1, round(y1) - 1)
            if dots[2] < dots[0] or dots[3] < dots[1]:
                continue  # less than a dot wide or high (a share of none): nothing to draw
            if it.fill:
                draw.rectangle(dots, fill=_rgb(it.fill))
            if stroke is not None and it.width > 0:
                draw.rectangle(dots, outline=stroke, width=lw)
        else:
            (x, y), r = px(it.points[0]), it.size / 2 * k
            box = (x - r, y - r, x + r, y + r)
            fill = _rgb(it.fill) if it.fill else None
            if it.kind == "o":
                draw.ellipse(box, fill=fill, outline=stroke, width=lw)
            else:
                draw.rectangle(box, fill=fill, outline=stroke, width=lw)
    im = big.reduce(SS) if SS > 1 else big
    draw = ImageDraw.Draw(im)
    anchors = {"start": "ls", "middle": "ms", "end": "rs"}
    for it in c.items:
        if not isinstance(it, Text):
            continue
        f = font(it.size, it.bold)
        if not it.angle:
            draw.text((it.x * s, it.y * s), it.words, fill=_rgb(it.colour), font=f, anchor=anchors[it.anchor])
            continue
        # drawn on a square mask around its anchor, turned about it, and painted where the anchor goes
        half = math.ceil(f.getlength(it.words) + it.size * s) + 2
        mask = Image.new("L", (2 * half, 2 * half), 0)
        ImageDraw.Draw(mask).text((half, half), it.words, fill=255, font=f, anchor=anchors[it.anchor])
        mask = mask.rotate(it.angle, resample=Image.Resampling.BICUBIC, center=(half, half))
        x0, y0 = round(it.x * s) - half, round(it.y * s) - half
        im.paste(_rgb(it.colour), (x0, y0, x0 + 2 * half, y0 + 2 * half), mask)
    buf = io.BytesIO()
    im.save(buf, format="png", compress_level=1, dpi=(DPI, DPI))
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------- axes


def tick_height(size: float) -> float:
    """The height an x axis's ticks and their labels take below the axis line."""
    return TICK + TICK_PAD + (RISE + FALL) * size


def x_axis(c: Canvas, scale: Scale, y: float, ticks: list[float], labels: list[str], size: float = 8.0,
           label: list[str] | None = None, label_size: float = 8.5, role: str = "x") -> float:  # fmt: skip
    """An x axis: its line at ``y`` across the scale, ticks below it with their labels, and its label
    centred under them; returns the y of the bottom of what it drew."""
    c.scales.append((role, scale))
    c.line([(scale.start, y), (scale.end, y)])
    for t, words in zip(ticks, labels, strict=True):
        x = scale(t)
        c.line([(x, y), (x, y + TICK)])
        if words:  # (none: the caller draws them)
            c.text(
                centred(x, words, size, c.width, 1.0), y + TICK + TICK_PAD, words, size, "middle", "top", role="tick"
            )  # (the last kept within the canvas)
    bottom = y + tick_height(size)
    if label:
        x = max(centred((scale.start + scale.end) / 2, w, label_size, c.width) for w in label)
        bottom += LABEL_PAD + c.text(x, bottom + LABEL_PAD, label, label_size, "middle", "top", role=f"{role}label")
    return bottom


def y_axis(c: Canvas, scale: Scale, x: float, ticks: list[float], labels: list[str], size: float = 8.0,
           label: str | None = None, label_size: float = 8.5) -> None:  # fmt: skip
    """A y axis: its line at ``x``, ticks left of it with their labels, and its label read upwards left of
    them (see :func:`y_axis_width` for the room it needs)."""
    c.scales.append(("y", scale))
    c.line([(x, scale.start), (x, scale.end)])
    for t, words in zip(ticks, labels, strict=True):
        y = scale(t)
        c.line([(x - TICK, y), (x, y)])
        c.text(x - TICK - TICK_PAD, y, words.split("\n"), size, "end", "middle", role="tick")
    if label:
        widest = max((text_width(w, size) for ws in labels for w in ws.split("\n")), default=0.0)
        c.upright(x - TICK - TICK_PAD - widest - LABEL_PAD - FALL * label_size, (scale.start + scale.end) / 2,
                  label, label_size, role="ylabel")  # fmt: skip


def y_axis_width(labels: list[str], size: float = 8.0, label: str | None = None, label_size: float = 8.5) -> float:
    """The room left of a y axis's line its ticks, labels (lines split at newlines) and label take."""
    widest = max((text_width(w, size) for ws in labels for w in ws.split("\n")), default=0.0)
    return TICK + TICK_PAD + widest + ((LABEL_PAD + (RISE + FALL) * label_size) if label else 0.0)


def frame(c: Canvas, ylabels: list[str], ylabel: str | None = None, xlabel: list[str] | None = None,
          title: float = 0.0, right: float = 0.0, size: float = 8.0) -> tuple[float, float, float, float]:  # fmt: skip
    """The plot area (left, top, right, bottom) of a chart whose y axis has ``ylabels`` (at ``size``) and
    ``ylabel``, whose x axis has a label of ``xlabel``'s lines, with a title of size ``title`` (or none) above
    and ``right`` points kept free at the right (a legend's), as a tight layout fits them."""
    left = 6 + y_axis_width(ylabels, size, ylabel)
    top = 6 + ((RISE + FALL) * title + 6 if title else 0.0)
    bottom = c.height - 6 - tick_height(size)
    if xlabel:
        bottom -= LABEL_PAD + (len(xlabel) - 1) * LEADING * 8.5 + (RISE + FALL) * 8.5
    return left, top, c.width - 6 - right, bottom


#: A legend entry: its kind, colour, marker face and words. The kind is "bar" (a swatch), "line", "thick"
#: (a line twice as wide), "dashed", or a marker on a line: "o", "s", or "." (a small dot).
Entry = tuple[str, str, str | None, str]


def legend_size(entries: list[Entry], size: float = 8.0) -> tuple[float, float]:
    """A legend's width and height in points."""
    widest = max((text_width(w, size) for *_, w in entries), default=0.0)
    return 2.8 * size + widest, len(entries) * 1.7 * size - 0.5 * size


def legend(c: Canvas, x: float, y: float, entries: list[Entry], size: float = 8.0) -> None:
    """A legend (no frame) with its top left corner at ``(x, y)``: a sample of each entry's mark (two
    ems long) and its words, as matplotlib lays one out."""
    for i, (kind, colour, face, words) in enumerate(entries):
        mid = y + i * 1.7 * size + 0.6 * size
        ends = [(x, mid), (x + 2 * size, mid)]
        if kind == "bar":
            c.rect(x, mid - 0.35 * size, x + 2 * size, mid + 0.35 * size, colour)
        elif kind == "dashed":
            c.line(ends, colour, 0.9, DASHED)
        else:
            c.line(ends, colour, 2.0 if kind == "thick" else 1.2 if kind == "." else 1.3)
            if kind in ("o", "s", "."):
                c.marker(x + size, mid, "o" if kind == "." else kind, 2.0 if kind == "." else 5.0, colour, face)
        c.text(x + 2.8 * size, mid, words, size, "start", "middle", role="legend")


__all__ = [
    "Canvas",
    "Scale",
    "Shape",
    "Text",
    "colour_scale",
    "ink_on",
    "legend",
    "log_ticks",
    "nice_ticks",
    "png",
    "svg",
    "text_width",
    "x_axis",
    "y_axis",
]
