"""Retention (the contract's name for it): written in :mod:`advance_trial.feasibility.retention`, beside the other
feasibility analyses; every name is re-exported here."""

from __future__ import annotations

from advance_trial.feasibility.retention import (
    STATES,
    difference_results,
    followup_states,
    followup_timepoints,
    intervention_arm,
    partner_contact_results,
    partner_retention_results,
    reasons_results,
    retention_results,
)

__all__ = [
    "STATES",
    "difference_results",
    "followup_states",
    "followup_timepoints",
    "intervention_arm",
    "partner_contact_results",
    "partner_retention_results",
    "reasons_results",
    "retention_results",
]
