"""What the service's modules share: the :class:`Service` (one trial's config, key, log and accounts, and the
actions the API and the pages call), the library's exceptions as HTTP statuses, the API's JSON helpers, and the
e-mail to the site on each allocation. :mod:`advance_trial.service.app` assembles the app from it; the pages,
the dashboard, the records and the administrator's pages import it, and it imports none of them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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
from advance_trial.service.accounts import Account, Accounts, AuthError, ForbiddenError
from advance_trial.service.group import GroupCommit

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
    #: Allocation requests that arrive while a step is under way are made together in the next (group commit).
    group: GroupCommit[al.Prepared, al.Allocation] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.group = GroupCommit(self._make)

    def _make(self, items: Sequence[al.Prepared]) -> list[al.Allocation | AdvanceTrialError]:
        """Make a group of checked requests in one step, with the requests other processes (another instance,
        the command line) left for it."""
        return al.allocate_with_others(self.cfg, self.ring, items, log=self.where, make=self._step)

    def _step(self, items: Sequence[al.Prepared]) -> list[al.Allocation | AdvanceTrialError]:
        """Make requests in one step (one alone as the command line makes it)."""
        if len(items) > 1:
            return al.allocate_many(self.cfg, self.ring, items, log=self.where)
        try:
            return [al.allocate(self.cfg, self.ring, items[0], log=self.where)]
        except al.REFUSALS as exc:
            return [exc]

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
        item = self._checked(account, request, eligibility)
        return {"participant_id": item.participant_id, "factors": item.values, "eligibility": item.answers or {}}

    def _checked(self, account: Account, request: AllocationRequest,
                 eligibility: dict[str, Any] | None) -> al.Prepared:  # fmt: skip
        account.require("allocate", "allocating")
        pid, values = request.checked(self.cfg)
        if account.role == "site_ra" and values["site"] not in account.sites:
            raise ForbiddenError(f"site {request.site!r}: you allocate only at {', '.join(account.sites)}")
        return al.Prepared(pid, values, self._answers(eligibility), account.name, None, self.data_dir)

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
        item = self._checked(account, request, eligibility)
        pid = item.participant_id
        try:
            a = self.group.submit(item)
        except DataError as exc:
            if account.role == "site_ra" and any(" was allocated with " in p.message for p in exc.problems):
                # another site's man: say that the id is taken, not where or with what
                taken = DataProblem("allocation request", None, "participant_id", pid,
                                    "this id is allocated already, with other details")  # fmt: skip
                raise DataError([taken]) from None
            raise
        if not a.new:  # no arm: asking again is no event, so it shows none (his arm is on his receipt page)
            raise Conflict(self._man(a))
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
            token = _bearer(request)
            account = await run_in_threadpool(svc.accounts.by_token, token)
            status, body = await action(account, request)
            return _json(status, body)
        except Exception as exc:
            return _json(status_of(exc), error_body(exc))

    return endpoint


def api_blocking(svc: Service, action: Callable[[Account, dict[str, Any]], tuple[int, Any]]) -> Handler:
    """An API endpoint whose action blocks (an allocation): its JSON body read, then the bearer token's account
    and the action in one call in the thread pool (one hand-over to a thread per request, not two). The body's
    faults are told only once the token is known to be good, as :func:`api` tells them."""

    async def endpoint(request: Request) -> Response:
        try:
            token = _bearer(request)
            fault: Exception | None = None
            body: dict[str, Any] = {}
            try:
                body = await _body(request)
            except (UsageError, BodyTooLarge) as exc:
                fault = exc

            def run() -> tuple[int, Any]:
                account = svc.accounts.by_token(token)
                if fault is not None:
                    raise fault
                return action(account, body)

            status, out = await run_in_threadpool(run)
            return _json(status, out)
        except Exception as exc:
            return _json(status_of(exc), error_body(exc))

    return endpoint


def _bearer(request: Request) -> str:
    """The request's bearer token; :class:`AuthError` when it gives none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("give the account's API token as 'Authorization: Bearer TOKEN'")
    return token.strip()


# ---------------------------------------------------------------------------- the allocation e-mail


def allocation_message(svc: Service, man: dict[str, Any], by: str, at: datetime) -> EmailMessage | None:
    """The e-mail about one allocation, or None when the config sends none (no arm when the trial is blinded)."""
    cfg = svc.cfg
    if cfg.notify is None or cfg.notify.allocations is None:
        return None
    rule = cfg.notify.allocations
    to = [f"<{e}>" for e in rule.sites.get(man["site"], [])]
    if rule.copy_contacts:
        to += [f'"{c.name}" <{c.email}>' for c in cfg.notify.contacts]
    if not to:
        return None
    site = next((s.label for s in cfg.sites if s.id == man["site"]), man["site"])
    arm = "" if svc.blinded else f"Arm: {cfg.arm(man['arm']).label}\n"
    training = "TRAINING (practice only; not a real allocation)\n\n" if svc.training else ""
    msg = EmailMessage()
    msg["Subject"] = f"[{cfg.trial.id}] {man['participant_id']} allocated at {site}"
    msg["From"] = cfg.notify.smtp.sender if cfg.notify.smtp else f"advance-trial@{cfg.trial.id}.invalid"
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = make_msgid(domain=f"{cfg.trial.id}.invalid")
    blind = "" if arm else "The trial is blinded: this e-mail names neither the arm nor its code.\n"
    receipt = man["receipt"]
    msg.set_content(
        f"{training}{cfg.trial.title} ({cfg.trial.id})\n\n"
        f"Participant {man['participant_id']} was allocated at {site} (allocation {man['sequence']})\n"
        f"by {by} at {at.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}.\n{arm}\n"
        f"The allocation log records it as row {receipt['row']} (tag {receipt['tag']}).\n{blind}"
    )
    return msg


def notify_allocation(svc: Service, account: Account, man: dict[str, Any]) -> dict[str, Any] | None:
    """Write the allocation's e-mail to the outbox and send it beside the answer; where it went (or None)."""
    from advance_trial.service import notify

    at = svc.clock()
    msg = allocation_message(svc, man, al.actor_name(account.name), at)
    if msg is None:
        return None
    name = f"{at.strftime('%Y%m%dT%H%M%S')}-row{man['receipt']['row']}-allocation"
    try:
        path = notify.write(svc.cfg, msg, name)
    except OSError as exc:  # the man is allocated: his answer must reach the research assistant all the same
        _LOG.error("allocation e-mail not written: %s", exc)
        return {"error": f"the e-mail could not be written to the outbox ({exc.strerror or exc})"}
    thread = threading.Thread(target=notify.deliver, args=(svc.cfg, msg, path), daemon=True)
    thread.start()
    svc.mail_threads.append(thread)
    return {"outbox": path.name}
