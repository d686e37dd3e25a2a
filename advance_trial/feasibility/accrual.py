"""Recruitment over time: men randomised per site per recruiting month, and the rate per site-month.

A site's recruiting months run from the calendar month of its first randomisation to that of its
last, both included, months without a man counted as zeros. The rate is men per site-month with
the exact Poisson interval (Garwood 1936, as R's ``poisson.test``); the ``all`` row pools every site's
men over every site's recruiting months. With a definitive trial's size (the plan's total, else
``trial.target_sample_size``) and its number of sites (``planning.sites``, else the pilot's), the
months it would need at the observed rate follow, with the interval from the rate's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from advance_trial.intervals import poisson_interval  # here before intervals.py; still importable from here
from advance_trial.results.labels import VOCABULARY
from advance_trial.results.layout import LAYOUTS, display, frame
from advance_trial.results.table import Table
from advance_trial.results.verbs import Target, ard_rate, bind_results, stat_rows
from advance_trial.tabulate import ALL

if TYPE_CHECKING:
    from advance_trial.analysis import AnalysisData
    from advance_trial.config import Config


def _month(d: pd.Series) -> pd.Series:
    return pd.Series(d.dt.year * 12 + d.dt.month - 1, index=d.index)


def monthly_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of men randomised per site per recruiting month, and cumulatively, and the trial's
    as site ``all``."""
    men = ads.men
    to = Target("recruitment_monthly", "recruitment", LAYOUTS["recruitment_monthly"].denominator,
                VOCABULARY["randomised"])  # fmt: skip
    rows: list[list[Any]] = []
    for site in [*cfg.site_ids, "all"]:
        at = men if site == "all" else men[men["site"].astype(str) == site]
        if at.empty:
            continue
        months = _month(at["randomised_on"])
        counts = months.value_counts()
        total = 0
        for m in range(int(months.min()), int(months.max()) + 1):
            n = int(counts.get(m, 0))
            total += n
            rows += stat_rows(to, {"site": site}, "randomised", f"{m // 12:04d}-{m % 12 + 1:02d}",
                              {"n_randomised": n, "cumulative": total})  # fmt: skip
    return frame(rows)


def monthly_table(cfg: Config, ads: AnalysisData) -> Table:
    """Men randomised per site per recruiting month, and cumulatively (``recruitment_monthly``), and the
    trial's as site ``all``."""
    verb = cfg.entered
    return display(
        "recruitment_monthly",
        monthly_results(cfg, ads),
        ["site", "month", "n_randomised", "cumulative"],
        f"Men {verb} per site per recruiting month",
        ("A site's recruiting months run from the month of its first man to that of its last; months without a "
         "man are zeros; 'all' is the trial's, from its first man to its last.",),
    )  # fmt: skip


RATE_COLUMNS = ["site", "n_randomised", "site_months", "rate", "ci_lower", "ci_upper", "ci_method", "definitive_n",
                "definitive_sites", "months_needed", "months_ci_lower", "months_ci_upper"]  # fmt: skip


def rate_results(cfg: Config, ads: AnalysisData, definitive_n: int | None = None) -> pd.DataFrame:
    """The results rows of men per site-month by site and overall (exact Poisson intervals), and the months
    a definitive trial of ``definitive_n`` men would need at that rate."""
    level = cfg.reporting.ci_level
    monthly = monthly_table(cfg, ads).data
    target = definitive_n or cfg.trial.target_sample_size
    sites = (cfg.planning.sites if cfg.planning and cfg.planning.sites else None) or len(cfg.site_ids)
    to = Target("recruitment_rate", "recruitment", LAYOUTS["recruitment_rate"].denominator,
                VOCABULARY["rate_per_site_month"])  # fmt: skip
    parts = []
    for site in [*cfg.site_ids, ALL]:
        # overall: the site-months of every site (not the trial's own months, which its 'all' rows count)
        at = monthly[monthly["site"] != ALL] if site == ALL else monthly[monthly["site"] == site]
        n, months = int(at["n_randomised"].sum()), len(at)
        if not months:
            continue
        rate = n / months
        lo, hi = poisson_interval(n, months, level)
        extra: dict[str, Any] = {"definitive_n": target, "definitive_sites": sites, "months_needed": math.nan,
                                 "months_ci_lower": math.nan, "months_ci_upper": math.nan}  # fmt: skip
        if site == ALL and target and rate > 0:
            extra |= {"months_needed": target / (rate * sites), "months_ci_lower": target / (hi * sites),
                      "months_ci_upper": target / (lo * sites) if lo > 0 else math.inf}  # fmt: skip
        parts.append(ard_rate(n, months, to, "rate_per_site_month", {"site": site}, ci_level=level,
                              count_name="n_randomised", exposure_name="site_months", extra=extra))  # fmt: skip
    return bind_results(parts)


def rate_table(cfg: Config, ads: AnalysisData, definitive_n: int | None = None) -> Table:
    """Men per site-month by site and overall, with exact Poisson intervals, and the months a definitive
    trial of ``definitive_n`` men would need at that rate (``recruitment_rate``)."""
    level = cfg.reporting.ci_level
    return display(
        "recruitment_rate",
        rate_results(cfg, ads, definitive_n),
        RATE_COLUMNS,
        "Recruitment rate per site-month",
        (f"Rate = men / recruiting site-months; {level:.0%} exact Poisson interval (as R's poisson.test).",
         "months_needed: the definitive trial's men (the plan's total, else trial.target_sample_size) over the "
         "observed rate times its sites (planning.sites, else this trial's); the interval from the rate's."),
    )  # fmt: skip
