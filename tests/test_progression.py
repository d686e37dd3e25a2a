"""Progression criteria: go thresholds, traffic lights, estimate or lower bound."""

from __future__ import annotations

import math

import pytest

from advance_trial.config.models import Criterion
from advance_trial.intervals import Estimate
from advance_trial.pipeline import feasibility_tables
from advance_trial.progression import judge, rule_text
from tests.feasibility_helpers import row, sample


def test_advance_published_progression():
    cfg, d = sample("advance-feasibility")
    t = feasibility_tables(cfg, d)["progression"].data
    rec, fu = row(t, criterion="recruitment"), row(t, criterion="follow_up")
    assert (rec.status, fu.status) == ("met", "not_met")
    assert rec.estimate == pytest.approx(104 / 147) and fu.estimate == pytest.approx(51 / 104)
    assert fu.rule == "estimate >= 0.70"
    assert list(t.columns[:7]) == ["criterion", "label", "metric", "estimate", "ci_lower", "ci_upper", "ci_method"]
    assert {"rule", "status"} <= set(t.columns)


def test_cranstoun_progression_reads_dose_and_partner_contact():
    cfg, d = sample("cranstoun-dvip")
    t = feasibility_tables(cfg, d)["progression"].data
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
    assert judge(o, EST) == "not_evaluated" and rule_text(o) == "decrease in the intervention arm"


def test_rule_text():
    assert rule_text(Criterion(id="c", metric="m", green=0.8, amber=0.6, judge_on="lower_bound")) == (
        "green: lower bound >= 0.80; amber: lower bound >= 0.60; else red"
    )
