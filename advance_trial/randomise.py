"""The allocation methods (the contract's name for them): written in :mod:`advance_trial.randomisation.methods`,
beside the log that uses them; every name is re-exported here."""

from __future__ import annotations

from advance_trial.randomisation.methods import (
    DERIVATION,
    BlockList,
    ListEntry,
    MarginCounts,
    MinimisationDraw,
    Stratum,
    Stream,
    add_to_margins,
    below,
    canon,
    check_block_sizes,
    minimisation_decision,
    minimisation_scores,
    permuted_block,
    pick_by_ratio,
    required_factors,
    stratified_block_arms,
    stratum_of,
    stratum_text,
)

__all__ = [
    "DERIVATION",
    "Stratum",
    "canon",
    "stratum_text",
    "stratum_of",
    "Stream",
    "below",
    "ListEntry",
    "check_block_sizes",
    "permuted_block",
    "BlockList",
    "pick_by_ratio",
    "MarginCounts",
    "minimisation_scores",
    "MinimisationDraw",
    "minimisation_decision",
    "add_to_margins",
    "stratified_block_arms",
    "required_factors",
]
