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
    """The CONSORT diagram, the five charts and the two planning figures import no plotting library (its
    import alone is a tenth of a second, its drawing ten times the charts' own)."""
    import subprocess
    import sys

    script = (
        "import sys, pandas as pd\n"
        "from advance_trial.config import load_config\n"
        "from advance_trial.output.render.workers import FIGURES, draw\n"
        "from tests.conftest import config_path\n"
        "from tests.test_chart import _distribution, _grid, _bands\n"
        "cfg = load_config(config_path('advance-feasibility'))\n"
        "out = draw(cfg, FIGURES['attendance'][0], _distribution(['1', '2']))\n"
        "rows = pd.DataFrame([{'outcome': 'abi_physical', 'analysis': 'ancova', 'effect': 'mean_difference',\n"
        "    'estimate': -0.1, 'ci_lower': -0.3, 'ci_upper': 0.1, 'comparison': 'advance vs tau'}])\n"
        "out |= draw(cfg, FIGURES['forest'][0], rows)\n"
        "out |= draw(cfg, FIGURES['plan_sensitivity'][0], _grid())\n"
        "out |= draw(cfg, FIGURES['recruitment_forecast'][0], _bands(30.0))\n"
        "assert set(out) == {'svg', 'png'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    from advance_trial.output.render.workers import FIGURES

    assert all(FIGURES[s][0].startswith(("figures.", "flow.", "plan_figures.")) for s in FIGURES)


def test_a_whole_run_imports_no_matplotlib_in_any_process(tmp_path) -> None:
    """A sample ``run`` through the command line, its figure workers included (they inherit the audit hook
    across the fork), never imports matplotlib; and the workers did draw (they imported the drawing
    modules). The run's own process does not import scipy's optimiser either: the outcomes and the plans
    that read them are built in the worker kept for them."""
    import os
    import subprocess
    import sys

    log = tmp_path / "imports.log"
    script = (
        "import os, sys\n"
        "def hook(event, args):\n"
        "    if event == 'import' and args[0].split('.')[0] in ('matplotlib', 'advance_trial', 'scipy'):\n"
        "        with open(os.environ['IMPORT_LOG'], 'a') as fh:\n"
        "            fh.write(f'{os.getpid()} {args[0]}\\n')\n"
        "sys.addaudithook(hook)\n"
        "from advance_trial.cli.main import app\n"
        "try:\n"
        "    app(['run', sys.argv[1], '--data', sys.argv[2], '--out', sys.argv[3]])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print(os.getpid())\n"
    )
    from tests.conftest import SAMPLES, config_path

    out = tmp_path / "out"
    args = [str(config_path("advance-feasibility")), str(SAMPLES / "advance-feasibility"), str(out)]
    env = {**os.environ, "IMPORT_LOG": str(log), "ADVANCE_TRIAL_WORKERS": "2"}
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, check=True)
    run_pid = done.stdout.strip().splitlines()[-1]
    assert {p.name for p in out.glob("*.png")} >= {"plan_sensitivity.png", "recruitment_forecast.png", "consort.png"}
    seen = [line.split(" ", 1) for line in log.read_text().splitlines()]
    assert [name for _, name in seen if name.split(".")[0] == "matplotlib"] == []
    assert any(name.startswith("advance_trial") for pid, name in seen if pid == run_pid)
    from advance_trial.output.render.workers import start_workers, stop_workers

    pool = start_workers()  # (the test process's own setting; the run was told to use two)
    stop_workers(pool)
    if (os.cpu_count() or 1) >= 2 and sys.platform.startswith("linux"):  # the workers drew the figures
        assert any(pid != run_pid and name.endswith("render.plan_figures") for pid, name in seen)
        assert any(pid != run_pid and name.startswith("scipy.optimize.") for pid, name in seen)
        assert [name for pid, name in seen if pid == run_pid and name.startswith("scipy.optimize")] == []


def _grid(missing: bool = False) -> pd.DataFrame:
    """A sensitivity grid of two outcomes (the second with one cell fewer if ``missing``)."""
    rows = []
    for o, k in (("abi_physical", 1.0), ("abi_sexual", 1.3)):
        for i, (src, icc) in enumerate((("zero", 0.0), ("estimate", 0.452), ("upper_limit", 0.835))):
            for j, (sd, ret) in enumerate((("estimate", "estimate"), ("estimate", "lower_limit"),
                                           ("upper_limit", "estimate"), ("upper_limit", "lower_limit"))):  # fmt: skip
                rows.append({"outcome": o, "icc_source": src, "icc": icc, "sd_source": sd, "retention_source": ret,
                             "n_total": round(k * (174 + 250 * i) * (1 + 0.15 * j))})  # fmt: skip
    grid = pd.DataFrame(rows)
    return grid.iloc[:-1] if missing else grid


def _bands(deadline: float = float("nan")) -> pd.DataFrame:
    months = [float(m) for m in range(41)]
    median = [min(446.0, 14.0 * m) for m in months]
    return pd.DataFrame({"target": 446, "month": months, "median": median,
                         "lower80": [0.8 * v for v in median], "upper80": [min(446.0, 1.2 * v) for v in median],
                         "lower95": [0.7 * v for v in median], "upper95": [min(446.0, 1.3 * v) for v in median],
                         "deadline_months": deadline})  # fmt: skip


def test_colour_scale_runs_from_the_first_stop_to_the_last_and_ink_always_reads() -> None:
    assert chart.colour_at(0.0) == "#ffffcc" and chart.colour_at(1.0) == "#800026"
    assert chart.colour_at(0.5) == chart.YLORRD[4] and chart.colour_at(-1) == "#ffffcc"
    assert chart.colour_at(1 / 16) == "#fff6b6"  # halfway between #ffffcc and #ffeda0
    assert chart.colour_scale([3.0, float("nan"), 1.0, 2.0]) == ["#800026", None, "#ffffcc", chart.YLORRD[4]]
    assert chart.colour_scale([5.0, 5.0]) == ["#ffffcc", "#ffffcc"]  # one value: the lightest, as matplotlib
    assert chart.ink_on("#ffffcc") == "#000000" and chart.ink_on("#800026") == "#ffffff"
    assert chart.contrast("#000000", "#ffffff") == pytest.approx(21.0)
    for k in range(101):
        ground = chart.colour_at(k / 100)
        assert chart.contrast(chart.ink_on(ground), ground) >= 4.5  # WCAG AA for text, on every cell colour


def test_sensitivity_heat_map_writes_every_cell_on_its_colour_with_its_words() -> None:
    import io

    from PIL import Image

    from advance_trial.config import load_config
    from advance_trial.output.render.plan_figures import sensitivity_heatmap, sensitivity_plot
    from tests.conftest import config_path

    cfg = load_config(config_path("advance-feasibility"))
    grid = _grid(missing=True)
    c = sensitivity_plot(cfg, grid)
    label = next(o.label for o in cfg.outcomes if o.id == "abi_physical")
    assert [t.words for t in c.texts("title")] == [f"{label}: men to randomise in all",
                                                   "abi sexual: men to randomise in all"]  # fmt: skip
    for i in (0, 1):
        assert [t.words for t in c.texts(f"row{i}")] == ["ICC 0", "ICC estimate 0.452", "ICC upper limit 0.835"]
        assert [t.words for t in c.texts(f"column{i}")] == [
            "SD estimate,", "retention estimate", "SD estimate,", "retention lower limit",
            "SD upper limit,", "retention estimate", "SD upper limit,", "retention lower limit"]  # fmt: skip
    cells = [s for s in c.items if isinstance(s, chart.Shape) and s.kind == "rect"]
    assert len(cells) == 24 - 1  # the missing cell is not drawn, nor is its count
    assert cells[0].points[1][0] > cells[1].points[0][0] and cells[0].points[1][1] > cells[4].points[0][1]  # no seam
    assert cells[-1].points[1][0] == pytest.approx(cells[15].points[0][0])  # none reaching into the missing cell
    assert cells[19].points[1][1] == pytest.approx(cells[-1].points[0][1])
    for i, outcome in enumerate(("abi_physical", "abi_sexual")):
        g = grid[grid["outcome"] == outcome]
        words = [t for t in c.texts(f"cell{i}")]
        assert [t.words for t in words] == [f"{v:,.0f}" for v in g["n_total"]]
        fills = chart.colour_scale([float(v) for v in g["n_total"]])
        assert [s.fill for s in cells[12 * i : 12 * i + len(g)]] == fills  # the panel's own scale
        assert fills[0] == "#ffffcc" and "#800026" in fills
        assert all(chart.contrast(t.colour, f) >= 4.5 for t, f in zip(words, fills, strict=True))
    assert not _inside(c) and not [t.words for t in c.texts() if "_" in t.words]  # no id drawn
    first, second = sensitivity_heatmap(cfg, grid), sensitivity_heatmap(cfg, grid)
    assert first == second and _chunks(first["png"]) == [b"IHDR", b"pHYs", b"IDAT", b"IEND"]
    svg = first["svg"].decode()
    assert "ICC estimate 0.452" in re.findall(r"<text[^>]*>([^<]*)</text>", svg) and "id=" not in svg
    long = grid.assign(outcome="a_" + "_".join(["very_long_outcome_label"] * 6))
    wrapped = sensitivity_plot(cfg, long)
    assert len(wrapped.texts("title")) == 2 and not _inside(wrapped)  # a long label wrapped onto the figure
    assert " ".join(t.words for t in wrapped.texts("title")).endswith("label: men to randomise in all")
    im = Image.open(io.BytesIO(first["png"])).convert("RGB")
    (x0, y0), (x1, y1) = cells[0].points
    k = 150 / 72
    assert im.getpixel((round((x0 + 3) * k), round((y0 + 3) * k))) == (255, 255, 204)  # the lightest cell
    (x0, y0), (x1, y1) = cells[11].points
    assert im.getpixel((round((x0 + 3) * k), round((y0 + 3) * k))) == (128, 0, 38)  # the darkest


def test_forecast_bands_fill_between_their_limits_and_mark_target_and_deadline() -> None:
    import io

    from PIL import Image

    from advance_trial.config import load_config
    from advance_trial.output.render.plan_figures import BAND80, BAND95, forecast_bands, forecast_plot
    from tests.conftest import config_path

    cfg = load_config(config_path("advance-feasibility"))
    bands = _bands(30.5)
    c = forecast_plot(cfg, bands)
    xs, ys = dict(c.scales)["x"], dict(c.scales)["y"]
    polys = [s for s in c.items if isinstance(s, chart.Shape) and s.kind == "poly"]
    assert [p.fill for p in polys] == [BAND95, BAND80]  # the wider band under the narrower
    for poly, lo, hi in zip(polys, ("lower95", "lower80"), ("upper95", "upper80"), strict=True):
        n = len(bands)
        assert poly.points[:n] == tuple((xs(m), ys(v)) for m, v in zip(bands["month"], bands[lo], strict=True))
        assert poly.points[n:] == tuple((xs(m), ys(v)) for m, v in zip(bands["month"], bands[hi], strict=True))[::-1]
    assert [t.words for t in c.texts("legend")] == ["95% predictive band", "80% predictive band", "Median"]
    assert [t.words for t in c.texts("target")] == ["target 446"]
    assert [t.words for t in c.texts("xlabel")] == ["Months from the first site's opening"]
    assert [t.words for t in c.texts("ylabel")] == ["Men randomised (cumulative)"]
    (dl,) = c.texts("deadline")
    assert dl.words == "deadline" and dl.angle == 90 and dl.anchor == "start" and dl.x < xs(30.5)
    dotted = [s for s in c.items if isinstance(s, chart.Shape) and s.dash == chart.DOTTED]
    assert [s.points[0][0] for s in dotted] == [pytest.approx(xs(30.5))]
    dashed = [s for s in c.items if isinstance(s, chart.Shape) and s.dash == chart.DASHED and s.stroke == "#b42318"]
    assert dashed[0].points[0][1] == pytest.approx(ys(446))
    assert min(t.y - chart.RISE * t.size for t in c.texts("legend")) > ys(446)  # the legend under the target's line
    assert ys.lo == 0 and ys.hi == pytest.approx(446 * 1.08) and xs.hi == 40
    assert not _inside(c)
    first = forecast_bands(cfg, bands)
    assert first == forecast_bands(cfg, bands) and _chunks(first["png"]) == [b"IHDR", b"pHYs", b"IDAT", b"IEND"]
    assert "deadline" in re.findall(r"<text[^>]*>([^<]*)</text>", first["svg"].decode())
    im = Image.open(io.BytesIO(first["png"])).convert("RGB")
    k = 150 / 72
    at = (round(xs(20) * k), round(ys(14 * 20 * 0.75) * k))  # between the 95% and the 80% lower limits
    assert im.getpixel(at) == (0xC6, 0xDB, 0xEF)
    at = (round(xs(20) * k), round(ys(14 * 20 * 0.9) * k))  # inside the 80% band
    assert im.getpixel(at) == (0x6B, 0xAE, 0xD6)
    without = forecast_plot(cfg, _bands())
    assert not without.texts("deadline") and not [s for s in without.items if isinstance(s, chart.Shape) and
                                                   s.dash == chart.DOTTED]  # fmt: skip


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
