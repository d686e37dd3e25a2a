"""Engagement by component: for each part of the schedule (a goal-setting session, the groups, website
sessions, coaching calls, a booster ...), the men offered it who started it and who completed it.

A component is one entry of ``schedule.sessions``; its sessions are the entry's, numbered within their
type as the attendance file numbers them. Every per-man count comes from the subject-level data set
(``attended_<component>``, :func:`advance_trial.analysis.subjects.derive_components`); the denominator
is the men randomised (or enrolled) to the arm offered sessions, whether or not they attended.
"""

from __future__ import annotations

import pandas as pd

from advance_trial.analysis import AnalysisData
from advance_trial.analysis.subjects import components
from advance_trial.config.models import Config
from advance_trial.feasibility.dose import OFFERED
from advance_trial.results.layout import frame
from advance_trial.results.verbs import Target, ard_continuous, bind_results, proportion_rows, stat_rows

COLUMNS = ("component", "label", "type", "sessions", "compulsory", "arm", "n", "n_started", "proportion_started",
           "ci_lower_started", "ci_upper_started", "n_completed", "proportion_completed", "ci_lower_completed",
           "ci_upper_completed", "ci_method", "median_attended", "q1_attended", "q3_attended")  # fmt: skip


def engagement_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of engagement: for each component, its label, type, sessions and whether it is
    compulsory, the men offered it, who started it and who completed it (each with its interval), and the
    median and quartiles of sessions attended."""
    rep = cfg.reporting
    men = ads.offered
    if cfg.schedule is None:
        return frame([])
    fixed = {"arm": cfg.schedule.arm}
    parts = []
    for comp in components(cfg):
        to = Target("engagement", "engagement", OFFERED, comp.label)
        counts = men[f"attended_{comp.id}"].to_numpy(dtype=int)
        n = len(counts)
        started, completed = int((counts >= 1).sum()), int((counts >= comp.sessions).sum())
        about = {"label": comp.label, "type": comp.type, "sessions": comp.sessions, "compulsory": comp.compulsory}
        rows = stat_rows(to, fixed, comp.id, None, about, method=rep.proportion_ci)
        for k, suffix, total in ((started, "_started", "n"), (completed, "_completed", None)):
            rows += proportion_rows(to, fixed, comp.id, None, k, n, method=rep.proportion_ci, ci_level=rep.ci_level,
                                    total=total, count=f"n{suffix}", suffix=suffix)  # fmt: skip
        names = {q: f"{q}_attended" for q in ("median", "q1", "q3")}
        attended = pd.DataFrame({"attended": counts})
        parts += [frame(rows), ard_continuous(attended, to, comp.id, "attended", cells=[{}], fixed=fixed,
                                              names=names, method=rep.proportion_ci)]  # fmt: skip
    return bind_results(parts)
