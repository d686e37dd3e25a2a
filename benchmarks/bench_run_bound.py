"""How close ``advance-trial run`` can come to issue 17's import floor: a lower bound, measured in one run.

``run`` must import its libraries (issue 17's floor: pandas, scipy's special functions and optimiser,
matplotlib's Agg and SVG backends, python-docx, typer, rich, pydantic, yaml), then read the data, compute
every table and analysis, and draw every figure as SVG and PNG with matplotlib. Even if everything after the
imports ran perfectly in parallel on the machine's cores with no overhead at all (no toolkit import, no
report, no writing, no process start), the run could not take less than

    floor + (read + tables and analyses + figures) / cores

where each term is measured here as CPU seconds in a warm process (figures drawn once first, so that
matplotlib's caches are full). The bound's ratio to the floor is printed beside the real run's, from the
same session (the machine is noisy; only ratios compare).

Run: ``python benchmarks/bench_run_bound.py [--rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import ENV, timed  # noqa: E402
from bench_run_vs_r import FLOOR_17  # noqa: E402

WORK = """
import time, warnings
warnings.simplefilter("ignore")
from advance_trial.config import load_config
from advance_trial.data.canonical import read_canonical
from advance_trial.analysis.subjects import analysis_data
from advance_trial.pipeline import all_tables
from advance_trial.output.render.workers import figure_jobs, draw
cfg = load_config("configs/advance-feasibility.yaml")
read_canonical(cfg, "data/sample/advance-feasibility")
t0 = time.process_time()
data = read_canonical(cfg, "data/sample/advance-feasibility")
t1 = time.process_time()
tables = all_tables(cfg, analysis_data(cfg, data), "site")
t2 = time.process_time()
jobs = figure_jobs(tables)
for stem, drawer, frame in jobs:
    draw(cfg, drawer, frame)
t3 = time.process_time()
for stem, drawer, frame in jobs:
    draw(cfg, drawer, frame)
t4 = time.process_time()
print(t1 - t0, t2 - t1, t4 - t3, len(jobs))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    beside = Path(sys.executable).with_name("advance-trial")  # the toolkit of the Python running this
    exe = str(beside) if beside.exists() else shutil.which("advance-trial") or "advance-trial"
    floor_cmd = [sys.executable, "-c", FLOOR_17]
    floors, runs, work = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        run_cmd = [exe, "run", "configs/advance-feasibility.yaml", "--data", "data/sample/advance-feasibility",
                   "--out", f"{tmp}/out"]  # fmt: skip
        timed(floor_cmd, ROOT)
        timed(run_cmd, ROOT)
        for _ in range(args.rounds):
            floors.append(timed(floor_cmd, ROOT))
            runs.append(timed(run_cmd, ROOT))
            out = subprocess.run([sys.executable, "-c", WORK], cwd=ROOT, env={**ENV, "PYTHONPATH": str(ROOT)},
                                 capture_output=True, text=True, check=True)  # fmt: skip
            read, tables, figures, n = out.stdout.split()
            work.append((float(read), float(tables), float(figures), int(n)))
            time.sleep(0.1)
    floor, run = statistics.median(floors), statistics.median(runs)
    read, tables, figures = (statistics.median(w[i] for w in work) for i in range(3))
    bound = floor + (read + tables + figures) / cores
    print(f"issue 17's import floor          {floor:6.2f} s")
    print(f"CPU after the imports: read {read:.2f} s, tables and analyses {tables:.2f} s, "
          f"{work[0][3]} figures (SVG + PNG) {figures:.2f} s")  # fmt: skip
    print(f"lower bound on {cores} cores            {bound:6.2f} s  = {bound / floor:.2f} x the floor")
    print(f"advance-trial run                {run:6.2f} s  = {run / floor:.2f} x the floor (target <= 1.8)")


if __name__ == "__main__":
    main()
