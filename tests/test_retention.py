"""Retention: within-window follow-up, late completions apart, reasons, differences, partners."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from advance_trial import retention as r
from advance_trial.analysis import analysis_data
from advance_trial.output.pivots import table_of
from advance_trial.output.shapes import RETENTION
from tests.feasibility_helpers import row, sample


def test_published_week16_retention():
    cfg, d = sample("advance-feasibility")
    t = table_of(cfg, "retention", r.retention_results(cfg, analysis_data(cfg, d))).data
    overall = row(t, timepoint="week16", arm="all", site="all", cycle="all")
    assert (overall.n_randomised, overall.n_retained, overall.n_outside_window) == (104, 51, 2)
    # R: prop.test(51, 104, correct = FALSE)$conf.int
    assert (overall.ci_lower, overall.ci_upper) == pytest.approx((0.396375856482595, 0.585078400332260), abs=1e-12)
    assert set(t.columns) >= {"timepoint", "arm", "site", "n_randomised", "n_retained", "proportion", "ci_lower",
                              "ci_upper", "ci_method"}  # fmt: skip
    arms = [row(t, timepoint="week16", arm=a, site="all", cycle="all") for a in cfg.arm_ids]
    assert sum(a.n_randomised for a in arms) == 104 and sum(a.n_retained for a in arms) == 51


def test_by_cycle():
    cfg, d = sample("advance-feasibility")
    t = table_of(cfg, "retention", r.retention_results(cfg, analysis_data(cfg, d), by="cycle")).data
    assert set(t["site"]) == {"all"} and set(t["cycle"]) == {"1", "2", "3", "all"}
    cycles = t[(t["arm"] == "all") & (t["cycle"] != "all")]
    assert cycles["n_randomised"].sum() == 104 and cycles["n_retained"].sum() == 51


def _with_followup(d, fu: pd.DataFrame):
    return dataclasses.replace(d, followup=fu)


def test_completion_outside_window_is_never_counted():
    cfg, d = sample("advance-feasibility")
    fu = d.followup.copy()
    i = fu.index[(fu["timepoint"] == "week16") & (fu["status"] == "completed")][0]
    fu.loc[i, "completed_on"] = fu.loc[i, "due_on"] + pd.Timedelta(days=57)  # one day past +8 weeks
    t = table_of(cfg, "retention", r.retention_results(cfg, analysis_data(cfg, _with_followup(d, fu)))).data
    overall = row(t, timepoint="week16", arm="all", site="all", cycle="all")
    assert (overall.n_retained, overall.n_outside_window) == (50, 3)
    fu.loc[i, "completed_on"] = fu.loc[i, "due_on"] + pd.Timedelta(days=56)  # the window's last day counts
    t = table_of(cfg, "retention", r.retention_results(cfg, analysis_data(cfg, _with_followup(d, fu)))).data
    overall = row(t, timepoint="week16", arm="all", site="all", cycle="all")
    assert overall.n_retained == 51


def test_men_without_a_record_are_unknown_and_in_the_denominator():
    cfg, d = sample("advance-feasibility")
    fu = d.followup[~((d.followup["participant_id"] == "AF001") & (d.followup["timepoint"] == "week16"))]
    states = r.followup_states(cfg, analysis_data(cfg, _with_followup(d, fu)))
    assert states.loc[(states["participant_id"] == "AF001"), "state"].tolist() == ["unknown"]
    overall = row(
        table_of(cfg, "retention", r.retention_results(cfg, analysis_data(cfg, _with_followup(d, fu)))).data,
        arm="all",
        site="all",
        cycle="all",
    )
    assert overall.n_randomised == 104


def test_reasons_add_up():
    cfg, d = sample("advance-feasibility")
    t = table_of(cfg, "retention_reasons", r.reasons_results(cfg, analysis_data(cfg, d))).data
    for arm in [*cfg.arm_ids, "all"]:
        cell = t[t["arm"] == arm]
        assert cell["n"].sum() == cell["n_randomised"].iloc[0]
    assert row(t, arm="all", state="retained").n == 51 and row(t, arm="all", state="outside_window").n == 2
    assert set(t["state"]) == set(r.STATES)


def test_difference_between_arms_is_newcombe():
    cfg, d = sample("advance-feasibility")
    t = table_of(cfg, "retention_difference", r.difference_results(cfg, analysis_data(cfg, d))).data
    (diff,) = t.itertuples()
    assert (diff.arm, diff.comparator, diff.ci_method) == ("advance", "tau", "newcombe")
    assert diff.estimate == pytest.approx(diff.n_retained_arm / diff.n_arm - diff.n_retained_comparator / 50)
    # R (closed form of Newcombe's method 10 from prop.test's Wilson limits):
    #   w1 <- prop.test(32, 54, correct=FALSE)$conf.int; w2 <- prop.test(19, 50, correct=FALSE)$conf.int
    #   d <- 32/54 - 19/50; d - sqrt((32/54 - w1[1])^2 + (w2[2] - 19/50)^2)
    #   d + sqrt((w1[2] - 32/54)^2 + (19/50 - w2[1])^2)
    assert (diff.n_retained_arm, diff.n_retained_comparator) == (32, 19)
    assert (diff.ci_lower, diff.ci_upper) == pytest.approx((0.0206295019787802, 0.38371140537402), abs=1e-12)


def test_single_arm_has_no_difference():
    cfg, d = sample("advance-digital")
    assert table_of(cfg, "retention_difference", r.difference_results(cfg, analysis_data(cfg, d))).data.empty


def test_partner_follow_up_is_aggregate_only():
    cfg, d = sample("advance-feasibility")
    t = table_of(cfg, "partner_retention", r.partner_retention_results(cfg, analysis_data(cfg, d))).data
    overall = row(t, timepoint="week16", arm="all", site="all", cycle="all")
    assert (overall.n_randomised, overall.n_retained) == (27, 17)
    # R: prop.test(17, 27, correct = FALSE)$conf.int
    assert (overall.ci_lower, overall.ci_upper) == pytest.approx((0.442292344121024, 0.784674870390344), abs=1e-12)
    assert not ({"partner_id", "participant_id"} & set(t.columns))
    assert list(t.columns) == list(RETENTION.columns)


def test_partner_contact_cranstoun():
    cfg, d = sample("cranstoun-dvip")
    t = table_of(cfg, "partner_contact", r.partner_contact_results(cfg, analysis_data(cfg, d))).data
    overall = row(t, arm="all", site="all")
    assert (overall.n_partners, overall.n_contacted, overall.proportion) == (20, 12, 0.6)
