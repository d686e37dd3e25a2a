"""Planning the definitive trial: the t-test core against R's power.t.test, the inflations by hand."""

from __future__ import annotations

import json
import math

import pytest

from advance_trial.planning.sample_size import (
    correlation_interval,
    design_effect,
    n_per_arm,
    power_two_sample,
    sd_upper_limit,
)
from tests.conftest import SAMPLES, config_path

ADV = config_path("advance-feasibility")


@pytest.mark.parametrize(
    "delta, sd, alpha, power, n",
    [
        (0.2, 0.3, 0.05, 0.9, 48.2642902192848),  # R: power.t.test(delta=0.2, sd=0.3, power=0.9, tol=1e-12)$n
        (0.5, 1.0, 0.05, 0.8, 63.7657637142739),  # R: power.t.test(delta=0.5, sd=1, power=0.8)$n (default tol)
        # R: power.t.test(delta=1, sd=2, sig.level=0.01, power=0.8, tol=1e-12)$n
        (1.0, 2.0, 0.01, 0.8, 95.1036199477373),
    ],
)
def test_men_per_arm_as_power_t_test(delta, sd, alpha, power, n):
    # R's default tolerance (.Machine$double.eps^0.25) leaves its own n about 1e-6 off the root
    assert n_per_arm(delta, sd, alpha, power) == pytest.approx(n, rel=1e-6)


def test_power_as_power_t_test():
    # R: power.t.test(n=20, delta=0.5, sd=1)$power
    assert power_two_sample(20, 0.5, 1, 0.05) == pytest.approx(0.337708365563488, rel=1e-12)
    assert power_two_sample(1e6, 1, 1, 0.05) == 1.0  # the noncentral t's far tail: power 1, not nan


def test_inflations_by_closed_form():
    # R: sqrt(40/qchisq(0.2, 40)); sqrt(20/qchisq(0.2, 20)); sqrt(10/qchisq(0.1, 10))
    assert sd_upper_limit(1, 40, 0.8) == pytest.approx(1.11205620039786, rel=1e-12)
    assert sd_upper_limit(1, 20, 0.8) == pytest.approx(1.17127664222684, rel=1e-12)
    assert sd_upper_limit(2, 10, 0.9) == pytest.approx(2 * 1.43367414113889, rel=1e-12)
    # R: tanh(atanh(0.5) + c(-1, 1) * qnorm(0.975) / sqrt(47))
    assert correlation_interval(0.5, 50) == pytest.approx((0.257487860768284, 0.683256302098813), rel=1e-12)
    assert all(math.isnan(x) for x in correlation_interval(0.5, 3))
    assert design_effect(8, 0.05) == 1.35 and design_effect(1, 0.9) == 1.0


def test_advance_plan_step_by_step(sample_tables):
    cfg, _, tables = sample_tables("advance-feasibility")
    t = tables["plan"].data.set_index("quantity")
    # R, on the complete cases of abi_physical: f <- lm(y ~ arm); summary(f)$sigma; f$df.residual;
    #   cor(resid(f), resid(lm(base ~ arm))); power.t.test(delta=0.2, sd=summary(f)$sigma, power=0.9, tol=1e-12)$n
    assert t.loc["pooled SD at follow-up", "estimate"] == pytest.approx(0.413069977031586, rel=1e-12)
    assert t.loc["pooled SD at follow-up", "conservative"] == pytest.approx(0.454160859204475, rel=1e-12)
    assert t.loc["men per arm (two-sample t test)", "estimate"] == pytest.approx(90.6136118187361, rel=1e-9)
    assert t.loc["men per arm (two-sample t test)", "conservative"] == pytest.approx(109.333489364188, rel=1e-9)
    r = 0.729954151647065
    assert t.loc["ANCOVA factor 1 - r^2", "estimate"] == pytest.approx(1 - r**2, rel=1e-12)
    ancova = t.loc["men per arm after ANCOVA", "estimate"]
    de = t.loc["design effect, intervention arm", "estimate"]
    keep = t.loc["retained at week16", "estimate"]
    assert keep == 51 / 104
    assert t.loc["men to randomise, control arm", "estimate"] == math.ceil(ancova / keep)
    assert t.loc["men to randomise, intervention arm", "estimate"] == math.ceil(ancova * de / keep)
    for q in t.index:  # the conservative values never ask for fewer men
        if q.startswith(("men", "pooled", "ANCOVA", "design")):
            assert t.loc[q, "conservative"] >= t.loc[q, "estimate"] - 1e-12, q


def test_plan_cli_and_its_refusals(invoke, tmp_path):
    res = invoke("plan", ADV, "--data", SAMPLES / "advance-feasibility", "--json", "--out", tmp_path / "p")
    assert res.exit_code == 0, res.output
    rows = {r["quantity"]: r for r in json.loads(res.stdout)["plan"]}
    assert rows["men to randomise in all"]["estimate"] == 447  # 87 control + 360 intervention (above, by hand)
    assert (tmp_path / "p" / "plan.csv").read_text().startswith("outcome,step,quantity,estimate,conservative,note")
    single = invoke("plan", config_path("advance-digital"), "--data", SAMPLES / "advance-digital")
    assert single.exit_code == 2 and "planning" in single.output


@pytest.mark.parametrize(
    "planning, where",
    [
        ("{outcomes: [nothing], target_difference: 0.2}", "planning.outcomes"),
        ("{outcomes: [physical_more_than_rarely], target_difference: 0.2}", "plan sizes continuous"),
        ("{target_difference: {abi_psychological: 0.1}}", "no target difference for 'abi_physical'"),
    ],
)
def test_planning_block_errors_are_config_errors(invoke, tmp_path, planning, where):
    text = ADV.read_text()
    text = text[: text.index("\nplanning:")] + f"\nplanning: {planning}\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    res = invoke("config", "validate", bad)
    assert res.exit_code == 3 and where in res.output, res.output


def test_a_blinded_run_withholds_the_plan(sample_run):
    blinded = sample_run(blinded=True)
    assert "plan" not in blinded.result.tables and not (blinded.out / "plan.csv").exists()


def test_an_icc_without_an_interval_plans_for_the_worst_instead_of_failing(sample_tables):
    """On its boundary (a trial of 100,000 simulated men, benchmarks/bench_scale.py) the ICC has an estimate and
    no interval: the conservative design effect is then a whole group's, m (ICC 1), not a crash."""
    from dataclasses import replace

    from advance_trial.output.ard import results_data
    from advance_trial.output.pivots import table_of
    from advance_trial.planning import plan_results

    cfg, ads, tables = sample_tables("advance-feasibility")
    out = tables["outcomes"].data.copy()
    icc = (out["effect"] == "icc") & (out["analysis"] == "partially_nested")
    out.loc[icc, ["ci_lower", "ci_upper", "se"]] = float("nan")
    out.loc[icc, "status"] = "not_estimable"
    rows = {n: t.results for n, t in tables.items() if t.results is not None}
    rows["outcomes"] = results_data({"outcomes": replace(tables["outcomes"], data=out)}).long  # read back into rows
    t = table_of(cfg, "plan", plan_results(cfg, ads, rows)).data.set_index("quantity")
    m = cfg.planning.group_size
    assert t.loc["design effect, intervention arm", "conservative"] == m
    assert "no interval" in t.loc["design effect, intervention arm", "note"]
    assert t.loc["men to randomise in all", "conservative"] > t.loc["men to randomise in all", "estimate"]
