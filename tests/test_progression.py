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


# ---------------------------------------------------------------------------- issue 20, part 3


def test_the_five_advance_criteria(sample_tables):
    """Recruitment, acceptability (a recorded judgement), follow-up, and substance use and physical abuse in
    the intervention arm not increased from baseline (the within-arm change's estimate at or below 0)."""
    t = sample_tables("advance-feasibility")[2]["progression"].data
    got = dict(zip(t["criterion"], t["status"], strict=True))
    assert got == {"recruitment": "met", "acceptability": "met", "follow_up": "not_met", "substance_use": "met",
                   "abuse": "met"}  # fmt: skip
    acc = row(t, criterion="acceptability")
    assert math.isnan(acc.estimate) and acc.rule.startswith("qualitative, judged by Trial steering committee on 2020-")
    sub = row(t, criterion="substance_use")
    # R: a <- men in ADVANCE + TAU; t.test(a$y_substance_days - a$base_substance_days)
    #    mean -3.25806451612903, 95% CI -4.7938778800171 to -1.72225115224096 (df 30)
    assert (sub.estimate, sub.ci_lower, sub.ci_upper) == pytest.approx(
        (-3.25806451612903, -4.7938778800171, -1.72225115224096), rel=1e-12
    )
    abuse = row(t, criterion="abuse")
    # R: t.test(a$y_abi_physical - a$base_abi_physical): -0.18010752688172 (-0.299956787057601 to -0.0602582667058402)
    assert (abuse.estimate, abuse.ci_lower, abuse.ci_upper) == pytest.approx(
        (-0.18010752688172, -0.299956787057601, -0.0602582667058402), rel=1e-12
    )
    assert sub.rule == "estimate at or below no change from baseline (no increase in the intervention arm)"


@pytest.mark.parametrize(
    "direction, judge_on, est, status",
    [
        ("no_increase", "estimate", (0.0, -0.3, 0.3), "met"),  # no change is no increase
        ("no_increase", "estimate", (0.1, -0.3, 0.5), "not_met"),
        ("no_increase", "lower_bound", (-0.1, -0.3, 0.2), "not_met"),  # the whole interval must be at or below
        ("no_increase", "lower_bound", (-0.4, -0.6, 0.0), "met"),
        ("no_decrease", "estimate", (-0.1, -0.3, 0.2), "not_met"),
        ("no_decrease", "lower_bound", (0.3, 0.0, 0.6), "met"),
    ],
)
def test_change_criteria(direction, judge_on, est, status):
    c = Criterion(id="c", metric="change.x", direction=direction, judge_on=judge_on)
    assert judge(c, Estimate(*est, "paired t")) == status


def test_a_qualitative_criterion_shows_its_judgement():
    from advance_trial.config.models import Judgement

    j = Judgement(status="amber", evidence="facilitators found the groups too long", judged_by="TSC")
    c = Criterion(id="acc", metric="qualitative", judgement=j)
    assert judge(c, None) == "amber"
    assert rule_text(c) == "qualitative, judged by TSC: facilitators found the groups too long"


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"id": "q", "metric": "qualitative"}, "records its judgement"),
        ({"id": "q", "metric": "qualitative", "go": 0.5,
          "judgement": {"status": "met", "evidence": "e", "judged_by": "j"}}, "judged by people"),
        ({"id": "q", "metric": "retention.week16", "go": 0.5,
          "judgement": {"status": "met", "evidence": "e", "judged_by": "j"}}, "metric: qualitative only"),
        ({"id": "q", "metric": "change.physical_more_than_rarely", "direction": "no_increase"}, "is binary"),
        ({"id": "q", "metric": "change.abi_physical"}, "names the hoped-for direction"),
        ({"id": "q", "metric": "change.abi_physical", "direction": "no_increase", "go": 0.1}, "judged on direction"),
        ({"id": "q", "metric": "retention.week16", "go": 0.5, "direction": "no_increase"}, "change metrics only"),
    ],
)  # fmt: skip
def test_criteria_the_config_refuses(tmp_path, advance_text, entry, message):
    import yaml

    from advance_trial.config import load_config
    from advance_trial.errors import ConfigError

    doc = yaml.safe_load(advance_text)
    doc["progression"].append(entry)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ConfigError, match=message):
        load_config(path)
