"""``advance-trial run`` on the ADVANCE sample against R doing the core analyses on the same data.

Both run as fresh processes, alternately in one session: ``advance-trial run`` (every table,
figure and the report) and ``Rscript benchmarks/r_core.R`` (recruitment and retention proportions,
median attendance, the ANCOVA and the heteroscedastic nlme model). Also timed: ``run --no-report``,
and floors no implementation on this stack can go under, fresh processes that only import: pandas;
the least any table needs (pandas, scipy's special functions and optimiser, the CLI and config
layers); every module ``run`` loads in any of its processes (:data:`RUN_IMPORTS`); and issue 17's import floor
(pandas, scipy's special functions and optimiser, matplotlib's Agg and SVG backends, python-docx,
typer, rich, pydantic and yaml: no toolkit module). Targets: within 3 times R (issue 7); ``run`` at
most 1.8 times issue 17's floor. Without Rscript the R rows are left out.

Run: ``python benchmarks/bench_run_vs_r.py [--rounds N]`` (needs Rscript with nlme).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import timed  # noqa: E402

TABLE_IMPORTS = "import pandas, scipy.special, scipy.optimize, advance_trial.cli.main, advance_trial.config"
FLOOR_17 = ("import pandas, scipy.special, scipy.optimize, matplotlib.backends.backend_agg, "
            "matplotlib.backends.backend_svg, docx, typer, rich, pydantic, yaml")
#: Every module a run loads in any of its processes (the run's own and its two workers), imported by one
#: process: issue 38's import floor. Since the figures left matplotlib (issue 38), it is not among them;
#: python-docx and Pillow are (the Word file and the PNGs). Checked against ``python -X importtime`` of a
#: sample run: the modules it loads that this does not are a few of Pillow's plugins and codecs.
RUN_IMPORTS = (
    "import advance_trial.cli.main, advance_trial.cli.run_cmd, advance_trial.cli._render, advance_trial.pipeline, "
    "advance_trial.data.folder, advance_trial.analysis.baseline, advance_trial.analysis.scoring, "
    "advance_trial.feasibility.consort, advance_trial.feasibility.dose, advance_trial.feasibility.engagement, "
    "advance_trial.feasibility.harms, advance_trial.feasibility.posterior, advance_trial.feasibility.recruitment, "
    "advance_trial.feasibility.retention, advance_trial.feasibility.progression, advance_trial.feasibility.accrual, "
    "advance_trial.retention, advance_trial.outcomes.nested, advance_trial.outcomes.within, "
    "advance_trial.outcomes.glm, advance_trial.outcomes.imputation, advance_trial.planning.definitive, "
    "advance_trial.planning.forecast, advance_trial.output.pivots, advance_trial.output.render.workers, "
    "advance_trial.output.render.chart, advance_trial.output.render.figures, advance_trial.output.render.plan_figures, "
    "advance_trial.output.render.flow, advance_trial.output.render.files, advance_trial.checklist, "
    "advance_trial.randomisation.key, advance_trial.randomisation.methods, rich.progress, filelock, PIL.ImageDraw, "
    "PIL.ImageFont, PIL.PngImagePlugin, docx"
)


def _time(cmd: list[str]) -> float:
    return timed(cmd, ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with_r = shutil.which("Rscript") is not None
    exe = shutil.which("advance-trial") or "advance-trial"
    cfg, data = "configs/advance-feasibility.yaml", "data/sample/advance-feasibility"
    with tempfile.TemporaryDirectory() as tmp:
        cmds = {
            "R core analyses": ["Rscript", "benchmarks/r_core.R"],
            "floor: import pandas": [sys.executable, "-c", "import pandas"],
            "floor: tables' imports": [sys.executable, "-c", TABLE_IMPORTS],
            "floor: run's imports": [sys.executable, "-c", RUN_IMPORTS],
            "floor: issue 17's": [sys.executable, "-c", FLOOR_17],
            "run --no-report": [exe, "run", cfg, "--data", data, "--out", f"{tmp}/a", "--no-report"],
            "run (everything)": [exe, "run", cfg, "--data", data, "--out", f"{tmp}/b"],
        }
        if not with_r:
            del cmds["R core analyses"]
        for c in cmds.values():
            _time(c)  # warm caches
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.rounds):
            for k, c in cmds.items():
                times[k].append(_time(c))
    med = {k: statistics.median(v) for k, v in times.items()}
    r = med.get("R core analyses", float("nan"))
    floor17 = med["floor: issue 17's"]
    for k, v in med.items():
        print(f"{k:24s} median {v:6.2f} s  ({v / r:4.1f} x R, {v / floor17:4.2f} x issue 17's floor)")
    floor, least = med["floor: run's imports"], med["floor: tables' imports"]
    run = med["run (everything)"]
    if with_r:
        print(f"ratio run / R = {run / r:.1f} (target <= 3); run's imports alone = {floor / r:.1f} x R, "
              f"the least any table needs = {least / r:.1f} x R")  # fmt: skip
    print(f"ratio run / issue 17's import floor = {run / floor17:.2f} (target <= 1.8)")


if __name__ == "__main__":
    main()
