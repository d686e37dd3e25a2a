"""Outcome models on the data feasibility trials produce: small arms, heavy loss, missing covariates.

Each case the issue measured is pinned here to R (the call in a comment, R's values typed in; CI does
not need R) or to a closed form. Data sets are built by ``_d1``..``_d3`` (the same as
``/tmp/rref/make.py`` when the references were computed: numpy ``default_rng(181..183)``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from advance_trial.analysis import analysis_data
from advance_trial.errors import EstimationWarning
from advance_trial.outcomes import _analyse
from advance_trial.outcomes.checks import independent_columns, separated

ARM = {1.0: "advance", 0.0: "tau"}


def _frame(cfg, df: pd.DataFrame) -> pd.DataFrame:
    """The analysis frame of a synthetic data set (advance is the intervention arm)."""
    n = len(df)
    out = pd.DataFrame({"participant_id": [f"AF{i:03d}" for i in range(1, n + 1)]})
    out["arm"] = df["treat"].map(ARM)
    out["treat"] = df["treat"].astype(float)
    out["y"] = df["y"].astype(float)
    out["base"] = df["base"].astype(float) if "base" in df else np.nan
    for f in ("site", "cycle"):
        out[f] = df[f].astype(object).where(df[f].notna(), None) if f in df else "london"
    out["cluster"] = df["cluster"] if "cluster" in df else "man:" + out["participant_id"]
    for th in cfg.thresholds:
        out[f"met_{th.id}"] = df.get(f"met_{th.id}", df["treat"]).astype(float)
    return out


def _outcome(cfg, adjust_for, analyses, kind="continuous"):
    o = cfg.outcomes[0] if kind == "continuous" else next(o for o in cfg.outcomes if o.type == kind)
    return o.model_copy(update={"adjust_for": adjust_for, "analyses": analyses, "type": kind})


def _run(cfg, o, frame):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        effects = _analyse(cfg, o, frame)
    return {(e.analysis, e.threshold): e for e in effects if e.effect != "icc"}, [
        str(w.message) for w in caught if issubclass(w.category, EstimationWarning)
    ]


def _d1():
    rng = np.random.default_rng(181)
    n = 31
    treat = np.r_[np.ones(16), np.zeros(15)]
    base = rng.normal(2, 0.5, n)
    cyc = rng.choice(["1", "2", "3"], n).astype(object)
    y = 1 + 0.6 * base - 0.4 * treat + 0.2 * (cyc == "2") + rng.normal(0, 0.4, n)
    cyc[[2, 9, 17, 25]] = None
    return pd.DataFrame({"treat": treat, "base": base, "cycle": cyc, "y": y})


def test_men_with_a_missing_covariate_are_left_out_and_named_not_put_in_the_reference_level(advance_cfg):
    # R: d1$cycle <- factor(d1$cycle); f <- lm(y ~ treat + base + cycle, data = d1)
    # nobs(f) 27; df.residual(f) 22; coef(f)["treat"] -0.437416377765482;
    # confint(f)["treat", ] -0.7922480230402050 -0.0825847324907595
    o = _outcome(advance_cfg, ["baseline", "cycle"], ["ancova"])
    got, warned = _run(advance_cfg, o, _frame(advance_cfg, _d1()))
    e = got[("ancova", "")]
    assert (e.n_analysed, e.df) == (27, 22)
    assert e.estimate == pytest.approx(-0.437416377765482, rel=1e-9)
    assert (e.ci_lower, e.ci_upper) == pytest.approx((-0.7922480230402050, -0.0825847324907595), rel=1e-9)
    assert "4 men with no cycle left out" in e.note and any("4 men with no cycle" in w for w in warned)


def test_multiple_imputation_imputes_a_covariate_with_missing_values(advance_cfg):
    o = _outcome(advance_cfg, ["baseline", "cycle"], ["multiple_imputation"])
    df = _d1()
    df.loc[[0, 5, 20], "y"] = np.nan
    e = _run(advance_cfg, o, _frame(advance_cfg, df))[0][("multiple_imputation", "")]
    assert e.status == "estimated" and e.n_analysed == 31 and np.isfinite(e.estimate)
    assert "PMM (outcome, baseline, cycle)" in e.note
    # close to the complete-case answer on these data (R, above: -0.437)
    assert -0.8 < e.estimate < -0.1


def test_multiple_imputation_with_a_site_where_every_man_was_lost_runs(advance_cfg):
    # mice drops predictors that are constant among the observed cases; here it crashed (not positive definite)
    df = _d1().drop(columns="cycle")
    df["site"] = np.where(np.arange(31) % 3 == 0, "bristol", np.where(np.arange(31) % 3 == 1, "london",
                                                                     "wolverhampton"))  # fmt: skip
    df.loc[df["site"] == "bristol", "y"] = np.nan
    o = _outcome(advance_cfg, ["baseline", "site"], ["multiple_imputation", "ancova"])
    got, _ = _run(advance_cfg, o, _frame(advance_cfg, df))
    assert got[("multiple_imputation", "")].status == "estimated"
    assert np.isfinite(got[("multiple_imputation", "")].estimate)


def test_multiple_imputation_with_nothing_missing_is_the_complete_case_analysis(advance_cfg):
    df = _d1().drop(columns="cycle")
    o = _outcome(advance_cfg, ["baseline"], ["multiple_imputation", "ancova"])
    got, _ = _run(advance_cfg, o, _frame(advance_cfg, df))
    mi, cc = got[("multiple_imputation", "")], got[("ancova", "")]
    assert mi.estimate == cc.estimate and mi.ci_lower == cc.ci_lower
    assert "fraction of missing information 0" in mi.note and "nothing missing" in mi.note


def test_an_arm_of_one_man_equal_variance_model_as_nlme_heteroscedastic_named(advance_cfg):
    # R: d2 <- read.csv("d2.csv")
    # m <- lme(y ~ treat, random = list(cluster = pdDiag(~ 0 + treat)), data = d2, method = "REML")
    # fixef(m)["treat"] -1.27553910927391; intervals(m)$fixed["treat", ] -7.59249543875604 5.04141722020821;
    # summary(m)$tTable["treat", "DF"] 1
    rng = np.random.default_rng(182)
    df = pd.DataFrame({"treat": np.r_[np.ones(6), 0.0], "cluster": ["g1"] * 3 + ["g2"] * 3 + ["m7"],
                       "y": np.r_[rng.normal(1, 0.5, 6), 2.5]})  # fmt: skip
    o = _outcome(advance_cfg, [], ["partially_nested", "partially_nested_equal_var"])
    got, warned = _run(advance_cfg, o, _frame(advance_cfg, df))
    eq = got[("partially_nested_equal_var", "")]
    assert eq.estimate == pytest.approx(-1.27553910927391, rel=1e-6) and eq.df == 1
    assert (eq.ci_lower, eq.ci_upper) == pytest.approx((-7.59249543875604, 5.04141722020821), rel=1e-5)
    het = got[("partially_nested", "")]
    assert het.status == "not_estimable" and "one man analysed in the tau arm" in het.reason
    assert np.isnan(het.estimate) and any("not estimable" in w for w in warned)


def test_a_covariate_identical_to_arm_is_dropped_as_lm_aliases_it(advance_cfg):
    # R: g <- lm(y ~ treat + base + site, data = d3): coef sitelondon NA; treat -0.384088213535300;
    # confint(g)["treat", ] -0.6689572890067423 -0.0992191380638585; df.residual(g) 17
    rng = np.random.default_rng(183)
    treat = np.r_[np.ones(10), np.zeros(10)]
    base = rng.normal(2, 0.5, 20)
    y = 0.5 + 0.7 * base - 0.3 * treat + rng.normal(0, 0.3, 20)
    df = pd.DataFrame({"treat": treat, "base": base, "site": np.where(treat == 1, "london", "bristol"), "y": y})
    o = _outcome(advance_cfg, ["baseline", "site"], ["ancova"])
    got, warned = _run(advance_cfg, o, _frame(advance_cfg, df))
    e = got[("ancova", "")]
    assert e.estimate == pytest.approx(-0.384088213535300, rel=1e-9) and e.df == 17
    assert (e.ci_lower, e.ci_upper) == pytest.approx((-0.6689572890067423, -0.0992191380638585), rel=1e-9)
    # (the config lists london first, so its dummy is sitebristol where R, alphabetical, has sitelondon)
    assert "collinear with arm" in e.note and any("sitebristol" in w for w in warned)


def test_each_failing_analysis_is_a_row_with_its_reason_and_the_others_still_run(advance_cfg):
    df = _d1().drop(columns="cycle")
    df.loc[df["treat"] == 0, "y"] = np.nan  # every follow-up missing in tau
    o = _outcome(advance_cfg, ["baseline"], ["ancova", "multiple_imputation", "cace"])
    got, _ = _run(advance_cfg, o, _frame(advance_cfg, df))
    assert got[("ancova", "")].status == "not_estimable"
    assert got[("ancova", "")].reason == "no follow-up observed in the tau arm"
    assert got[("multiple_imputation", "")].reason == "no outcome observed in the tau arm"
    assert all(got[("cace", th.id)].status == "not_estimable" for th in advance_cfg.thresholds)


def test_a_threshold_nobody_meets_fails_only_its_own_cace_row(advance_cfg):
    df = _d1().drop(columns="cycle")
    first, second = (th.id for th in advance_cfg.thresholds)
    df[f"met_{first}"] = df["treat"]
    df[f"met_{second}"] = 0.0
    o = _outcome(advance_cfg, ["baseline"], ["cace"])
    got, _ = _run(advance_cfg, o, _frame(advance_cfg, df))
    assert got[("cace", first)].status == "estimated"
    assert got[("cace", second)].status == "not_estimable" and "no man analysed met" in got[("cace", second)].reason


def test_a_zero_variance_outcome_and_an_all_zero_count_are_named(advance_cfg):
    df = _d1().drop(columns="cycle").assign(y=2.0)
    got, _ = _run(advance_cfg, _outcome(advance_cfg, ["baseline"], ["ancova"]), _frame(advance_cfg, df))
    assert got[("ancova", "")].reason == "the outcome does not vary: every man analysed scored 2"
    counts = _d1().drop(columns="cycle").assign(y=0.0)
    o = _outcome(advance_cfg, ["baseline"], ["negative_binomial"], kind="count")
    got, _ = _run(advance_cfg, o, _frame(advance_cfg, counts))
    assert got[("negative_binomial", "")].reason == "every count is zero"


SEP_T = np.array([0, 0, 0, 0, 1, 1, 1, 1.0])
SEP_Y = np.array([0, 1, 0, 1, 1, 1, 1, 1.0])


def test_quasi_complete_separation_is_detected_not_printed_as_an_estimate(advance_cfg):
    # R: glm(y ~ t, family = binomial) "converges" with coef 19.566, se 5377 and a warning
    # (fitted probabilities numerically 0 or 1); detectseparation reports t's estimate infinite.
    X = np.column_stack([np.ones(8), SEP_T])
    assert separated(X, SEP_Y) and not separated(X, np.array([0, 1, 0, 1, 1, 0, 1, 1.0]))
    df = pd.DataFrame({"treat": SEP_T, "y": SEP_Y})
    o = _outcome(advance_cfg, [], ["logistic", "firth"], kind="binary")
    got, warned = _run(advance_cfg, o, _frame(advance_cfg, df))
    for row in ("logistic", "logistic_standardised"):
        assert got[(row, "")].status == "not_estimable" and "separation" in got[(row, "")].reason
        assert "every advance man analysed had the outcome, so the odds ratio is infinite" in got[(row, "")].reason
    # the crude difference needs no model (issue 33): Newcombe's hybrid score interval from Wilson's
    # R: w <- function(x, n) prop.test(x, n, correct = FALSE)$conf.int; a <- w(4, 4); b <- w(2, 4)
    #    c(0.5, 0.5 - sqrt((1 - a[1])^2 + (b[2] - 0.5)^2), 0.5 + sqrt((a[2] - 1)^2 + (0.5 - b[1])^2))
    #    0.500000000000000 -0.102051277513663  0.849961010847850
    crude = got[("unadjusted", "")]
    assert crude.status == "estimated" and crude.estimate == pytest.approx(0.5, rel=1e-12)
    assert (crude.ci_lower, crude.ci_upper) == pytest.approx((-0.102051277513663, 0.849961010847850), rel=1e-9)
    firth = got[("firth", "")]
    # closed form: with one binary covariate Firth's estimate is the log odds ratio with 1/2 added to
    # each cell (4 + 1/2)(2 + 1/2) / ((0 + 1/2)(2 + 1/2)) = 9
    assert firth.status == "estimated" and firth.estimate == pytest.approx(9.0, rel=1e-9)
    assert firth.ci_lower < 9 < firth.ci_upper and np.isfinite(firth.ci_upper)


def test_firth_profile_interval_matches_an_independent_profile_likelihood():
    from scipy import optimize, stats

    from advance_trial.outcomes.models import firth_logistic

    rng = np.random.default_rng(7)
    n = 30
    X = np.column_stack([np.ones(n), np.r_[np.ones(15), np.zeros(15)], rng.normal(size=n)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(-0.3 + 1.0 * X[:, 1] + 0.5 * X[:, 2])))).astype(float)
    e = firth_logistic(X, y, 0.95)

    def pll(b):  # Firth's penalised log-likelihood, written again
        p = 1 / (1 + np.exp(-X @ b))
        info = (X * (p * (1 - p))[:, None]).T @ X
        return (y * np.log(p) + (1 - y) * np.log(1 - p)).sum() + 0.5 * np.log(np.linalg.det(info))

    top = optimize.minimize(lambda b: -pll(b), np.zeros(3), method="BFGS", options={"gtol": 1e-10})
    assert np.exp(top.x[1]) == pytest.approx(e.estimate, rel=1e-6)

    def profile(v):
        r = optimize.minimize(lambda b: -pll(np.array([b[0], v, b[1]])), top.x[[0, 2]], method="BFGS",
                              options={"gtol": 1e-10})  # fmt: skip
        return 2 * (-top.fun - -r.fun) - stats.chi2.ppf(0.95, 1)

    lo = optimize.brentq(profile, top.x[1] - 6, top.x[1])
    hi = optimize.brentq(profile, top.x[1], top.x[1] + 6)
    assert (e.ci_lower, e.ci_upper) == pytest.approx((np.exp(lo), np.exp(hi)), rel=1e-5)


def test_independent_columns_keeps_the_first_of_aliased_columns():
    x = np.arange(6.0)
    X = np.column_stack([np.ones(6), x, 2 * x + 1, x**2, np.zeros(6)])
    assert independent_columns(X) == [0, 1, 3]


def test_progression_on_an_estimate_that_could_not_be_computed_is_not_evaluated():
    from advance_trial.config.models import Criterion
    from advance_trial.feasibility.progression import judge
    from advance_trial.intervals import Estimate

    c = Criterion.model_validate({"id": "abuse", "label": "not increased", "metric": "outcome.abi_physical",
                                  "direction": "decrease", "judge_on": "estimate"})  # fmt: skip
    assert judge(c, Estimate(float("nan"), float("nan"), float("nan"), "")) == "not_evaluated"


def _sample_frame(cfg):
    from advance_trial.data.canonical import read_canonical
    from advance_trial.outcomes.frame import analysis_frame, complete_cases
    from tests.conftest import SAMPLES

    data = read_canonical(cfg, SAMPLES / "advance-feasibility")
    o = cfg.outcomes[0]
    return o, complete_cases(analysis_frame(cfg, analysis_data(cfg, data), o), o)


def test_the_icc_of_the_partially_nested_models_is_nlmes_and_its_interval_the_delta_method(advance_cfg):
    # R: m <- lme(y ~ treat + base + site, random = list(cluster = pdDiag(~ 0 + treat)),
    #            weights = varIdent(form = ~ 1 | arm), data = d, method = "REML")   (d: the sample's abi_physical)
    # s2u <- VarCorr(m)[1, "Variance"]; s2i <- (m$sigma * coef(m$modelStruct$varStruct, FALSE, TRUE)["advance"])^2
    # s2u / (s2u + s2i) 0.4521547701402590; without weights: 0.4145970714130545
    from advance_trial.outcomes.frame import design_matrix
    from advance_trial.outcomes.nested import _Blocks, fit_heteroscedastic, icc_effect

    o, cc = _sample_frame(advance_cfg)
    got = {(e.analysis, e.effect): e for e in _analyse(advance_cfg, o, cc.assign(cycle="1"))}
    het, eq = got[("partially_nested", "icc")], got[("partially_nested_equal_var", "icc")]
    assert het.estimate == pytest.approx(0.4521547701402590, rel=1e-5)  # nlme stops at a slightly lower REML
    assert eq.estimate == pytest.approx(0.4145970714130545, rel=1e-6)
    assert 0 < het.ci_lower < het.estimate < het.ci_upper < 1
    # the interval again, with the Hessian of -2 log L_R by second differences of its values
    X, _ = design_matrix(cc, o, advance_cfg.factor_levels())
    y, treat = cc["y"].to_numpy(float), cc["treat"].to_numpy(float)
    fit = fit_heteroscedastic(X, y, treat, cc["cluster"].to_numpy())
    blocks = _Blocks(X, y, treat, cc["cluster"].to_numpy())
    theta = np.log([fit.s2_group, fit.s2_control, fit.s2_intervention])
    h = 1e-3
    H = np.zeros((3, 3))
    f = lambda t: blocks.neg2_reml(t)[0]  # noqa: E731
    for i in range(3):
        for j in range(3):
            ei, ej = np.eye(3)[i] * h, np.eye(3)[j] * h
            H[i, j] = (f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej) + f(theta - ei - ej)) / (4 * h * h)
    cov = np.linalg.inv(H / 2)
    se = np.sqrt(cov[0, 0] + cov[2, 2] - 2 * cov[0, 2])
    logit = np.log(fit.s2_group / fit.s2_intervention)
    lo, hi = (1 / (1 + np.exp(-(logit + s * 1.959963984540054 * se))) for s in (-1, 1))
    e = icc_effect("partially_nested", fit, treat, 0.95)
    assert (e.ci_lower, e.ci_upper) == pytest.approx((lo, hi), rel=1e-4)


def test_groups_of_one_man_say_that_the_variances_cannot_be_told_apart(advance_cfg):
    df = _d1().drop(columns="cycle")
    o = _outcome(advance_cfg, ["baseline"], ["partially_nested_equal_var"])
    got, warned = _run(advance_cfg, o, _frame(advance_cfg, df))  # every man is his own cluster
    assert got[("partially_nested_equal_var", "")].status == "estimated"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        effects = [e for e in _analyse(advance_cfg, o, _frame(advance_cfg, df)) if e.effect == "icc"]
    assert effects[0].status == "not_estimable" and "cannot be told apart" in effects[0].reason
    assert any("cannot be told apart" in w for w in warned)


@pytest.mark.filterwarnings("default::advance_trial.errors.StatisticalWarning")
def test_a_run_with_an_arm_never_followed_up_writes_every_table_and_names_the_reasons(invoke, tmp_path):
    import shutil

    from tests.conftest import SAMPLES, config_path

    data = tmp_path / "data"
    shutil.copytree(SAMPLES / "advance-feasibility", data, ignore=shutil.ignore_patterns("site-exports"))
    part = pd.read_csv(data / "participants.csv", dtype=str)
    tau = set(part.loc[part["arm"] == "tau", "participant_id"])
    measures = pd.read_csv(data / "measures.csv", dtype=str, keep_default_na=False)
    measures = measures[~(measures["participant_id"].isin(tau) & (measures["timepoint"] == "week16"))]
    measures.to_csv(data / "measures.csv", index=False)
    res = invoke("run", config_path("advance-feasibility"), "--data", data, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert "no follow-up observed in the tau arm" in res.output  # the warnings, listed
    out = pd.read_csv(tmp_path / "out" / "outcomes.csv")
    assert (out["status"] == "not_estimable").all()  # every analysis compares the arms
    assert set(out.loc[out["analysis"] == "ancova", "reason"]) == {"no follow-up observed in the tau arm"}
    assert (tmp_path / "out" / "retention.csv").exists() and (tmp_path / "out" / "report.html").exists()
    assert "no follow-up observed in the tau arm" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize("trial", ["advance-digital", "cranstoun-dvip"])
def test_single_arm_change_is_estimated_without_warnings(trial):
    # found by trying: the arm column of a single-arm design is the intercept, and was called aliased
    from advance_trial.config import load_config
    from advance_trial.data.canonical import read_canonical
    from advance_trial.outcomes import analyse_outcomes
    from advance_trial.output.pivots import table_of
    from tests.conftest import SAMPLES, config_path

    cfg = load_config(config_path(trial))
    rows = analyse_outcomes(cfg, analysis_data(cfg, read_canonical(cfg, SAMPLES / trial))).results
    effects = table_of(cfg, "outcomes", rows).data
    assert len(effects) and (effects["status"] == "estimated").all()


def test_a_logistic_fit_with_fitted_probabilities_of_0_or_1_fits_as_r_and_warns():
    # R: x <- c(1:10, 1000, 1001); t <- rep(c(0, 1), 6); y <- c(0,0,0,1,0,1,1,0,1,1,1,1)
    # g <- glm(y ~ t + x, family = binomial)   # warns: fitted probabilities numerically 0 or 1 occurred
    # coef(g) -3.348753966177159 0.700167350717618 0.545212780148791
    # sqrt(diag(vcov(g))) 2.27122862164393 1.59767452456876 0.34466217806161
    from advance_trial.errors import SeparationWarning
    from advance_trial.outcomes.glm import logistic_fit

    x = np.r_[np.arange(1, 11.0), 1000, 1001]
    X = np.column_stack([np.ones(12), np.tile([0.0, 1.0], 6), x])
    y = np.array([0, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1.0])
    assert not separated(X, y)
    with pytest.warns(SeparationWarning, match="numerically 0 or 1"):
        fit = logistic_fit(X, y)
    assert fit.beta == pytest.approx([-3.348753966177159, 0.700167350717618, 0.545212780148791], rel=1e-8)
    assert np.sqrt(np.diag(fit.cov)) == pytest.approx([2.27122862164393, 1.59767452456876, 0.34466217806161],
                                                      rel=1e-5)  # fmt: skip  # R stops at epsilon 1e-8


@pytest.mark.filterwarnings("default::advance_trial.errors.StatisticalWarning")
def test_the_outcomes_command_shows_the_reason_instead_of_an_interval(invoke, tmp_path):
    import shutil

    from tests.conftest import SAMPLES, config_path

    data = tmp_path / "data"
    shutil.copytree(SAMPLES / "advance-feasibility", data, ignore=shutil.ignore_patterns("site-exports"))
    measures = pd.read_csv(data / "measures.csv", dtype=str, keep_default_na=False)
    measures[measures["timepoint"] != "week16"].to_csv(data / "measures.csv", index=False)
    from tests.test_cli_conventions import WIDE, cli

    res = cli("outcomes", config_path("advance-feasibility"), "--data", data, env=WIDE)
    assert res.returncode == 0, res.stderr
    assert "ancova: not estimable: no man has the outcome measured" in " ".join(res.stderr.split())  # the warning
    # each row's estimate cell says why, in a terminal wide enough not to fold it
    assert res.stdout.count("│ not estimable: no man has the outcome measured") >= 16
    rows = __import__("json").loads(invoke("outcomes", config_path("advance-feasibility"), "--data", data,
                                           "--json").stdout)["outcomes"]  # fmt: skip
    assert {(r["status"], r["reason"]) for r in rows} == {("not_estimable", "no man has the outcome measured")}


def test_a_control_arm_fitted_exactly_has_no_heteroscedastic_maximum(advance_cfg):
    # issue 33: the control scores lie exactly on a line in the baseline (not constant): as the control residual
    # variance falls to zero the restricted likelihood rises without bound.
    # R: lme(y ~ treat + base, random = list(cluster = pdDiag(~ 0 + treat)), weights = varIdent(form = ~ 1 | arm),
    #        data = d, method = "REML")  -> Error: nlminb problem, convergence error code = 1 (false convergence)
    base = [2.307, 2.542, 2.016, 2.5, 1.417, 1.496, 1.845, 1.427, 1.555, 1.871, 2.033, 2.612, 3.082, 2.696, 2.138,
            1.839, 2.279, 1.039, 1.918, 2.028]  # fmt: skip
    y = [2.062295, 1.999327, 2.386266, 2.189712, 2.30009, 0.893503, 1.880681, 2.226939, 1.182098, 1.688336, 1.371264,
         1.995588] + [1 + 0.5 * b for b in base[12:]]  # fmt: skip
    df = pd.DataFrame({"treat": np.r_[np.ones(12), np.zeros(8)], "base": base, "y": y,
                       "cluster": [f"g{i // 4}" for i in range(12)] + [f"m{i}" for i in range(8)]})  # fmt: skip
    o = _outcome(advance_cfg, ["baseline"], ["partially_nested", "partially_nested_equal_var"])
    got, _ = _run(advance_cfg, o, _frame(advance_cfg, df))
    het = got[("partially_nested", "")]
    assert het.status == "not_estimable" and np.isnan(het.estimate)
    assert het.reason.startswith("the tau arm's residual variance is estimated at zero")
    assert got[("partially_nested_equal_var", "")].status == "estimated"


def test_too_few_men_for_the_variances_is_not_identified(advance_cfg):
    # issue 33 (two men per arm, without site): 4 men, 3 coefficients, 1 df for 3 variances.
    # R: lme(y ~ treat + base, random = list(cluster = pdDiag(~ 0 + treat)), weights = varIdent(form = ~ 1 | arm),
    #        data = d, method = "REML") returns the varIdent ratio at its start (1) and intervals(m) fails:
    #    "cannot get confidence intervals on var-cov components: Non-positive definite approximate
    #    variance-covariance"; so does the model without weights (2 variances for 1 df)
    df = pd.DataFrame({"treat": [1.0, 1, 0, 0],
                       "base": [2.5384615384615383, 1.0769230769230769, 1.4615384615384615, 2.0],
                       "y": [1.8461538461538463, 1.2307692307692308, 1.4615384615384615, 2.0833333333333335],
                       "cluster": ["g1", "g2", "m3", "m4"]})  # fmt: skip
    o = _outcome(advance_cfg, ["baseline"], ["partially_nested", "partially_nested_equal_var", "ancova"])
    got, _ = _run(advance_cfg, o, _frame(advance_cfg, df))
    assert got[("partially_nested", "")].reason.startswith(
        "4 men for 3 coefficients leave 1 degrees of freedom for the model's 3 variances"
    )
    assert got[("partially_nested_equal_var", "")].reason.startswith(
        "4 men for 3 coefficients leave 1 degrees of freedom for the model's 2 variances"
    )
    # R: f <- lm(y ~ treat + base, d); coef(f)["treat"] -0.273108192620388 (1 residual df: wide but defined)
    #    confint(f)["treat", ] -3.61196580782000 3.06574942257922
    a = got[("ancova", "")]
    assert a.status == "estimated" and a.estimate == pytest.approx(-0.273108192620388, rel=1e-9)
    assert (a.ci_lower, a.ci_upper) == pytest.approx((-3.61196580782000, 3.06574942257922), rel=1e-9)


def test_therapy_groups_of_one_group_cannot_give_a_group_variance(advance_cfg):
    df = _d1().drop(columns="cycle")
    df["cluster"] = np.where(df["treat"] == 1, "g1", "man:" + df.index.astype(str))
    o = _outcome(advance_cfg, ["baseline"], ["partially_nested_equal_var"])
    got, _ = _run(advance_cfg, o, _frame(advance_cfg, df))
    assert got[("partially_nested_equal_var", "")].reason.startswith("the advance men analysed were in 1 therapy group")


def test_a_singular_reml_information_is_not_an_estimate(advance_cfg, monkeypatch):
    # the guard behind the counted rules: a fit whose information in the log-variances is not positive definite
    # (flat: the variances not identified; or a saddle) gives no number. Forced here by a singular information.
    from advance_trial.outcomes import nested

    monkeypatch.setattr(nested, "_information", lambda objective, theta, h=1e-2: np.zeros((len(theta), len(theta))))
    rng = np.random.default_rng(182)
    df = pd.DataFrame({"treat": np.r_[np.ones(12), np.zeros(8)], "y": rng.normal(size=20),
                       "cluster": [f"g{i // 4}" for i in range(12)] + [f"m{i}" for i in range(8)]})  # fmt: skip
    o = _outcome(advance_cfg, [], ["partially_nested_equal_var"])
    got, _ = _run(advance_cfg, o, _frame(advance_cfg, df))
    e = got[("partially_nested_equal_var", "")]
    assert e.status == "not_estimable" and e.reason.startswith("the restricted likelihood is flat")
