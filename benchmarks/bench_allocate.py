"""Throughput of concurrent ``allocate`` calls on one allocation log, now and at a baseline, side by side.

P worker processes start together, once each has imported the toolkit and read its config and key (the clock
starts then: a process's start-up is no allocation, and with 4 processes on 2 cores it used to take longer
than the allocations timed), and each allocates its own men into one log (each step under the trial's lock:
verify the log from the last step, append one authenticated row, commit, move the checkpoint); the clock stops
when the last writer is done, and the log is verified in full afterwards. (Since issue 38 a writer that finds
another's step under way leaves its request for that step, which makes it with its own: group commit across
processes, ``advance_trial/randomisation/together.py``; since issue 38's second round it is answered by a bell, a
named pipe beside its request, and no longer waits for the lock, which the next step may hold, to take its
answer; since its third, the answer is carried by the bell itself (no answer file), a step made together leaves
the checkpoint open so that the next names nothing before its commit (two flushes a step, however many rows),
each receipt is signed by the process that asked, without the lock, and a step waiting for the processes it
answered last is woken by a knock on the folder's door.) Printed: allocations per second for
P = 1, 2 and 4 writers. With ``--baseline DIR`` (a checkout of another commit with its own virtual
environment, e.g. ``git worktree add --detach /tmp/base main``), each measurement is taken in turn of that
tree (its code, run by its own ``.venv/bin/python``, measured by this script) and of this one, ``--rounds``
times, alternating; medians and the ratios now/baseline are printed, and whether throughput falls as writers
are added (4 writers against 1).

Run: ``python benchmarks/bench_allocate.py [--per-process N] [--rounds R] [--baseline DIR]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
#: The tree measured: this one, or (in the processes this script starts for ``--baseline``) the baseline's.
ROOT = Path(os.environ.get("ADVANCE_BENCH_TREE") or HERE)
sys.path.insert(0, str(ROOT))
CONFIG = ROOT / "configs" / "advance-feasibility.yaml"
SITES = ("london", "wolverhampton", "bristol")
WRITERS = (1, 2, 4)


def _worker(config: str, keys: str, worker: int, n: int, ready: Any, done: Any) -> None:
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import allocate, trial_key

    cfg = load_config(config)
    ring = trial_key(cfg, keys)
    ready.wait()  # every writer has imported, read its config and key: only allocations are timed
    for i in range(n):
        allocate(cfg, ring, f"AF{worker}{i:04d}", SITES[i % 3])
    done.put((n, time.perf_counter()))


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
    """``processes`` writers, started together once each has imported the toolkit and read its config and key
    (a process's start-up is not allocation: with 4 processes on 2 cores it took longer than the allocations);
    the allocations and the seconds from the start to the last writer's end."""
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import trial_key, verify_log

    config, keys = _trial(folder)
    ctx = mp.get_context("spawn")
    ready, done = ctx.Barrier(processes + 1), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(str(config), str(keys), w, per_process, ready, done))
               for w in range(processes)]  # fmt: skip
    for w in workers:
        w.start()
    ready.wait()
    start = time.perf_counter()
    ends = [done.get(timeout=600) for _ in workers]
    for w in workers:
        w.join()
        assert w.exitcode == 0, w.exitcode
    elapsed = max(t for _, t in ends) - start
    total = sum(n for n, _ in ends)
    cfg = load_config(config)
    assert verify_log(cfg, trial_key(cfg, keys)).allocations == total
    return total, elapsed


def measure(tree: Path, processes: int, per_process: int) -> float:
    """Allocations per second of ``tree`` (its code, in its own interpreter), measured by this script."""
    python = tree / ".venv" / "bin" / "python"
    cmd = [str(python if python.exists() else sys.executable), str(Path(__file__).resolve()),
           "--per-process", str(per_process), "--only", str(processes)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(tree), "ADVANCE_BENCH_TREE": str(tree)}
    out = subprocess.run(cmd, cwd=tree, check=True, capture_output=True, text=True, env=env).stdout
    found = re.search(rf"{processes} process\(es\).* = (\d+(?:\.\d+)?) allocations/s", out)
    assert found is not None, out
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-process", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds with --baseline (default 3)")
    parser.add_argument("--baseline", type=Path, default=None, help="a checkout of the commit to compare with")
    parser.add_argument("--only", type=int, default=None, help=argparse.SUPPRESS)  # one P, this tree, once
    args = parser.parse_args()
    if args.baseline is None or args.only is not None:
        once: dict[int, float] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for p in (args.only,) if args.only else WRITERS:
                n, secs = run(p, args.per_process, Path(tmp) / f"p{p}")
                once[p] = n / secs
                print(f"{p} process(es): {n} allocations in {secs:.2f} s = {n / secs:.1f} allocations/s (log verified)")
        if args.only is None:
            print(f"4 writers / 1 writer = {once[4] / once[1]:.2f} (2 / 1 = {once[2] / once[1]:.2f})")
        return
    base = args.baseline.resolve()
    if not (base / "advance_trial").is_dir():
        sys.exit(f"{base}: not a checkout of advance-trial")
    rates: dict[tuple[str, int], list[float]] = {}
    for r in range(args.rounds):
        for p in WRITERS:
            order = [("baseline", base), ("now", ROOT)] if r % 2 == 0 else [("now", ROOT), ("baseline", base)]
            for name, tree in order:
                rates.setdefault((name, p), []).append(measure(tree, p, args.per_process))
    print(f"{args.per_process} allocations per writer, {args.rounds} alternating round(s), medians; "
          f"baseline {base}")  # fmt: skip
    print(f"{'writers':>7} {'baseline/s':>11} {'now/s':>8} {'now/baseline':>13}   each round (baseline | now)")
    med = {k: statistics.median(v) for k, v in rates.items()}
    for p in WRITERS:
        b, n = med[("baseline", p)], med[("now", p)]
        rounds = " ".join(f"{r:.0f}" for r in rates[("baseline", p)]) + " | "
        rounds += " ".join(f"{r:.0f}" for r in rates[("now", p)])
        print(f"{p:>7} {b:>11.1f} {n:>8.1f} {n / b:>13.2f}   {rounds}")
    for name in ("baseline", "now"):
        two, four = med[(name, 2)] / med[(name, 1)], med[(name, 4)] / med[(name, 1)]
        verdict = "does not fall" if min(two, four) >= 1.0 else "falls"
        print(f"{name}: 4 writers / 1 writer = {four:.2f} (2 / 1 = {two:.2f}): throughput {verdict} "
              "as writers are added")  # fmt: skip


if __name__ == "__main__":
    main()
