"""Progression criteria: go thresholds, traffic lights, estimate or lower bound."""

from __future__ import annotations

import math

import pytest

from advance_trial.analysis import analysis_data
from advance_trial.config.models import Criterion
from advance_trial.feasibility.progression import judge, rule_text
from advance_trial.intervals import Estimate
from advance_trial.pipeline import feasibility_tables
from tests.feasibility_helpers import row, sample


def test_advance_published_progression():
    cfg, d = sample("advance-feasibility")
    t = feasibility_tables(cfg, analysis_data(cfg, d))["progression"].data
    rec, fu = row(t, criterion="recruitment"), row(t, criterion="follow_up")
    assert (rec.status, fu.status) == ("met", "not_met")
    assert rec.estimate == pytest.approx(104 / 147) and fu.estimate == pytest.approx(51 / 104)
    assert fu.rule == "estimate >= 0.70"
    assert list(t.columns[:7]) == ["criterion", "label", "metric", "estimate", "ci_lower", "ci_upper", "ci_method"]
    assert {"rule", "status"} <= set(t.columns)


def test_cranstoun_progression_reads_dose_and_partner_contact():
    cfg, d = sample("cranstoun-dvip")
    t = feasibility_tables(cfg, analysis_data(cfg, d))["progression"].data
    assert row(t, criterion="engagement").estimate == 0.9
    assert row(t, criterion="partner_contact").estimate == 0.6 and row(t, criterion="partner_contact").status == "met"


EST = Estimate(0.707, 0.629, 0.775, "wilson")


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"go": 0.60}, "met"),
        ({"go": 0.70}, "met"),
        ({"go": 0.70, "judge_on": "lower_bound"}, "not_met"),
        ({"go": 0.629, "judge_on": "lower_bound"}, "met"),
        ({"green": 0.70, "amber": 0.50}, "green"),
        ({"green": 0.80, "amber": 0.70}, "amber"),
        ({"green": 0.80, "amber": 0.71}, "red"),
        ({"green": 0.70, "amber": 0.60, "judge_on": "lower_bound"}, "amber"),
    ],
)
def test_judge(kwargs, status):
    assert judge(Criterion(id="c", metric="recruitment_rate", **kwargs), EST) == status


def test_not_evaluated():
    c = Criterion(id="c", metric="recruitment_rate", go=0.5)
    assert judge(c, None) == "not_evaluated"
    assert judge(c, Estimate(math.nan, math.nan, math.nan, "wilson")) == "not_evaluated"
    o = Criterion(id="o", metric="outcome.abi_physical", direction="decrease")
    assert judge(o, None) == "not_evaluated"
    assert rule_text(o) == "estimate below no effect (decrease in the intervention arm)"


@pytest.mark.parametrize(
    "direction, judge_on, est, null, status",
    [
        ("decrease", "estimate", (-0.2, -0.4, 0.1), 0.0, "met"),
        ("decrease", "lower_bound", (-0.2, -0.4, 0.1), 0.0, "not_met"),
        ("decrease", "lower_bound", (-0.2, -0.4, -0.01), 0.0, "met"),
        ("increase", "estimate", (-0.2, -0.4, 0.1), 0.0, "not_met"),
        ("decrease", "estimate", (0.8, 0.6, 1.1), 1.0, "met"),
        ("decrease", "lower_bound", (0.8, 0.6, 1.1), 1.0, "not_met"),
        ("increase", "lower_bound", (1.3, 1.1, 1.6), 1.0, "met"),
    ],
)
def test_outcome_criteria(direction, judge_on, est, null, status):
    c = Criterion(id="o", metric="outcome.x", direction=direction, judge_on=judge_on)
    assert judge(c, Estimate(*est, "t"), null) == status


def test_outcome_criterion_through_the_pipeline(advance_cfg):
    from advance_trial.data.canonical import read_canonical
    from advance_trial.pipeline import all_tables
    from tests.conftest import SAMPLES

    low = {"direction": "decrease", "judge_on": "lower_bound"}
    extra = [
        Criterion(id="psych", metric="outcome.abi_psychological", direction="decrease"),
        Criterion(id="psych_ci", metric="outcome.abi_psychological", **low),
        Criterion(id="phys_ci", metric="outcome.abi_physical", **low),
    ]
    cfg = advance_cfg.model_copy(update={"progression": extra})
    tables = all_tables(cfg, analysis_data(cfg, read_canonical(cfg, SAMPLES / "advance-feasibility")))
    got = dict(zip(tables["progression"].data["criterion"], tables["progression"].data["status"], strict=True))
    # the ANCOVA (first analysis): psychological -0.0038 (-0.149 to 0.142), physical -0.083 (-0.251 to 0.084):
    # both estimates decrease, neither interval lies below zero
    assert got == {"psych": "met", "psych_ci": "not_met", "phys_ci": "not_met"}


def test_rule_text():
    assert rule_text(Criterion(id="c", metric="m", green=0.8, amber=0.6, judge_on="lower_bound")) == (
        "green: lower bound >= 0.80; amber: lower bound >= 0.60; else red"
    )
