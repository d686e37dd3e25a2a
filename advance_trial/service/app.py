"""The allocation service: a JSON API and server-rendered pages over the library's allocation functions.

Every request that changes anything calls the same library function the command line calls
(:mod:`advance_trial.randomisation.allocation`), with the service account as the actor; nothing of the
allocation logic is written here. Blocking calls run in Starlette's thread pool; the key folder's lock and
the database's own lock serialise them with every other writer.

API (bearer token from ``users add``): errors are JSON ``{"error": ..., "problems": [...]}`` with 400 (bad
input, an unknown key), 401 (no or bad token), 403 (role or site), 404 (no such man at your sites), 409 (already
allocated), 413 (a body over 64 KiB, however it is sent), 503 (the log fails verification, or the service's
config is not the log's design).

Pages (session cookie, HttpOnly, SameSite=Strict, Secure over TLS; a one-use CSRF token in every form):
log in, allocate, see the arm or code and the receipt, the site's allocations (no arms when blinded),
unblind, verify, export, accounts, by role. No script is served or allowed (Content-Security-Policy).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advance_trial.config.models import Config
from advance_trial.errors import (
    AdvanceTrialError,
    ConfigError,
    DataError,
    DataProblem,
    IntegrityError,
    NotAllocatedError,
    UsageError,
)
from advance_trial.randomisation import allocation as al
from advance_trial.randomisation.database import Location
from advance_trial.randomisation.key import KeyRing
from advance_trial.randomisation.request import AllocationRequest, normalise_id
from advance_trial.randomise import required_factors
from advance_trial.service.accounts import Account, Accounts, AuthError, ForbiddenError

SESSION_COOKIE = "advance_session"
LOGIN_COOKIE = "advance_login"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Conflict(AdvanceTrialError):
    """The man is allocated already (HTTP 409); ``body`` holds what the asker may see of him."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(f"{body['participant_id']} is already allocated (allocation {body['sequence']})")
        self.body = body


class NotFound(AdvanceTrialError):
    """No such man at the asker's sites (HTTP 404)."""


_LOG = logging.getLogger("advance_trial.service")


def status_of(exc: BaseException) -> int:
    """The HTTP status of a library exception (the contract's meanings); 500, logged with its traceback on the
    server's standard error (never sent to the client), for anything else."""
    for kind, status in ((AuthError, 401), (ForbiddenError, 403), (NotFound, 404), (NotAllocatedError, 404),
                         (Conflict, 409), (BodyTooLarge, 413), (IntegrityError, 503), (ConfigError, 503),
                         (DataError, 400), (UsageError, 400)):  # fmt: skip
        if isinstance(exc, kind):
            return status
    _LOG.error("internal error", exc_info=exc)
    return 500


def error_body(exc: BaseException) -> dict[str, Any]:
    """An exception as the API's JSON error."""
    body: dict[str, Any] = {"error": str(exc) if isinstance(exc, AdvanceTrialError) else "internal error"}
    if isinstance(exc, DataError):
        body["error"] = "; ".join(p.message for p in exc.problems)
        body["problems"] = exc.records()
    if isinstance(exc, Conflict):
        body = {"error": "already allocated", **exc.body}
    return body


@dataclass
class Service:
    """One trial's service: its config, key, log and accounts, and how it treats logins."""

    cfg: Config
    ring: KeyRing
    where: Location
    accounts: Accounts
    data_dir: Path | None = None
    login_delay: float = 0.5
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    training: bool = False
    mail_threads: list[threading.Thread] = field(default_factory=list)  # allocation e-mails being sent
    #: How a failed login's answer waits (a test records the waits instead).
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep

    def login_wait(self, failures: int) -> float:
        """Seconds a failed login's answer waits: doubling with the source address's failures in a row (under
        any name, known or not), from ``login_delay``, at most 30."""
        return float(min(self.login_delay * 2 ** max(failures - 1, 0), 30.0))

    @property
    def blinded(self) -> bool:
        return self.cfg.randomisation.blinding is not None

    def shown_arm(self, account: Account, arm: str) -> dict[str, str]:
        """What an account may see of an arm: the arm where the trial is open or the role reads arms, else its
        code."""
        codes = self.cfg.randomisation.blinding.codes if self.cfg.randomisation.blinding else None
        if codes is None or account.may("read_arms"):
            out = {"arm": arm, "arm_label": self.cfg.arm(arm).label}
            return {**out, "code": codes[arm]} if codes else out
        return {"code": codes[arm]}

    def visible(self, account: Account, man: al.Allocation) -> bool:
        """Whether an account may read a man's allocation (a site RA: only at the account's sites)."""
        return account.may("read") and (account.role != "site_ra" or man.site in account.sites)

    # ------------------------------------------------------------------ actions (blocking; run in a thread)

    def check(self, account: Account, request: AllocationRequest,
              eligibility: dict[str, Any] | None) -> dict[str, Any]:  # fmt: skip
        """Check an allocation request without writing (the page's confirmation step): the role, the id, the
        factors, the site (the one checked is the one allocated: never a factor) and the eligibility answers;
        what the confirmation shows."""
        account.require("allocate", "allocating")
        pid, values = request.checked(self.cfg)
        if account.role == "site_ra" and values["site"] not in account.sites:
            raise ForbiddenError(f"site {request.site!r}: you allocate only at {', '.join(account.sites)}")
        answers = self._answers(eligibility)
        return {"participant_id": pid, "factors": values, "eligibility": answers or {}}

    def _answers(self, eligibility: dict[str, Any] | None) -> dict[str, bool] | None:
        """The eligibility answers, checked: required (every criterion) when the config asks any."""
        from advance_trial.randomisation.eligibility import check_answers, criteria

        if not criteria(self.cfg) and not eligibility:
            return None
        return check_answers(self.cfg, eligibility or {})

    def allocate(self, account: Account, request: AllocationRequest,
                 eligibility: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        """Allocate a man: the answer carries his arm (or code), the one place outside an unblinding or an
        export where an arm is shown, since the allocation itself is the event."""
        pid = self.check(account, request, eligibility)["participant_id"]
        try:
            a = al.allocate(self.cfg, self.ring, request, log=self.where, data_dir=self.data_dir,
                            account=account.name, eligibility=self._answers(eligibility))  # fmt: skip
        except DataError as exc:
            if account.role == "site_ra" and any(" was allocated with " in p.message for p in exc.problems):
                # another site's man: say that the id is taken, not where or with what
                taken = DataProblem("allocation request", None, "participant_id", pid,
                                    "this id is allocated already, with other details")  # fmt: skip
                raise DataError([taken]) from None
            raise
        if not a.new:  # no arm: asking again is no event, so it shows none (his arm is on his receipt page)
            raise Conflict(self._man(a))
        from advance_trial.service.records import notify_allocation

        made = {**self._man(a), **self.shown_arm(account, a.arm), "receipt": a.receipt}
        notice = notify_allocation(self, account, {**made, "arm": a.arm})
        return {**made, **({"notice": notice} if notice else {})}

    def _man(self, a: al.Allocation) -> dict[str, Any]:
        """What any list or look-up shows of a man: never his arm or code (those are seen only with an event)."""
        return {"participant_id": a.participant_id, "site": a.site, "sequence": a.sequence,
                "randomised_on": a.randomised_on}  # fmt: skip

    def one(self, account: Account, participant_id: str) -> dict[str, Any]:
        account.require("read", "reading allocations")
        pid = normalise_id(self.cfg, participant_id)
        man = next((m for m in al.allocated_men(self.cfg, self.ring, self.where) if m.participant_id == pid), None)
        if man is None or not self.visible(account, man):
            raise NotFound(
                f"{pid}: no allocation at your sites" if account.role == "site_ra" else f"{pid}: not allocated"
            )
        return self._man(man)

    def listing(self, account: Account) -> list[dict[str, Any]]:
        """The men an account may see, without arms or codes for any role: an arm is seen only on the record
        (the unblinder's unblinding of one man, the statistician's export, both events in the chain)."""
        account.require("read", "reading allocations")
        return [self._man(m) for m in al.allocated_men(self.cfg, self.ring, self.where) if self.visible(account, m)]

    def unblind(self, account: Account, participant_id: str, reason: str) -> dict[str, Any]:
        account.require("unblind", "unblinding")
        a = al.unblind(self.cfg, self.ring, participant_id, reason, log=self.where, account=account.name)
        body = {"participant_id": a.participant_id, "site": a.site, "sequence": a.sequence, "arm": a.arm,
                "arm_label": self.cfg.arm(a.arm).label}  # fmt: skip
        if self.cfg.notify is not None:
            body["notice"] = self._notify(account, a, reason)
        return body

    def _notify(self, account: Account, a: al.Allocation, reason: str) -> dict[str, Any]:
        from advance_trial.service import notify

        row, at = int(a.receipt["row"]), self.clock()
        msg = notify.unblinding_message(self.cfg, participant_id=a.participant_id, site=a.site, sequence=a.sequence,
                                        by=al.actor_name(account.name), reason=" ".join(reason.split()),
                                        row=row, at=at)  # fmt: skip
        sent = notify.send(self.cfg, msg, f"{at.strftime('%Y%m%dT%H%M%S')}-row{row}-unblinding")
        return {"outbox": sent.path.name, "sent": sent.sent, **({"error": sent.error} if sent.error else {})}

    def export(self, account: Account, reason: str) -> Any:
        """Every arm (a frame, as ``randomise export`` writes it); the export is an event in the chain."""
        account.require("export", "exporting arms")
        return al.export(self.cfg, self.ring, reason, log=self.where, account=account.name)

    def verify(self, account: Account) -> dict[str, Any]:
        account.require("verify", "verifying the log")
        from dataclasses import asdict

        return {"valid": True, **asdict(al.verify_log(self.cfg, self.ring, self.where))}

    def users(self, account: Account) -> list[dict[str, Any]]:
        account.require("users", "listing accounts")
        return [{"name": a.name, "role": a.role, "sites": list(a.sites), "disabled": a.disabled,
                 "changed_at": a.changed_at} for a in self.accounts.list()]  # fmt: skip

    def health(self) -> dict[str, Any]:
        al.allocated_men(self.cfg, self.ring, self.where)  # verifies what was added since the last check
        return {"status": "ok", "trial": self.cfg.trial.id, "version": self.cfg.trial.version}


# ---------------------------------------------------------------------------- the JSON API


Handler = Callable[[Request], Awaitable[Response]]


def _json(status: int, body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=HEADERS)


MAX_BODY = 64 * 1024


class BodyTooLarge(UsageError):
    """A request body larger than any request of the service needs (HTTP 413)."""


def limit_body(app: ASGIApp, too_large: Callable[[Scope], Response], limit: int = MAX_BODY) -> ASGIApp:
    """ASGI middleware: no route reads more than ``limit`` bytes of a body, however it is sent.

    A declared Content-Length over the limit is answered (413) before the route runs; otherwise the bytes
    received are counted as the route reads them (chunked transfer included), and the read that passes the
    limit raises :class:`BodyTooLarge`, which the route answers as 413 (or this middleware, if it did not).
    """
    message = f"the request body is larger than {limit} bytes"

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
            await too_large(scope)(scope, receive, send)
            return
        received, started = 0, False

        async def counted() -> Message:
            nonlocal received
            got = await receive()
            if got["type"] == "http.request":
                received += len(got.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(message)
            return got

        async def sending(msg: Message) -> None:
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await app(scope, counted, sending)
        except BodyTooLarge:
            if not started:
                await too_large(scope)(scope, receive, send)

    return limited


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise UsageError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise UsageError("the request body must be a JSON object")
    return body


def _text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise UsageError(f"{name}: give it as a string")
    return value


def api(svc: Service, action: Callable[[Account, Request], Awaitable[tuple[int, Any]]]) -> Handler:
    """An API endpoint: the bearer token's account, the action, and errors as JSON with their status."""

    async def endpoint(request: Request) -> Response:
        try:
            auth = request.headers.get("authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise AuthError("give the account's API token as 'Authorization: Bearer TOKEN'")
            account = await run_in_threadpool(svc.accounts.by_token, token.strip())
            status, body = await action(account, request)
            return _json(status, body)
        except Exception as exc:
            return _json(status_of(exc), error_body(exc))

    return endpoint


def api_routes(svc: Service) -> list[Route]:
    async def create(account: Account, request: Request) -> tuple[int, Any]:
        body = dict(await _body(request))
        eligibility = body.pop("eligibility", None)  # the answers go with the request, never into it
        if eligibility is not None and not isinstance(eligibility, dict):
            raise UsageError('eligibility: give it as an object of CRITERION: true or false, e.g. {"adult": true}')
        wanted = AllocationRequest.parse(body)
        return 201, await run_in_threadpool(svc.allocate, account, wanted, eligibility)

    async def read(account: Account, request: Request) -> tuple[int, Any]:
        return 200, await run_in_threadpool(svc.one, account, request.path_params["pid"])

    async def listing(account: Account, request: Request) -> tuple[int, Any]:
        return 200, {"allocations": await run_in_threadpool(svc.listing, account)}

    async def unblind(account: Account, request: Request) -> tuple[int, Any]:
        body = await _body(request)
        return 200, await run_in_threadpool(
            svc.unblind, account, request.path_params["pid"], _text_field(body, "reason")
        )

    async def export(account: Account, request: Request) -> tuple[int, Any]:
        body = await _body(request)
        frame = await run_in_threadpool(svc.export, account, _text_field(body, "reason"))
        return 200, {"allocations": json.loads(frame.to_json(orient="records"))}

    async def verify(account: Account, request: Request) -> tuple[int, Any]:
        return 200, await run_in_threadpool(svc.verify, account)

    async def users(account: Account, request: Request) -> tuple[int, Any]:
        return 200, {"users": await run_in_threadpool(svc.users, account)}

    async def whoami(account: Account, request: Request) -> tuple[int, Any]:
        return 200, {"name": account.name, "role": account.role, "sites": list(account.sites),
                     "trial": svc.cfg.trial.id, "blinded": svc.blinded, "training": svc.training}  # fmt: skip

    async def health(request: Request) -> Response:
        try:
            return _json(200, await run_in_threadpool(svc.health))
        except Exception as exc:
            status = status_of(exc)
            return _json(503 if status == 400 else status, {"status": "failing", **error_body(exc)})

    return [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/whoami", api(svc, whoami), methods=["GET"]),
        Route("/api/allocations", api(svc, create), methods=["POST"]),
        Route("/api/allocations", api(svc, listing), methods=["GET"]),
        Route("/api/allocations/{pid}", api(svc, read), methods=["GET"]),
        Route("/api/allocations/{pid}/unblind", api(svc, unblind), methods=["POST"]),
        Route("/api/export", api(svc, export), methods=["POST"]),
        Route("/api/verify", api(svc, verify), methods=["GET"]),
        Route("/api/users", api(svc, users), methods=["GET"]),
    ]


# ---------------------------------------------------------------------------- the pages


def _templates() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("advance_trial.service", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True))  # fmt: skip


class Pages:
    """The research assistants' (and the other roles') pages: sessions, one-use CSRF tokens, forms."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self.env = _templates()

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        from advance_trial.service import words

        cfg = self.svc.cfg
        rules = {"totp_roles": cfg.service.totp_roles, "min_password": cfg.service.min_password_length,
                 "setup_hours": cfg.service.setup_code_hours}  # fmt: skip
        html = self.env.get_template(name).render(trial=cfg.trial, blinded=self.svc.blinded, training=self.svc.training,
                                                  **words.context(cfg), **{**rules, **context})  # fmt: skip
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def _secure(self, request: Request) -> bool:
        return request.url.scheme == "https"

    def _cookie(self, request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                            secure=self._secure(request), path="/")  # fmt: skip

    async def _session(self, request: Request) -> tuple[Account, str, str]:
        sid = request.cookies.get(SESSION_COOKIE, "")
        if not sid:
            raise AuthError("not logged in")
        account, csrf = await run_in_threadpool(self.svc.accounts.session, sid)
        return account, csrf, sid

    async def _form(self, request: Request) -> dict[str, str]:
        form = await request.form(max_files=0, max_fields=20)
        return {k: v for k, v in form.items() if isinstance(v, str)}

    async def _checked(self, request: Request) -> tuple[Account, dict[str, str], str]:
        """A form post from a live session with the session's current CSRF token; the token is then used up."""
        account, csrf, sid = await self._session(request)
        form = await self._form(request)
        if not hmac.compare_digest(form.get("csrf", ""), csrf):
            raise ForbiddenError("the form's security token is not valid (expired, used already or forged); "
                                 "reload the page and try again")  # fmt: skip
        fresh = await run_in_threadpool(self.svc.accounts.rotate_csrf, sid)
        return account, form, fresh

    # ------------------------------------------------------------------ login and logout

    async def login_page(self, request: Request, message: str | None = None, status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        response = self.render(request, "login.html", status, csrf=token, message=message)
        self._cookie(request, response, LOGIN_COOKIE, token, 600)
        return response

    async def login(self, request: Request) -> Response:
        from advance_trial.service.admin import second_factor

        try:
            form = await self._form(request)
        except UsageError as exc:  # a body too large (413), a malformed form (400)
            return self.render(request, "error.html", status_of(exc), message=str(exc))
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not cookie or not hmac.compare_digest(form.get("csrf", ""), cookie):
            return await self.login_page(request, "The login form expired; please log in again.", 403)
        try:
            source = request.client.host if request.client else "unknown"
            account = await run_in_threadpool(self.svc.accounts.login, form.get("name", "").strip(),
                                              form.get("password", ""), "web", source)  # fmt: skip
            await run_in_threadpool(second_factor, self.svc, account, form.get("code", ""))
        except AuthError as exc:  # the same wait for every name: it follows the address's failures
            await self.svc.pause(self.svc.login_wait(exc.failures))
            return await self.login_page(request, str(exc).capitalize() + ".", 401)
        sid, _csrf = await run_in_threadpool(self.svc.accounts.open_session, account)
        response = RedirectResponse("/", status_code=303, headers=HEADERS)
        self._cookie(request, response, SESSION_COOKIE, sid, self.svc.accounts.policy.session_minutes * 60)
        response.delete_cookie(LOGIN_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def logout(self, request: Request) -> Response:
        try:
            _account, _form, _fresh = await self._checked(request)
            await run_in_threadpool(self.svc.accounts.end_session, request.cookies.get(SESSION_COOKIE, ""))
        except AdvanceTrialError:
            pass
        response = RedirectResponse("/login", status_code=303, headers=HEADERS)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # ------------------------------------------------------------------ the home page and actions

    def _factors(self) -> list[tuple[str, list[str]]]:
        levels = self.svc.cfg.factor_levels()
        return [(name, levels[name]) for name in required_factors(self.svc.cfg) if name != "site"]

    def _factor_labels(self) -> dict[str, str]:
        labels = {f.id: f.label or f.id for f in self.svc.cfg.factors}
        return {name: labels.get(name, "Group cycle" if name == "cycle" else name) for name, _ in self._factors()}

    async def _home(self, request: Request, account: Account, csrf: str, status: int = 200,
                    **context: Any) -> Response:  # fmt: skip
        men: list[dict[str, Any]] = []
        if account.may("read"):
            men = await run_in_threadpool(self.svc.listing, account)
        from advance_trial.randomisation.eligibility import criteria

        sites = [s for s in self.svc.cfg.sites if account.role != "site_ra" or s.id in account.sites]
        users = await run_in_threadpool(self.svc.users, account) if account.may("users") else []
        context.setdefault("typed", {})
        return self.render(request, "home.html", status, account=account, csrf=csrf, men=men, sites=sites,
                           factors=self._factors(), factor_labels=self._factor_labels(), users=users,
                           criteria=criteria(self.svc.cfg), **context)  # fmt: skip

    async def home(self, request: Request) -> Response:
        try:
            account, csrf, _sid = await self._session(request)
        except AuthError:
            return RedirectResponse("/login", status_code=303, headers=HEADERS)
        return await self._home(request, account, csrf)

    def action(self, do: Callable[[Account, dict[str, str]], Awaitable[dict[str, Any]]]) -> Handler:
        """A form post: session and CSRF checked, the action run, the home page shown with its result or error
        (in plain words, with what was typed kept in the form)."""

        async def endpoint(request: Request) -> Response:
            try:
                account, form, csrf = await self._checked(request)
            except AuthError:
                return RedirectResponse("/login", status_code=303, headers=HEADERS)
            except AdvanceTrialError as exc:  # a forged or spent token (403), a body too large (400)
                return self.render(request, "error.html", status_of(exc), message=str(exc))
            from advance_trial.service.words import plain

            try:
                result = await do(account, form)
            except Exception as exc:
                status = status_of(exc)
                if isinstance(exc, Conflict):
                    return await self._home(request, account, csrf, 409, conflict=exc.body)
                message = (
                    plain(self.svc.cfg, exc) if status != 500 else "Something went wrong on the server; try again."
                )
                return await self._home(request, account, csrf, status, error=message, typed=form)
            if "download" in result:
                return PlainTextResponse(result["download"], headers={**HEADERS, "Content-Type": "text/csv",
                                         "Content-Disposition": 'attachment; filename="allocations.csv"'})  # fmt: skip
            if "page" in result:
                return self.render(request, result.pop("page"), account=account, csrf=csrf, **result)
            return await self._home(request, account, csrf, **result)

        return endpoint

    def _request(self, form: dict[str, str]) -> tuple[AllocationRequest, dict[str, Any]]:
        """An allocation form's request (id, site, factors) and its eligibility answers (yes, no, or
        unanswered)."""
        from advance_trial.randomisation.eligibility import criteria

        factors = {name: form.get(f"factor_{name}", "") for name, _ in self._factors()}
        said = {"yes": True, "no": False}
        answers = {c.id: said.get(form.get(f"eligible_{c.id}", "")) for c in criteria(self.svc.cfg)}
        return AllocationRequest.of(form.get("participant_id", ""), form.get("site", ""), factors), answers

    async def confirm(self, account: Account, form: dict[str, str]) -> dict[str, Any]:
        """The confirmation step: everything checked, nothing written; the page shows what will be allocated."""
        wanted, answers = self._request(form)
        checked = await run_in_threadpool(self.svc.check, account, wanted, answers)
        return {"page": "confirm.html", "checked": checked, "typed": form, "factor_labels": self._factor_labels()}

    async def edit(self, account: Account, form: dict[str, str]) -> dict[str, Any]:
        """Back from the confirmation to the form, with everything typed kept."""
        return {"typed": form}

    async def allocate(self, account: Account, form: dict[str, str]) -> dict[str, Any]:
        wanted, answers = self._request(form)
        done = await run_in_threadpool(self.svc.allocate, account, wanted, answers)
        return {"allocated": done}

    async def unblind(self, account: Account, form: dict[str, str]) -> dict[str, Any]:
        done = await run_in_threadpool(self.svc.unblind, account, form.get("participant_id", ""),
                                       form.get("reason", ""))  # fmt: skip
        return {"unblinded": done}

    async def verify(self, account: Account, form: dict[str, str]) -> dict[str, Any]:
        return {"verified": await run_in_threadpool(self.svc.verify, account)}

    async def export(self, account: Account, form: dict[str, str]) -> dict[str, Any]:
        from advance_trial.output.tables import to_csv_bytes

        frame = await run_in_threadpool(self.svc.export, account, form.get("reason", ""))
        return {"download": to_csv_bytes(frame).decode()}

    def routes(self) -> list[Route]:
        async def login_get(request: Request) -> Response:
            return await self.login_page(request)

        async def style(request: Request) -> Response:
            css = (Path(__file__).parent / "static" / "style.css").read_text(encoding="utf-8")
            return Response(css, media_type="text/css", headers={**HEADERS, "Cache-Control": "max-age=3600"})

        return [
            Route("/", self.home, methods=["GET"]),
            Route("/login", login_get, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/allocate/confirm", self.action(self.confirm), methods=["POST"]),
            Route("/allocate/edit", self.action(self.edit), methods=["POST"]),
            Route("/allocate", self.action(self.allocate), methods=["POST"]),
            Route("/unblind", self.action(self.unblind), methods=["POST"]),
            Route("/verify", self.action(self.verify), methods=["POST"]),
            Route("/export", self.action(self.export), methods=["POST"]),
            Route("/static/style.css", style, methods=["GET"]),
        ]


def create_app(cfg: Config, ring: KeyRing, where: Location, *, data_dir: Path | None = None,
               login_delay: float = 0.5, clock: Callable[[], datetime] | None = None,
               training: bool = False) -> Starlette:  # fmt: skip
    """The service's ASGI app for one trial (its log must exist and verify: checked here, before serving).

    ``training``: the training config, key and log (:mod:`advance_trial.randomisation.training`); every page
    says TRAINING and ``/api/whoami`` says ``"training": true``.
    """
    from advance_trial.randomisation.training import SUFFIX

    if training != ring.trial_id.endswith(SUFFIX):
        raise UsageError("a training service serves the training key and log, and only a training service does")
    accounts = Accounts(cfg, ring, where, clock) if clock else Accounts(cfg, ring, where)
    svc = Service(cfg, ring, where, accounts, data_dir, login_delay, training=training)
    if clock is not None:
        svc.clock = clock
    al.verify_log(cfg, ring, where)
    accounts.list()  # creates the account tables; refuses an edited account row
    pages = Pages(svc)

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return _json(404, {"error": "no such endpoint"})
        return pages.render(request, "error.html", 404, message="No such page.")

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        return _json(405, {"error": "method not allowed"})

    from advance_trial.service import team

    def too_large(scope: Scope) -> Response:
        text = f"the request body is larger than {MAX_BODY} bytes"
        if str(scope.get("path", "")).startswith("/api/"):
            return _json(413, {"error": text})
        return pages.render(Request(scope), "error.html", 413, message=text[0].upper() + text[1:] + ".")

    app = Starlette(routes=[*api_routes(svc), *pages.routes(), *team.routes(svc, pages)],
                    exception_handlers={404: not_found, 405: method_not_allowed},
                    middleware=[Middleware(_BodyLimit, too_large=too_large)])  # fmt: skip
    app.state.service = svc
    return app


class _BodyLimit:
    """:func:`limit_body` as Starlette middleware (outermost: before any route reads a byte)."""

    def __init__(self, app: ASGIApp, too_large: Callable[[Scope], Response]) -> None:
        self.call = limit_body(app, too_large)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.call(scope, receive, send)
