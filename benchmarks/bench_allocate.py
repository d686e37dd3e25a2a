"""Throughput of concurrent ``allocate`` calls on one allocation log, now and at a baseline commit.

P worker processes start together and each allocates its own men into one log (each step under the
trial's lock: verify the whole log, append one authenticated row, commit, move the checkpoint); the
log is verified afterwards. Printed: processes, allocations, wall time and allocations per second, for
P = 1, 2 and 4. With ``--baseline REV`` the same benchmark of that commit (its own
``benchmarks/bench_allocate.py``, from ``git archive``) runs in the same session, and the ratios are
printed side by side.

Run: ``python benchmarks/bench_allocate.py [--per-process N] [--baseline REV]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CONFIG = ROOT / "configs" / "advance-feasibility.yaml"
SITES = ("london", "wolverhampton", "bristol")


def _worker(args: tuple[str, str, int, int, float]) -> int:
    config, keys, worker, n, start = args
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import allocate, trial_key

    cfg = load_config(config)
    ring = trial_key(cfg, keys)
    while time.time() < start:
        time.sleep(0.001)
    for i in range(n):
        allocate(cfg, ring, f"AF{worker}{i:04d}", SITES[i % 3])
    return n


def _trial(folder: Path) -> tuple[Path, Path]:
    """A config with a fresh key and log of its own in ``folder``."""
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import init_log
    from advance_trial.randomisation.key import create_key

    keys = folder / "keys"
    ring = create_key(keys, "advance-feasibility")
    text = CONFIG.read_text()
    text = re.sub(r"key_fingerprint: [0-9a-f]{64}", f"key_fingerprint: {ring.fingerprint}", text)
    text = re.sub(r"^  log: .*$", "  log: ../log/log.sqlite", text, flags=re.M)
    config = folder / "configs" / "trial.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(text)
    init_log(load_config(config), ring, folder / "log" / "log.sqlite")
    return config, keys


def run(processes: int, per_process: int, folder: Path) -> tuple[int, float]:
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import trial_key, verify_log

    config, keys = _trial(folder)
    start = time.time() + 1.5
    with mp.get_context("spawn").Pool(processes) as pool:
        done = pool.map(_worker, [(str(config), str(keys), w, per_process, start) for w in range(processes)])
        elapsed = time.time() - start
    cfg = load_config(config)
    assert verify_log(cfg, trial_key(cfg, keys)).allocations == sum(done)
    return sum(done), elapsed


def baseline(rev: str, per_process: int) -> dict[int, float]:
    """Allocations per second at commit ``rev``, from its own benchmark script."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        out = subprocess.run([sys.executable, "benchmarks/bench_allocate.py", "--per-process", str(per_process)],
                             cwd=tmp, check=True, capture_output=True, text=True, env={"PYTHONPATH": tmp,
                             "PATH": "/usr/bin:/bin"}).stdout  # fmt: skip
    return {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"(\d) process\(es\).* = (\d+) allocations/s", out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-process", type=int, default=100)
    parser.add_argument("--baseline", default=None, help="A commit to measure side by side (e.g. 061deff).")
    args = parser.parse_args()
    before = baseline(args.baseline, args.per_process) if args.baseline else {}
    with tempfile.TemporaryDirectory() as tmp:
        for p in (1, 2, 4):
            n, secs = run(p, args.per_process, Path(tmp) / f"p{p}")
            rate = n / secs
            line = f"{p} process(es): {n} allocations in {secs:.2f} s = {rate:.0f} allocations/s (log verified)"
            if p in before:
                line += f"; baseline {args.baseline}: {before[p]:.0f}/s, ratio now/baseline {rate / before[p]:.2f}"
            print(line)


if __name__ == "__main__":
    main()
