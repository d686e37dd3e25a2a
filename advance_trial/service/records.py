"""What the service records besides allocations: a man's withdrawal or randomisation in error (from the web),
and the e-mail to the site (and the trial's contacts) on each allocation.

Withdrawals and randomisations in error are recorded by a site's research assistant for his own site's men,
or by the trial statistician for any man; each needs a reason of three words or more and is an event in the
chain (:mod:`advance_trial.randomisation.status`). The arm never changes, and no answer shows it.

Allocation e-mails (``notify.allocations``) go through the same outbox and SMTP as unblinding notices: the
site's address and, with ``copy_contacts``, the trial's contacts. The arm is named only in an open-label trial;
when the trial is blinded the e-mail names neither the arm nor its code. The outbox file is written before the
answer; the sending happens beside it, so a slow mail server never keeps a research assistant waiting.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Any

from advance_trial.errors import UsageError
from advance_trial.randomisation import allocation as al
from advance_trial.service.accounts import Account, ForbiddenError

if TYPE_CHECKING:
    from advance_trial.service.app import Service

ROLES = ("site_ra", "statistician")
_LOG = logging.getLogger("advance_trial.service")


def record(svc: Service, account: Account, participant_id: str, status: str, reason: str) -> dict[str, Any]:
    """Record a withdrawal or a randomisation in error; what the answer shows (no arm)."""
    from advance_trial.randomisation.status import LABELS, record_status

    if account.role not in ROLES:
        raise ForbiddenError(f"recording a withdrawal: not allowed for the {account.role} role")
    if status not in LABELS:
        raise UsageError(f"status: one of {', '.join(LABELS)}")
    svc.one(account, participant_id)  # 404 for a man not at the assistant's sites
    a = record_status(svc.cfg, svc.ring, participant_id, status, reason, log=svc.where,  # type: ignore[arg-type]
                      account=account.name)  # fmt: skip
    return {"participant_id": a.participant_id, "site": a.site, "sequence": a.sequence, "status": status,
            "status_label": LABELS[status]}  # fmt: skip


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


__all__ = ["allocation_message", "notify_allocation", "record"]
