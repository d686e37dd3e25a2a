"""The allocation service's accounts, logins and sessions, kept in the log's own database.

Roles (what each may do is :data:`PERMISSIONS`):

``site_ra``
    allocates men at the sites the account names, and reads those men's allocations: the arm, or its
    code when the trial is blinded;
``unblinder``
    reveals one man's arm per request, with a reason (emergency unblinding; the trial's contacts are told);
``statistician``
    exports every arm and verifies the log;
``admin``
    lists accounts and verifies the log (accounts are added and disabled at the command line, by whoever
    holds the key folder).

Passwords are hashed with Argon2id (argon2-cffi); API tokens are 256 random bits, stored as their SHA-256.
Every row of ``accounts`` carries an HMAC under the trial key, so someone who can write the database but
not read the key folder cannot give an account another role, site, password or token: the row stops
authenticating and the service refuses it. Each change of an account, and every login or failed login, is
an event in the allocation log's chain (:func:`advance_trial.randomisation.allocation.record`), written in
the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from advance_trial.config.models import Config
from advance_trial.errors import AdvanceTrialError, ExitCode, IntegrityError, UsageError
from advance_trial.randomisation.allocation import log_path, record
from advance_trial.randomisation.database import Db, Location, connect
from advance_trial.randomisation.key import KeyRing

ROLES = ("site_ra", "unblinder", "statistician", "admin")
#: What each role may do.
PERMISSIONS: dict[str, frozenset[str]] = {
    "site_ra": frozenset({"allocate", "read"}),
    "unblinder": frozenset({"unblind", "read"}),
    "statistician": frozenset({"export", "verify", "read", "read_arms"}),
    "admin": frozenset({"users", "verify"}),
}
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
TOKEN_PREFIX = "atk_"

_TABLES = [
    """CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, role TEXT NOT NULL, sites TEXT NOT NULL,
       password_hash TEXT, token_hash TEXT, disabled INTEGER NOT NULL, changed_at TEXT NOT NULL, tag TEXT NOT NULL)""",
    # failed logins by source address (a keyed hash of it, never the address): ``name`` '*' counts the address's
    # failures under any name (they set its slowdown), a name's row its failures from that address (its lock)
    """CREATE TABLE IF NOT EXISTS login_throttle (source TEXT NOT NULL, name TEXT NOT NULL, failures INTEGER NOT NULL,
       last_at TEXT NOT NULL, locked_until TEXT, PRIMARY KEY (source, name))""",
    """CREATE TABLE IF NOT EXISTS sessions (id_hash TEXT PRIMARY KEY, name TEXT NOT NULL, csrf TEXT NOT NULL,
       expires_at TEXT NOT NULL)""",
]
_ACCOUNT_COLUMNS = "name, role, sites, password_hash, token_hash, disabled, changed_at, tag"
#: The ``source`` of a lock on a name from every address: wrong one-time codes after the right password (whoever
#: sent them has the password, so the name is locked wherever it is used, until the lock ends or a reset).
ANY_SOURCE = "(any address)"


class AuthError(AdvanceTrialError):
    """Not logged in, a wrong password or token, a disabled or locked account (HTTP 401)."""

    exit_code = ExitCode.USAGE
    title = "Not authenticated"

    def __init__(self, message: str, failures: int = 0) -> None:
        super().__init__(message)
        self.failures = failures


class ForbiddenError(AdvanceTrialError):
    """The account's role or sites do not allow the request (HTTP 403)."""

    exit_code = ExitCode.USAGE
    title = "Forbidden"


@dataclass(frozen=True)
class Account:
    """A service account as the service sees it (no secret in it).

    Attributes
    ----------
    name, role : str
    sites : tuple of str
        The sites a ``site_ra`` works at (empty for the other roles).
    disabled : bool
    changed_at : str
        UTC time of the last change.
    """

    name: str
    role: str
    sites: tuple[str, ...]
    disabled: bool
    changed_at: str

    def may(self, action: str) -> bool:
        """Whether the role allows an action (``allocate``, ``read``, ``read_arms``, ``unblind``, ...)."""
        return action in PERMISSIONS[self.role]

    def require(self, action: str, what: str) -> None:
        """Refuse (403) an action the role does not allow."""
        if not self.may(action):
            raise ForbiddenError(f"{what}: not allowed for the {self.role} role")


@dataclass(frozen=True)
class Policy:
    """Login rules: failures before a lock-out, its length, a session's length, a password's minimum length."""

    max_failed_logins: int = 5
    lockout_minutes: int = 30
    session_minutes: int = 60
    min_password_length: int = 12

    @classmethod
    def of(cls, cfg: Config) -> Policy:
        s = cfg.service
        return cls(s.max_failed_logins, s.lockout_minutes, s.session_minutes, s.min_password_length)


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def ensure_tables(db: Db) -> None:
    """Create the accounts, login-failure and session tables if the database lacks them."""
    for statement in _TABLES:
        db.run(statement)


def _tag(ring: KeyRing, row: tuple[Any, ...]) -> str:
    return ring.mac(["account", *row])


def _account(ring: KeyRing, row: tuple[Any, ...]) -> Account:
    name, role, sites, pw, tok, disabled, changed, tag = row
    if not isinstance(tag, str) or not hmac.compare_digest(tag, _tag(ring, (name, role, sites, pw, tok, int(disabled),
                                                                              changed))):  # fmt: skip
        raise IntegrityError(f"account {name!r}: its row does not authenticate under the trial key; it was edited")
    return Account(str(name), str(role), tuple(json.loads(sites)), bool(disabled), str(changed))


def _row(db: Db, name: str) -> tuple[Any, ...] | None:
    rows = db.query(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE name = ?", (name,))[1]
    return rows[0] if rows else None


def _write(db: Db, ring: KeyRing, name: str, role: str, sites: tuple[str, ...], pw: str | None, tok: str | None,
           disabled: bool, now: datetime) -> None:  # fmt: skip
    values = (name, role, json.dumps(list(sites)), pw, tok, int(disabled), _stamp(now))
    tag = _tag(ring, values)
    db.run("DELETE FROM accounts WHERE name = ?", (name,))
    db.run(f"INSERT INTO accounts ({_ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*values, tag))


class Accounts:
    """A trial's accounts in its log's database (``where``); every change is recorded in the chain."""

    def __init__(self, cfg: Config, ring: KeyRing, where: str | Location | None = None,
                 clock: Callable[[], datetime] = _now) -> None:  # fmt: skip
        self.cfg, self.ring, self.where, self.clock = cfg, ring, log_path(cfg, where), clock
        self.policy = Policy.of(cfg)
        self._tables = False

    def _db(self) -> Db:
        db = connect(self.where)
        if not self._tables:
            try:
                ensure_tables(db)
            except BaseException:
                db.close()
                raise
            self._tables = True
        return db

    def _change(self, detail: dict[str, Any], by: str | None, change: Callable[[Db], None]) -> None:
        """Apply a change to the tables and record it in the chain, in one transaction of the log's database."""
        if not self._tables:
            self._db().close()  # the tables exist before the step that writes to them
        record(self.cfg, self.ring, "account", detail, account=by, log=self.where, also=change)

    # ------------------------------------------------------------------ changes (the command line)

    def add(self, name: str, role: str, sites: list[str], password: str, by: str | None = None) -> tuple[Account, str]:
        """Add an account with a password; returns it and its API token (shown once, stored hashed)."""
        if not NAME.fullmatch(name):
            raise UsageError(f"account name {name!r}: 2 to 63 lower-case letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise UsageError(f"--role {role!r}: one of {', '.join(ROLES)}")
        unknown = [s for s in sites if s not in self.cfg.site_ids]
        if unknown:
            raise UsageError(
                f"--site {unknown[0]!r}: not a site of {self.cfg.trial.id} ({', '.join(self.cfg.site_ids)})"
            )
        if role == "site_ra" and not sites:
            raise UsageError("a site_ra account needs at least one --site")
        if role != "site_ra" and sites:
            raise UsageError(f"--site is for site_ra accounts; a {role} works across the trial")
        self.check_password_rules(password)
        db = self._db()
        try:
            if _row(db, name) is not None:
                raise UsageError(f"account {name!r} exists already")
        finally:
            db.close()
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        pw_hash, now, chosen = _hasher().hash(password), self.clock(), tuple(dict.fromkeys(sites))
        detail = {"action": "add", "account": name, "role": role, "sites": list(chosen)}
        self._change(detail, by, lambda db: _write(db, self.ring, name, role, chosen, pw_hash, _sha256(token), False,
                                                   now))  # fmt: skip
        return Account(name, role, chosen, False, _stamp(now)), token

    def check_password_rules(self, password: str) -> None:
        """Refuse a password shorter than the config's minimum."""
        if len(password) < self.policy.min_password_length:
            raise UsageError(f"the password must have at least {self.policy.min_password_length} characters")

    def disable(self, name: str, by: str | None = None) -> Account:
        """Disable an account: its sessions end and its password and token stop working."""
        a = self.get(name)

        def change(db: Db) -> None:
            row = _row(db, name)
            assert row is not None
            _write(db, self.ring, name, a.role, a.sites, row[3], row[4], True, self.clock())
            db.run("DELETE FROM sessions WHERE name = ?", (name,))

        self._change({"action": "disable", "account": name}, by, change)
        return self.get(name)

    def new_token(self, name: str, by: str | None = None) -> str:
        """Replace an account's API token; the new one is returned (shown once)."""
        a = self.get(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)

        def change(db: Db) -> None:
            row = _row(db, name)
            assert row is not None
            _write(db, self.ring, name, a.role, a.sites, row[3], _sha256(token), a.disabled, self.clock())

        self._change({"action": "token", "account": name}, by, change)
        return token

    def set_password(self, name: str, password: str, by: str | None = None) -> None:
        """Replace an account's password (and lift a lock-out)."""
        a = self.get(name)
        self.check_password_rules(password)
        pw_hash = _hasher().hash(password)

        def change(db: Db) -> None:
            row = _row(db, name)
            assert row is not None
            _write(db, self.ring, name, a.role, a.sites, pw_hash, row[4], a.disabled, self.clock())
            db.run("DELETE FROM login_throttle WHERE name = ?", (name,))

        self._change({"action": "password", "account": name}, by, change)

    # ------------------------------------------------------------------ reading

    def get(self, name: str) -> Account:
        """An account by name (authenticated); :class:`UsageError` if there is none."""
        db = self._db()
        try:
            row = _row(db, name)
        finally:
            db.close()
        if row is None:
            raise UsageError(f"no account {name!r}")
        return _account(self.ring, row)

    def list(self) -> list[Account]:
        """Every account, by name (each authenticated)."""
        db = self._db()
        try:
            rows = db.query(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY name")[1]
        finally:
            db.close()
        return [_account(self.ring, r) for r in rows]

    # ------------------------------------------------------------------ logging in

    def login(self, name: str, password: str, via: str = "web", source: str = "local") -> Account:
        """Check a password from a source address; every attempt is a ``login`` event in the chain.

        Failures are counted by source address. The address's failures under any name, known or not, set how
        long the answer waits (``AuthError.failures``: the same schedule whatever the name); a name's failures
        from that address lock that name at that address only, after ``max_failed_logins`` of them, for
        ``lockout_minutes``. So an outsider who knows an account's name cannot lock its owner out: her logins
        from her own address, and the account's API token, keep working. Counts older than ``lockout_minutes``
        are forgotten; a successful login clears the address's.

        Raises
        ------
        AuthError
            Unknown account, wrong password, disabled or locked (one message for all, so that the answer tells
            nothing of which); ``failures`` is the address's failures in a row, for slowing the answer.
        """
        now = self.clock()
        src, key = self.ring.mac(["login source", source])[:32], name if NAME.fullmatch(name) else "(not a name)"
        since = _stamp(now - timedelta(minutes=self.policy.lockout_minutes))
        db = self._db()
        try:
            row = _row(db, name) if NAME.fullmatch(name) else None
            got = db.query("SELECT source, name, failures, last_at, locked_until FROM login_throttle WHERE "
                           "(source = ? AND name IN ('*', ?)) OR (source = ? AND name = ?)",
                           (src, key, ANY_SOURCE, key))[1]  # fmt: skip
        finally:
            db.close()
        counts = {str(n): int(f) if str(last) > since else 0 for s, n, f, last, _ in got if s == src}
        # a lock at this address, or one on the name everywhere (wrong one-time codes after the right password)
        locked_until = next((str(lk) for _, n, _, _, lk in got if n == key and lk and str(lk) > _stamp(now)), None)
        seen, tries = counts.get("*", 0) + 1, counts.get(key, 0) + 1
        account = _account(self.ring, row) if row is not None else None
        refused = "the account name or password is wrong, or the account is disabled or locked"
        lock = _stamp(now + timedelta(minutes=self.policy.lockout_minutes)) \
            if locked_until is None and tries >= self.policy.max_failed_logins else None  # fmt: skip

        def count(db: Db) -> None:  # this failure, in the same transaction as its event
            rows = [("*", seen, None), (key, 0, locked_until) if locked_until else (key, 0 if lock else tries, lock)]
            for n, failures, until in rows:
                db.run("DELETE FROM login_throttle WHERE source = ? AND name = ?", (src, n))
                db.run("INSERT INTO login_throttle VALUES (?, ?, ?, ?, ?)", (src, n, failures, _stamp(now), until))

        if locked_until is not None or account is None or account.disabled:
            _hasher_dummy_check(password)  # the same Argon2 cost whatever the refusal, so time tells nothing
        if locked_until is not None:
            self._login_event(name if account else None, {"result": "refused", "reason": "locked", "via": via}, count)
            raise AuthError(refused, seen)
        if account is None:
            self._login_event(None, {"result": "failed", "reason": "unknown account", "via": via}, count)
            raise AuthError(refused, seen)
        if account.disabled:
            self._login_event(name, {"result": "refused", "reason": "disabled", "via": via}, count)
            raise AuthError(refused, seen)
        if not _password_matches(str(row[3] or ""), password):  # type: ignore[index]
            detail = {"result": "failed", "reason": "wrong password", "failures": tries, "via": via,
                      **({"locked_until": lock} if lock else {})}  # fmt: skip
            self._login_event(name, detail, count)
            raise AuthError(refused, seen)

        def clear(db: Db) -> None:
            db.run("DELETE FROM login_throttle WHERE source = ? AND name IN ('*', ?)", (src, key))

        self._login_event(name, {"result": "ok", "via": via}, clear)
        return account

    def _login_event(self, name: str | None, detail: dict[str, Any],
                     also: Callable[[Db], object] | None = None) -> None:  # fmt: skip
        record(self.cfg, self.ring, "login", {"account": name, **detail}, account=name or "(unknown)", log=self.where,
               also=also)  # fmt: skip

    def by_token(self, token: str) -> Account:
        """The account an API token belongs to (enabled, authenticated); :class:`AuthError` otherwise."""
        if not token.startswith(TOKEN_PREFIX):
            raise AuthError("not an advance-trial API token")
        digest = _sha256(token)
        db = self._db()
        try:
            rows = db.query(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE token_hash = ?", (digest,))[1]
        finally:
            db.close()
        if not rows:
            raise AuthError("the API token is not valid")
        account = _account(self.ring, rows[0])
        if account.disabled:
            raise AuthError("the account is disabled")
        return account

    # ------------------------------------------------------------------ sessions

    def open_session(self, account: Account) -> tuple[str, str]:
        """A new session for a logged-in account: its id (for the cookie; stored hashed) and its CSRF token."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = _stamp(self.clock() + timedelta(minutes=self.policy.session_minutes))
        db = self._db()
        try:
            with db.transaction():
                db.run("DELETE FROM sessions WHERE expires_at < ?", (_stamp(self.clock()),))
                db.run("INSERT INTO sessions VALUES (?, ?, ?, ?)", (_sha256(sid), account.name, csrf, expires))
        finally:
            db.close()
        return sid, csrf

    def session(self, sid: str) -> tuple[Account, str]:
        """The account and CSRF token of a live session; :class:`AuthError` when expired, ended or disabled."""
        db = self._db()
        try:
            rows = db.query("SELECT name, csrf, expires_at FROM sessions WHERE id_hash = ?", (_sha256(sid),))[1]
        finally:
            db.close()
        if not rows:
            raise AuthError("not logged in, or the session has ended")
        name, csrf, expires = rows[0]
        if str(expires) <= _stamp(self.clock()):
            self.end_session(sid)
            raise AuthError("the session has expired; log in again")
        account = self.get(str(name))
        if account.disabled:
            raise AuthError("the account is disabled")
        return account, str(csrf)

    def rotate_csrf(self, sid: str, spent: str | None = None) -> str:
        """A new CSRF token for the session (each form's token is good for one submission).

        ``spent``: the token the form carried, replaced only if it is still the session's, in one statement: of
        two posts of one token, to one service or to two over the same database, one alone gets through
        (:class:`ForbiddenError` for the other)."""
        csrf = secrets.token_urlsafe(32)
        db = self._db()
        try:
            if spent is None:
                db.run("UPDATE sessions SET csrf = ? WHERE id_hash = ?", (csrf, _sha256(sid)))
            elif (
                db.run("UPDATE sessions SET csrf = ? WHERE id_hash = ? AND csrf = ?", (csrf, _sha256(sid), spent)) != 1
            ):
                raise ForbiddenError("the form's security token is not valid (expired, used already or forged); "
                                     "reload the page and try again")  # fmt: skip
        finally:
            db.close()
        return csrf

    def end_session(self, sid: str) -> None:
        """Log out: the session is forgotten."""
        db = self._db()
        try:
            db.run("DELETE FROM sessions WHERE id_hash = ?", (_sha256(sid),))
        finally:
            db.close()


def _password_matches(stored: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


_DUMMY: list[str] = []


def _hasher_dummy_check(password: str) -> None:
    """Spend an Argon2 check on an unknown account too, so that the time taken does not tell names apart."""
    if not _DUMMY:
        _DUMMY.append(_hasher().hash(secrets.token_hex(16)))
    _password_matches(_DUMMY[0], password)


__all__ = ["PERMISSIONS", "ROLES", "Account", "Accounts", "AuthError", "ForbiddenError", "Policy"]
