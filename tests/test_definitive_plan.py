"""Issue 35 wired into the product: ``plan``'s per-arm sizes at the trial's and the optimal ratio, the four
ways to use the pilot's SD, the sensitivity grid, the recruitment forecast, the paragraph, ``plan --json``,
``progression.csv``'s ``probability_met`` and the planning figures. Every number against R (the call in a
comment; R is not needed to run the tests) or a closed form."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from advance_trial.config.models import BetaPriorSpec, Criterion
from advance_trial.feasibility.progression import probabilities
from tests.conftest import SAMPLES, config_path

ADV = config_path("advance-feasibility")
DEF = config_path("advance-definitive")
DATA = SAMPLES / "advance-feasibility"
REL = 1e-9
EXPECTED = Path(__file__).resolve().parent / "expected" / "advance-feasibility"


@pytest.fixture
def sample(sample_tables):
    return sample_tables("advance-feasibility")


def _row(df: pd.DataFrame, **keys: str) -> dict:
    rows = df
    for k, v in keys.items():
        rows = rows[rows[k] == v]
    assert len(rows) == 1, keys
    return dict(rows.iloc[0])


def test_plan_csv_is_unchanged_and_the_per_arm_sizes_are_rs(sample):
    _, _, tables = sample
    expected = pd.read_csv(EXPECTED / "plan.csv")
    assert list(tables["plan"].data.columns) == list(expected.columns)
    assert len(tables["plan"].data) == len(expected)
    arms = tables["plan_arms"].data
    # R, from plan.csv's n0 = 42.33168343800683, D = 4.165086975350265, retention 0.49038461538461536:
    #   ceiling(n0 * (D / 1 + 1) / 2 / keep)                       -> 223 (each arm at 1:1)
    #   ceiling(n0 * (D / sqrt(D) + 1) / 2 / keep); ceiling(sqrt(D) * n0 * (D / sqrt(D) + 1) / 2 / keep)  -> 132 268
    at = _row(arms, allocation="configured", basis="estimate")
    assert (at["ratio"], at["n_control"], at["n_intervention"], at["n_total"]) == (1.0, 223, 223, 446)
    opt = _row(arms, allocation="optimal", basis="estimate")
    assert opt["ratio"] == pytest.approx(4.165086975350265**0.5, rel=REL)  # sqrt(D): 2.04
    assert (opt["n_control"], opt["n_intervention"], opt["n_total"]) == (132, 268, 400)
    # the same on the conservative values (n0 73.96165641140954, D 6.845086257307134, retention 0.3963758564825951)
    assert [
        _row(arms, allocation=a, basis="conservative")[c]
        for a, c in (("configured", "n_control"), ("optimal", "n_control"), ("optimal", "n_intervention"))
    ] == [732, 338, 883]


def test_four_ways_to_use_the_pilots_sd_against_r(sample):
    _, _, tables = sample
    sd = tables["plan_sd"].data.set_index("method")
    # R: power.t.test(delta = 0.2, sd = 0.4130699770315857, power = 0.9, tol = 1e-12)$n
    assert sd.loc["pilot", "n_per_arm"] == pytest.approx(90.613611818739116, rel=REL)
    # R: up <- 0.4130699770315857 * sqrt(49 / qchisq(0.2, 49)); power.t.test(delta = 0.2, sd = up, ...)$n
    assert sd.loc["browne", "sd"] == pytest.approx(0.45416085920447513, rel=REL)
    assert sd.loc["browne", "n_per_arm"] == pytest.approx(109.33348936420386, rel=1e-8)
    # R: power.t.test(...)$n * 49 / qchisq(0.2, 49)
    assert sd.loc["sim_lewis", "n_per_arm"] == pytest.approx(109.53819650693202, rel=REL)
    # R: uniroot(function(n) pt(sqrt(n/2) * 0.2 / sd, 49, ncp = qt(0.975, 2*n - 2)) - 0.9, c(2, 1e4), tol = 1e-12)
    assert sd.loc["julious_owen", "n_per_arm"] == pytest.approx(95.257083440901582, rel=1e-8)
    # the standardised effect: 0.2 / 0.4130699770315857
    assert sd.loc["pilot", "standardised_effect"] == pytest.approx(0.2 / 0.4130699770315857, rel=1e-12)
    assert sd.loc["pilot", "n_total"] == 446  # the configured ratio's total, as plan_arms


def test_sensitivity_grid_and_the_input_that_moves_the_total_most(sample):
    _, _, tables = sample
    grid = tables["plan_sensitivity"].data
    assert len(grid) == 3 * 2 * 2  # ICC 0, estimate, upper limit x SD x retention
    # R: 2 * ceiling(power.t.test(delta = 0.2, sd = 0.4130699770315857, power = 0.9, tol = 1e-12)$n
    #    * 0.4671669364932143 / 0.49038461538461536)                                         -> 174
    assert _row(grid, icc_source="zero", sd_source="estimate", retention_source="estimate")["n_total"] == 174
    # R: n_up <- power.t.test(delta = 0.2, sd = up, ...)$n * 0.4671669364932143;
    #    2 * ceiling(n_up * ((1 + 7 * 0.83501232247244772) + 1) / 2 / 0.3963758564825951)    -> 1012
    worst = _row(grid, icc_source="upper_limit", sd_source="upper_limit", retention_source="lower_limit")
    assert worst["icc"] == pytest.approx(0.83501232247244772, rel=1e-8) and worst["n_total"] == 1012
    assert _row(grid, icc_source="estimate", sd_source="estimate", retention_source="estimate")["n_total"] == 446
    assert any(n.startswith("ABI physical abuse (mean item score): the ICC moves the total most")
               for n in tables["plan_sensitivity"].footnotes)  # fmt: skip


def test_config_icc_values_join_the_grid(sample):
    from advance_trial.output.pivots import table_of
    from advance_trial.planning.definitive import definitive_results

    cfg, ads, tables = sample
    p = cfg.planning.model_copy(update={"icc_values": [0.05, 0.1, 0.1]})  # a value said twice is planned once
    cfg = cfg.model_copy(update={"planning": p})
    result = definitive_results(cfg, ads, tables["plan"].results)
    table = table_of(cfg, "plan_sensitivity", result.results["plan_sensitivity"])
    assert sorted(set(table.data["icc_source"])) == ["config", "estimate", "upper_limit", "zero"]
    # design effect 1 + 7 * 0.1
    assert list(table.data.loc[table.data["icc"] == 0.1, "design_effect"]) == [pytest.approx(1.7, rel=1e-12)] * 4
    assert table.data["icc"].dtype == float and len(table.data) == 5 * 4


def test_forecast_is_the_negative_binomial_r_gives(sample):
    _, _, tables = sample
    f = tables["recruitment_forecast"].data.iloc[0]
    # the sample's three sites vary no more than Poisson counts: one rate, Gamma(104 men, 45 site-months)
    assert (f["model"], f["alpha"], f["beta"], f["target"], f["sites"]) == ("common_rate", 104, 45, 446, 6)
    # R: g <- function(t) pnbinom(445, size = 104, prob = 45 / (45 + 6 * t), lower.tail = FALSE)
    #    uniroot(function(t) g(t) - 0.5, c(1, 100), tol = 1e-12)$root; ... - 0.975 ...
    assert f["median_months"] == pytest.approx(32.242704906429452, rel=1e-8)
    assert f["upper95"] == pytest.approx(40.121703514988326, rel=1e-8)
    bands = tables["recruitment_forecast_bands"].data
    assert bands["median"].is_monotonic_increasing and (bands["lower95"] <= bands["lower80"]).all()
    assert (bands["upper80"] <= bands["upper95"]).all() and bands["median"].iloc[-1] == 446


# a site's chances, P(K = n) with K ~ NB(size a, prob b / (b + d)), in 50-digit arithmetic:
# mpmath, mp.dps = 50: exp(loggamma(n + a) - loggamma(a) - loggamma(n + 1)) * p**a * (1 - p)**n
NB_50_DIGITS = [
    (104, 14.5, 30, 0, 2.2533626443438949e-51),
    (104, 14.5, 30, 150, 0.0004247593956752041),
    (104, 14.5, 30, 260, 0.0033738203939374023),
    (2.5, 1e6, 0.01, 1, 2.499999912500002e-8),  # p near 1: scipy's pmf, given p, is off by 4e-9 here
    (999999.0, 40, 0.1, 2600, 0.001090772802258072),  # a shape near the Poisson limit
    (0.3, 0.5, 1, 7, 0.0035496499846859234),
    (17, 40, 30, 12, 0.086261302850928284),
]


@pytest.mark.parametrize(("a", "b", "d", "n", "exact"), NB_50_DIGITS)
def test_a_sites_negative_binomial_chances_against_50_digit_arithmetic(a, b, d, n, exact):
    from advance_trial.planning.forecast import nbinom_pmf

    assert nbinom_pmf(n + 1, a, b, d)[n] == pytest.approx(exact, rel=1e-11)


def test_a_sites_negative_binomial_chances_are_scipys():
    import numpy as np
    from scipy import stats

    from advance_trial.planning.forecast import nbinom_pmf

    for a, b, d in [(104, 45, 270), (3.2, 0.7, 12), (0.4, 2, 3), (40, 9, 0.5), (1e4, 300, 60)]:
        ours, theirs = nbinom_pmf(2000, a, b, d), stats.nbinom.pmf(np.arange(2000), a, b / (b + d))
        big = theirs > 1e-20
        assert big.sum() > 10 and np.allclose(ours[big], theirs[big], rtol=1e-10, atol=0)
        assert np.all(ours[~big] < 1e-19)


def test_a_run_does_not_import_scipy_stats():
    import subprocess
    import sys

    code = ("import sys; from advance_trial.pipeline import run; "
            f"run({str(config_path('advance-feasibility'))!r}, {str(SAMPLES / 'advance-feasibility')!r}, None); "
            "print('scipy.stats' in sys.modules)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stderr


def test_definitive_forecast_with_opening_dates_and_a_deadline(invoke):
    res = invoke("plan", DEF, "--pilot", ADV, "--data", DATA, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= {"per_arm", "optimal", "sensitivity", "forecast", "paragraph", "plan"}
    f = out["forecast"]["summary"][0]
    # three sites open 2027-01-04, three 2027-04-05 (91 days: 2.9897 months), deadline 2029-12-31 (35.8768):
    # R: u <- 91 / (365.25 / 12); dl <- 1092 / (365.25 / 12)
    #    pnbinom(445, size = 104, prob = 45 / (45 + 3 * dl + 3 * (dl - u)), lower.tail = FALSE)
    assert f["deadline_months"] == pytest.approx(35.8767967145790578, rel=1e-12)
    assert f["probability_by_deadline"] == pytest.approx(0.72084766069634565, rel=1e-7)
    assert out["per_arm"][0]["n_total"] == 446 and out["optimal"][0]["n_total"] == 400
    assert "the ICC moves the total most" in out["sensitivity"]["moves_most"]["abi_physical"]
    text = out["paragraph"]["abi_physical"]
    for number in ("0.413", "90.6", "0.730", "0.452", "0.835", "4.17", "49.0%", "446", "2.04:1", "132", "268",
                   "1,464", "72%"):  # fmt: skip
        assert number in text, number


def test_a_definitive_config_without_its_pilot_is_one_line(invoke):
    res = invoke("plan", DEF, "--data", DATA)
    assert res.exit_code == 2
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) <= 2 and "--pilot" in res.output and "must be one of" not in res.output


def test_the_paragraph_is_in_plan_md_and_the_report(tmp_path, invoke):
    res = invoke("plan", ADV, "--data", DATA, "--out", tmp_path)
    assert res.exit_code == 0, res.output
    md = (tmp_path / "plan.md").read_text()
    assert "Sample-size justification to adapt" in md and "Moerbeek &amp; Wong 2008" in md
    for name in ("plan_arms", "plan_sd", "plan_sensitivity", "recruitment_forecast"):
        assert (tmp_path / f"{name}.csv").exists(), name
    report = (EXPECTED / "report.md").read_text()
    section = report[report.index("Planning the definitive trial") :]
    for words in ("Sample-size justification to adapt", "sensitivity of the definitive trial's size",
                  "Predicted cumulative recruitment", "Four ways to use the pilot's SD"):  # fmt: skip
        assert words in section, words


def test_probability_met_against_r(sample):
    _, _, tables = sample
    prog = tables["progression"].data.set_index("criterion")
    # R: pbeta(0.6, 105, 44, lower.tail = FALSE); pbeta(0.7, 52, 54, lower.tail = FALSE)
    assert prog.loc["recruitment", "probability_met"] == pytest.approx(0.99630610625754279, rel=REL)
    assert prog.loc["follow_up", "probability_met"] == pytest.approx(3.615677164346639e-06, rel=1e-7)
    for c in ("acceptability", "substance_use", "abuse"):  # not proportions: empty, the reason said
        assert pd.isna(prog.loc[c, "probability_met"]) and "no" in prog.loc[c, "probability_note"]
    # R: pbeta(0.6, 105, 44, lower.tail = FALSE) * pbeta(0.7, 52, 54, lower.tail = FALSE) = 3.6023e-06
    assert any("are met together: below 0.1%" in n for n in tables["progression"].footnotes)


def test_traffic_light_zones_with_a_named_prior():
    c = Criterion(id="x", metric="retention.week16", green=0.6, amber=0.45, prior=BetaPriorSpec(a=2, b=2))
    p = probabilities(c, (51, 104))
    # R: pbeta(0.6, 53, 55, lower.tail = FALSE); pbeta(0.45, 53, 55, lower.tail = FALSE) - that; pbeta(0.45, 53, 55)
    assert p["probability_green"] == pytest.approx(0.011049391090220488, rel=1e-8)
    assert p["probability_amber"] == pytest.approx(0.79018653311485143, rel=1e-9)
    assert p["probability_red"] == pytest.approx(0.19876407579492808, rel=1e-9)
    assert p["probability_met"] == p["probability_green"] and "Beta(2 + 51, 2 + 53)" in str(p["probability_note"])


@pytest.mark.parametrize(
    "extra, where",
    [
        ("  forecast_deadline: 2029-12-31\n", "planning.forecast_deadline"),
        ("  site_opening: {london: 2027-01-04}\n  forecast_deadline: 2026-12-31\n", "is not after the first site"),
        ("  icc_values: [1.5]\n", "planning.icc_values"),
    ],
)
def test_forecast_keys_are_validated(invoke, tmp_path, extra, where):
    text = ADV.read_text()
    at = text.index("  sites: 6\n", text.index("\nplanning:"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(text[:at] + extra + text[at:])
    res = invoke("config", "validate", bad)
    assert res.exit_code == 3 and where in res.output, res.output


def test_a_prior_on_a_rate_criterion_is_refused(invoke, tmp_path):
    text = ADV.read_text().replace("go: 0.60", "go: 0.60, prior: {a: 2, b: 2}", 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    res = invoke("config", "validate", bad)
    assert res.exit_code == 0, res.output  # recruitment_rate is a proportion: a prior is welcome
    text = ADV.read_text()
    at = text.index("\nprogression:") + len("\nprogression:\n")
    bad.write_text(text[:at] + "  - {id: rate, metric: recruitment.per_site_month, go: 2, prior: {a: 1, b: 1}}\n"
                   + text[at:])  # fmt: skip
    res = invoke("config", "validate", bad)
    assert res.exit_code == 3 and "prior" in res.output, res.output


def test_planning_figures_keep_their_words_as_text(sample):
    from advance_trial.output.render.workers import draw, figure_jobs

    cfg, _, tables = sample
    jobs = {stem: (d, f) for stem, d, f in figure_jobs(tables)}
    assert {"plan_sensitivity", "recruitment_forecast"} <= set(jobs)
    heat = draw(cfg, *jobs["plan_sensitivity"])["svg"].decode()
    words = " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", heat))
    assert "ICC estimate 0.452" in words and "SD upper limit," in words and "1,012" in words
    assert "ABI physical abuse (mean item score)" in words and "abi_physical" not in heat
    bands = draw(cfg, *jobs["recruitment_forecast"])["svg"].decode()
    assert "target 446" in bands and "80% predictive band" in bands
    assert draw(cfg, *jobs["recruitment_forecast"]) == draw(cfg, *jobs["recruitment_forecast"])  # reproducible


def test_months_from_dates_are_average_months():
    from advance_trial.planning.definitive import MONTH_DAYS

    assert (dt.date(2027, 4, 5) - dt.date(2027, 1, 4)).days / MONTH_DAYS == pytest.approx(2.9897330595482545)


def test_a_blinded_run_withholds_the_tables_sized_from_the_icc(sample_run):
    blinded = sample_run(blinded=True)
    res = blinded.result
    for name in ("plan_arms", "plan_sd", "plan_sensitivity", "recruitment_forecast", "recruitment_forecast_bands"):
        assert name not in res.tables and not (blinded.out / f"{name}.csv").exists(), name
    assert not (blinded.out / "plan_sensitivity.svg").exists()
    assert "probability_met" in res.tables["progression"].data  # no arm in it
