"""What a trial does with its allocation log: create it, allocate, unblind, correct, amend, export, verify.

Every function here takes the config and the trial's :class:`KeyRing`. Each
step that writes runs under the trial's exclusive lock: it verifies the whole
log first (chain, checkpoint, replay) and refuses to act on a bad one (exit 5,
nothing written), then appends one authenticated row, commits, and moves the
checkpoint. Who acted is the operating-system user; a free-text ``note`` may
add to it but never replaces it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from advance_trial import randomise as rz
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
from advance_trial.randomisation.database import Db, Location, location, writes_to
from advance_trial.randomisation.key import (
    KeyRing,
    check_receipt_signature,
    key_folder,
    load_key,
    read_checkpoint,
    refuse_inside,
    sign_receipt,
)
from advance_trial.randomisation.log import (
    Head,
    LogStore,
    check_chain,
    check_head,
    check_permissions,
    create_log,
    locked,
    open_log,
    os_user,
    settle,
    utc_now,
)
from advance_trial.randomisation.replay import (
    Allocated,
    Replay,
    backup_stratum,
    design_differences,
    design_of,
    id_key,
    replay_events,
    version_key,
)
from advance_trial.randomisation.request import AllocationRequest, check_request, normalise_id

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
    where = location(cfg.randomisation.log)
    if where.path is not None and not where.path.is_absolute() and cfg.source is not None:
        where = location(Path(os.path.normpath(Path(cfg.source.path).parent / where.path)))
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
    """One writing step: the verified state, and at most one row appended to it."""

    def __init__(self, cfg: Config, store: LogStore, state: Replay, head: Head, now: datetime | None,
                 account: str | None = None) -> None:  # fmt: skip
        self.cfg, self.store, self.state, self.head = cfg, store, state, head
        self.now = now or utc_now()
        self.actor = actor_name(account)
        self.row: dict[str, Any] | None = None

    def append(self, kind: str, fields: Mapping[str, Any], sealed: Any = None, note: str | None = None,
               on_date: str | None = None) -> dict[str, Any]:  # fmt: skip
        if self.row is not None:
            raise RuntimeError("one row per step")
        common = {
            "actor": self.actor, "note": note or None, "at_utc": self.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "on_date": on_date or self.now.astimezone().date().isoformat(), "config_version": self.cfg.trial.version,
            "config_sha256": self.cfg.source.sha256 if self.cfg.source else "",
        }  # fmt: skip
        self.row = self.store.insert(self.head, kind, {**common, **fields}, sealed)
        self.state.apply({**self.row})
        self.head = Head(self.row["row"], self.row["tag"])
        return self.row


@dataclass
class _Verified:
    """What a process last verified of a log: how many rows, their content as SQLite spells it, the state."""

    rows: int
    content: list[tuple[Any, ...]]
    heads: list[dict[str, Any]]
    state: Replay


#: Per process and log: the rows last verified and the state they replay to. A step whose log still holds
#: exactly those rows (every column compared) authenticates and replays only the rows after them: it
#: verifies from the last checkpoint. Any difference in an earlier row means a full verification, which
#: names it; ``randomise verify`` always verifies in full.
_VERIFIED: dict[tuple[str, str], _Verified] = {}


def _verified(store: LogStore, full: bool = False) -> tuple[Replay, Head, list[dict[str, Any]]]:
    ring, log_id = store.ring, store.log_id
    known = None if full else _VERIFIED.pop((store.location.identity, log_id), None)
    if known is not None and known.state.ring == ring and store.content(known.rows) == known.content:
        done, state, events = known.rows, known.state, [*known.heads, *store.events(after=known.rows)]
    else:
        done, state, events = 0, None, store.events()
    head = check_chain(events, ring, log_id, start=done)
    check_head(ring, log_id, head, events)
    return replay_events(events[done:], ring, log_id, state), head, events


def _remember(store: LogStore, events: list[dict[str, Any]], state: Replay) -> None:
    heads = [{"row": e["row"], "tag": e["tag"]} for e in events]
    known = _Verified(len(events), store.content(len(events)), heads, state)
    _VERIFIED[(store.location.identity, store.log_id)] = known


@contextmanager
def _writing(cfg: Config, ring: KeyRing, where: Location, now: datetime | None = None,
             account: str | None = None) -> Iterator[_Step]:  # fmt: skip
    _check_trial(cfg, ring)
    with locked(ring, exclusive=True), writes_to(where):
        store = open_log(where, ring)
        try:
            check_permissions(where)
            with store.db.serialised(exclusive=True):
                with store.transaction():
                    state, head, events = _verified(store)
                    step = _Step(cfg, store, state, head, now, account)
                    yield step
                if step.row is not None:
                    settle(ring, store.log_id, step.head)
                    events = [*events, step.row]
            _remember(store, events, step.state)
        finally:
            store.close()


@contextmanager
def _reading(cfg: Config, ring: KeyRing, where: Location,
             full: bool = False) -> Iterator[tuple[LogStore, Replay, Head]]:  # fmt: skip
    _check_trial(cfg, ring)
    with locked(ring, exclusive=False):
        store = open_log(where, ring)
        try:
            with store.db.serialised(exclusive=False):
                state, head, events = _verified(store, full)
            yield store, state, head
            _remember(store, events, state)
        finally:
            store.close()


def _check_trial(cfg: Config, ring: KeyRing) -> None:
    if ring.trial_id != cfg.trial.id:
        raise UsageError(f"the key is of trial {ring.trial_id!r}, the config of {cfg.trial.id!r}")


def _receipt(store: LogStore, row: Mapping[str, Any]) -> dict[str, Any]:
    body = {
        "trial_id": store.ring.trial_id, "log_id": store.log_id, "row": row["row"], "sequence": row["sequence"],
        "participant_id": row["participant_id"], "at_utc": row["at_utc"], "tag": row["tag"],
        "key_fingerprint": store.ring.fingerprint,
    }  # fmt: skip
    return sign_receipt(store.ring, body)


# ---------------------------------------------------------------------------- init and amend


def init_log(cfg: Config, ring: KeyRing, path: str | Path | Location, note: str | None = None) -> VerifyReport:
    """Create the trial's log with its first row: the design, the derivation and the key's fingerprint."""
    path = log_path(cfg, path)
    _refuse_single_arm(cfg)
    _check_trial(cfg, ring)
    if ring.checkpoint_path.exists():
        raise UsageError(
            f"{ring.checkpoint_path}: this trial's log was created already; restore it from its back-up, "
            "never start a second one"
        )
    with locked(ring, exclusive=True):
        log_id, head = write_first_row(cfg, ring, path, note)
        settle(ring, log_id, head)
    return verify_log(cfg, ring, path)


def write_first_row(cfg: Config, ring: KeyRing, where: Location, note: str | None = None) -> tuple[str, Head]:
    """Create a new log at ``where`` with its first row (the design, the derivation, the key's fingerprint), in
    one transaction; its id and head. The caller holds the trial's lock and moves the checkpoint."""
    from advance_trial.randomisation.log import genesis_tag

    store = create_log(where, ring)
    try:
        with store.transaction():
            step = _Step(cfg, store, Replay(ring, store.log_id), Head(0, genesis_tag(ring, store.log_id)), None)
            detail = {"design": design_of(cfg), "derivation": rz.DERIVATION, "key_fingerprint": ring.fingerprint,
                      "epoch": 0}  # fmt: skip
            step.append("init", {"detail": rz.canon(detail)}, note=note)
        return store.log_id, step.head
    finally:
        store.close()


def amend(cfg: Config, ring: KeyRing, reason: str, *, log: str | Path | Location | None = None) -> dict[str, Any]:
    """Record a config amendment (a higher ``trial.version``); later allocations follow its design."""
    text = _reason(reason)
    with _writing(cfg, ring, log_path(cfg, log)) as step:
        state = step.state
        if version_key(cfg.trial.version) <= version_key(state.version):
            raise ConfigError(
                _config_file(cfg),
                [ConfigProblem("trial.version", None,
                               f"{cfg.trial.version!r} must be higher than the log's {state.version!r} to amend")],
            )  # fmt: skip
        new = design_of(cfg)
        changes = [k for k, _ in design_differences(state.design, new)]
        epoch = state.epoch + (1 if changes else 0)
        detail = {"design": new, "reason": text, "changed": changes, "epoch": epoch, "from_version": state.version}
        step.append("amendment", {"detail": rz.canon(detail)})
    return detail


# ---------------------------------------------------------------------------- allocation


def check_eligible(cfg: Config, participant_id: str, data_dir: Path | None) -> None:
    """With ``require_eligible``, the man must have an eligible, consented screening row in ``data_dir``."""
    if not cfg.randomisation.require_eligible:
        return
    if data_dir is None:
        raise UsageError("randomisation.require_eligible is set: pass --data DIR so his screening row can be checked")
    from advance_trial.data.canonical import parse_table
    from advance_trial.data.schema import SPECS

    path = Path(data_dir) / "screening.csv"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _refuse(str(path), None, None, f"cannot read it ({exc.strerror})") from None
    table, problems = parse_table(cfg, SPECS["screening"], raw, str(path))
    if problems:
        raise DataError(problems)
    rows = table[table["participant_id"] == participant_id]
    if rows.empty:
        raise _refuse(
            str(path),
            "participant_id",
            participant_id,
            "no screening row for this man; record his screening before randomising",
        )
    ok = rows["eligible"].fillna(False).astype(bool) & rows["consented"].fillna(False).astype(bool)
    if not ok.any():
        i = int(rows.index[0]) + 2
        raise DataError([DataProblem(str(path), i, "eligible, consented", participant_id,
                                     "his screening row is not both eligible and consented")])  # fmt: skip


def _refuse(source: str, column: str | None, value: str | None, message: str) -> DataError:
    """A request refused for one reason (exit 4)."""
    return DataError([DataProblem(source, None, column, value, message)])


def _existing(state: Replay, pid: str, values: Mapping[str, str]) -> Any:
    key = id_key(pid)
    other = state.by_id_key.get(key)
    if other is not None and other != pid:
        raise _refuse(
            "allocation request",
            "--participant",
            pid,
            f"the same man as {other}, who is already allocated (ids differ only in case or punctuation)",
        )
    man = state.allocated.get(pid)
    if man is not None:
        differs = [k for k, v in values.items() if man.factors.get(k) != v]
        if differs:
            said = f"{pid} was allocated with"
            raise DataError(
                [DataProblem("allocation request", None, k, values[k], f"{said} {k}={man.factors[k]}") for k in differs]
            )
    return man


def _as_allocation(state: Replay, pid: str, new: bool, receipt: dict[str, Any]) -> Allocation:
    m = state.allocated[pid]
    return Allocation(pid, m.site, m.arm, m.sequence, dict(m.factors), m.at_utc, m.on_date, m.actor, new, receipt)


def allocate(
    cfg: Config,
    ring: KeyRing,
    request: AllocationRequest | str,
    site: str | None = None,
    factors: Mapping[str, str] | None = None,
    *,
    log: str | Path | Location | None = None,
    note: str | None = None,
    data_dir: Path | None = None,
    now: datetime | None = None,
    account: str | None = None,
    eligibility: Mapping[str, Any] | None = None,
) -> Allocation:
    """Allocate one man, or return the allocation already recorded for him (writing nothing).

    ``request`` is the :class:`AllocationRequest` (or, for the same request, his id with ``site`` and
    ``factors``). ``account`` is the service account that asked (the service's only; the log records the OS user
    otherwise). ``eligibility`` holds the answers to the config's eligibility criteria (``{id: bool}``): when
    given, each must be answered eligibly, and they are recorded in the allocation's row; the service always
    gives them.

    Raises
    ------
    UsageError
        A single-arm design, or ``require_eligible`` without a data folder.
    ConfigError
        The config's design differs from the log's (until ``amend``).
    DataError
        A malformed id, an unknown site or factor, a missing factor, a variant of an allocated id,
        a repeated request with other factors, or (with ``require_eligible``) no eligible screening row.
    IntegrityError
        The log does not verify; nothing is written.
    """
    _refuse_single_arm(cfg)
    if not isinstance(request, AllocationRequest):
        request = AllocationRequest.of(request, site or "", factors)
    pid, values = request.checked(cfg)
    answers = None
    if eligibility is not None:
        from advance_trial.randomisation.eligibility import check_answers

        answers = check_answers(cfg, eligibility)
    path = log_path(cfg, log)
    with _writing(cfg, ring, path, now, account) as step:
        if _existing(step.state, pid, values) is not None:
            return _as_allocation(step.state, pid, False, {})
        check_design(cfg, step.state)
        check_eligible(cfg, pid, data_dir)
        arm, stratum, draw = step.state.decide(values)
        row = step.append(
            "allocation",
            {"sequence": len(step.state.allocated) + 1, "participant_id": pid, "id_key": id_key(pid),
             "site": values["site"], "stratum": stratum, "factors": rz.canon(values),
             **({"detail": rz.canon({"eligibility": answers})} if answers is not None else {})},
            sealed={"arm": arm, "draw": draw}, note=note,
        )  # fmt: skip
        receipt = _receipt(step.store, row)
    return _as_allocation(step.state, pid, True, receipt)


def enter_backup(
    cfg: Config,
    ring: KeyRing,
    participant_id: str,
    site: str,
    factors: Mapping[str, str] | None,
    position: int,
    arm: str,
    randomised_on: date,
    *,
    log: str | Path | Location | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Allocation:
    """Enter an allocation made offline from a sealed back-up list, checked against the position it claims.

    The position must be the next unopened one of the man's back-up list, and the arm (id, or code
    under blinding) the one that position holds.
    """
    _refuse_single_arm(cfg)
    pid, values = check_request(cfg, participant_id, site, factors or {})
    codes = cfg.randomisation.blinding.codes if cfg.randomisation.blinding else {}
    names = {a.casefold(): a for a in cfg.arm_ids} | {c.casefold(): a for a, c in codes.items()}
    given = names.get(arm.strip().casefold(), arm)
    with _writing(cfg, ring, log_path(cfg, log), now) as step:
        state = step.state
        if _existing(state, pid, values) is not None:
            raise _refuse("back-up entry", "--participant", pid, "already allocated")
        check_design(cfg, state)
        due = state.next_backup_position(values)
        where = rz.stratum_text(backup_stratum(state.design, values))
        if position != due:
            raise _refuse(
                "back-up entry",
                "--position",
                str(position),
                f"the next unopened position of the back-up list {where} is {due}",
            )
        if randomised_on > step.now.date():
            raise _refuse("back-up entry", "--randomised-on", randomised_on.isoformat(), "is in the future")
        expected = state.backup_entry(values, position).arm
        if given != expected:
            raise _refuse(
                "back-up entry", "--arm", arm, f"position {position} of the back-up list {where} does not hold this arm"
            )
        row = step.append(
            "allocation",
            {"sequence": len(state.allocated) + 1, "participant_id": pid, "id_key": id_key(pid),
             "site": values["site"], "stratum": where, "factors": rz.canon(values)},
            sealed={"arm": expected, "draw": {"source": "backup", "epoch": state.epoch, "position": position}},
            note=note, on_date=randomised_on.isoformat(),
        )  # fmt: skip
        receipt = _receipt(step.store, row)
    return _as_allocation(step.state, pid, True, receipt)


def _allocated(state: Replay, pid: str, source: str) -> Allocated:
    """The man's allocation, or a refusal naming the request (exit 4)."""
    man = state.allocated.get(pid)
    if man is None:
        raise NotAllocatedError([DataProblem(source, None, "--participant", pid, "not allocated")])
    return man


def unblind(cfg: Config, ring: KeyRing, participant_id: str, reason: str, *, log: str | Path | Location | None = None,
            note: str | None = None, account: str | None = None) -> Allocation:  # fmt: skip
    """Reveal one man's arm, recording who (the OS user or the service account), when and why in the chain.

    The returned allocation's ``receipt`` names the unblinding's own row and tag (not a signed receipt).
    """
    text = _reason(reason)
    pid = normalise_id(cfg, participant_id)
    with _writing(cfg, ring, log_path(cfg, log), account=account) as step:
        man = _allocated(step.state, pid, "unblinding request")
        fields = {
            "participant_id": pid,
            "site": man.site,
            "sequence": man.sequence,
            "detail": rz.canon({"reason": text}),
        }
        row = step.append("unblinding", fields, sealed={"arm": man.arm}, note=note)
    return _as_allocation(step.state, pid, False, {"row": row["row"], "tag": row["tag"]})


def correct(cfg: Config, ring: KeyRing, participant_id: str, reason: str, *, log: str | Path | Location | None = None,
            note: str | None = None) -> Allocation:  # fmt: skip
    """Record that a man was randomised in error; his allocation stays (and outputs can flag it)."""
    text = _reason(reason)
    pid = normalise_id(cfg, participant_id)
    with _writing(cfg, ring, log_path(cfg, log)) as step:
        man = _allocated(step.state, pid, "correction")
        if man.in_error:
            raise _refuse("correction", "--participant", pid, "already recorded as in error")
        detail = rz.canon({"randomised_in_error": True, "reason": text})
        step.append("correction", {"participant_id": pid, "site": man.site, "sequence": man.sequence, "detail": detail},
                    note=note)  # fmt: skip
    return _as_allocation(step.state, pid, False, {})


def record(
    cfg: Config,
    ring: KeyRing,
    kind: str,
    detail: Mapping[str, Any],
    *,
    account: str | None,
    log: str | Path | Location | None = None,
    also: Callable[[Db], Any] | None = None,
) -> dict[str, Any]:
    """Record a service event (``account``: an account added, disabled or given a token; ``login``) in the chain.

    ``account`` is who acted (None: the operating-system user, as for ``users add`` at the command line);
    ``also`` changes the service's own tables in the same transaction, so the change and its event are one.
    Returns the row as written.
    """
    if kind not in ("account", "login"):
        raise ValueError(f"not a service event: {kind!r}")
    with _writing(cfg, ring, log_path(cfg, log), account=account) as step:
        if also is not None:
            also(step.store.db)
        return step.append(kind, {"detail": rz.canon(dict(detail))})


def copy_log(
    cfg: Config, ring: KeyRing, source: str | Path | Location | None, target: str | Path | Location
) -> VerifyReport:
    """Copy the trial's log, verified, row for row into a new empty database (SQLite or PostgreSQL).

    The copy is the same chain (same id, rows and tags), so the checkpoint beside the key holds for it; it is
    verified in full before anything is said. Use it to move a trial's log to the service's PostgreSQL server, or
    to give a log created before the service the service's kinds of event.
    """
    from advance_trial.randomisation.log import copy_events

    src, dst = log_path(cfg, source), log_path(cfg, target)
    if src.identity == dst.identity:
        raise UsageError(f"{dst}: the copy must go to another database")
    with _reading(cfg, ring, src, full=True) as (store, _state, _head):
        copy_events(store, dst).close()
    return verify_log(cfg, ring, dst)


# ---------------------------------------------------------------------------- reading


def _allocations_frame(cfg: Config, state: Replay) -> pd.DataFrame:
    codes = cfg.randomisation.blinding.codes if cfg.randomisation.blinding else None
    factor_names = sorted({k for m in state.allocated.values() for k in m.factors} - {"site"})
    rows = []
    for m in sorted(state.allocated.values(), key=lambda m: m.sequence):
        rec: dict[str, Any] = {
            "participant_id": m.participant_id, "site": m.site, "arm": m.arm, "sequence": m.sequence,
            "allocated_at": m.at_utc, "randomised_on": m.on_date, "allocated_by": m.actor,
            "source": m.draw.get("source", "online"), "randomised_in_error": m.in_error,
        }  # fmt: skip
        rec.update({f: m.factors.get(f) for f in factor_names})
        if codes is not None:
            rec["arm_code"] = codes[m.arm]
        rec["config_version"] = m.config_version
        rows.append(rec)
    cols = ["participant_id", "site", "arm", "sequence", "allocated_at", "randomised_on", "allocated_by", "source",
            "randomised_in_error", *factor_names, *(["arm_code"] if codes else []), "config_version"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def export(cfg: Config, ring: KeyRing, reason: str, *, log: str | Path | Location | None = None,
           note: str | None = None, account: str | None = None) -> pd.DataFrame:  # fmt: skip
    """Every allocation with its arm, one row per man in sequence order; the export is itself an event.

    Columns: ``participant_id, site, arm, sequence, allocated_at, randomised_on, allocated_by, source,
    randomised_in_error``, one column per recorded factor, ``arm_code`` under blinding, ``config_version``.
    """
    text = _reason(reason)
    with _writing(cfg, ring, log_path(cfg, log), account=account) as step:
        frame = _allocations_frame(cfg, step.state)
        step.append("export", {"detail": rz.canon({"reason": text, "men": len(frame), "with": "arms"})}, note=note)
    return frame


def concealed_list(cfg: Config, ring: KeyRing, n: int, reason: str, *, backup: bool = False,
                   log: str | Path | Location | None = None) -> pd.DataFrame:  # fmt: skip
    """The first ``n`` positions of every stratum's list, as ``allocate`` draws them (or the back-up lists).

    Columns: one per stratification factor, then ``position, block, block_size, arm``. Recorded in the
    chain (who, why, how many positions), because the list is the next allocations.
    """
    text = _reason(reason)
    if n < 1 or n > 100_000:
        raise UsageError("--n must be between 1 and 100000")
    with _writing(cfg, ring, log_path(cfg, log)) as step:
        state = step.state
        check_design(cfg, state)
        design = state.design
        if not backup and design["method"] not in ("blocks", "stratified_blocks"):
            raise UsageError(f"a concealed list exists only for blocks and stratified_blocks, not {design['method']!r}")
        names = list(design.get("strata") or ["site"]) if backup else list(design.get("strata", []))
        levels = cfg.factor_levels()
        combos: list[rz.Stratum] = [()]
        for name in names:
            combos = [c + ((name, v),) for c in combos for v in levels[name]]
        rows: list[dict[str, Any]] = []
        for stratum in combos:
            values = dict(stratum)
            if backup:
                entries = [state.backup_entry(values, p) for p in range(1, n + 1)]
            else:
                entries = [state.list_entry(values, p) for p in range(1, n + 1)]
            rows.extend({**values, "position": e.position, "block": e.block, "block_size": e.block_size,
                         "arm": e.arm} for e in entries)  # fmt: skip
        frame = pd.DataFrame(rows, columns=names + ["position", "block", "block_size", "arm"])
        kind = "backup" if backup else "allocation"
        step.append("list", {"detail": rz.canon({"reason": text, "list": kind, "positions": n, "epoch": state.epoch})})
    return frame


def first_list_difference(cfg: Config, ring: KeyRing, entries: Iterable[tuple[Mapping[str, str], int, str]],
                          log: str | Path | Location | None = None) -> int | None:  # fmt: skip
    """Compare ``(factor values, position, arm)`` entries with the lists the key derives, read-only.

    Returns the index of the first entry whose arm differs, or None; the list's own arm is never returned,
    so a table in hand is checked without revealing anything of the list it is not.
    """
    with _reading(cfg, ring, log_path(cfg, log)) as (_, state, _head):
        check_design(cfg, state)
        for i, (values, position, arm) in enumerate(entries):
            if state.list_entry(values, position).arm != arm:
                return i
    return None


@dataclass(frozen=True)
class WrittenFile:
    """A file a command wrote: where, how many rows, and the SHA-256 of its bytes."""

    path: Path
    rows: int
    sha256: str


#: The file ``export`` writes into its output folder, and those ``list`` writes (by format and kind).
EXPORT_FILE = "allocations.csv"
LIST_FILES = {("csv", False): "concealed_list.csv", ("csv", True): "backup_lists.csv",
              ("redcap", False): "redcap_allocation.csv", ("redcap", True): "redcap_backup_allocation.csv"}  # fmt: skip


def output_folder(out: str | Path) -> Path:
    """An output folder, created if needed, before anything is recorded in the log.

    Raises
    ------
    UsageError
        If ``out`` is a file, or names a CSV file (``--out`` is a folder).
    """
    out = Path(out)
    if out.is_file() or (out.suffix.lower() == ".csv" and not out.exists()):
        raise UsageError(f"--out {out}: give a folder; the file is written inside it")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_export(cfg: Config, ring: KeyRing, reason: str, out: str | Path, *, log: str | Path | Location | None = None,
                 note: str | None = None) -> WrittenFile:  # fmt: skip
    """:func:`export` written as ``OUT/allocations.csv`` (the export is recorded in the log first)."""
    import hashlib

    from advance_trial.data.tablefile import write_bytes_atomic
    from advance_trial.output.tables import to_csv_bytes

    folder = output_folder(out)
    frame = export(cfg, ring, reason, log=log, note=note)
    data = to_csv_bytes(frame)
    write_bytes_atomic(data, folder / EXPORT_FILE, private=True)
    return WrittenFile(folder / EXPORT_FILE, len(frame), hashlib.sha256(data).hexdigest())


def write_list(cfg: Config, ring: KeyRing, n: int, reason: str, out: str | Path, *, backup: bool = False,
               log: str | Path | Location | None = None) -> WrittenFile:  # fmt: skip
    """:func:`concealed_list` written into ``out`` with its SHA-256 commitment beside it (``<file>.sha256``, in
    ``sha256sum`` format): the digest can be published while the list stays sealed. REDCap's allocation table
    is written by :func:`advance_trial.redcap.allocation.write_table`."""
    folder = output_folder(out)
    frame = concealed_list(cfg, ring, n, reason, backup=backup, log=log)
    return write_committed(frame, folder / LIST_FILES[("csv", backup)])


def write_committed(frame: pd.DataFrame, path: Path) -> WrittenFile:
    """A list written (private) as CSV at ``path``, with its SHA-256 commitment beside it (``<file>.sha256``)."""
    import hashlib

    from advance_trial.data.tablefile import write_bytes_atomic
    from advance_trial.output.tables import to_csv_bytes

    data = to_csv_bytes(frame)
    digest = hashlib.sha256(data).hexdigest()
    write_bytes_atomic(data, path, private=True)
    write_bytes_atomic(f"{digest}  {path.name}\n".encode(), path.with_name(path.name + ".sha256"))
    return WrittenFile(path, len(frame), digest)


def verify_log(cfg: Config, ring: KeyRing, log: str | Path | Location | None = None,
               receipts: Iterable[Mapping[str, Any]] = ()) -> VerifyReport:  # fmt: skip
    """Authenticate and replay every row, compare the head with the checkpoint, and find each receipt.

    Raises
    ------
    IntegrityError
        At the first fault, naming its row (or the receipt the log does not contain).
    """
    receipts = list(receipts)
    with _reading(cfg, ring, log_path(cfg, log), full=True) as (store, state, head):
        events = store.events()
    by_row = {ev["row"]: ev for ev in events}
    for r in receipts:
        _check_receipt(ring, store.log_id, r, by_row)
    c = state.counts
    return VerifyReport(
        rows=head.row, allocations=c.get("allocation", 0), unblindings=c.get("unblinding", 0),
        exports=c.get("export", 0), corrections=c.get("correction", 0), amendments=c.get("amendment", 0),
        logins=c.get("login", 0), account_changes=c.get("account", 0), head_row=head.row, head_tag=head.tag,
        log_id=store.log_id, receipts=len(receipts),
    )  # fmt: skip


def _check_receipt(ring: KeyRing, log_id: str, receipt: Mapping[str, Any], by_row: Mapping[int, Any]) -> None:
    row = receipt.get("row")
    who = f"receipt of row {row} ({receipt.get('participant_id')})"
    if receipt.get("log_id") != log_id or receipt.get("trial_id") != ring.trial_id:
        raise IntegrityError(f"{who}: issued by another log; this log was replaced")
    ev = by_row.get(row) if isinstance(row, int) else None
    if ev is None or ev["tag"] != receipt.get("tag") or ev["participant_id"] != receipt.get("participant_id"):
        raise IntegrityError(f"{who}: the log does not contain it; the row was cut or rewritten")
    if "signature" in receipt and ring.public_path.exists():
        check_receipt_signature(receipt, ring.public_path.read_bytes())


def events(cfg: Config, ring: KeyRing, log: str | Path | Location | None = None) -> list[dict[str, Any]]:
    """Every row of the log, verified (what was verified before in this process is not verified again)."""
    with _reading(cfg, ring, log_path(cfg, log)) as (store, _state, _head):
        return store.events()


def allocated_men(cfg: Config, ring: KeyRing, log: str | Path | Location | None = None) -> list[Allocation]:
    """Every allocation in sequence order, after verifying the log (from what this process last verified);
    records nothing. The service's reads use it."""
    with _reading(cfg, ring, log_path(cfg, log)) as (_store, state, _head):
        men = sorted(state.allocated.values(), key=lambda m: m.sequence)
        return [_as_allocation(state, m.participant_id, False, {}) for m in men]


def allocations(cfg: Config, ring: KeyRing, log: str | Path | Location | None = None) -> pd.DataFrame:
    """The allocations (as :func:`export` gives them) after verifying the log; records nothing."""
    with _reading(cfg, ring, log_path(cfg, log)) as (_store, state, _head):
        return _allocations_frame(cfg, state)


def reconcile(cfg: Config, ring: KeyRing, participants: pd.DataFrame, log: str | Path | Location | None = None,
              file: str = "participants.csv") -> VerifyReport:  # fmt: skip
    """Check that the log and ``participants.csv`` hold the same men, arms (or codes), sites and dates.

    Raises
    ------
    DataError
        Listing every man in the log and not the data, in the data and not the log, or whose arm,
        site or randomisation date differ.
    """
    report = verify_log(cfg, ring, log)
    frame = allocations(cfg, ring, log).set_index("participant_id")
    codes = cfg.randomisation.blinding.codes if cfg.randomisation.blinding else {}
    problems: list[DataProblem] = []
    data = participants.reset_index(drop=True)
    seen = set()
    where = str(log_path(cfg, log))
    for i, r in data.iterrows():
        pid = str(r["participant_id"])
        seen.add(pid)
        row = int(str(i)) + 2
        if pid not in frame.index:
            problems.append(
                DataProblem(file, row, "participant_id", pid, f"in the data but not in the allocation log {where}")
            )
            continue
        logged = frame.loc[pid]
        arm = str(r["arm"])
        if arm != logged["arm"] and arm != codes.get(str(logged["arm"])):
            problems.append(DataProblem(file, row, "arm", arm, "the arm differs from the allocation log's"))
        if str(r["site"]) != logged["site"]:
            problems.append(DataProblem(file, row, "site", str(r["site"]), f"the allocation log says {logged['site']}"))
        on = pd.Timestamp(r["randomised_on"]).date().isoformat() if pd.notna(r["randomised_on"]) else ""
        if on != logged["randomised_on"]:
            problems.append(
                DataProblem(file, row, "randomised_on", on, f"the allocation log says {logged['randomised_on']}")
            )
    for pid in frame.index:
        if pid not in seen:
            problems.append(DataProblem(where, None, "participant_id", pid, f"allocated in the log but not in {file}"))
    if problems:
        raise DataError(problems)
    return report


def log_summary(cfg: Config, ring: KeyRing, log: str | Path | Location | None = None,
                participants: pd.DataFrame | None = None) -> dict[str, Any]:  # fmt: skip
    """Facts about the log for the report's methods (verified, and reconciled with the data when given)."""
    report = reconcile(cfg, ring, participants, log) if participants is not None else verify_log(cfg, ring, log)
    frame = allocations(cfg, ring, log)
    dates = frame["randomised_on"] if len(frame) else pd.Series(["-"])
    return {"allocations": report.allocations, "unblindings": report.unblindings, "exports": report.exports,
            "corrections": int(frame["randomised_in_error"].sum()) if len(frame) else 0,  # withdrawals are not
            "head_row": report.head_row, "head_tag": report.head_tag,
            "log_id": report.log_id, "checkpoint_row": read_checkpoint(ring).row,
            "allocators": int(frame["allocated_by"].nunique()) if len(frame) else 0,
            "backup": int((frame["source"] == "backup").sum()) if len(frame) else 0,
            "first": str(dates.min()), "last": str(dates.max())}  # fmt: skip
