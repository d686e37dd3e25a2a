"""A login's second step: the one-time code of a role that needs one (:mod:`advance_trial.service.totp`), its
failures counted and locking the account as failed passwords do."""

from __future__ import annotations

from datetime import timedelta

from advance_trial.service import totp
from advance_trial.service.accounts import ANY_SOURCE, Account, AuthError, _stamp
from advance_trial.service.core import Service


def second_factor(svc: Service, account: Account, code: str) -> None:
    """Refuse a login (:class:`AuthError`, recorded) whose role needs a one-time code and gave a wrong one."""
    if not totp.required(svc.cfg, account.role):
        return
    db = svc.accounts._db()
    try:
        ok = totp.check(db, svc.ring, account.name, code, svc.accounts.clock().timestamp())
    finally:
        db.close()
    if not ok:
        policy = svc.accounts.policy
        locked = _count_failure(svc, account.name, policy.max_failed_logins, policy.lockout_minutes)
        detail = {"result": "failed", "reason": "wrong one-time code", "via": "web", "step": "second factor",
                  **({"locked_until": locked} if locked else {})}  # fmt: skip
        svc.accounts._login_event(account.name, detail)
        raise AuthError("the account name or password is wrong, or the account is disabled or locked", 1)


def _count_failure(svc: Service, name: str, limit: int, minutes: int) -> str | None:
    """Count a wrong one-time code; at ``limit`` in a row, lock the account as failed passwords do (a correct
    password resets the password counter, so the codes keep their own). Returns the lock's end, if any."""
    db = svc.accounts._db()
    try:
        failures = totp.failed(db, name)
        if failures < limit:
            return None
        until = _stamp(svc.accounts.clock() + timedelta(minutes=minutes))
        db.run("DELETE FROM login_throttle WHERE source = ? AND name = ?", (ANY_SOURCE, name))
        db.run("INSERT INTO login_throttle VALUES (?, ?, ?, ?, ?)", (ANY_SOURCE, name, 0, _stamp(svc.accounts.clock()),
                                                                       until))  # fmt: skip
        totp.reset_failures(db, name)
        return until
    finally:
        db.close()


__all__ = ["second_factor"]
