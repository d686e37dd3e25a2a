"""What a trial does with its allocation log: create it, allocate, unblind, correct, amend, export, verify.

Every function here takes the config and the trial's :class:`KeyRing`. Each
step that writes runs under the trial's exclusive lock: it verifies the whole
log first (chain, checkpoint, replay) and refuses to act on a bad one (exit 5,
nothing written), then appends one authenticated row, commits, and moves the
checkpoint. Who acted is the operating-system user; a free-text ``note`` may
add to it but never replaces it.

This module gathers, under the one name callers use, what is written in four: the log and its step
(:mod:`~advance_trial.randomisation.trial_log`), the verbs (:mod:`~advance_trial.randomisation.verbs`), the
exports and lists (:mod:`~advance_trial.randomisation.exports`) and the reads, verification and reconciliation
(:mod:`~advance_trial.randomisation.reports`).
"""

from __future__ import annotations

from advance_trial.randomisation.exports import (
    EXPORT_FILE,
    LIST_FILES,
    WrittenFile,
    concealed_list,
    export,
    first_list_difference,
    output_folder,
    write_committed,
    write_export,
    write_list,
)
from advance_trial.randomisation.reports import (
    allocated_men,
    allocations,
    events,
    log_summary,
    reconcile,
    verify_log,
)
from advance_trial.randomisation.request import Prepared
from advance_trial.randomisation.trial_log import (
    MIN_REASON_WORDS,
    Allocation,
    VerifyReport,
    actor_name,
    check_design,
    log_path,
    trial_key,
)
from advance_trial.randomisation.verbs import (
    REFUSALS,
    allocate,
    allocate_many,
    allocate_with_others,
    amend,
    check_eligible,
    copy_log,
    correct,
    enter_backup,
    init_log,
    prepare,
    record,
    unblind,
    write_first_row,
)

__all__ = [
    "MIN_REASON_WORDS",
    "Allocation",
    "VerifyReport",
    "log_path",
    "trial_key",
    "check_design",
    "actor_name",
    "init_log",
    "write_first_row",
    "amend",
    "check_eligible",
    "allocate",
    "allocate_many",
    "allocate_with_others",
    "REFUSALS",
    "prepare",
    "Prepared",
    "enter_backup",
    "unblind",
    "correct",
    "record",
    "copy_log",
    "export",
    "concealed_list",
    "first_list_difference",
    "WrittenFile",
    "EXPORT_FILE",
    "LIST_FILES",
    "output_folder",
    "write_export",
    "write_list",
    "write_committed",
    "verify_log",
    "events",
    "allocated_men",
    "allocations",
    "reconcile",
    "log_summary",
]
