"""The trial team's routes: the dashboard (``GET /api/dashboard``, ``/dashboard``), the account pages
(``/admin/users``), and withdrawals and randomisations in error (``POST /api/allocations/{id}/status``,
``/status``), over the same sessions, CSRF tokens and JSON errors as the research assistants' pages."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from advance_trial.errors import AdvanceTrialError
from advance_trial.service import dashboard, records
from advance_trial.service.accounts import Account, AuthError
from advance_trial.service.core import HEADERS, Service, _body, _text_field, api, status_of
from advance_trial.service.pages import Pages


def routes(svc: Service, pages: Pages) -> list[Route]:
    """The dashboard's and the account pages' routes."""
    from advance_trial.service import admin

    async def status_api(account: Account, request: Request) -> tuple[int, Any]:
        body = await _body(request)
        return 200, await run_in_threadpool(records.record, svc, account, request.path_params["pid"],
                                            _text_field(body, "status"), _text_field(body, "reason"))  # fmt: skip

    async def status_page(account: Account, form: dict[str, str]) -> dict[str, Any]:
        done = await run_in_threadpool(records.record, svc, account, form.get("participant_id", ""),
                                       form.get("status", ""), form.get("reason", ""))  # fmt: skip
        return {"recorded": done}

    async def board_api(account: Account, request: Request) -> tuple[int, Any]:
        return 200, await run_in_threadpool(dashboard.data, svc, account)

    async def board_page(request: Request) -> Response:
        try:
            account, csrf, _sid = await pages._session(request)
        except AuthError:
            return RedirectResponse("/login", status_code=303, headers=HEADERS)
        try:
            board = await run_in_threadpool(dashboard.data, svc, account)
        except AdvanceTrialError as exc:
            return pages.render(request, "error.html", status_of(exc), account=account, csrf=csrf,
                                message=_refusal(exc))  # fmt: skip
        labels = {s.id: s.label for s in svc.cfg.sites}
        return pages.render(request, "dashboard.html", account=account, csrf=csrf, board=board,
                            svg=dashboard.figure(board, labels))  # fmt: skip

    return [
        Route("/api/allocations/{pid}/status", api(svc, status_api), methods=["POST"]),
        Route("/status", pages.action(status_page), methods=["POST"]),
        Route("/api/dashboard", api(svc, board_api), methods=["GET"]),
        Route("/dashboard", board_page, methods=["GET"]),
        *admin.routes(svc, pages),
    ]


def _refusal(exc: BaseException) -> str:
    text = str(exc)
    if "not allowed for the" in text:
        return "This page is for the trial statistician and the administrator. Go back to the start page."
    return text[:1].upper() + text[1:]


__all__ = ["routes"]
