"""The allocation log's store: an append-only SQLite file of authenticated, chained events.

Every event (the log's creation, an amendment, an allocation, an unblinding, an
export, a list drawn, a correction; with the service, an account changed and a
login) is one row of ``events``. The log is a SQLite file or a PostgreSQL
database (:mod:`advance_trial.randomisation.database`), with the same tables. Each row carries
``tag``, an HMAC-SHA256 under the key's authentication subkey over the row's
canonical content, which includes the previous row's tag (row 1's is derived
from the trial id and the log's random id). So without the key no one can
edit, insert, delete or reorder a row, or rewrite the whole chain, and have it
verify. The arm and the draw of every allocation (and the arm an unblinding
revealed) are sealed with AES-256-GCM under another subkey: reading the file
reveals no arm and nothing about the lists.

What the chain cannot show by itself, a cut off the end or the whole file put
back to an older copy, the checkpoint beside the key shows: every writing step
records the new head in it (:mod:`advance_trial.randomisation.key`).

Writers hold an exclusive lock on ``<trial>.lock`` in the key folder for the
whole step (verify, decide, append, commit, checkpoint), so concurrent
allocations are serialised and the checkpoint is always the head; readers hold
it shared. WAL journaling with ``synchronous=FULL`` means a process killed at
any moment leaves the whole step or none of it (see :func:`check_head` for
the moment between the commit and the checkpoint).
"""

from __future__ import annotations

import base64
import fcntl
import functools
import json
import os
import pwd
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from advance_trial.errors import IntegrityError, UsageError
from advance_trial.randomisation.database import (
    Db,
    Location,
    PostgresDb,
    connect,
    database_errors,
    location,
    refuse_unreadable,
)
from advance_trial.randomisation.key import Checkpoint, KeyRing, read_checkpoint, write_checkpoint
from advance_trial.randomisation.methods import canon

FORMAT = "advance-trial allocation log 2"
#: Allocation events; ``account`` (a service account added, disabled or given a token) and ``login`` (a login to
#: the service, failed or not) are the service's, accepted in logs created since the service came.
KINDS = ("init", "amendment", "allocation", "unblinding", "export", "list", "correction", "account", "login")
#: Columns of ``events`` that the tag covers, in this order.
TAGGED = (
    "row", "kind", "sequence", "participant_id", "id_key", "site", "stratum", "factors", "sealed", "actor", "note",
    "at_utc", "on_date", "config_version", "config_sha256", "detail", "prev_tag",
)  # fmt: skip
_COLUMNS = ", ".join(f'"{c}"' for c in (*TAGGED, "tag"))

_TABLES = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    "row" INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ({", ".join(repr(k) for k in KINDS)})),
    sequence INTEGER,
    participant_id TEXT,
    id_key TEXT,
    site TEXT,
    stratum TEXT,
    factors TEXT,
    sealed TEXT,
    actor TEXT NOT NULL,
    note TEXT,
    at_utc TEXT NOT NULL,
    on_date TEXT NOT NULL,
    config_version TEXT NOT NULL,
    config_sha256 TEXT NOT NULL,
    detail TEXT,
    prev_tag TEXT NOT NULL,
    tag TEXT NOT NULL
);
CREATE UNIQUE INDEX one_allocation_each ON events(participant_id) WHERE kind = 'allocation';
CREATE UNIQUE INDEX one_id_each ON events(id_key) WHERE kind = 'allocation';
CREATE UNIQUE INDEX one_sequence_each ON events(sequence) WHERE kind = 'allocation'
"""
_APPEND_ONLY = "the allocation log is append-only"
_TRIGGERS = {
    "sqlite": [
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
        for table in ("events", "meta")
        for op in ("UPDATE", "DELETE")
    ],
    "postgresql": [
        "CREATE FUNCTION advance_trial_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$",
        *(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
          "FOR EACH ROW EXECUTE FUNCTION advance_trial_append_only()" for table in ("events", "meta")),
        *(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
          "FOR EACH STATEMENT EXECUTE FUNCTION advance_trial_append_only()" for table in ("events", "meta")),
        # in force whatever the session (no replication role turns them off): while these triggers' catalog rows
        # are unchanged, a step trusts the rows it verified before without reading them (database.marks_query)
        *(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_{name}" for table in ("events", "meta")
          for name in ("append_only", "no_truncate")),
    ],
}  # fmt: skip


@dataclass(frozen=True)
class Head:
    """The last row of a log: its number and tag (row 0 and the genesis tag for an empty chain)."""

    row: int
    tag: str


def os_user() -> str:
    """The operating-system user running this process (not an environment variable anyone can set)."""
    return _user_name(os.geteuid())


@functools.lru_cache(maxsize=8)
def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def utc_now() -> datetime:
    return datetime.now(UTC)


def genesis_tag(ring: KeyRing, log_id: str) -> str:
    """The ``prev_tag`` of row 1: binds a log to its trial and to its own random id."""
    return ring.mac([FORMAT, ring.trial_id, log_id, "genesis"])


def row_tag(ring: KeyRing, values: Mapping[str, Any]) -> str:
    """The tag of a row: HMAC of every tagged column (including ``prev_tag``)."""
    return ring.mac([values[c] for c in TAGGED])


def _aead(ring: KeyRing) -> Any:
    return _aead_for(ring.seal)


@functools.lru_cache(maxsize=8)
def _aead_for(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


#: Sealed values are padded to a multiple of this many bytes, so that a ciphertext's length tells nothing
#: (``"tau"`` and ``"advance"`` would otherwise seal to different lengths).
SEAL_BLOCK = 512


def seal(ring: KeyRing, log_id: str, row: int, value: Any) -> str:
    """Encrypt a value for one row (AES-256-GCM, a fresh nonce, padded; the row's identity as associated data)."""
    plain = canon(value).encode()
    plain += b" " * (-len(plain) % SEAL_BLOCK)
    nonce = os.urandom(12)
    body = _aead(ring).encrypt(nonce, plain, canon([ring.trial_id, log_id, row]).encode())
    return base64.b64encode(nonce + body).decode()


def unseal(ring: KeyRing, log_id: str, row: int, text: str) -> Any:
    """Decrypt a row's sealed value; :class:`IntegrityError` when it does not open under this key."""
    from cryptography.exceptions import InvalidTag

    try:
        raw = base64.b64decode(text, validate=True)
        plain = _aead(ring).decrypt(raw[:12], raw[12:], canon([ring.trial_id, log_id, row]).encode())
        return json.loads(plain)
    except (InvalidTag, ValueError, TypeError):
        raise IntegrityError(f"row {row}: its sealed content does not open under this key") from None


def check_permissions(loc: Location) -> None:
    """Refuse to write a SQLite log that other users can read, or one in a folder they can enter."""
    if loc.path is None:
        return
    for p, what, mode in ((loc.path, "file", "600"), (loc.path.parent, "folder", "700")):
        if p.stat().st_mode & 0o077:
            raise UsageError(f"{p}: the allocation log's {what} is open to other users; chmod {mode} it")


#: Per log (location and id): the kinds of event its table accepts.
_KINDS: dict[tuple[str, str], tuple[str, ...]] = {}


class LogStore:
    """An open allocation log. Use :func:`open_log` or :func:`create_log`."""

    def __init__(self, db: Db, ring: KeyRing, meta: dict[str, str]) -> None:
        self.db, self.ring, self.meta = db, ring, meta
        self.stored: tuple[Any, ...] = ()  # the last row inserted, as stored
        self.queued: list[dict[str, Any]] = []  # rows made but not yet inserted (:meth:`flush`)

    @property
    def location(self) -> Location:
        return self.db.loc

    @property
    def log_id(self) -> str:
        return self.meta["log_id"]

    def events(self, after: int = 0) -> list[dict[str, Any]]:
        """Every row (after row ``after``), in row order."""
        cols, rows = self.db.query(*events_after(after))
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def content(self, upto: int, after: int = 0) -> list[tuple[Any, ...]]:
        """Every column of every row numbered after ``after`` up to ``upto``, in row order, as plain tuples."""
        return self.db.query(*content_between(after, upto))[1]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A writing transaction: the database's write lock is taken before anything is read."""
        with self.db.transaction(immediate=True):
            yield

    def insert(self, head: Head, kind: str, fields: Mapping[str, Any], sealed: Any = None,
               defer: bool = False) -> dict[str, Any]:  # fmt: skip
        """Append one row after ``head`` (inside a transaction); returns the row as written. With ``defer`` the row
        is made (sealed and tagged) but inserted only by :meth:`flush`, with the others made so."""
        values: dict[str, Any] = dict.fromkeys(TAGGED)
        values.update(fields)
        values.update(row=head.row + 1, kind=kind, prev_tag=head.tag)
        if sealed is not None:
            values["sealed"] = seal(self.ring, self.log_id, head.row + 1, sealed)
        values["tag"] = row_tag(self.ring, values)
        if kind not in self.kinds():
            raise UsageError(
                f"{self.location}: this log was created before {kind!r} events existed; copy it to a new database "
                "with `advance-trial randomise copy-log` to use the service"
            )
        if defer:
            self.queued.append(values)
            return values
        cols = ", ".join(f'"{c}"' for c in values)
        sql = f"INSERT INTO events ({cols}) VALUES ({', '.join('?' * len(values))}) RETURNING {_COLUMNS}"
        self.stored = self.db.query(sql, list(values.values()))[1][0]  # the row as the database spells it
        return values

    def flush(self, commit: bool = False) -> list[tuple[Any, ...]]:
        """Insert the rows :meth:`insert` deferred, in one statement (one round trip to a server); the rows as the
        database spells them, in row order. ``commit`` (PostgreSQL): commit the transaction in the same round trip
        (the step's commit: nothing may be written in it after)."""
        rows, self.queued = self.queued, []
        if not rows:
            return []
        marks = "(" + ", ".join("?" * (len(TAGGED) + 1)) + ")"
        sql = f"INSERT INTO events ({_COLUMNS}) VALUES {', '.join([marks] * len(rows))} RETURNING {_COLUMNS}"
        values = [row[c] for row in rows for c in (*TAGGED, "tag")]
        if commit and isinstance(self.db, PostgresDb):
            stored = self.db.query_and_commit(sql, values)[1]
        else:
            stored = self.db.query(sql, values)[1]
        return sorted(stored, key=lambda r: int(r[0]))

    def kinds(self) -> tuple[str, ...]:
        """The kinds of event this log's table accepts (a log created before the service lacks its kinds)."""
        if self.db.kind != "sqlite":
            return KINDS
        key = (self.location.identity, self.log_id)
        if key not in _KINDS:  # a log's table never changes: a copy (``copy-log``) is a new log
            sql = str(self.db.scalar("SELECT sql FROM sqlite_master WHERE name = 'events'") or "")
            _KINDS[key] = tuple(k for k in KINDS if f"'{k}'" in sql)
        return _KINDS[key]

    def close(self) -> None:
        self.db.close()


def _new_log(where: Location, ring: KeyRing, meta: dict[str, str], rows: list[tuple[Any, ...]]) -> LogStore:
    """A new log in an empty database: its tables and triggers, ``meta`` and ``rows`` (as stored), in one
    transaction; refuses a database that holds a log already."""
    db = connect(where, create=True)
    try:
        if db.has_table("events") or db.has_table("meta"):
            raise UsageError(f"{where}: an allocation log is already there")
        with db.transaction():
            for statement in [s for s in _TABLES.split(";") if s.strip()] + _TRIGGERS[db.kind]:
                db.run(statement)
            for item in sorted(meta.items()):
                db.run("INSERT INTO meta VALUES (?, ?)", item)
            marks = ", ".join("?" * (len(TAGGED) + 1))
            for row in rows:
                db.run(f"INSERT INTO events ({_COLUMNS}) VALUES ({marks})", row)
    except BaseException:
        db.close()
        raise
    return LogStore(db, ring, meta)


def create_log(where: Location | str | Path, ring: KeyRing) -> LogStore:
    """Create a new, empty log (SQLite: a new 0600 file in a 0700 folder; PostgreSQL: an empty database)."""
    meta = {"format": FORMAT, "trial_id": ring.trial_id, "log_id": os.urandom(16).hex()}
    return _new_log(location(where), ring, meta, [])


def copy_events(source: LogStore, target: Location) -> LogStore:
    """Copy a log (its meta and every row, as they are) into a new, empty database.

    The rows keep their tags, the log keeps its id: the copy is the same chain, and the checkpoint
    beside the key is its checkpoint. The caller verifies the source before and the copy after.
    """
    return _new_log(target, source.ring, dict(source.meta), source.content(10**12))


#: What a step reads: the log's meta, its rows after one, its rows between two (each a statement and its parameters).
META: tuple[str, tuple[int, ...]] = ("SELECT key, value FROM meta", ())


def events_after(after: int) -> tuple[str, tuple[int, ...]]:
    return f'SELECT {_COLUMNS} FROM events WHERE "row" > ? ORDER BY "row"', (after,)


def content_between(after: int, upto: int) -> tuple[str, tuple[int, ...]]:
    return f'SELECT {_COLUMNS} FROM events WHERE "row" > ? AND "row" <= ? ORDER BY "row"', (after, upto)


def open_log(where: Location | str | Path, ring: KeyRing, db: Db | None = None) -> LogStore:
    """Open an existing log of this trial; never creates one (``db``: the location's database, connected)."""
    where = location(where)
    db = db if db is not None else connect(where)
    try:
        try:
            meta = {str(k): str(v) for k, v in db.query(*META)[1]}
        except database_errors():  # autocommit: a failed read leaves no transaction behind
            if not db.has_table("meta"):
                raise UsageError(
                    f"{where}: no allocation log there; create it with `advance-trial randomise init`"
                ) from None
            raise
    except database_errors() as exc:
        db.close()
        raise refuse_unreadable(where, exc) from None
    except BaseException:
        db.close()
        raise
    if meta.get("format") != FORMAT or "log_id" not in meta:
        db.close()
        raise IntegrityError(f"{where}: not an allocation log of this format ({meta.get('format')!r})")
    if meta.get("trial_id") != ring.trial_id:
        db.close()
        raise IntegrityError(f"{where}: this is the log of {meta.get('trial_id')!r}, not of {ring.trial_id!r}")
    return LogStore(db, ring, meta)


#: The trial locks this thread holds exclusively already (:func:`holding`): a step inside them takes none again.
_HOLDING = threading.local()


def lock_path(ring: KeyRing) -> str:
    """The trial's lock file in the key folder."""
    return _lock_path(ring.folder, ring.trial_id)


@functools.lru_cache(maxsize=64)
def _lock_path(folder: Path, trial_id: str) -> str:
    return str(folder / f"{trial_id}.lock")


@contextmanager
def locked(ring: KeyRing, exclusive: bool) -> Iterator[None]:
    """Hold the trial's lock in the key folder (exclusive for writers, shared for readers); nothing more when this
    thread holds it exclusively already (:func:`holding`)."""
    path = lock_path(ring)
    if holds(ring):
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def holds(ring: KeyRing) -> bool:
    """Whether this thread holds the trial's lock exclusively already (:func:`holding`)."""
    return lock_path(ring) in getattr(_HOLDING, "paths", ())


@contextmanager
def holding(ring: KeyRing) -> Iterator[None]:
    """Say, for the block, that this thread holds the trial's lock exclusively (taken by its caller on
    :func:`lock_path`): the steps it runs in the block take it no second time (which would wait for itself)."""
    paths: set[str] = getattr(_HOLDING, "paths", set())
    _HOLDING.paths = paths
    path = lock_path(ring)
    paths.add(path)
    try:
        yield
    finally:
        paths.discard(path)


def check_chain(events: list[dict[str, Any]], ring: KeyRing, log_id: str, start: int = 0) -> Head:
    """Check row numbers and tags in order (from row ``start + 1``); :class:`IntegrityError` at the first bad row.

    With ``start``, the rows before it are taken as already checked (and unchanged).
    """
    prev = events[start - 1]["tag"] if start else genesis_tag(ring, log_id)
    for i, ev in enumerate(events[start:], start + 1):
        where = f"row {ev['row']}"
        if ev["row"] != i:
            raise IntegrityError(f"{where}: expected row {i}; a row was deleted, inserted or renumbered before it")
        if ev["prev_tag"] != prev:
            raise IntegrityError(f"{where}: its prev_tag is not row {i - 1}'s tag; the chain is broken here")
        if ev["kind"] not in KINDS or not isinstance(ev["tag"], str) or row_tag(ring, ev) != ev["tag"]:
            raise IntegrityError(f"{where}: its content does not authenticate under the key; the row was edited")
        prev = ev["tag"]
    return Head(len(events), prev)


def check_head(
    ring: KeyRing, log_id: str, head: Head, events: list[dict[str, Any]], cp: Checkpoint | None = None
) -> Checkpoint:
    """Compare the log's head with the checkpoint; a cut, a rollback or a foreign log fails.

    Each step moves the checkpoint after its commit, under the trial's lock. A step killed between the
    two leaves the log exactly one row past the checkpoint, that row chained to the checkpoint's tag
    (:func:`check_chain` has authenticated it): whole, and accepted; the next step moves the checkpoint.
    Anything else (the log short of the checkpoint, another tag at its row, more than one row past it)
    is a fault. ``cp``: the checkpoint, read already under the same lock.
    """
    cp = cp if cp is not None else read_checkpoint(ring)
    if cp.log_id != log_id:
        raise IntegrityError(f"{ring.checkpoint_path}: the checkpoint is of another log; this log was replaced")
    if head.row < cp.row:
        raise IntegrityError(
            f"row {head.row + 1}: missing; the checkpoint records row {cp.row}, the log ends at row {head.row}: "
            "rows were cut off the end or the log was replaced by an older copy"
        )
    at = events[cp.row - 1]["tag"] if cp.row >= 1 else genesis_tag(ring, log_id)
    if at != cp.tag:
        raise IntegrityError(f"row {cp.row}: not the row the checkpoint recorded; the log was rewritten")
    if cp.upto is not None and cp.row < head.row <= cp.upto:  # a step of several rows, stopped after its commit
        return cp
    if head.row > cp.row + 1:
        raise IntegrityError(
            f"row {cp.row + 2}: the log goes on past the checkpoint's head (row {cp.row}); "
            "rows were added outside advance-trial or the checkpoint was put back"
        )
    return cp


def settle(ring: KeyRing, log_id: str, new: Head, mark: str | None = None, upto: int | None = None) -> None:
    """Move the checkpoint to the new head (after the commit, still under the lock), with the log's files' mark
    as the commit left them (SQLite); ``upto``: the furthest row the next step may leave, named already (the
    window a step made together with other processes' requests keeps open: see
    :data:`~advance_trial.randomisation.trial_log.WINDOW`)."""
    write_checkpoint(ring, Checkpoint(log_id, new.row, new.tag, upto, mark))


def announce(ring: KeyRing, log_id: str, head: Head, upto: int) -> None:
    """Before a step that may append several rows commits: the checkpoint stays at ``head`` and names ``upto``,
    the furthest row the commit may leave, so that a step stopped between its commit and :func:`settle` is whole
    and accepted."""
    write_checkpoint(ring, Checkpoint(log_id, head.row, head.tag, upto))


__all__ = [
    "FORMAT",
    "Head",
    "LogStore",
    "check_chain",
    "check_head",
    "copy_events",
    "create_log",
    "open_log",
    "os_user",
]
