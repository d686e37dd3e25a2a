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

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advance_trial.config.models import Config
from advance_trial.errors import (
    UsageError,
)
from advance_trial.randomisation import allocation as al
from advance_trial.randomisation.database import Location
from advance_trial.randomisation.key import KeyRing
from advance_trial.randomisation.request import AllocationRequest
from advance_trial.service import team
from advance_trial.service.accounts import Account, Accounts
from advance_trial.service.core import (
    MAX_BODY,
    BodyTooLarge,
    Service,
    _body,
    _json,
    _text_field,
    api,
    api_blocking,
    error_body,
    status_of,
)
from advance_trial.service.pages import Pages


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


def api_routes(svc: Service) -> list[Route]:
    def create(account: Account, given: dict[str, Any]) -> tuple[int, Any]:
        body = dict(given)
        eligibility = body.pop("eligibility", None)  # the answers go with the request, never into it
        if eligibility is not None and not isinstance(eligibility, dict):
            raise UsageError('eligibility: give it as an object of CRITERION: true or false, e.g. {"adult": true}')
        wanted = AllocationRequest.parse(body)
        return 201, svc.allocate(account, wanted, eligibility)

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
        Route("/api/allocations", api_blocking(svc, create), methods=["POST"]),
        Route("/api/allocations", api(svc, listing), methods=["GET"]),
        Route("/api/allocations/{pid}", api(svc, read), methods=["GET"]),
        Route("/api/allocations/{pid}/unblind", api(svc, unblind), methods=["POST"]),
        Route("/api/export", api(svc, export), methods=["POST"]),
        Route("/api/verify", api(svc, verify), methods=["GET"]),
        Route("/api/users", api(svc, users), methods=["GET"]),
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
