"""The planning figures: the sensitivity heat map and the recruitment forecast's bands.

Both are laid out directly on a :class:`~advance_trial.output.render.chart.Canvas`, as the run's other
charts are (:mod:`advance_trial.output.render.figures`), and written as SVG text and as a PNG drawn by
Pillow, without matplotlib: at the report's width, in its type, with no ids and no dates, the same bytes on
every run. Each has a function giving its layout (``sensitivity_plot``, ``forecast_plot``, for tests) and one
giving its bytes (``sensitivity_heatmap``, ``forecast_bands``, named in the figure workers' table). Every word
drawn is a label (the outcome's label, the words of the grid), never an id.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from advance_trial.config import Config
    from advance_trial.output.render.chart import Canvas

ICC_WORDS = {"zero": "ICC 0", "estimate": "ICC estimate", "upper_limit": "ICC upper limit", "config": "ICC",
             "no_groups": "no groups"}  # fmt: skip
SD_WORDS = {"estimate": "SD estimate", "upper_limit": "SD upper limit"}
RETENTION_WORDS = {"estimate": "retention estimate", "lower_limit": "retention lower limit"}
#: The forecast's colours: the 95% and 80% bands (light and mid blue), the target (red), the deadline (grey).
BAND95, BAND80, TARGET, DEADLINE = "#c6dbef", "#6baed6", "#b42318", "#444444"
SIZE, TITLE_SIZE = 8.0, 9.0  # points: tick labels, cell values and the legend; each panel's title


def _outcome_label(cfg: Config, oid: str) -> str:
    o = next((x for x in cfg.outcomes if x.id == oid), None)
    return o.label if o is not None and o.label else oid.replace("_", " ")


def _icc_words(source: str, icc: float) -> str:
    return ICC_WORDS[source] if source in ("no_groups", "zero") else f"{ICC_WORDS.get(source, source)} {icc:.3f}"


def _panels(grid: pd.DataFrame) -> list[tuple[str, list[str], list[str], list[list[float]]]]:
    """Each outcome's panel: the outcome, its rows' and columns' words, and men in all in each cell (NaN
    where the grid has no row)."""
    panels = []
    for oid in dict.fromkeys(grid["outcome"].astype(str)):
        g = grid[grid["outcome"].astype(str) == oid]
        iccs = list(dict.fromkeys(zip(g["icc_source"].astype(str), g["icc"].astype(float), strict=True)))
        cols = list(dict.fromkeys(zip(g["sd_source"].astype(str), g["retention_source"].astype(str), strict=True)))
        values = [[math.nan] * len(cols) for _ in iccs]
        cells = zip(g["icc_source"].astype(str), g["icc"].astype(float), g["sd_source"].astype(str),
                    g["retention_source"].astype(str), g["n_total"].astype(float), strict=True)  # fmt: skip
        for icc_source, icc, sd_source, retention_source, n_total in cells:
            values[iccs.index((icc_source, icc))][cols.index((sd_source, retention_source))] = n_total
        rows = [_icc_words(w, v) for w, v in iccs]
        heads = [f"{SD_WORDS.get(s, s)},\n{RETENTION_WORDS.get(r, r)}" for s, r in cols]
        panels.append((oid, rows, heads, values))
    return panels


def sensitivity_plot(cfg: Config, grid: pd.DataFrame) -> Canvas:
    """Men in all at the configured ratio: a row per ICC, a column per SD and retention, one panel per
    outcome, each cell coloured on the panel's yellow-to-red scale (fewest to most) with its count written in
    black or white, whichever reads better on it."""
    from advance_trial.output.render import chart

    panels = _panels(grid)
    width = chart.WIDTH * chart.PT
    band = 3.0 * chart.PT if len(panels) == 1 else 2.7 * chart.PT  # each panel's share of the height
    c = chart.Canvas(width, band * max(len(panels), 1), "Men to randomise in all, by ICC, SD and retention")
    line = (chart.RISE + chart.FALL) * SIZE
    for i, (oid, rows, heads, values) in enumerate(panels):
        y0 = i * band
        left = 6 + chart.y_axis_width(rows, SIZE)
        half = max((chart.text_width(w, SIZE) for w in heads[-1].split("\n")), default=0.0) / 2 if heads else 0.0
        n = max(len(heads), 1)  # the last column's words kept within the figure, as a tight layout keeps them
        right = min(width - 6, (width - 6 - half - left / (2 * n)) / (1 - 1 / (2 * n)))
        title = chart.fit(f"{_outcome_label(cfg, oid)}: men to randomise in all", TITLE_SIZE, width - 12).split("\n")
        top = y0 + 6 + (len(title) - 1) * chart.LEADING * TITLE_SIZE + (chart.RISE + chart.FALL) * TITLE_SIZE + 6
        heights = [len(h.split("\n")) for h in heads] or [1]
        bottom = y0 + band - 6 - chart.TICK - chart.TICK_PAD - (max(heights) - 1) * chart.LEADING * SIZE - line
        cw, ch = (right - left) / n, (bottom - top) / max(len(rows), 1)
        flat = [v for row in values for v in row]
        colours = chart.colour_scale(flat)
        for k, (v, colour) in enumerate(zip(flat, colours, strict=True)):
            r, j = divmod(k, len(heads))
            if colour is None:
                continue  # no such row in the grid: the ground shows, and no count
            # each cell reaching half a point under the next (drawn over it), so that no seam shows between them
            over_x = 0.5 if j < len(heads) - 1 and colours[k + 1] is not None else 0.0
            over_y = 0.5 if r < len(rows) - 1 and colours[k + len(heads)] is not None else 0.0
            c.rect(left + j * cw, top + r * ch, left + (j + 1) * cw + over_x, top + (r + 1) * ch + over_y, colour)
            c.text(left + (j + 0.5) * cw, top + (r + 0.5) * ch, f"{v:,.0f}", SIZE, "middle", "middle",
                   colour=chart.ink_on(colour), role=f"cell{i}")  # fmt: skip
        c.line([(left, top), (right, top), (right, bottom), (left, bottom), (left, top)])
        for r, words in enumerate(rows):
            y = top + (r + 0.5) * ch
            c.line([(left - chart.TICK, y), (left, y)])
            c.text(left - chart.TICK - chart.TICK_PAD, y, words, SIZE, "end", "middle", role=f"row{i}")
        for j, words in enumerate(heads):
            x = left + (j + 0.5) * cw
            c.line([(x, bottom), (x, bottom + chart.TICK)])
            c.text(x, bottom + chart.TICK + chart.TICK_PAD, words.split("\n"), SIZE, "middle", "top", role=f"column{i}")
        widest = max(title, key=lambda w: chart.text_width(w, TITLE_SIZE))  # (a long label wrapped: all lines kept in)
        x = chart.centred((left + right) / 2, widest, TITLE_SIZE, width)
        c.text(x, top - 6, title, TITLE_SIZE, "middle", "bottom", role="title")
    return c


def sensitivity_heatmap(cfg: Config, grid: pd.DataFrame) -> dict[str, bytes]:
    """The sensitivity heat map's SVG and PNG bytes."""
    return sensitivity_plot(cfg, grid).images()


def forecast_plot(cfg: Config, bands: pd.DataFrame) -> Canvas:
    """Predicted cumulative men by month: the median with its 80% and 95% bands, against the target (dashed)
    and the deadline (dotted), if there is one."""
    from advance_trial.output.render import chart

    c = chart.Canvas(chart.WIDTH * chart.PT, 3.4 * chart.PT, "Recruitment forecast")
    cols = ["month", "median", "lower80", "upper80", "lower95", "upper95"]
    b = bands[cols].apply(pd.to_numeric, errors="coerce").astype(float).dropna()
    month = b["month"].tolist()
    target = float(bands["target"].iloc[0])
    deadline = float(bands["deadline_months"].iloc[0]) if "deadline_months" in bands else math.nan
    last = max(month[-1] if month else 0.0, deadline if math.isfinite(deadline) else 0.0) or 1.0
    top_data = target * 1.08 if target > 0 else max(b["upper95"].max() * 1.05, 1.0) if len(b) else 1.0
    yticks = chart.nice_ticks(0, top_data, 8, integer=True)
    xlabel, ylabel = "Months from the first site's opening", "Men randomised (cumulative)"
    left, top, right, bottom = chart.frame(c, chart.tick_labels(yticks), ylabel, [xlabel])
    xs, ys = chart.Scale(0.0, last, left, right), chart.Scale(0.0, top_data, bottom, top)
    for lo, hi, colour in (("lower95", "upper95", BAND95), ("lower80", "upper80", BAND80)):
        upper = [(xs(m), ys.clipped(v)) for m, v in zip(month, b[hi], strict=True)]
        lower = [(xs(m), ys.clipped(v)) for m, v in zip(month, b[lo], strict=True)]
        if upper:
            c.polygon([*lower, *upper[::-1]], colour)
    if month:
        c.line([(xs(m), ys.clipped(v)) for m, v in zip(month, b["median"], strict=True)], "#000000", 1.5)
    gap = chart.text_width(" ", SIZE)
    if target > 0:
        c.line([(left, ys(target)), (right, ys(target))], TARGET, 0.9, chart.DASHED)
        c.text(right - gap, ys(target) - 1.0, f"target {target:,.0f}", SIZE, "end", "bottom", colour=TARGET,
               role="target")  # fmt: skip
    if math.isfinite(deadline):
        c.line([(xs(deadline), top), (xs(deadline), bottom)], DEADLINE, 0.9, chart.DOTTED)
        c.upright(xs(deadline) - chart.FALL * SIZE, bottom - gap, "deadline", SIZE, DEADLINE, "deadline", "start")
    xticks = chart.nice_ticks(0, last, 8)
    chart.y_axis(c, ys, left, yticks, chart.tick_labels(yticks), label=ylabel)
    chart.x_axis(c, xs, bottom, xticks, chart.tick_labels(xticks), label=[xlabel])
    entries: list[chart.Entry] = [
        ("bar", BAND95, None, "95% predictive band"),
        ("bar", BAND80, None, "80% predictive band"),
        ("line", "#000000", None, "Median"),
    ]
    below = ys(target) + 6 if target > 0 else top  # under the target's line, clear of it
    chart.legend(c, left + 8, max(top + 4, below), entries, SIZE)
    return c


def forecast_bands(cfg: Config, bands: pd.DataFrame) -> dict[str, bytes]:
    """The recruitment forecast's SVG and PNG bytes."""
    return forecast_plot(cfg, bands).images()


__all__ = ["forecast_bands", "forecast_plot", "sensitivity_heatmap", "sensitivity_plot"]
