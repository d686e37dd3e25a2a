"""Where an allocation log lives: a SQLite file or a PostgreSQL database, behind one small interface.

A location is written as a path (``allocation/log.sqlite``), as ``sqlite:///abs/path`` or as
``postgresql://user@host:port/dbname`` (libpq's URL; give the password through ``~/.pgpass``,
``PGPASSFILE`` or ``PGPASSWORD`` rather than in the URL, which other users see in the process list).

:class:`Db` is what the log, the accounts and the service use: queries with ``?`` placeholders,
rows as tuples, and a writing transaction that holds the database's own lock for the trial
(SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a session-level advisory lock taken before the
transaction and released after the caller has moved the checkpoint, so that concurrent writers
on any host are serialised by the server and the checkpoint always follows the commit order).
Nothing of the allocation logic depends on which one it is.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import itertools
import os
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advance_trial.errors import IntegrityError, UsageError

BUSY_TIMEOUT_MS = 60_000
#: The PostgreSQL advisory lock that serialises a log's writers (one database holds one trial's log).
LOCK_ID = int.from_bytes(hashlib.sha256(b"advance-trial allocation log lock").digest()[:8], "big", signed=True)
_PG = re.compile(r"^postgres(?:ql)?://", re.IGNORECASE)


@dataclass(frozen=True)
class Location:
    """An allocation log's database.

    Attributes
    ----------
    kind : str
        ``sqlite`` or ``postgresql``.
    url : str
        For PostgreSQL the URL as given; for SQLite ``sqlite:///`` and the absolute path.
    path : Path or None
        The SQLite file (None for PostgreSQL).
    """

    kind: str
    url: str
    path: Path | None = None

    @property
    def shown(self) -> str:
        """The location as messages show it: the SQLite path, or the URL without its password."""
        if self.path is not None:
            return str(self.path)
        return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", self.url)

    @functools.cached_property
    def identity(self) -> str:
        """What tells two locations apart (a process's cache of what it verified is keyed by it)."""
        return str(self.path.resolve()) if self.path is not None else self.shown

    def __str__(self) -> str:
        return self.shown


def location(given: str | Path | Location) -> Location:
    """Read a path or a URL as a :class:`Location` (a relative path stays relative to the working folder)."""
    if isinstance(given, Location):
        return given
    text = str(given)
    if _PG.match(text):
        return Location("postgresql", text)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite://") :]
    elif text.startswith("sqlite://"):
        raise UsageError(f"{text}: write a SQLite location as sqlite:///path/to/log.sqlite (three slashes)")
    elif "://" in text:
        raise UsageError(f"{text}: not a log location; give a file path, sqlite:///PATH or postgresql://...")
    path = Path(text).expanduser()
    return Location("sqlite", "sqlite:///" + str(path.absolute()).lstrip("/"), path)


class Db(ABC):
    """An open connection to a log's database: ``?`` placeholders, rows as tuples."""

    kind: str

    def __init__(self, loc: Location) -> None:
        self.loc = loc

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a query; its column names and rows."""

    @abstractmethod
    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""

    @abstractmethod
    def begin(self, immediate: bool) -> None:
        """Start a transaction (``immediate``: take the write lock before anything is read)."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def has_table(self, name: str) -> bool:
        """Whether a table exists."""

    def change_mark(self, upto: int | None = None) -> tuple[int | None, Any] | None:
        """What the log's rows were, cheaply: ``(rows, value)``, the rows it covers (None: all of them, as far as
        this connection reads them) and a value that changes whenever any of them is changed by anyone but this
        connection; None where the database offers no such value (the caller then compares rows). Take it
        before reading the rows; ``upto`` (PostgreSQL) covers the rows numbered up to it."""
        return None

    @contextmanager
    def serialised(self, exclusive: bool) -> Iterator[None]:
        """Hold the database's own lock for the trial's log around a whole step (a no-op for SQLite,
        whose transactions are serialised by ``BEGIN IMMEDIATE`` and the key folder's lock)."""
        yield

    @contextmanager
    def transaction(self, immediate: bool = True) -> Iterator[None]:
        """A transaction: committed when the block ends, rolled back when it raises."""
        self.begin(immediate)
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        rows = self.query(sql, params)[1]
        return rows[0][0] if rows else None


class SqliteDb(Db):
    """A SQLite file, in WAL mode with ``synchronous=FULL``: a step killed at any moment is whole or absent."""

    kind = "sqlite"

    def __init__(self, loc: Location, con: sqlite3.Connection, serial: int, kept: bool = True) -> None:
        super().__init__(loc)
        self.con, self.serial, self.kept = con, serial, kept

    def change_mark(self, upto: int | None = None) -> tuple[int | None, Any] | None:
        """This connection (by its serial number), SQLite's ``data_version``, which changes whenever another
        connection, in any process, commits a change to the file, and the rows this connection has changed
        (a step takes the mark after its own row)."""
        return None, (self.serial, self.scalar("PRAGMA data_version"), self.con.total_changes)

    def files_mark(self) -> str | None:
        """What the log's files are now, as a digest: the file's and its write-ahead log's device, inode, size and
        time of last change (which no one can set back but the system clock's owner), and the header of the
        write-ahead log's shared index (which every commit, by any connection in any process, changes: it is what
        SQLite's ``data_version`` is read from). None while the log has no write-ahead log or index open.

        A writing step records it in the checkpoint after its commit, under the trial's lock; a later step (in
        any process) that finds the same mark knows that nothing was written to the log since that step, which
        had verified every row: the rows it verified itself before need not be read again."""
        assert self.loc.path is not None
        parts: list[bytes] = []
        try:
            for suffix in ("", "-wal"):
                st = os.stat(f"{self.loc.path}{suffix}")
                parts.append(repr((st.st_dev, st.st_ino, st.st_size, st.st_ctime_ns, st.st_mtime_ns)).encode())
            with open(f"{self.loc.path}-shm", "rb") as shm:
                header = shm.read(96)  # the index's header, kept twice
        except OSError:
            return None
        if len(header) < 96 or header[:48] != header[48:96]:  # a commit half-way through its header: no mark
            return None
        return hashlib.sha256(b"\0".join([*parts, header])).hexdigest()

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        cur = self.con.execute(sql, tuple(params))
        return [d[0] for d in cur.description or ()], [tuple(r) for r in cur.fetchall()]

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.con.execute(sql, tuple(params)).rowcount

    def begin(self, immediate: bool) -> None:
        self.con.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    def commit(self) -> None:
        self.con.execute("COMMIT")

    def rollback(self) -> None:
        if self.con.in_transaction:
            self.con.execute("ROLLBACK")

    def close(self) -> None:
        """Keep the connection for the process's next step on this file (:class:`_SqlitePool`); close the one that
        created the file, which may yet be moved into place (``randomise init``): its write-ahead log is folded
        into the file first, as closing the last connection does."""
        assert self.loc.path is not None
        if self.kept:
            _SQLITE.put(self.loc.path, self.con, self.serial)
        else:
            self.con.close()

    def has_table(self, name: str) -> bool:
        return bool(self.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))


class PostgresDb(Db):
    """A PostgreSQL database through psycopg 3 (imported only when a PostgreSQL log is opened)."""

    kind = "postgresql"

    def __init__(self, loc: Location, con: Any) -> None:
        super().__init__(loc)
        self.con = con
        self._lock: str | None = None  # the advisory lock to take with the next statement (:meth:`serialised`)
        self._held = False  # whether it was taken
        self._took: str | None = None  # the advisory lock :meth:`ahead` took, for :meth:`serialised` to hold
        self._answers: dict[tuple[str, tuple[Any, ...]], tuple[list[str], list[tuple[Any, ...]]]] = {}

    def _take_lock(self) -> None:
        if self._lock is not None:
            take, self._lock = self._lock, None
            self.con.execute(f"SELECT {take}(%s)", (LOCK_ID,))
            self._held = True

    def _execute(self, sql: str, params: Sequence[Any]) -> Any:
        self._take_lock()
        if not params:
            return self.con.execute(sql.encode())  # bytes: no placeholders are read in it
        return self.con.execute(sql.replace("%", "%%").replace("?", "%s"), tuple(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        answer = self._answers.pop((sql, tuple(params)), None)
        if answer is not None:  # read by :meth:`ahead`, in this transaction, under the lock
            return answer
        if self._answers and not sql.lstrip().upper().startswith("SELECT"):
            self._answers.clear()  # what was read ahead is read again after a change
        return _result(self._execute(sql, params))

    def ahead(self, exclusive: bool, reads: Sequence[tuple[str, Sequence[int]]]) -> bool:
        """Take the advisory lock (as :meth:`serialised` would), begin a writing transaction and run ``reads`` in it,
        all in one round trip to the server (one message of several statements: the reads' parameters, integers
        only, are written into their text); each read's answer is kept for the first :meth:`query` of the same
        statement and parameters in this transaction. Call it before :meth:`serialised` and :meth:`begin`, which
        then send nothing. False (nothing held, nothing kept, a new connection) when a statement fails: the step
        then runs its statements one by one, and the failure is named as it would be."""
        take = "pg_advisory_lock" if exclusive else "pg_advisory_lock_shared"
        texts = [f"SELECT {take}({LOCK_ID})", "BEGIN"]
        for sql, params in reads:
            parts = sql.split("?")
            assert len(parts) == len(params) + 1
            texts.append("".join(p + (str(int(v)) if i < len(params) else "") for i, (p, v) in
                                 enumerate(zip(parts, [*params, 0], strict=True))))  # fmt: skip
        try:
            cur = self.con.execute("; ".join(texts).encode())
            answers = []
            while cur.nextset():  # the lock's answer, then BEGIN's (no rows), then each read's
                if cur.pgresult is not None and cur.pgresult.nfields:
                    answers.append(_result(cur))
        except database_errors():
            self.con.close()  # lets the lock and the transaction go; the step reads again, one by one
            self.con = _open_pg(self.loc)
            return False
        self._took = take
        self._answers = {(sql, tuple(params)): answer for (sql, params), answer in zip(reads, answers, strict=True)}
        return True

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._answers.clear()  # what was read ahead is read again after a change
        return int(self._execute(sql, params).rowcount)

    def query_and_commit(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a statement and commit the transaction, in one round trip (psycopg's pipeline mode); its answer."""
        with self.con.pipeline():
            cur = self._execute(sql, params)
            self.con.execute(b"COMMIT")
        self._answers.clear()
        return _result(cur)

    def begin(self, immediate: bool) -> None:
        if self.con.info.transaction_status == _in_transaction():  # begun already, by :meth:`ahead`
            return
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ" if not immediate else "BEGIN"
        if self._lock is not None:  # the lock and the transaction's start in one round trip
            take, self._lock = self._lock, None
            self.con.execute(f"SELECT {take}({LOCK_ID}); {begin}".encode())
            self._held = True
        else:
            self.con.execute(begin)

    def commit(self) -> None:
        self._answers.clear()
        if self.con.info.transaction_status != _idle():  # not committed already (:meth:`query_and_commit`)
            self.con.execute("COMMIT")

    def rollback(self) -> None:
        self._answers.clear()
        self.con.execute("ROLLBACK")

    def close(self) -> None:
        """Give the connection back to the pool when it is idle and whole; close it otherwise."""
        self._answers.clear()
        _POOL.put(self.loc, self.con)

    def has_table(self, name: str) -> bool:
        return bool(self.scalar("SELECT to_regclass(?) IS NOT NULL", (f"public.{name}",)))

    def change_mark(self, upto: int | None = None) -> tuple[int | None, Any] | None:
        """What guards the rows (:func:`marks_query`): while the append-only triggers are in force whatever the
        session (``ENABLE ALWAYS``), ``(None, witness)``, a digest of the catalog rows that make the table
        append-only (the table's, its triggers', their function's, each with its ``xmin``: disabling a trigger,
        replacing its function, or rewriting, renaming or replacing the table gives one of them a new version),
        covering every row; else how many rows (up to ``upto``) and a digest, computed by the server, of their
        numbers and ``xmin`` (the transaction that wrote each row's version: any UPDATE, or a DELETE and
        INSERT, gives a row a new ``xmin``, which no client chooses)."""
        return self.change_marks(upto)[0]

    def change_marks(self, upto: int | None) -> tuple[tuple[int | None, Any], tuple[int | None, Any]]:
        """:meth:`change_mark` of every row and of the rows up to ``upto``, in one query."""
        guarded, witness, n, all_rows, m, some = self.query(*marks_query(upto))[1][0]
        if guarded:
            return (None, ("guarded", witness)), (None, ("guarded", witness))
        return (int(n), all_rows), (int(m), some)

    @contextmanager
    def serialised(self, exclusive: bool) -> Iterator[None]:
        """The advisory lock, taken with the block's first statement (a writer's ``BEGIN``: one round trip for
        both) and given back when the block ends."""
        take, give = ("pg_advisory_lock", "pg_advisory_unlock") if exclusive else (
            "pg_advisory_lock_shared", "pg_advisory_unlock_shared")  # fmt: skip
        self._lock, self._held = take, False
        if self._took == take:  # taken already, with the transaction's reads (:meth:`ahead`)
            self._lock, self._held, self._took = None, True, None
        try:
            yield
        finally:
            held, self._lock, self._held = self._held, None, False
            if held and not self.con.closed:
                self.con.execute(f"SELECT {give}(%s)", (LOCK_ID,))


#: The append-only triggers of the events table (``_TRIGGERS`` in :mod:`advance_trial.randomisation.log`).
GUARDS = ("events_append_only", "events_no_truncate")


def marks_query(upto: int | None) -> tuple[str, tuple[int, ...]]:
    """The statement of :meth:`PostgresDb.change_marks` and its parameters: whether the events table is guarded
    (both its append-only triggers enabled ALWAYS, so that no session's replication role turns them off), the
    witness of the catalog rows that guard it (constant time: no row of the log is read), and, only when it is
    not guarded, the count and ``xmin`` digest of every row and of the rows up to ``upto`` (a scan of the table).
    """
    digest = "md5(string_agg(\"row\" || ':' || xmin::text, ',' ORDER BY \"row\"){})"
    below = ' FILTER (WHERE "row" <= ?)'
    names = ", ".join(f"'{g}'" for g in GUARDS)
    sql = (
        "SELECT g.guarded, g.witness, x.* FROM (SELECT (SELECT count(*) FROM pg_trigger t "
        f"WHERE t.tgrelid = c.oid AND t.tgenabled = 'A' AND t.tgname IN ({names})) = {len(GUARDS)} AS guarded, "
        "md5(concat_ws(':', c.oid, c.xmin, "
        "c.relfilenode, c.relkind, c.relhassubclass, c.relhasrules, c.relrowsecurity, "
        "(SELECT string_agg(concat_ws(':', t.oid, t.xmin, t.tgname, t.tgenabled, t.tgtype, p.oid, p.xmin), ',' "
        "ORDER BY t.oid) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE t.tgrelid = c.oid))) AS witness "
        "FROM pg_class c WHERE c.oid = 'events'::regclass) g LEFT JOIN LATERAL "
        f"(SELECT count(*), {digest.format('')}, count(*){below}, {digest.format(below)} FROM events "
        "WHERE NOT g.guarded) x ON true"
    )
    return sql, (10**15 if upto is None else upto,) * 2


def connect(loc: Location, create: bool = False) -> Db:
    """Open a location's database (SQLite: ``create`` makes the file, 0600; otherwise it must exist)."""
    if loc.kind == "postgresql":
        return _connect_pg(loc)
    assert loc.path is not None
    path = loc.path
    if not create and not path.exists():
        raise UsageError(f"{path}: no allocation log there; create it with `advance-trial randomise init`")
    if create:
        if path.exists():
            raise UsageError(f"{path}: an allocation log is already there")
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
        old = os.umask(0o077)
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        finally:
            os.umask(old)
    if not create:
        pooled = _SQLITE.take(path)
        if pooled is not None:
            return SqliteDb(loc, *pooled)
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if create:
        old = os.umask(0o077)  # the WAL and shared-memory files are created 0600 too
        try:
            con.execute("PRAGMA journal_mode = WAL")
        finally:
            os.umask(old)
    con.execute("PRAGMA synchronous = FULL")
    return SqliteDb(loc, con, next(_SERIALS), kept=not create)


def _files(path: Path) -> tuple[tuple[int, ...] | None, ...]:
    """What identifies a SQLite log's file (device, inode, size, time of its last change: a file removed and made
    again may get the same inode), its write-ahead log and its shared-memory index (device and inode, which stay
    while they are in use)."""
    out: list[tuple[int, ...] | None] = []
    for suffix in ("", "-wal", "-shm"):
        try:
            st = os.stat(f"{path}{suffix}")
        except OSError:
            out.append(None)
        else:
            out.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) if not suffix else (st.st_dev, st.st_ino))
    return tuple(out)


class _SqlitePool:
    """Idle SQLite connections kept for the process's next step on the same file.

    Opening a connection per step costs its pragmas and, when it was the last one open, a checkpoint of
    the write-ahead log into the file and the log's deletion on close (two more fsyncs and a new WAL
    for the next step). A connection goes back only when it is outside any transaction, and is taken
    again only while the file, its ``-wal`` and its ``-shm`` are the very files it opened (same device and
    inode): a log put back from a copy, or its WAL removed, is never read through a stale connection.
    Such a connection is set aside unclosed (:attr:`stale`): closing it could write its old WAL into the
    file now there and remove the new WAL by name. Only connections to files that are gone altogether
    are closed. At most ``size`` idle connections per file and ``files`` files are kept.
    """

    def __init__(self, size: int = 8, files: int = 16) -> None:
        import threading

        self.size, self.files, self.lock = size, files, threading.Lock()
        self.idle: dict[str, list[tuple[sqlite3.Connection, int, tuple[tuple[int, ...] | None, ...]]]] = {}
        self.stale: list[sqlite3.Connection] = []

    def take(self, path: Path) -> tuple[sqlite3.Connection, int] | None:
        now = _files(path)
        with self.lock:
            free = self.idle.get(str(path), [])
            while free:
                con, serial, seen = free.pop()
                if seen == now:
                    return con, serial
                self._drop(con, seen, now)
        return None

    def _drop(self, con: sqlite3.Connection, seen: tuple[Any, ...], now: tuple[Any, ...]) -> None:
        if now in (seen, (None, None, None)):
            con.close()
        else:
            self.stale.append(con)

    def put(self, path: Path, con: sqlite3.Connection, serial: int) -> None:
        if con.in_transaction:
            try:
                con.execute("ROLLBACK")
            except sqlite3.Error:  # a connection that cannot even roll back is not kept
                con.close()
                return
        ids = _files(path)
        with self.lock:
            free = self.idle.setdefault(str(path), [])
            if len(free) < self.size and None not in ids[:2]:
                free.append((con, serial, ids))
            else:
                con.close()  # as every step closed its connection before the pool
            while len(self.idle) > self.files:  # a test run opens many logs: the oldest file's go
                oldest = next(iter(self.idle))
                for old, _, seen in self.idle.pop(oldest):
                    self._drop(old, seen, _files(Path(oldest)))


_SQLITE = _SqlitePool()
_SERIALS = itertools.count(1)


class _Pool:
    """Idle PostgreSQL connections kept for reuse (a service's requests would otherwise each pay for a new
    connection and its SCRAM handshake). Only a connection that is open, idle and outside any transaction
    goes back; session-level advisory locks are always released before (:meth:`Db.serialised`)."""

    def __init__(self, size: int = 8) -> None:
        import threading

        self.size, self.lock = size, threading.Lock()
        self.idle: dict[str, list[Any]] = {}

    def take(self, loc: Location) -> Any | None:
        with self.lock:
            free = self.idle.get(loc.url, [])
            return free.pop() if free else None

    def put(self, loc: Location, con: Any) -> None:
        import psycopg.pq

        healthy = not con.closed and con.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with self.lock:
            free = self.idle.setdefault(loc.url, [])
            if healthy and len(free) < self.size:
                free.append(con)
                return
        con.close()


_POOL = _Pool()


def _connect_pg(loc: Location) -> Db:
    try:
        import psycopg  # noqa: F401
    except ImportError:  # pragma: no cover - psycopg is a dependency
        raise UsageError("a PostgreSQL log needs psycopg 3: pip install 'psycopg[binary]'") from None
    pooled = _POOL.take(loc)
    if pooled is not None:
        return PostgresDb(loc, pooled)
    return PostgresDb(loc, _open_pg(loc))


def _open_pg(loc: Location) -> Any:
    """A new connection to a PostgreSQL log's database (autocommit: each step begins its own transaction)."""
    import psycopg

    try:
        return psycopg.connect(loc.url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        raise UsageError(f"{loc.shown}: cannot connect to the PostgreSQL server ({reason})") from None


def _result(cur: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A cursor's column names and rows (the names from the server's answer itself: psycopg's descriptions cost
    more than the rows)."""
    res = cur.pgresult
    names = [bytes(res.fname(i) or b"").decode() for i in range(res.nfields)] if res is not None else []
    return names, [tuple(r) for r in cur.fetchall()] if names else []


@functools.cache
def _idle() -> Any:
    import psycopg.pq

    return psycopg.pq.TransactionStatus.IDLE


@functools.cache
def _in_transaction() -> Any:
    import psycopg.pq

    return psycopg.pq.TransactionStatus.INTRANS


def database_errors() -> tuple[type[BaseException], ...]:
    """The exception classes a database raises for a malformed or unreadable log."""
    errors: list[type[BaseException]] = [sqlite3.DatabaseError]
    try:
        import psycopg

        errors.append(psycopg.DatabaseError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def os_error(loc: Location, exc: BaseException) -> OSError | None:
    """A database's failure to write (a full disk, an I/O error, a read-only file or folder) as the operating-system
    error it is, naming the log (one line, exit 1); None for any other database error."""
    text = " ".join(str(exc).split())
    if isinstance(exc, sqlite3.OperationalError):
        if not any(w in text for w in ("disk", "I/O", "readonly", "unable to open", "no space")):
            return None
    else:
        try:
            from psycopg.errors import DiskFull, IoError
        except ImportError:  # pragma: no cover
            return None
        if not isinstance(exc, DiskFull | IoError):
            return None
    return OSError(errno.EIO, f"the allocation log cannot be written ({text})", loc.shown)


@contextmanager
def writes_to(loc: Location) -> Iterator[None]:
    """Turn a database's failure to write into the :class:`OSError` it is (:func:`os_error`)."""
    try:
        yield
    except database_errors() as exc:
        failure = os_error(loc, exc)
        if failure is None:
            raise
        raise failure from None


def refuse_unreadable(loc: Location, exc: BaseException) -> IntegrityError:
    """A database that is not a readable log (exit 5)."""
    return IntegrityError(f"{loc.shown}: not a readable allocation log ({' '.join(str(exc).split())})")


__all__ = ["Db", "Location", "connect", "location"]
