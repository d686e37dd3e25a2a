"""The allocation log in PostgreSQL: the same chain, checkpoint and refusals as in SQLite, and moving a log there."""

from __future__ import annotations

import pytest

from advance_trial.errors import IntegrityError, UsageError
from advance_trial.randomisation import allocation as al
from tests.allocation_helpers import make_trial
from tests.pg import fresh_database
from tests.service_helpers import edit_events, run_sql


@pytest.fixture
def pg_trial(tmp_path, pg_server):
    t = make_trial(tmp_path, init=False)
    t.log = fresh_database(pg_server)
    t.init()
    for i in range(12):
        al.allocate(t.cfg, t.ring, f"AF{i:03d}", ("london", "bristol", "wolverhampton")[i % 3], log=t.log)
    return t


def test_rows_cannot_be_changed_deleted_or_truncated_through_the_database(pg_trial):
    for sql in ("UPDATE events SET site = 'x'", 'DELETE FROM events WHERE "row" = 13', "TRUNCATE events",
                "UPDATE meta SET value = 'x'"):  # fmt: skip
        with pytest.raises(Exception, match="append-only"):
            run_sql(pg_trial.log, sql)
    assert al.verify_log(pg_trial.cfg, pg_trial.ring, pg_trial.log).allocations == 12


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("UPDATE events SET site = 'bristol' WHERE \"row\" = 5", "row 5: its content does not authenticate"),
        ('DELETE FROM events WHERE "row" = 7', "row 8: expected row 7"),
        ('DELETE FROM events WHERE "row" >= 12', "rows were cut off the end"),
    ],
)
def test_an_owner_who_disables_the_triggers_is_still_caught(pg_trial, sql, message):
    edit_events(pg_trial.log, sql)
    with pytest.raises(IntegrityError, match=message):
        al.verify_log(pg_trial.cfg, pg_trial.ring, pg_trial.log)
    with pytest.raises(IntegrityError):
        al.allocate(pg_trial.cfg, pg_trial.ring, "AF999", "london", log=pg_trial.log)


def test_a_database_that_holds_a_log_is_never_made_a_second_one(pg_trial, tmp_path):
    from advance_trial.randomisation.log import create_log

    with pytest.raises(UsageError, match="already there"):
        create_log(pg_trial.log, pg_trial.ring)


def test_a_log_moves_from_sqlite_to_postgresql_row_for_row(tmp_path, pg_server, invoke):
    t = make_trial(tmp_path)
    receipts = [al.allocate(t.cfg, t.ring, f"AF{i:03d}", "london").receipt for i in range(8)]
    target = fresh_database(pg_server)
    r = invoke("randomise", "copy-log", t.config, "--to", target, "--key-dir", t.keys, "--json")
    assert r.exit_code == 0, r.output
    # the same chain: the receipts of the SQLite log are found in the copy, and it goes on from there
    report = al.verify_log(t.cfg, t.ring, target, receipts)
    assert report.allocations == 8 and report.receipts == 8
    nxt = al.allocate(t.cfg, t.ring, "AF100", "london", log=target)
    assert nxt.sequence == 9
    assert invoke("randomise", "verify", t.config, "--log", target, "--key-dir", t.keys).exit_code == 0
    # the old file is now one row behind the checkpoint: caught if anyone writes to it again
    with pytest.raises(IntegrityError, match="cut off the end or the log was replaced"):
        al.verify_log(t.cfg, t.ring)
    again = invoke("randomise", "copy-log", t.config, "--log", target, "--to", target, "--key-dir", t.keys)
    assert again.exit_code == 2


def test_a_postgresql_password_is_never_shown(pg_server, tmp_path):
    from advance_trial.randomisation.database import location

    loc = location("postgresql://advance:s3cret@127.0.0.1:1/none")
    assert "s3cret" not in loc.shown and "***" in loc.shown
    t = make_trial(tmp_path)
    with pytest.raises(UsageError) as caught:
        al.verify_log(t.cfg, t.ring, "postgresql://advance:s3cret@127.0.0.1:1/none")
    assert "s3cret" not in str(caught.value) and "cannot connect" in str(caught.value)


def test_a_config_may_name_a_postgresql_log_but_not_its_password(tmp_path):
    from advance_trial.config import parse_config
    from advance_trial.errors import ConfigError
    from tests.allocation_helpers import config_text

    text = config_text().replace(
        "randomisation:\n", "randomisation:\n  log: postgresql://trialrand@db.example/advance\n", 1
    )
    assert parse_config(text, "t.yaml").randomisation.log.startswith("postgresql://")
    bad = text.replace("trialrand@", "trialrand:hunter2@")
    with pytest.raises(ConfigError, match="randomisation.log: the URL holds a password") as caught:
        parse_config(bad, "t.yaml")
    assert caught.value.exit_code == 3
