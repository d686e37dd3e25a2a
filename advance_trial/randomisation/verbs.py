"""What a trial does to its allocation log: create it, amend it, allocate (online or from a back-up list),
unblind, correct, record a service event, copy it to another database. Every verb takes the config and the
trial's :class:`~advance_trial.randomisation.key.KeyRing` and runs in one verified step
(:mod:`~advance_trial.randomisation.trial_log`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from advance_trial.config.models import Config
from advance_trial.errors import (
    AdvanceTrialError,
    ConfigError,
    ConfigProblem,
    DataError,
    DataProblem,
    UsageError,
)
from advance_trial.randomisation import methods as rz
from advance_trial.randomisation.database import Db, Location
from advance_trial.randomisation.key import KeyRing
from advance_trial.randomisation.log import Head, create_log, locked, settle, utc_now
from advance_trial.randomisation.replay import (
    Replay,
    backup_stratum,
    design_differences,
    design_of,
    id_key,
    version_key,
)
from advance_trial.randomisation.reports import verify_log
from advance_trial.randomisation.request import AllocationRequest, Prepared, check_request, normalise_id
from advance_trial.randomisation.trial_log import (
    Allocation,
    VerifyReport,
    _allocated,
    _as_allocation,
    _check_trial,
    _config_file,
    _reading,
    _reason,
    _receipt,
    _refuse,
    _refuse_single_arm,
    _Step,
    _writing,
    actor_name,
    check_design,
    log_path,
)

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


def prepare(
    cfg: Config,
    request: AllocationRequest | str,
    site: str | None = None,
    factors: Mapping[str, str] | None = None,
    *,
    note: str | None = None,
    data_dir: Path | None = None,
    account: str | None = None,
    eligibility: Mapping[str, Any] | None = None,
) -> Prepared:
    """Check a request as :func:`allocate` does before its step (the id, the site and factors, the eligibility
    answers); :class:`DataError` with every problem."""
    _refuse_single_arm(cfg)
    if not isinstance(request, AllocationRequest):
        request = AllocationRequest.of(request, site or "", factors)
    pid, values = request.checked(cfg)
    answers = None
    if eligibility is not None:
        from advance_trial.randomisation.eligibility import check_answers

        answers = check_answers(cfg, eligibility)
    return Prepared(pid, values, answers, account, note, data_dir)


def _allocate_in(cfg: Config, step: _Step, item: Prepared) -> dict[str, Any] | None:
    """Allocate one checked request in a step: its row, or None when he was allocated already (nothing written)."""
    if _existing(step.state, item.participant_id, item.values) is not None:
        return None
    if not step.design_checked:  # once a step (a refusal is checked again: each request its own)
        check_design(cfg, step.state)
        step.design_checked = True
    check_eligible(cfg, item.participant_id, item.data_dir)
    pid, values, answers = item.participant_id, item.values, item.answers
    arm, stratum, draw = step.state.decide(values)
    return step.append(
        "allocation",
        {"sequence": len(step.state.allocated) + 1, "participant_id": pid, "id_key": id_key(pid),
         "site": values["site"], "stratum": stratum, "factors": rz.canon(values),
         **({"detail": rz.canon({"eligibility": answers})} if answers is not None else {})},
        sealed={"arm": arm, "draw": draw}, note=item.note,
    )  # fmt: skip


def allocate(
    cfg: Config,
    ring: KeyRing,
    request: AllocationRequest | Prepared | str,
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
    ``factors``; or a request :func:`prepare` checked, which carries its account, note and data folder).
    ``account`` is the service account that asked (the service's only; the log records the OS user otherwise).
    ``eligibility`` holds the answers to the config's eligibility criteria (``{id: bool}``): when given, each must
    be answered eligibly, and they are recorded in the allocation's row; the service always gives them.

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
    if isinstance(request, Prepared):
        item = request
        _refuse_single_arm(cfg)
    else:
        item = prepare(cfg, request, site, factors, note=note, data_dir=data_dir, account=account,
                       eligibility=eligibility)  # fmt: skip
    where = log_path(cfg, log)
    if now is None:  # made with those other processes ask at the same time
        from advance_trial.randomisation.together import allocate_together

        made = allocate_together(cfg, ring, where, [item], lambda items: _make(cfg, ring, where, items))[0]
        if isinstance(made, AdvanceTrialError):
            raise made
        return made
    return _alone(cfg, ring, where, item, now)


def _alone(cfg: Config, ring: KeyRing, where: Location, item: Prepared, now: datetime | None) -> Allocation:
    """One checked request in a step of its own."""
    with _writing(cfg, ring, where, now, item.account) as step:
        row = _allocate_in(cfg, step, item)
    receipt = _receipt(ring, step.store.log_id, row) if row is not None else {}
    return _as_allocation(step.state, item.participant_id, row is not None, receipt)


def _make(cfg: Config, ring: KeyRing, where: Location,
          items: Sequence[Prepared]) -> list[Allocation | AdvanceTrialError]:  # fmt: skip
    """Requests in one step: one alone as :func:`allocate` makes it, several as :func:`allocate_many` does."""
    if len(items) > 1:
        return allocate_many(cfg, ring, items, log=where)
    try:
        return [_alone(cfg, ring, where, items[0], None)]
    except REFUSALS as exc:
        return [exc]


def allocate_with_others(cfg: Config, ring: KeyRing, items: Sequence[Prepared], *,
                         log: str | Path | Location | None = None,
                         make: Callable[[list[Prepared]], list[Allocation | AdvanceTrialError]] | None = None,
                         ) -> list[Allocation | AdvanceTrialError]:  # fmt: skip
    """Allocate several checked requests in one step with those other processes left for it (the service's group:
    see :mod:`~advance_trial.randomisation.together`); their results, as :func:`allocate_many` gives them.
    ``make`` makes a group in one step (by default: one alone as :func:`allocate`, several as
    :func:`allocate_many`)."""
    _refuse_single_arm(cfg)
    where = log_path(cfg, log)
    from advance_trial.randomisation.together import allocate_together

    return allocate_together(cfg, ring, where, items, make or (lambda group: _make(cfg, ring, where, group)))


#: The exceptions that refuse one request of a group (:func:`allocate_many`) before anything is written for it.
REFUSALS = (DataError, ConfigError, UsageError)


def allocate_many(cfg: Config, ring: KeyRing, items: Sequence[Prepared], *,
                  log: str | Path | Location | None = None) -> list[Allocation | AdvanceTrialError]:  # fmt: skip
    """Allocate several checked requests in one step: one verification, one commit, one move of the checkpoint.

    Each request is made as :func:`allocate` would make it alone, in the order given (its own row, time and
    account; a request refused, or for a man allocated already, writes nothing): the result in its place is
    its :class:`Allocation` or the refusal (:data:`REFUSALS`). Anything else (a log that fails verification, a
    database error) raises, and nothing of the group is written. The service gathers requests that arrive
    while a step is under way into one such step (:class:`advance_trial.service.group.GroupCommit`): the
    commit's and the checkpoint's flushes to disk are then shared, where each step waits for both.
    """
    _refuse_single_arm(cfg)
    results: list[Allocation | AdvanceTrialError | None] = [None] * len(items)
    rows: dict[int, dict[str, Any] | None] = {}
    with _writing(cfg, ring, log_path(cfg, log), many=len(items)) as step:
        for i, item in enumerate(items):
            step.now, step.actor = utc_now(), actor_name(item.account)
            try:
                rows[i] = _allocate_in(cfg, step, item)
            except REFUSALS as exc:
                results[i] = exc
    log_id = step.store.log_id
    for i, item in enumerate(items):
        if i in rows:
            row = rows[i]
            receipt = _receipt(ring, log_id, row) if row is not None else {}
            results[i] = _as_allocation(step.state, item.participant_id, row is not None, receipt)
    return [r for r in results if r is not None]


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
    return _as_allocation(step.state, pid, True, _receipt(ring, step.store.log_id, row))


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
