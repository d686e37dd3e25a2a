"""The parts of a 100,000-men run that issue 38 names, in CPU seconds, before and after.

Reading the canonical files (and, within it, the cross-file checks), building the analysis data sets
(therapy groups among them), multiple imputation of one outcome and its baseline (20 imputations of 10
rounds, the ADVANCE config's) and writing the per-man table and the scores (155,000 rows) as CSV, each
timed in-process by CPU time, which a busy machine disturbs far less than wall time. The data are those
of ``bench_scale.py``; with ``--baseline`` (a checkout of an older commit, e.g. ``git archive REV | tar
-x -C /tmp/base``) both are run, alternating, and printed side by side (medians of ``--repeats``).

Run: ``python benchmarks/bench_scale_parts.py [--men 100000] [--baseline /tmp/base] [--repeats 1]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import ENV  # noqa: E402
from bench_scale import make_data  # noqa: E402

PARTS = (
    "read_canonical",
    "  of which cross_checks",
    "analysis_data",
    "multiple_imputation",
    "to_csv_bytes",
    "to_csv_bytes scores",
)

CHILD = """
import json, resource, sys, time
import advance_trial  # first: it pins BLAS to one thread, as a run has it, before numpy loads
import numpy as np
from advance_trial.config import load_config
from advance_trial.data.canonical import read_canonical
from advance_trial.analysis.subjects import analysis_data
from advance_trial.outcomes.imputation import impute
from advance_trial.output.tables import to_csv_bytes
import advance_trial.data.canonical as canonical
cfg = load_config(sys.argv[1])
checks = canonical.cross_checks
t_checks = []
def timed_checks(*a, **k):  # the cross-file checks, inside read_canonical
    t = time.process_time(); out = checks(*a, **k); t_checks.append(time.process_time() - t); return out
canonical.cross_checks = timed_checks
def peak_kib():  # VmHWM: ru_maxrss survives exec and would give the parent's peak (it made the data)
    import re
    found = re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())
    return int(found.group(1)) if found else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def cpu(f):
    t = time.process_time(); out = f(); return time.process_time() - t, out
t_read, data = cpu(lambda: read_canonical(cfg, sys.argv[2]))
t_ads, ads = cpu(lambda: analysis_data(cfg, data))
men = ads.men
outcome = cfg.outcomes[0].id
y, base = men[f"y_{outcome}"].to_numpy(float), men[f"base_{outcome}"].to_numpy(float)
arm = men["intervention"].to_numpy(float)
site = men["site"].astype(str).to_numpy()
complete = np.column_stack([np.ones(len(men)), arm] + [(site == s).astype(float) for s in sorted(set(site))[1:]])
t_mi, _ = cpu(lambda: impute(np.random.default_rng(1), complete, np.column_stack([y, base]), 20, 10))
t_csv, _ = cpu(lambda: to_csv_bytes(men))
t_scores, _ = cpu(lambda: to_csv_bytes(ads.scores))
print(json.dumps({"read_canonical": t_read, "  of which cross_checks": sum(t_checks), "analysis_data": t_ads,
                  "multiple_imputation": t_mi, "to_csv_bytes": t_csv, "to_csv_bytes scores": t_scores,
                  "peak_mib": peak_kib() / 1024}))
"""


def measure(code_root: Path, data: Path) -> dict[str, float]:
    """CPU seconds of each part, and the process's peak memory, for the toolkit in ``code_root``."""
    cfg = ROOT / "configs" / "advance-feasibility.yaml"
    env = ENV | {"PYTHONPATH": str(code_root)}
    res = subprocess.run([sys.executable, "-c", CHILD, str(cfg), str(data)], check=True, capture_output=True,
                         text=True, cwd=code_root, env=env)  # fmt: skip
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--men", type=int, default=100_000)
    parser.add_argument("--baseline", type=Path, help="a checkout of the code to compare with (before)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    sides = {"after": ROOT} | ({"before": args.baseline.resolve()} if args.baseline else {})
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        make_data(data, args.men)
        runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
        for r in range(args.repeats):
            for side in list(sides) if r % 2 == 0 else list(reversed(sides)):
                runs[side].append(measure(sides[side], data))
    med = {side: {k: float(np.median([g[k] for g in got])) for k in (*PARTS, "peak_mib")} for side, got in runs.items()}
    print(f"{args.men} men, CPU seconds (medians of {args.repeats}):")
    for part in (*PARTS, "peak_mib"):
        line = f"  {part:<24}"
        for side in ("before", "after"):
            if side in med:
                line += f" {side} {med[side][part]:8.2f}"
        if "before" in med and med["after"][part] > 0:
            line += f"   {med['before'][part] / med['after'][part]:.1f}x faster" if part != "peak_mib" else ""
        print(line)


if __name__ == "__main__":
    main()
