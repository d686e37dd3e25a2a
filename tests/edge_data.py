"""Ten data sets at the edges of the outcome models, made from the ADVANCE sample (issue 33).

Each is the sample with one thing pushed to its limit; :func:`make` writes it and a copy of the
config that also asks for ``firth`` on the binary outcome (and 5 imputations, not 20, to be quick).
The changes are deterministic (numpy ``default_rng(33)`` where a draw is needed), so the R
references typed into the tests are computed from the same files (``make`` the folder, then
``read.csv`` it).

Cases: ``complete_separation``, ``quasi_separation`` (the binary outcome), ``constant_in_control``
(the physical score the same for every control man), ``two_per_arm``, ``one_site``,
``timepoint_unattended`` (nobody followed up at week 16), ``covariate_missing_arm`` (no control man
has a baseline score), ``negative_correlation`` (follow-up mirrors baseline),
``control_counts_zero`` (no physical act reported by any control man at week 16) and
``constant_outcome`` (everyone's physical score the same, analysed by multiple imputation too).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import SAMPLES, config_path

CASES = (
    "complete_separation",
    "quasi_separation",
    "constant_in_control",
    "two_per_arm",
    "one_site",
    "timepoint_unattended",
    "covariate_missing_arm",
    "negative_correlation",
    "control_counts_zero",
    "constant_outcome",
)
PHYSICAL = [2, 4, 7, 10, 13, 17, 21, 23, 25, 27, 28, 29, 30]
FILES = ("screening", "participants", "attendance", "followup", "measures", "partners", "events")


def _cols(items: list[int]) -> list[str]:
    return [f"abi_{i:02d}" for i in items]


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    return {f: pd.read_csv(folder / f"{f}.csv", dtype=str, keep_default_na=False) for f in FILES}


def _write(folder: Path, frames: dict[str, pd.DataFrame]) -> None:
    for name, df in frames.items():
        df.to_csv(folder / f"{name}.csv", index=False)


def _week16(d: dict[str, pd.DataFrame], arm: str | None = None) -> pd.Series:
    m = d["measures"]
    rows = m["timepoint"] == "week16"
    if arm is not None:
        men = set(d["participants"].loc[d["participants"]["arm"] == arm, "participant_id"])
        rows &= m["participant_id"].isin(men)
    return rows


def _set_items(d: dict[str, pd.DataFrame], rows: pd.Series, items: list[int], value: int) -> None:
    for c in _cols(items):
        answered = rows & (d["measures"][c] != "")
        d["measures"].loc[answered, c] = str(value)


def _only(d: dict[str, pd.DataFrame], men: set[str]) -> None:
    """Keep these men only (and the screening rows of men never randomised)."""
    s = d["screening"]
    d["screening"] = s[(s["participant_id"] == "") | s["participant_id"].isin(men)]
    for f in ("participants", "attendance", "followup", "measures", "partners", "events"):
        df = d[f]
        keep = df["participant_id"].isin(men)
        if f == "events":
            keep |= df["participant_id"] == ""  # partner events keep their partner
            keep &= df["partner_id"].isin(set(d["partners"]["partner_id"])) | (df["partner_id"] == "")
        d[f] = df[keep]


def _change(case: str, d: dict[str, pd.DataFrame]) -> None:
    rng = np.random.default_rng(33)
    if case == "complete_separation":  # intervention: no item above 2; control: item 2 at 3
        _set_items(d, _week16(d, "advance"), PHYSICAL, 1)
        _set_items(d, _week16(d, "tau"), [2], 3)
    elif case == "quasi_separation":  # intervention: no item above 2; control as it was
        _set_items(d, _week16(d, "advance"), PHYSICAL, 2)
    elif case == "constant_in_control":
        _set_items(d, _week16(d, "tau"), PHYSICAL, 2)
    elif case == "two_per_arm":
        p, f = d["participants"], d["followup"]
        seen = set(f.loc[(f["timepoint"] == "week16") & (f["status"] == "completed"), "participant_id"])
        men: set[str] = set()
        for arm in ("advance", "tau"):
            men |= set(p.loc[(p["arm"] == arm) & p["participant_id"].isin(seen), "participant_id"].head(2))
        _only(d, men)
    elif case == "one_site":
        for f in ("screening", "participants"):
            d[f]["site"] = "london"
    elif case == "timepoint_unattended":
        f = d["followup"]
        due = f["timepoint"] == "week16"
        f.loc[due & (f["status"] == "completed"), ["status", "completed_on"]] = ["missed", ""]
        d["measures"] = d["measures"][d["measures"]["timepoint"] != "week16"]
    elif case == "covariate_missing_arm":
        tau = set(d["participants"].loc[d["participants"]["arm"] == "tau", "participant_id"])
        m = d["measures"]
        d["measures"] = m[~((m["timepoint"] == "baseline") & m["participant_id"].isin(tau))]
        f = d["followup"]
        f.loc[(f["timepoint"] == "baseline") & f["participant_id"].isin(tau), ["status", "completed_on"]] = [
            "missed",
            "",
        ]
    elif case == "negative_correlation":  # follow-up mirrors baseline, one point of noise
        m = d["measures"]
        base = m[m["timepoint"] == "baseline"].set_index("participant_id")
        rows = m.index[m["timepoint"] == "week16"]
        for c in _cols(list(range(1, 31))):
            for i in rows:
                b = base.at[m.at[i, "participant_id"], c]
                if m.at[i, c] != "" and b != "":
                    m.at[i, c] = str(int(np.clip(6 - int(b) + rng.integers(-1, 2), 1, 5)))
    elif case == "control_counts_zero":
        _set_items(d, _week16(d, "tau"), PHYSICAL, 1)
    elif case == "constant_outcome":
        _set_items(d, _week16(d), PHYSICAL, 2)
    else:
        raise ValueError(case)


def make(case: str, where: Path) -> tuple[Path, Path]:
    """Write the edge data set ``case`` under ``where``; returns (config, data folder)."""
    data = where / case
    shutil.copytree(SAMPLES / "advance-feasibility", data, ignore=shutil.ignore_patterns("site-exports"))
    d = _read(data)
    _change(case, d)
    _write(data, d)
    text = config_path("advance-feasibility").read_text()
    marker = "    derived: physical_more_than_rarely\n    timepoint: week16\n    type: binary\n"
    assert marker in text
    text = text.replace(marker, marker + "    analyses: [logistic, firth]\n")
    text = text.replace("log: ../allocation/advance-feasibility.sqlite", "log: allocation.sqlite")
    old = "analysis: {df: containment, mi_m: 20, mi_iterations: 10, mi_seed: 20180524}"
    assert old in text
    text = text.replace(old, "analysis: {df: containment, mi_m: 5, mi_iterations: 5, mi_seed: 20180524}")  # quicker
    cfg = where / f"{case}.yaml"
    cfg.write_text(text)
    return cfg, data


if __name__ == "__main__":  # write every case: python -m tests.edge_data FOLDER
    import sys

    for c in CASES:
        print(*make(c, Path(sys.argv[1])))
