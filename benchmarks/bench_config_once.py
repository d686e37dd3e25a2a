"""Nothing done twice: how often a command parses the config, and what that costs, before and after.

Runs a command (``run`` of the sample by default) in a fresh process for each of two trees of the
toolkit, alternating: *before* (the commit this work started from, unpacked with ``git archive``) and
*after* (this checkout). Each process counts the calls of ``advance_trial.config.yamlsource.parse_yaml``
and their seconds (the YAML parse; which loader it uses is printed), the command's wall time, and the
table melts of the results data set (``output.ard._long_rows`` calls: one per display table when the
results data set is built once). Prints each side's medians and the ratios after/before.

Also times ``plan`` of the sample the same way (``--plan``).

Run: ``python benchmarks/bench_config_once.py [--pairs 3] [--before REV] [--plan]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import ENV

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "advance-feasibility.yaml"
DATA = ROOT / "data" / "sample" / "advance-feasibility"
#: The commit before the registry of steps and the parse-once config (issue 31 part 5, issue 38 part 3).
BEFORE = "0d3473a"

PROBE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import advance_trial
assert advance_trial.__file__.startswith(sys.argv[1]), advance_trial.__file__
import advance_trial.config.yamlsource as ys
import advance_trial.output.ard as ard
import advance_trial.config.loader as ld
stats = {"parses": 0, "parse_s": 0.0, "melts": 0}
parse, melt = ys.parse_yaml, ard._long_rows
def counted_parse(*a, **k):
    t = time.perf_counter()
    try:
        return parse(*a, **k)
    finally:
        stats["parses"] += 1
        stats["parse_s"] += time.perf_counter() - t
def counted_melt(*a, **k):
    stats["melts"] += 1
    return melt(*a, **k)
ys.parse_yaml = counted_parse
if hasattr(ld, "parse_yaml"):
    ld.parse_yaml = counted_parse
ard._long_rows = counted_melt
import yaml
stats["loader"] = getattr(ys, "FAST_LOADER", yaml.SafeLoader).__name__
from advance_trial.cli.main import app
t = time.perf_counter()
try:
    app(sys.argv[2:], standalone_mode=False)
finally:
    stats["wall_s"] = time.perf_counter() - t
    print("BENCH" + json.dumps(stats), file=sys.stderr)
"""


def once(tree: Path, args: list[str]) -> dict[str, float]:
    """One command in a fresh process importing ``tree``'s toolkit (``OUT``: a new folder); its counts and
    seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [str(Path(tmp) / "out") if a == "OUT" else a for a in args]
        done = subprocess.run([sys.executable, "-c", PROBE, str(tree), *argv], env=ENV, cwd=ROOT,
                              capture_output=True, text=True)  # fmt: skip
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("BENCH")]
    if not lines:
        raise SystemExit(f"{tree}: {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(lines[-1][5:]))


def compare(name: str, trees: dict[str, Path], args: list[str], pairs: int) -> None:
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for _ in range(pairs):
        for side, tree in trees.items():
            runs[side].append(once(tree, args))
    med = {side: {k: statistics.median(float(r[k]) for r in rs) for k in ("parses", "parse_s", "melts", "wall_s")}
           for side, rs in runs.items()}  # fmt: skip
    print(f"\n{name}: advance-trial {' '.join(args)}  (medians of {pairs} alternating pairs)")
    print(f"{'':>8} {'parses':>7} {'parse s':>8} {'melts':>6} {'wall s':>7}  loader")
    for side in trees:
        m = med[side]
        print(f"{side:>8} {m['parses']:7.0f} {m['parse_s']:8.3f} {m['melts']:6.0f} {m['wall_s']:7.2f}  "
              f"{runs[side][0]['loader']}")  # fmt: skip
    b, a = med["before"], med["after"]
    print(f"{'after/before':>12}: parse time {a['parse_s'] / b['parse_s']:.3f}x, wall {a['wall_s'] / b['wall_s']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--before", default=BEFORE, help="the git revision to compare with")
    parser.add_argument("--plan", action="store_true", help="also time `plan` of the sample")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "archive", opts.before, "advance_trial"], cwd=ROOT, capture_output=True,
                                 check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        trees = {"before": before, "after": ROOT}
        compare("run", trees, ["run", str(CONFIG), "--data", str(DATA), "--out", "OUT"], opts.pairs)
        if opts.plan:
            compare("plan", trees, ["plan", str(CONFIG), "--data", str(DATA)], opts.pairs)


if __name__ == "__main__":
    main()
