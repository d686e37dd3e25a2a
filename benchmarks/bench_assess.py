"""``randomise assess`` (vectorised across trials) against a plain per-participant Python loop.

Both simulate the ADVANCE design (stratified permuted blocks of 2 and 4 by three sites, 1:1)
for the same number of trials of 104 participants, alternately in one session, and compute the
same statistics (final and maximum imbalance, correct guesses). The ratio of their medians is
printed. The target (issue 3): 10,000 trials well under a second.

Run: ``python benchmarks/bench_assess.py [--trials N] [--rounds N]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from advance_trial.assess import assess  # noqa: E402
from advance_trial.config import load_config  # noqa: E402


def loop(n_trials: int, n: int, seed: int) -> tuple[float, float, float]:
    """One participant at a time: draw a site, take the next entry of its block list."""
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
    return float(np.mean(finals)), float(np.mean(maxima)), hits / (n_trials * n)


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
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
    print(f"trials of 104, stratified blocks: {args.trials}, {args.rounds} rounds each")
    print(f"vectorised assess  median {ma:8.3f} s")
    print(f"per-participant loop median {mb:8.3f} s")
    print(f"speed-up {mb / ma:.1f}x (vectorised {ma:.3f} s for {args.trials} trials; target well under 1 s)")
    print(
        "agreement (vectorised / loop): final imbalance "
        f"{s[('final_imbalance_mean', 'overall')]:.3f} / {lf:.3f}, max imbalance "
        f"{s[('max_imbalance_mean', 'overall')]:.3f} / {lm:.3f}, correct guesses "
        f"{s[('correct_guess_proportion', 'overall')]:.4f} / {lg:.4f}"
    )


if __name__ == "__main__":
    main()
