"""``run`` on simulated trials of 10,000 and 100,000 men: time, growth and peak memory.

Canonical data are generated here, vectorised (the calibrated simulator reproduces published
samples, not trials of this size): three sites and cycles, 1:1 arms, 15 sessions offered to each
intervention man in therapy groups of about 8, baseline and week-16 ABI items, partners for a
quarter of the men. Each size runs ``advance-trial run`` in a fresh process with the ADVANCE
config minus multiple imputation; the peak resident memory of that process is read from the
operating system, for the run's process and for its figure workers (the largest of them). Targets
(issue 7): it finishes, peak memory under 2 GB, and time grows no more than 12-fold from 10,000 to
100,000 men; (issue 17) at most 8-fold, peak memory under 1 GB.

Run: ``python benchmarks/bench_scale.py [--sizes 10000 100000]``
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import ENV  # noqa: E402

SITES = ["london", "wolverhampton", "bristol"]


def make_data(folder: Path, n: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.array([f"S{i:06d}" for i in range(n)])
    site = rng.choice(SITES, n)
    cycle = rng.integers(1, 4, n)
    arm = np.where(rng.random(n) < 0.5, "advance", "tau")
    day = pd.Timestamp("2018-06-01") + pd.to_timedelta(rng.integers(0, 600, n), unit="D")
    extra = n // 2
    scr = pd.DataFrame({
        "screen_id": [f"X{i:07d}" for i in range(n + extra)],
        "site": np.concatenate([site, rng.choice(SITES, extra)]),
        "cycle": np.concatenate([cycle, rng.integers(1, 4, extra)]),
        "screened_on": np.concatenate([day, day[:extra]]).astype("datetime64[D]").astype(str),
        "eligible": np.concatenate([np.full(n, "true"), np.where(rng.random(extra) < 0.5, "true", "false")]),
        "consented": "",
        "participant_id": np.concatenate([ids, np.full(extra, "")]),
    })  # fmt: skip
    scr["consented"] = np.where(scr["participant_id"] != "", "true", np.where(scr["eligible"] == "true", "false", ""))
    scr.to_csv(folder / "screening.csv", index=False)
    pd.DataFrame({"participant_id": ids, "site": site, "cycle": cycle, "randomised_on": day.strftime("%Y-%m-%d"),
                  "arm": arm}).to_csv(folder / "participants.csv", index=False)  # fmt: skip
    adv = np.flatnonzero(arm == "advance")
    group = np.array(
        [
            f"{s}-c{c}-g{k}"
            for s, c, k in zip(site[adv], cycle[adv], rng.integers(0, 1 + len(adv) // 400, len(adv)), strict=True)
        ]
    )
    types = np.array(["individual"] * 2 + ["group"] * 12 + ["individual"])
    numbers = np.array([1, 2, *range(1, 13), 3])
    hours = np.array([1.0, 1.0] + [2.0] * 12 + [1.0])
    k = len(types)
    att = rng.random(len(adv) * k) < rng.beta(2, 3, len(adv)).repeat(k)
    pd.DataFrame({
        "participant_id": ids[adv].repeat(k), "session_type": np.tile(types, len(adv)),
        "session_number": np.tile(numbers, len(adv)),
        "group_id": np.where(np.tile(types, len(adv)) == "group", group.repeat(k), ""),
        "session_on": (day[adv].repeat(k) + pd.to_timedelta(np.tile(np.arange(k) * 7 + 7, len(adv)), unit="D")).strftime("%Y-%m-%d"),  # noqa: E501
        "attended": np.where(att, "true", "false"), "hours": np.where(att, np.tile(hours, len(adv)), 0.0),
    }).to_csv(folder / "attendance.csv", index=False)  # fmt: skip
    due = day + pd.to_timedelta(112, unit="D")
    done = rng.random(n) < 0.55
    fu = pd.DataFrame({
        "participant_id": np.concatenate([ids, ids]), "timepoint": ["baseline"] * n + ["week16"] * n,
        "due_on": np.concatenate([day.strftime("%Y-%m-%d"), due.strftime("%Y-%m-%d")]),
        "status": np.concatenate([np.full(n, "completed"), np.where(done, "completed", "missed")]),
        "completed_on": np.concatenate([day.strftime("%Y-%m-%d"), np.where(done, due.strftime("%Y-%m-%d"), "")]),
    })  # fmt: skip
    fu.to_csv(folder / "followup.csv", index=False)
    who = np.concatenate([np.arange(n), np.flatnonzero(done)])
    tp = ["baseline"] * n + ["week16"] * int(done.sum())
    level = rng.normal(0, 0.6, n)[who] - 0.2 * ((arm[who] == "advance") & (np.arange(len(who)) >= n))
    items = np.clip(np.round(1.7 + level[:, None] + rng.normal(0, 0.8, (len(who), 30))), 1, 5).astype(int)
    m = pd.DataFrame(items, columns=[f"abi_{i:02d}" for i in range(1, 31)]).astype(str)
    m[rng.random(m.shape) < 0.02] = ""
    m.insert(0, "timepoint", tp)
    m.insert(0, "participant_id", ids[who])
    m.to_csv(folder / "measures.csv", index=False)
    pm = np.flatnonzero(rng.random(n) < 0.25)
    status = np.where(rng.random(len(pm)) < 0.6, "completed", "lost")
    p = pd.DataFrame({"partner_id": [f"P{i:06d}" for i in range(len(pm))], "participant_id": ids[pm],
                      "consented": "true", "followup_status": status})  # fmt: skip
    p.to_csv(folder / "partners.csv", index=False)


def config_without_mi(folder: Path) -> Path:
    text = (ROOT / "configs" / "advance-feasibility.yaml").read_text()
    text = text.replace("multiple_imputation, ", "")
    path = folder / "scale.yaml"
    path.write_text(text)
    return path


def run_once(cfg: Path, data: Path, out: Path) -> tuple[float, float, float]:
    """Wall time, the run's peak resident memory and its largest worker's (MB)."""
    code = (
        "import resource, sys; from advance_trial.pipeline import run; "
        f"run({str(cfg)!r}, {str(data)!r}, {str(out)!r}); "
        "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT,
                         env=ENV)  # fmt: skip
    elapsed = time.perf_counter() - t0
    found = re.search(r"MAXRSS (\d+) (\d+)", res.stdout)
    assert found is not None, res.stdout
    return elapsed, int(found.group(1)) / 1024, int(found.group(2)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config_without_mi(Path(tmp))
        for n in args.sizes:
            data = Path(tmp) / f"data{n}"
            make_data(data, n)
            secs, mb, worker = run_once(cfg, data, Path(tmp) / f"out{n}")
            results[n] = (secs, mb)
            print(f"{n:>7} men: run {secs:7.1f} s, peak memory {mb:7.0f} MB (largest worker {worker:.0f} MB)",
                  flush=True)  # fmt: skip
    if len(args.sizes) >= 2:
        a, b = args.sizes[0], args.sizes[-1]
        print(f"time grows {results[b][0] / results[a][0]:.1f}-fold from {a} to {b} men (target <= 8); "
              f"peak memory {results[b][1]:.0f} MB (target < 1024)")  # fmt: skip
    _ = resource


if __name__ == "__main__":
    main()
