"""``advance-trial run`` on the ADVANCE sample against R doing the core analyses on the same data.

Both run as fresh processes, alternately in one session: ``advance-trial run`` (every table,
figure and the report) and ``Rscript benchmarks/r_core.R`` (recruitment and retention proportions,
median attendance, the ANCOVA and the heteroscedastic nlme model). Also timed: ``run --no-report``,
and floors no implementation on this stack can go under, fresh processes that only import: pandas;
the least any table needs (pandas, scipy's special functions and optimiser, the CLI and config
layers); and every library ``run`` loads (adding matplotlib and python-docx). The target (issue 7):
within 3 times R.

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
RUN_IMPORTS = (
    "import advance_trial.cli.run_cmd, advance_trial.pipeline, advance_trial.outcomes, scipy.optimize, "
    "matplotlib.figure, matplotlib.backends.backend_agg, matplotlib.backends.backend_svg, docx"
)


def _time(cmd: list[str]) -> float:
    return timed(cmd, ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("Rscript") is None:
        sys.exit("Rscript not found: apt-get install r-base-core r-cran-nlme")
    exe = shutil.which("advance-trial") or "advance-trial"
    cfg, data = "configs/advance-feasibility.yaml", "data/sample/advance-feasibility"
    with tempfile.TemporaryDirectory() as tmp:
        cmds = {
            "R core analyses": ["Rscript", "benchmarks/r_core.R"],
            "floor: import pandas": [sys.executable, "-c", "import pandas"],
            "floor: tables' imports": [sys.executable, "-c", TABLE_IMPORTS],
            "floor: run's imports": [sys.executable, "-c", RUN_IMPORTS],
            "run --no-report": [exe, "run", cfg, "--data", data, "--out", f"{tmp}/a", "--no-report"],
            "run (everything)": [exe, "run", cfg, "--data", data, "--out", f"{tmp}/b"],
        }
        for c in cmds.values():
            _time(c)  # warm caches
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.rounds):
            for k, c in cmds.items():
                times[k].append(_time(c))
    med = {k: statistics.median(v) for k, v in times.items()}
    r = med["R core analyses"]
    for k, v in med.items():
        print(f"{k:24s} median {v:6.2f} s  ({v / r:4.1f} x R)")
    floor, least = med["floor: run's imports"], med["floor: tables' imports"]
    ratio = med["run (everything)"] / r
    print(
        f"ratio run / R = {ratio:.1f} (target <= 3); run's imports alone = {floor / r:.1f} x R, "
        f"the least any table needs = {least / r:.1f} x R"
    )


if __name__ == "__main__":
    main()
