"""Display tables: results laid out for reading, as gtsummary lays out its results data (a formatting
layer only: every number comes from a table the run computed; nothing is derived here).

So far Table 1: a row per characteristic (and per level), a column per arm and overall headed with its
n, cells ``mean (SD)``, ``median [Q1, Q3]`` and ``n (%)`` with the config's digits, and the standardised
difference beside.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from advance_trial.config.models import Config
from advance_trial.output.tables import Table


def _f(value: Any, digits: int) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.{digits}f}"


def baseline_display(cfg: Config, table: Table) -> Table:
    """Table 1 for the report from ``baseline.csv``'s frame (arms in the frame's order, which blinding sets)."""
    df = table.data
    spec = cfg.baseline_table
    if spec is None or df.empty:
        return table
    arms = list(dict.fromkeys(str(a) for a in df["arm"]))
    labels = {a.id: a.label for a in cfg.arms}
    # a column's n: the men in the arm (the largest denominator of its rows: a missing row counts them all)
    size = {a: int(df.loc[df["arm"].astype(str) == a, "n"].max()) for a in arms}
    heads = [f"{'Overall' if a == 'all' else labels.get(a, f'Arm {a}')} (n={size[a]})" for a in arms]
    pct = cfg.reporting.percent_digits
    out: list[dict[str, str]] = []
    smd_col = "Standardised difference"
    for v in spec.variables:
        d = spec.digits if v.digits is None else v.digits
        rows = df[df["variable"] == v.id]

        def cell(level: str, arm: str, kind: str, rows: pd.DataFrame = rows, d: int = d) -> str:
            r = rows[(rows["level"].fillna("").astype(str) == level) & (rows["arm"].astype(str) == arm)]
            if r.empty:
                return ""
            x = r.iloc[0]
            if kind == "mean":
                return f"{_f(x['mean'], d)} ({_f(x['sd'], d)})"
            if kind == "median":
                return f"{_f(x['median'], d)} [{_f(x['q1'], d)}, {_f(x['q3'], d)}]"
            share = x["proportion"]
            return f"{int(x['n_level'])} ({_f(100 * share, pct)}%)" if not pd.isna(share) else f"{int(x['n_level'])}"

        smd = rows["std_difference"].dropna() if "std_difference" in rows else pd.Series(dtype=float)
        smd_text = _f(smd.iloc[0], 2) if len(smd) else ""
        if v.type == "continuous":
            out.append({"Characteristic": f"{v.label}, mean (SD)", **{h: cell("", a, "mean") for h, a in
                        zip(heads, arms, strict=True)}, smd_col: smd_text})  # fmt: skip
            out.append({"Characteristic": "    median [Q1, Q3]", **{h: cell("", a, "median") for h, a in
                        zip(heads, arms, strict=True)}, smd_col: ""})  # fmt: skip
        else:
            out.append({"Characteristic": f"{v.label}, n (%)", **dict.fromkeys(heads, ""), smd_col: smd_text})
            levels = [lv for lv in dict.fromkeys(rows["level"].fillna("").astype(str)) if lv and lv != "missing"]
            for lv in levels:
                out.append({"Characteristic": f"    {v.level_labels.get(lv, lv)}", **{h: cell(lv, a, "n") for h, a in
                            zip(heads, arms, strict=True)}, smd_col: ""})  # fmt: skip
        if (rows["level"].astype(str) == "missing").any():
            out.append({"Characteristic": "    missing", **{h: cell("missing", a, "n") for h, a in
                        zip(heads, arms, strict=True)}, smd_col: ""})  # fmt: skip
    frame = pd.DataFrame(out, columns=["Characteristic", *heads, *([smd_col] if spec.standardised_differences else [])])
    return Table(table.name, frame, table.title, table.footnotes)
