"""Helpers shared by the feasibility tests: loading samples and picking rows."""

from __future__ import annotations

import pandas as pd

from advance_trial.config import load_config
from advance_trial.data.canonical import read_canonical
from tests.conftest import SAMPLES, config_path


def sample(trial: str):
    cfg = load_config(config_path(trial))
    return cfg, read_canonical(cfg, SAMPLES / trial)


def row(df: pd.DataFrame, **where) -> pd.Series:
    keep = pd.Series(True, index=df.index)
    for k, v in where.items():
        keep &= df[k].astype(str) == str(v)
    rows = df[keep]
    assert len(rows) == 1, f"{len(rows)} rows for {where}"
    return rows.iloc[0]
