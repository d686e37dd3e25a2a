"""Retention: men (and partners) followed up at each timepoint.

A man is retained at a timepoint when his follow-up there is ``completed`` within
the timepoint's window (``due_on`` plus ``window_weeks``). A follow-up completed
outside the window is counted apart, as ``outside_window``, never as retained.
The denominator is always the men randomised (to the arm, at the site).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from advance_trial.analysis import STATES, AnalysisData, followup_timepoints, intervention_arm
from advance_trial.config import Config
from advance_trial.intervals import describe
from advance_trial.results.labels import VOCABULARY
from advance_trial.results.layout import LAYOUTS, display, frame
from advance_trial.results.table import Table
from advance_trial.results.verbs import (
    Target,
    ard_count,
    ard_difference,
    ard_proportion,
    bind_results,
    cells_of,
    stat_rows,
)
from advance_trial.tabulate import ALL

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


def _target(name: str, variable: str) -> Target:
    return Target(name, "retention", LAYOUTS[name].denominator, VOCABULARY[variable])


def retention_results(cfg: Config, ads: AnalysisData, by: Literal["site", "cycle"] = "site") -> pd.DataFrame:
    """The results rows of retention: men retained at each follow-up timepoint with the interval, and men
    followed up outside the window, by arm and site (or cycle), with totals."""
    rep = cfg.reporting
    states = followup_states(cfg, ads)
    to = _target("retention", "retained")
    parts = []
    for tp_id in followup_timepoints(cfg):
        s = states[states["timepoint"] == tp_id]
        retained, outside = s["state"] == "retained", s["state"] == "outside_window"
        parts += [ard_proportion(s.assign(_retained=retained), to, "retained", "_retained", by=_dims(cfg, by),
                                 level=tp_id, method=rep.proportion_ci, ci_level=rep.ci_level, total="n_randomised",
                                 count="n_retained"),
                  ard_count(s.assign(_outside=outside), to, "retained", by=_dims(cfg, by), level=tp_id,
                            where="_outside", stat_name="n_outside_window")]  # fmt: skip
    return bind_results(parts)


def retention_table(cfg: Config, ads: AnalysisData, by: Literal["site", "cycle"] = "site") -> Table:
    """Men retained at each follow-up timepoint, by arm and site (or cycle), with totals.

    Parameters
    ----------
    by : {"site", "cycle"}
        The second breakdown besides arm; the other column is ``all``.
    """
    rep = cfg.reporting
    windows = "; ".join(
        f"{t.id}: due week {t.week:g}, window {t.window_weeks[0]:+g} to {t.window_weeks[1]:+g} weeks"
        for t in cfg.timepoints
        if t.week > 0 and t.window_weeks is not None
    )
    return display(
        "retention",
        retention_results(cfg, ads, by),
        RETENTION_COLUMNS,
        "Retention: men followed up within the window",
        (
            f"Proportion = men completing follow-up within the window / men randomised; "
            f"{describe(rep.proportion_ci, rep.ci_level)}.",
            f"Completions outside the window are counted in n_outside_window, not as retained. {windows}".strip(),
        ),
    )


def reasons_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of each follow-up state by arm: men in it, men randomised, and the share (no
    interval)."""
    states = followup_states(cfg, ads)
    to = _target("retention_reasons", "followup_state")
    rows: list[list[Any]] = []
    for tp_id in followup_timepoints(cfg):
        s = states[states["timepoint"] == tp_id]
        for combo, cell in cells_of(s, [("arm", cfg.arm_ids)]):
            for state in STATES:
                k = int((cell["state"] == state).sum())
                rows += stat_rows(to, {"timepoint": tp_id, **combo}, "followup_state", state,
                                  {"n": k, "n_randomised": len(cell),
                                   "proportion": k / len(cell) if len(cell) else float("nan")})  # fmt: skip
    return frame(rows)


def reasons_table(cfg: Config, ads: AnalysisData) -> Table:
    """Each follow-up state (retained, outside the window, missed, withdrawn, lost, died, unknown) by arm."""
    return display(
        "retention_reasons",
        reasons_results(cfg, ads),
        ["timepoint", "arm", "state", "n", "n_randomised", "proportion"],
        "Follow-up outcome by arm",
        (
            "Proportion = men in each state / men randomised to the arm (no intervals).",
            "unknown: no follow-up record, or no status recorded.",
        ),
    )


def difference_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of retention in the intervention arm minus each other arm (Newcombe's hybrid score
    interval): contrasts between arms."""
    states = followup_states(cfg, ads)
    treat = intervention_arm(cfg)
    to = _target("retention_difference", "retained")
    parts = []
    if cfg.trial.design == "parallel":
        for tp_id in followup_timepoints(cfg):
            s = states[states["timepoint"] == tp_id]
            retained = s.assign(_retained=s["state"] == "retained")
            parts += [ard_difference(retained, to, "retained", "_retained", arm_column="arm", arm=treat,
                                     comparator=other, level=tp_id, ci_level=cfg.reporting.ci_level,
                                     count="n_retained")
                      for other in (x for x in cfg.arm_ids if x != treat)]  # fmt: skip
    return bind_results(parts)


def difference_table(cfg: Config, ads: AnalysisData) -> Table:
    """Retention in the intervention arm minus each other arm, with Newcombe's hybrid score interval."""
    level = cfg.reporting.ci_level
    cols = ["timepoint", "arm", "comparator", "n_arm", "n_retained_arm", "n_comparator", "n_retained_comparator",
            "estimate", "ci_lower", "ci_upper", "ci_method"]  # fmt: skip
    return display(
        "retention_difference",
        difference_results(cfg, ads),
        cols,
        "Difference in retention between arms",
        (f"Estimate = retention in arm minus comparator; {100 * level:g}% Newcombe hybrid score interval "
         "(Newcombe 1998, method 10).",),
    )  # fmt: skip


def partner_retention_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of partners followed up (of partners who consented), by the man's arm and site."""
    rep = cfg.reporting
    pa = ads.partners
    tp = cfg.partners.timepoint if cfg.partners is not None else None
    if tp is None or not len(pa):
        return frame([])
    to = _target("partner_retention", "partner_retained")
    joined = pa[pa["consented"].fillna(False).to_numpy(dtype=bool)]
    joined = joined.assign(_retained=(joined["followup_status"] == "completed").fillna(False))
    return bind_results(
        ard_proportion(joined, to, "partner_retained", "_retained", by=_dims(cfg, "site"), level=tp,
                       method=rep.proportion_ci, ci_level=rep.ci_level, total="n_randomised", count="n_retained"),
        ard_count(joined, to, "partner_retained", by=_dims(cfg, "site"), level=tp, where=lambda c: np.zeros(len(c)),
                  stat_name="n_outside_window"),
    )  # fmt: skip


def partner_retention_table(cfg: Config, ads: AnalysisData) -> Table:
    """Partners followed up, by the man's arm and site: aggregates only.

    The denominator is partners who consented; a partner is retained when her follow-up status is
    ``completed``. No partner appears individually.
    """
    rep = cfg.reporting
    return display(
        "partner_retention",
        partner_retention_results(cfg, ads),
        RETENTION_COLUMNS,
        "Partner follow-up (aggregates only)",
        (
            "n_randomised here counts partners who consented; arm and site are the man's. "
            f"{describe(rep.proportion_ci, rep.ci_level)}.",
        ),
    )


def partner_contact_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of partners contacted (of partners identified), by the man's arm and site."""
    rep = cfg.reporting
    joined = ads.partners
    if not len(joined) or "contacted" not in joined.columns:
        return frame([])
    to = _target("partner_contact", "partner_contacted")
    return ard_proportion(joined, to, "partner_contacted", "contacted",
                          by=[("arm", cfg.arm_ids), ("site", cfg.site_ids)], method=rep.proportion_ci,
                          ci_level=rep.ci_level, total="n_partners", count="n_contacted")  # fmt: skip


def partner_contact_table(cfg: Config, ads: AnalysisData) -> Table:
    """Partners with whom contact was established, by the man's arm and site (aggregates only)."""
    rep = cfg.reporting
    cols = ["arm", "site", "n_partners", "n_contacted", "proportion", "ci_lower", "ci_upper", "ci_method"]
    return display(
        "partner_contact",
        partner_contact_results(cfg, ads),
        cols,
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
