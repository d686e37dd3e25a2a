"""Recruitment (randomised / eligible) and allocation, by site and in total."""

from __future__ import annotations

import pandas as pd

from advance_trial.analysis import AnalysisData
from advance_trial.config import Config
from advance_trial.results.labels import VOCABULARY
from advance_trial.results.layout import frame
from advance_trial.results.verbs import Target, ard_count, bind_results, cells_of, proportion_rows, stat_rows
from advance_trial.tabulate import mask_for

RECRUITMENT_COLUMNS = ["site", "n_screened", "n_eligible", "n_randomised", "proportion", "ci_lower", "ci_upper",
                       "ci_method"]  # fmt: skip


def recruitment_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of recruitment: men screened and eligible (from screening), men randomised, and
    randomised / eligible with its interval, by site (and ``all``)."""
    rep = cfg.reporting
    to = Target("recruitment", "recruitment", "men eligible at screening", VOCABULARY["randomised"])
    scr, part = ads.screened, ads.men
    parts = []
    for combo, s in cells_of(scr, [("site", cfg.site_ids)]):
        n_eligible = int(s["eligible"].sum())
        n_randomised = int(mask_for(part, combo).sum())
        rows = stat_rows(to, combo, "randomised", None, {"n_screened": len(s)})
        rows += proportion_rows(to, combo, "randomised", None, n_randomised, n_eligible, method=rep.proportion_ci,
                                ci_level=rep.ci_level, total="n_eligible", count="n_randomised")  # fmt: skip
        parts.append(frame(rows))
    return bind_results(parts)


def allocation_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of allocation: men randomised to each arm, by site (and ``all`` for both)."""
    to = Target("allocation", "recruitment", "men randomised", VOCABULARY["randomised"])
    return ard_count(ads.men, to, "randomised", by=[("site", cfg.site_ids), ("arm", cfg.arm_ids)])
