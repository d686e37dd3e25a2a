"""A man's withdrawal, or his randomisation in error, recorded in the allocation log (his arm never changes).

Both are ``correction`` events in the chain: a withdrawal's detail says ``withdrawn``, a randomisation in
error's ``randomised_in_error`` (as ``randomise correct`` writes it). Each names who recorded it and why; the
allocation itself stays as it was, and analyses decide what to do with him (intention to treat keeps him).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from advance_trial.config.models import Config
from advance_trial.randomisation import methods as rz
from advance_trial.randomisation import trial_log as al
from advance_trial.randomisation.database import Location
from advance_trial.randomisation.key import KeyRing
from advance_trial.randomisation.request import normalise_id

Status = Literal["withdrawn", "randomised_in_error"]
#: How each is said on a page.
LABELS: dict[str, str] = {"withdrawn": "withdrawn", "randomised_in_error": "randomised in error"}


def record_status(cfg: Config, ring: KeyRing, participant_id: str, status: Status, reason: str, *,
                  log: str | Path | Location | None = None, account: str | None = None) -> al.Allocation:  # fmt: skip
    """Record that an allocated man withdrew, or was randomised in error, with the reason (at least three words).

    Raises
    ------
    NotAllocatedError
        He is not allocated.
    DataError
        It is recorded already.
    UsageError
        A reason of fewer than three words, or another status.
    """
    from advance_trial.errors import UsageError

    if status not in LABELS:
        raise UsageError(f"status {status!r}: one of {', '.join(LABELS)}")
    text = al._reason(reason)
    pid = normalise_id(cfg, participant_id)
    with al._writing(cfg, ring, al.log_path(cfg, log), account=account) as step:
        man = al._allocated(step.state, pid, "status")
        if man.withdrawn if status == "withdrawn" else man.in_error:
            raise al._refuse("status", "--participant", pid, f"already recorded as {LABELS[status]}")
        detail = rz.canon({status: True, "reason": text})
        step.append("correction", {"participant_id": pid, "site": man.site, "sequence": man.sequence,
                                   "detail": detail})  # fmt: skip
    return al._as_allocation(step.state, pid, False, {})


__all__ = ["LABELS", "Status", "record_status"]
