"""Recruitment (randomised / eligible) and allocation, by site and in total."""

from __future__ import annotations

import pandas as pd

from advance_trial.analysis import AnalysisData
from advance_trial.config import Config
from advance_trial.intervals import describe, proportion_ci
from advance_trial.output.tables import Table
from advance_trial.tabulate import ALL, margins, mask_for


def recruitment_table(cfg: Config, ads: AnalysisData) -> Table:
    """Men screened, eligible and randomised by site (and ``all``), with randomised / eligible.

    The denominator is men found eligible at screening; the interval is the config's
    ``reporting.proportion_ci`` at ``reporting.ci_level``.
    """
    rep = cfg.reporting
    scr, part = ads.screened, ads.men
    rows = []
    for combo in margins([("site", cfg.site_ids)]):
        s = scr[mask_for(scr, combo)]
        n_eligible = int(s["eligible"].sum())
        n_randomised = int(mask_for(part, combo).sum())
        est = proportion_ci(n_randomised, n_eligible, rep.proportion_ci, rep.ci_level)
        rows.append(
            {
                "site": combo["site"],
                "n_screened": len(s),
                "n_eligible": n_eligible,
                "n_randomised": n_randomised,
                "proportion": est.estimate,
                "ci_lower": est.ci_lower,
                "ci_upper": est.ci_upper,
                "ci_method": est.method,
            }
        )
    verb = cfg.entered
    return Table(
        "recruitment",
        pd.DataFrame(rows),
        f"Recruitment: men {verb} of men eligible",
        (
            f"Proportion = men {verb} / men eligible at screening; {describe(rep.proportion_ci, rep.ci_level)}.",
            "Eligible men include those who declined or were not randomised.",
        ),
    )


def allocation_table(cfg: Config, ads: AnalysisData) -> Table:
    """Men randomised to each arm, by site (and ``all`` for both)."""
    part = ads.men
    rows = [
        {"site": c["site"], "arm": c["arm"], "n": int(mask_for(part, c).sum())}
        for c in margins([("site", cfg.site_ids), ("arm", cfg.arm_ids)])
    ]
    return Table(
        "allocation",
        pd.DataFrame(rows),
        "Allocation by site and arm",
        (f"Counts of men randomised (no intervals); '{ALL}' rows are totals.",),
    )
