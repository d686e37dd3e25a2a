"""The CONSORT flow for randomised pilot and feasibility trials (Eldridge et al., BMJ 2016).

``consort.csv`` lists each stage's count per arm. Stages, in order:

``assessed``, ``excluded`` (with ``excluded.not_eligible`` by reason, ``excluded.declined``,
``excluded.other``), ``randomised``, ``allocated``, ``received_any_session`` (arms offered
sessions: the men who received the allocated intervention), ``not_received`` (the rest, with the
coded reasons of ``reason_not_received``), ``discontinued`` (started, then stopped: a
``reason_discontinued`` recorded), ``met_threshold`` (one row per dose threshold: an annotation beside the flow,
never subtracted from it), ``followed_up`` and ``not_followed_up`` (by reason) per
timepoint, and ``analysed`` per outcome (detail ``<timepoint>: <outcome>``): the men in the
outcome's complete-case analysis, the ``n_analysed`` of its models.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from advance_trial.analysis import STATES, AnalysisData, followup_timepoints
from advance_trial.config import Config
from advance_trial.results.layout import frame
from advance_trial.results.verbs import Target, stat_rows
from advance_trial.tabulate import ALL

COLUMNS = ["stage", "arm", "detail", "n"]


def consort_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of the CONSORT flow: men at each stage (the variable), by arm, with its detail (the
    variable's level)."""
    scr, men = ads.screened, ads.men
    rows: list[tuple[str, str, str, int]] = []
    eligible, consented = scr["eligible"].to_numpy(dtype=bool), scr["consented"].to_numpy(dtype=bool)
    randomised = scr["randomised"].to_numpy(dtype=bool)
    if len(scr):
        rows.append(("assessed", ALL, "", len(scr)))
        rows.append(("excluded", ALL, "", int((~randomised).sum())))
        rows.append(("excluded.not_eligible", ALL, "", int((~eligible).sum())))
        if "reason_ineligible" in scr.columns:
            reasons = scr.loc[~eligible, "reason_ineligible"].fillna("reason not recorded")
            for reason, n in sorted(reasons.value_counts().items(), key=lambda kv: (-kv[1], kv[0])):
                rows.append(("excluded.not_eligible", ALL, str(reason), int(n)))
        rows.append(("excluded.declined", ALL, "", int((eligible & ~consented).sum())))
        rows.append(("excluded.other", ALL, f"eligible and consented, not {cfg.entered}",
                     int((eligible & consented & ~randomised).sum())))  # fmt: skip
    rows.append((cfg.entered, ALL, "", len(men)))
    arm_of = men["arm"].astype(str)
    for arm in cfg.arm_ids:
        rows.append(("allocated", arm, "", int((arm_of == arm).sum())))
    if cfg.schedule is not None:
        offered = ads.offered
        arm = cfg.schedule.arm
        rows.append(("received_any_session", arm, "", int(offered["received"].sum())))
        reasons = offered["not_received"].dropna().astype(str)
        rows.append(("not_received", arm, "", len(reasons)))
        for reason, n in sorted(reasons.value_counts().items(), key=lambda kv: (-kv[1], kv[0])):
            rows.append(("not_received", arm, str(reason), int(n)))
        rows.append(("discontinued", arm, "", int(offered["discontinued"].sum())))
        for th in cfg.thresholds:
            rows.append(("met_threshold", arm, f"{th.id}: {th.rule}", int(offered[f"met_{th.id}"].sum())))
    for tp in followup_timepoints(cfg):
        state = men[f"state_{tp}"]
        for arm in cfg.arm_ids:
            a = state[arm_of == arm]
            rows.append(("followed_up", arm, tp, int((a == "retained").sum())))
            for st in STATES[1:]:
                n = int((a == st).sum())
                if n:
                    rows.append(("not_followed_up", arm, f"{tp}: {st.replace('_', ' ')}", n))
        for o in (o for o in cfg.outcomes if o.timepoint == tp):
            for arm in cfg.arm_ids:
                rows.append(("analysed", arm, f"{tp}: {o.id}", int(men.loc[arm_of == arm, f"analysed_{o.id}"].sum())))
    to = Target("consort", "consort", "men (screened, randomised or analysed)")
    return frame([r for stage, arm, detail, n in rows
                  for r in stat_rows(replace(to, variable_label=_STAGES.get(stage, "")), {"arm": arm}, stage, detail,
                                     {"n": n})])  # fmt: skip


#: The stages in words.
_STAGES = {"assessed": "Assessed for eligibility", "excluded": "Excluded", "excluded.not_eligible":
           "Not meeting the inclusion criteria", "excluded.declined": "Declined to take part", "excluded.other":
           "Excluded for other reasons", "randomised": "Randomised", "enrolled": "Enrolled", "allocated":
           "Allocated", "received_any_session": "Received the allocated intervention", "not_received":
           "Did not receive the allocated intervention", "discontinued": "Discontinued the intervention",
           "met_threshold": "Met a dose threshold", "followed_up": "Followed up", "not_followed_up":
           "Not followed up", "analysed": "Analysed"}  # fmt: skip
