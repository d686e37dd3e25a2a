"""Treatment dose: sessions and hours attended, and the config's dose thresholds.

Dose is reported for the arm offered sessions (``schedule.arm``). The
denominator is every man randomised to that arm: a man with no attendance
record attended nothing. Sessions count when ``attended`` is true; hours are
the hours recorded for attended sessions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from advance_trial.canonical import CanonicalData
from advance_trial.config import Config
from advance_trial.config.models import Threshold
from advance_trial.intervals import describe, proportion_ci, quartiles
from advance_trial.results import Table
from advance_trial.tabulate import ALL, margins, mask_for

MEASURE_COLUMNS = {
    "sessions": "sessions",
    "compulsory_sessions": "compulsory_sessions",
    "hours": "hours",
    "compulsory_hours": "compulsory_hours",
}


def dose_per_man(cfg: Config, data: CanonicalData) -> pd.DataFrame:
    """Each man randomised to the arm offered sessions, with what he attended.

    Returns
    -------
    DataFrame
        ``participant_id, arm, site, cycle, group_id, sessions, compulsory_sessions,
        compulsory_percent, hours, compulsory_hours``, then one boolean column per threshold.
    """
    plan = cfg.session_plan()
    cols = ["participant_id", "arm", "site", "cycle", "group_id", *MEASURE_COLUMNS.values(), "compulsory_percent"]
    if cfg.schedule is None:
        return pd.DataFrame(columns=cols)
    compulsory = {(p.type, p.number) for p in plan if p.compulsory}
    n_compulsory = len(compulsory)
    men = data.participants.loc[
        data.participants["arm"] == cfg.schedule.arm, ["participant_id", "arm", "site", "cycle"]
    ]
    att = data.attendance
    is_comp = (
        pd.MultiIndex.from_arrays([att["session_type"], att["session_number"].astype(int)]).isin(list(compulsory))
        if len(compulsory) and len(att)
        else np.zeros(len(att), dtype=bool)
    )
    attended = att["attended"].fillna(False).to_numpy(dtype=bool)
    hours = att["hours"].fillna(0.0).to_numpy(dtype=float) * attended
    per = pd.DataFrame(
        {
            "participant_id": att["participant_id"].to_numpy(),
            "sessions": attended.astype(int),
            "compulsory_sessions": (attended & is_comp).astype(int),
            "hours": hours,
            "compulsory_hours": hours * is_comp,
        }
    )
    sums = per.groupby("participant_id").sum()
    groups = att.dropna(subset=["group_id"]).groupby("participant_id")["group_id"].min()  # the first, sorted
    out = men.join(sums, on="participant_id").join(groups, on="participant_id")
    for col in ("sessions", "compulsory_sessions"):
        out[col] = out[col].fillna(0).astype(int)
    for col in ("hours", "compulsory_hours"):
        out[col] = out[col].fillna(0.0).astype(float)
    out["compulsory_percent"] = 100.0 * out["compulsory_sessions"] / n_compulsory if n_compulsory else np.nan
    for th in cfg.thresholds:
        out[th.id] = meets(th, out)
    return out[[*cols, *(th.id for th in cfg.thresholds)]].reset_index(drop=True)


def meets(th: Threshold, per_man: pd.DataFrame) -> np.ndarray:
    """Whether each man meets a threshold (``at_least``: >=, ``more_than``: >)."""
    value = per_man[MEASURE_COLUMNS[th.measure]].to_numpy(dtype=float)
    return np.asarray(value >= th.at_least if th.at_least is not None else value > th.bound)


def dose_table(cfg: Config, data: CanonicalData) -> Table:
    """Men meeting each threshold, by cycle and by site (with totals), with medians of dose.

    ``median_sessions`` is the median number of compulsory sessions attended and ``median_hours``
    the median hours attended (all sessions), both over every man randomised to the arm.
    """
    rep = cfg.reporting
    per = dose_per_man(cfg, data)
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


def dose_summary_table(cfg: Config, data: CanonicalData) -> Table:
    """Medians and quartiles of dose overall and by cycle, site and therapy group."""
    per = dose_per_man(cfg, data)
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


def dose_participants_table(cfg: Config, data: CanonicalData) -> Table:
    """Per-man dose, for checking by hand (about individual men; never shareable)."""
    return Table(
        "dose_participants",
        dose_per_man(cfg, data),
        "Dose per man",
        ("One row per man randomised to the arm offered sessions; not for sharing.",),
        markdown=False,
    )


def distribution_table(cfg: Config, data: CanonicalData) -> Table:
    """How many men attended each number of compulsory sessions, by cycle (and ``all``)."""
    per = dose_per_man(cfg, data)
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
