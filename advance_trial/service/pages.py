"""The research assistants' (and the other roles') pages: sessions, one-use CSRF tokens, forms, Jinja2 templates
(no script is served or allowed), over the :class:`~advance_trial.service.core.Service`'s actions."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from advance_trial.errors import (
    AdvanceTrialError,
    UsageError,
)
from advance_trial.randomisation.request import AllocationRequest
from advance_trial.randomise import required_factors
from advance_trial.service.accounts import Account, AuthError, ForbiddenError
from advance_trial.service.core import (
    HEADERS,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Conflict,
    Handler,
    Service,
    status_of,
)
from advance_trial.service.login import second_factor


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
        fresh = await run_in_threadpool(self.svc.accounts.rotate_csrf, sid, csrf)
        return account, form, fresh

    # ------------------------------------------------------------------ login and logout

    async def login_page(self, request: Request, message: str | None = None, status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        response = self.render(request, "login.html", status, csrf=token, message=message)
        self._cookie(request, response, LOGIN_COOKIE, token, 600)
        return response

    async def login(self, request: Request) -> Response:
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
