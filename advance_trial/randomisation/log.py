"""The allocation log's store: an append-only SQLite file of authenticated, chained events.

Every event (the log's creation, an amendment, an allocation, an unblinding, an
export, a list drawn, a correction) is one row of ``events``. Each row carries
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
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from advance_trial.errors import IntegrityError, UsageError
from advance_trial.randomisation.key import Checkpoint, KeyRing, read_checkpoint, write_checkpoint
from advance_trial.randomise import canon

FORMAT = "advance-trial allocation log 2"
BUSY_TIMEOUT_MS = 60_000
KINDS = ("init", "amendment", "allocation", "unblinding", "export", "list", "correction")
#: Columns of ``events`` that the tag covers, in this order.
TAGGED = (
    "row", "kind", "sequence", "participant_id", "id_key", "site", "stratum", "factors", "sealed", "actor", "note",
    "at_utc", "on_date", "config_version", "config_sha256", "detail", "prev_tag",
)  # fmt: skip

_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    row INTEGER PRIMARY KEY,
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
CREATE UNIQUE INDEX one_sequence_each ON events(sequence) WHERE kind = 'allocation';
"""
_TRIGGERS = [
    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'the allocation log is append-only'); END"
    for table in ("events", "meta")
    for op in ("UPDATE", "DELETE")
]


@dataclass(frozen=True)
class Head:
    """The last row of a log: its number and tag (row 0 and the genesis tag for an empty chain)."""

    row: int
    tag: str


def os_user() -> str:
    """The operating-system user running this process (not an environment variable anyone can set)."""
    uid = os.geteuid()
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


def check_permissions(path: Path) -> None:
    """Refuse to write a log that other users can read, or one in a folder they can enter."""
    for p, what, mode in ((path, "file", "600"), (path.parent, "folder", "700")):
        if p.stat().st_mode & 0o077:
            raise UsageError(f"{p}: the allocation log's {what} is open to other users; chmod {mode} it")


class LogStore:
    """An open allocation log. Use :func:`open_log` or :func:`create_log`."""

    def __init__(self, path: Path, con: sqlite3.Connection, ring: KeyRing, meta: dict[str, str]) -> None:
        self.path, self.con, self.ring, self.meta = path, con, ring, meta

    @property
    def log_id(self) -> str:
        return self.meta["log_id"]

    def events(self, after: int = 0) -> list[dict[str, Any]]:
        """Every row (after row ``after``), in row order."""
        cur = self.con.execute("SELECT * FROM events WHERE row > ? ORDER BY row", (after,))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur]

    def content(self, upto: int) -> list[tuple[Any, ...]]:
        """Every column of every row numbered up to ``upto``, in row order, as plain tuples."""
        cur = self.con.cursor()
        cur.row_factory = None
        return cur.execute("SELECT * FROM events WHERE row <= ? ORDER BY row", (upto,)).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """An immediate transaction: the write lock is taken before anything is read."""
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def insert(self, head: Head, kind: str, fields: Mapping[str, Any], sealed: Any = None) -> dict[str, Any]:
        """Append one row after ``head`` (inside a transaction); returns the row as written."""
        values: dict[str, Any] = dict.fromkeys(TAGGED)
        values.update(fields)
        values.update(row=head.row + 1, kind=kind, prev_tag=head.tag)
        if sealed is not None:
            values["sealed"] = seal(self.ring, self.log_id, head.row + 1, sealed)
        values["tag"] = row_tag(self.ring, values)
        cols = ", ".join(values)
        self.con.execute(f"INSERT INTO events ({cols}) VALUES ({', '.join('?' * len(values))})", list(values.values()))
        return values

    def close(self) -> None:
        self.con.close()


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    con.row_factory = sqlite3.Row
    con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return con


def create_log(path: Path, ring: KeyRing) -> LogStore:
    """Create a new, empty log (0600, in a 0700 folder); refuses an existing file."""
    if path.exists():
        raise UsageError(f"{path}: an allocation log is already there")
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    old = os.umask(0o077)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        con = _connect(path)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = FULL")
    finally:
        os.umask(old)
    log_id = os.urandom(16).hex()
    meta = {"format": FORMAT, "trial_id": ring.trial_id, "log_id": log_id}
    con.execute("BEGIN IMMEDIATE")
    for statement in [s for s in _SCHEMA.split(";") if s.strip()] + _TRIGGERS:
        con.execute(statement)
    con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
    con.execute("COMMIT")
    return LogStore(path, con, ring, meta)


def open_log(path: Path, ring: KeyRing) -> LogStore:
    """Open an existing log of this trial; never creates one."""
    if not path.exists():
        raise UsageError(f"{path}: no allocation log there; create it with `advance-trial randomise init`")
    con = _connect(path)
    try:
        con.execute("PRAGMA synchronous = FULL")
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        con.close()
        raise IntegrityError(f"{path}: not a readable allocation log ({exc})") from None
    if meta.get("format") != FORMAT or "log_id" not in meta:
        con.close()
        raise IntegrityError(f"{path}: not an allocation log of this format ({meta.get('format')!r})")
    if meta.get("trial_id") != ring.trial_id:
        con.close()
        raise IntegrityError(f"{path}: this is the log of {meta.get('trial_id')!r}, not of {ring.trial_id!r}")
    return LogStore(path, con, ring, meta)


@contextmanager
def locked(ring: KeyRing, exclusive: bool) -> Iterator[None]:
    """Hold the trial's lock in the key folder (exclusive for writers, shared for readers)."""
    path = ring.folder / f"{ring.trial_id}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


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


def check_head(ring: KeyRing, log_id: str, head: Head, events: list[dict[str, Any]]) -> Checkpoint:
    """Compare the log's head with the checkpoint; a cut, a rollback or a foreign log fails.

    Each step moves the checkpoint after its commit, under the trial's lock. A step killed between the
    two leaves the log exactly one row past the checkpoint, that row chained to the checkpoint's tag
    (:func:`check_chain` has authenticated it): whole, and accepted; the next step moves the checkpoint.
    Anything else (the log short of the checkpoint, another tag at its row, more than one row past it)
    is a fault.
    """
    cp = read_checkpoint(ring)
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
    if head.row > cp.row + 1:
        raise IntegrityError(
            f"row {cp.row + 2}: the log goes on past the checkpoint's head (row {cp.row}); "
            "rows were added outside advance-trial or the checkpoint was put back"
        )
    return cp


def settle(ring: KeyRing, log_id: str, new: Head) -> None:
    """Move the checkpoint to the new head (after the commit, still under the lock)."""
    write_checkpoint(ring, Checkpoint(log_id, new.row, new.tag))


__all__ = ["FORMAT", "Head", "LogStore", "check_chain", "check_head", "create_log", "open_log", "os_user"]
