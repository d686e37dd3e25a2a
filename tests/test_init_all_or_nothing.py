"""Issue 32, attack 4: `randomise init` under a full disk, or killed, at every step it takes.

Each write, fsync, link, rename and database statement of init fails in turn (ENOSPC, or the database's "disk is
full"); the failure is one line naming a path (exit 1), and init run again finishes the trial: the config records
the key's fingerprint, the log verifies, a man can be allocated, and no temporary file is left. Killed at each step
(its temporary files left behind), init run again finishes too. Allocating under a full disk is one line too.
"""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3

import pytest

from advance_trial.randomisation import database
from tests.allocation_helpers import config_text

CALLS = ("write", "fsync", "link", "replace")


class Fault:
    """Fails the ``at``-th of init's writes (counted across the calls it patches)."""

    def __init__(self, monkeypatch, at: int, error: type[BaseException] | None = None) -> None:
        self.at, self.calls, self.error = at, 0, error
        for name in CALLS:
            monkeypatch.setattr(os, name, self._wrap(getattr(os, name)))
        monkeypatch.setattr(database.SqliteDb, "run", self._wrap(database.SqliteDb.run, sql=True))

    def _wrap(self, real, sql=False):
        def call(*args, **kwargs):
            self.calls += 1
            if self.calls == self.at:
                if self.error is not None:
                    raise self.error()
                if sql:
                    raise sqlite3.OperationalError("database or disk is full")
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(*args, **kwargs)

        return call


def _trial(root):
    config = root / "configs" / "trial.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(config_text().replace("randomisation:\n", "randomisation:\n  log: ../log/trial.sqlite\n", 1))
    return config, root / "keys"


def _temporaries(root) -> list[str]:
    return sorted(str(p) for p in root.rglob(".*.tmp*"))


def _finished(invoke, config, keys, root) -> None:
    complete = "key_fingerprint" in config.read_text()  # stopped after its last move (syncing the config's folder)
    again = invoke("randomise", "init", config, "--key-dir", keys)
    assert (again.exit_code, "created already" in again.output) == ((2, True) if complete else (0, False)), again.output
    key = (keys / "advance-feasibility.key").read_text().splitlines()[1]
    assert f"key_fingerprint: {hashlib.sha256(bytes.fromhex(key)).hexdigest()}" in config.read_text()
    assert invoke("randomise", "verify", config, "--key-dir", keys).exit_code == 0
    allocated = invoke("randomise", "allocate", config, "--key-dir", keys, "--participant", "AF001", "--site", "london")
    assert allocated.exit_code == 0, allocated.output
    assert _temporaries(root) == []
    assert invoke("randomise", "init", config, "--key-dir", keys).exit_code == 2  # created once


@pytest.mark.parametrize("how", ["full disk", "killed"])
def test_init_stopped_at_any_step_is_one_line_and_is_finished_by_running_it_again(tmp_path, invoke, monkeypatch,
                                                                                   how):  # fmt: skip
    steps = 0
    for at in range(1, 200):
        root = tmp_path / f"at{at}"
        config, keys = _trial(root)
        with monkeypatch.context() as m:
            fault = Fault(m, at, KeyboardInterrupt if how == "killed" else None)
            if how == "killed":  # kill -9: nothing is cleaned up
                from advance_trial.randomisation import initialise as ini

                m.setattr(ini._Staged, "discard", lambda self: None)
            out = invoke("randomise", "init", config, "--key-dir", keys)
        if fault.calls < at:  # init took fewer steps: every one has failed once
            assert out.exit_code == 0, out.output
            break
        steps += 1
        if how == "full disk":
            lines = [line for line in out.output.splitlines() if line.strip()]
            assert out.exit_code == 1 and len(lines) == 1, (at, out.output)
            assert str(root) in lines[0] and "(exit 1)" in lines[0], (at, lines[0])
            assert "Unexpected error" not in out.output and "Traceback" not in out.output
            assert _temporaries(root) == [], at
        else:
            assert out.exit_code == 130, (at, out.output)
        _finished(invoke, config, keys, root)
    assert steps > 15


def test_allocating_under_a_full_disk_is_one_line_naming_the_log(tmp_path, invoke, monkeypatch):
    config, keys = _trial(tmp_path)
    assert invoke("randomise", "init", config, "--key-dir", keys).exit_code == 0

    def full(real):
        def write(self, sql, params=()):
            if sql.lstrip().upper().startswith("INSERT"):
                raise sqlite3.OperationalError("database or disk is full")
            return real(self, sql, params)

        return write

    with monkeypatch.context() as m:  # a row is written by run, or by query with RETURNING
        m.setattr(database.SqliteDb, "run", full(database.SqliteDb.run))
        m.setattr(database.SqliteDb, "query", full(database.SqliteDb.query))
        out = invoke("randomise", "allocate", config, "--key-dir", keys, "--participant", "AF001", "--site", "london")
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert out.exit_code == 1 and len(lines) == 1, out.output
    assert str(tmp_path / "log" / "trial.sqlite") in lines[0] and "disk is full" in lines[0]
    assert invoke("randomise", "verify", config, "--key-dir", keys).exit_code == 0


def test_init_with_a_postgresql_log_stopped_by_a_full_disk_is_finished_again(tmp_path, invoke, monkeypatch, pg_server):
    from psycopg.errors import DiskFull

    from tests.pg import fresh_database

    url = fresh_database(pg_server)
    config, keys = _trial(tmp_path)
    real, calls = database.PostgresDb.run, []

    def full(self, sql, params=()):
        calls.append(sql)
        if len(calls) == 3:
            raise DiskFull("could not extend file: No space left on device")
        return real(self, sql, params)

    with monkeypatch.context() as m:
        m.setattr(database.PostgresDb, "run", full)
        out = invoke("randomise", "init", config, "--key-dir", keys, "--log", url)
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert out.exit_code == 1 and len(lines) == 1 and "No space left on device" in lines[0], out.output
    assert "key_fingerprint" not in config.read_text() and not (keys / "advance-feasibility.checkpoint.json").exists()
    again = invoke("randomise", "init", config, "--key-dir", keys, "--log", url)
    assert again.exit_code == 0, again.output
    assert invoke("randomise", "verify", config, "--key-dir", keys, "--log", url).exit_code == 0
    assert _temporaries(tmp_path) == []
