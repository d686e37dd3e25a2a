"""Retention (the contract's name for it): written in :mod:`advance_trial.feasibility.retention`, beside the other
feasibility analyses; every name is re-exported here."""

from __future__ import annotations

from advance_trial.feasibility.retention import (
    RETENTION_COLUMNS,
    STATES,
    difference_table,
    followup_states,
    followup_timepoints,
    intervention_arm,
    overall,
    partner_contact_table,
    partner_retention_table,
    reasons_table,
    retention_table,
)

__all__ = [
    "STATES",
    "difference_table",
    "followup_states",
    "followup_timepoints",
    "intervention_arm",
    "overall",
    "partner_contact_table",
    "partner_retention_table",
    "reasons_table",
    "retention_table",
    "RETENTION_COLUMNS",
]
