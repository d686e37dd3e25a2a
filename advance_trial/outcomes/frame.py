"""The analysis data set of one outcome: one row per man randomised, everything a model needs.

Columns: ``participant_id, arm, treat`` (1 for the intervention arm, the arm the schedule offers
sessions, else the first arm), ``y`` (the score at the outcome's timepoint, missing when not
measured), ``base`` (the same measure at baseline), one column per adjustment factor, ``cluster``
(the therapy group of an intervention man, or the man himself), and one 0/1 column per dose
threshold (``met_<id>``; control men are not offered sessions and never meet one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from advance_trial.canonical import CanonicalData
from advance_trial.config.models import Config, Outcome
from advance_trial.dose import dose_per_man
from advance_trial.scoring import score_column


@dataclass(frozen=True)
class Arms:
    """Which arm is compared with which: effects are intervention minus (or over) control."""

    intervention: str
    control: str | None


def arms_of(cfg: Config) -> Arms:
    """The intervention arm (the one the schedule offers sessions) and the control arm."""
    ids = cfg.arm_ids
    first = cfg.schedule.arm if cfg.schedule else ids[0]
    others = [a for a in ids if a != first]
    return Arms(first, others[0] if others else None)


def factors_of(o: Outcome) -> list[str]:
    """The outcome's adjustment factors (everything in ``adjust_for`` except ``baseline``)."""
    return [f for f in o.adjust_for if f != "baseline"]


def analysis_frame(cfg: Config, data: CanonicalData, scores: pd.DataFrame, o: Outcome) -> pd.DataFrame:
    """One row per man randomised (see the module docstring), in participants.csv order."""
    col = score_column(cfg, o.id)
    arms = arms_of(cfg)
    men = data.participants.copy()
    out = pd.DataFrame({"participant_id": men["participant_id"].astype(str), "arm": men["arm"].astype(str)})
    out["treat"] = (out["arm"] == arms.intervention).astype(float)
    at = scores.loc[scores["timepoint"] == o.timepoint].drop_duplicates("participant_id").set_index("participant_id")
    out["y"] = out["participant_id"].map(at[col]).astype(float)
    base_tp = cfg.baseline.id if cfg.baseline else None
    if base_tp is not None:
        b = scores.loc[scores["timepoint"] == base_tp].drop_duplicates("participant_id").set_index("participant_id")
        out["base"] = out["participant_id"].map(b[col]).astype(float)
    else:
        out["base"] = np.nan
    for f in factors_of(o):
        out[f] = men[f].astype(str).to_numpy() if f in men.columns else np.nan
    dose = dose_per_man(cfg, data).set_index("participant_id")
    group = out["participant_id"].map(dose["group_id"]) if "group_id" in dose.columns else pd.Series(np.nan)
    out["cluster"] = np.where(
        (out["treat"] == 1) & group.notna(), "group:" + group.astype(str), "man:" + out["participant_id"]
    )
    for th in cfg.thresholds:
        met = out["participant_id"].map(dose[th.id]) if th.id in dose.columns else pd.Series(False, index=out.index)
        out[f"met_{th.id}"] = met.fillna(False).astype(float).to_numpy()
    return out


def design_matrix(frame: pd.DataFrame, o: Outcome, levels: dict[str, list[str]]) -> tuple[np.ndarray, list[str]]:
    """``[intercept, treat, base?, factor dummies...]`` with the first observed level as reference.

    Levels follow the config's order; levels with no man in ``frame`` are dropped (as R's
    ``droplevels``), so every column has data.
    """
    cols = [np.ones(len(frame)), frame["treat"].to_numpy(dtype=float)]
    names = ["(Intercept)", "treat"]
    if "baseline" in o.adjust_for:
        cols.append(frame["base"].to_numpy(dtype=float))
        names.append("base")
    for f in factors_of(o):
        present = [lv for lv in levels[f] if (frame[f] == lv).any()]
        for lv in present[1:]:
            cols.append((frame[f] == lv).to_numpy(dtype=float))
            names.append(f"{f}{lv}")
    return np.column_stack(cols), names


def complete_cases(frame: pd.DataFrame, o: Outcome) -> pd.DataFrame:
    """Men with the outcome (and the baseline, when adjusted for) measured."""
    need = ["y"] + (["base"] if "baseline" in o.adjust_for else [])
    return frame.dropna(subset=need).reset_index(drop=True)
