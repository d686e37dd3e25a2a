"""Start-up cost of ``advance-trial --help`` against a bare ``python -c "import typer"``.

Both commands run alternately in the same session (this machine is shared and noisy),
and the ratio of their medians is printed. The target (issue 2) is about 1.5 or less.

Run: ``python benchmarks/bench_help.py [--rounds N]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def _time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    script = shutil.which("advance-trial")
    ours = [script, "--help"] if script else [sys.executable, "-m", "advance_trial", "--help"]
    bare = [sys.executable, "-c", "import typer"]
    _time(ours), _time(bare)  # warm the file cache
    a, b = [], []
    for _ in range(args.rounds):
        a.append(_time(ours))
        b.append(_time(bare))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"advance-trial --help     median {ma * 1000:7.1f} ms over {args.rounds} runs")
    print(f"python -c 'import typer' median {mb * 1000:7.1f} ms over {args.rounds} runs")
    print(f"ratio {ma / mb:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
