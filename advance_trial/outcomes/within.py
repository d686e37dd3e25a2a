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
from advance_trial.results.layout import frame
from advance_trial.results.verbs import Target, bind_results, stat_rows
from advance_trial.tabulate import ALL

COLUMNS = ("outcome", "timepoint", "arm", "n", "mean_baseline", "mean_followup", "estimate", "ci_lower", "ci_upper",
           "ci_method", "status", "reason")  # fmt: skip


def _stats(men: pd.DataFrame, o_id: str, level: float) -> tuple[dict[str, Any], str]:
    """The change statistics of one cell (in :data:`COLUMNS` order) and why its interval is missing ("" when
    it is not)."""
    both = men[men[f"y_{o_id}"].notna() & men[f"base_{o_id}"].notna()]
    y, base = both[f"y_{o_id}"].to_numpy(dtype=float), both[f"base_{o_id}"].to_numpy(dtype=float)
    d, n = y - base, len(both)
    estimate = float(d.mean()) if n else np.nan
    stats: dict[str, Any] = {"n": n, "mean_baseline": float(base.mean()) if n else np.nan,
                             "mean_followup": float(y.mean()) if n else np.nan, "estimate": estimate,
                             "ci_lower": np.nan, "ci_upper": np.nan}  # fmt: skip
    if n < 2:
        return stats, "fewer than two men with both measures"
    half = quantile(1 - (1 - level) / 2, n - 1) * float(d.std(ddof=1)) / np.sqrt(n)
    return stats | {"ci_lower": estimate - half, "ci_upper": estimate + half}, ""


def change_results(cfg: Config, ads: AnalysisData) -> pd.DataFrame:
    """The results rows of the change from baseline: per non-binary outcome and arm (and ``all``), the men
    with both measures, the two means and the mean change with its paired t interval (not a contrast between
    arms), its status and, when not estimable, the reason (also in ``error``)."""
    parts = []
    arm_of = ads.men["arm"].astype(str)
    for o in cfg.outcomes:
        if o.type == "binary":
            continue
        to = Target("change", "change", "men with the baseline and follow-up measures", o.label or "")
        for a in [*cfg.arm_ids, ALL] if len(cfg.arms) > 1 else cfg.arm_ids:
            men = ads.men if a == ALL else ads.men[(arm_of == a).to_numpy()]
            stats, reason = _stats(men, o.id, cfg.reporting.ci_level)
            stats |= {"status": "not_estimable" if reason else "estimated", "reason": reason}
            parts.append(frame(stat_rows(to, {"arm": a}, o.id, o.timepoint, stats, method="paired t",
                                         error=reason or None)))  # fmt: skip
    return bind_results(parts)
