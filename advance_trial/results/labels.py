"""The words a reader sees for a results row's variable: the config's labels, else the vocabulary's."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advance_trial.config.models import Config

#: Variables every run has, in words.
VOCABULARY = {
    "randomised": "Men randomised",
    "retained": "Men followed up within the window",
    "followup_state": "Follow-up outcome",
    "partner_retained": "Partners followed up",
    "partner_contacted": "Partners contacted",
    "dose": "Dose",
    "compulsory_sessions": "Compulsory sessions attended",
    "rate_per_site_month": "Men randomised per site-month",
    "any": "Any event",
    "any_serious": "Any serious event",
    "any_related": "Any event related to the intervention",
}


def variable_labels(cfg: Config) -> dict[str, str]:
    """Variable id -> label: outcomes, thresholds, criteria, baseline variables, event categories and
    components from the config (an id without a label is left to the vocabulary), then :data:`VOCABULARY`."""
    from advance_trial.analysis.subjects import components

    out = dict(VOCABULARY)
    for items in (cfg.outcomes, cfg.thresholds, cfg.progression):
        out |= {x.id: x.label for x in items if x.label}
    if cfg.baseline_table is not None:
        out |= {v.id: v.label for v in cfg.baseline_table.variables}
    if cfg.events is not None:
        out |= {c.id: c.label for c in cfg.events.categories}
    out |= {c.id: c.label for c in components(cfg)}
    return out
