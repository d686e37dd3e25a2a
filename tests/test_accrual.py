"""Recruitment over time: per site per month, the rate per site-month against R's poisson.test."""

from __future__ import annotations

import pytest

from advance_trial.analysis import analysis_data
from advance_trial.feasibility.accrual import monthly_results, poisson_interval, rate_results
from advance_trial.output.pivots import table_of
from tests.conftest import SAMPLES, config_path
from tests.feasibility_helpers import row, sample


@pytest.mark.parametrize(
    "count, exposure, interval",
    [
        (40, 12, (2.38138220348241, 4.53905391366534)),  # R: poisson.test(40, 12)$conf.int
        (0, 5, (0.0, 0.737775890822787)),  # R: poisson.test(0, 5)$conf.int
        (104, 30, (2.83251787700435, 4.20044689983351)),  # R: poisson.test(104, 30)$conf.int
    ],
)
def test_exact_poisson_interval_as_r(count, exposure, interval):
    assert poisson_interval(count, exposure) == pytest.approx(interval, rel=1e-12, abs=1e-15)


def test_months_add_up_to_the_men_randomised():
    cfg, d = sample("advance-feasibility")
    ads = analysis_data(cfg, d)
    m = table_of(cfg, "recruitment_monthly", monthly_results(cfg, ads)).data
    trial = m[m["site"] == "all"]
    m = m[m["site"] != "all"]
    assert m["n_randomised"].sum() == 104 == trial["cumulative"].iloc[-1] == trial["n_randomised"].sum()
    assert list(trial["month"]) == sorted(set(m["month"]))  # the trial's months: its first man to its last
    for site, n in (("london", 40), ("wolverhampton", 34), ("bristol", 30)):
        at = m[m["site"] == site]
        assert at["cumulative"].iloc[-1] == n and at["n_randomised"].iloc[0] > 0 and at["n_randomised"].iloc[-1] > 0
    assert (m["n_randomised"] == 0).any()  # months between a site's first and last man count, empty or not


def test_rate_and_months_needed():
    cfg, d = sample("advance-feasibility")
    t = table_of(cfg, "recruitment_rate", rate_results(cfg, analysis_data(cfg, d), 447)).data
    overall = row(t, site="all")
    assert (overall.n_randomised, overall.site_months) == (104, 45)  # three sites, June 2018 to August 2019
    assert overall.rate == 104 / 45
    # R: poisson.test(104, 45)$conf.int
    lo, hi = poisson_interval(104, 45)
    assert (overall.ci_lower, overall.ci_upper) == (lo, hi)
    assert overall.months_needed == pytest.approx(447 / (104 / 45 * 6))
    assert overall.months_ci_lower == pytest.approx(447 / (hi * 6)) and overall.months_ci_upper > overall.months_needed


def test_shareable_runs_withhold_site_months_and_print_withheld_criteria(invoke, tmp_path):
    # a withheld progression estimate crashed the terminal table of a shareable run (exit 1)
    res = invoke("run", config_path("cranstoun-dvip"), "--data", SAMPLES / "cranstoun-dvip", "--out", tmp_path / "o",
                 "--shareable")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "o" / "recruitment_monthly.csv").exists()
    assert not (tmp_path / "o" / "recruitment_rate.csv").exists()


def _with_criterion(tmp_path, criterion: str):
    text = config_path("advance-feasibility").read_text()
    anchor = "  - {id: follow_up,"
    path = tmp_path / "c.yaml"
    path.write_text(text.replace(anchor, f"  - {criterion}\n{anchor}"))
    return path


@pytest.mark.parametrize("go, status", [(4, "not_met"), (2, "met")])
def test_recruitment_per_site_month_is_a_progression_metric(invoke, tmp_path, go, status):
    cfg = _with_criterion(tmp_path, f"{{id: pace, metric: recruitment.per_site_month, go: {go}}}")
    res = invoke("progression", cfg, "--data", SAMPLES / "advance-feasibility", "--json")
    assert res.exit_code == 0, res.output
    import json

    pace = next(r for r in json.loads(res.stdout)["progression"] if r["criterion"] == "pace")
    assert pace["estimate"] == pytest.approx(104 / 45) and pace["status"] == status
    assert pace["ci_method"] == "exact Poisson"


def test_a_proportion_threshold_above_one_is_a_config_error(invoke, tmp_path):
    cfg = _with_criterion(tmp_path, "{id: bad, metric: recruitment_rate, go: 4}")
    res = invoke("config", "validate", cfg)
    assert res.exit_code == 3 and "is a proportion" in res.output
