"""``run`` on simulated trials of 1,000, 10,000 and 100,000 men: wall time and peak memory, before and after.

Canonical data are generated here, vectorised (the calibrated simulator reproduces published
samples, not trials of this size): three sites and cycles, 1:1 arms, 15 sessions offered to each
intervention man in therapy groups of about 8, baseline and week-16 ABI items, partners for a
quarter of the men. Each size runs ``advance-trial run`` with the ADVANCE config (multiple imputation
included; ``--without-mi`` leaves it out) in a fresh process; the peak resident memory of that process
is read from the operating system, for the run's process (its ``VmHWM``: ``ru_maxrss`` survives
``exec`` and gave this benchmark's own peak after making the data, 621 MiB before issue 38) and for
its workers (the largest ``ru_maxrss``: a forked worker's counts the run's memory at the fork). The
CPU seconds of the run's process and of its workers are printed too: on a busy machine they show
what wall time cannot (large imputations are done in the workers, beside the run's other analyses).

With ``--baseline`` (a checkout of an older commit, e.g. ``git worktree add /tmp/base main``) the same
data are run by both, alternating, and the two are printed side by side with their ratio (medians of
``--repeats`` pairs). Targets: issue 38, 100,000 men in at most 20 s and 600 MiB; issue 17, time grows
at most 8-fold from 10,000 to 100,000 men.

Run: ``python benchmarks/bench_scale.py [--sizes 1000 10000 100000] [--baseline /tmp/base] [--repeats 3]``
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


def config_for(folder: Path, with_mi: bool) -> Path:
    text = (ROOT / "configs" / "advance-feasibility.yaml").read_text()
    if not with_mi:
        text = text.replace("multiple_imputation, ", "")
    path = folder / "scale.yaml"
    path.write_text(text)
    return path


def run_once(cfg: Path, data: Path, out: Path, code_root: Path = ROOT) -> tuple[float, ...]:
    """Wall time, the run's peak resident memory and its largest worker's (MiB), and the CPU seconds of the
    run's process and of its workers (a busy machine disturbs these far less than wall time), running the
    toolkit found in ``code_root`` (the process starts there, so its ``advance_trial`` is imported first)."""
    # the run's own peak is its VmHWM: ru_maxrss survives exec, so a child started by this process (large
    # once it has made 100,000 men's data) would report this process's peak as its own
    code = (
        "import re, resource, sys; from advance_trial.pipeline import run; "
        f"run({str(cfg)!r}, {str(data)!r}, {str(out)!r}); "
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()); "
        "print('MAXRSS', hwm.group(1) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "u = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]; "
        "print('CPU', *(r.ru_utime + r.ru_stime for r in u))"
    )
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=code_root,
                         env=ENV)  # fmt: skip
    elapsed = time.perf_counter() - t0
    found = re.search(r"MAXRSS (\d+) (\d+)", res.stdout)
    cpu = re.search(r"CPU (\S+) (\S+)", res.stdout)
    assert found is not None and cpu is not None, res.stdout
    return elapsed, int(found.group(1)) / 1024, int(found.group(2)) / 1024, float(cpu.group(1)), float(cpu.group(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--baseline", type=Path, help="a checkout of the code to compare with (before)")
    parser.add_argument("--repeats", type=int, default=1, help="alternating pairs per size (medians shown)")
    parser.add_argument("--without-mi", action="store_true", help="leave multiple imputation out of the config")
    args = parser.parse_args()
    sides = {"after": ROOT} | ({"before": args.baseline.resolve()} if args.baseline else {})
    results: dict[tuple[str, int], tuple[float, ...]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config_for(Path(tmp), not args.without_mi)
        for n in args.sizes:
            data = Path(tmp) / f"data{n}"
            make_data(data, n)
            runs: dict[str, list[tuple[float, ...]]] = {side: [] for side in sides}
            for r in range(args.repeats):
                order = list(sides) if r % 2 == 0 else list(reversed(sides))
                for side in order:
                    runs[side].append(run_once(cfg, data, Path(tmp) / f"out{n}-{side}-{r}", sides[side]))
            for side, got in runs.items():
                results[side, n] = tuple(float(np.median([g[i] for g in got])) for i in range(5))
            line = [f"{n:>7} men:"]
            for side in ("before", "after"):
                if (side, n) in results:
                    secs, mb, worker, cpu, cpu_workers = results[side, n]
                    line.append(f"{side} {secs:6.1f} s {mb:5.0f} MiB (worker {worker:4.0f}), CPU run {cpu:5.1f} s "
                                f"+ workers {cpu_workers:5.1f} s")  # fmt: skip
            if ("before", n) in results:
                line.append(f"time ratio {results['after', n][0] / results['before', n][0]:.2f}, run CPU ratio "
                            f"{results['after', n][3] / results['before', n][3]:.2f}")  # fmt: skip
            print("  ".join(line), flush=True)
    big = max(args.sizes)
    secs, mb = results["after", big][:2]
    print(f"after, {big} men: {secs:.1f} s (target <= 20), peak memory {mb:.0f} MiB (target <= 600)")
    if 10_000 in args.sizes and big > 10_000:
        print(f"time grows {secs / results['after', 10_000][0]:.1f}-fold from 10000 to {big} men (target <= 8)")
    _ = resource


if __name__ == "__main__":
    main()
