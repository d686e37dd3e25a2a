"""``randomise assess`` (vectorised across trials) against per-participant Python loops.

All simulate the ADVANCE design (stratified permuted blocks of 2 and 4 by three sites, 1:1)
for the same number of trials of 104 participants, alternately in one session, and compute the
same statistics (final and maximum imbalance, correct guesses). Timed in-process (the simulation
alone) and as whole processes: ``advance-trial randomise assess CONFIG --n-trials N
--participants 104`` against ``python benchmarks/bench_assess.py --loop numpy`` (one draw at a
time from numpy's Generator, as assess draws) and ``--loop stdlib`` (the standard library's
``random``, the fastest plain loop), with the import floor of the command (a process importing
typer, numpy and the config layer). Targets: 10,000 trials well under a second (issue 3); the
command at least 5 times faster than a plain loop, both as whole processes (issue 17).

Run: ``python benchmarks/bench_assess.py [--trials N] [--rounds N]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _timing import timed  # noqa: E402


def loop(n_trials: int, n: int, seed: int) -> tuple[float, float, float]:
    """One participant at a time: draw a site, take the next entry of its block list."""
    import numpy as np

    rng = np.random.default_rng(seed)
    finals, maxima, hits = [], [], 0.0
    for _ in range(n_trials):
        lists: list[list[int]] = [[], [], []]
        used = [0, 0, 0]
        per_site = [[0, 0], [0, 0], [0, 0]]
        total = [0, 0]
        worst = 0
        for _ in range(n):
            s = int(rng.integers(3))
            if used[s] == len(lists[s]):
                size = (2, 4)[int(rng.integers(2))]
                lists[s].extend(int(a) for a in rng.permutation([0] * (size // 2) + [1] * (size // 2)))
            arm = lists[s][used[s]]
            used[s] += 1
            c = per_site[s]
            hits += 0.5 if c[0] == c[1] else float(arm == (0 if c[0] < c[1] else 1))
            c[arm] += 1
            total[arm] += 1
            worst = max(worst, abs(total[0] - total[1]))
        finals.append(abs(total[0] - total[1]))
        maxima.append(worst)
    return sum(finals) / n_trials, sum(maxima) / n_trials, hits / (n_trials * n)


def stdlib_loop(n_trials: int, n: int, seed: int) -> tuple[float, float, float]:
    """The same loop with the standard library's generator: no numpy call per draw."""
    rnd = random.Random(seed)
    finals = maxima = 0
    hits = 0.0
    for _ in range(n_trials):
        lists: list[list[int]] = [[], [], []]
        used = [0, 0, 0]
        per_site = [[0, 0], [0, 0], [0, 0]]
        total = [0, 0]
        worst = 0
        for _ in range(n):
            s = rnd.randrange(3)
            if used[s] == len(lists[s]):
                block = [0, 1] if rnd.randrange(2) == 0 else [0, 0, 1, 1]
                rnd.shuffle(block)
                lists[s].extend(block)
            arm = lists[s][used[s]]
            used[s] += 1
            c = per_site[s]
            hits += 0.5 if c[0] == c[1] else float(arm == (0 if c[0] < c[1] else 1))
            c[arm] += 1
            total[arm] += 1
            d = abs(total[0] - total[1])
            if d > worst:
                worst = d
        finals += abs(total[0] - total[1])
        maxima += worst
    return finals / n_trials, maxima / n_trials, hits / (n_trials * n)


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _process(cmd: list[str]) -> float:
    return timed(cmd, ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop", choices=["numpy", "stdlib"], help="Only run one loop (as a process of its own).")
    args = parser.parse_args()
    if args.loop:
        print(*(loop if args.loop == "numpy" else stdlib_loop)(args.trials, 104, 1))
        return
    from advance_trial.config import load_config
    from advance_trial.randomisation.assess import assess

    cfg = load_config(ROOT / "configs" / "advance-feasibility.yaml")
    vec = lambda: assess(cfg, args.trials, 104)  # noqa: E731
    plain = lambda: loop(args.trials, 104, 1)  # noqa: E731
    vec()
    a, b = [], []
    for _ in range(args.rounds):
        a.append(_time(vec))
        b.append(_time(plain))
    ma, mb = statistics.median(a), statistics.median(b)
    s = vec().summary.set_index(["statistic", "scope"])["value"]
    lf, lm, lg = loop(args.trials, 104, 2)
    sf, sm, sg = stdlib_loop(args.trials, 104, 2)
    print(f"trials of 104, stratified blocks: {args.trials}, {args.rounds} rounds each")
    print(f"vectorised assess  median {ma:8.3f} s")
    print(f"per-participant loop median {mb:8.3f} s")
    print(f"speed-up {mb / ma:.1f}x (vectorised {ma:.3f} s for {args.trials} trials; target well under 1 s)")
    print(
        "agreement (vectorised / numpy loop / stdlib loop): final imbalance "
        f"{s[('final_imbalance_mean', 'overall')]:.3f} / {lf:.3f} / {sf:.3f}, max imbalance "
        f"{s[('max_imbalance_mean', 'overall')]:.3f} / {lm:.3f} / {sm:.3f}, correct guesses "
        f"{s[('correct_guess_proportion', 'overall')]:.4f} / {lg:.4f} / {sg:.4f}"
    )
    here = str(Path(__file__).resolve())
    commands = {
        "advance-trial randomise assess": [sys.executable, "-m", "advance_trial", "randomise", "assess",
                                           str(ROOT / "configs" / "advance-feasibility.yaml"), "--n-trials",
                                           str(args.trials), "--participants", "104"],
        "loop, numpy draws": [sys.executable, here, "--loop", "numpy", "--trials", str(args.trials)],
        "loop, stdlib random": [sys.executable, here, "--loop", "stdlib", "--trials", str(args.trials)],
        "floor: typer, numpy, config": [sys.executable, "-c", "import typer, numpy, advance_trial.config"],
    }  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in commands}
    for cmd in commands.values():
        _process(cmd)  # warm caches
    for _ in range(args.rounds):
        for name, cmd in commands.items():
            times[name].append(_process(cmd))
    med = {k: statistics.median(v) for k, v in times.items()}
    print("as whole processes:")
    for name, t in med.items():
        print(f"  {name:32s} median {t:6.3f} s")
    cmd = med["advance-trial randomise assess"]
    print(f"speed-up of the command: {med['loop, numpy draws'] / cmd:.1f}x the numpy-draw loop, "
          f"{med['loop, stdlib random'] / cmd:.1f}x the stdlib loop (target >= 5); the import floor alone "
          f"allows at most {med['loop, stdlib random'] / med['floor: typer, numpy, config']:.1f}x the stdlib loop")


if __name__ == "__main__":
    main()
