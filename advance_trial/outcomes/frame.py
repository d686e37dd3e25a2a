"""The analysis data set of one outcome: one row per man randomised, everything a model needs.

Columns: ``participant_id, arm, treat`` (1 for the intervention arm, the arm the schedule offers
sessions, else the first arm), ``y`` (the score at the outcome's timepoint, missing when not
measured), ``base`` (the same measure at baseline), one column per adjustment factor, ``cluster``
(the therapy group of an intervention man, or the man himself), and one 0/1 column per dose
threshold (``met_<id>``; control men are not offered sessions and never meet one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from advance_trial.analysis import AnalysisData, Arms, arms_of, factors_of
from advance_trial.config.models import Config, Outcome

__all__ = ["Arms", "analysis_frame", "arms_of", "complete_cases", "design_matrix", "factors_of"]


def analysis_frame(cfg: Config, ads: AnalysisData, o: Outcome) -> pd.DataFrame:
    """One row per man randomised (see the module docstring), sorted by ``participant_id`` (the canonical
    files are read in key order, whatever the order of participants.csv's rows), taken from the
    subject-level data set."""
    men = ads.men
    out = pd.DataFrame({"participant_id": men["participant_id"].astype(str), "arm": men["arm"].astype(str)})
    out["treat"] = men["intervention"].astype(float).to_numpy()
    out["y"] = men[f"y_{o.id}"].to_numpy(dtype=float)
    out["base"] = men[f"base_{o.id}"].to_numpy(dtype=float)
    for f in factors_of(o):
        out[f] = men[f].astype(str).to_numpy() if f in men.columns else np.nan
    out["cluster"] = men["cluster"].to_numpy()
    for th in cfg.thresholds:
        out[f"met_{th.id}"] = men[f"met_{th.id}"].astype(float).to_numpy()
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
