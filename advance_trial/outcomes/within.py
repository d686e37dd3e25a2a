"""Change from baseline within each arm: the mean of follow-up minus baseline among the men with both,
with its paired t interval (R ``t.test(y - base)``), for every outcome that is not binary.

A progression criterion ``change.<outcome>`` reads the intervention arm's row ("abuse in the
intervention arm did not increase from baseline"). Every per-man value comes from the subject-level
data set (``y_<outcome>``, ``base_<outcome>``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from advance_trial.analysis import AnalysisData
from advance_trial.config.models import Config
from advance_trial.intervals import quantile
from advance_trial.results.table import Table
from advance_trial.tabulate import ALL

COLUMNS = ("outcome", "timepoint", "arm", "n", "mean_baseline", "mean_followup", "estimate", "ci_lower", "ci_upper",
           "ci_method", "status", "reason")  # fmt: skip


def _row(o_id: str, tp: str, arm: str, men: pd.DataFrame, level: float) -> dict[str, Any]:
    both = men[men[f"y_{o_id}"].notna() & men[f"base_{o_id}"].notna()]
    y, base = both[f"y_{o_id}"].to_numpy(dtype=float), both[f"base_{o_id}"].to_numpy(dtype=float)
    d, n = y - base, len(both)
    row: dict[str, Any] = {"outcome": o_id, "timepoint": tp, "arm": arm, "n": n,
                           "mean_baseline": float(base.mean()) if n else np.nan,
                           "mean_followup": float(y.mean()) if n else np.nan,
                           "estimate": float(d.mean()) if n else np.nan, "ci_lower": np.nan, "ci_upper": np.nan,
                           "ci_method": "paired t", "status": "estimated", "reason": ""}  # fmt: skip
    if n < 2:
        row |= {"status": "not_estimable", "reason": "fewer than two men with both measures"}
        return row
    half = quantile(1 - (1 - level) / 2, n - 1) * float(d.std(ddof=1)) / np.sqrt(n)
    row |= {"ci_lower": row["estimate"] - half, "ci_upper": row["estimate"] + half}
    return row


def change_table(cfg: Config, ads: AnalysisData) -> Table:
    """One row per non-binary outcome and arm (and ``all``)."""
    rows = []
    arm_of = ads.men["arm"].astype(str)
    for o in cfg.outcomes:
        if o.type == "binary":
            continue
        for a in [*cfg.arm_ids, ALL] if len(cfg.arms) > 1 else cfg.arm_ids:
            men = ads.men if a == ALL else ads.men[(arm_of == a).to_numpy()]
            rows.append(_row(o.id, o.timepoint, a, men, cfg.reporting.ci_level))
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["n"] = df["n"].astype(np.int64)
    level = f"{100 * cfg.reporting.ci_level:g}%"
    notes = (f"Change = follow-up minus baseline, mean over the men with both measures, with its {level} paired t "
             "interval (R: t.test(y - base)); within each arm, not a comparison between arms.",)  # fmt: skip
    return Table("change", df, "Change from baseline within each arm", notes)
