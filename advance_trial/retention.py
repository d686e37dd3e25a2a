"""Retention: men (and partners) followed up at each timepoint.

A man is retained at a timepoint when his follow-up there is ``completed`` within
the timepoint's window (``due_on`` plus ``window_weeks``). A follow-up completed
outside the window is counted apart, as ``outside_window``, never as retained.
The denominator is always the men randomised (to the arm, at the site).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from advance_trial.canonical import CanonicalData
from advance_trial.config import Config
from advance_trial.intervals import describe, newcombe_difference, proportion_ci
from advance_trial.results import Table
from advance_trial.tabulate import ALL, margins, mask_for

#: Each man's state at a follow-up timepoint, in reporting order.
STATES = ("retained", "outside_window", "missed", "withdrawn", "lost", "died", "unknown")
RETENTION_COLUMNS = [
    "timepoint", "arm", "site", "cycle", "n_randomised", "n_retained", "proportion", "ci_lower", "ci_upper",
    "ci_method", "n_outside_window",
]  # fmt: skip


def followup_timepoints(cfg: Config) -> list[str]:
    """Timepoints after baseline, in config order."""
    return [t.id for t in cfg.timepoints if t.week > 0]


def followup_states(cfg: Config, data: CanonicalData) -> pd.DataFrame:
    """Each randomised man's state at each follow-up timepoint.

    Returns
    -------
    DataFrame
        ``participant_id, arm, site, cycle, timepoint, state`` with ``state`` one of :data:`STATES`;
        a man with no follow-up record (or an empty status) at a timepoint is ``unknown``.
    """
    part = data.participants[["participant_id", "arm", "site", "cycle"]]
    fu = data.followup
    frames = []
    for tp_id in followup_timepoints(cfg):
        tp = cfg.timepoint(tp_id)
        rec = fu[fu["timepoint"] == tp_id].set_index("participant_id")
        merged = part.join(rec[["due_on", "status", "completed_on"]], on="participant_id")
        status = merged["status"].astype("string")
        completed = (status == "completed").fillna(False).to_numpy(dtype=bool)
        if tp.window_weeks is not None:
            lo = merged["due_on"] + pd.to_timedelta(tp.window_weeks[0] * 7, unit="D")
            hi = merged["due_on"] + pd.to_timedelta(tp.window_weeks[1] * 7, unit="D")
            within = ((merged["completed_on"] >= lo) & (merged["completed_on"] <= hi)).fillna(False).to_numpy(bool)
        else:
            within = completed
        state = np.where(
            completed & within, "retained", np.where(completed, "outside_window", status.fillna("unknown"))
        )
        frames.append(merged[["participant_id", "arm", "site", "cycle"]].assign(timepoint=tp_id, state=state))
    if not frames:
        return pd.DataFrame(columns=["participant_id", "arm", "site", "cycle", "timepoint", "state"])
    return pd.concat(frames, ignore_index=True)


def _dims(cfg: Config, by: str) -> list[tuple[str, list[str]]]:
    if by == "cycle":
        return [("arm", cfg.arm_ids), ("site", []), ("cycle", [str(c) for c in cfg.cycles])]
    return [("arm", cfg.arm_ids), ("site", cfg.site_ids), ("cycle", [])]


def retention_table(cfg: Config, data: CanonicalData, by: Literal["site", "cycle"] = "site") -> Table:
    """Men retained at each follow-up timepoint, by arm and site (or cycle), with totals.

    Parameters
    ----------
    by : {"site", "cycle"}
        The second breakdown besides arm; the other column is ``all``.
    """
    rep = cfg.reporting
    states = followup_states(cfg, data)
    rows = []
    for tp_id in followup_timepoints(cfg):
        s = states[states["timepoint"] == tp_id]
        for combo in margins(_dims(cfg, by)):
            cell = s[mask_for(s, combo)]
            n, k = len(cell), int((cell["state"] == "retained").sum())
            est = proportion_ci(k, n, rep.proportion_ci, rep.ci_level)
            rows.append(
                {"timepoint": tp_id, **combo, "n_randomised": n, "n_retained": k, "proportion": est.estimate,
                 "ci_lower": est.ci_lower, "ci_upper": est.ci_upper, "ci_method": est.method,
                 "n_outside_window": int((cell["state"] == "outside_window").sum())}
            )  # fmt: skip
    windows = "; ".join(
        f"{t.id}: due week {t.week:g}, window {t.window_weeks[0]:+g} to {t.window_weeks[1]:+g} weeks"
        for t in cfg.timepoints
        if t.week > 0 and t.window_weeks is not None
    )
    return Table(
        "retention",
        pd.DataFrame(rows, columns=RETENTION_COLUMNS),
        "Retention: men followed up within the window",
        (
            f"Proportion = men completing follow-up within the window / men randomised; "
            f"{describe(rep.proportion_ci, rep.ci_level)}.",
            f"Completions outside the window are counted in n_outside_window, not as retained. {windows}".strip(),
        ),
    )


def reasons_table(cfg: Config, data: CanonicalData) -> Table:
    """Each follow-up state (retained, outside the window, missed, withdrawn, lost, died, unknown) by arm."""
    states = followup_states(cfg, data)
    rows = []
    for tp_id in followup_timepoints(cfg):
        s = states[states["timepoint"] == tp_id]
        for combo in margins([("arm", cfg.arm_ids)]):
            cell = s[mask_for(s, combo)]
            for state in STATES:
                k = int((cell["state"] == state).sum())
                rows.append(
                    {
                        "timepoint": tp_id,
                        "arm": combo["arm"],
                        "state": state,
                        "n": k,
                        "n_randomised": len(cell),
                        "proportion": k / len(cell) if len(cell) else float("nan"),
                    }
                )
    return Table(
        "retention_reasons",
        pd.DataFrame(rows, columns=["timepoint", "arm", "state", "n", "n_randomised", "proportion"]),
        "Follow-up outcome by arm",
        (
            "Proportion = men in each state / men randomised to the arm (no intervals).",
            "unknown: no follow-up record, or no status recorded.",
        ),
    )


def intervention_arm(cfg: Config) -> str:
    """The arm compared against the others: the arm offered sessions, else the first arm."""
    return cfg.schedule.arm if cfg.schedule is not None else cfg.arm_ids[0]


def difference_table(cfg: Config, data: CanonicalData) -> Table:
    """Retention in the intervention arm minus each other arm, with Newcombe's hybrid score interval."""
    level = cfg.reporting.ci_level
    states = followup_states(cfg, data)
    treat = intervention_arm(cfg)
    rows = []
    if cfg.trial.design == "parallel":
        for tp_id in followup_timepoints(cfg):
            s = states[states["timepoint"] == tp_id]
            a = s[s["arm"] == treat]
            for other in (x for x in cfg.arm_ids if x != treat):
                b = s[s["arm"] == other]
                k1, k2 = int((a["state"] == "retained").sum()), int((b["state"] == "retained").sum())
                est = newcombe_difference(k1, len(a), k2, len(b), level)
                rows.append(
                    {"timepoint": tp_id, "arm": treat, "comparator": other, "n_arm": len(a), "n_retained_arm": k1,
                     "n_comparator": len(b), "n_retained_comparator": k2, "estimate": est.estimate,
                     "ci_lower": est.ci_lower, "ci_upper": est.ci_upper, "ci_method": est.method}
                )  # fmt: skip
    cols = ["timepoint", "arm", "comparator", "n_arm", "n_retained_arm", "n_comparator", "n_retained_comparator",
            "estimate", "ci_lower", "ci_upper", "ci_method"]  # fmt: skip
    return Table(
        "retention_difference",
        pd.DataFrame(rows, columns=cols),
        "Difference in retention between arms",
        (f"Estimate = retention in arm minus comparator; {100 * level:g}% Newcombe hybrid score interval "
         "(Newcombe 1998, method 10).",),
    )  # fmt: skip


def partner_retention_table(cfg: Config, data: CanonicalData) -> Table:
    """Partners followed up, by the man's arm and site: aggregates only.

    The denominator is partners who consented; a partner is retained when her follow-up status is
    ``completed``. No partner appears individually.
    """
    rep = cfg.reporting
    pa = data.partners
    tp = cfg.partners.timepoint if cfg.partners is not None else None
    rows = []
    if tp is not None and len(pa):
        men = data.participants.set_index("participant_id")[["arm", "site", "cycle"]]
        joined = pa[pa["consented"].fillna(False).to_numpy(dtype=bool)].join(men, on="participant_id")
        for combo in margins(_dims(cfg, "site")):
            cell = joined[mask_for(joined, combo)]
            k = int((cell["followup_status"] == "completed").fillna(False).sum())
            est = proportion_ci(k, len(cell), rep.proportion_ci, rep.ci_level)
            rows.append(
                {"timepoint": tp, **combo, "n_randomised": len(cell), "n_retained": k, "proportion": est.estimate,
                 "ci_lower": est.ci_lower, "ci_upper": est.ci_upper, "ci_method": est.method, "n_outside_window": 0}
            )  # fmt: skip
    return Table(
        "partner_retention",
        pd.DataFrame(rows, columns=RETENTION_COLUMNS),
        "Partner follow-up (aggregates only)",
        (
            "n_randomised here counts partners who consented; arm and site are the man's. "
            f"{describe(rep.proportion_ci, rep.ci_level)}.",
        ),
    )


def partner_contact_table(cfg: Config, data: CanonicalData) -> Table:
    """Partners with whom contact was established, by the man's arm and site (aggregates only)."""
    rep = cfg.reporting
    pa = data.partners
    rows = []
    if len(pa) and "contacted" in pa.columns:
        men = data.participants.set_index("participant_id")[["arm", "site"]]
        joined = pa.join(men, on="participant_id")
        for combo in margins([("arm", cfg.arm_ids), ("site", cfg.site_ids)]):
            cell = joined[mask_for(joined, combo)]
            k = int(cell["contacted"].fillna(False).sum())
            est = proportion_ci(k, len(cell), rep.proportion_ci, rep.ci_level)
            rows.append(
                {
                    **combo,
                    "n_partners": len(cell),
                    "n_contacted": k,
                    "proportion": est.estimate,
                    "ci_lower": est.ci_lower,
                    "ci_upper": est.ci_upper,
                    "ci_method": est.method,
                }
            )
    cols = ["arm", "site", "n_partners", "n_contacted", "proportion", "ci_lower", "ci_upper", "ci_method"]
    return Table(
        "partner_contact",
        pd.DataFrame(rows, columns=cols),
        "Partner contact (aggregates only)",
        (f"Proportion = partners contacted / partners identified; {describe(rep.proportion_ci, rep.ci_level)}.",),
    )


def overall(table: Table, timepoint: str | None = None) -> pd.Series:
    """The row of a retention-style table with every breakdown at ``all``."""
    df = table.data
    keep = np.ones(len(df), dtype=bool)
    for col in ("arm", "site", "cycle"):
        if col in df.columns:
            keep &= (df[col] == ALL).to_numpy()
    if timepoint is not None and "timepoint" in df.columns:
        keep &= (df["timepoint"] == timepoint).to_numpy()
    rows = df[keep]
    if len(rows) != 1:
        raise KeyError(f"no single overall row in {table.name} for {timepoint!r}")
    return rows.iloc[0]
