"""The CONSORT flow diagram, laid out directly as boxes and arrows and written as SVG and as PNG.

A flow diagram is boxes of text joined by arrows: it needs no plotting library. Its words are those
matplotlib drew (the same lines, wrapped at the same widths), measured with the report's typeface,
DejaVu Sans (the copy matplotlib ships, so every machine measures the same widths), and laid out top to
bottom: enrolment, the split into arms with orthogonal connectors, allocation with its dose annotation
beside the arrow, then follow-up and analysis for each timepoint. The one layout is written twice: as
SVG, whose text stays text (no ids, no dates), and as PNG at 150 dots per inch, drawn by Pillow
(matplotlib's own image library) with the same font files. The same table gives the same bytes on every
run of the same versions.
"""

from __future__ import annotations

import html
import io
import math
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from advance_trial.config import Config

#: Points per inch, and the dots per inch the PNG is drawn at (the other figures' resolution).
PT, DPI = 72.0, 150
SIZE, TITLE_SIZE, STAGE_SIZE = 8.5, 10.0, 9.0  # points, as the matplotlib diagram had them
LINE = 1.2 * SIZE  # the distance between baselines
PAD = 0.6 * SIZE  # between a box's edge and its text
GAP = 16.0  # between boxes joined by an arrow
MARGIN = 10.0
STRIP = 22.0  # the stage labels' column on the left
STAGE_COLOUR = "#1f4e79"
LW = 0.9  # the boxes' and arrows' line width, points
HEAD = 5.0  # an arrowhead's length, points


@dataclass(frozen=True)
class Box:
    """A box at ``(x, y)`` (its top left corner, points from the top left) holding ``lines`` (each an
    indent in points and its words)."""

    x: float
    y: float
    w: float
    h: float
    lines: tuple[tuple[float, str], ...]
    dashed: bool = False
    centred: bool = False


@dataclass(frozen=True)
class Diagram:
    """A laid-out diagram: its size in points, title, boxes, arrows (polylines; the last point has the
    head) and stage labels (centre and words, read upwards)."""

    width: float
    height: float
    title: str
    boxes: tuple[Box, ...]
    arrows: tuple[tuple[tuple[float, float], ...], ...]
    lines: tuple[tuple[tuple[float, float], ...], ...]
    stages: tuple[tuple[float, float, str], ...]


def _font(size: float, bold: bool = False) -> Any:
    """The typeface at ``size`` points, for drawing at :data:`DPI` (loaded once per process, shared with the
    charts: :func:`advance_trial.output.render.chart.font`)."""
    from advance_trial.output.render.chart import font

    return font(size, bold)


def _width(text: str, size: float = SIZE, bold: bool = False) -> float:
    """``text``'s advance width in points."""
    return float(_font(size, bold).getlength(text)) * PT / DPI


#: A CONSORT table's rows: stage, arm, detail and count (an int, or a withheld count's words).
Rows = list[tuple[str, str, str, Any]]


def _rows(consort: pd.DataFrame) -> Rows:
    """The table's rows, read once (a small table looked up some eighty times)."""

    def count(v: Any) -> Any:
        return v if isinstance(v, str) else int(v)  # "<5" in shareable outputs

    cols = [consort[c].astype(str).tolist() for c in ("stage", "arm", "detail")]
    return list(zip(*cols, [count(v) for v in consort["n"].tolist()], strict=True))


def _n(rows: Rows, stage: str, arm: str = "all", detail: str | None = None) -> int | str | None:
    """The first count of ``stage`` for ``arm`` (and ``detail``), or ``None`` if the table has none."""
    return next((n for s, a, d, n in rows if s == stage and a == arm and (detail is None or d == detail)), None)


def _details(rows: Rows, stage: str, arm: str = "all") -> list[tuple[str, Any]]:
    """``stage``'s rows with a detail for ``arm``: (detail, count), in the table's order."""
    return [(d, n) for s, a, d, n in rows if s == stage and a == arm and d != ""]


def _box(lines: list[str], width: int = 34, dashed: bool = False, centred: bool = False) -> Box:
    """A box (at the origin) of ``lines`` wrapped at ``width`` characters, a wrapped line indented."""
    wrapped = [w for line in lines for w in (textwrap.wrap(line, width, subsequent_indent="   ") or [""])]
    held = tuple((_width(w[: len(w) - len(w.lstrip(" "))]), w.lstrip(" ")) for w in wrapped)
    inner = max((i + _width(t) for i, t in held), default=0.0)
    return Box(0.0, 0.0, inner + 2 * PAD, len(held) * LINE + 2 * PAD, held, dashed, centred)


def _at(box: Box, x: float, y: float) -> Box:
    """``box`` with its top centre at ``(x, y)``."""
    return Box(x - box.w / 2, y, box.w, box.h, box.lines, box.dashed, box.centred)


def _enrolment(cfg: Config, consort: Rows) -> tuple[Box | None, Box | None, Box]:
    assessed = _n(consort, "assessed")
    entered = f"{'Enrolled' if cfg.trial.design == 'single_arm' else 'Randomised'} (n={_n(consort, cfg.entered)})"
    if assessed is None:
        return None, None, _box([entered], centred=True)
    lines = [f"Excluded (n={_n(consort, 'excluded')})",
             f"- Not eligible (n={_n(consort, 'excluded.not_eligible', detail='')})"]  # fmt: skip
    lines += [f"   - {d} (n={n})" for d, n in _details(consort, "excluded.not_eligible")]
    lines.append(f"- Declined (n={_n(consort, 'excluded.declined')})")
    other = _n(consort, "excluded.other", detail=f"eligible and consented, not {cfg.entered}") or 0
    if other:
        lines.append(f"- Other reasons (n={other})")
    head = _box([f"Assessed for eligibility (n={assessed})"], centred=True)
    return head, _box(lines, 44), _box([entered], centred=True)


def _allocation(cfg: Config, consort: Rows, arm: str, label: str) -> tuple[Box, Box | None]:
    lines = [f"Allocated to {label} (n={_n(consort, 'allocated', arm)})"]
    received = _n(consort, "received_any_session", arm)
    if received is not None:
        lines.append(f"- Received allocated intervention (n={received})")
    missed = _n(consort, "not_received", arm, "")
    if missed is not None:
        lines.append(f"- Did not receive allocated intervention (n={missed})")
        lines += [f"   - {d} (n={n})" for d, n in _details(consort, "not_received", arm)]
    stopped = _n(consort, "discontinued", arm, "")
    if stopped is not None:
        lines.append(f"- Discontinued intervention (n={stopped})")
    met = [(d, n) for s, a, d, n in consort if s == "met_threshold" and a == arm]
    note = None
    if met:
        named = {t.id: t.label or t.id for t in cfg.thresholds}
        note = _box(
            ["Dose (annotation):", *(f"{named.get(d.split(':')[0], d)} (n={n})" for d, n in met)], 30, dashed=True
        )
    return _box(lines, 44), note


def _follow_up(cfg: Config, consort: Rows, arm: str) -> list[tuple[Box, Box]]:
    out = []
    allocated = _n(consort, "allocated", arm)
    for tp in [t for t in cfg.timepoints if t.week > 0]:
        lost = [(d, n) for d, n in _details(consort, "not_followed_up", arm) if d.startswith(f"{tp.id}:")]
        lines = [f"{tp.label or tp.id}", f"- Followed up (n={_n(consort, 'followed_up', arm, tp.id)})"]
        lines += [f"- {d.split(': ', 1)[1].capitalize()} (n={n})" for d, n in lost]
        analysed = []
        for o in [o for o in cfg.outcomes if o.timepoint == tp.id]:
            n = _n(consort, "analysed", arm, f"{tp.id}: {o.id}")
            left = allocated - n if isinstance(n, int) and isinstance(allocated, int) else None
            analysed.append(f"- {o.label or o.id}: n={n}" + (f" (excluded n={left})" if left is not None else ""))
        head = f"Analysed, {tp.label or tp.id} (complete cases)"
        out.append((_box(lines), _box([head, *analysed], 44)))
    return out


def layout(cfg: Config, consort: pd.DataFrame) -> Diagram:
    """The diagram of the CONSORT table ``consort``: enrolment, allocation, dose annotations, follow-up,
    analysis."""
    table = _rows(consort)
    assessed, excluded, entered = _enrolment(cfg, table)
    labels = {a.id: a.label for a in cfg.arms}
    arms = [(_allocation(cfg, table, a, labels[a]), _follow_up(cfg, table, a)) for a in cfg.arm_ids]
    # columns: wide enough for each arm's boxes, and for its dose note right of the arrow down its middle
    widths = []
    for (alloc, note), rows in arms:
        own = [alloc, *(b for row in rows for b in row)]
        widths.append(max(max(b.w for b in own), 2 * (GAP + note.w) if note is not None else 0.0))
    left = MARGIN + STRIP
    centres, x = [], left
    for w in widths:
        centres.append(x + w / 2)
        x += w + GAP
    trunk = (centres[0] + centres[-1]) / 2
    top_w = max(b.w for b in (assessed, entered) if b is not None)
    shift = max(0.0, left + top_w / 2 - trunk)  # a narrow first column leaves the trunk's boxes room
    centres, trunk = [c + shift for c in centres], trunk + shift
    boxes: list[Box] = []
    arrows: list[tuple[tuple[float, float], ...]] = []
    lines: list[tuple[tuple[float, float], ...]] = []
    stages: list[tuple[float, float, str]] = []
    y = MARGIN + TITLE_SIZE * 1.2 + 8
    start = y
    if assessed is not None and excluded is not None:
        boxes.append(_at(assessed, trunk, y))
        y += assessed.h + GAP
        side = Box(trunk + 2 * GAP, y, excluded.w, excluded.h, excluded.lines)
        boxes.append(side)
        arrows.append(((trunk, y + side.h / 2), (side.x, y + side.h / 2)))
        arrows.append(((trunk, y - GAP), (trunk, y + side.h + GAP)))
        y += side.h + GAP
    boxes.append(_at(entered, trunk, y))
    y += entered.h
    stages.append((MARGIN + STRIP / 2 - 2, (start + y) / 2, "Enrolment"))
    if len(centres) > 1:  # the split: down from the trunk, across, and down to each arm
        bar = y + GAP / 2
        lines.append(((trunk, y), (trunk, bar)))
        lines.append(((centres[0], bar), (centres[-1], bar)))
        arrows += [((c, bar), (c, bar + GAP)) for c in centres]
        y = bar + GAP
    else:
        arrows.append(((trunk, y), (trunk, y + GAP)))
        y += GAP
    start = y
    row = max(alloc.h for (alloc, _), _ in arms)
    notes = [note.h for (_, note), _ in arms if note is not None]
    between = max(2 * GAP, max(notes, default=0.0) + GAP)
    bottoms = []
    for c, ((alloc, note), _) in zip(centres, arms, strict=True):
        boxes.append(_at(alloc, c, y))
        bottoms.append(y + alloc.h)
        if note is not None:
            boxes.append(Box(c + GAP, y + row + (between - note.h) / 2, note.w, note.h, note.lines, dashed=True))
    stages.append((MARGIN + STRIP / 2 - 2, y + row / 2, "Allocation"))
    y += row + between
    for k in range(len(arms[0][1])):
        for part, stage in ((0, "Follow-up"), (1, "Analysis")):
            height = max(rows[k][part].h for _, rows in arms)
            for i, (c, (_, rows)) in enumerate(zip(centres, arms, strict=True)):
                arrows.append(((c, bottoms[i]), (c, y)))
                boxes.append(_at(rows[k][part], c, y))
                bottoms[i] = y + rows[k][part].h
            stages.append((MARGIN + STRIP / 2 - 2, y + height / 2, stage))
            y += height + GAP
    width = max(max(b.x + b.w for b in boxes), MARGIN + _width(cfg.trial.title, TITLE_SIZE)) + MARGIN
    return Diagram(width, y - GAP + MARGIN, cfg.trial.title, tuple(boxes), tuple(arrows), tuple(lines), tuple(stages))


def _f(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _baseline(box: Box, i: int) -> float:
    # the line's baseline: DejaVu Sans rises 0.928 and falls 0.236 of its size, centred in the line's height
    return box.y + PAD + i * LINE + (LINE - 1.164 * SIZE) / 2 + 0.928 * SIZE


def _head(p0: tuple[float, float], p1: tuple[float, float]) -> tuple[tuple[float, float], ...]:
    """An arrowhead at ``p1`` pointing away from ``p0``: its tip and two barbs."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    d = math.hypot(dx, dy) or 1.0
    ux, uy = dx / d, dy / d
    bx, by = p1[0] - HEAD * ux, p1[1] - HEAD * uy
    return p1, (bx - HEAD / 2.5 * uy, by + HEAD / 2.5 * ux), (bx + HEAD / 2.5 * uy, by - HEAD / 2.5 * ux)


def svg(d: Diagram) -> bytes:
    """The diagram as SVG: text as text, no ids, no dates."""
    from advance_trial.output.render.chart import svg_head

    e = html.escape
    out = [*svg_head(_f(d.width), _f(d.height), d.title),
           f'<g font-family="DejaVu Sans, Bitstream Vera Sans, sans-serif" font-size="{_f(SIZE)}" fill="#000000" '
           'style="white-space:pre">',
           f'<text x="{_f(d.width / 2)}" y="{_f(MARGIN + TITLE_SIZE)}" font-size="{_f(TITLE_SIZE)}" '
           f'text-anchor="middle">{e(d.title)}</text>']  # fmt: skip
    for b in d.boxes:
        dash = ' stroke-dasharray="3.3 1.4"' if b.dashed else ""
        colour = "#555555" if b.dashed else "#000000"
        out.append(f'<rect x="{_f(b.x)}" y="{_f(b.y)}" width="{_f(b.w)}" height="{_f(b.h)}" fill="#ffffff" '
                   f'stroke="{colour}" stroke-width="{_f(LW)}"{dash}/>')  # fmt: skip
        for i, (indent, words) in enumerate(b.lines):
            x = b.x + b.w / 2 if b.centred else b.x + PAD + indent
            anchor = ' text-anchor="middle"' if b.centred else ""
            out.append(f'<text x="{_f(x)}" y="{_f(_baseline(b, i))}"{anchor}>{e(words)}</text>')
    for path in (*d.lines, *d.arrows):
        points = " L ".join(f"{_f(x)} {_f(y)}" for x, y in path)
        out.append(f'<path d="M {points}" fill="none" stroke="#000000" stroke-width="{_f(LW)}"/>')
    for path in d.arrows:
        tip, a, b2 = _head(path[-2], path[-1])
        out.append(f'<path d="M {_f(tip[0])} {_f(tip[1])} L {_f(a[0])} {_f(a[1])} L {_f(b2[0])} {_f(b2[1])} Z" '
                   'fill="#000000"/>')  # fmt: skip
    for x, y, words in d.stages:
        out.append(f'<text transform="translate({_f(x)} {_f(y)}) rotate(-90)" text-anchor="middle" '
                   f'font-size="{_f(STAGE_SIZE)}" font-weight="bold" fill="{STAGE_COLOUR}">'
                   f"{e(words)}</text>")  # fmt: skip
    out += ["</g>", "</svg>", ""]
    return "\n".join(out).encode("utf-8")


def png(d: Diagram) -> bytes:
    """The diagram as PNG at :data:`DPI` dots per inch (no text chunks: the same bytes on every run).

    The diagram is grey but for its stage labels, so it is drawn in shades of grey and written as a
    palette image: 128 shades of grey, and 128 of the labels' colour over white (the labels stand alone in
    their column). A third of the bytes of a colour image to compress, and nothing lost to the eye.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    s = DPI / PT

    def px(v: float) -> int:
        return round(v * s)

    lw = max(1, round(LW * s))
    size = (math.ceil(d.width * s), math.ceil(d.height * s))
    im = Image.new("L", size, 255)
    draw = ImageDraw.Draw(im)
    draw.text((d.width / 2 * s, (MARGIN + TITLE_SIZE) * s), d.title, fill=0, font=_font(TITLE_SIZE), anchor="ms")
    for b in d.boxes:
        x0, y0, x1, y1 = px(b.x), px(b.y), px(b.x + b.w), px(b.y + b.h)
        if b.dashed:
            _dashed(draw, ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)), lw, s)
        else:
            draw.rectangle((x0, y0, x1, y1), outline=0, width=lw)
        for i, (indent, words) in enumerate(b.lines):
            x = b.x + b.w / 2 if b.centred else b.x + PAD + indent
            draw.text((x * s, _baseline(b, i) * s), words, fill=0, font=_font(SIZE), anchor="ms" if b.centred else "ls")
    for path in (*d.lines, *d.arrows):
        draw.line([(px(x), px(y)) for x, y in path], fill=0, width=lw, joint="curve")
    for path in d.arrows:
        draw.polygon([(x * s, y * s) for x, y in _head(path[-2], path[-1])], fill=0)
    labels = Image.new("L", size, 0)  # how much of each pixel a stage label covers
    for x, y, words in d.stages:
        font = _font(STAGE_SIZE, bold=True)
        left, top, right, bottom = font.getbbox(words, anchor="mm")
        label = Image.new("L", (right - left + 2, bottom - top + 2), 0)
        ImageDraw.Draw(label).text((1 - left, 1 - top), words, fill=255, font=font, anchor="mm")
        turned = label.transpose(Image.Transpose.ROTATE_90)
        labels.paste(turned, (px(x) - turned.width // 2, px(y) - turned.height // 2))
    grey, cover = np.asarray(im) >> 1, np.asarray(labels) >> 1
    index = np.where(cover > 0, 128 + cover, grey).astype(np.uint8)
    r, g, b2 = (int(STAGE_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    palette = [round(k * 255 / 127) for k in range(128) for _ in range(3)]
    palette += [round(255 + (c - 255) * k / 127) for k in range(128) for c in (r, g, b2)]
    out = Image.fromarray(index, mode="P")
    out.putpalette(palette)
    buf = io.BytesIO()
    out.save(buf, format="png", compress_level=1, dpi=(DPI, DPI))
    return buf.getvalue()


def _dashed(draw: Any, corners: tuple[tuple[int, int], ...], lw: int, s: float) -> None:
    """Straight dashed segments through ``corners`` (each horizontal or vertical)."""
    on, off = 3.3 * s, 1.4 * s
    for (xa, ya), (xb, yb) in zip(corners, corners[1:], strict=False):
        length = abs(xb - xa) + abs(yb - ya)
        ux, uy = (xb - xa) / (length or 1), (yb - ya) / (length or 1)
        t = 0.0
        while t < length:
            end = min(t + on, length)
            draw.line([(xa + ux * t, ya + uy * t), (xa + ux * end, ya + uy * end)], fill=0x55, width=lw)
            t = end + off


def warm() -> None:
    """Load the diagram's and the charts' fonts now (a figure worker's start, while the analyses run)."""
    for size, bold in ((SIZE, False), (TITLE_SIZE, False), (STAGE_SIZE, True), (7.5, False), (7.5, True),
                       (8.0, False), (9.0, False), (9.5, False)):  # fmt: skip
        _font(size, bold)


def consort_images(cfg: Config, consort: pd.DataFrame) -> dict[str, bytes]:
    """The CONSORT flow diagram's SVG and PNG bytes."""
    d = layout(cfg, consort)
    return {"svg": svg(d), "png": png(d)}


__all__ = ["Box", "Diagram", "consort_images", "layout", "png", "svg"]
