"""The subject-level derivations that match each file's rows to the men once and sum, count and look up by
integer code (issue 38, scale) give the frames the group-bys and joins on text gave (``tests/subjects_reference.py``):
the same columns, dtypes and bits, on every sample and on data with the corners those derivations meet (rows of
men the data set does not have, men with no rows, a man's rows out of order, repeated scores, empty files)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advance_trial.analysis import analysis_data
from advance_trial.config import load_config
from advance_trial.data.canonical import CanonicalData, read_canonical
from tests import subjects_reference as reference
from tests.conftest import ROOT, TRIALS
from tests.feasibility_helpers import sample

FRAMES = ("men", "screened", "partners", "scores", "events")


def same_frames(cfg, data: CanonicalData) -> None:
    new, old = analysis_data(cfg, data), reference.analysis_data(cfg, data)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(new, name), getattr(old, name), check_exact=True, obj=name)


@pytest.mark.parametrize("trial", TRIALS)
def test_every_sample_gives_the_same_frames(trial):
    same_frames(*sample(trial))


def _spoiled(data: CanonicalData, seed: int) -> CanonicalData:
    """The sample with rows shuffled, some rows naming men the data set does not have, men's attendance
    removed, groups emptied, hours unrounded, repeated score rows and events of men and partners."""
    rng = np.random.default_rng(seed)

    def shuffled(df: pd.DataFrame) -> pd.DataFrame:
        return df.sample(frac=1.0, random_state=seed) if len(df) else df.copy()

    att, fu, ms, ev = (shuffled(d) for d in (data.attendance, data.followup, data.measures, data.events))
    men = data.participants["participant_id"].tolist()
    gone = set(rng.choice(men, size=5, replace=False).tolist())
    att = att[~att["participant_id"].isin(gone)].copy()
    some = rng.choice(len(att), size=6, replace=False)
    att.iloc[some[:2], att.columns.get_loc("participant_id")] = "ZZ1"  # a man the data set does not have
    att.iloc[some[2:4], att.columns.get_loc("group_id")] = pd.NA
    att.iloc[some[4:], att.columns.get_loc("group_id")] = "a-group-sorted-first"
    att["hours"] = att["hours"] * (1.0 + rng.random(len(att)) / 3)  # sums that round in the last bit
    fu = fu.drop(fu.index[rng.choice(len(fu), size=7, replace=False)])
    ms = pd.concat([ms, ms.iloc[rng.choice(len(ms), size=4, replace=False)]])  # repeated: the first counts
    ms.iloc[-1, ms.columns.get_loc("participant_id")] = "ZZ2"
    if len(ev):
        ev.iloc[0, ev.columns.get_loc("participant_id")] = "ZZ3"
    return dataclasses.replace(data, attendance=att, followup=fu, measures=ms, events=ev)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31))
def test_the_same_frames_on_data_with_every_corner(seed):
    cfg, data = sample("advance-feasibility")
    same_frames(cfg, _spoiled(data, seed))


def test_empty_attendance_follow_up_measures_and_events():
    cfg, data = sample("advance-feasibility")
    empty = {n: getattr(data, n).iloc[:0] for n in ("attendance", "followup", "measures", "events")}
    same_frames(cfg, dataclasses.replace(data, **empty))


def test_a_simulated_trial_of_thousands(tmp_path: Path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_scale import make_data

    make_data(tmp_path, 3_000, seed=3)
    cfg = load_config(ROOT / "configs" / "advance-feasibility.yaml")
    same_frames(cfg, read_canonical(cfg, tmp_path))
