"""Models at the edge (issue 33): never a number that means nothing, never a run taken down.

Ten data sets made from the ADVANCE sample by ``tests/edge_data.py`` are each run through the CLI
(``run`` must finish, exit 0, with every table); then the figures are checked against R's, typed in
beside the R call, or against a closed form. In the R calls ``d`` is the outcome's complete cases as
``advance_trial.outcomes.frame`` gives them (``complete_cases(analysis_frame(...))`` written with
``to_csv`` and read with ``read.csv``; ``site`` and ``arm`` factors), R 4.2 with nlme 3.1 and MASS 7.3.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.edge_data import CASES, make

pytestmark = pytest.mark.filterwarnings("default::advance_trial.errors.StatisticalWarning")


class Ran(NamedTuple):
    exit_code: int
    output: str


@pytest.fixture
def edge(shared_build):
    """``edge(case)``: the case run once through ``advance-trial run`` (CLI result, output folder, config, data),
    shared by the tests and the workers (read-only)."""
    from advance_trial.cli.main import app

    def get(case: str):
        def build(root):
            cfg, data = make(case, root)
            res = CliRunner().invoke(app, ["run", str(cfg), "--data", str(data), "--out", str(root / "out"),
                                           "--no-report"])  # fmt: skip
            return (res.exit_code, res.output), cfg, data

        root, (res, cfg, data) = shared_build(f"edge-{case}", build)
        return Ran(*res), root / "out", cfg, data

    return get


def _outcomes(out) -> pd.DataFrame:
    return pd.read_csv(out / "outcomes.csv", keep_default_na=False, na_values=[""])


def _row(t: pd.DataFrame, outcome: str, analysis: str, effect: str | None = None, threshold: str | None = None):
    keep = (t["outcome"] == outcome) & (t["analysis"] == analysis)
    if effect is not None:
        keep &= t["effect"] == effect
    if threshold is not None:
        keep &= t["threshold"].fillna("") == threshold
    rows = t[keep]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def _plan(out) -> pd.DataFrame:
    return pd.read_csv(out / "plan.csv", keep_default_na=False, na_values=[""]).set_index("quantity")


@pytest.mark.parametrize("case", CASES)
def test_run_finishes_on_every_edge_case_and_no_row_is_an_empty_estimate(edge, case):
    res, out, _, _ = edge(case)
    assert res.exit_code == 0, res.output
    for name in ("outcomes", "plan", "retention", "progression", "results", "baseline", "dose"):
        assert (out / f"{name}.csv").exists(), name
    t = _outcomes(out)
    est = t["status"] == "estimated"
    # an estimated row is a finite number with a finite interval; any other row has no number and a reason
    assert np.isfinite(t.loc[est, ["estimate", "ci_lower", "ci_upper"]].to_numpy(float)).all()
    assert t.loc[~est, ["estimate", "ci_lower", "ci_upper"]].isna().all().all()
    assert t.loc[~est, "reason"].map(lambda r: isinstance(r, str) and len(r) > 10).all()
    ratio = est & t["effect"].isin(["odds_ratio", "rate_ratio"])
    assert ((t.loc[ratio, "estimate"] > 1e-8) & (t.loc[ratio, "estimate"] < 1e8)).all()
    # the results data set carries the same status and reason (a reason in error, never in stat)
    results = pd.read_csv(out / "results.csv", keep_default_na=False)
    outcomes = results[results["table"] == "outcomes"]
    reasons = outcomes[outcomes["stat_name"] == "reason"]
    assert set(reasons["stat"]) == {""} and set(reasons["error"]) - {""} == set(t["reason"].dropna()) - {""}
    # every statistic of a row not estimated carries its reason
    assert set(outcomes.loc[outcomes["stat_name"] == "estimate", "error"]) - {""} == set(reasons["error"]) - {""}


def _newcombe_and_firth(edge, case):
    res, out, _, _ = edge(case)
    t = _outcomes(out)
    return t, _row(t, "physical_more_than_rarely", "unadjusted"), _row(t, "physical_more_than_rarely", "firth")


def test_complete_separation_names_the_arm_and_gives_newcombe_and_firth(edge):
    t, crude, firth = _newcombe_and_firth(edge, "complete_separation")
    for row in ("logistic", "logistic_standardised"):
        r = _row(t, "physical_more_than_rarely", row)
        assert r["status"] == "not_estimable"
        assert r["reason"].startswith("complete separation: no advance man analysed had the outcome, so the odds "
                                      "ratio is 0")  # fmt: skip
    # R: glm(y ~ treat + base + site, binomial, d): coef treat -53.13, se 101082 (a number that means nothing)
    # R: counts 0 of 32 and 21 of 21; w <- function(x, n) prop.test(x, n, correct = FALSE)$conf.int
    #    a <- w(0, 32); b <- w(21, 21)
    #    c(-1, -1 - sqrt((0 - a[1])^2 + (b[2] - 1)^2), -1 + sqrt((a[2] - 0)^2 + (1 - b[1])^2))
    #    -1.000000000000000 -1.000000000000000 -0.811849510463994
    assert crude["status"] == "estimated" and crude["estimate"] == -1
    assert (crude["ci_lower"], crude["ci_upper"]) == pytest.approx((-1.0, -0.811849510463994), rel=1e-9)
    assert firth["status"] == "estimated" and 0 < firth["ci_lower"] < firth["estimate"] < firth["ci_upper"] < 1


def test_firth_under_separation_matches_an_independent_penalised_likelihood(edge):
    """logistf is not packaged for Debian: Firth's estimate and its profile interval (logistf's defaults) are
    checked against the penalised likelihood maximised again here with scipy's BFGS and profiled by brentq,
    on a design matrix built here with pandas' dummies (not the library's)."""
    from scipy import optimize, stats

    from advance_trial.config import load_config
    from advance_trial.outcomes.frame import analysis_frame, complete_cases
    from advance_trial.pipeline import load_analysis

    _, out, cfg_path, data = edge("complete_separation")
    firth = _row(_outcomes(out), "physical_more_than_rarely", "firth")
    cfg, ads = load_analysis(cfg_path, data)
    o = next(x for x in load_config(cfg_path).outcomes if x.id == "physical_more_than_rarely")
    d = complete_cases(analysis_frame(cfg, ads, o), o)
    sites = pd.get_dummies(d["site"]).astype(float)
    X = np.column_stack([np.ones(len(d)), d["treat"], d["base"], sites[["wolverhampton", "bristol"]]])
    y = d["y"].to_numpy(float)

    def pll(b):
        eta = X @ b
        p = 1 / (1 + np.exp(-eta))
        info = (X * (p * (1 - p))[:, None]).T @ X
        return (y * eta - np.logaddexp(0, eta)).sum() + 0.5 * np.linalg.slogdet(info)[1]

    top = optimize.minimize(lambda b: -pll(b), np.zeros(X.shape[1]), method="BFGS", options={"gtol": 1e-9})
    assert np.exp(top.x[1]) == pytest.approx(firth["estimate"], rel=1e-5)

    def profile(v):
        rest = [0, 2, 3, 4]
        r = optimize.minimize(lambda b: -pll(np.insert(b, 1, v)), top.x[rest], method="BFGS", options={"gtol": 1e-9})
        return 2 * (-top.fun + r.fun) - stats.chi2.ppf(0.95, 1)

    lo = optimize.brentq(profile, top.x[1] - 10, top.x[1])
    hi = optimize.brentq(profile, top.x[1], top.x[1] + 10)
    assert (firth["ci_lower"], firth["ci_upper"]) == pytest.approx((np.exp(lo), np.exp(hi)), rel=1e-4)


def test_quasi_complete_separation_gives_the_crude_difference(edge):
    t, crude, firth = _newcombe_and_firth(edge, "quasi_separation")
    assert _row(t, "physical_more_than_rarely", "logistic")["reason"].startswith(
        "quasi-complete separation: no advance man analysed had the outcome, so the odds ratio is 0"
    )
    # R: counts 0 of 32 and 12 of 21; a <- w(0, 32); b <- w(12, 21) (w as above); p2 <- 12 / 21
    #    c(-p2, -p2 - sqrt(a[1]^2 + (b[2] - p2)^2), -p2 + sqrt(a[2]^2 + (p2 - b[1])^2))
    #    -0.571428571428571 -0.755300310746240 -0.339247285936877
    assert crude["estimate"] == pytest.approx(-0.571428571428571, rel=1e-12)
    assert (crude["ci_lower"], crude["ci_upper"]) == pytest.approx((-0.755300310746240, -0.339247285936877), rel=1e-9)
    assert firth["status"] == "estimated" and firth["ci_upper"] < 1


def test_an_outcome_constant_in_the_control_arm(edge):
    _, out, _, _ = edge("constant_in_control")
    t = _outcomes(out)
    het = _row(t, "abi_physical", "partially_nested", "mean_difference")
    # R: lme(y ~ treat + base + site, random = list(cluster = pdDiag(~ 0 + treat)),
    #        weights = varIdent(form = ~ 1 | arm), data = d, method = "REML")
    #    Error in solve.default(...): system is computationally singular: reciprocal condition number = 1.81956e-16
    assert het["status"] == "not_estimable" and het["reason"].startswith("every tau man analysed scored 2: that arm's")
    assert _row(t, "abi_physical", "partially_nested", "icc")["status"] == "not_estimable"
    # R: the same lme without weights: fixef(e)["treat"] -0.460299349398722;
    #    intervals(e, which = "fixed")$fixed["treat", ] -0.626142251867332 -0.294456446930113
    eq = _row(t, "abi_physical", "partially_nested_equal_var", "mean_difference")
    assert eq["estimate"] == pytest.approx(-0.460299349398722, rel=1e-6)
    assert (eq["ci_lower"], eq["ci_upper"]) == pytest.approx((-0.626142251867332, -0.294456446930113), rel=1e-5)
    # R: f <- lm(y ~ treat + base + site, d); coef(f)["treat"] -0.45038805884165
    #    confint(f)["treat", ] -0.600993900216999 -0.299782217466302
    a = _row(t, "abi_physical", "ancova")
    assert a["estimate"] == pytest.approx(-0.45038805884165, rel=1e-9)
    assert (a["ci_lower"], a["ci_upper"]) == pytest.approx((-0.600993900216999, -0.299782217466302), rel=1e-9)
    # the plan takes the equal-variance model's ICC when the heteroscedastic model gives none, and says so
    icc = _row(t, "abi_physical", "partially_nested_equal_var", "icc")
    de = _plan(out).loc["design effect, intervention arm"]
    assert de["estimate"] == pytest.approx(1 + 7 * icc["estimate"], rel=1e-12)
    assert de["conservative"] == pytest.approx(1 + 7 * icc["ci_upper"], rel=1e-12)
    assert "from the equal-variance partially nested model (the other gives none: every tau man" in de["note"]
    # R: counts 21 of 32 and 0 of 21: the Newcombe difference 0.656250000000000 (0.424106981321292, 0.795895620755668)
    crude = _row(t, "physical_more_than_rarely", "unadjusted")
    assert (crude["estimate"], crude["ci_lower"], crude["ci_upper"]) == pytest.approx(
        (0.65625, 0.424106981321292, 0.795895620755668), rel=1e-9)  # fmt: skip


def test_every_control_count_zero_is_an_infinite_ratio_not_a_number(edge):
    # R: g <- glm.nb(y ~ treat + base + site, d); exp(coef(g)["treat"]) 3908892204196097;
    #    exp(confint.default(g)["treat", ]) 0 Inf  (the maximum likelihood estimate does not exist)
    _, out, _, _ = edge("control_counts_zero")
    nb = _row(_outcomes(out), "physical_acts", "negative_binomial")
    assert nb["status"] == "not_estimable"
    assert nb["reason"].startswith("every tau man analysed had a count of 0: the rate ratio is infinite")
    # and the other way round: R (complete_separation, every advance count 0): 3.1579742332196e-11 (0, Inf)
    _, out, _, _ = edge("complete_separation")
    nb = _row(_outcomes(out), "physical_acts", "negative_binomial")
    assert nb["reason"].startswith("every advance man analysed had a count of 0: the rate ratio is 0")


def test_two_men_per_arm_fits_nothing_unidentified_and_plans(edge):
    _, out, _, _ = edge("two_per_arm")
    t = _outcomes(out)
    # R: lm(y ~ treat + base + site, d): 4 men, coefficients (Intercept), treat, base, sitelondon and
    #    sitewolverhampton NA: no residual df (confint NaN); lme (either): "Singularity in backsolve"; without
    #    site, lme fits but intervals(): "Non-positive definite approximate variance-covariance"
    for analysis in ("ancova", "partially_nested", "partially_nested_equal_var", "multiple_imputation", "cace"):
        rows = t[(t["outcome"] == "abi_physical") & (t["analysis"] == analysis)]
        assert (rows["status"] == "not_estimable").all() and rows["estimate"].isna().all()
        assert (rows["reason"] == "4 men for 4 coefficients: no residual degrees of freedom").all()
    nb = _row(t, "physical_acts", "negative_binomial")
    assert nb["status"] == "not_estimable" and "4 men" in nb["reason"]
    plan = _plan(out)
    # R: f <- lm(y ~ arm, d); summary(f)$sigma 0.437414873844749
    #    cor(resid(f), resid(lm(base ~ arm, d))) 0.905775940295756
    assert plan.loc["pooled SD at follow-up", "estimate"] == pytest.approx(0.437414873844749, rel=1e-12)
    assert plan.loc["ANCOVA factor 1 - r^2", "estimate"] == pytest.approx(1 - 0.905775940295756**2, rel=1e-12)
    de = plan.loc["design effect, intervention arm"]
    assert math.isnan(de["estimate"]) and de["conservative"] == 8 and "4 men for 4 coefficients" in de["note"]
    assert math.isnan(plan.loc["men to randomise in all", "estimate"])
    assert plan.loc["men to randomise in all", "conservative"] > 0


def test_every_man_at_one_site(edge):
    _, out, _, _ = edge("one_site")
    t = _outcomes(out)
    # R: lm(y ~ treat + base, d): treat -0.0850004640211858 (-0.2501510412096622, 0.0801501131672906)
    # R: lme(y ~ treat + base, random = list(cluster = pdDiag(~ 0 + treat)), weights = varIdent(form = ~ 1 | arm),
    #        data = d, method = "REML"): -0.111891885856382 (-0.3127320845658483, 0.0889483128530836)
    # R: the same without weights: -0.109968812396892 (-0.3068820280842399, 0.0869444032904567)
    for analysis, want, rel in (("ancova", (-0.0850004640211858, -0.2501510412096622, 0.0801501131672906), 1e-9),
                                ("partially_nested", (-0.111891885856382, -0.3127320845658483, 0.0889483128530836),
                                 1e-5),
                                ("partially_nested_equal_var",
                                 (-0.109968812396892, -0.3068820280842399, 0.0869444032904567), 1e-5)):  # fmt: skip
        r = _row(t, "abi_physical", analysis, "mean_difference")
        assert (r["estimate"], r["ci_lower"], r["ci_upper"]) == pytest.approx(want, rel=rel), analysis


def test_a_timepoint_nobody_attended(edge):
    _, out, _, _ = edge("timepoint_unattended")
    t = _outcomes(out)
    assert (t["status"] == "not_estimable").all() and set(t["reason"]) == {"no man has the outcome measured"}
    plan = _plan(out)
    total = plan.loc["men to randomise in all"]
    assert math.isnan(total["estimate"]) and math.isnan(total["conservative"])
    note = plan.loc["men to randomise, control arm", "note"]
    assert "no follow-up SD to plan on" in note and "no man retained at week16" in note


def test_a_covariate_missing_for_a_whole_arm_is_named(edge):
    # R: lm(y ~ treat + base + site, d) on the 31 men with both (every tau man lacks a baseline): treat NA
    _, out, _, _ = edge("covariate_missing_arm")
    t = _outcomes(out)
    a = _row(t, "abi_physical", "ancova")
    assert a["status"] == "not_estimable"
    assert a["reason"] == ("no tau man followed up has a baseline score: the 21 with the outcome measured were "
                           "left out for the missing baseline (complete cases; see multiple_imputation)")  # fmt: skip
    assert not t["reason"].fillna("").str.contains("no follow-up observed").any()
    assert _row(t, "abi_physical", "multiple_imputation")["status"] == "estimated"  # the baseline is imputed


def test_a_negative_baseline_follow_up_correlation_plans_on_the_limit_nearer_zero(edge):
    _, out, _, _ = edge("negative_correlation")
    plan = _plan(out)
    # R: f <- lm(y ~ arm, d); r <- cor(resid(f), resid(lm(base ~ arm, d))) -0.838922346354087 (51 men)
    #    tanh(atanh(r) + c(-1, 1) * qnorm(0.975) / sqrt(48)) -0.905224238527405 -0.732744232382050
    #    power.t.test(delta = 0.2, sd = summary(f)$sigma, power = 0.9, tol = 1e-12)$n 70.2913617577296
    row = plan.loc["ANCOVA factor 1 - r^2"]
    assert row["estimate"] == pytest.approx(1 - 0.838922346354087**2, rel=1e-12)
    assert row["conservative"] == pytest.approx(1 - 0.732744232382050**2, rel=1e-12)
    assert "upper limit -0.733" in row["note"]
    assert plan.loc["men per arm (two-sample t test)", "estimate"] == pytest.approx(70.2913617577296, rel=1e-6)
    # R: lm(y ~ treat + base + site, d): treat 0.00328485068158189 (-0.114179309022438, 0.120749010385602)
    a = _row(_outcomes(out), "abi_physical", "ancova")
    assert (a["estimate"], a["ci_lower"], a["ci_upper"]) == pytest.approx(
        (0.00328485068158189, -0.114179309022438, 0.120749010385602), rel=1e-9)  # fmt: skip


def test_a_constant_outcome_is_refused_by_every_analysis_multiple_imputation_too(edge):
    # R: lm(y ~ treat + base + site, d): treat 3.5e-16 (-6.5e-16, 1.4e-15), "essentially perfect fit";
    #    power.t.test(delta = 0.2, sd = 0, power = 0.9)$n 1.002 (a t test of no variance)
    _, out, _, _ = edge("constant_outcome")
    t = _outcomes(out)
    rows = t[t["outcome"] == "abi_physical"]
    assert (rows["status"] == "not_estimable").all()
    mi = _row(t, "abi_physical", "multiple_imputation")
    assert mi["reason"].startswith("the outcome does not vary: every man observed scored 2")
    assert _row(t, "abi_physical", "ancova")["reason"] == "the outcome does not vary: every man analysed scored 2"
    # the physical acts count is then 13 for everyone: no overdispersion, the Poisson limit (theta infinite)
    # R: glm.nb(y ~ treat + base + site, d) fails in theta.ml ("missing value where TRUE/FALSE needed");
    #    g <- glm(y ~ treat + base + site, poisson, d); exp(coef(g)["treat"]) 1;
    #    exp(confint.default(g)["treat", ]) 0.855138835537797 1.169400755107912
    nb = _row(t, "physical_acts", "negative_binomial")
    assert nb["status"] == "estimated" and nb["estimate"] == pytest.approx(1.0, abs=1e-9)
    assert (nb["ci_lower"], nb["ci_upper"]) == pytest.approx((0.855138835537797, 1.169400755107912), rel=1e-8)
    assert nb["note"] == "theta infinite (no overdispersion)"
    plan = _plan(out)
    assert "the follow-up SD is 0" in plan.loc["men per arm (two-sample t test)", "note"]
    assert math.isnan(plan.loc["men to randomise in all", "estimate"])


@pytest.mark.parametrize(
    "r, n, factor, conservative, said",
    [
        (1.0, 40, 1.0, 1.0, "exact linear function"),  # r = 1: no reduction taken (1 - r^2 = 0 would need no men)
        (-1.0, 40, 1.0, 1.0, "exact linear function"),
        (float("nan"), 2, 1.0, 1.0, "no baseline-follow-up correlation"),
        (0.5, 3, 0.75, 1.0, "too few for its interval"),  # Fisher's interval needs n > 3
        # R: tanh(atanh(0.5) + c(-1, 1) * qnorm(0.975) / sqrt(47)) 0.257487860768284 0.683256302098813
        (0.5, 50, 0.75, 1 - 0.257487860768284**2, "lower limit 0.257"),
        (-0.5, 50, 0.75, 1 - 0.257487860768284**2, "upper limit -0.257"),
        # R: tanh(atanh(-0.1) + c(-1, 1) * qnorm(0.975) / sqrt(47)): -0.369 to 0.183, includes 0: no reduction
        (-0.1, 50, 0.99, 1.0, "upper limit 0.183"),
    ],
)
def test_the_ancova_factor_is_defined_at_its_limits(r, n, factor, conservative, said):
    from advance_trial.planning import _ancova_factor

    got = _ancova_factor(r, n, 0.95, True)
    assert got[0] == pytest.approx(factor, rel=1e-12) and got[1] == pytest.approx(conservative, rel=1e-12)
    assert said in got[2]
    assert _ancova_factor(r, n, 0.95, False)[:2] == (1.0, 1.0)


def test_count_separation_by_linear_programming():
    from advance_trial.outcomes.checks import count_separated

    X = np.column_stack([np.ones(6), [1, 1, 1, 0, 0, 0.0]])
    assert count_separated(X, np.array([3, 1, 2, 0, 0, 0.0]))  # an arm of zeros: the ratio is infinite
    assert count_separated(X, np.array([0, 0, 0, 2, 1, 0.0]))  # the other arm: the ratio is 0
    assert not count_separated(X, np.array([3, 1, 2, 0, 1, 0.0]))
    assert not count_separated(X, np.array([3, 1, 2, 4, 1, 2.0]))  # no zero at all
    # a zero count where a covariate is largest, positive counts elsewhere at one value of it: the MLE of its
    # coefficient is -infinite (Santos Silva and Tenreyro 2010)
    Z = np.column_stack([np.ones(5), [0, 0, 0, 0, 1.0]])
    assert count_separated(Z, np.array([2, 1, 3, 1, 0.0]))


def test_a_step_that_cannot_compute_is_named_and_the_others_are_written(invoke, tmp_path, monkeypatch):
    from tests.conftest import SAMPLES, config_path

    def broken(*args, **kwargs):
        raise ValueError("math domain error")

    monkeypatch.setattr("advance_trial.planning.plan_results", broken)
    res = invoke("run", config_path("advance-feasibility"), "--data", SAMPLES / "advance-feasibility", "--out",
                 tmp_path / "out")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "plan: not computed on these data (ValueError: math domain error)" in " ".join(res.output.split())
    assert not (tmp_path / "out" / "plan.csv").exists()
    for name in ("outcomes", "retention", "progression", "recruitment_rate", "results"):
        assert (tmp_path / "out" / f"{name}.csv").exists(), name
    assert "Not computed: plan: not computed on these data" in (tmp_path / "out" / "report.md").read_text()


def test_firth_is_configurable_for_a_binary_outcome(tmp_path):
    from advance_trial.config import load_config

    cfg, _ = make("one_site", tmp_path)
    o = next(x for x in load_config(cfg).outcomes if x.type == "binary")
    assert o.analyses == ["logistic", "firth"]
    bad = cfg.read_text().replace("analyses: [logistic, firth]", "analyses: [logistic, negative_binomial]")
    cfg.write_text(bad)
    from advance_trial.errors import ConfigError

    with pytest.raises(ConfigError, match="use one of \\['cace', 'firth', 'logistic'\\]"):
        load_config(cfg)


def test_theta_ml_computes_each_distinct_count_once_and_gives_the_man_by_man_values():
    """The (poly)gamma values are computed per distinct count and spread back: the same estimate to the bit as
    the score and information summed man by man (MASS::theta.ml's formulas)."""
    from scipy import special

    from advance_trial.outcomes.glm import MAX_ITERATIONS, theta_ml

    def man_by_man(y, mu):
        theta = len(y) / float(((y / mu - 1) ** 2).sum())
        for _ in range(MAX_ITERATIONS):
            score = (special.digamma(theta + y) - special.digamma(theta) + np.log(theta) + 1
                     - np.log(theta + mu) - (y + theta) / (mu + theta)).sum()  # fmt: skip
            info = (-special.polygamma(1, theta + y) + special.polygamma(1, theta) - 1 / theta
                    + 2 / (mu + theta) - (y + theta) / (mu + theta) ** 2).sum()  # fmt: skip
            step = score / info
            theta = abs(theta + step)
            if abs(step) < 1e-10 * max(1.0, theta):
                break
        return float(theta)

    r = np.random.default_rng(4)
    for n in (12, 400, 5000):
        mu = np.exp(r.normal(1, 0.5, n))
        y = r.negative_binomial(2, 2 / (2 + mu)).astype(float)
        assert theta_ml(y, mu) == man_by_man(y, mu)


@pytest.mark.parametrize(
    "values",
    [
        ["group:b", "man:S2", "group:a", "group:b", "man:S1"],
        ["x"],
        [3, 1, 3, 2],
        [1, 1.0, True, 2],  # equal keys, as numpy counts them
        [2.0, -0.0, 0.0, 1.5],
    ],
)
def test_unique_codes_are_numpys(values):
    from advance_trial.outcomes.nested import unique_codes

    for arr in (np.array(values, dtype=object), np.array(values)):
        uniq, codes = unique_codes(arr)
        ref_uniq, ref_codes = np.unique(arr, return_inverse=True)
        assert np.array_equal(codes, ref_codes.reshape(-1))
        assert np.array_equal(uniq, ref_uniq)
