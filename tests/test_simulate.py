"""The bundled samples reproduce the published aggregates exactly, and regenerate byte for byte."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from advance_trial.config import load_config
from advance_trial.data.canonical import read_canonical
from advance_trial.errors import ConfigError
from advance_trial.simulate import CalibrationError, simulate_to_dir
from advance_trial.simulate.generate import counts_with_medians
from tests.conftest import SAMPLES, SEEDS, TRIALS, config_path, demo_ring


def sample(trial: str):
    cfg = load_config(config_path(trial))
    return cfg, read_canonical(cfg, SAMPLES / trial)


def compulsory_attended(cfg, data) -> pd.Series:
    """Compulsory sessions attended per man offered sessions, computed from the schedule by hand."""
    compulsory = {(p.type, p.number) for p in cfg.session_plan() if p.compulsory}
    att = data.attendance
    keep = [(t, int(n)) in compulsory for t, n in zip(att["session_type"], att["session_number"], strict=True)]
    att = att[np.array(keep) & att["attended"].to_numpy(dtype=bool)]
    men = data.participants.loc[data.participants["arm"] == cfg.schedule.arm, "participant_id"]
    return att.groupby("participant_id").size().reindex(men, fill_value=0)


def test_advance_feasibility_published_aggregates():
    cfg, d = sample("advance-feasibility")
    p, s = d.participants, d.screening
    assert len(p) == 104
    assert p["arm"].value_counts().to_dict() == {"advance": 54, "tau": 50}
    assert set(p["site"]) == {"london", "wolverhampton", "bristol"} and set(p["cycle"]) == {1, 2, 3}
    assert int(s["eligible"].sum()) == 147
    assert s["participant_id"].notna().sum() == 104
    assert (~s["eligible"]).sum() > 0, "ineligible men are screened too"
    fu = d.followup[d.followup["timepoint"] == "week16"]
    done = fu[fu["status"] == "completed"]
    days = (done["completed_on"] - done["due_on"]).dt.days
    assert len(fu) == 104 and ((days >= -14) & (days <= 56)).sum() == 51  # within the [-2, +8] week window
    assert len(done) == 53, "two completions outside the window, which never count as followed up"
    k = compulsory_attended(cfg, d)
    assert len(k) == 54 and k.median() == 4 and k.median() / 14 == pytest.approx(0.286, abs=5e-4)
    cycle = p.set_index("participant_id")["cycle"].reindex(k.index)
    assert k[cycle == 1].median() == 2 and k[cycle == 3].median() == 9
    pa = d.partners
    assert int(pa["consented"].sum()) == 27 and int((pa["followup_status"] == "completed").sum()) == 17
    assert d.measures["timepoint"].value_counts().to_dict() == {"baseline": 104, "week16": 53}
    items = d.measures[[f"abi_{i:02d}" for i in range(1, 31)]]
    assert items.isna().to_numpy().any() and items.notna().to_numpy().mean() > 0.9
    groups = d.attendance.dropna(subset=["group_id"])
    assert set(groups["group_id"]) <= {f"{s}-c{c}" for s in cfg.site_ids for c in cfg.cycles}
    assert groups.groupby("participant_id")["group_id"].nunique().max() == 1


def test_cranstoun_published_aggregates():
    cfg, d = sample("cranstoun-dvip")
    assert len(d.participants) == 20
    att = d.attendance
    hours = att.groupby("participant_id")["hours"].sum().reindex(d.participants["participant_id"], fill_value=0)
    assert int((hours > 30).sum()) == 18
    assert len(d.partners) == 20 and int(d.partners["contacted"].sum()) == 12


def test_advance_digital_has_every_session_type():
    cfg, d = sample("advance-digital")
    assert len(d.participants) == 60 and d.participants["site"].nunique() == 7
    attended = d.attendance[d.attendance["attended"].to_numpy(dtype=bool)]
    assert set(attended["session_type"]) == {"goal_setting", "online_group", "website", "coaching_call", "booster"}


@pytest.mark.parametrize("trial", TRIALS)
def test_regenerating_is_byte_identical(tmp_path, trial):
    out = tmp_path / trial
    out.mkdir()
    shutil.copy(SAMPLES / trial / "calibration.yaml", out / "calibration.yaml")
    cfg = load_config(config_path(trial))
    _, report = simulate_to_dir(cfg, out, SEEDS[trial], ring=demo_ring(cfg))
    assert report["met"].all()
    for f in sorted((SAMPLES / trial).glob("*.csv")):
        assert (out / f.name).read_bytes() == f.read_bytes(), f.name
    assert sorted(p.name for p in out.glob("*.csv")) == sorted(p.name for p in (SAMPLES / trial).glob("*.csv"))


def test_another_seed_gives_other_rows_same_aggregates(tmp_path):
    cfg = load_config(config_path("advance-feasibility"))
    data, report = simulate_to_dir(
        cfg, tmp_path, 7, SAMPLES / "advance-feasibility" / "calibration.yaml", demo_ring(cfg)
    )
    assert report["met"].all()
    assert (tmp_path / "measures.csv").read_bytes() != (SAMPLES / "advance-feasibility" / "measures.csv").read_bytes()
    assert data.participants["arm"].value_counts().to_dict() == {"advance": 54, "tau": 50}


def test_unreachable_arm_totals_are_refused_and_nothing_written(tmp_path):
    cfg = load_config(config_path("advance-feasibility"))
    text = (SAMPLES / "advance-feasibility" / "calibration.yaml").read_text()
    (tmp_path / "calibration.yaml").write_text(text.replace("{advance: 54, tau: 50}", "{advance: 64, tau: 40}"))
    with pytest.raises(CalibrationError, match="give arms"):
        simulate_to_dir(cfg, tmp_path, 1, ring=demo_ring(cfg))
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.yaml"]


def test_targets_are_checked_against_the_config(tmp_path):
    cfg = load_config(config_path("advance-feasibility"))
    text = (SAMPLES / "advance-feasibility" / "calibration.yaml").read_text()
    (tmp_path / "calibration.yaml").write_text(
        text.replace("week16: 51", "week12: 51").replace("id_prefix", "idprefix")
    )
    with pytest.raises(ConfigError) as info:
        simulate_to_dir(cfg, tmp_path, 1)
    paths = {p.path for p in info.value.problems}
    assert {"idprefix", "id_prefix"} <= paths


@pytest.mark.parametrize("n, overall, by_group", [(54, 4, {1: 2, 3: 9}), (17, 5, {}), (40, 3.5, {2: 6})])
def test_counts_with_medians(n, overall, by_group):
    rng = np.random.default_rng(1)
    groups = np.repeat([1, 2, 3], [n // 3, n // 3, n - 2 * (n // 3)])
    values = counts_with_medians(rng, groups, 14, overall, by_group)
    assert values.min() >= 0 and values.max() <= 14
    assert np.median(values) == overall
    for g, m in by_group.items():
        assert np.median(values[groups == g]) == m
