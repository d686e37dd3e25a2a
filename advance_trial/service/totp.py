"""The optional second factor: time-based one-time codes (TOTP, RFC 6238, with pyotp) from an authenticator app.

``service.totp_roles`` names the roles that must give a code as well as the password when they log in to the
pages (API tokens are a secret of their own and need none). Each account's TOTP secret is kept in the
``account_totp`` table sealed with AES-256-GCM under the trial key's sealing subkey, the account's name as
associated data: someone who can read or write the database cannot learn a secret, move one to another
account or put in one of their own. A code is good once: the last time step used is kept, so a code seen over
someone's shoulder cannot be replayed within its 30 seconds.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from advance_trial.config.models import Config
from advance_trial.randomisation.database import Db
from advance_trial.randomisation.key import KeyRing

_TABLE = """CREATE TABLE IF NOT EXISTS account_totp (name TEXT PRIMARY KEY, sealed TEXT NOT NULL,
    last_step INTEGER NOT NULL, failures INTEGER NOT NULL DEFAULT 0)"""


def required(cfg: Config, role: str) -> bool:
    """Whether the config asks this role for a one-time code at login."""
    return role in cfg.service.totp_roles


def ensure_table(db: Db) -> None:
    """Create the TOTP table if the database lacks it."""
    db.run(_TABLE)


def _aad(ring: KeyRing, name: str) -> bytes:
    return f"advance-trial totp|{ring.trial_id}|{name}".encode()


def _aead(ring: KeyRing) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(ring.seal)


def new_secret(db: Db, ring: KeyRing, name: str) -> str:
    """Give an account a new TOTP secret (replacing any); returns it (base32), to show its holder once."""
    import pyotp

    secret = pyotp.random_base32()
    nonce = os.urandom(12)
    sealed = base64.b64encode(nonce + _aead(ring).encrypt(nonce, secret.encode(), _aad(ring, name))).decode()
    ensure_table(db)
    db.run("DELETE FROM account_totp WHERE name = ?", (name,))
    db.run("INSERT INTO account_totp (name, sealed, last_step) VALUES (?, ?, ?)", (name, sealed, 0))
    return secret


def forget(db: Db, name: str) -> None:
    """Remove an account's secret (a reset: a new one is made when its holder sets a password)."""
    ensure_table(db)
    db.run("DELETE FROM account_totp WHERE name = ?", (name,))


def uri(cfg: Config, name: str, secret: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (typed in, or pasted)."""
    import pyotp

    return str(pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=f"advance-trial {cfg.trial.id}"))


def check(db: Db, ring: KeyRing, name: str, code: str, now: float) -> bool:
    """Whether ``code`` is the account's current one-time code (one step either side), not used before.

    A secret that does not open under the key (edited or moved in the database) is no match.
    """
    import pyotp
    from cryptography.exceptions import InvalidTag

    ensure_table(db)
    rows = db.query("SELECT sealed, last_step FROM account_totp WHERE name = ?", (name,))[1]
    code = "".join(code.split())
    if not rows or not code.isdigit() or len(code) != 6:
        return False
    try:
        raw = base64.b64decode(str(rows[0][0]), validate=True)
        secret = _aead(ring).decrypt(raw[:12], raw[12:], _aad(ring, name)).decode()
    except (InvalidTag, ValueError):
        return False
    totp = pyotp.TOTP(secret)
    step = int(now // totp.interval)
    for candidate in (step - 1, step, step + 1):
        if candidate > int(rows[0][1]) and totp.at(candidate * totp.interval) == code:
            db.run("UPDATE account_totp SET last_step = ?, failures = 0 WHERE name = ?", (candidate, name))
            return True
    db.run("UPDATE account_totp SET failures = failures + 1 WHERE name = ?", (name,))
    return False


def failed(db: Db, name: str) -> int:
    """Wrong one-time codes in a row for the account."""
    ensure_table(db)
    rows = db.query("SELECT failures FROM account_totp WHERE name = ?", (name,))[1]
    return int(rows[0][0]) if rows else 0


def reset_failures(db: Db, name: str) -> None:
    """Forget the wrong codes in a row (after a lock)."""
    db.run("UPDATE account_totp SET failures = 0 WHERE name = ?", (name,))


def enrolled(db: Db, name: str) -> bool:
    """Whether the account has a TOTP secret."""
    ensure_table(db)
    return bool(db.query("SELECT 1 FROM account_totp WHERE name = ?", (name,))[1])


__all__ = ["check", "enrolled", "ensure_table", "forget", "new_secret", "required", "uri"]
