"""Charts drawn directly (render/chart.py): round ticks, a log axis, text measured as the PNG draws it, the
same bytes on every run, text kept as text, no id, nothing in the PNG's header but its resolution."""

from __future__ import annotations

import math
import re
import struct

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from advance_trial.output.render import chart
from tests.test_flow_diagram import _chunks


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    assert chart.nice_ticks(-0.74, 0.42, 7) == [-0.6, -0.4, -0.2, 0.0, 0.2, 0.4]
    assert chart.nice_ticks(0, 9.45, 8) == [0, 2, 4, 6, 8]
    assert chart.nice_ticks(-19.5, 36.0, 7) == [-10, 0, 10, 20, 30]
    assert chart.nice_ticks(0, 100, 6) == [0, 20, 40, 60, 80, 100]
    assert chart.tick_labels([-0.6, -0.4, -0.2, 0.0, 0.2]) == ["\u22120.6", "\u22120.4", "\u22120.2", "0.0", "0.2"]
    assert chart.tick_labels([0.0, 2.5, 5.0, 7.5]) == ["0.0", "2.5", "5.0", "7.5"]
    assert chart.tick_labels([0, 25, 50]) == ["0", "25", "50"]
    assert chart.tick_labels([-1e-17, 1.0]) == ["0", "1"]  # no minus zero


@given(st.floats(-1e3, 1e3), st.floats(1e-3, 1e6), st.integers(3, 10))
def test_nice_ticks_lie_within_their_range_evenly_spaced(lo: float, span: float, most: int) -> None:
    hi = lo + span
    ticks = chart.nice_ticks(lo, hi, most)
    assert 1 <= len(ticks) <= most
    assert all(lo - 1e-8 * span <= t <= hi + 1e-8 * span for t in ticks)  # (float fuzz)
    steps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert all(s == pytest.approx(steps[0], rel=1e-6) for s in steps)
    if steps:
        mantissa = steps[0] / 10 ** math.floor(math.log10(steps[0]) + 1e-6)
        assert any(mantissa == pytest.approx(m, rel=1e-6) for m in (1, 2, 2.5, 5))
    assert len(set(chart.tick_labels(ticks))) == len(ticks)  # labels tell the ticks apart


def test_log_ticks_halve_and_double_and_thin_out_over_many_decades() -> None:
    assert chart.log_ticks(0.3, 5.5) == [0.5, 1, 2, 4]
    assert chart.log_ticks(0.04, 25, most=9) == [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20]
    assert chart.log_ticks(0.04, 25) == [0.1, 1, 10]  # nine are too many: the powers of ten
    wide = chart.log_ticks(1e-4, 1e4)
    assert wide and all(math.log10(t) == round(math.log10(t)) for t in wide) and len(wide) <= 8
    assert chart.log_labels([0.25, 1.0, 10.0]) == ["0.25", "1", "10"]
    assert chart.log_ticks(-1, 2) == [] and chart.log_ticks(2, 1) == []


def test_log_ticks_are_symmetric_about_one() -> None:
    ticks = chart.log_ticks(0.2, 5)
    assert ticks == [0.25, 0.5, 1, 2, 4]
    assert sorted(round(1 / t, 9) for t in ticks) == ticks


def test_a_log_scale_places_a_ratio_and_its_inverse_alike() -> None:
    s = chart.Scale(0.25, 4.0, 100.0, 300.0, log=True)
    assert s(1.0) == pytest.approx(200.0) and s(0.25) == pytest.approx(100.0) and s(4.0) == pytest.approx(300.0)
    assert s(2.0) - s(1.0) == pytest.approx(s(1.0) - s(0.5))
    lo, hi = chart.limits([0.5, 1.0, 2.0], log=True)
    assert lo * hi == pytest.approx(1.0) and lo < 0.5 and hi > 2.0
    assert chart.limits([0.0, 10.0]) == pytest.approx((-0.5, 10.5))


def test_text_is_measured_with_the_font_the_png_draws() -> None:
    from PIL import ImageFont

    face = ImageFont.truetype(chart.font_file(), 8.5 * 150 / 72, layout_engine=ImageFont.Layout.BASIC)
    words = "Compulsory sessions attended"
    assert chart.text_width(words, 8.5) == pytest.approx(face.getlength(words) * 72 / 150)
    assert chart.text_width(words, 8.5, bold=True) > chart.text_width(words, 8.5)
    assert chart.text_width(words, 17) == pytest.approx(2 * chart.text_width(words, 8.5), rel=0.03)  # whole pixels
    assert chart.text_width("", 8.5) == 0


def _canvas() -> chart.Canvas:
    c = chart.Canvas(200, 120, "A <chart> & its title")
    s = chart.Scale(0.5, 4.0, 40, 190, log=True)
    c.line([(s(1), 10), (s(1), 80)], dash=chart.DASHED)
    c.line([(s(0.6), 40), (s(3), 40)], chart.BLUE, 1.3)
    c.marker(s(1.3), 40, "s", 5, chart.BLUE)
    c.marker(s(0.8), 60, "o", 5, chart.BLUE, "#ffffff")
    c.rect(50, 60, 70, 80, chart.CYCLE[1], "#ffffff", 0.8)
    c.rect(90, 60, 90, 80, chart.CYCLE[2], "#ffffff", 0.8)  # a bar of none: no width, nothing drawn
    c.rect(100, 60, 100.1, 80, chart.CYCLE[2])
    c.text(5, 40, ["Two lines", "of a row's label"], 7.5, valign="middle", bold=True)
    c.upright(12, 60, "Men", 8.5)
    ticks = chart.log_ticks(0.5, 4.0)
    chart.x_axis(c, s, 80, ticks, chart.log_labels(ticks), label=["Odds ratio (log scale)"])
    return c


def test_chart_bytes_are_the_same_on_every_run_and_the_png_says_only_its_resolution() -> None:
    first, second = _canvas().images(), _canvas().images()
    assert first == second
    assert _chunks(first["png"]) == [b"IHDR", b"pHYs", b"IDAT", b"IEND"]
    width, height, depth, colour = struct.unpack(">IIBB", first["png"][16:26])
    assert (width, height, depth, colour) == (math.ceil(200 * 150 / 72), math.ceil(120 * 150 / 72), 8, 2)  # RGB


def test_chart_svg_keeps_text_as_text_with_no_id_or_date() -> None:
    svg = _canvas().images()["svg"].decode("utf-8")
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert texts == ["Two lines", "of a row&#x27;s label", "Men", "0.5", "1", "2", "4", "Odds ratio (log scale)"]
    assert "<title>A &lt;chart&gt; &amp; its title</title>" in svg
    assert "id=" not in svg and "date" not in svg.lower() and "matplotlib" not in svg.lower()
    assert re.search(r'rotate\(-90\)"[^>]*>Men<', svg) and 'stroke-dasharray="3 1.3"' in svg and "<circle" in svg


def test_the_png_draws_what_the_svg_does() -> None:
    """Pixels where the chart draws: the dashed line's dashes and gaps, the bar's fill, the text's ink."""
    import io

    from PIL import Image

    c = _canvas()
    im = Image.open(io.BytesIO(c.images()["png"])).convert("RGB")
    k = 150 / 72
    s = c.scales[0][1]
    column = [im.getpixel((round(s(1) * k), round(y * k))) for y in range(12, 30)]
    assert min(sum(p) for p in column) < 400  # a dash (0.8 points: one and a half dots, smoothed)
    assert max(sum(p) for p in column) > 600  # gaps between the dashes
    assert im.getpixel((round(60 * k), round(70 * k))) == (255, 127, 14)  # the bar's orange
    ink = [im.getpixel((x, y)) for x in range(round(5 * k), round(40 * k)) for y in range(round(30 * k), round(50 * k))]
    assert min(sum(p) for p in ink) < 100  # the bold label drawn


def _distribution(cycles: list[str]) -> pd.DataFrame:
    rows = [(c, k, (k * 7 + i * 3) % 5) for i, c in enumerate(cycles) for k in range(15)]
    return pd.DataFrame(rows, columns=["cycle", "compulsory_sessions", "n"])


def test_attendance_histogram_stacks_cycles_marks_thresholds_and_labels_its_axes() -> None:
    from advance_trial.config import load_config
    from advance_trial.output.render.figures import attendance_histogram
    from tests.conftest import config_path

    cfg = load_config(config_path("advance-feasibility"))
    dist = _distribution(["1", "2"])
    c = attendance_histogram(cfg, dist)
    assert c.title == f"Attendance: {cfg.arm(cfg.schedule.arm).label}" and c.texts("title")[0].words == c.title
    assert [t.words for t in c.texts("legend")] == ["Cycle 1", "Cycle 2"]
    assert [t.words for t in c.texts("xlabel")] == ["Compulsory sessions attended"]
    assert [t.words for t in c.texts("ylabel")] == ["Men"] and c.texts("ylabel")[0].angle == 90
    (th,) = [t for t in cfg.thresholds if t.measure == "compulsory_sessions"]
    assert " ".join(t.words for t in c.texts("threshold")) == th.label
    xs, ys = dict(c.scales)["x"], dict(c.scales)["y"]
    dashed = [s for s in c.items if isinstance(s, chart.Shape) and s.dash]
    assert [s.points[0][0] for s in dashed] == [pytest.approx(xs(th.bound - 0.5))]
    bars = [s for s in c.items if isinstance(s, chart.Shape) and s.kind == "rect" and s.stroke]  # (not the legend's)
    total = dist.groupby("compulsory_sessions")["n"].sum()
    tops = {round(xs.start): 0.0}
    for s in bars:  # stacked: each session's bars reach its total
        (x0, y0), (x1, _) = s.points
        tops[round(x0)] = min(tops.get(round(x0), math.inf), y0)
    for k, n in total.items():
        if n:
            assert tops[round(xs(k - 0.4))] == pytest.approx(ys(n))
    ticks = [t.words for t in c.texts("tick")]
    assert ticks[-15:] == [str(k) for k in range(15)] and all(float(w).is_integer() for w in ticks)
    legend_bottom = max(t.y for t in c.texts("legend"))
    under = [s for s in bars if s.points[1][0] > c.width - 60]
    assert all(s.points[0][1] > legend_bottom for s in under)  # no bar reaches the legend


def test_attendance_histogram_of_one_cycle_has_no_legend() -> None:
    from advance_trial.config import load_config
    from advance_trial.output.render.figures import attendance_histogram, attendance_images
    from tests.conftest import config_path

    cfg = load_config(config_path("advance-feasibility"))
    c = attendance_histogram(cfg, _distribution(["all"]))
    assert not c.texts("legend") and {s.fill for s in c.items if isinstance(s, chart.Shape) and s.kind == "rect"} == {
        chart.BLUE
    }
    assert attendance_images(cfg, _distribution(["all"])) == attendance_images(cfg, _distribution(["all"]))


def test_the_run_s_six_figures_are_drawn_without_matplotlib() -> None:
    """The CONSORT diagram and the five charts import no plotting library (its import alone is a tenth of
    a second, its drawing ten times the charts' own)."""
    import subprocess
    import sys

    script = (
        "import sys, pandas as pd\n"
        "from advance_trial.config import load_config\n"
        "from advance_trial.output.render.workers import FIGURES, draw\n"
        "from tests.conftest import config_path\n"
        "from tests.test_chart import _distribution\n"
        "cfg = load_config(config_path('advance-feasibility'))\n"
        "out = draw(cfg, FIGURES['attendance'][0], _distribution(['1', '2']))\n"
        "rows = pd.DataFrame([{'outcome': 'abi_physical', 'analysis': 'ancova', 'effect': 'mean_difference',\n"
        "    'estimate': -0.1, 'ci_lower': -0.3, 'ci_upper': 0.1, 'comparison': 'advance vs tau'}])\n"
        "out |= draw(cfg, FIGURES['forest'][0], rows)\n"
        "assert set(out) == {'svg', 'png'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    from advance_trial.output.render.workers import FIGURES

    assert all(FIGURES[s][0].startswith(("figures.", "flow.")) for s in
               ("consort", "attendance", "engagement", "accrual", "retention", "forest"))  # fmt: skip


def _inside(c: chart.Canvas) -> list[str]:
    """The lines of text that run off the canvas."""
    out = []
    for t in c.texts():
        if t.angle:
            continue
        w = chart.text_width(t.words, t.size, t.bold)
        x0 = t.x - {"start": 0.0, "middle": w / 2, "end": w}[t.anchor]
        if x0 < 0 or x0 + w > c.width or t.y - chart.RISE * t.size < 0 or t.y > c.height:
            out.append(t.words)
    return out


def test_engagement_and_retention_keep_every_word_and_keep_it_on_the_figure() -> None:
    from advance_trial.config import load_config
    from advance_trial.output.render.figures import engagement_images, engagement_plot, retention_plot
    from tests.conftest import config_path

    cfg = load_config(config_path("advance-feasibility"))
    eng = pd.DataFrame([
        {"label": "Individual session with a keyworker", "sessions": 2, "proportion_started": 0.8,
         "ci_lower_started": 0.67, "ci_upper_started": 0.88, "proportion_completed": 0.48,
         "ci_lower_completed": 0.35, "ci_upper_completed": 0.61},
        {"label": "Weekly 2-hour group", "sessions": 12, "proportion_started": 0.94, "ci_lower_started": 0.85,
         "ci_upper_started": 0.98, "proportion_completed": 0.0, "ci_lower_completed": 0.0,
         "ci_upper_completed": 0.15},
    ])  # fmt: skip
    c = engagement_plot(cfg, eng)
    assert [t.words for t in c.texts("tick")][:2] == [
        "Individual session with a keyworker (2)",
        "Weekly 2-hour group (12)",
    ]
    assert [t.words for t in c.texts("legend")] == ["Started", "Completed"]
    assert c.texts("xlabel")[0].words == "Men offered the component (%)" and not _inside(c)
    bars = [s for s in c.items if isinstance(s, chart.Shape) and s.kind == "rect" and s.points[0][0] < c.width - 80]
    xs = dict(c.scales)["x"]
    assert sorted(round(s.points[1][0] - xs(0), 3) for s in bars) == sorted(
        round(xs(100 * p) - xs(0), 3) for p in (0.8, 0.48, 0.94, 0.0)
    )
    assert engagement_images(cfg, eng)["png"]  # a share of none is a bar of no width (it once stopped the run)
    ret = pd.DataFrame([
        {"timepoint": "week16", "arm": "advance", "site": "all", "cycle": "all", "n_randomised": 54, "n_retained": 32,
         "proportion": 0.59, "ci_lower": 0.46, "ci_upper": 0.71},
        {"timepoint": "week16", "arm": "tau", "site": "all", "cycle": "all", "n_randomised": "<5",
         "n_retained": "<5", "proportion": "[c]", "ci_lower": "[c]", "ci_upper": "[c]"},
        {"timepoint": "week16", "arm": "all", "site": "all", "cycle": "all", "n_randomised": 104, "n_retained": 51,
         "proportion": 0.49, "ci_lower": 0.4, "ci_upper": 0.59},
    ])  # fmt: skip
    c = retention_plot(cfg, ret)
    rows = [" ".join(t.words for t in c.texts("tick") if abs(t.y - y) < 12) for y in sorted({
        round(t.y) for t in c.texts("tick") if t.anchor == "end"})]  # fmt: skip
    week = cfg.timepoint("week16").label
    advance = cfg.arm("advance").label
    assert any(r.startswith(week) and advance in r and r.endswith("(32/54)") for r in rows)
    assert not any(cfg.arm("tau").label + " (" in r for r in rows)  # withheld: not drawn
    (crit,) = [p for p in cfg.progression if p.metric.startswith("retention.") and p.go is not None]
    assert [t.words for t in c.texts("criterion")] == [f"Progression criterion: {crit.go:.0%}"]
    assert not _inside(c) and c.texts("title")[0].words == "Retention by arm"
