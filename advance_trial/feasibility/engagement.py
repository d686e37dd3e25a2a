"""Engagement by component: for each part of the schedule (a goal-setting session, the groups, website
sessions, coaching calls, a booster ...), the men offered it who started it and who completed it.

A component is one entry of ``schedule.sessions``; its sessions are the entry's, numbered within their
type as the attendance file numbers them. Every per-man count comes from the subject-level data set
(``attended_<component>``, :func:`advance_trial.analysis.subjects.derive_components`); the denominator
is the men randomised (or enrolled) to the arm offered sessions, whether or not they attended.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from advance_trial.analysis import AnalysisData
from advance_trial.analysis.subjects import components
from advance_trial.config.models import Config
from advance_trial.intervals import describe, proportion_ci, quartiles
from advance_trial.output.tables import Table

COLUMNS = ("component", "label", "type", "sessions", "compulsory", "arm", "n", "n_started", "proportion_started",
           "ci_lower_started", "ci_upper_started", "n_completed", "proportion_completed", "ci_lower_completed",
           "ci_upper_completed", "ci_method", "median_attended", "q1_attended", "q3_attended")  # fmt: skip


def engagement_table(cfg: Config, ads: AnalysisData) -> Table:
    """One row per component of the schedule; empty without a schedule."""
    rep = cfg.reporting
    rows: list[dict[str, Any]] = []
    men = ads.offered
    if cfg.schedule is not None:
        for comp in components(cfg):
            counts = men[f"attended_{comp.id}"].to_numpy(dtype=int)
            n = len(counts)
            started, completed = int((counts >= 1).sum()), int((counts >= comp.sessions).sum())
            s = proportion_ci(started, n, rep.proportion_ci, rep.ci_level)
            c = proportion_ci(completed, n, rep.proportion_ci, rep.ci_level)
            q1, med, q3 = quartiles(counts)
            rows.append({
                "component": comp.id, "label": comp.label, "type": comp.type, "sessions": comp.sessions,
                "compulsory": comp.compulsory, "arm": cfg.schedule.arm, "n": n, "n_started": started,
                "proportion_started": s.estimate, "ci_lower_started": s.ci_lower, "ci_upper_started": s.ci_upper,
                "n_completed": completed, "proportion_completed": c.estimate, "ci_lower_completed": c.ci_lower,
                "ci_upper_completed": c.ci_upper, "ci_method": s.method, "median_attended": med,
                "q1_attended": q1, "q3_attended": q3,
            })  # fmt: skip
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    if len(df):
        df[["sessions", "n", "n_started", "n_completed"]] = df[["sessions", "n", "n_started", "n_completed"]].astype(
            np.int64
        )
    who = cfg.entered + ("" if cfg.trial.design == "single_arm" else " to the arm offered sessions")
    notes = (f"Started: attended at least one of the component's sessions; completed: attended all of them; of the "
             f"men {who}, whether or not they attended; {describe(rep.proportion_ci, rep.ci_level)}. "
             "Sessions attended: median and quartiles (R type 7).",)  # fmt: skip
    return Table("engagement", df, "Engagement by component of the programme", notes)
