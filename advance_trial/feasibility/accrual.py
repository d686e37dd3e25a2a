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
from advance_trial.results.layout import frame
from advance_trial.results.verbs import Target, ard_rate, bind_results, stat_rows
from advance_trial.tabulate import ALL

if TYPE_CHECKING:
    from advance_trial.analysis import AnalysisData
    from advance_trial.config import Config


def _month(d: pd.Series) -> pd.Series:
    return pd.Series(d.dt.year * 12 + d.dt.month - 1, index=d.index)


def site_months(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """Men randomised in each recruiting month of each site (and of the trial, as site ``all``), in order.

    Returns
    -------
    DataFrame
        ``site, month`` (``YYYY-MM``), ``n_randomised``, ``cumulative``: one row per recruiting month.
    """
    men = ads.men
    rows: list[tuple[str, str, int, int]] = []
    for site in [*cfg.site_ids, ALL]:
        at = men if site == ALL else men[men["site"].astype(str) == site]
        if at.empty:
            continue
        months = _month(at["randomised_on"])
        counts = months.value_counts()
        total = 0
        for m in range(int(months.min()), int(months.max()) + 1):
            n = int(counts.get(m, 0))
            total += n
            rows.append((site, f"{m // 12:04d}-{m % 12 + 1:02d}", n, total))
    return pd.DataFrame(rows, columns=["site", "month", "n_randomised", "cumulative"])


def monthly_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of men randomised per site per recruiting month, and cumulatively, and the trial's
    as site ``all`` (:func:`site_months`)."""
    to = Target("recruitment_monthly", "recruitment", "men randomised", VOCABULARY["randomised"])
    rows: list[list[Any]] = []
    for site, month, n, total in site_months(cfg, ads).itertuples(index=False):
        rows += stat_rows(to, {"site": site}, "randomised", month, {"n_randomised": n, "cumulative": total})
    return frame(rows)


def rate_results(cfg: Config, ads: AnalysisData, definitive_n: int | None = None) -> pd.DataFrame:
    """The results rows of men per site-month by site and overall (exact Poisson intervals), and the months
    a definitive trial of ``definitive_n`` men would need at that rate."""
    level = cfg.reporting.ci_level
    monthly = site_months(cfg, ads)
    target = definitive_n or cfg.trial.target_sample_size
    sites = (cfg.planning.sites if cfg.planning and cfg.planning.sites else None) or len(cfg.site_ids)
    to = Target("recruitment_rate", "recruitment", "recruiting site-months",
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
