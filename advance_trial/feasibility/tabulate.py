"""Breakdowns with totals: written in :mod:`advance_trial.tabulate` (shared by the analyses and the output); every
name is re-exported here."""

from __future__ import annotations

from advance_trial.tabulate import (
    ALL,
    margins,
    mask_for,
)

__all__ = [
    "ALL",
    "margins",
    "mask_for",
]
