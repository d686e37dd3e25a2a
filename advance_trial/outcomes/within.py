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


def _stats(y: np.ndarray, base: np.ndarray, level: float) -> tuple[dict[str, Any], str]:
    """The change statistics of one cell (in :data:`COLUMNS` order) from its men's follow-up and baseline
    values, and why its interval is missing ("" when it is not)."""
    both = ~(np.isnan(y) | np.isnan(base))
    y, base = y[both], base[both]
    d, n = y - base, int(both.sum())
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
    rows = []
    arm_of = ads.men["arm"].astype(str).to_numpy()
    for o in cfg.outcomes:
        if o.type == "binary":
            continue
        to = Target("change", "change", "men with the baseline and follow-up measures", o.label or "")
        y, base = (ads.men[f"{c}_{o.id}"].to_numpy(dtype=float, na_value=np.nan) for c in ("y", "base"))
        for a in [*cfg.arm_ids, ALL] if len(cfg.arms) > 1 else cfg.arm_ids:
            men = slice(None) if a == ALL else arm_of == a
            stats, reason = _stats(y[men], base[men], cfg.reporting.ci_level)
            stats |= {"status": "not_estimable" if reason else "estimated", "reason": reason}
            rows += stat_rows(to, {"arm": a}, o.id, o.timepoint, stats, method="paired t", error=reason or None)
    return bind_results(frame(rows))
