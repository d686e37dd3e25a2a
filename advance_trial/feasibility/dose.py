"""Treatment dose: sessions and hours attended, and the config's dose thresholds.

Dose is reported for the arm offered sessions (``schedule.arm``). The
denominator is every man randomised to that arm: a man with no attendance
record attended nothing. Sessions count when ``attended`` is true; hours are
the hours recorded for attended sessions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from advance_trial.analysis import AnalysisData
from advance_trial.config import Config
from advance_trial.intervals import describe, proportion_ci, quartiles
from advance_trial.output.tables import Table
from advance_trial.tabulate import ALL, margins, mask_for

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


def dose_table(cfg: Config, ads: AnalysisData) -> Table:
    """Men meeting each threshold, by cycle and by site (with totals), with medians of dose.

    ``median_sessions`` is the median number of compulsory sessions attended and ``median_hours``
    the median hours attended (all sessions), both over every man randomised to the arm.
    """
    rep = cfg.reporting
    per = dose_per_man(cfg, ads)
    rows = []
    arm = cfg.schedule.arm if cfg.schedule else None
    cuts = [{"cycle": str(c), "site": ALL} for c in cfg.cycles]
    cuts += [{"cycle": ALL, "site": s} for s in cfg.site_ids]
    cuts.append({"cycle": ALL, "site": ALL})
    for th in cfg.thresholds:
        for cut in cuts:
            cell = per[mask_for(per, cut)]
            k = int(cell[th.id].sum())
            est = proportion_ci(k, len(cell), rep.proportion_ci, rep.ci_level)
            q1s, meds, q3s = quartiles(cell["compulsory_sessions"].to_numpy())
            q1h, medh, q3h = quartiles(cell["hours"].to_numpy())
            rows.append(
                {"threshold": th.id, "rule": th.rule, "arm": arm, "cycle": cut["cycle"], "site": cut["site"],
                 "n": len(cell), "n_met": k, "proportion": est.estimate, "ci_lower": est.ci_lower,
                 "ci_upper": est.ci_upper, "ci_method": est.method, "median_sessions": meds, "q1_sessions": q1s,
                 "q3_sessions": q3s, "median_hours": medh, "q1_hours": q1h, "q3_hours": q3h}
            )  # fmt: skip
    cols = [
        "threshold", "rule", "arm", "cycle", "site", "n", "n_met", "proportion", "ci_lower", "ci_upper",
        "ci_method", "median_sessions", "q1_sessions", "q3_sessions", "median_hours", "q1_hours", "q3_hours",
    ]  # fmt: skip
    n_comp = sum(p.compulsory for p in cfg.session_plan())
    return Table(
        "dose",
        pd.DataFrame(rows, columns=cols),
        "Men meeting each dose threshold",
        (
            f"Denominator (n): men randomised to {arm}, whether or not they attended; "
            f"{describe(rep.proportion_ci, rep.ci_level)}.",
            f"median_sessions: compulsory sessions attended (of {n_comp}); median_hours: hours attended, all sessions; "
            "quartiles by linear interpolation (R type 7).",
        ),
    )


def dose_summary_table(cfg: Config, ads: AnalysisData) -> Table:
    """Medians and quartiles of dose overall and by cycle, site and therapy group."""
    per = dose_per_man(cfg, ads)
    n_comp = sum(p.compulsory for p in cfg.session_plan())
    cuts: list[tuple[str, str, np.ndarray]] = [("all", ALL, np.ones(len(per), dtype=bool))]
    for by, levels in (("cycle", [str(c) for c in cfg.cycles]), ("site", cfg.site_ids)):
        cuts += [(by, lv, mask_for(per, {by: lv})) for lv in levels]
    for g in sorted(per["group_id"].dropna().unique()):
        cuts.append(("group", str(g), (per["group_id"] == g).fillna(False).to_numpy(dtype=bool)))
    rows = []
    for by, level, keep in cuts:
        cell = per[keep]
        row = {"by": by, "level": level, "n": len(cell)}
        for measure in ("compulsory_sessions", "sessions", "hours", "compulsory_percent"):
            q1, med, q3 = quartiles(cell[measure].to_numpy())
            row |= {f"median_{measure}": med, f"q1_{measure}": q1, f"q3_{measure}": q3}
        rows.append(row)
    return Table(
        "dose_summary",
        pd.DataFrame(rows),
        "Dose: medians and quartiles",
        (
            f"Over men randomised to {cfg.schedule.arm if cfg.schedule else '-'}; compulsory_percent is of {n_comp} "
            "compulsory sessions; group: the man's therapy group (men who attended no group session have none); "
            "quartiles by linear interpolation (R type 7).",
        ),
    )


def dose_participants_table(cfg: Config, ads: AnalysisData) -> Table:
    """Per-man dose, for checking by hand (about individual men; never shareable)."""
    return Table(
        "dose_participants",
        dose_per_man(cfg, ads),
        "Dose per man",
        ("One row per man randomised to the arm offered sessions; not for sharing.",),
        markdown=False,
    )


def distribution_table(cfg: Config, ads: AnalysisData) -> Table:
    """How many men attended each number of compulsory sessions, by cycle (and ``all``)."""
    per = dose_per_man(cfg, ads)
    n_comp = sum(p.compulsory for p in cfg.session_plan())
    rows = []
    for combo in margins([("cycle", [str(c) for c in cfg.cycles])]):
        cell = per[mask_for(per, combo)]
        counts = cell["compulsory_sessions"].value_counts()
        rows += [
            {"cycle": combo["cycle"], "compulsory_sessions": k, "n": int(counts.get(k, 0))} for k in range(n_comp + 1)
        ]
    return Table(
        "dose_distribution",
        pd.DataFrame(rows, columns=["cycle", "compulsory_sessions", "n"]),
        "Compulsory sessions attended",
        (
            f"Men randomised to {cfg.schedule.arm if cfg.schedule else '-'}, "
            "by the number of compulsory sessions attended (counts; no intervals).",
        ),
    )
