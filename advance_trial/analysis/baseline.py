"""Table 1: baseline characteristics by arm and overall (CONSORT pilot item 15), no p-values.

Read from the subject-level data set: a variable of the config's ``baseline`` block is a column of
``participants.csv`` (typed by :func:`advance_trial.analysis.subjects.derive_baseline`) or, with
``outcome``, the outcome's baseline score ``base_<outcome>``. Continuous variables: n, mean, SD (n - 1),
median and quartiles (R's ``quantile`` type 7); categorical: n and proportion per level, the
denominator the men with the variable known; a ``missing`` row wherever any man lacks it. The
optional standardised difference is the absolute one of tableone's ``ExtractSmd``: for a continuous
variable ``|m1 - m2| / sqrt((s1^2 + s2^2) / 2)``, for a categorical one Yang and Dalton's (2012)
multivariate form over its levels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from advance_trial.config.models import BaselineVariable, Config
from advance_trial.intervals import quartiles
from advance_trial.results.layout import frame
from advance_trial.results.verbs import Target, stat_rows

COLUMNS = ("variable", "level", "arm", "n", "n_level", "proportion", "mean", "sd", "median", "q1", "q3",
           "std_difference")  # fmt: skip
MISSING = "missing"


def column_of(v: BaselineVariable) -> str:
    """The subject-level data set's column of a Table 1 variable."""
    return f"base_{v.outcome}" if v.outcome is not None else v.id


def levels_of(cfg: Config, v: BaselineVariable) -> list[str]:
    """The levels Table 1 shows for a categorical or binary variable, in order."""
    if v.id == "site" and not v.levels:
        return cfg.site_ids
    if v.id == "cycle" and not v.levels:
        return [str(c) for c in cfg.cycles]
    return list(v.levels) if v.type == "categorical" else ["true"]


def std_difference(cfg: Config, v: BaselineVariable, a: pd.Series, b: pd.Series) -> float:
    """Absolute standardised difference between two arms' values (NaN when not defined)."""
    a, b = a.dropna(), b.dropna()
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    if v.type == "continuous":
        x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
        pooled = np.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
        return float(abs(x.mean() - y.mean()) / pooled) if pooled > 0 else float("nan")
    levels = levels_of(cfg, v)
    p = np.array([(a.astype(str) == lv).mean() for lv in levels])
    q = np.array([(b.astype(str) == lv).mean() for lv in levels])
    if v.type == "binary":
        s = np.sqrt((p[0] * (1 - p[0]) + q[0] * (1 - q[0])) / 2)
        return float(abs(p[0] - q[0]) / s) if s > 0 else float("nan")
    # Yang & Dalton: drop the first level; S = (S_a + S_b) / 2 with S_ii = p_i (1 - p_i), S_ij = -p_i p_j
    t, c = p[1:], q[1:]
    cov = (np.diag(t) - np.outer(t, t) + np.diag(c) - np.outer(c, c)) / 2
    d = t - c
    value = float(d @ np.linalg.pinv(cov) @ d)
    return float(np.sqrt(max(value, 0.0)))


def _continuous(x: pd.Series) -> dict[str, Any]:
    values = x.dropna().to_numpy(dtype=float)
    if not len(values):
        return {"n": 0, "mean": np.nan, "sd": np.nan, "median": np.nan, "q1": np.nan, "q3": np.nan}
    q1, med, q3 = quartiles(values)
    sd = float(values.std(ddof=1)) if len(values) > 1 else np.nan
    return {"n": len(values), "mean": float(values.mean()), "sd": sd, "median": med, "q1": q1, "q3": q3}


STATS = COLUMNS[3:]


def baseline_results(cfg: Config, men: pd.DataFrame) -> pd.DataFrame:
    """The results rows of Table 1 (module docstring): each variable (and level) by arm, every statistic of
    its display row (empty where it does not apply: a continuous variable's level count)."""
    from advance_trial.analysis.subjects import arms_of

    spec = cfg.baseline_table
    if spec is None:
        return frame([])
    arms = [*cfg.arm_ids, "all"]
    two = arms_of(cfg)
    out: list[list[Any]] = []
    for v in spec.variables:
        to = Target("baseline", "baseline", "men randomised with the value known", v.label)
        col = men[column_of(v)] if column_of(v) in men.columns else pd.Series(np.nan, index=men.index)
        smd = float("nan")
        if spec.standardised_differences and two.control is not None:
            arm = men["arm"].astype(str)
            smd = std_difference(cfg, v, col[arm == two.intervention], col[arm == two.control])
        missing_any = bool(col.isna().any())
        rows: list[dict[str, Any]] = []
        for a in arms:
            x = col if a == "all" else col[men["arm"].astype(str) == a]
            known = int(x.notna().sum())
            if v.type == "continuous":
                rows.append({"level": "", "arm": a, **_continuous(x)})
            else:
                text = x.dropna().astype(str).str.lower() if v.type == "binary" else x.dropna().astype(str)
                for lv in levels_of(cfg, v):
                    k = int((text == lv).sum())
                    rows.append({"level": lv, "arm": a, "n": known, "n_level": k,
                                 "proportion": k / known if known else np.nan})  # fmt: skip
            if missing_any:
                rows.append({"level": MISSING, "arm": a, "n": len(x), "n_level": len(x) - known,
                             "proportion": (len(x) - known) / len(x) if len(x) else np.nan})  # fmt: skip
        if spec.standardised_differences:
            for r in rows:
                if r["arm"] == "all" and r["level"] in ("", *levels_of(cfg, v)[:1]):
                    r["std_difference"] = smd
        for r in rows:
            stats = {name: r.get(name, np.nan) for name in STATS}
            out += stat_rows(to, {"arm": r["arm"]}, v.id, r["level"], stats)
    return frame(out)
