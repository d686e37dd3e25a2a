"""CPU time of the run's figures (SVG and PNG each), this tree against an earlier commit, side by side.

Each round runs, alternately, a fresh process per tree (this working tree, and ``--against``'s
``advance_trial`` unpacked from git into a temporary folder) that reads the ADVANCE sample, computes every
table, draws each figure once (its first draw: the CPU time of the imports and caches it needs included,
matplotlib's for a figure that still uses it), then draws every figure ``--reps`` times and prints the
least CPU time of each. The medians over the rounds are printed per figure, with the six figures issue 38
names (CONSORT, attendance, engagement, accrual, retention, forest), the two planning figures (sensitivity
heat map, recruitment forecast), all eight, and all eight's first draws, each with the ratio after / before.
Target (issue 38 part 2): the six figures in at most a third of the CPU time they took before (``0d3473a``,
the commit this work started from, whose planning figures are matplotlib's as they were until they moved
onto the chart canvas).

Run: ``python benchmarks/bench_figures.py [--against REV] [--rounds 3] [--reps 3]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import ENV  # noqa: E402

SIX = ("consort", "attendance", "engagement", "accrual", "retention", "forest")
PLANNING = ("plan_sensitivity", "recruitment_forecast")

WORK = """
import json, os, sys, time, warnings
sys.path.insert(0, os.environ["FIGURES_TREE"])  # before the working folder, which holds this tree's package
warnings.simplefilter("ignore")
from advance_trial.config import load_config
from advance_trial.data.canonical import read_canonical
from advance_trial.analysis.subjects import analysis_data
from advance_trial.pipeline import all_tables
from advance_trial.output.render.workers import figure_jobs, draw
cfg = load_config("configs/advance-feasibility.yaml")
tables = all_tables(cfg, analysis_data(cfg, read_canonical(cfg, "data/sample/advance-feasibility")), "site")
jobs = figure_jobs(tables)
first = {}
for stem, drawer, frame in jobs:
    t = time.process_time()
    draw(cfg, drawer, frame)
    first["first:" + stem] = time.process_time() - t
best = dict(first)
for _ in range(int(sys.argv[1])):
    for stem, drawer, frame in jobs:
        t = time.process_time()
        draw(cfg, drawer, frame)
        best[stem] = min(best.get(stem, float("inf")), time.process_time() - t)
import advance_trial
print(json.dumps(best | {"_from": advance_trial.__file__}))
"""


def measure(tree: Path, reps: int) -> dict[str, float]:
    """Least CPU seconds of each figure, drawn by the ``advance_trial`` package in ``tree``."""
    out = subprocess.run([sys.executable, "-c", WORK, str(reps)], cwd=ROOT, env={**ENV, "FIGURES_TREE": str(tree)},
                         capture_output=True, text=True, check=True)  # fmt: skip
    best = json.loads(out.stdout.strip().splitlines()[-1])
    if not best.pop("_from").startswith(str(tree)):
        raise SystemExit(f"bench_figures: the package drawn was not the one in {tree}")
    return {k: float(v) for k, v in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="0d3473a", help="the commit to compare with (default: before issue 38)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", args.against, "advance_trial"], cwd=ROOT, capture_output=True,
                                 check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {"before": Path(tmp), "after": ROOT}
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                runs[name].append(measure(tree, args.reps))
    med = {k: {s: statistics.median(r[s] for r in v) for s in v[0]} for k, v in runs.items()}
    stems = [s for s in dict.fromkeys([*med["before"], *med["after"]]) if not s.startswith("first:")]
    print(f"{'figure (SVG + PNG)':28s} {'before':>8s} {'after':>8s} {'after/before':>13s}")
    for s in stems:
        b, a = med["before"].get(s, float("nan")), med["after"].get(s, float("nan"))
        print(f"{s:28s} {b:8.3f} {a:8.3f} {a / b:13.2f}")
    firsts = [f"first:{s}" for s in stems]
    for label, names in (("six figures", SIX), ("planning figures", PLANNING), ("all figures", stems),
                         ("planning, first draws", [f"first:{s}" for s in PLANNING]),
                         ("all, first draws", firsts)):  # fmt: skip
        b, a = (sum(med[k].get(s, 0.0) for s in names) for k in ("before", "after"))
        print(f"{label:28s} {b:8.3f} {a:8.3f} {a / b:13.2f}" + ("  (target <= 0.33)" if label == "six figures" else ""))
    print("(first draws: each figure's first in a fresh process, with the imports and caches it needs)")
    print(f"CPU seconds, medians of {args.rounds} alternating rounds of the least of {args.reps} draws; "
          f"before = {args.against}")  # fmt: skip


if __name__ == "__main__":
    main()
