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

from typing import Any

from advance_trial.errors import UsageError
from advance_trial.service.accounts import Account, ForbiddenError
from advance_trial.service.core import Service, allocation_message, notify_allocation

ROLES = ("site_ra", "statistician")


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


__all__ = ["allocation_message", "notify_allocation", "record"]  # the e-mail: advance_trial.service.core
