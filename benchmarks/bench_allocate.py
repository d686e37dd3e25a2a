"""Throughput of concurrent ``allocate`` calls on one allocation log.

P worker processes start together and each allocates its own participants into one SQLite log
(immediate transactions, WAL, synchronous=FULL); the log is verified afterwards. Printed: processes,
allocations, wall time and allocations per second, for P = 1, 2 and 4 in the same session.

Run: ``python benchmarks/bench_allocate.py [--per-process N] [--dir DIR]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CONFIG = ROOT / "configs" / "advance-feasibility.yaml"


def _worker(args: tuple[str, int, int, float]) -> int:
    log, worker, n, start = args
    from advance_trial.allocation_log import allocate
    from advance_trial.config import load_config

    cfg = load_config(CONFIG)
    while time.time() < start:
        time.sleep(0.001)
    sites = ("london", "wolverhampton", "bristol")
    for i in range(n):
        allocate(log, cfg, f"W{worker}-{i:05d}", sites[i % 3], by=f"worker{worker}")
    return n


def run(processes: int, per_process: int, folder: Path) -> tuple[int, float]:
    log = folder / f"bench-{processes}.sqlite"
    start = time.time() + 1.5
    with mp.get_context("spawn").Pool(processes) as pool:
        done = pool.map(_worker, [(str(log), w, per_process, start) for w in range(processes)])
        elapsed = time.time() - start
    from advance_trial.allocation_replay import verify_log
    from advance_trial.config import load_config

    report = verify_log(log, load_config(CONFIG))
    assert report.allocations == sum(done)
    return sum(done), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-process", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None, help="Folder for the logs (default: a temporary one).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for p in (1, 2, 4):
            n, secs = run(p, args.per_process, Path(tmp))
            print(f"{p} process(es): {n} allocations in {secs:.2f} s = {n / secs:.0f} allocations/s (log verified)")


if __name__ == "__main__":
    main()
