"""Allocations made together (the service's group commit) and the checkpoint moved on in place."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from advance_trial.errors import DataError, IntegrityError
from advance_trial.randomisation import allocation as al
from advance_trial.randomisation import together, trial_log
from advance_trial.randomisation.key import CHECKPOINT_SIZE, Checkpoint, read_checkpoint, write_checkpoint
from advance_trial.randomisation.request import AllocationRequest
from advance_trial.service.group import GroupCommit
from tests.allocation_helpers import MINIMISATION, make_trial

SITES = ("london", "wolverhampton", "bristol")
KEY = bytes(range(32))  # the same lists in both trials of a comparison


def _items(cfg, ids, factors=None):
    return [al.prepare(cfg, pid, SITES[i % 3], factors(i) if factors else None) for i, pid in enumerate(ids)]


@pytest.mark.parametrize("block", [None, MINIMISATION])
def test_a_group_allocates_as_the_same_requests_one_by_one(tmp_path, block):
    """Same key, same requests in the same order: the same arms, sequences and strata, one row each."""
    factors = (lambda i: {"cycle": str(1 + i % 3)}) if block else None
    ids = [f"AF{i:03d}" for i in range(14)]
    one = make_trial(tmp_path / "one", block, key=KEY)
    alone = [al.allocate(one.cfg, one.ring, it) for it in _items(one.cfg, ids, factors)]
    grouped = make_trial(tmp_path / "group", block, key=KEY)
    made = []
    for start in (0, 5, 6, 13):  # groups of 5, 1, 7 and 1
        size = {0: 5, 5: 1, 6: 7, 13: 1}[start]
        made += al.allocate_many(grouped.cfg, grouped.ring, _items(grouped.cfg, ids, factors)[start : start + size])
    assert [(a.participant_id, a.arm, a.sequence, a.site) for a in made] == [
        (a.participant_id, a.arm, a.sequence, a.site) for a in alone
    ]
    report = al.verify_log(grouped.cfg, grouped.ring, receipts=[a.receipt for a in made])
    assert report.allocations == 14 and report.receipts == 14 and report.rows == 15
    cp = read_checkpoint(grouped.ring)
    assert (cp.row, cp.tag, cp.upto) == (report.head_row, report.head_tag, None)
    times = [a.allocated_at for a in made]
    assert len(set(times)) == len(times)  # each man his own time, as one by one


def test_each_refusal_is_its_own_requests_and_nothing_is_written_for_it(tmp_path):
    t = make_trial(tmp_path)
    al.allocate(t.cfg, t.ring, "AF001", "london")
    items = [
        al.prepare(t.cfg, "AF002", "bristol"),
        al.prepare(t.cfg, "AF001", "bristol"),  # allocated already, at another site
        al.prepare(t.cfg, "AF001", "london"),  # allocated already: returned, nothing written
        al.prepare(t.cfg, "AF003", "london"),
        al.prepare(t.cfg, "AF003", "london"),  # the same man twice in one group: the second is his first's
    ]
    got = al.allocate_many(t.cfg, t.ring, items)
    assert isinstance(got[1], DataError) and "allocated with site=london" in str(got[1].problems[0].message)
    a2, _, again, a3, a3_again = got
    assert a2.new and a3.new and not again.new and not a3_again.new
    assert (a2.sequence, a3.sequence, a3_again.sequence, again.sequence) == (2, 3, 3, 1)
    assert again.receipt == {} and a3_again.receipt == {}
    assert al.verify_log(t.cfg, t.ring, receipts=[a2.receipt, a3.receipt]).allocations == 3


def test_a_group_that_fails_writes_nothing(tmp_path, monkeypatch):
    t = make_trial(tmp_path)
    al.allocate(t.cfg, t.ring, "AF001", "london")
    before = read_checkpoint(t.ring)
    calls = {"n": 0}
    real = trial_log._Step.append

    def broken(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(trial_log._Step, "append", broken)
    with pytest.raises(OSError):
        al.allocate_many(t.cfg, t.ring, _items(t.cfg, ["AF002", "AF003", "AF004"]))
    monkeypatch.undo()
    report = al.verify_log(t.cfg, t.ring)
    assert report.allocations == 1
    cp = read_checkpoint(t.ring)  # the announcement stays until the next step: nothing was committed
    assert (cp.row, cp.tag) == (before.row, before.tag)
    assert al.allocate(t.cfg, t.ring, "AF002", "bristol").sequence == 2
    assert read_checkpoint(t.ring).upto is None


def test_a_group_stopped_after_its_commit_is_whole_and_rows_past_its_announcement_are_caught(tmp_path, monkeypatch):
    t = make_trial(tmp_path)
    al.allocate(t.cfg, t.ring, "AF001", "london")
    before = read_checkpoint(t.ring)

    def killed(*args, **kwargs):  # as if the process died after the commit, before the checkpoint moved
        raise KeyboardInterrupt

    monkeypatch.setattr(trial_log, "settle", killed)
    with pytest.raises(KeyboardInterrupt):
        al.allocate_many(t.cfg, t.ring, _items(t.cfg, ["AF002", "AF003", "AF004"]))
    monkeypatch.undo()
    cp = read_checkpoint(t.ring)
    assert (cp.row, cp.tag, cp.upto) == (before.row, before.tag, before.row + 3)
    assert al.verify_log(t.cfg, t.ring).allocations == 4  # committed, whole, accepted
    assert al.allocate(t.cfg, t.ring, "AF005", "london").sequence == 5  # the next step moves the checkpoint on
    now = read_checkpoint(t.ring)
    assert now.upto is None and now.row == before.row + 4
    # an announcement that does not reach the log's end: rows were added past it
    write_checkpoint(t.ring, Checkpoint(now.log_id, before.row, before.tag, before.row + 3))
    with pytest.raises(IntegrityError, match="goes on past the checkpoint"):
        al.verify_log(t.cfg, t.ring)
    # a log cut short of the announced step's start is a cut, as ever
    write_checkpoint(t.ring, Checkpoint(now.log_id, now.row, now.tag, now.row + 5))
    from tests.allocation_helpers import tamper

    tamper(t.log, f'DELETE FROM events WHERE "row" = {now.row}')
    with pytest.raises(IntegrityError, match="missing"):
        al.verify_log(t.cfg, t.ring)


def test_the_checkpoint_is_moved_on_in_place_in_one_sector(tmp_path):
    t = make_trial(tmp_path)
    path = t.ring.checkpoint_path
    first = os.stat(path)
    assert first.st_size == CHECKPOINT_SIZE and first.st_mode & 0o777 == 0o600
    for i in range(3):
        al.allocate(t.cfg, t.ring, f"AF{i:03d}", "london")
    assert os.stat(path).st_ino == first.st_ino and os.stat(path).st_size == CHECKPOINT_SIZE
    assert read_checkpoint(t.ring).row == 4
    # a checkpoint as an earlier version wrote it (no padding) is read, and replaced whole by the next step
    body = json.loads(path.read_text())
    path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    assert al.verify_log(t.cfg, t.ring).allocations == 3
    al.allocate(t.cfg, t.ring, "AF009", "london")
    assert os.stat(path).st_size == CHECKPOINT_SIZE and read_checkpoint(t.ring).row == 5
    # a write torn half way (the sector's second half from another checkpoint) authenticates no more
    old = path.read_bytes()
    al.allocate(t.cfg, t.ring, "AF010", "london")
    new = path.read_bytes()
    torn = new[:100] + old[100:]
    assert torn != new
    path.write_bytes(torn)
    with pytest.raises(IntegrityError, match="checkpoint"):
        al.verify_log(t.cfg, t.ring)


def test_a_hard_linked_checkpoint_is_replaced_not_written_through(tmp_path):
    t = make_trial(tmp_path)
    path = t.ring.checkpoint_path
    copy = tmp_path / "copy-of-checkpoint"
    os.link(path, copy)
    kept = copy.read_bytes()
    al.allocate(t.cfg, t.ring, "AF001", "london")
    assert copy.read_bytes() == kept and path.read_bytes() != kept


# ---------------------------------------------------------------------------- the group commit itself


def test_requests_arriving_during_a_step_are_made_together_in_the_next():
    groups: list[list[int]] = []
    first_started, release = threading.Event(), threading.Event()

    def make(items):
        groups.append(list(items))
        if len(groups) == 1:
            first_started.set()
            assert release.wait(10)
        return [ValueErrorish(i) if i == 3 else i * 10 for i in items]

    group = GroupCommit(make)
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(group.submit, 0)
        assert first_started.wait(10)
        rest = [pool.submit(group.submit, i) for i in range(1, 6)]
        while len(group.waiting) < 5:
            time.sleep(0.01)
        release.set()
        assert first.result() == 0
        for i, f in enumerate(rest, 1):
            if i == 3:
                with pytest.raises(ValueErrorish):
                    f.result()
            else:
                assert f.result() == i * 10
    assert groups == [[0], [1, 2, 3, 4, 5]]


def test_a_group_that_fails_fails_each_of_its_requests_and_the_next_goes_on():
    calls = []

    def make(items):
        calls.append(list(items))
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return list(items)

    group = GroupCommit(make)
    with pytest.raises(RuntimeError, match="went away"):
        group.submit(1)
    assert group.submit(2) == 2 and not group.busy


class ValueErrorish(DataError):
    def __init__(self, i: int) -> None:
        super().__init__([])
        self.i = i


def test_concurrent_service_allocations_are_grouped_without_gap_or_duplicate(tmp_path, monkeypatch):
    from tests.service_helpers import serve_trial

    served = serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"))
    from advance_trial.service.accounts import Accounts
    from advance_trial.service.core import Service

    loc = al.log_path(served.cfg, served.where)
    svc = Service(served.cfg, served.ring, loc, Accounts(served.cfg, served.ring, loc))
    sizes = []
    real = al.allocate_many

    def counted(cfg, ring, items, **kwargs):
        sizes.append(len(items))
        time.sleep(0.05)  # a slow disk: requests pile up behind the step
        return real(cfg, ring, items, **kwargs)

    monkeypatch.setattr(al, "allocate_many", counted)

    def one(i):
        site = SITES[i % 3]
        account = svc.accounts.by_token(served.tokens[f"ra.{site}"])
        return svc.allocate(account, AllocationRequest.of(f"AF{i:03d}", site))

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(one, range(40)))
    assert sorted(m["sequence"] for m in made) == list(range(1, 41))
    assert len({m["participant_id"] for m in made}) == 40
    assert sizes and max(sizes) > 1
    report = al.verify_log(served.cfg, served.ring, served.where, [m["receipt"] for m in made])
    assert report.allocations == 40 and report.receipts == 40
    cp = read_checkpoint(served.ring)  # at the head; open for a next step of at most 32 rows, or closed
    assert (cp.row, cp.tag) == (report.head_row, report.head_tag)
    assert cp.upto is None or cp.upto <= cp.row + together.MOST


# ---------------------------------------------------------------------------- steps in other processes (SQLite)


def _allocate_elsewhere(t, pid: str) -> None:
    """One allocation by another process, as a second research assistant's command would make it."""
    import subprocess
    import sys

    code = (
        "from advance_trial.config import load_config\n"
        "from advance_trial.randomisation.allocation import allocate, trial_key\n"
        f"cfg = load_config({str(t.config)!r})\n"
        f"allocate(cfg, trial_key(cfg, {str(t.keys)!r}), {pid!r}, 'london')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_after_another_process_steps_the_rows_verified_before_are_not_read_again(tmp_path, monkeypatch):
    t = make_trial(tmp_path)
    for i in range(5):
        al.allocate(t.cfg, t.ring, f"AF{i:03d}", SITES[i % 3])
    _allocate_elsewhere(t, "AF100")
    assert read_checkpoint(t.ring).mark is not None

    def compared(*args, **kwargs):
        raise AssertionError("the rows verified before were read again")

    monkeypatch.setattr(trial_log, "_unchanged", compared)
    made = al.allocate(t.cfg, t.ring, "AF006", "london")
    assert made.sequence == 7
    monkeypatch.undo()
    assert al.verify_log(t.cfg, t.ring).allocations == 7


def test_a_row_edited_after_another_process_stepped_is_caught(tmp_path):
    from tests.allocation_helpers import tamper

    t = make_trial(tmp_path)
    for i in range(5):
        al.allocate(t.cfg, t.ring, f"AF{i:03d}", SITES[i % 3])
    _allocate_elsewhere(t, "AF100")
    tamper(t.log, "UPDATE events SET actor = 'someone else' WHERE \"row\" = 3")
    with pytest.raises(IntegrityError, match="row 3"):
        al.allocate(t.cfg, t.ring, "AF006", "london")


# ---------------------------------------------------------------------------- PostgreSQL


def test_a_group_on_postgresql_allocates_as_one_by_one_and_locks_as_it_should(tmp_path, pg_server):
    from tests.pg import fresh_database
    from tests.service_helpers import run_sql

    ids = [f"AF{i:03d}" for i in range(9)]
    one = make_trial(tmp_path / "one", key=KEY)
    alone = [al.allocate(one.cfg, one.ring, it) for it in _items(one.cfg, ids)]
    t = make_trial(tmp_path / "pg", init=False, key=KEY)
    t.log = fresh_database(pg_server)
    t.init()
    made = al.allocate_many(t.cfg, t.ring, _items(t.cfg, ids[:4]), log=t.log)
    made += [al.allocate(t.cfg, t.ring, _items(t.cfg, ids)[4], log=t.log)]
    made += al.allocate_many(t.cfg, t.ring, _items(t.cfg, ids)[5:], log=t.log)
    assert [(a.participant_id, a.arm, a.sequence) for a in made] == [
        (a.participant_id, a.arm, a.sequence) for a in alone
    ]
    report = al.verify_log(t.cfg, t.ring, t.log, [a.receipt for a in made])
    assert report.allocations == 9 and report.receipts == 9
    # the advisory lock was given back after each step (a session holding it would show in pg_locks)
    held = run_sql(t.log, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
    assert held == [(0,)]
