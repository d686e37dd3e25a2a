"""The administrator's account pages (``/admin/users``) and a new account's first login (``/setup``).

An administrator adds an account (name, role, sites), disables one, or resets one from the web. Adding or
resetting shows the administrator a one-time setup code, once; the account's holder opens ``/setup``, gives
the name, the code and a new password of their own, and (when the config asks a second factor of the role)
is shown the key for an authenticator app. A code lasts ``service.setup_code_hours`` (72) and works once.

Setup codes are stored as their SHA-256 in ``account_setup``, each row with an HMAC under the trial key (so
someone who can write the database cannot put in a code of their own and take over an account). Every change
is an ``account`` event in the chain, recorded as the administrator (``service:NAME``); a setup is recorded as
its holder.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from advance_trial.errors import AdvanceTrialError, IntegrityError, UsageError
from advance_trial.randomisation.database import Db
from advance_trial.service import totp
from advance_trial.service.accounts import (
    NAME,
    ROLES,
    Account,
    Accounts,
    AuthError,
    _hasher,
    _row,
    _sha256,
    _stamp,
    _write,
)
from advance_trial.service.core import HEADERS, Service, status_of
from advance_trial.service.login import second_factor
from advance_trial.service.pages import Pages

_TABLE = """CREATE TABLE IF NOT EXISTS account_setup (name TEXT PRIMARY KEY, code_hash TEXT NOT NULL,
    expires_at TEXT NOT NULL, tag TEXT NOT NULL)"""
ADMIN_ONLY = "This page is for the administrator. Go back to the start page."
#: Setup codes: 12 letters and digits (no 0, O, 1, I), shown in groups of four.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def _normal(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


class Admin:
    """Account changes made from the web, and first logins with a setup code."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self.accounts: Accounts = svc.accounts

    def _tag(self, name: str, code_hash: str, expires: str) -> str:
        return self.svc.ring.mac(["account_setup", name, code_hash, expires])

    def _issue(self, db: Db, name: str) -> str:
        """A new setup code for the account (replacing any); stored hashed and authenticated."""
        db.run(_TABLE)
        code = _code()
        expires = _stamp(self.accounts.clock() + timedelta(hours=self.svc.cfg.service.setup_code_hours))
        digest = _sha256(_normal(code))
        db.run("DELETE FROM account_setup WHERE name = ?", (name,))
        tag = self._tag(name, digest, expires)
        db.run("INSERT INTO account_setup VALUES (?, ?, ?, ?)", (name, digest, expires, tag))
        return code

    # ------------------------------------------------------------------ the administrator's changes

    def add(self, admin: Account, name: str, role: str, sites: list[str]) -> str:
        """Add an account without a password; returns its setup code (shown once)."""
        admin.require("users", "adding accounts")
        name = name.strip().lower()
        if not NAME.fullmatch(name):
            raise UsageError(
                "The account name must be 2 to 63 lower-case letters, digits, dots, dashes or underscores."
            )
        if role not in ROLES:
            raise UsageError("Choose the account's role from the list.")
        if any(s not in self.svc.cfg.site_ids for s in sites):
            raise UsageError("Choose the sites from the list.")
        if role == "site_ra" and not sites:
            raise UsageError("A research assistant allocates at one site or more: tick at least one.")
        if role != "site_ra" and sites:
            raise UsageError("Only research assistants have sites; the other roles work across the trial.")
        if any(a.name == name for a in self.accounts.list()):
            raise UsageError(f"There is an account called {name} already; choose another name.")
        chosen, now, code = tuple(dict.fromkeys(sites)), self.accounts.clock(), [""]

        def change(db: Db) -> None:
            _write(db, self.svc.ring, name, role, chosen, None, None, False, now)
            code[0] = self._issue(db, name)

        detail = {"action": "add", "account": name, "role": role, "sites": list(chosen), "via": "web"}
        self.accounts._change(detail, admin.name, change)
        return code[0]

    def reset(self, admin: Account, name: str) -> str:
        """Clear an account's password (and second factor), end its sessions, and give it a new setup code."""
        admin.require("users", "resetting accounts")
        if name == admin.name:
            raise UsageError("You cannot reset your own account; ask another administrator.")
        a = self.accounts.get(name)
        code = [""]

        def change(db: Db) -> None:
            row = _row(db, name)
            assert row is not None
            _write(db, self.svc.ring, name, a.role, a.sites, None, row[4], a.disabled, self.accounts.clock())
            db.run("DELETE FROM sessions WHERE name = ?", (name,))
            db.run("DELETE FROM login_throttle WHERE name = ?", (name,))
            totp.forget(db, name)
            code[0] = self._issue(db, name)

        self.accounts._change({"action": "reset", "account": name, "via": "web"}, admin.name, change)
        return code[0]

    def disable(self, admin: Account, name: str) -> None:
        admin.require("users", "disabling accounts")
        if name == admin.name:
            raise UsageError("You cannot disable your own account; ask another administrator.")
        self.accounts.disable(name, by=admin.name)

    # ------------------------------------------------------------------ first login

    def setup(self, name: str, code: str, password: str) -> str | None:
        """Set a password with a setup code; returns the new TOTP secret when the role needs one, else None.

        Raises
        ------
        AuthError
            No such account, a wrong, used or expired code (one message for all).
        UsageError
            A password too short.
        """
        refused = "the account name or setup code is wrong, or the code has expired or been used"
        self.accounts.check_password_rules(password)
        name = name.strip().lower()
        db = self.accounts._db()
        try:
            db.run(_TABLE)
            rows = db.query("SELECT code_hash, expires_at, tag FROM account_setup WHERE name = ?", (name,))[1]
        finally:
            db.close()
        digest = _sha256(_normal(code))
        ok = bool(rows) and hmac.compare_digest(str(rows[0][0]), digest)
        if rows and not hmac.compare_digest(str(rows[0][2]), self._tag(name, str(rows[0][0]), str(rows[0][1]))):
            raise IntegrityError(f"account {name!r}: its setup code does not authenticate under the trial key")
        if not ok or str(rows[0][1]) <= _stamp(self.accounts.clock()):
            self.accounts._login_event(name if rows else None, {"result": "failed", "reason": "wrong setup code",
                                                                "via": "setup"})  # fmt: skip
            raise AuthError(refused)
        account = self.accounts.get(name)
        if account.disabled:
            raise AuthError(refused)
        pw_hash = _hasher().hash(password)
        secret: list[str | None] = [None]

        def change(db: Db) -> None:
            row = _row(db, name)
            assert row is not None
            _write(db, self.svc.ring, name, account.role, account.sites, pw_hash, row[4], False, self.accounts.clock())
            db.run("DELETE FROM account_setup WHERE name = ?", (name,))
            if totp.required(self.svc.cfg, account.role):
                secret[0] = totp.new_secret(db, self.svc.ring, name)

        self.accounts._change({"action": "setup", "account": name, "via": "web"}, name, change)
        return secret[0]


# ---------------------------------------------------------------------------- pages


def routes(svc: Service, pages: Pages) -> list[Route]:
    """``/admin/users`` (list, add, disable, reset) and ``/setup`` (a first login with a setup code)."""
    admin = Admin(svc)

    async def page(request: Request, account: Account, csrf: str, status: int = 200, **context: Any) -> Response:
        users = await run_in_threadpool(svc.users, account)
        return pages.render(request, "admin_users.html", status, account=account, csrf=csrf, users=users,
                            roles=ROLES, sites=svc.cfg.sites, totp_roles=svc.cfg.service.totp_roles,
                            **context)  # fmt: skip

    async def show(request: Request) -> Response:
        try:
            account, csrf, _sid = await pages._session(request)
        except AuthError:
            return RedirectResponse("/login", status_code=303, headers=HEADERS)
        if not account.may("users"):
            return pages.render(request, "error.html", 403, account=account, csrf=csrf, message=ADMIN_ONLY)
        return await page(request, account, csrf)

    def post(do: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                account, form, csrf = await pages._checked(request)
            except AuthError:
                return RedirectResponse("/login", status_code=303, headers=HEADERS)
            except AdvanceTrialError as exc:
                return pages.render(request, "error.html", status_of(exc), message=str(exc))
            if not account.may("users"):
                return pages.render(request, "error.html", 403, account=account, csrf=csrf, message=ADMIN_ONLY)
            try:
                result = await run_in_threadpool(do, account, form)
            except AdvanceTrialError as exc:
                return await page(request, account, csrf, status_of(exc), error=str(exc), typed=form)
            return await page(request, account, csrf, **result)

        return endpoint

    def add(account: Account, form: Any) -> dict[str, Any]:
        sites = [s.id for s in svc.cfg.sites if form.get(f"site_{s.id}") == "yes"]
        name = form.get("name", "").strip().lower()
        code = admin.add(account, name, form.get("role", ""), sites)
        return {"issued": {"name": name, "code": code, "new": True}}

    def reset(account: Account, form: Any) -> dict[str, Any]:
        name = form.get("name", "")
        return {"issued": {"name": name, "code": admin.reset(account, name), "new": False}}

    def disable(account: Account, form: Any) -> dict[str, Any]:
        admin.disable(account, form.get("name", ""))
        return {"done": f"{form.get('name', '')} is disabled: its sessions ended, its password and token stopped."}

    async def setup_page(request: Request, message: str | None = None, status: int = 200,
                         **context: Any) -> Response:  # fmt: skip
        token = secrets.token_urlsafe(24)
        response = pages.render(request, "setup.html", status, csrf=token, message=message, **context)
        pages._cookie(request, response, "advance_setup", token, 600)
        return response

    async def setup_get(request: Request) -> Response:
        return await setup_page(request)

    async def setup_post(request: Request) -> Response:
        try:
            form = await pages._form(request)
        except UsageError as exc:
            return pages.render(request, "error.html", 400, message=str(exc))
        cookie = request.cookies.get("advance_setup", "")
        if not cookie or not hmac.compare_digest(form.get("csrf", ""), cookie):
            return await setup_page(request, "The form expired; please fill it in again.", 403)
        name = form.get("name", "")
        if form.get("password", "") != form.get("password2", ""):
            return await setup_page(request, "The two passwords differ; type the same new password twice.", 400,
                                    typed_name=name)  # fmt: skip
        try:
            secret = await run_in_threadpool(admin.setup, name, form.get("code", ""), form.get("password", ""))
        except AuthError as exc:
            await asyncio.sleep(svc.login_delay)
            return await setup_page(request, str(exc).capitalize() + ". Ask the administrator for a new code.", 401,
                                    typed_name=name)  # fmt: skip
        except UsageError as exc:
            return await setup_page(request, str(exc).capitalize() + ".", 400, typed_name=name)
        except AdvanceTrialError as exc:  # a setup row edited in the database (503)
            return pages.render(request, "error.html", status_of(exc), message=str(exc))
        uri = totp.uri(svc.cfg, name.strip().lower(), secret) if secret else None
        return pages.render(request, "setup_done.html", secret=secret, uri=uri)

    return [
        Route("/admin/users", show, methods=["GET"]),
        Route("/admin/users/add", post(add), methods=["POST"]),
        Route("/admin/users/reset", post(reset), methods=["POST"]),
        Route("/admin/users/disable", post(disable), methods=["POST"]),
        Route("/setup", setup_get, methods=["GET"]),
        Route("/setup", setup_post, methods=["POST"]),
    ]


__all__ = ["Admin", "routes", "second_factor"]
