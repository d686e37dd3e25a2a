"""The allocation log: an append-only, hash-chained SQLite database of allocations.

Every event (an allocation, a chunk of a concealed list drawn into use, an
unblinding) is one row of ``events``. Each row stores the SHA-256 of the row
before it and of its own canonical content, so that editing, deleting,
inserting or reordering rows breaks the chain; triggers refuse UPDATE and
DELETE outright. :func:`verify_log` re-checks the chain and replays every
allocation from the config's seed and the recorded inputs.

What the chain cannot show on its own: someone who rewrites every row after an
edit (the scheme has no secret), or who cuts rows off the end. Replay catches
any allocation that does not follow the seed; to catch a rewrite or a cut,
record the head hash that ``verify`` reports (in the trial master file, an
e-mail) and pass it back with ``expect_head``.

Writers take an immediate (write) transaction, so concurrent allocations are
serialised; WAL journaling with ``synchronous=FULL`` means a process killed at
any moment leaves either the whole allocation or none of it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from advance_trial import randomise as rz
from advance_trial.config.models import Config
from advance_trial.errors import DataError, DataProblem, IntegrityError, UsageError

FORMAT = "advance-trial allocation log 1"
BUSY_TIMEOUT_MS = 60_000
#: Columns of ``events`` that the row hash covers, in this order.
HASHED = (
    "row", "kind", "sequence", "participant_id", "site", "stratum", "factors", "arm", "draw", "by_whom",
    "at_utc", "config_version", "config_sha256", "detail", "prev_hash",
)  # fmt: skip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    row INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('allocation', 'list_chunk', 'unblinding')),
    sequence INTEGER,
    participant_id TEXT,
    site TEXT,
    stratum TEXT,
    factors TEXT,
    arm TEXT,
    draw TEXT,
    by_whom TEXT NOT NULL,
    at_utc TEXT NOT NULL,
    config_version TEXT NOT NULL,
    config_sha256 TEXT NOT NULL,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_allocation_each ON events(participant_id) WHERE kind = 'allocation';
CREATE UNIQUE INDEX IF NOT EXISTS one_sequence_each ON events(sequence) WHERE kind = 'allocation';
CREATE INDEX IF NOT EXISTS by_stratum ON events(kind, stratum);
CREATE TABLE IF NOT EXISTS lists (
    stratum TEXT NOT NULL, chunk INTEGER NOT NULL, position INTEGER NOT NULL,
    arm TEXT NOT NULL, block INTEGER NOT NULL, block_size INTEGER NOT NULL,
    PRIMARY KEY (stratum, position)
);
"""
_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'the allocation log is append-only'); END;"
    for table in ("events", "lists", "meta")
    for op in ("UPDATE", "DELETE")
]


@dataclass(frozen=True)
class Allocation:
    """One participant's allocation as recorded in the log.

    Attributes
    ----------
    participant_id, site, arm : str
    sequence : int
        1-based allocation number, without gaps across the trial.
    factors : dict
        The values the allocation used (site and any other factors).
    allocated_at, by : str
        UTC time (ISO 8601) and who asked.
    new : bool
        False when the participant had already been allocated and nothing was written.
    """

    participant_id: str
    site: str
    arm: str
    sequence: int
    factors: dict[str, str]
    allocated_at: str
    by: str
    new: bool


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify_log` checked."""

    rows: int
    allocations: int
    unblindings: int
    head_hash: str
    draws_regenerated: bool
    notes: tuple[str, ...] = ()


def canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def genesis_hash(trial_id: str) -> str:
    """The ``prev_hash`` of row 1: binds a log to its trial."""
    return hashlib.sha256(f"{FORMAT}\n{trial_id}".encode()).hexdigest()


def row_hash(values: Mapping[str, Any]) -> str:
    """SHA-256 of a row's canonical content (every hashed column, including ``prev_hash``)."""
    return hashlib.sha256(canon([values[c] for c in HASHED]).encode("utf-8")).hexdigest()


def stratum_text(stratum: rz.Stratum) -> str:
    return canon([list(p) for p in stratum])


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_log_path(cfg: Config) -> Path:
    """The log path the config names (``randomisation.log``), or a usage error if it names none."""
    if not cfg.randomisation.log:
        raise UsageError("no allocation log given: pass --log PATH or set randomisation.log in the config")
    return Path(cfg.randomisation.log)


def connect(path: str | Path, cfg: Config, create: bool = True) -> sqlite3.Connection:
    """Open (and if needed create) the log, checking that it belongs to this trial."""
    path = Path(path)
    if not create and not path.exists():
        raise UsageError(f"{path}: no allocation log there")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        meta = _open(con, cfg)
    except sqlite3.DatabaseError as exc:
        con.close()
        raise IntegrityError(f"{path}: not a readable allocation log ({exc})") from None
    if meta.get("trial_id") != cfg.trial.id or meta.get("format") != FORMAT:
        con.close()
        raise IntegrityError(f"{path}: this is the log of {meta.get('trial_id')!r}, not of {cfg.trial.id!r}")
    return con


def _retry_locked(action: Callable[[], Any]) -> Any:
    """Run ``action``, retrying while another process holds a lock the busy handler does not wait for."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _open(con: sqlite3.Connection, cfg: Config) -> dict[str, str]:
    con.row_factory = sqlite3.Row
    con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if _retry_locked(lambda: con.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        _retry_locked(lambda: con.execute("PRAGMA journal_mode = WAL").fetchone())
    con.execute("PRAGMA synchronous = FULL")
    has_meta = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if has_meta:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        if meta:
            return meta
    with _write(con):
        for statement in [s for s in _SCHEMA.split(";") if s.strip()] + _TRIGGERS:
            con.execute(statement)
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            con.execute("INSERT INTO meta VALUES ('format', ?), ('trial_id', ?)", (FORMAT, cfg.trial.id))
            meta = {"format": FORMAT, "trial_id": cfg.trial.id}
    return meta


@contextmanager
def _write(con: sqlite3.Connection) -> Iterator[None]:
    """An immediate transaction: the write lock is taken before anything is read."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _append(con: sqlite3.Connection, cfg: Config, kind: str, by: str, at: str, **fields: Any) -> dict[str, Any]:
    last = con.execute("SELECT row, row_hash FROM events ORDER BY row DESC LIMIT 1").fetchone()
    values = {c: None for c in HASHED}
    values.update(fields)
    values.update(
        row=(last["row"] + 1) if last else 1,
        kind=kind,
        by_whom=by,
        at_utc=at,
        config_version=cfg.trial.version,
        config_sha256=cfg.source.sha256 if cfg.source else "",
        prev_hash=last["row_hash"] if last else genesis_hash(cfg.trial.id),
    )
    values["row_hash"] = row_hash(values)
    cols = ", ".join(values)
    con.execute(f"INSERT INTO events ({cols}) VALUES ({', '.join('?' * len(values))})", list(values.values()))
    return values


# ---------------------------------------------------------------------------- requests


def required_factors(cfg: Config) -> list[str]:
    """The factors an allocation needs besides the participant: strata or minimisation factors."""
    r = cfg.randomisation
    names = list(r.strata) if r.method == "stratified_blocks" else []
    if r.method == "minimisation" and r.minimisation is not None:
        names = list(r.minimisation.factors)
    return ["site"] + [n for n in names if n != "site"]


def check_request(cfg: Config, participant_id: str, site: str, factors: Mapping[str, str]) -> dict[str, str]:
    """Validate an allocation request; every problem at once (exit 4)."""
    src = "allocation request"
    problems: list[DataProblem] = []
    if not re.fullmatch(cfg.randomisation.participant_id_pattern, participant_id):
        problems.append(
            DataProblem(
                src, None, "--participant", participant_id, f"must match {cfg.randomisation.participant_id_pattern}"
            )
        )
    levels = cfg.factor_levels()
    values = {"site": site, **{k: str(v) for k, v in factors.items()}}
    for name, value in values.items():
        opt = "--site" if name == "site" else f"--factor {name}"
        if name not in levels:
            problems.append(DataProblem(src, None, opt, value, f"unknown factor; known: {', '.join(levels)}"))
        elif value not in levels[name]:
            problems.append(DataProblem(src, None, opt, value, f"unknown value; allowed: {', '.join(levels[name])}"))
    for name in required_factors(cfg):
        if name not in values:
            allowed = ", ".join(levels[name])
            problems.append(DataProblem(src, None, f"--factor {name}", None, f"missing: give {name}=VALUE ({allowed})"))
    if problems:
        raise DataError(problems)
    return dict(sorted(values.items()))


# ---------------------------------------------------------------------------- allocation


def _numpy() -> str:
    return np.__version__


def _ensure_list(con: sqlite3.Connection, cfg: Config, stratum: rz.Stratum, position: int, by: str, at: str) -> None:
    """Draw chunks of the stratum's list into the log until it holds ``position``."""
    r = cfg.randomisation
    text = stratum_text(stratum)
    have = con.execute("SELECT MAX(position), MAX(chunk) FROM lists WHERE stratum = ?", (text,)).fetchone()
    top, chunk = (have[0] or 0), (-1 if have[1] is None else have[1])
    while top < position:
        chunk += 1
        entries = rz.block_chunk(r.seed or 0, stratum, chunk, cfg.arm_ids, [a.ratio for a in cfg.arms], r.block_sizes)
        block0 = con.execute("SELECT COALESCE(MAX(block), 0) FROM lists WHERE stratum = ?", (text,)).fetchone()[0]
        rows = [(text, chunk, top + e.position, e.arm, block0 + e.block, e.block_size) for e in entries]
        con.executemany("INSERT INTO lists VALUES (?, ?, ?, ?, ?, ?)", rows)
        detail = {
            "chunk": chunk, "first": rows[0][2], "last": rows[-1][2], "numpy": _numpy(), "sha256": rows_sha256(rows)
        }  # fmt: skip
        _append(con, cfg, "list_chunk", by, at, stratum=text, detail=canon(detail))
        top = rows[-1][2]


def rows_sha256(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256(canon([list(r) for r in rows]).encode()).hexdigest()


def uniforms_for(seed: int, index: int, per: int) -> list[float]:
    """The ``per`` uniforms of the ``index``-th (1-based) allocation from the unstratified stream."""
    out = []
    for k in range((index - 1) * per, index * per):
        chunk, offset = divmod(k, rz.CHUNK)
        out.append(float(rz.uniform_chunk(seed, (), chunk)[offset]))
    return out


def _margins(con: sqlite3.Connection, factors: list[str]) -> rz.MarginCounts:
    counts: rz.MarginCounts = {}
    for row in con.execute("SELECT factors, arm FROM events WHERE kind = 'allocation' ORDER BY row"):
        values = json.loads(row["factors"])
        rz.add_to_margins(counts, {f: values[f] for f in factors}, row["arm"])
    return counts


def _decide(
    con: sqlite3.Connection, cfg: Config, values: dict[str, str], sequence: int, by: str, at: str
) -> tuple[str, str, dict[str, Any]]:
    """The arm, the stratum text and the draw for the next allocation."""
    r = cfg.randomisation
    arms, ratios, seed = cfg.arm_ids, [a.ratio for a in cfg.arms], r.seed or 0
    if r.method in ("blocks", "stratified_blocks"):
        stratum = rz.stratum_of(values, r.strata if r.method == "stratified_blocks" else [])
        text = stratum_text(stratum)
        n = con.execute("SELECT COUNT(*) FROM events WHERE kind = 'allocation' AND stratum = ?", (text,)).fetchone()
        position = n[0] + 1
        _ensure_list(con, cfg, stratum, position, by, at)
        entry = con.execute(
            "SELECT arm, chunk FROM lists WHERE stratum = ? AND position = ?", (text, position)
        ).fetchone()
        return entry["arm"], text, {"position": position, "chunk": entry["chunk"]}
    if r.method == "simple":
        (u,) = uniforms_for(seed, sequence, 1)
        return rz.pick_by_ratio(u, arms, ratios), stratum_text(()), {"index": sequence, "u": u, "numpy": _numpy()}
    assert r.minimisation is not None
    weights = r.minimisation.factors
    scores = rz.minimisation_scores(_margins(con, list(weights)), values, weights, arms, ratios)
    u_tie, u_prob = uniforms_for(seed, sequence, 2)
    d = rz.minimisation_decision(scores, arms, ratios, r.minimisation.probability, u_tie, u_prob)
    draw = {"index": sequence, "scores": d.scores, "tied": list(d.tied), "preferred": d.preferred,
            "u_tie": d.u_tie, "u_prob": d.u_prob, "numpy": _numpy()}  # fmt: skip
    return d.arm, stratum_text(()), draw


def _as_allocation(row: Mapping[str, Any], new: bool) -> Allocation:
    factors = json.loads(row["factors"])
    return Allocation(
        row["participant_id"], row["site"], row["arm"], row["sequence"], factors, row["at_utc"], row["by_whom"], new
    )


def allocate(
    path: str | Path,
    cfg: Config,
    participant_id: str,
    site: str,
    factors: Mapping[str, str] | None = None,
    by: str | None = None,
) -> Allocation:
    """Allocate one participant, or return the allocation already recorded for them.

    Raises
    ------
    UsageError
        The design is single-arm (method ``none``).
    DataError
        A malformed participant id, an unknown site or factor value, a missing factor, or a
        repeated request whose site or factors differ from the recorded ones.
    """
    if cfg.randomisation.method == "none":
        raise UsageError(f"{cfg.trial.id} is a single-arm design (randomisation method 'none'): nobody is allocated")
    values = check_request(cfg, participant_id, site, factors or {})
    by = by or getpass.getuser()
    con = connect(path, cfg)
    try:
        with _write(con):
            old = con.execute(
                "SELECT * FROM events WHERE kind = 'allocation' AND participant_id = ?", (participant_id,)
            ).fetchone()
            if old is not None:
                recorded = json.loads(old["factors"])
                if any(recorded.get(k) != v for k, v in values.items()):
                    said = f"{participant_id} was allocated with"
                    raise DataError(
                        [
                            DataProblem("allocation request", None, k, v, f"{said} {k}={recorded.get(k)}")
                            for k, v in values.items()
                            if recorded.get(k) != v
                        ]
                    )
                return _as_allocation(old, new=False)
            sequence = con.execute("SELECT COUNT(*) FROM events WHERE kind = 'allocation'").fetchone()[0] + 1
            at = _utc_now()
            arm, stratum, draw = _decide(con, cfg, values, sequence, by, at)
            row = _append(
                con, cfg, "allocation", by, at, sequence=sequence, participant_id=participant_id, site=site,
                stratum=stratum, factors=canon(values), arm=arm, draw=canon(draw),
            )  # fmt: skip
        return _as_allocation(row, new=True)
    finally:
        con.close()


def unblind(path: str | Path, cfg: Config, participant_id: str, reason: str, by: str) -> Allocation:
    """Reveal one participant's arm and record that it was revealed, by whom and why."""
    if not reason.strip():
        raise UsageError("give the reason for unblinding (--reason)")
    con = connect(path, cfg, create=False)
    try:
        with _write(con):
            old = con.execute(
                "SELECT * FROM events WHERE kind = 'allocation' AND participant_id = ?", (participant_id,)
            ).fetchone()
            if old is None:
                raise DataError([DataProblem(str(path), None, "participant", participant_id, "not allocated")])
            _append(
                con, cfg, "unblinding", by, _utc_now(), participant_id=participant_id, site=old["site"],
                arm=old["arm"], detail=canon({"reason": reason, "sequence": old["sequence"]}),
            )  # fmt: skip
        return _as_allocation(old, new=False)
    finally:
        con.close()


def read_events(path: str | Path, cfg: Config) -> list[dict[str, Any]]:
    """Every row of the log, in order."""
    con = connect(path, cfg, create=False)
    try:
        return [dict(r) for r in con.execute("SELECT * FROM events ORDER BY row")]
    finally:
        con.close()
