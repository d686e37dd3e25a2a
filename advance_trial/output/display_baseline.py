"""Table 1 laid out: a row per characteristic (and level), as the config's ``baseline_table`` declares them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from advance_trial.config.models import Config
from advance_trial.output.formats import count, median, num, share
from advance_trial.results.layout import records
from advance_trial.tabulate import ALL


def baseline_frame(cfg: Config, df: pd.DataFrame) -> pd.DataFrame:
    """Table 1 from ``baseline.csv``'s frame: a row per characteristic (and level), a column per arm and
    overall headed with its n (arms in the frame's order, which blinding sets), the standardised
    difference beside."""
    spec = cfg.baseline_table
    if spec is None or df.empty:
        return df
    arms = list(dict.fromkeys(str(a) for a in df["arm"]))
    labels = {a.id: a.label for a in cfg.arms}
    # a column's n: the men in the arm (the largest denominator of its rows: a missing row counts them all)
    size = {a: count(pd.to_numeric(df.loc[df["arm"].astype(str) == a, "n"], errors="coerce").max()) for a in arms}
    heads = [f"{'Overall' if a == ALL else labels.get(a, f'Arm {a}')} (n={size[a]})" for a in arms]
    pct = cfg.reporting.percent_digits
    out: list[dict[str, str]] = []
    smd_col = "Standardised difference"
    for v in spec.variables:
        d = spec.digits if v.digits is None else v.digits
        rows = df[df["variable"] == v.id]
        first: dict[tuple[str, str], dict[Any, Any]] = {}  # (level, arm) -> its first row
        for key, rec in zip(zip(rows["level"].fillna("").astype(str), rows["arm"].astype(str), strict=True),
                            records(rows), strict=True):  # fmt: skip
            first.setdefault(key, rec)

        def cell(level: str, arm: str, kind: str, first: dict[tuple[str, str], dict[Any, Any]] = first,
                 d: int = d) -> str:  # fmt: skip
            x = first.get((level, arm))
            if x is None:
                return ""
            if kind == "mean":
                return f"{num(x['mean'], d)} ({num(x['sd'], d)})"
            if kind == "median":
                return median(x["median"], x["q1"], x["q3"], d)
            return share(x["n_level"], x["proportion"], pct)

        def line(text: str, level: str, kind: str, smd: str = "") -> dict[str, str]:
            return {"Characteristic": text, **{h: cell(level, a, kind) for h, a in zip(heads, arms, strict=True)},
                    smd_col: smd}  # fmt: skip

        smd = rows["std_difference"].dropna() if "std_difference" in rows else pd.Series(dtype=float)
        smd_text = num(smd.iloc[0], 2) if len(smd) else ""
        if v.type == "continuous":
            out.append(line(f"{v.label}, mean (SD)", "", "mean", smd_text))
            out.append(line("    median [Q1, Q3]", "", "median"))
        else:
            out.append({"Characteristic": f"{v.label}, n (%)", **dict.fromkeys(heads, ""), smd_col: smd_text})
            levels = [lv for lv in dict.fromkeys(rows["level"].fillna("").astype(str)) if lv and lv != "missing"]
            out += [line(f"    {v.level_labels.get(lv, lv)}", lv, "n") for lv in levels]
        if (rows["level"].astype(str) == "missing").any():
            out.append(line("    missing", "missing", "n"))
    smd_shown = spec.standardised_differences and "std_difference" in df  # a pooled Table 1 has none
    return pd.DataFrame(out, columns=["Characteristic", *heads, *([smd_col] if smd_shown else [])])
