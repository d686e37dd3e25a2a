"""Concurrent allocations and processes killed mid-step: no duplicate, no gap, a log that verifies."""

from __future__ import annotations

import multiprocessing as mp
import random
import signal
import subprocess
import sys
import time

from advance_trial.randomisation import allocation as al
from tests.allocation_helpers import make_trial
from tests.conftest import ROOT

SITES = ("london", "wolverhampton", "bristol")


def _worker(args):
    config, keys, start, ids = args
    from advance_trial.config import load_config
    from advance_trial.randomisation.allocation import allocate, trial_key

    cfg = load_config(config)
    ring = trial_key(cfg, keys)
    while time.time() < start:
        time.sleep(0.001)
    return [(pid, allocate(cfg, ring, pid, SITES[int(pid[2:]) % 3]).arm) for pid in ids]


def test_90_concurrent_allocations_never_duplicate_gap_or_break_the_chain(tmp_path):
    t = make_trial(tmp_path)
    ids = [f"AF{i:03d}" for i in range(90)]
    # every worker asks for all 90 men, in different orders, at the same moment
    orders = [ids, ids[::-1], ids[1::2] + ids[::2]]
    start = time.time() + 1.5
    with mp.get_context("spawn").Pool(3) as pool:
        results = pool.map(_worker, [(str(t.config), str(t.keys), start, order) for order in orders])
    answers: dict[str, set[str]] = {}
    for result in results:
        for pid, arm in result:
            answers.setdefault(pid, set()).add(arm)
    assert len(answers) == 90 and all(len(arms) == 1 for arms in answers.values())
    report = al.verify_log(t.cfg, t.ring)
    assert report.allocations == 90
    frame = al.allocations(t.cfg, t.ring)
    assert list(frame["sequence"]) == list(range(1, 91)) and frame["participant_id"].is_unique
    assert dict(zip(frame["participant_id"], frame["arm"], strict=True)) == {p: a.pop() for p, a in answers.items()}


KILLER = """
import sys
from advance_trial.randomisation.allocation import allocate, trial_key
from advance_trial.config import load_config
cfg = load_config(sys.argv[1])
ring = trial_key(cfg, sys.argv[2])
for i in range(int(sys.argv[3]), 100000):
    a = allocate(cfg, ring, f"AF{i:05d}", ("london", "bristol")[i % 2])
    print(a.participant_id, flush=True)
"""


def test_processes_killed_at_random_moments_leave_a_log_that_verifies(tmp_path):
    """kill -9 at random moments, ten times over one log: every confirmed allocation is there, the log verifies."""
    t = make_trial(tmp_path)
    rng = random.Random(20261201)
    confirmed: list[str] = []
    start = 0
    for k in range(10):
        proc = subprocess.Popen([sys.executable, "-c", KILLER, str(t.config), str(t.keys), str(start)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first, "the allocating process died early"
        confirmed.append(first.strip())
        time.sleep(rng.uniform(0, 0.25))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate()
        confirmed += rest.split()
        report = al.verify_log(t.cfg, t.ring)
        present = set(al.allocations(t.cfg, t.ring)["participant_id"])
        assert set(confirmed) <= present and report.allocations == len(present)
        start = 1000 * (k + 1)
    assert len(confirmed) >= 10


def test_processes_allocating_together_killed_at_random_moments_leave_a_log_that_verifies(tmp_path):
    """Three processes allocating at once (steps made together, answers rung, the checkpoint left open between
    steps), one of them killed with SIGKILL at random moments (leading a step or waiting on its bell) and started
    again: every confirmed allocation is there once, no gap, and the log verifies each time."""
    t = make_trial(tmp_path)
    rng = random.Random(20261208)
    confirmed: list[str] = []
    started = iter(range(1, 100))

    def start() -> subprocess.Popen[str]:
        base = 1000 * next(started)
        return subprocess.Popen([sys.executable, "-c", KILLER, str(t.config), str(t.keys), str(base)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip

    procs = [start() for _ in range(3)]
    for proc in procs:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first, "an allocating process died early"
        confirmed.append(first.strip())
    for _ in range(8):
        time.sleep(rng.uniform(0.05, 0.3))
        k = rng.randrange(3)
        procs[k].send_signal(signal.SIGKILL)
        rest, _ = procs[k].communicate()
        confirmed += rest.split()
        report = al.verify_log(t.cfg, t.ring)  # the others still allocating
        present = set(al.allocations(t.cfg, t.ring)["participant_id"])
        assert set(confirmed) <= present
        procs[k] = start()
    for proc in procs:
        proc.send_signal(signal.SIGKILL)
        confirmed += proc.communicate()[0].split()
    report = al.verify_log(t.cfg, t.ring)
    frame = al.allocations(t.cfg, t.ring)
    assert set(confirmed) <= set(frame["participant_id"]) and frame["participant_id"].is_unique
    assert list(frame["sequence"]) == list(range(1, report.allocations + 1))
    assert len(confirmed) >= 30
