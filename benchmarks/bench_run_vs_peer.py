"""``advance-trial run`` on the ADVANCE sample against the R pipeline a statistician would write for it.

The peer is ``benchmarks/r_pipeline.R``: readr, prop.test, lm, nlme::lme with varIdent, four ggplot2
figures as SVG and PNG and six flextable tables in a Word file. Each round runs, as fresh processes and
alternately, ``advance-trial run`` (every table, figure and the report), the R pipeline, and the run's
import floor (a process importing what the run imports, issue 38's floor). Wall time and CPU time (the
children's user + system time) are measured for each; the medians and their ratios are printed.
Targets (issue 38): ``run`` at most 0.6 times the R pipeline's wall time and at most 2.5 times its
import floor.

With ``--against REV`` the run of that commit's ``advance_trial`` (unpacked from git, run by the same
interpreter) is timed in the same rounds, so that before and after compare side by side.

Run: ``python benchmarks/bench_run_vs_peer.py [--rounds N] [--against REV]`` (needs Rscript with readr, nlme, ggplot2,
svglite, flextable and officer: Debian's r-cran-* packages; never needed by the toolkit or CI).
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

from _timing import ENV  # noqa: E402
from bench_run_vs_r import RUN_IMPORTS  # noqa: E402


def wall_and_cpu(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one process run to completion (a failure raises)."""
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env or ENV)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--against", help="also time the run of this commit's advance_trial (before and after)")
    args = parser.parse_args()
    if shutil.which("Rscript") is None:
        sys.exit("bench_run_vs_peer: Rscript is not installed (apt-get install r-base-core r-cran-readr "
                 "r-cran-nlme r-cran-ggplot2 r-cran-svglite r-cran-flextable r-cran-officer)")  # fmt: skip
    beside = Path(sys.executable).with_name("advance-trial")  # the toolkit of the Python running this
    exe = str(beside) if beside.exists() else shutil.which("advance-trial") or "advance-trial"
    cfg, data = "configs/advance-feasibility.yaml", "data/sample/advance-feasibility"
    with tempfile.TemporaryDirectory() as tmp:
        cmds = {
            "advance-trial run": [exe, "run", cfg, "--data", data, "--out", f"{tmp}/run"],
            "R pipeline": ["Rscript", "benchmarks/r_pipeline.R", f"{tmp}/r"],
            "run's import floor": [sys.executable, "-c", RUN_IMPORTS],
        }
        envs: dict[str, dict[str, str]] = {}
        if args.against:  # the same command on the earlier commit's package, unpacked from git
            archive = subprocess.run(["git", "archive", args.against, "advance_trial"], cwd=ROOT, check=True,
                                     capture_output=True).stdout  # fmt: skip
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            before = f"run at {args.against}"
            cmds[before] = [exe, "run", cfg, "--data", data, "--out", f"{tmp}/before"]
            envs[before] = {**ENV, "PYTHONPATH": tmp}
        for k, c in cmds.items():
            wall_and_cpu(c, envs.get(k))  # warm caches; a failure of either pipeline stops here
        wall: dict[str, list[float]] = {k: [] for k in cmds}
        cpu: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.rounds):
            for k, c in cmds.items():
                w, u = wall_and_cpu(c, envs.get(k))
                wall[k].append(w)
                cpu[k].append(u)
    mw = {k: statistics.median(v) for k, v in wall.items()}
    mc = {k: statistics.median(v) for k, v in cpu.items()}
    for k in cmds:
        print(f"{k:20s} wall {mw[k]:6.2f} s   cpu {mc[k]:6.2f} s")
    run, peer, floor = "advance-trial run", "R pipeline", "run's import floor"
    print(f"run / R pipeline: wall {mw[run] / mw[peer]:.2f} (target <= 0.6), cpu {mc[run] / mc[peer]:.2f}")
    print(f"run / its import floor: wall {mw[run] / mw[floor]:.2f} (target <= 2.5)")
    if args.against:
        before = f"run at {args.against}"
        print(f"{before} / R pipeline: wall {mw[before] / mw[peer]:.2f}, cpu {mc[before] / mc[peer]:.2f}; "
              f"/ its import floor: wall {mw[before] / mw[floor]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
