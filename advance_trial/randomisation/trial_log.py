"""The trial's allocation log as every verb uses it: the records it returns (:class:`Allocation`,
:class:`VerifyReport`), where the log is and which key opens it, the design check, and the step each verb runs
in.

Each step that writes runs under the trial's exclusive lock: it verifies the whole log first (chain,
checkpoint, replay) and refuses to act on a bad one (exit 5, nothing written), then appends one authenticated
row, commits, and moves the checkpoint. Who acted is the operating-system user; a free-text ``note`` may add to
it but never replaces it. The verbs are in :mod:`~advance_trial.randomisation.verbs`, the exports and lists in
:mod:`~advance_trial.randomisation.exports`, the reads and checks in :mod:`~advance_trial.randomisation.reports`;
:mod:`advance_trial.randomisation.allocation` gathers them under one name.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from advance_trial.config.models import Config
from advance_trial.errors import (
    ConfigError,
    ConfigProblem,
    DataError,
    DataProblem,
    IntegrityError,
    NotAllocatedError,
    UsageError,
)
from advance_trial.randomisation.database import (
    Location,
    PostgresDb,
    SqliteDb,
    connect,
    location,
    marks_query,
    writes_to,
)
from advance_trial.randomisation.key import (
    RECEIPT_FORMAT,
    Checkpoint,
    KeyRing,
    key_folder,
    load_key,
    read_checkpoint,
    refuse_inside,
    sign_receipt,
)
from advance_trial.randomisation.log import (
    META,
    Head,
    LogStore,
    announce,
    check_chain,
    check_head,
    check_permissions,
    content_between,
    events_after,
    locked,
    open_log,
    os_user,
    settle,
    utc_now,
)
from advance_trial.randomisation.replay import (
    Allocated,
    Replay,
    design_differences,
    design_of,
    replay_events,
)

MIN_REASON_WORDS = 3


@dataclass(frozen=True)
class Allocation:
    """One man's allocation as recorded in the log.

    Attributes
    ----------
    participant_id, site, arm : str
    sequence : int
        1-based allocation number, without gaps across the trial.
    factors : dict
        The values the allocation used (site and any other factors).
    allocated_at : str
        UTC time (ISO 8601) the row was written.
    randomised_on : str
        The date of randomisation (local date; for a back-up allocation, the date it was made).
    actor : str
        The operating-system user who asked.
    new : bool
        False when the man had already been allocated and nothing was written.
    receipt : dict
        Sequence, row, the row's tag and the log's head, signed when the key folder has a signing key.
    """

    participant_id: str
    site: str
    arm: str
    sequence: int
    factors: dict[str, str]
    allocated_at: str
    randomised_on: str
    actor: str
    new: bool
    receipt: dict[str, Any]


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify_log` checked: every row authenticated and replayed, the head against the checkpoint."""

    rows: int
    allocations: int
    unblindings: int
    exports: int
    corrections: int
    amendments: int
    logins: int
    account_changes: int
    head_row: int
    head_tag: str
    log_id: str
    receipts: int
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------------------- paths and design


def log_path(cfg: Config, given: str | Path | Location | None = None) -> Location:
    """The log: ``--log`` as given (a path or a URL), else ``randomisation.log``, a path relative to the config
    file's folder (so that a command run from any folder finds the same log) or a PostgreSQL URL."""
    if isinstance(given, Location):
        return given
    if given is not None:
        return location(given)
    if not cfg.randomisation.log:
        raise UsageError("no allocation log given: pass --log PATH or set randomisation.log in the config")
    return _configured_log(cfg.randomisation.log, cfg.source.path if cfg.source is not None else None, os.getcwd())


@functools.lru_cache(maxsize=64)
def _configured_log(given: str, config_file: str | None, cwd: str) -> Location:
    """``randomisation.log`` as a location (once per process for the same config file and working folder)."""
    where = location(given)
    if where.path is not None and not where.path.is_absolute() and config_file is not None:
        where = location(Path(os.path.normpath(Path(config_file).parent / where.path)))
    return where


def trial_key(cfg: Config, key_dir: str | Path | None, log: str | Path | Location | None = None, *,
              data: str | Path | None = None, out: str | Path | None = None) -> KeyRing:  # fmt: skip
    """The trial's key from its folder (``key_dir``, else ``ADVANCE_TRIAL_KEY_DIR``).

    The folder is refused inside (or around) the configs folder, the data folder, an output folder
    or the log's folder; the key, when it is not the public demonstration key, must be private to
    its owner and be the one whose fingerprint the config records.
    """
    folder = key_folder(key_dir)
    config_dir = Path(cfg.source.path).parent if cfg.source else None
    where = log_path(cfg, log) if (log is not None or cfg.randomisation.log) else None
    log_dir = where.path.parent if where is not None and where.path is not None else None
    forbidden = [("configs folder", config_dir), ("data folder", data), ("output folder", out),
                 ("allocation log's folder", log_dir)]  # fmt: skip
    refuse_inside(folder, [(what, Path(p) if p is not None else None) for what, p in forbidden])
    return load_key(folder, cfg.trial.id, cfg.randomisation.key_fingerprint, _config_file(cfg))


def _config_file(cfg: Config) -> str:
    return cfg.source.path if cfg.source else "<config>"


def check_design(cfg: Config, state: Replay) -> None:
    """Refuse a config whose allocation design is not the log's (exit 3) until ``amend`` records it."""
    diffs = design_differences(state.design, design_of(cfg))
    if diffs:
        hint = "; record the amendment with `advance-trial randomise amend CONFIG --reason TEXT`"
        raise ConfigError(_config_file(cfg), [ConfigProblem(k, None, what + hint) for k, what in diffs])


def _refuse_single_arm(cfg: Config) -> None:
    if cfg.randomisation.method == "none":
        raise UsageError(f"{cfg.trial.id} is a single-arm design (randomisation method 'none'): nobody is allocated")


def _reason(reason: str | None, option: str = "--reason") -> str:
    text = " ".join((reason or "").split())
    if len(set(re.findall(r"\w+", text.casefold()))) < MIN_REASON_WORDS:  # "a a a" is one word, said three times
        raise UsageError(f"{option} {reason!r}: give the reason in at least {MIN_REASON_WORDS} different words")
    return text


# ---------------------------------------------------------------------------- the step


def actor_name(account: str | None) -> str:
    """Who acted, as the log records it: the operating-system user, or ``service:NAME`` for a service account."""
    return f"service:{account}" if account is not None else os_user()


class _Step:
    """One writing step: the verified state, and at most one row appended to it (at most ``many``: the
    service's allocations made together, each its own row, committed at once)."""

    def __init__(self, cfg: Config, store: LogStore, state: Replay, head: Head, now: datetime | None,
                 account: str | None = None, many: int = 1, defer: bool = False) -> None:  # fmt: skip
        self.cfg, self.store, self.state, self.head = cfg, store, state, head
        self.now = now or utc_now()
        self.actor = actor_name(account)
        self.many = many
        #: Rows inserted at the step's end, in one statement (several rows; any row on PostgreSQL, where the insert
        #: and the commit then go in one round trip)
        self.defer = many > 1 or defer
        self.rows: list[dict[str, Any]] = []
        self.stored: list[tuple[Any, ...]] = []  # the rows as the database spells them
        #: Whether the config's design was found to be the log's in this step (a step appends no amendment
        #: after an allocation, so once serves each allocation of a group)
        self.design_checked = False

    @property
    def row(self) -> dict[str, Any] | None:
        """The last row appended, if any."""
        return self.rows[-1] if self.rows else None

    def append(self, kind: str, fields: Mapping[str, Any], sealed: Any = None, note: str | None = None,
               on_date: str | None = None) -> dict[str, Any]:  # fmt: skip
        if len(self.rows) >= self.many:
            raise RuntimeError("one row per step" if self.many == 1 else f"at most {self.many} rows in this step")
        common = {
            "actor": self.actor, "note": note or None, "at_utc": self.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "on_date": on_date or self.now.astimezone().date().isoformat(), "config_version": self.cfg.trial.version,
            "config_sha256": self.cfg.source.sha256 if self.cfg.source else "",
        }  # fmt: skip
        row = self.store.insert(self.head, kind, {**common, **fields}, sealed, defer=self.defer)
        self.rows.append(row)
        if not self.defer:
            self.stored.append(self.store.stored)
        self.state.apply({**row})
        self.head = Head(row["row"], row["tag"])
        return row


@dataclass
class _Verified:
    """What a process last verified of a log: how many rows, their content as SQLite spells it, the state."""

    rows: int
    content: list[tuple[Any, ...]]
    heads: list[dict[str, Any]]
    state: Replay
    mark: Any = None


#: Per process and log: the rows last verified and the state they replay to. A step whose log still holds
#: exactly those rows (every column compared) authenticates and replays only the rows after them: it
#: verifies from the last checkpoint. Any difference in an earlier row means a full verification, which
#: names it; ``randomise verify`` always verifies in full.
_VERIFIED: dict[tuple[str, str], _Verified] = {}


def _verified(store: LogStore, full: bool = False) -> tuple[Replay, Head, list[dict[str, Any]], list[tuple[Any, ...]],
                                                             Any, Checkpoint]:  # fmt: skip
    """The log verified from what this process last verified of it, else in full: the state, the head, every
    event, every row as stored, the database's change mark taken before anything was read, and the checkpoint.

    The rows this process verified before must be exactly what they were: those the database's change mark
    covers are, when the mark is unchanged (:meth:`~advance_trial.randomisation.database.Db.change_mark`); the
    others are compared column by column. Any difference means a full verification, which names the row.
    """
    ring, log_id = store.ring, store.log_id
    known = None if full else _VERIFIED.pop((store.location.identity, log_id), None)
    upto = known.mark[0] if known is not None and known.mark is not None else None
    mark: Any
    then: Any
    if isinstance(store.db, PostgresDb):  # both in one query
        mark, then = store.db.change_marks(upto)
    else:
        mark = store.db.change_mark()
        then = mark if upto is None else store.db.change_mark(upto)
    cp = _checkpoint(store)
    if known is not None and known.state.ring == ring and (_untouched(store, cp) or _unchanged(store, known, then)):
        done, state, new = known.rows, known.state, store.events(after=known.rows)
        events, content = [*known.heads, *new], [*known.content, *(tuple(e.values()) for e in new)]
    else:
        done, state, events = 0, None, store.events()
        content = [tuple(e.values()) for e in events]
    head = check_chain(events, ring, log_id, start=done)
    cp = check_head(ring, log_id, head, events, cp)
    return replay_events(events[done:], ring, log_id, state), head, events, content, mark, cp


def _checkpoint(store: LogStore) -> Checkpoint | None:
    """The checkpoint, read once for the step (under the trial's lock, which every write of it holds exclusively);
    None on PostgreSQL, or when it does not authenticate (named by the check of the head, which reads it again)."""
    if not isinstance(store.db, SqliteDb):
        return None
    try:
        return read_checkpoint(store.ring)
    except IntegrityError:
        return None


def _untouched(store: LogStore, cp: Checkpoint | None) -> bool:
    """Whether nothing was written to a SQLite log since the last step that wrote to it (in any process): its
    files are as the checkpoint's mark records them. That step verified every row before it wrote its own, so
    every row is as its writer wrote it, and those this process verified before are what they were; the rows
    after them are authenticated and replayed as ever, the head checked against the checkpoint."""
    if not isinstance(store.db, SqliteDb) or cp is None:
        return False
    return cp.mark is not None and cp.mark == store.db.files_mark()


def _unchanged(store: LogStore, known: _Verified, then: Any) -> bool:
    """Whether the rows ``known`` holds are still in the log as they were (``then``: the database's change mark
    now, of the rows the mark ``known`` holds covered)."""
    covered = _covered(known) if known.mark is not None and then == known.mark else 0
    return covered >= known.rows or store.content(known.rows, after=covered) == known.content[covered:]


def _covered(known: _Verified) -> int:
    """How many of the rows ``known`` holds its change mark covers."""
    upto = known.mark[0]
    return known.rows if upto is None else min(upto, known.rows)


def _reads_ahead(where: Location) -> list[tuple[str, tuple[int, ...]]]:
    """What a step on a PostgreSQL log will read, as :func:`_verified` reads it when the rows this process verified
    before are unchanged: the meta, the change marks, the rows the mark does not cover, the rows after (all of them
    when this process verified none)."""
    known = next((v for (at, _), v in _VERIFIED.items() if at == where.identity), None)
    if known is None:
        return [META, marks_query(None), events_after(0)]
    upto = known.mark[0] if known.mark is not None else None
    reads = [META, marks_query(upto)]
    if known.mark is not None and _covered(known) < known.rows:
        reads.append(content_between(_covered(known), known.rows))
    return [*reads, events_after(known.rows)]


def _remember(store: LogStore, events: list[dict[str, Any]], content: list[tuple[Any, ...]], state: Replay,
              mark: Any) -> None:  # fmt: skip
    # the rows verified before are kept as their heads (row and tag) already: only the new ones are cut down
    start = next((i for i in range(len(events) - 1, -1, -1) if len(events[i]) == 2), -1) + 1
    heads = [*events[:start], *({"row": e["row"], "tag": e["tag"]} for e in events[start:])]
    _VERIFIED[(store.location.identity, store.log_id)] = _Verified(len(events), content, heads, state, mark)


@contextmanager
def _writing(cfg: Config, ring: KeyRing, where: Location, now: datetime | None = None,
             account: str | None = None, many: int = 1) -> Iterator[_Step]:  # fmt: skip
    """One verified writing step that appends at most ``many`` rows (see :class:`_Step`).

    A step of more than one row inserts its rows in one statement at its end, and names, in the checkpoint, the
    furthest row it may leave before it commits (:func:`~advance_trial.randomisation.log.announce`): written and
    flushed in the background while the step decides and inserts its rows, and waited for before the commit;
    unless the checkpoint, at the log's head, names them already (left open by a step made together with other
    processes' requests: :data:`WINDOW`). Then the step costs two flushes, its commit and its checkpoint, as a
    step of one row does.
    """
    _check_trial(cfg, ring)
    with locked(ring, exclusive=True), writes_to(where):
        db = connect(where)
        if isinstance(db, PostgresDb):  # the lock, the transaction's start and its reads in one round trip
            db.ahead(True, _reads_ahead(where))
        store = open_log(where, ring, db)
        pending: Future[None] | None = None
        try:
            check_permissions(where)
            with store.db.serialised(exclusive=True):
                with store.transaction():
                    state, head, events, content, mark, cp = _verified(store)
                    step = _Step(cfg, store, state, head, now, account, many, isinstance(store.db, PostgresDb))
                    if many > 1 and not _open_for(cp, head, many):
                        pending = _background().submit(announce, ring, store.log_id, head, head.row + many)
                    yield step
                    if step.defer:  # the rows in one statement (PostgreSQL: with the commit, once announced)
                        if pending is not None and isinstance(store.db, PostgresDb):
                            pending.result()
                        step.stored = store.flush(commit=isinstance(store.db, PostgresDb))
                    events, content = [*events, *step.rows], [*content, *step.stored]
                    if store.db.kind == "sqlite":  # after this step's own changes (no one else writes until it ends)
                        mark = store.db.change_mark()
                    if pending is not None:
                        pending.result()  # on disk before the commit
                if step.rows:
                    files = store.db.files_mark() if isinstance(store.db, SqliteDb) else None
                    window = WINDOW.get()
                    settle(ring, store.log_id, step.head, files, step.head.row + window if window else None)
            _remember(store, events, content, step.state, mark)
        finally:
            if pending is not None:  # never two writes of the checkpoint at once, nor one after the lock is let go
                wait([pending])
            store.close()


#: Rows the checkpoint a step leaves keeps open for the next step (0: none). Set by a step made together with
#: other processes' requests (:mod:`~advance_trial.randomisation.together`), whose processes are likely to ask
#: again at once: the next step, of at most that many rows, need not name its rows in the checkpoint before
#: its commit (:func:`~advance_trial.randomisation.log.announce`, a flush to disk of its own), since the
#: checkpoint names them already. Any step without it leaves the checkpoint closed, as ever.
WINDOW: ContextVar[int] = ContextVar("advance_trial_window", default=0)


def _open_for(cp: Checkpoint, head: Head, many: int) -> bool:
    """Whether the checkpoint, at the log's head, names already every row a step of ``many`` rows may leave."""
    return cp.row == head.row and cp.upto is not None and cp.upto >= head.row + many


@functools.lru_cache(maxsize=1)
def _background() -> ThreadPoolExecutor:
    """The thread that writes a step's announcement while the step goes on."""
    return ThreadPoolExecutor(1, thread_name_prefix="advance-trial-checkpoint")


@contextmanager
def _reading(cfg: Config, ring: KeyRing, where: Location,
             full: bool = False) -> Iterator[tuple[LogStore, Replay, Head]]:  # fmt: skip
    _check_trial(cfg, ring)
    with locked(ring, exclusive=False):
        store = open_log(where, ring)
        try:
            with store.db.serialised(exclusive=False):
                state, head, events, content, mark, _cp = _verified(store, full)
            yield store, state, head
            _remember(store, events, content, state, mark)
        finally:
            store.close()


def _check_trial(cfg: Config, ring: KeyRing) -> None:
    if ring.trial_id != cfg.trial.id:
        raise UsageError(f"the key is of trial {ring.trial_id!r}, the config of {cfg.trial.id!r}")


#: Set while a step is made for several processes (:mod:`~advance_trial.randomisation.together`): its receipts
#: are left unsigned, each signed by the process that asked (:func:`signed`), once the lock is let go.
UNSIGNED: ContextVar[bool] = ContextVar("advance_trial_unsigned", default=False)


def _receipt(ring: KeyRing, log_id: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The signed receipt of an allocation's row (signed after the step: the lock is not held for it; unsigned
    while :data:`UNSIGNED` is set)."""
    body = {
        "trial_id": ring.trial_id, "log_id": log_id, "row": row["row"], "sequence": row["sequence"],
        "participant_id": row["participant_id"], "at_utc": row["at_utc"], "tag": row["tag"],
        "key_fingerprint": ring.fingerprint,
    }  # fmt: skip
    if UNSIGNED.get():
        return {"format": RECEIPT_FORMAT, **body}
    return sign_receipt(ring, body)


def signed(ring: KeyRing, made: Allocation) -> Allocation:
    """An allocation whose receipt a step left unsigned (:data:`UNSIGNED`), with its receipt signed."""
    if not made.receipt or "signature" in made.receipt:
        return made
    return dataclasses.replace(made, receipt=sign_receipt(ring, made.receipt))


def _refuse(source: str, column: str | None, value: str | None, message: str) -> DataError:
    """A request refused for one reason (exit 4)."""
    return DataError([DataProblem(source, None, column, value, message)])


def _as_allocation(state: Replay, pid: str, new: bool, receipt: dict[str, Any]) -> Allocation:
    m = state.allocated[pid]
    return Allocation(pid, m.site, m.arm, m.sequence, dict(m.factors), m.at_utc, m.on_date, m.actor, new, receipt)


def _allocated(state: Replay, pid: str, source: str) -> Allocated:
    """The man's allocation, or a refusal naming the request (exit 4)."""
    man = state.allocated.get(pid)
    if man is None:
        raise NotAllocatedError([DataProblem(source, None, "--participant", pid, "not allocated")])
    return man
