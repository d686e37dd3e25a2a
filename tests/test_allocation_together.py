"""The shortcuts of issue 38: allocations asked by several processes made together (as one by one), and a step on
PostgreSQL that reads ahead (what it reads is what the database answers; every edit is still caught)."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from advance_trial.errors import DataError, IntegrityError, UsageError
from advance_trial.randomisation import allocation as al
from advance_trial.randomisation import together, trial_log
from advance_trial.randomisation.database import PostgresDb
from advance_trial.randomisation.key import read_checkpoint, write_checkpoint
from advance_trial.randomisation.log import lock_path
from tests.allocation_helpers import make_trial

SITES = ("london", "wolverhampton", "bristol")
KEY = bytes(range(32))  # the same lists in both trials of a comparison


#: The bells this test process listens on, by request (as a waiting process listens on its own).
_BELLS: dict[str, int] = {}


def _left(t, ids):
    """Requests left in the key folder, as processes that found the lock taken leave them (oldest first), each
    with its bell, listened on."""
    names = []
    for i, pid in enumerate(ids, 1):
        name = together._name()
        _BELLS[name] = together._bell(t.ring, name)
        names.append(together._leave(t.cfg, t.ring, al.log_path(t.cfg), al.prepare(t.cfg, pid, SITES[i % 3]), name))
    return names


def _in_folder(t):
    """What is in the folder, but the door (a named pipe that holds nothing between steps)."""
    return sorted(p.name for p in together.folder_of(t.ring).iterdir() if p.name != "door")


def _taken(t, name, pid):
    """The answer a request's bell carries (None: none), the request and its bell gone, as its process takes it."""
    bell = _BELLS.pop(name)
    try:
        return together._answer(t.ring, name, pid, bell)
    finally:
        os.close(bell)
        (together.folder_of(t.ring) / f"{name}.bell").unlink(missing_ok=True)


def _steps(monkeypatch) -> list[int]:
    """Count the writing steps (each: one verification, one commit, one checkpoint)."""
    counted: list[int] = []
    real = trial_log._writing

    def counting(*args, **kwargs):
        counted.append(kwargs.get("many", 1))
        return real(*args, **kwargs)

    monkeypatch.setattr(trial_log, "_writing", counting)
    import advance_trial.randomisation.verbs as verbs

    monkeypatch.setattr(verbs, "_writing", counting)
    return counted


def test_requests_left_by_other_processes_are_made_in_one_step_as_one_by_one(tmp_path, monkeypatch):
    ids = [f"AF{i:03d}" for i in range(7)]
    one = make_trial(tmp_path / "one", key=KEY)
    alone = [al.allocate(one.cfg, one.ring, pid, SITES[i % 3], now=None) for i, pid in enumerate(ids)]
    t = make_trial(tmp_path / "together", key=KEY)
    names = _left(t, ids[1:])
    steps = _steps(monkeypatch)
    mine = al.allocate(t.cfg, t.ring, ids[0], SITES[0])
    assert steps == [7]  # the process holding the lock made its own and the six left for it, in one step
    assert _in_folder(t) == sorted(f"{n}.bell" for n in names)  # each request gone; no answer on disk
    answers = [_taken(t, name, pid) for name, pid in zip(names, ids[1:], strict=True)]
    made = [mine, *answers]
    assert [(a.participant_id, a.arm, a.sequence, a.site, a.new) for a in made] == [
        (a.participant_id, a.arm, a.sequence, a.site, a.new) for a in alone
    ]
    report = al.verify_log(t.cfg, t.ring, receipts=[a.receipt for a in made])
    assert report.allocations == 7 and report.receipts == 7
    assert _in_folder(t) == []  # each answer taken, each request and bell gone
    assert len({a.allocated_at for a in made}) == 7  # each man his own time, as one by one
    # each receipt signed by the process that asked, once the lock is let go: none signed for another under it
    assert "signature" in mine.receipt and not any("signature" in a.receipt for a in answers)
    from advance_trial.randomisation.key import check_receipt_signature

    for a in made:
        check_receipt_signature(trial_log.signed(t.ring, a).receipt, t.ring.public_path.read_bytes())


def test_a_request_of_a_process_that_was_killed_is_not_made(tmp_path):
    t = make_trial(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    [name] = _left(t, ["AF100"])
    folder = together.folder_of(t.ring)
    gone = name.split("-")
    gone[1] = str(dead.pid)
    for suffix in ("ask", "bell"):
        os.rename(folder / f"{name}.{suffix}", folder / ("-".join(gone) + f".{suffix}"))
    al.allocate(t.cfg, t.ring, "AF001", "london")
    assert [m.participant_id for m in al.allocated_men(t.cfg, t.ring)] == ["AF001"]
    assert _in_folder(t) == []


def test_a_request_for_another_config_log_or_user_is_left_to_its_process(tmp_path):
    t = make_trial(tmp_path)
    names = _left(t, ["AF100", "AF101", "AF102"])
    folder = together.folder_of(t.ring)
    for name, (key, value) in zip(names, [("config", "0" * 64), ("log", "/elsewhere/log.sqlite"),
                                          ("uid", os.geteuid() + 1)], strict=True):  # fmt: skip
        body = json.loads((folder / f"{name}.ask").read_text())
        (folder / f"{name}.ask").write_text(json.dumps({**body, key: value}))
    al.allocate(t.cfg, t.ring, "AF001", "london")
    assert [m.participant_id for m in al.allocated_men(t.cfg, t.ring)] == ["AF001"]
    assert _in_folder(t) == sorted(f"{n}.{s}" for n in names for s in ("ask", "bell"))
    assert all(_taken(t, name, pid) is None for name, pid in zip(names, ["AF100", "AF101", "AF102"], strict=True))


def test_a_request_open_to_others_or_not_a_plain_file_is_not_made(tmp_path):
    t = make_trial(tmp_path)
    open_to_others, linked = _left(t, ["AF100", "AF101"])
    folder = together.folder_of(t.ring)
    os.chmod(folder / f"{open_to_others}.ask", 0o644)
    os.rename(folder / f"{linked}.ask", tmp_path / "elsewhere.ask")
    os.symlink(tmp_path / "elsewhere.ask", folder / f"{linked}.ask")
    al.allocate(t.cfg, t.ring, "AF001", "london")
    assert [m.participant_id for m in al.allocated_men(t.cfg, t.ring)] == ["AF001"]


def test_a_refused_request_gets_no_answer_and_its_own_process_says_why(tmp_path):
    t = make_trial(tmp_path)
    al.allocate(t.cfg, t.ring, "AF100", "bristol")
    [name] = _left(t, ["AF100"])  # allocated already, at another site
    al.allocate(t.cfg, t.ring, "AF001", "london")
    assert _taken(t, name, "AF100") is None  # its process makes its own step, which refuses it:
    with pytest.raises(DataError, match="AF100 was allocated with site=bristol"):
        al.allocate(t.cfg, t.ring, "AF100", "wolverhampton")


def test_a_process_that_dies_after_its_commit_leaves_the_men_allocated_and_the_log_whole(tmp_path, monkeypatch):
    t = make_trial(tmp_path)
    [name] = _left(t, ["AF100"])

    def killed(folder, bell, name, answer):
        raise KeyboardInterrupt  # stopped after the commit, before the bell is rung with the answer

    monkeypatch.setattr(together, "_tell", killed)
    with pytest.raises(KeyboardInterrupt):
        al.allocate(t.cfg, t.ring, "AF001", "london")
    monkeypatch.undo()
    assert _taken(t, name, "AF100") is None  # the waiting process finds no answer: it steps itself
    again = al.allocate(t.cfg, t.ring, "AF100", "wolverhampton")
    assert not again.new and again.sequence == 2  # he was allocated, once
    assert al.verify_log(t.cfg, t.ring).allocations == 2


def test_a_process_that_finds_the_lock_taken_is_answered_by_the_step_under_way(tmp_path):
    """A real second process: it leaves its request while this one holds the lock, and takes its answer."""
    t = make_trial(tmp_path)
    code = (
        "import json\n"
        "from advance_trial.config import load_config\n"
        "from advance_trial.randomisation.allocation import allocate, trial_key\n"
        f"cfg = load_config({str(t.config)!r})\n"
        f"a = allocate(cfg, trial_key(cfg, {str(t.keys)!r}), 'AF200', 'bristol')\n"
        "print(json.dumps([a.sequence, a.arm, a.new, a.receipt]))\n"
    )
    fd = os.open(lock_path(t.ring), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a step under way
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    folder = together.folder_of(t.ring)
    for _ in range(600):
        if folder.is_dir() and any(p.suffix == ".ask" for p in folder.iterdir()):
            break
        time.sleep(0.05)
    else:  # pragma: no cover
        raise AssertionError("no request was left")
    from advance_trial.randomisation.log import holding
    from advance_trial.randomisation.verbs import _make

    where = al.log_path(t.cfg)
    with holding(t.ring):  # this process holds the lock: it leads, as allocate does when it takes the lock
        [mine] = together._lead(t.cfg, t.ring, where, [al.prepare(t.cfg, "AF001", "london")],
                                lambda items: _make(t.cfg, t.ring, where, items))  # fmt: skip
    os.close(fd)
    out, _ = other.communicate(timeout=120)
    sequence, arm, new, receipt = json.loads(out)
    assert (mine.sequence, sequence, new) == (1, 2, True)
    men = {m.participant_id: m for m in al.allocated_men(t.cfg, t.ring)}
    assert men["AF200"].arm == arm and men["AF200"].sequence == 2
    assert al.verify_log(t.cfg, t.ring, receipts=[mine.receipt, receipt]).receipts == 2


# ---------------------------------------------------------------------------- PostgreSQL: the step's reads ahead


@pytest.fixture
def pg_trial(tmp_path, pg_server):
    from tests.pg import fresh_database

    t = make_trial(tmp_path, init=False, key=KEY)
    t.log = fresh_database(pg_server)
    t.init()
    return t


def _elsewhere(t, pid: str) -> None:
    """One allocation by another process (another instance of the service)."""
    code = (
        "from advance_trial.config import load_config\n"
        "from advance_trial.randomisation.allocation import allocate, trial_key\n"
        f"cfg = load_config({str(t.config)!r})\n"
        f"allocate(cfg, trial_key(cfg, {str(t.keys)!r}), {pid!r}, 'london', log={t.log!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_what_a_step_reads_ahead_is_what_the_database_answers(pg_trial, monkeypatch):
    t = pg_trial
    served: list[str] = []
    real = PostgresDb.query

    def query(self, sql, params=()):
        key = (sql, tuple(params))
        if key in self._answers:  # answered from the read ahead: the database, asked now, says the same
            ahead = self._answers.pop(key)
            assert ahead == real(self, sql, params)
            served.append(sql.split()[1])
            return ahead
        return real(self, sql, params)

    monkeypatch.setattr(PostgresDb, "query", query)
    made = [al.allocate(t.cfg, t.ring, "AF001", "london", log=t.log)]
    made += al.allocate_many(t.cfg, t.ring, [al.prepare(t.cfg, f"AF00{i}", SITES[i % 3]) for i in (2, 3, 4)],
                             log=t.log)  # fmt: skip
    _elsewhere(t, "AF100")
    made.append(al.allocate(t.cfg, t.ring, "AF005", "bristol", log=t.log))
    assert {"key,", "g.guarded,", '"row",'} <= set(served)  # the meta, the marks, the rows
    assert len(served) >= 9  # three steps, each three reads or four
    monkeypatch.undo()
    one = make_trial(t.root.parent / "one", key=KEY)
    alone = [al.allocate(one.cfg, one.ring, pid, site) for pid, site in
             [("AF001", "london"), ("AF002", SITES[2]), ("AF003", SITES[0]), ("AF004", SITES[1]),
              ("AF100", "london"), ("AF005", "bristol")]]  # fmt: skip
    assert [a.arm for a in made] == [a.arm for i, a in enumerate(alone) if i != 4]
    assert al.verify_log(t.cfg, t.ring, t.log, [a.receipt for a in made]).allocations == 6


@pytest.mark.parametrize("row", [3, 5, 6])  # an old row (under the change mark), the last step's rows
def test_a_row_edited_between_steps_is_caught_by_the_next_step_on_postgresql(pg_trial, row):
    from tests.service_helpers import edit_events

    t = pg_trial
    for i in range(3):
        al.allocate(t.cfg, t.ring, f"AF00{i}", SITES[i], log=t.log)
    al.allocate_many(t.cfg, t.ring, [al.prepare(t.cfg, f"AF01{i}", SITES[i]) for i in range(2)], log=t.log)
    edit_events(t.log, f"UPDATE events SET actor = 'someone else' WHERE \"row\" = {row}")
    with pytest.raises(IntegrityError, match=f"row {row}"):
        al.allocate(t.cfg, t.ring, "AF999", "london", log=t.log)


def test_a_database_without_a_log_is_named_as_ever(pg_trial, pg_server):
    from tests.pg import fresh_database

    t = pg_trial
    empty = fresh_database(pg_server)
    with pytest.raises(UsageError, match="no allocation log there"):
        al.allocate(t.cfg, t.ring, "AF001", "london", log=empty)
    assert al.allocate(t.cfg, t.ring, "AF001", "london", log=t.log).sequence == 1


# ---------------------------------------------------------------------------- PostgreSQL: rows guarded, not scanned

_EDIT = "UPDATE events SET actor = 'someone else' WHERE \"row\" = 3"
_ALWAYS = ["ALTER TABLE events ENABLE ALWAYS TRIGGER events_append_only",
           "ALTER TABLE events ENABLE ALWAYS TRIGGER events_no_truncate"]  # fmt: skip


def _put_back_function() -> str:
    from advance_trial.randomisation.log import _TRIGGERS

    return _TRIGGERS["postgresql"][0].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")


SNEAKY = {  # what a database owner without the key might do between two steps, leaving the triggers as they were
    "triggers off, a row edited, triggers on again": ["ALTER TABLE events DISABLE TRIGGER USER", _EDIT, *_ALWAYS],
    "function made a no-op, a row edited, function put back": [
        "CREATE OR REPLACE FUNCTION advance_trial_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RETURN NEW; END $$", _EDIT, "@function"],
    "table rewritten by a change of a column's type": [
        "ALTER TABLE events ALTER COLUMN actor TYPE text USING (CASE WHEN \"row\" = 3 THEN 'someone else' "
        "ELSE actor END)"],
    "table replaced by an edited copy with the same triggers": [
        "ALTER TABLE events RENAME TO events_old", "DROP TRIGGER events_append_only ON events_old",
        "DROP TRIGGER events_no_truncate ON events_old", "CREATE TABLE events (LIKE events_old INCLUDING ALL)",
        "INSERT INTO events SELECT * FROM events_old", _EDIT,
        "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION "
        "advance_trial_append_only()", "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH "
        "STATEMENT EXECUTE FUNCTION advance_trial_append_only()", *_ALWAYS],
}  # fmt: skip


def _as_owner(t, statements) -> None:
    import psycopg

    with psycopg.connect(t.log, autocommit=True) as con:
        for statement in statements:
            con.execute(_put_back_function() if statement == "@function" else statement)


def test_a_step_on_postgresql_reads_no_row_it_verified_before_while_the_triggers_guard_them(pg_trial):
    from advance_trial.randomisation.database import connect, location

    t = pg_trial
    for i in range(3):
        al.allocate(t.cfg, t.ring, f"AF00{i}", SITES[i], log=t.log)
    db = connect(location(t.log))
    try:
        (rows, mark), _ = db.change_marks(None)
        assert rows is None and mark[0] == "guarded"  # a witness of the catalog: no row counted, none read
        db.run("ALTER TABLE events DISABLE TRIGGER events_no_truncate")
        (rows, _), _ = db.change_marks(None)
        assert rows == 4  # not guarded: every row's number and xmin, as before
    finally:
        db.close()


@pytest.mark.parametrize("how", SNEAKY)
def test_an_old_row_edited_behind_triggers_put_back_as_they_were_is_caught_by_the_next_step(pg_trial, how):
    t = pg_trial
    for i in range(4):
        al.allocate(t.cfg, t.ring, f"AF00{i}", SITES[i % 3], log=t.log)
    _as_owner(t, SNEAKY[how])
    with pytest.raises(IntegrityError, match="row 3"):
        al.allocate(t.cfg, t.ring, "AF999", "london", log=t.log)


def test_no_session_turns_the_append_only_triggers_off_on_postgresql(pg_trial):
    import psycopg

    t = pg_trial
    al.allocate(t.cfg, t.ring, "AF001", "london", log=t.log)
    with psycopg.connect(t.log, autocommit=True) as con:
        con.execute("SET session_replication_role = replica")  # turns off triggers not enabled ALWAYS
        for statement in (_EDIT.replace("= 3", "= 2"), 'DELETE FROM events WHERE "row" = 2', "TRUNCATE events"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                con.execute(statement)
    assert al.verify_log(t.cfg, t.ring, t.log).allocations == 1


# ---------------------------------------------------------------------------- the waiting process's bell


def _asking(t, pid: str) -> subprocess.Popen:
    code = (
        "import json\n"
        "from advance_trial.config import load_config\n"
        "from advance_trial.randomisation.allocation import allocate, trial_key\n"
        f"cfg = load_config({str(t.config)!r})\n"
        f"a = allocate(cfg, trial_key(cfg, {str(t.keys)!r}), {pid!r}, 'bristol')\n"
        "print(json.dumps([a.sequence, a.arm, a.new, a.receipt]))\n"
    )
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    folder = together.folder_of(t.ring)
    for _ in range(600):
        if folder.is_dir() and any(p.suffix == ".ask" for p in folder.iterdir()):
            return other
        time.sleep(0.05)
    raise AssertionError("no request was left")  # pragma: no cover


def test_a_waiting_process_is_answered_by_its_bell_while_the_lock_is_still_held(tmp_path):
    t = make_trial(tmp_path)
    fd = os.open(lock_path(t.ring), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a step under way, and the next one after it: the lock is never let go
    try:
        other = _asking(t, "AF200")
        assert [Path(p).suffix for p in _in_folder(t)] == [".ask", ".bell"]
        from advance_trial.randomisation.log import holding
        from advance_trial.randomisation.verbs import _make

        where = al.log_path(t.cfg)
        with holding(t.ring):
            together._lead(t.cfg, t.ring, where, [al.prepare(t.cfg, "AF001", "london")],
                           lambda items: _make(t.cfg, t.ring, where, items))  # fmt: skip
        out, _ = other.communicate(timeout=120)  # answered, the lock still held here
    finally:
        os.close(fd)
    sequence, _arm, new, receipt = json.loads(out)
    assert (sequence, new) == (2, True) and receipt["sequence"] == 2
    assert _in_folder(t) == []  # request and bell gone


def test_a_request_left_after_the_step_read_the_folder_is_made_by_its_own_process_once_the_lock_is_free(tmp_path):
    t = make_trial(tmp_path)
    fd = os.open(lock_path(t.ring), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        other = _asking(t, "AF200")
    finally:
        os.close(fd)  # a step that made nothing for it: no bell rings; it looks at the lock, takes it, steps
    out, _ = other.communicate(timeout=120)
    sequence, _arm, new, _receipt = json.loads(out)
    assert (sequence, new) == (1, True)
    assert _in_folder(t) == []


@pytest.mark.parametrize("planted", ["file", "symlink"])
def test_a_bell_that_is_not_a_named_pipe_is_never_written(tmp_path, planted):
    t = make_trial(tmp_path)
    [name] = _left(t, ["AF100"])
    folder = together.folder_of(t.ring)
    target = tmp_path / "target"
    target.write_text("untouched")
    (folder / f"{name}.bell").unlink()  # the pipe listened on is replaced by a plain file or a link
    if planted == "file":
        (folder / f"{name}.bell").write_text("untouched")
    else:
        (folder / f"{name}.bell").symlink_to(target)
    al.allocate(t.cfg, t.ring, "AF001", "london")
    assert target.read_text() == "untouched"
    if planted == "file":
        assert (folder / f"{name}.bell").read_text() == "untouched"
    # no bell of its own to carry its answer: not made here, left to its own process
    assert [m.participant_id for m in al.allocated_men(t.cfg, t.ring)] == ["AF001"]
    assert _taken(t, name, "AF100") is None


def test_a_step_waits_a_moment_for_the_processes_it_answered_last_and_one_process_alone_never_waits(
    tmp_path, monkeypatch
):
    t = make_trial(tmp_path)
    waited: list[tuple[int, float]] = []
    real = together._await

    def awaiting(cfg, ring, where, most, want, known):
        began = time.monotonic()
        try:
            return real(cfg, ring, where, most, want, known)
        finally:
            waited.append((want, time.monotonic() - began))

    monkeypatch.setattr(together, "_await", awaiting)
    monkeypatch.setattr(together, "_ANSWERED", [0])
    for i in range(3):
        al.allocate(t.cfg, t.ring, f"AF00{i}", SITES[i])
    assert waited == []  # alone: no step waits for anyone
    _left(t, ["AF100"])
    al.allocate(t.cfg, t.ring, "AF003", "london")  # answers the one left
    assert waited == [] and together._ANSWERED == [1]
    al.allocate(t.cfg, t.ring, "AF004", "london")  # no one asks again: waits GRACE for one, then steps alone
    [(want, seconds)] = waited
    assert want == 1 and together.GRACE <= seconds < together.GRACE + 0.5  # the grace, no more (a busy machine)
    assert together._ANSWERED == [0]
    assert al.verify_log(t.cfg, t.ring).allocations == 6


# ---------------------------------------------------------------------------- the open checkpoint and the door


def test_a_step_made_with_others_leaves_the_checkpoint_open_and_the_next_names_nothing_before_its_commit(
    tmp_path, monkeypatch
):
    t = make_trial(tmp_path)
    announced: list[int] = []
    real = trial_log.announce
    monkeypatch.setattr(
        trial_log, "announce", lambda ring, log_id, head, upto: (announced.append(upto), real(ring, log_id, head, upto))
    )
    [first] = _left(t, ["AF100"])
    al.allocate(t.cfg, t.ring, "AF001", "london")  # a step of two rows after a closed checkpoint: announced
    assert announced == [3] and _taken(t, first, "AF100").sequence == 2
    cp = read_checkpoint(t.ring)
    assert (cp.row, cp.upto) == (3, 3 + together.MOST)  # open for the next step
    names = _left(t, ["AF101", "AF102"])
    al.allocate(t.cfg, t.ring, "AF002", "london")  # three rows: the open checkpoint names them already
    assert announced == [3]
    cp = read_checkpoint(t.ring)
    assert (cp.row, cp.upto) == (6, 6 + together.MOST)
    assert [_taken(t, n, p).sequence for n, p in zip(names, ["AF101", "AF102"], strict=True)] == [4, 5]
    monkeypatch.setattr(together, "_ANSWERED", [0])
    al.allocate(t.cfg, t.ring, "AF003", "london")  # alone: closes it
    cp = read_checkpoint(t.ring)
    assert (cp.row, cp.upto) == (7, None)
    assert al.verify_log(t.cfg, t.ring).allocations == 6


def test_a_step_in_the_open_window_killed_after_its_commit_is_whole_and_rows_past_the_window_are_caught(
    tmp_path, monkeypatch
):
    t = make_trial(tmp_path)
    [first] = _left(t, ["AF100"])
    al.allocate(t.cfg, t.ring, "AF001", "london")
    assert _taken(t, first, "AF100").sequence == 2
    opened = read_checkpoint(t.ring)
    names = _left(t, ["AF101", "AF102"])

    def killed(*args, **kwargs):  # as if the process died after the commit, before the checkpoint moved
        raise KeyboardInterrupt

    monkeypatch.setattr(trial_log, "settle", killed)
    with pytest.raises(KeyboardInterrupt):
        al.allocate(t.cfg, t.ring, "AF002", "london")
    monkeypatch.undo()
    assert read_checkpoint(t.ring) == opened  # nothing was written to it for that step
    assert al.verify_log(t.cfg, t.ring).allocations == 5  # committed whole, three rows past the head: accepted
    assert [_taken(t, n, p) for n, p in zip(names, ["AF101", "AF102"], strict=True)] == [None, None]
    again = al.allocate(t.cfg, t.ring, "AF101", SITES[1])  # its process steps itself: found allocated, once
    assert not again.new and again.sequence == 4
    for i in range(40):  # the log goes on, alone: the checkpoint closed, then moved on step by step
        al.allocate(t.cfg, t.ring, f"AF2{i:02d}", SITES[i % 3])
    assert read_checkpoint(t.ring).upto is None
    write_checkpoint(t.ring, opened)  # put back to the open one, more than 32 rows before the log's end
    with pytest.raises(IntegrityError, match="goes on past the checkpoint"):
        al.verify_log(t.cfg, t.ring)


def test_a_step_waiting_for_requests_goes_on_when_the_door_is_knocked(tmp_path, monkeypatch):
    t = make_trial(tmp_path)
    together.folder_of(t.ring).mkdir(mode=0o700)
    monkeypatch.setattr(together, "GRACE", 30.0)

    def never(seconds):
        raise AssertionError("the step looked every tenth of its grace instead of listening at the door")

    monkeypatch.setattr(together.time, "sleep", never)
    names: list[str] = []

    def asking():
        names.extend(_left(t, ["AF100"]))
        together._knock(t.ring)

    threading.Timer(0.2, asking).start()
    began = time.monotonic()
    found = together._await(t.cfg, t.ring, al.log_path(t.cfg), together.MOST - 1, 1, {})
    assert [n for n, _ in found] == names and time.monotonic() - began < 10
    assert _taken(t, names[0], "AF100") is None  # left as it was: not made


@pytest.mark.parametrize("planted", ["file", "symlink"])
def test_a_door_that_is_not_a_named_pipe_is_never_written(tmp_path, planted, monkeypatch):
    t = make_trial(tmp_path)
    folder = together.folder_of(t.ring)
    folder.mkdir(mode=0o700)
    target = tmp_path / "target"
    target.write_text("untouched")
    if planted == "file":
        (folder / "door").write_text("untouched")
    else:
        (folder / "door").symlink_to(target)
    [name] = _left(t, ["AF100"])
    together._knock(t.ring)
    assert together._door(t.ring) == -1
    monkeypatch.setattr(together, "_ANSWERED", [2])  # the step waits for one more: it looks, without the door
    al.allocate(t.cfg, t.ring, "AF001", "london")
    assert target.read_text() == "untouched"
    if planted == "file":
        assert (folder / "door").read_text() == "untouched"
    assert _taken(t, name, "AF100").sequence == 2


def test_a_thread_keeps_its_bell_and_an_answer_meant_for_an_earlier_request_is_ignored(tmp_path):
    t = make_trial(tmp_path)
    called, fd = together._own_bell(t.ring)
    assert together._own_bell(t.ring) == (called, fd)  # kept for the thread's next request: no new pipe
    folder = together.folder_of(t.ring)
    made = al.allocate(t.cfg, t.ring, "AF001", "london")
    together._tell(folder, called, "an-earlier-request", made)  # an answer come late, for a request withdrawn
    assert together._heard(fd, "this-request", "AF001") is None  # ignored (and gone)
    together._tell(folder, called, "this-request", made)
    assert together._heard(fd, "this-request", "AF001") == made
    (folder / f"{called}.bell").unlink()  # its bell removed: made again at the next request
    again, _ = together._own_bell(t.ring)
    assert again != called and stat.S_ISFIFO(os.stat(folder / f"{again}.bell").st_mode)
    other: list[tuple[str, int]] = []
    thread = threading.Thread(target=lambda: other.append(together._own_bell(t.ring)))
    thread.start()
    thread.join()
    assert other[0][0] != again  # each thread its own


@pytest.mark.parametrize("how", ["half written", "a bell elsewhere", "a bell of another request"])
def test_a_request_half_written_or_naming_a_bell_not_its_own_pipe_here_is_not_made(tmp_path, how):
    t = make_trial(tmp_path)
    folder = together.folder_of(t.ring)
    [name, other] = _left(t, ["AF100", "AF101"])
    body = json.loads((folder / f"{name}.ask").read_text())
    elsewhere = tmp_path / "elsewhere"
    os.mkfifo(elsewhere, 0o600)
    if how == "half written":
        (folder / f"{name}.ask").write_text(json.dumps(body)[:40])
    elif how == "a bell elsewhere":
        (folder / f"{name}.ask").write_text(json.dumps({**body, "bell": str(elsewhere.with_suffix(""))}))
    else:  # a plain file's name with the bell's suffix taken off: not a named pipe of the folder
        (folder / "plain.bell").write_text("untouched")
        (folder / f"{name}.ask").write_text(json.dumps({**body, "bell": "plain"}))
    al.allocate(t.cfg, t.ring, "AF001", "london")
    men = [m.participant_id for m in al.allocated_men(t.cfg, t.ring)]
    assert men == ["AF001", "AF101"]  # the other request, whole and with its bell, was made
    assert (folder / f"{name}.ask").exists()  # left as it was, to its own process
    assert _taken(t, name, "AF100") is None and _taken(t, other, "AF101").sequence == 2
