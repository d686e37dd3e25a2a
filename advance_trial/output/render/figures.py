"""Figures, written reproducibly (no dates, no software stamps).

The report's five charts (attendance, engagement, accrual, retention and the forest plot) are laid out
directly on a :class:`~advance_trial.output.render.chart.Canvas` and written as SVG text and as a PNG drawn by
Pillow, without matplotlib (a tenth of its time); each has a function giving its layout (``forest_plot``, for
tests) and one giving its bytes (``forest_images``, named in the figure workers' table). The planning figures
(:mod:`advance_trial.output.render.plan_figures`) and the CONSORT diagram
(:mod:`advance_trial.output.render.flow`) are drawn the same way; no figure imports matplotlib.

SVG text stays text (searchable, read aloud by screen readers, checked by a test for ids), with no ids; PNG
has nothing in its header but its resolution; so the same table gives the same bytes on every run of the same
versions. Every word drawn is a label from the config or the display vocabulary, never an id. Figures are
drawn at the size they are printed (6.3 inches wide, the report's text width), in the report's sans-serif
type (DejaVu Sans) at 7.5 to 10 points, so that their words read as the tables' do."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from advance_trial.data.tablefile import write_bytes_atomic
from advance_trial.vocabulary import EFFECTS

if TYPE_CHECKING:
    from advance_trial.config import Config
    from advance_trial.output.render.chart import Canvas


def write_figure(images: dict[str, bytes], out_dir: str | Path, stem: str) -> dict[str, str]:
    """Write ``stem.svg`` and ``stem.png`` atomically; returns file name -> SHA-256."""
    written = {}
    for ext, data in images.items():
        write_bytes_atomic(data, Path(out_dir) / f"{stem}.{ext}")
        written[f"{stem}.{ext}"] = hashlib.sha256(data).hexdigest()
    return written


def attendance_histogram(cfg: Config, distribution: pd.DataFrame) -> Canvas:
    """Bars of men by compulsory sessions attended, stacked by cycle, with compulsory thresholds marked.
    Laid out directly (:mod:`~advance_trial.output.render.chart`), not by matplotlib."""
    from advance_trial.output.render import chart

    arm = cfg.arm(cfg.schedule.arm).label if cfg.schedule else ""
    width, height = chart.WIDTH * chart.PT, 3.4 * chart.PT
    c = chart.Canvas(width, height, f"Attendance: {arm}")
    cycles = [k for k in distribution["cycle"].unique() if k != "all"]
    bars: list[tuple[float, float, float, str]] = []  # (sessions, bottom, top, colour)
    stacked: dict[float, float] = {}
    for k, cycle in enumerate(cycles or ["all"]):
        d = distribution[distribution["cycle"] == cycle]
        colour = chart.CYCLE[k % len(chart.CYCLE)] if cycles else chart.BLUE
        for x, n in zip(d["compulsory_sessions"].astype(float), d["n"].astype(float), strict=True):
            bottom = stacked.get(x, 0.0)
            bars.append((x, bottom, bottom + n, colour))
            stacked[x] = bottom + n
    n_comp = int(distribution["compulsory_sessions"].max()) if len(distribution) else 0
    entries: list[chart.Entry] = [("bar", chart.CYCLE[k % len(chart.CYCLE)], None, f"Cycle {cycle}")
                                  for k, cycle in enumerate(cycles)]  # fmt: skip
    xticks = [float(k) for k in range(n_comp + 1)]
    # the axes: room left for the counts and "Men", below for the sessions and their label, above for the title
    most = max(stacked.values(), default=0.0)
    top_data = most * 1.05 or 1.0
    left = 6 + chart.y_axis_width(chart.tick_labels(chart.nice_ticks(0, top_data, 10, integer=True)), label="Men")
    top, right = 8 + (chart.RISE + chart.FALL) * 10, width - 6
    bottom = height - 6 - chart.tick_height(8) - chart.LABEL_PAD - (chart.RISE + chart.FALL) * 8.5
    xs = chart.Scale(*chart.limits([-0.4, n_comp + 0.4]), left, right)
    if entries:  # the legend top right, the counts scaled down under it if they would reach it
        lw, lh = chart.legend_size(entries)
        under = [t for x, _, t, _ in bars if xs(x + 0.4) >= right - lw - 8]
        room = (bottom - top - lh - 10) / (bottom - top)
        top_data = max(top_data, max(under, default=0.0) / room)
    ticks = chart.nice_ticks(0, top_data, 10, integer=True)
    ys = chart.Scale(0.0, top_data, bottom, top)
    for x, b, t, colour in bars:
        if t > b:
            c.rect(xs(x - 0.4), ys(b), xs(x + 0.4), ys(t), colour, "#ffffff" if cycles else None, 1.0 if cycles else 0)
    for k, th in enumerate(t for t in cfg.thresholds if t.measure == "compulsory_sessions"):
        c.line([(xs(th.bound - 0.5), top), (xs(th.bound - 0.5), bottom)], width=0.8, dash=chart.DASHED)
        c.text(xs(th.bound - 0.4), ys(top_data * (0.95 - 0.1 * k)), chart.wrap(th.label or th.rule, 28), 7.5,
               valign="top", role="threshold")  # fmt: skip
    if entries:
        chart.legend(c, right - chart.legend_size(entries)[0] - 4, top + 4, entries)
    chart.y_axis(c, ys, left, ticks, chart.tick_labels(ticks), label="Men")
    chart.x_axis(c, xs, bottom, xticks, [str(k) for k in range(n_comp + 1)], label=["Compulsory sessions attended"])
    c.text((left + right) / 2, top - 6, c.title, 10.0, "middle", role="title")
    return c


def attendance_images(cfg: Config, distribution: pd.DataFrame) -> dict[str, bytes]:
    """The attendance histogram's SVG and PNG bytes."""
    return attendance_histogram(cfg, distribution).images()


def accrual_plot(cfg: Config, monthly: pd.DataFrame) -> Canvas:
    """Cumulative men randomised (enrolled) by month, per site and in all, against the trial's target.
    Laid out directly (:mod:`~advance_trial.output.render.chart`), not by matplotlib."""
    from advance_trial.output.render import chart

    c = chart.Canvas(chart.WIDTH * chart.PT, 3.4 * chart.PT, "Accrual by site")
    months = sorted(monthly["month"].astype(str).unique())
    at = {m: i for i, m in enumerate(months)}
    labels = {s.id: s.label for s in cfg.sites}
    lines: list[tuple[list[int], list[float], str, bool]] = []
    entries: list[chart.Entry] = []
    for k, (site, rows) in enumerate(monthly.groupby(monthly["site"].astype(str), sort=False)):
        # the count at the end of each month, from none at the start of the site's first
        x = [at[str(rows["month"].iloc[0])], *(at[m] + 1 for m in rows["month"].astype(str))]
        y = [0.0, *rows["cumulative"].astype(float)]
        total = site == "all"
        colour = "#000000" if total else chart.CYCLE[k % len(chart.CYCLE)]
        lines.append((x, y, colour, total))
        entries.append(("thick" if total else ".", colour, None, "All sites" if total else labels.get(site, site)))
    target = cfg.trial.target_sample_size
    most = max((max(y) for _, y, _, _ in lines), default=0.0)
    if target:
        entries.append(("dashed", "#b42318", None, f"Target: {target} men"))
        top_data = max(float(target), most) * 1.1
    else:
        top_data = most * 1.05 or 1.0
    ticks = chart.nice_ticks(0, top_data, 8, integer=True)
    ylabel = f"Men {cfg.entered} (cumulative)"
    room = chart.legend_size(entries)[0] + 10
    left, top, right, bottom = chart.frame(c, chart.tick_labels(ticks), ylabel, ["Start of month"], 9.5, room)
    slant = max((chart.text_width(m, 8.0) for m in months), default=0.0) * 0.5 + 8.0 * (chart.RISE + chart.FALL)
    bottom -= slant - (chart.RISE + chart.FALL) * 8.0  # the months slanted at 30 degrees need more room
    height = c.height
    xs, ys = chart.Scale(0.0, float(len(months)) or 1.0, left, right), chart.Scale(0.0, top_data, bottom, top)
    if target:
        c.line([(left, ys(target)), (right, ys(target))], "#b42318", 0.9, chart.DASHED)
        words = f"Target sample size: {target} men"
        c.text(xs(0.2), ys(target) - 1.0, words, 8.0, valign="bottom", colour="#b42318", role="target")
    for x, y, colour, total in lines:
        c.line([(xs(a), ys(b)) for a, b in zip(x, y, strict=True)], colour, 2.0 if total else 1.2)
        if not total:
            for a, b in zip(x, y, strict=True):
                c.marker(xs(a), ys(b), "o", 2.0, colour)
    step = max(1, len(months) // 8)
    shown = list(range(0, len(months), step))
    chart.y_axis(c, ys, left, ticks, chart.tick_labels(ticks), label=ylabel)
    chart.x_axis(c, xs, bottom, [float(i) for i in shown], ["" for _ in shown])
    for i in shown:  # the months slanted, as they were drawn
        c.turned(xs(i), bottom + chart.TICK + chart.TICK_PAD, months[i], 8.0, 30.0, role="tick")
    c.text((left + right) / 2, height - 6, ["Start of month"], 8.5, "middle", "bottom", role="xlabel")
    chart.legend(c, right + 8, top, entries)
    c.text(chart.centred((left + right) / 2, c.title, 9.5, c.width), top - 6, c.title, 9.5, "middle", role="title")
    return c


def accrual_images(cfg: Config, monthly: pd.DataFrame) -> dict[str, bytes]:
    """The accrual figure's SVG and PNG bytes."""
    return accrual_plot(cfg, monthly).images()


def engagement_plot(cfg: Config, engagement: pd.DataFrame) -> Canvas:
    """For each component of the schedule, the share of men offered it who started it and who completed it,
    with their intervals. Laid out directly (:mod:`~advance_trial.output.render.chart`), not by matplotlib."""
    from advance_trial.output.render import chart

    comps = engagement.reset_index(drop=True)
    arm = cfg.arm(cfg.schedule.arm).label if cfg.schedule else ""
    c = chart.Canvas(chart.WIDTH * chart.PT, (0.55 * len(comps) + 1.4) * chart.PT, f"Engagement by component: {arm}")
    names = [chart.fit(f"{r.label} ({r.sessions})", 8.0, 0.4 * c.width) for r in comps.itertuples()]
    left, top, right, bottom = chart.frame(c, names, None, ["Men offered the component (%)"], 10.0)
    xs = chart.Scale(0.0, 100.0, left, right)
    ys = chart.Scale(*chart.limits([-0.33, len(comps) - 1 + 0.33]), bottom, top)
    y = np.arange(len(comps))[::-1].astype(float)
    entries: list[chart.Entry] = []
    for offset, what, colour in ((0.17, "started", "#1f4e79"), (-0.17, "completed", "#b36b00")):
        p = 100 * comps[f"proportion_{what}"].to_numpy(dtype=float)
        lo = 100 * comps[f"ci_lower_{what}"].to_numpy(dtype=float)
        hi = 100 * comps[f"ci_upper_{what}"].to_numpy(dtype=float)
        for at, pk, lk, hk in zip(y + offset, p, lo, hi, strict=True):
            if pk == pk:
                c.rect(xs(0), ys(at - 0.16), xs(pk), ys(at + 0.16), colour)
            if lk == lk and hk == hk:
                c.line([(xs(lk), ys(at)), (xs(hk), ys(at))], width=0.8)
                for v in (lk, hk):
                    c.line([(xs(v), ys(at) - 2), (xs(v), ys(at) + 2)], width=0.8)
        entries.append(("bar", colour, None, what.capitalize()))
    ticks = chart.nice_ticks(0, 100, 6)
    chart.y_axis(c, ys, left, [float(v) for v in y], names)
    chart.x_axis(c, xs, bottom, ticks, chart.tick_labels(ticks), label=["Men offered the component (%)"])
    w, h = chart.legend_size(entries)
    chart.legend(c, right - w - 4, bottom - h - 4, entries)
    c.text(chart.centred((left + right) / 2, c.title, 10.0, c.width), top - 6, c.title, 10.0, "middle", role="title")
    return c


def engagement_images(cfg: Config, engagement: pd.DataFrame) -> dict[str, bytes]:
    """The engagement figure's SVG and PNG bytes."""
    return engagement_plot(cfg, engagement).images()


#: The forest plot's scales: each effect's panel, how its axis is labelled, and the factor its values are
#: drawn at (risk differences in percentage points, as the tables give them).
_SCALES = {"mean": ("Mean difference", 1.0), "risk": ("Risk difference, percentage points", 100.0),
           "ratio": ("Odds ratio or rate ratio (log scale)", 1.0)}  # fmt: skip


def _panel_of(cfg: Config, outcome: str, effect: str) -> tuple[str, str]:
    """A row's panel: its effect's scale, and for differences in means the outcome's instrument and score
    (ABI item means, 1 to 5, and days of use, 0 to 28, never share an axis)."""
    panel = EFFECTS[effect].panel if effect in EFFECTS else ""
    if panel != "mean":
        return panel, ""
    o = next((o for o in cfg.outcomes if o.id == outcome), None)
    inst = cfg.instruments.get(o.instrument) if o is not None else None
    if o is None or inst is None:
        return panel, ""
    return panel, f"{o.instrument}|{o.subscale if inst.score == 'sum' else ''}|{inst.score}"


def forest_plot(cfg: Config, outcomes: pd.DataFrame) -> Canvas:
    """Every outcome's estimates across analyses, one panel per outcome scale (scores of one instrument,
    risk differences in percentage points, ratios on a log axis); rows labelled by outcome and analysis;
    complier average causal effects (hollow circles) told apart from intention-to-treat estimates (filled
    squares) by a legend. Laid out directly (:mod:`~advance_trial.output.render.chart`), not by matplotlib."""
    from advance_trial.output.display import ANALYSIS_LABELS, comparison
    from advance_trial.output.render import chart

    rows = outcomes.copy()
    for col in ("estimate", "ci_lower", "ci_upper"):
        rows[col] = pd.to_numeric(rows[col], errors="coerce")  # withheld cells in shareable outputs
    rows = rows.dropna(subset=["estimate", "ci_lower", "ci_upper"]).reset_index(drop=True)
    rows["_panel"] = [_panel_of(cfg, str(o), str(e)) for o, e in zip(rows["outcome"], rows["effect"], strict=True)]
    rows = rows[np.array([p[0] != "" for p in rows["_panel"]], dtype=bool)]  # (a list would pick columns)
    order = {k: i for i, k in enumerate(_SCALES)}
    keys = sorted(dict.fromkeys(rows["_panel"]), key=lambda p: order[p[0]])
    outcome_labels = {o.id: o.label or "Outcome" for o in cfg.outcomes}
    thresholds = {t.id: t.label or t.rule for t in cfg.thresholds}
    panels = []
    for key in keys:
        d = rows[rows["_panel"] == key]
        lines: list[tuple[list[str], Any]] = []  # (label's lines, row or None for an outcome's heading)
        for outcome, block in d.groupby(d["outcome"].astype(str), sort=False):
            lines.append((chart.wrap(outcome_labels.get(outcome, "Outcome"), 46), None))
            for r in block.itertuples():
                name = ANALYSIS_LABELS.get(str(r.analysis), "Analysis")
                th = getattr(r, "threshold", "")
                if isinstance(th, str) and th:
                    name += f" ({thresholds.get(th, 'dose threshold')})"
                lines.append((chart.wrap(name, 48), r))
        panels.append((key, lines))
    inch, width = chart.PT, chart.WIDTH * chart.PT
    heights = [len(lines) for _, lines in panels] or [1]
    row_h, gap, top, foot = 0.24 * inch, 0.75 * inch, 0.5 * inch, 0.55 * inch
    height = row_h * sum(heights) + gap * len(heights) + top + foot
    level = f"{cfg.reporting.ci_level:.0%}"
    versus = comparison(cfg, rows["comparison"].iloc[0]) if "comparison" in rows and len(rows) else ""
    title = f"{versus}: estimates with {level} confidence intervals" if versus else "Outcome estimates"
    c = chart.Canvas(width, height, title)
    c.text(0.01 * width, 0.08 * inch, chart.wrap(title, 95), 9.0, valign="top", role="title")
    left, right = 0.47 * width, 0.97 * width
    cace_shown, y = False, top
    for i, (key, lines) in enumerate(panels):
        kind = key[0]
        words, factor = _SCALES[kind]
        ph = row_h * len(lines)
        unit = ph / (len(lines) + 0.4)  # rows one unit apart, 0.7 of one above the first and below the last
        drawn = [(y + (0.7 + j) * unit, label, r) for j, (label, r) in enumerate(lines)]
        marks = [(at, factor * r.ci_lower, factor * r.estimate, factor * r.ci_upper, str(r.analysis) == "cace")
                 for at, _, r in drawn if r is not None]  # fmt: skip
        null = next(EFFECTS[e].null for e in EFFECTS if EFFECTS[e].panel == kind)
        log = kind == "ratio"
        lo, hi = chart.limits([null, *(m[1] for m in marks), *(m[3] for m in marks)], log=log)
        scale = chart.Scale(lo, hi, left, right, log)
        c.line([(scale(null), y), (scale(null), y + ph)], width=0.8, dash=chart.DASHED)
        for at, low, est, high, cace in marks:
            cace_shown |= cace
            c.line([(scale.clipped(low), at), (scale.clipped(high), at)], chart.BLUE, 1.3)
            c.marker(scale.clipped(est), at, "o" if cace else "s", 5.0, chart.BLUE, "#ffffff" if cace else None)
        for at, label, r in drawn:  # an outcome in bold, its analyses indented under it
            c.text((0.015 if r is None else 0.04) * width, at, label, 7.5, valign="middle", bold=r is None,
                   role=f"heading{i}" if r is None else f"row{i}")  # fmt: skip
        if kind == "mean" and key[1]:
            inst = cfg.instruments[key[1].split("|")[0]]
            words = f"{words} ({'mean item score' if inst.score == 'mean' else 'score'}, {inst.min} to {inst.max}): " \
                f"{inst.label or 'score'}"  # fmt: skip
        ticks = chart.log_ticks(lo, hi) if log else chart.nice_ticks(lo, hi, 7)
        words = f"{words}, with {level} confidence intervals"
        chart.x_axis(c, scale, y + ph, ticks, chart.log_labels(ticks) if log else chart.tick_labels(ticks),
                     label=chart.wrap(words, 60), label_size=7.5, role=f"x{i}")  # fmt: skip
        y += ph + gap
    if len(rows):
        entries: list[chart.Entry] = [("s", chart.BLUE, None, "Intention to treat")]
        if cace_shown:
            entries.append(("o", chart.BLUE, "#ffffff",
                            "Complier average causal effect (men who met the dose threshold)"))  # fmt: skip
        chart.legend(c, 0.01 * width + 4, height - 4 - chart.legend_size(entries, 7.5)[1], entries, 7.5)
    if not panels:  # nothing estimable (every analysis has its reason in the outcome table)
        c.text(width / 2, top + (row_h + gap) / 2, "No outcome estimate: see the outcome table for each analysis's "
               "reason", 8.5, "middle", "middle", role="message")  # fmt: skip
    return c


def forest_images(cfg: Config, outcomes: pd.DataFrame) -> dict[str, bytes]:
    """The forest plot's SVG and PNG bytes."""
    return forest_plot(cfg, outcomes).images()


def retention_plot(cfg: Config, retention: pd.DataFrame) -> Canvas:
    """Proportion of men followed up within the window, by arm and timepoint, with intervals. Laid out
    directly (:mod:`~advance_trial.output.render.chart`), not by matplotlib."""
    from advance_trial.output.render import chart

    d = retention[(retention["site"] == "all") & (retention["cycle"] == "all")] if "cycle" in retention else retention
    d = d[d["site"] == "all"]
    arms = [a for a in d["arm"].unique() if a != "all"] + (["all"] if (d["arm"] == "all").any() else [])
    tps = list(dict.fromkeys(d["timepoint"]))
    c = chart.Canvas(chart.WIDTH * chart.PT, (0.9 + 0.45 * max(len(arms) * len(tps), 1)) * chart.PT,
                     "Retention by arm")  # fmt: skip
    rows = []  # (label, proportion, lower, upper, colour)
    colours = ["#1f4e79", "#c55a11", "#548235", "#7f6000"]
    for tp in tps:
        for i, arm in enumerate(arms):
            r = d[(d["timepoint"] == tp) & (d["arm"] == arm)]
            if r.empty:
                continue
            r = r.iloc[0]
            try:
                p, lo, hi = float(r["proportion"]), float(r["ci_lower"]), float(r["ci_upper"])
            except (TypeError, ValueError):
                continue  # withheld in shareable outputs
            if p != p:
                continue
            colour = "#000000" if arm == "all" else colours[i % len(colours)]
            name = "All men" if arm == "all" else cfg.arm(arm).label
            when = cfg.timepoint(tp).label or "Follow-up" if tp in cfg.timepoint_ids else "Follow-up"
            words = chart.fit(f"{when}: {name} ({r['n_retained']}/{r['n_randomised']})", 8.0, 0.4 * c.width)
            rows.append((words, p, lo, hi, colour))
    level = f"{cfg.reporting.ci_level:.0%}"
    xlabel = [f"Followed up within the window ({level} interval)"]
    left, top, right, bottom = chart.frame(c, [r[0] for r in rows], None, xlabel, 10.0)
    xs, ys = chart.Scale(0.0, 1.0, left, right), chart.Scale(-len(rows) + 0.4, 1.2, bottom, top)
    for k, (_, p, lo, hi, colour) in enumerate(rows):
        c.line([(xs(lo), ys(-k)), (xs(hi), ys(-k))], colour, 1.6)
        c.marker(xs(p), ys(-k), "o", 6.0, colour)
    for crit in cfg.progression:
        if crit.metric.startswith("retention.") and crit.go is not None:
            c.line([(xs(crit.go), top), (xs(crit.go), bottom)], width=0.8, dash=chart.DASHED)
            words, gap = f"Progression criterion: {crit.go:.0%}", chart.text_width(" ", 7.5)
            after = xs(crit.go) + gap + chart.text_width(words, 7.5) <= c.width - 4  # else left of the line
            c.text(xs(crit.go) + (gap if after else -gap), ys(0.6), words, 7.5, "start" if after else "end",
                   valign="bottom", role="criterion")  # fmt: skip
    ticks = chart.nice_ticks(0, 1, 6)
    chart.y_axis(c, ys, left, [-float(k) for k in range(len(rows))], [r[0] for r in rows])
    chart.x_axis(c, xs, bottom, ticks, chart.tick_labels(ticks), label=xlabel)
    c.text(left, top - 6, c.title, 10.0, role="title")
    return c


def retention_images(cfg: Config, retention: pd.DataFrame) -> dict[str, bytes]:
    """The retention figure's SVG and PNG bytes."""
    return retention_plot(cfg, retention).images()
