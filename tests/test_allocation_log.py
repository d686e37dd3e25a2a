"""The allocation log: allocation, idempotence, validation, replay, tampering, concurrency, kills."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial import allocation_log as al
from advance_trial.allocation_replay import concealed_list, export_frame, verify_log
from advance_trial.errors import DataError, IntegrityError, UsageError
from tests.allocation_helpers import BLINDED, MINIMISATION, SIMPLE, variant
from tests.conftest import ROOT, SAMPLES, config_path


@pytest.fixture
def log(tmp_path):
    return tmp_path / "log.sqlite"


def _fill(cfg, log, n, sites=("london", "wolverhampton", "bristol")):
    out = []
    for i in range(n):
        factors = {"cycle": str(1 + i % 3)} if cfg.randomisation.method == "minimisation" else {}
        out.append(al.allocate(log, cfg, f"P{i:03d}", sites[i % len(sites)], factors, by="test"))
    return out


def test_replaying_the_sample_reproduces_its_arm_column(advance_cfg, log):
    """The sample's men, in randomisation order, through allocate with the config's seed: 54/50."""
    men = pd.read_csv(SAMPLES / "advance-feasibility" / "participants.csv")
    arms = [al.allocate(log, advance_cfg, r.participant_id, r.site, by="ra").arm for r in men.itertuples()]
    assert arms == list(men["arm"])
    assert (arms.count("advance"), arms.count("tau")) == (54, 50)
    report = verify_log(log, advance_cfg)
    assert report.allocations == 104 and report.draws_regenerated


def test_asking_again_returns_the_same_arm_and_writes_nothing(advance_cfg, log):
    first = al.allocate(log, advance_cfg, "AF001", "london", by="a")
    rows = len(al.read_events(log, advance_cfg))
    again = al.allocate(log, advance_cfg, "AF001", "london", by="b")
    assert (again.arm, again.sequence, again.new, first.new) == (first.arm, 1, False, True)
    assert len(al.read_events(log, advance_cfg)) == rows
    with pytest.raises(DataError, match="was allocated with site=london"):
        al.allocate(log, advance_cfg, "AF001", "bristol")


def test_bad_requests_exit_4_naming_every_problem(advance_cfg, log):
    with pytest.raises(DataError) as err:
        al.allocate(log, advance_cfg, "AF 001", "leeds", {"colour": "red", "cycle": "9"})
    text = "\n".join(err.value.details())
    assert err.value.exit_code == 4 and len(err.value.problems) == 4
    for words in ("'--participant', value 'AF 001'", "'--site', value 'leeds'", "'--factor colour'", "value '9'"):
        assert words in text
    assert not log.exists() or verify_log(log, advance_cfg).rows == 0


def test_missing_minimisation_factor(log):
    cfg = variant(MINIMISATION)
    with pytest.raises(DataError, match="missing: give cycle=VALUE"):
        al.allocate(log, cfg, "M1", "london")


def test_single_arm_design_refuses(log):
    from advance_trial.config import load_config

    with pytest.raises(UsageError, match="single-arm"):
        al.allocate(log, load_config(config_path("advance-digital")), "D1", "london")


def test_log_of_another_trial_is_refused(advance_cfg, log):
    al.allocate(log, advance_cfg, "AF001", "london")
    other = variant(SIMPLE).model_copy(update={"trial": advance_cfg.trial.model_copy(update={"id": "other"})})
    with pytest.raises(IntegrityError, match="log of 'advance-feasibility'"):
        al.allocate(log, other, "X1", "london")


@pytest.mark.parametrize("block", [SIMPLE, MINIMISATION, BLINDED], ids=["simple", "minimisation", "blinded"])
def test_other_methods_allocate_and_replay(block, log):
    cfg = variant(block)
    got = _fill(cfg, log, 60)
    report = verify_log(log, cfg)
    assert report.allocations == 60 and report.draws_regenerated
    assert [a.sequence for a in got] == list(range(1, 61))
    counts = pd.Series([a.arm for a in got]).value_counts()
    assert set(counts.index) == {"advance", "tau"}
    if block is MINIMISATION:  # minimisation keeps the arms close
        assert abs(counts["advance"] - counts["tau"]) <= 4


def test_minimisation_draw_is_recorded(log):
    cfg = variant(MINIMISATION)
    _fill(cfg, log, 5)
    draw = json.loads(al.read_events(log, cfg)[-1]["draw"])
    assert set(draw) == {"index", "scores", "tied", "preferred", "u_tie", "u_prob", "numpy"}
    assert draw["index"] == 5 and 0 <= draw["u_prob"] < 1


def test_triggers_refuse_update_and_delete(advance_cfg, log):
    al.allocate(log, advance_cfg, "AF001", "london")
    con = sqlite3.connect(log)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE events SET arm = 'tau'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM events")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM lists")


def _tamper(log, *sql):
    con = sqlite3.connect(log, isolation_level=None)
    for name in [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]:
        con.execute(f"DROP TRIGGER {name}")
    for statement in sql:
        con.execute(statement)
    con.close()


def _rehash_all(log):
    """An attacker who knows the scheme recomputes every hash after an edit."""
    con = sqlite3.connect(log, isolation_level=None)
    con.row_factory = sqlite3.Row
    trial = con.execute("SELECT value FROM meta WHERE key = 'trial_id'").fetchone()[0]
    prev = al.genesis_hash(trial)
    for r in [dict(x) for x in con.execute("SELECT * FROM events ORDER BY row")]:
        r["prev_hash"] = prev
        prev = al.row_hash(r)
        con.execute("UPDATE events SET prev_hash = ?, row_hash = ? WHERE row = ?", (r["prev_hash"], prev, r["row"]))
    con.close()


@pytest.fixture
def filled(advance_cfg, log):
    _fill(advance_cfg, log, 12)
    return log


TAMPERING = {
    "update": (["UPDATE events SET arm = CASE arm WHEN 'tau' THEN 'advance' ELSE 'tau' END WHERE row = 6"], "row 6"),
    "update-by": (["UPDATE events SET by_whom = 'someone else' WHERE row = 4"], "row 4"),
    "delete": (["DELETE FROM events WHERE row = 7"], "row 8"),
    "delete-and-renumber": (
        ["DELETE FROM events WHERE row = 7", "UPDATE events SET row = row - 1 WHERE row > 7"],
        "row 7",
    ),
    "insert": (
        [
            "INSERT INTO events SELECT 100, kind, 13, 'P999', site, stratum, factors, arm, draw, by_whom, at_utc, "
            "config_version, config_sha256, detail, prev_hash, row_hash FROM events WHERE row = 5",
        ],
        "row 100",
    ),
    "reorder": (
        [
            "UPDATE events SET row = -1 WHERE row = 5",
            "UPDATE events SET row = 5 WHERE row = 6",
            "UPDATE events SET row = 6 WHERE row = -1",
        ],
        "row 5",
    ),
    "list-edit": (
        ["UPDATE lists SET arm = CASE arm WHEN 'tau' THEN 'advance' ELSE 'tau' END WHERE position = 2"],
        "row 1 .*stored list chunk 0 differs",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_caught_naming_the_first_bad_row(advance_cfg, filled, case):
    sql, where = TAMPERING[case]
    verify_log(filled, advance_cfg)
    _tamper(filled, *sql)
    with pytest.raises(IntegrityError, match=where) as err:
        verify_log(filled, advance_cfg)
    assert err.value.exit_code == 5


def test_rewriting_the_whole_chain_is_caught_by_replay(advance_cfg, filled):
    _tamper(filled, "UPDATE events SET arm = CASE arm WHEN 'tau' THEN 'advance' ELSE 'tau' END WHERE row = 9")
    _rehash_all(filled)
    with pytest.raises(IntegrityError, match=r"row 9 .*replay gives"):
        verify_log(filled, advance_cfg)


def test_cutting_rows_off_the_end_is_caught_by_the_recorded_head(advance_cfg, filled):
    head = verify_log(filled, advance_cfg).head_hash
    _tamper(filled, "DELETE FROM events WHERE row = (SELECT MAX(row) FROM events)")
    assert verify_log(filled, advance_cfg).allocations == 11  # the chain alone cannot see a cut
    with pytest.raises(IntegrityError, match="cut off or rewritten"):
        verify_log(filled, advance_cfg, expect_head=head)


def test_draws_under_another_numpy_are_checked_against_their_arms(monkeypatch, log):
    cfg = variant(SIMPLE)
    monkeypatch.setattr(al, "_numpy", lambda: "0.0-old")
    _fill(cfg, log, 5)
    monkeypatch.undo()
    report = verify_log(log, cfg)
    assert not report.draws_regenerated and "numpy 0.0-old" in report.notes[0]


def test_unblinding_is_chained_and_needs_an_allocation(advance_cfg, log):
    a = al.allocate(log, advance_cfg, "AF001", "london")
    assert al.unblind(log, advance_cfg, "AF001", "safeguarding", "stats").arm == a.arm
    events = al.read_events(log, advance_cfg)
    assert events[-1]["kind"] == "unblinding" and json.loads(events[-1]["detail"])["reason"] == "safeguarding"
    assert verify_log(log, advance_cfg).unblindings == 1
    with pytest.raises(DataError, match="not allocated"):
        al.unblind(log, advance_cfg, "AF999", "x", "stats")
    with pytest.raises(UsageError, match="reason"):
        al.unblind(log, advance_cfg, "AF001", " ", "stats")


def test_export_feeds_participants(advance_cfg, log):
    _fill(advance_cfg, log, 6)
    frame = export_frame(log, advance_cfg)
    assert list(frame.columns[:7]) == [
        "participant_id", "site", "arm", "sequence", "allocated_at", "randomised_on", "allocated_by",
    ]  # fmt: skip
    assert list(frame["sequence"]) == list(range(1, 7)) and set(frame["arm"]) <= {"advance", "tau"}


def test_concealed_list_is_the_list_allocate_uses(advance_cfg, log):
    lst = concealed_list(advance_cfg, 20)
    assert len(lst) == 60 and list(lst.columns) == ["site", "position", "block", "block_size", "arm"]
    got = [al.allocate(log, advance_cfg, f"L{i:02d}", "bristol").arm for i in range(20)]
    assert got == list(lst.loc[lst["site"] == "bristol", "arm"])
    with pytest.raises(UsageError, match="only for blocks"):
        concealed_list(variant(MINIMISATION), 5)


# ---------------------------------------------------------------------------- concurrency


def _worker(args):
    log, start, ids = args
    from advance_trial.config import load_config

    cfg = load_config(config_path("advance-feasibility"))
    while time.time() < start:
        time.sleep(0.001)
    sites = ("london", "wolverhampton", "bristol")
    return [(pid, al.allocate(log, cfg, pid, sites[int(pid[1:]) % 3], by=f"w{os.getpid()}").arm) for pid in ids]


def test_concurrent_allocations_never_duplicate_gap_or_break_the_chain(advance_cfg, log):
    ids = [f"C{i:03d}" for i in range(40)]
    # every worker asks for all 40 participants, in different orders, at the same moment
    orders = [ids, ids[::-1], ids[1::2] + ids[::2], ids[::2] + ids[1::2]]
    start = time.time() + 1.0
    with mp.get_context("spawn").Pool(4) as pool:
        results = pool.map(_worker, [(str(log), start, order) for order in orders])
    answers: dict[str, set[str]] = {}
    for result in results:
        for pid, arm in result:
            answers.setdefault(pid, set()).add(arm)
    assert all(len(arms) == 1 for arms in answers.values())  # each participant one arm, whoever asked
    report = verify_log(log, advance_cfg)
    assert report.allocations == 40
    frame = export_frame(log, advance_cfg)
    assert list(frame["sequence"]) == list(range(1, 41)) and frame["participant_id"].is_unique


KILLER = """
import sys
from advance_trial.allocation_log import allocate
from advance_trial.config import load_config
cfg = load_config(sys.argv[1])
for i in range(100000):
    a = allocate(sys.argv[2], cfg, f"K{i:05d}", ("london", "bristol")[i % 2])
    print(a.participant_id, flush=True)
"""


def test_a_killed_process_leaves_a_log_that_verifies(advance_cfg, log):
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLER, str(config_path("advance-feasibility")), str(log)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    confirmed = []
    assert proc.stdout is not None
    while len(confirmed) < 25:
        line = proc.stdout.readline()
        assert line, "the allocating process died early"
        confirmed.append(line.strip())
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate()
    confirmed += rest.split()
    report = verify_log(log, advance_cfg)
    present = set(export_frame(log, advance_cfg)["participant_id"])
    assert set(confirmed) <= present and report.allocations >= len(confirmed)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.sampled_from(["london", "wolverhampton", "bristol"]), min_size=1, max_size=25))
def test_same_seed_and_order_give_the_same_arms_in_any_log(sites):
    import tempfile
    from pathlib import Path

    cfg = variant(MINIMISATION)
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for name in ("a", "b"):
            log = Path(tmp) / f"{name}.sqlite"
            runs.append([al.allocate(log, cfg, f"H{i}", s, {"cycle": "2"}).arm for i, s in enumerate(sites)])
        assert runs[0] == runs[1]
