"""Dose: per-man attendance, thresholds with men randomised as the denominator, medians."""

from __future__ import annotations

import dataclasses

import pytest

from advance_trial.analysis import analysis_data, meets
from advance_trial.feasibility import dose
from advance_trial.output.pivots import table_of
from tests.feasibility_helpers import row, sample


def test_published_median_attendance():
    cfg, d = sample("advance-feasibility")
    t = table_of(cfg, "dose", dose.dose_results(cfg, analysis_data(cfg, d))).data
    overall = row(t, threshold="half_of_compulsory", cycle="all", site="all")
    assert overall.n == 54 and overall.median_sessions == 4
    assert overall.median_sessions / 14 == pytest.approx(0.2857, abs=1e-4)  # 28.6%
    assert row(t, threshold="half_of_compulsory", cycle="1", site="all").median_sessions == 2  # 14.3%
    assert row(t, threshold="half_of_compulsory", cycle="3", site="all").median_sessions == 9  # 64.3%


def test_cranstoun_beyond_30_hours():
    cfg, d = sample("cranstoun-dvip")
    r = row(
        table_of(cfg, "dose", dose.dose_results(cfg, analysis_data(cfg, d))).data,
        threshold="hours_over_30",
        cycle="all",
        site="all",
    )
    assert (r.n, r.n_met, r.proportion) == (20, 18, 0.9)
    # R: prop.test(18, 20, correct = FALSE)$conf.int
    assert (r.ci_lower, r.ci_upper) == pytest.approx((0.698966354771513, 0.972133518786232), abs=1e-12)


def test_denominator_counts_men_who_never_attended():
    cfg, d = sample("advance-feasibility")
    pid = d.participants.loc[d.participants["arm"] == "advance", "participant_id"].iloc[0]
    d2 = dataclasses.replace(d, attendance=d.attendance[d.attendance["participant_id"] != pid])
    per = dose.dose_per_man(cfg, analysis_data(cfg, d2))
    assert len(per) == 54
    man = per[per["participant_id"] == pid].iloc[0]
    assert (man.sessions, man.compulsory_sessions, man.hours, man.any_session) == (0, 0, 0.0, False)


def test_per_man_measures_by_hand():
    cfg, d = sample("advance-feasibility")
    per = dose.dose_per_man(cfg, analysis_data(cfg, d)).set_index("participant_id")
    att = d.attendance
    pid = per.index[5]
    mine = att[(att["participant_id"] == pid) & att["attended"].to_numpy(dtype=bool)]
    compulsory = mine[~((mine["session_type"] == "individual") & (mine["session_number"] == 3))]
    assert per.loc[pid, "sessions"] == len(mine)
    assert per.loc[pid, "compulsory_sessions"] == len(compulsory)
    assert per.loc[pid, "hours"] == pytest.approx(mine["hours"].sum())
    assert per.loc[pid, "compulsory_percent"] == pytest.approx(100 * len(compulsory) / 14)
    assert per.loc[pid, "half_of_compulsory"] == (len(compulsory) >= 7)


def test_more_than_is_strict():
    cfg, d = sample("cranstoun-dvip")
    per = dose.dose_per_man(cfg, analysis_data(cfg, d)).copy()
    per.loc[0, "hours"] = 30.0
    assert not meets(cfg.thresholds[0], per)[0]
    per.loc[0, "hours"] = 30.5
    assert meets(cfg.thresholds[0], per)[0]


def test_summary_and_distribution():
    cfg, d = sample("advance-feasibility")
    s = table_of(cfg, "dose_summary", dose.dose_summary_results(cfg, analysis_data(cfg, d))).data
    assert row(s, by="all", level="all").median_compulsory_sessions == 4
    groups = s[s["by"] == "group"]
    assert set(groups["level"]) == {f"{x}-c{c}" for x in cfg.site_ids for c in cfg.cycles}
    dist = table_of(cfg, "dose_distribution", dose.distribution_results(cfg, analysis_data(cfg, d))).data
    overall = dist[dist["cycle"] == "all"]
    assert overall["n"].sum() == 54 and list(overall["compulsory_sessions"]) == list(range(15))


def test_no_schedule_no_dose():
    cfg, d = sample("advance-feasibility")
    cfg2 = cfg.model_copy(update={"schedule": None, "thresholds": []})
    assert dose.dose_per_man(cfg2, analysis_data(cfg2, d)).empty
