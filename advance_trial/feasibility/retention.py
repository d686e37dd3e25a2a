"""Retention: men (and partners) followed up at each timepoint.

A man is retained at a timepoint when his follow-up there is ``completed`` within
the timepoint's window (``due_on`` plus ``window_weeks``). A follow-up completed
outside the window is counted apart, as ``outside_window``, never as retained.
The denominator is always the men randomised (to the arm, at the site).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from advance_trial.analysis import STATES, AnalysisData, followup_timepoints, intervention_arm
from advance_trial.config import Config
from advance_trial.results.labels import VOCABULARY
from advance_trial.results.layout import frame
from advance_trial.results.verbs import (
    Target,
    ard_count,
    ard_difference,
    ard_proportion,
    bind_results,
    cells_of,
    stat_rows,
)

__all__ = [
    "STATES", "difference_results", "followup_states", "followup_timepoints", "intervention_arm",
    "partner_contact_results", "partner_retention_results", "reasons_results", "retention_results",
]  # fmt: skip

#: Whom each table's proportions are of.
DENOMINATORS = {"retention": "men randomised", "retention_reasons": "men randomised",
                "retention_difference": "men randomised", "partner_retention": "partners who consented",
                "partner_contact": "partners identified"}  # fmt: skip


def followup_states(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """Each man's state at each follow-up timepoint, long: read from the subject-level data set.

    Returns
    -------
    DataFrame
        ``participant_id, arm, site, cycle, timepoint, state`` with ``state`` one of :data:`STATES`.
    """
    men = ads.men
    frames = [men[["participant_id", "arm", "site", "cycle"]].assign(timepoint=tp, state=men[f"state_{tp}"])
              for tp in followup_timepoints(cfg)]  # fmt: skip
    if not frames:
        return pd.DataFrame(columns=["participant_id", "arm", "site", "cycle", "timepoint", "state"])
    return pd.concat(frames, ignore_index=True)


def _dims(cfg: Config, by: str) -> list[tuple[str, list[str]]]:
    if by == "cycle":
        return [("arm", cfg.arm_ids), ("site", []), ("cycle", [str(c) for c in cfg.cycles])]
    return [("arm", cfg.arm_ids), ("site", cfg.site_ids), ("cycle", [])]


def _target(name: str, variable: str) -> Target:
    return Target(name, "retention", DENOMINATORS[name], VOCABULARY[variable])


def retention_results(cfg: Config, ads: AnalysisData, by: Literal["site", "cycle"] = "site") -> pd.DataFrame:
    """The results rows of retention: men retained at each follow-up timepoint with the interval, and men
    followed up outside the window, by arm and site (or cycle), with totals."""
    rep = cfg.reporting
    states = followup_states(cfg, ads)
    to = _target("retention", "retained")
    parts = []
    for tp_id in followup_timepoints(cfg):
        s = states[states["timepoint"] == tp_id]
        retained, outside = s["state"] == "retained", s["state"] == "outside_window"
        parts += [ard_proportion(s.assign(_retained=retained), to, "retained", "_retained", by=_dims(cfg, by),
                                 level=tp_id, method=rep.proportion_ci, ci_level=rep.ci_level, total="n_randomised",
                                 count="n_retained"),
                  ard_count(s.assign(_outside=outside), to, "retained", by=_dims(cfg, by), level=tp_id,
                            where="_outside", stat_name="n_outside_window")]  # fmt: skip
    return bind_results(parts)


def reasons_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of each follow-up state by arm: men in it, men randomised, and the share (no
    interval)."""
    states = followup_states(cfg, ads)
    to = _target("retention_reasons", "followup_state")
    rows: list[list[Any]] = []
    for tp_id in followup_timepoints(cfg):
        s = states[states["timepoint"] == tp_id]
        for combo, cell in cells_of(s, [("arm", cfg.arm_ids)]):
            for state in STATES:
                k = int((cell["state"] == state).sum())
                rows += stat_rows(to, {"timepoint": tp_id, **combo}, "followup_state", state,
                                  {"n": k, "n_randomised": len(cell),
                                   "proportion": k / len(cell) if len(cell) else float("nan")})  # fmt: skip
    return frame(rows)


def difference_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of retention in the intervention arm minus each other arm (Newcombe's hybrid score
    interval): contrasts between arms."""
    states = followup_states(cfg, ads)
    treat = intervention_arm(cfg)
    to = _target("retention_difference", "retained")
    parts = []
    if cfg.trial.design == "parallel":
        for tp_id in followup_timepoints(cfg):
            s = states[states["timepoint"] == tp_id]
            retained = s.assign(_retained=s["state"] == "retained")
            parts += [ard_difference(retained, to, "retained", "_retained", arm_column="arm", arm=treat,
                                     comparator=other, level=tp_id, ci_level=cfg.reporting.ci_level,
                                     count="n_retained")
                      for other in (x for x in cfg.arm_ids if x != treat)]  # fmt: skip
    return bind_results(parts)


def partner_retention_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of partners followed up (of partners who consented), by the man's arm and site."""
    rep = cfg.reporting
    pa = ads.partners
    tp = cfg.partners.timepoint if cfg.partners is not None else None
    if tp is None or not len(pa):
        return frame([])
    to = _target("partner_retention", "partner_retained")
    joined = pa[pa["consented"].fillna(False).to_numpy(dtype=bool)]
    joined = joined.assign(_retained=(joined["followup_status"] == "completed").fillna(False))
    return bind_results(
        ard_proportion(joined, to, "partner_retained", "_retained", by=_dims(cfg, "site"), level=tp,
                       method=rep.proportion_ci, ci_level=rep.ci_level, total="n_randomised", count="n_retained"),
        ard_count(joined, to, "partner_retained", by=_dims(cfg, "site"), level=tp, where=lambda c: np.zeros(len(c)),
                  stat_name="n_outside_window"),
    )  # fmt: skip


def partner_contact_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of partners contacted (of partners identified), by the man's arm and site."""
    rep = cfg.reporting
    joined = ads.partners
    if not len(joined) or "contacted" not in joined.columns:
        return frame([])
    to = _target("partner_contact", "partner_contacted")
    return ard_proportion(joined, to, "partner_contacted", "contacted",
                          by=[("arm", cfg.arm_ids), ("site", cfg.site_ids)], method=rep.proportion_ci,
                          ci_level=rep.ci_level, total="n_partners", count="n_contacted")  # fmt: skip
