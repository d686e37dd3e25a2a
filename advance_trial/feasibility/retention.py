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

from advance_trial.analysis import STATES, AnalysisData, followup_timepoints, intervention_arm
from advance_trial.config import Config
from advance_trial.intervals import describe, newcombe_difference, proportion_ci
from advance_trial.output.tables import Table
from advance_trial.tabulate import ALL, margins, mask_for

__all__ = [
    "STATES", "difference_table", "followup_states", "followup_timepoints", "intervention_arm", "overall",
    "partner_contact_table", "partner_retention_table", "reasons_table", "retention_table",
]  # fmt: skip

RETENTION_COLUMNS = [
    "timepoint", "arm", "site", "cycle", "n_randomised", "n_retained", "proportion", "ci_lower", "ci_upper",
    "ci_method", "n_outside_window",
]  # fmt: skip


def followup_states(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """Each man's state at each follow-up timepoint, long: read from the subject-level data set.

    Returns
    -------
    DataFrame
        ``participant_id, arm, site, cycle, timepoint, state`` with ``state`` one of :data:`STATES`.
    """
    men = ads.men
    frames = [men[["participant_id", "arm", "site", "cycle"]].assign(timepoint=tp, state=men[f"state_{tp}"])
              for tp in followup_timepoints(cfg)]  # fmt: skip
    if not frames:
        return pd.DataFrame(columns=["participant_id", "arm", "site", "cycle", "timepoint", "state"])
    return pd.concat(frames, ignore_index=True)


def _dims(cfg: Config, by: str) -> list[tuple[str, list[str]]]:
    if by == "cycle":
        return [("arm", cfg.arm_ids), ("site", []), ("cycle", [str(c) for c in cfg.cycles])]
    return [("arm", cfg.arm_ids), ("site", cfg.site_ids), ("cycle", [])]


def retention_table(cfg: Config, ads: AnalysisData, by: Literal["site", "cycle"] = "site") -> Table:
    """Men retained at each follow-up timepoint, by arm and site (or cycle), with totals.

    Parameters
    ----------
    by : {"site", "cycle"}
        The second breakdown besides arm; the other column is ``all``.
    """
    rep = cfg.reporting
    states = followup_states(cfg, ads)
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


def reasons_table(cfg: Config, ads: AnalysisData) -> Table:
    """Each follow-up state (retained, outside the window, missed, withdrawn, lost, died, unknown) by arm."""
    states = followup_states(cfg, ads)
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


def difference_table(cfg: Config, ads: AnalysisData) -> Table:
    """Retention in the intervention arm minus each other arm, with Newcombe's hybrid score interval."""
    level = cfg.reporting.ci_level
    states = followup_states(cfg, ads)
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


def partner_retention_table(cfg: Config, ads: AnalysisData) -> Table:
    """Partners followed up, by the man's arm and site: aggregates only.

    The denominator is partners who consented; a partner is retained when her follow-up status is
    ``completed``. No partner appears individually.
    """
    rep = cfg.reporting
    pa = ads.partners
    tp = cfg.partners.timepoint if cfg.partners is not None else None
    rows = []
    if tp is not None and len(pa):
        joined = pa[pa["consented"].fillna(False).to_numpy(dtype=bool)]
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


def partner_contact_table(cfg: Config, ads: AnalysisData) -> Table:
    """Partners with whom contact was established, by the man's arm and site (aggregates only)."""
    rep = cfg.reporting
    joined = ads.partners
    rows = []
    if len(joined) and "contacted" in joined.columns:
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
