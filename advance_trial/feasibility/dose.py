"""Treatment dose: sessions and hours attended, and the config's dose thresholds.

Dose is reported for the arm offered sessions (``schedule.arm``). The
denominator is every man randomised to that arm: a man with no attendance
record attended nothing. Sessions count when ``attended`` is true; hours are
the hours recorded for attended sessions.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from advance_trial.analysis import AnalysisData
from advance_trial.config import Config
from advance_trial.results.labels import VOCABULARY
from advance_trial.results.layout import frame
from advance_trial.results.verbs import (
    Target,
    ard_continuous,
    ard_count,
    ard_proportion,
    bind_results,
    cells_of,
    stat_rows,
)
from advance_trial.tabulate import ALL

PER_MAN_COLUMNS = ["participant_id", "arm", "site", "cycle", "group_id", "sessions", "compulsory_sessions", "hours",
                   "compulsory_hours", "compulsory_percent"]  # fmt: skip


def dose_per_man(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """Each man randomised to the arm offered sessions, with what he attended (from the subject-level
    data set).

    Returns
    -------
    DataFrame
        ``participant_id, arm, site, cycle, group_id, sessions, compulsory_sessions, hours,
        compulsory_hours, compulsory_percent``, then one boolean column per threshold (named by its id).
    """
    if cfg.schedule is None:
        return pd.DataFrame(columns=PER_MAN_COLUMNS)
    met = {f"met_{th.id}": th.id for th in cfg.thresholds}
    return ads.offered[[*PER_MAN_COLUMNS, *met]].rename(columns=met).reset_index(drop=True)


DOSE_COLUMNS = [
    "threshold", "rule", "arm", "cycle", "site", "n", "n_met", "proportion", "ci_lower", "ci_upper",
    "ci_method", "median_sessions", "q1_sessions", "q3_sessions", "median_hours", "q1_hours", "q3_hours",
]  # fmt: skip
_QUARTILES = ("median", "q1", "q3")
#: Whom the dose tables' proportions are of.
OFFERED = "men randomised to the arm offered sessions"


def _to(cfg: Config, name: str, variable: str) -> Target:
    labels = {th.id: th.label for th in cfg.thresholds if th.label}
    return Target(name, "dose", OFFERED, labels.get(variable) or VOCABULARY.get(variable, ""))


def dose_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of the dose thresholds: men meeting each (with the interval), its rule, and medians
    and quartiles of compulsory sessions and of hours, by cycle and by site (with totals)."""
    rep = cfg.reporting
    per = dose_per_man(cfg, ads)
    fixed = {"arm": cfg.schedule.arm if cfg.schedule else None}
    cuts = [{"cycle": str(c), "site": ALL} for c in cfg.cycles]
    cuts += [{"cycle": ALL, "site": s} for s in cfg.site_ids]
    cuts.append({"cycle": ALL, "site": ALL})
    parts = []
    for th in cfg.thresholds:
        to = _to(cfg, "dose", th.id)
        rule = [stat_rows(to, {**fixed, **cut}, th.id, None, {"rule": th.rule}, method=rep.proportion_ci)
                for cut in cuts]  # fmt: skip
        parts += [frame([r for rows in rule for r in rows]),
                  ard_proportion(per, to, th.id, th.id, cells=cuts, fixed=fixed, method=rep.proportion_ci,
                                 ci_level=rep.ci_level, total="n", count="n_met")]  # fmt: skip
        for column, suffix in (("compulsory_sessions", "sessions"), ("hours", "hours")):
            names = {q: f"{q}_{suffix}" for q in _QUARTILES}
            parts.append(
                ard_continuous(per, to, th.id, column, cells=cuts, fixed=fixed, names=names, method=rep.proportion_ci)
            )
    return bind_results(parts)


#: The dose measures summarised by :func:`dose_summary_results`.
SUMMARY_MEASURES = ("compulsory_sessions", "sessions", "hours", "compulsory_percent")


def dose_summary_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of medians and quartiles of dose overall and by cycle, site and therapy group."""
    per = dose_per_man(cfg, ads)
    per = per.assign(group=per["group_id"])
    cuts: list[dict[str, str]] = [{"all": ALL}]
    for by, levels in (("cycle", [str(c) for c in cfg.cycles]), ("site", cfg.site_ids)):
        cuts += [{by: lv} for lv in levels]
    cuts += [{"group": str(g)} for g in sorted(per["group_id"].dropna().unique())]
    to = _to(cfg, "dose_summary", "dose")
    parts = [ard_count(per, to, "dose", cells=cuts)]
    for measure in SUMMARY_MEASURES:
        names = {q: f"{q}_{measure}" for q in _QUARTILES}
        parts.append(ard_continuous(per, to, "dose", measure, cells=cuts, names=names))
    return bind_results(parts)


def distribution_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of how many men attended each number of compulsory sessions, by cycle (and ``all``)."""
    per = dose_per_man(cfg, ads)
    n_comp = sum(p.compulsory for p in cfg.session_plan())
    to = _to(cfg, "dose_distribution", "compulsory_sessions")
    rows: list[list[Any]] = []
    for combo, cell in cells_of(per, [("cycle", [str(c) for c in cfg.cycles])]):
        counts = cell["compulsory_sessions"].value_counts()
        for k in range(n_comp + 1):
            rows += stat_rows(to, combo, "compulsory_sessions", k, {"n": int(counts.get(k, 0))})
    return frame(rows)
