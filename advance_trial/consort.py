"""The CONSORT flow for randomised pilot and feasibility trials (Eldridge et al., BMJ 2016).

``consort.csv`` lists each stage's count per arm. Stages, in order:

``assessed``, ``excluded`` (with ``excluded.not_eligible`` by reason, ``excluded.declined``,
``excluded.other``), ``randomised``, ``allocated``, ``received_any_session`` (arms offered
sessions), ``met_threshold`` (one row per dose threshold: an annotation beside the flow,
never subtracted from it), ``followed_up`` and ``not_followed_up`` (by reason) per
timepoint, and ``analysed`` per timepoint (men with questionnaire data there).
"""

from __future__ import annotations

import pandas as pd

from advance_trial.canonical import CanonicalData
from advance_trial.config import Config
from advance_trial.dose import dose_per_man
from advance_trial.results import Table
from advance_trial.retention import STATES, followup_states, followup_timepoints
from advance_trial.tabulate import ALL

COLUMNS = ["stage", "arm", "detail", "n"]


def consort_table(cfg: Config, data: CanonicalData) -> Table:
    """The CONSORT flow as a long table ``stage, arm, detail, n``."""
    scr, part = data.screening, data.participants
    rows: list[tuple[str, str, str, int]] = []
    eligible = scr["eligible"].fillna(False).to_numpy(dtype=bool)
    consented = scr["consented"].fillna(False).to_numpy(dtype=bool)
    randomised = scr["participant_id"].notna().to_numpy(dtype=bool)
    if len(scr):
        rows.append(("assessed", ALL, "", len(scr)))
        rows.append(("excluded", ALL, "", int((~randomised).sum())))
        rows.append(("excluded.not_eligible", ALL, "", int((~eligible).sum())))
        if "reason_ineligible" in scr.columns:
            reasons = scr.loc[~eligible, "reason_ineligible"].fillna("reason not recorded")
            for reason, n in sorted(reasons.value_counts().items(), key=lambda kv: (-kv[1], kv[0])):
                rows.append(("excluded.not_eligible", ALL, str(reason), int(n)))
        rows.append(("excluded.declined", ALL, "", int((eligible & ~consented).sum())))
        rows.append(("excluded.other", ALL, "eligible and consented, not randomised",
                     int((eligible & consented & ~randomised).sum())))  # fmt: skip
    rows.append(("randomised", ALL, "", len(part)))
    for arm in cfg.arm_ids:
        rows.append(("allocated", arm, "", int((part["arm"] == arm).sum())))
    if cfg.schedule is not None:
        per = dose_per_man(cfg, data)
        arm = cfg.schedule.arm
        rows.append(("received_any_session", arm, "", int((per["sessions"] > 0).sum())))
        for th in cfg.thresholds:
            rows.append(("met_threshold", arm, f"{th.id}: {th.rule}", int(per[th.id].sum())))
    states = followup_states(cfg, data)
    measured = data.measures[["participant_id", "timepoint"]]
    for tp in followup_timepoints(cfg):
        s = states[states["timepoint"] == tp]
        for arm in cfg.arm_ids:
            a = s[s["arm"] == arm]
            rows.append(("followed_up", arm, tp, int((a["state"] == "retained").sum())))
            for state in STATES[1:]:
                n = int((a["state"] == state).sum())
                if n:
                    rows.append(("not_followed_up", arm, f"{tp}: {state.replace('_', ' ')}", n))
        for arm in cfg.arm_ids:
            ids = part.loc[part["arm"] == arm, "participant_id"]
            m = measured[(measured["timepoint"] == tp) & measured["participant_id"].isin(ids)]
            rows.append(("analysed", arm, tp, int(m["participant_id"].nunique())))
    return Table(
        "consort",
        pd.DataFrame(rows, columns=COLUMNS),
        "CONSORT flow",
        (
            "Counts of men at each stage (no intervals). "
            "met_threshold rows annotate the flow (men meeting each dose threshold); they are not subtracted from it.",
            "not followed up includes completions outside the timepoint's window.",
        ),
    )
